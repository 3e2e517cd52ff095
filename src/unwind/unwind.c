/* unwind.c: builds an object's compact unwind table from its CFI, with libdw's CFI interpreter. */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "base/yield.h"
#include "proc/elf_file.h"
#include "unwind/cfi.h"
#include "unwind/unwind.h"

/* DWARF register numbers of x86-64 (System V psABI, figure 3.36). */
enum { DW_REG_RBP = 6, DW_REG_RSP = 7, DW_REG_RIP = 16 };

/* A row before sorting; an FDE's end is marked by an LT_CFA_NONE row that a next FDE overrides. */
struct pending {
	struct lt_unwind_row row;
	uint32_t seq;
};

struct builder {
	struct pending *rows;
	size_t nr, cap;
	struct unwind_table *t;
};

static int push_row(struct builder *b, const struct lt_unwind_row *row)
{
	if (array_reserve(&b->rows, &b->cap, b->nr, sizeof(*b->rows), 1024))
		return -ENOMEM;
	b->rows[b->nr].row = *row;
	b->rows[b->nr].seq = (uint32_t)b->nr;
	b->nr++;
	return 0;
}

static bool op_breg(const Dwarf_Op *op, int reg, int64_t *off)
{
	if (op->atom == DW_OP_bregx && op->number == (Dwarf_Word)reg) {
		*off = (int64_t)op->number2;
		return true;
	}
	if (op->atom == DW_OP_breg0 + reg) {
		*off = (int64_t)op->number;
		return true;
	}
	return false;
}

/*
 * The CFA expression the linker gives PLT entries of 16 bytes:
 *   rsp + 8 + ((rip & 15) >= N ? 8 : 0)
 * (N = 11 for the classic PLT, 10 for the IBT one): the entry has pushed one more word from the
 * push instruction on. N is returned.
 */
static bool plt_expression(const Dwarf_Op *ops, size_t nops, int *threshold)
{
	int64_t off;

	if (nops != 9 || !op_breg(&ops[0], DW_REG_RSP, &off) || off != 8 ||
	    !op_breg(&ops[1], DW_REG_RIP, &off) || off != 0 || ops[2].atom != DW_OP_lit15 ||
	    ops[3].atom != DW_OP_and || ops[4].atom < DW_OP_lit0 || ops[4].atom > DW_OP_lit15 ||
	    ops[5].atom != DW_OP_ge || ops[6].atom != DW_OP_lit3 || ops[7].atom != DW_OP_shl ||
	    ops[8].atom != DW_OP_plus)
		return false;
	*threshold = ops[4].atom - DW_OP_lit0;
	return true;
}

/*
 * A register saved at rsp + want in the kernel's signal frame (a DW_CFA_expression; libdw puts the
 * CFA on the stack first, as DWARF says the expression starts with it).
 */
static bool sigframe_slot(const Dwarf_Op *ops, size_t nops, int64_t want)
{
	int64_t off;

	return nops == 2 && ops[0].atom == DW_OP_call_frame_cfa &&
	       op_breg(&ops[1], DW_REG_RSP, &off) && off == want;
}

/* A register saved at CFA + *off (DW_CFA_offset): libdw hands it back as CFA [+ constant]. */
static bool at_cfa(const Dwarf_Op *ops, size_t nops, int64_t *off)
{
	if (nops < 1 || nops > 2 || ops[0].atom != DW_OP_call_frame_cfa)
		return false;
	if (nops == 1) {
		*off = 0;
		return true;
	}
	if (ops[1].atom != DW_OP_plus_uconst)
		return false;
	*off = (int64_t)ops[1].number;
	return true;
}

/* A row with just a kind (and no offsets), at pc. */
static void kind_row(struct lt_unwind_row *row, uint64_t pc, enum lt_cfa_kind kind)
{
	memset(row, 0, sizeof(*row));
	row->pc = (uint32_t)pc;
	row->kinds = LT_ROW_KINDS(kind, LT_RBP_SAME);
}

/* The rule for the caller's rbp, or false when no row can express it. */
static bool rbp_rule(const Dwarf_Op *mem, const Dwarf_Op *ops, size_t nops,
		     struct lt_unwind_row *row, enum lt_cfa_kind kind)
{
	int64_t off;

	if (nops == 0) {
		/* libdw: ops NULL for "same value", ops_mem for "undefined" */
		row->kinds = LT_ROW_KINDS(kind, ops == mem ? LT_RBP_UNDEFINED : LT_RBP_SAME);
		return true;
	}
	if (!at_cfa(ops, nops, &off) || off % 8 || off / 8 < INT8_MIN || off / 8 > INT8_MAX)
		return false;
	row->kinds = LT_ROW_KINDS(kind, LT_RBP_AT_CFA);
	row->rbp_off = (int8_t)(off / 8);
	return true;
}

/* The row for one CFI frame state. */
static void frame_row(Dwarf_Frame *f, uint64_t pc, struct lt_unwind_row *row)
{
	Dwarf_Op ra_mem[3], bp_mem[3], *ra_ops, *bp_ops, *cfa_ops;
	size_t ra_n, bp_n, cfa_n;
	enum lt_cfa_kind kind;
	int64_t off;
	bool signal;
	int ra_reg, threshold;

	kind_row(row, pc, LT_CFA_STOP);
	ra_reg = dwarf_frame_info(f, NULL, NULL, &signal);
	if (ra_reg < 0 || dwarf_frame_register(f, ra_reg, ra_mem, &ra_ops, &ra_n))
		return;
	if (ra_n == 0 && ra_ops == ra_mem) {
		/* Undefined return address: the outermost frame (_start, a thread's clone). */
		kind_row(row, pc, LT_CFA_END);
		return;
	}
	if (dwarf_frame_cfa(f, &cfa_ops, &cfa_n) || cfa_n == 0)
		return;
	if (dwarf_frame_register(f, DW_REG_RBP, bp_mem, &bp_ops, &bp_n))
		return;

	if (signal) {
		/* rt_sigreturn's trampoline: everything comes from the ucontext at rsp. */
		if (cfa_n == 2 && op_breg(&cfa_ops[0], DW_REG_RSP, &off) &&
		    off == LT_SIGFRAME_RSP && cfa_ops[1].atom == DW_OP_deref &&
		    sigframe_slot(ra_ops, ra_n, LT_SIGFRAME_RIP) &&
		    sigframe_slot(bp_ops, bp_n, LT_SIGFRAME_RBP))
			kind_row(row, pc, LT_CFA_SIGNAL);
		return;
	}
	/* Everything else keeps the return address just below the CFA. */
	if (!at_cfa(ra_ops, ra_n, &off) || off != -8)
		return;

	if (cfa_n == 1 && op_breg(&cfa_ops[0], DW_REG_RSP, &off)) {
		kind = LT_CFA_SP;
	} else if (cfa_n == 1 && op_breg(&cfa_ops[0], DW_REG_RBP, &off)) {
		kind = LT_CFA_FP;
	} else if (plt_expression(cfa_ops, cfa_n, &threshold)) {
		kind = LT_CFA_PLT;
		off = threshold * 8;
	} else {
		return;
	}
	if (off < 0 || off % 8 || off / 8 > UINT16_MAX)
		return;
	if (!rbp_rule(bp_mem, bp_ops, bp_n, row, kind)) {
		/* rbp kept in another register, computed, or far away: not expressible */
		kind_row(row, pc, LT_CFA_STOP);
		return;
	}
	row->cfa_off = (uint16_t)(off / 8);
}

/* Rows for one FDE's range [lo, hi), then the gap marker at hi. */
static int fde_rows(struct builder *b, Dwarf_CFI *cfi, uint64_t lo, uint64_t hi)
{
	struct unwind_table *t = b->t;
	struct lt_unwind_row row;
	bool uses_fp = false;
	uint64_t pc = lo;
	int err;

	while (pc < hi) {
		Dwarf_Frame *f = NULL;
		Dwarf_Addr start, end;

		if (dwarf_cfi_addrframe(cfi, pc, &f)) {
			/* libdw cannot run this FDE's program: nothing here can be trusted. */
			kind_row(&row, pc, LT_CFA_STOP);
			end = hi;
		} else {
			frame_row(f, pc, &row);
			if (dwarf_frame_info(f, &start, &end, NULL) < 0 || end <= pc)
				end = hi;
			free(f);
		}
		uses_fp |= LT_ROW_CFA_KIND(&row) == LT_CFA_FP;
		t->nr_stop_rows += LT_ROW_CFA_KIND(&row) == LT_CFA_STOP;
		err = push_row(b, &row);
		if (err)
			return err;
		pc = end;
	}
	kind_row(&row, hi, LT_CFA_NONE);
	t->nr_fdes++;
	t->code_bytes += hi - lo;
	if (uses_fp) {
		t->nr_fp_fdes++;
		t->fp_bytes += hi - lo;
	}
	return push_row(b, &row);
}

/* Whether [lo, hi) starts inside code that earlier (.eh_frame) rows already describe. */
static bool covered(const struct unwind_table *prev, uint64_t lo)
{
	const struct lt_unwind_row *r = prev ? unwind_table__find(prev, lo) : NULL;

	return r && LT_ROW_CFA_KIND(r) != LT_CFA_NONE;
}

/* The elf_file face of cfi_fde_range(), as attach asks it. */
int unwind_fde_range(struct elf_file *ef, uint64_t vaddr, uint64_t *lo, uint64_t *hi)
{
	return cfi_fde_range(elf_file__elf(ef), vaddr, lo, hi);
}

/*
 * Every FDE of one CFI section, in section order. prev (may be NULL) is the table built from
 * .eh_frame: .debug_frame only fills in what it leaves out. The entries are those libdw's search
 * steps through, and no program goes to libdw unless all of them are bounded: for a pc, that
 * search may settle on any FDE of the section.
 */
static int section_rows(struct builder *b, const struct cfi_section *sec, Dwarf_CFI *cfi,
			const struct unwind_table *prev)
{
	uint64_t pos = 0, lo, len;
	int ret, err = 0;

	if (!cfi_section__bounded(sec)) {
		b->t->nr_skipped_fdes += cfi_section__nr_fdes(sec);
		return 0;
	}
	while (!err && (ret = cfi_section__next_fde(sec, &pos, &lo, &len)) != 1) {
		yield_point();
		if (ret) {
			b->t->nr_skipped_fdes++;
			continue;
		}
		/* Zero: an FDE of code the linker discarded. */
		if (!lo || !len)
			continue;
		if (lo + len > UINT32_MAX || lo + len < lo) {
			b->t->nr_skipped_fdes++;
			continue;
		}
		if (covered(prev, lo))
			continue;
		err = fde_rows(b, cfi, lo, lo + len);
	}
	return err;
}

static int cmp_pending(const void *a_, const void *b_)
{
	const struct pending *a = a_, *b = b_;

	if (a->row.pc != b->row.pc)
		return a->row.pc < b->row.pc ? -1 : 1;
	/* At one pc, a gap marker goes first so that an FDE starting there wins. */
	if ((LT_ROW_CFA_KIND(&a->row) == LT_CFA_NONE) != (LT_ROW_CFA_KIND(&b->row) == LT_CFA_NONE))
		return LT_ROW_CFA_KIND(&a->row) == LT_CFA_NONE ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static bool same_rule(const struct lt_unwind_row *a, const struct lt_unwind_row *b)
{
	return a->kinds == b->kinds && a->cfa_off == b->cfa_off && a->rbp_off == b->rbp_off;
}

/* Sorted, one row per pc (the last pushed), no row repeating the rule before it. */
static int finish(struct builder *b)
{
	struct unwind_table *t = b->t;
	struct lt_unwind_row *rows;
	size_t n = 0;

	/* qsort's array is declared nonnull even for no elements, and CFI without FDEs has none. */
	if (b->nr)
		qsort(b->rows, b->nr, sizeof(*b->rows), cmp_pending);
	rows = malloc((b->nr ? b->nr : 1) * sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	for (size_t i = 0; i < b->nr; i++) {
		const struct lt_unwind_row *r = &b->rows[i].row;

		if (n && rows[n - 1].pc == r->pc) {
			rows[n - 1] = *r;
			if (n > 1 && same_rule(&rows[n - 2], &rows[n - 1]))
				n--;
			continue;
		}
		if (n && same_rule(&rows[n - 1], r))
			continue;
		/* Nothing before the first FDE needs a gap marker. */
		if (!n && LT_ROW_CFA_KIND(r) == LT_CFA_NONE)
			continue;
		rows[n++] = *r;
	}
	free(t->rows);
	t->rows = rows;
	t->nr_rows = n;
	return 0;
}

/*
 * An object keeps frame pointers when at least 70% of its code (by bytes the FDEs cover) lies in
 * functions that compute their CFA from rbp. A -fno-omit-frame-pointer build is near 100%: what
 * it leaves out is the start-up code and the PLT. An -O2 build is near 0%: only functions with
 * alloca or variable-length arrays use rbp.
 */
static bool keeps_frame_pointers(const struct unwind_table *t)
{
	return t->code_bytes && t->fp_bytes * 10 >= t->code_bytes * 7;
}

/*
 * The object's entry point (e_entry) is the outermost frame of the process, however it is
 * reached: the dynamic linker's _start/_dl_start_user has no CFI at all, and it calls the
 * libraries' constructors. Code there without CFI ends a stack rather than cutting it.
 */
static int mark_entry(struct unwind_table *t, Elf *elf)
{
	GElf_Ehdr ehdr;
	const struct lt_unwind_row *r;
	struct lt_unwind_row *rows;

	if (!gelf_getehdr(elf, &ehdr) || !ehdr.e_entry || ehdr.e_entry > UINT32_MAX)
		return 0;
	r = unwind_table__find(t, ehdr.e_entry);
	if (r) {
		if (LT_ROW_CFA_KIND(r) == LT_CFA_NONE)
			t->rows[r - t->rows].kinds = LT_ROW_KINDS(LT_CFA_END, LT_RBP_SAME);
		return 0;
	}
	/* Below the first FDE: an end row from the entry point up to it. */
	rows = realloc(t->rows, (t->nr_rows + 1) * sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	memmove(&rows[1], &rows[0], t->nr_rows * sizeof(*rows));
	kind_row(&rows[0], ehdr.e_entry, LT_CFA_END);
	t->rows = rows;
	t->nr_rows++;
	return 0;
}

/* The rows of .eh_frame. A section libdw cannot take (another kind of object) gives none. */
static int eh_frame_rows(struct builder *b, Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr)
{
	struct cfi_section *sec = cfi_section__new(elf, scn, shdr, ".eh_frame");
	Dwarf_CFI *cfi = sec ? dwarf_getcfi_elf(cfi_section__elf(sec)) : NULL;
	int err = sec ? 0 : -errno;

	if (cfi) {
		err = section_rows(b, sec, cfi, NULL);
		dwarf_cfi_end(cfi);
		if (!err)
			err = finish(b);
	}
	cfi_section__free(sec);
	return err == -EINVAL ? 0 : err;
}

/* The rows of .debug_frame for the code .eh_frame leaves out, sorted in with those of .eh_frame. */
static int debug_frame_rows(struct builder *b, Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr)
{
	struct cfi_section *sec = cfi_section__new(elf, scn, shdr, ".debug_frame");
	Dwarf *dw = sec ? dwarf_begin_elf(cfi_section__elf(sec), DWARF_C_READ, NULL) : NULL;
	Dwarf_CFI *cfi = dw ? dwarf_getcfi(dw) : NULL;
	int err = sec ? 0 : -errno;

	if (cfi) {
		struct unwind_table prev = *b->t;

		/* The .eh_frame rows, kept apart while .debug_frame's are added. */
		prev.rows = b->t->rows;
		b->t->rows = NULL;
		err = section_rows(b, sec, cfi, &prev);
		free(prev.rows);
	}
	if (err == -EINVAL)
		err = 0;
	if (!err)
		err = finish(b);
	if (dw)
		dwarf_end(dw);
	cfi_section__free(sec);
	return err;
}

struct unwind_table *unwind_table__build(struct elf_file *ef)
{
	Elf *elf = elf_file__elf(ef);
	struct builder b = {0};
	GElf_Shdr eh_shdr, dbg_shdr;
	Elf_Scn *eh_scn, *dbg_scn;
	int err = 0;

	b.t = calloc(1, sizeof(*b.t));
	if (!b.t)
		return NULL;
	eh_scn = cfi_find_section(elf, ".eh_frame", &eh_shdr);
	dbg_scn = cfi_find_section(elf, ".debug_frame", &dbg_shdr);
	if (dbg_scn && (dbg_shdr.sh_flags & SHF_COMPRESSED))
		dbg_scn = NULL; /* libdw would need a writable ELF handle to inflate it */
	if (!eh_scn && !dbg_scn)
		err = -ENOENT;
	if (!err && eh_scn)
		err = eh_frame_rows(&b, elf, eh_scn, &eh_shdr);
	if (!err && dbg_scn)
		err = debug_frame_rows(&b, elf, dbg_scn, &dbg_shdr);
	if (!err && !b.t->nr_fdes)
		err = -ENOENT;
	if (!err)
		err = mark_entry(b.t, elf);
	b.t->has_fp = keeps_frame_pointers(b.t);
	free(b.rows);
	if (err) {
		unwind_table__free(b.t);
		errno = -err;
		return NULL;
	}
	return b.t;
}

const struct lt_unwind_row *unwind_table__find(const struct unwind_table *t, uint64_t pc)
{
	size_t lo = 0, hi = t->nr_rows;

	if (pc > UINT32_MAX)
		return t->nr_rows ? &t->rows[t->nr_rows - 1] : NULL;
	/* The last row whose pc is <= pc: the same search as the BPF unwinder's. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->rows[mid].pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &t->rows[lo - 1] : NULL;
}

void unwind_table__free(struct unwind_table *t)
{
	if (!t)
		return;
	free(t->rows);
	free(t);
}
