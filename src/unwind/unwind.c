/* unwind.c: builds an object's compact unwind table from its CFI, with libdw's CFI interpreter. */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "proc/elf_file.h"
#include "unwind/unwind.h"

/* DWARF register numbers of x86-64 (System V psABI, figure 3.36). */
enum { DW_REG_RBP = 6, DW_REG_RSP = 7, DW_REG_RIP = 16 };

/* DW_EH_PE_* pointer encodings (LSB 4.1, .eh_frame) */
enum {
	PE_ABSPTR = 0x00,
	PE_ULEB128 = 0x01,
	PE_UDATA2 = 0x02,
	PE_UDATA4 = 0x03,
	PE_UDATA8 = 0x04,
	PE_SLEB128 = 0x09,
	PE_SDATA2 = 0x0a,
	PE_SDATA4 = 0x0b,
	PE_SDATA8 = 0x0c,
	PE_PCREL = 0x10,
	PE_OMIT = 0xff,
};

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

/* The CIEs of one section: the pointer encoding each gives its FDEs. */
struct cie_enc {
	uint64_t offset;
	uint8_t fde_enc;
	bool ok;	      /* an augmentation this file understands */
	bool sized_aug;	      /* 'z': each FDE's augmentation data starts with its length */
	uint64_t fde_aug_len; /* otherwise its length */
};

/*
 * libdw's CFI interpreter sizes a frame's register array by the largest register number the
 * program names (up to 2^28 registers: 2 GiB, zeroed), and copies the array at every
 * DW_CFA_remember_state. A few bytes of CFI could so make leaktop allocate gigabytes at every row
 * it asks for. libdw therefore runs no program of a section before all of them have been read
 * here: x86-64 numbers its registers below 256 (psABI figure 3.36), and compilers nest a
 * remembered state or two.
 */
#define CFI_MAX_REG   255
#define CFI_MAX_DEPTH 16

/*
 * A section's bytes in an ELF image of their own, for libdw. On the object itself libdw would
 * also follow .eh_frame_hdr's search table, which can point into the middle of an entry: at
 * bytes never read as the program libdw then runs.
 */
struct cfi_image {
	char *bytes;
	Elf *elf;
	Elf_Data *data; /* the section's contents, inside bytes */
	const unsigned char *ident;
	uint64_t sh_addr;
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

/* Reads one LEB128 number at *p; is_signed sign-extends it. 0, or -EINVAL when it runs past end. */
static int read_leb(const uint8_t **p, const uint8_t *end, bool is_signed, uint64_t *out)
{
	uint64_t v = 0;
	unsigned int shift = 0;

	while (*p < end) {
		uint8_t byte = *(*p)++;

		if (shift < 64)
			v |= (uint64_t)(byte & 0x7f) << shift;
		shift += 7;
		if (!(byte & 0x80)) {
			if (is_signed && shift < 64 && (byte & 0x40))
				v |= ~0ULL << shift;
			*out = v;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * Reads one encoded pointer at *p (x86-64 is little-endian, as the host). field_vaddr is the
 * address of the field itself, for pc-relative encodings. Encodings an FDE's range never uses on
 * x86-64 (data-, text-, function-relative, aligned, indirect) are refused.
 */
static int read_encoded(const uint8_t **p, const uint8_t *end, uint8_t enc, uint64_t field_vaddr,
			uint64_t *out)
{
	size_t size;
	uint64_t v = 0;

	switch (enc & 0x0f) {
	case PE_ULEB128:
	case PE_SLEB128:
		if (read_leb(p, end, (enc & 0x0f) == PE_SLEB128, &v))
			return -EINVAL;
		size = 0;
		break;
	case PE_ABSPTR:
	case PE_UDATA8:
	case PE_SDATA8:
		size = 8;
		break;
	case PE_UDATA2:
	case PE_SDATA2:
		size = 2;
		break;
	case PE_UDATA4:
	case PE_SDATA4:
		size = 4;
		break;
	default:
		return -EINVAL;
	}
	if (size) {
		if ((size_t)(end - *p) < size)
			return -EINVAL;
		if (size == 2) {
			uint16_t u;

			memcpy(&u, *p, 2);
			v = (enc & 0x0f) == PE_SDATA2 ? (uint64_t)(int64_t)(int16_t)u : u;
		} else if (size == 4) {
			uint32_t u;

			memcpy(&u, *p, 4);
			v = (enc & 0x0f) == PE_SDATA4 ? (uint64_t)(int64_t)(int32_t)u : u;
		} else {
			memcpy(&v, *p, 8);
		}
		*p += size;
	}
	switch (enc & 0x70) {
	case 0:
		break;
	case PE_PCREL:
		v += field_vaddr;
		break;
	default:
		return -EINVAL;
	}
	if (enc & 0x80)
		return -EINVAL;
	*out = v;
	return 0;
}

/* The FDE pointer encoding a CIE announces ('R' in its augmentation); absptr without one. */
static bool cie_fde_encoding(const Dwarf_CIE *cie, uint8_t *enc)
{
	const char *aug = cie->augmentation;
	const uint8_t *p = cie->augmentation_data;
	const uint8_t *end = p ? p + cie->augmentation_data_size : NULL;

	*enc = PE_ABSPTR;
	if (!aug || !aug[0])
		return true;
	if (aug[0] != 'z' || !p)
		return false;
	for (aug++; *aug; aug++) {
		uint64_t ignored;

		switch (*aug) {
		case 'R':
			if (p >= end)
				return false;
			*enc = *p++;
			break;
		case 'L':
			if (p >= end)
				return false;
			p++;
			break;
		case 'P':
			if (p >= end)
				return false;
			/* The personality routine's address: only its size matters here. */
			if (read_encoded(&p, end, *p++ & 0x0f, 0, &ignored))
				return false;
			break;
		case 'S':
		case 'B':
			break;
		default:
			return false;
		}
	}
	return true;
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

static Elf_Scn *find_section(Elf *elf, const char *name, GElf_Shdr *shdr)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, shdr) || shdr->sh_type == SHT_NOBITS)
			continue;
		n = elf_strptr(elf, shstrndx, shdr->sh_name);
		if (n && !strcmp(n, name))
			return scn;
	}
	return NULL;
}

static void cfi_image_close(struct cfi_image *img)
{
	if (img->elf)
		elf_end(img->elf);
	free(img->bytes);
}

/*
 * Copies section scn of elf (named name) into an image holding it and a section name table. The
 * image is ELF64, little-endian, as x86-64 objects are: 0, -EINVAL for any other object, -ENOMEM.
 */
static int cfi_image_open(struct cfi_image *img, Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr,
			  const char *name)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t name_len = strlen(name) + 1, str_off, sh_off, size;
	static const char strtab_name[] = ".shstrtab";
	const unsigned char *ident = (const unsigned char *)elf_getident(elf, NULL);
	Elf64_Ehdr *eh;
	Elf64_Shdr *sh;
	GElf_Ehdr ehdr;
	Elf_Scn *copy;
	GElf_Shdr copy_shdr;

	memset(img, 0, sizeof(*img));
	if (!data || !data->d_buf || !ident || ident[EI_CLASS] != ELFCLASS64 ||
	    ident[EI_DATA] != ELFDATA2LSB || !gelf_getehdr(elf, &ehdr))
		return -EINVAL;
	str_off = sizeof(*eh) + data->d_size;
	sh_off = (str_off + 1 + name_len + sizeof(strtab_name) + 7) & ~(size_t)7;
	size = sh_off + 3 * sizeof(*sh);
	img->bytes = calloc(1, size);
	if (!img->bytes)
		return -ENOMEM;
	eh = (Elf64_Ehdr *)img->bytes;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_DYN;
	/* libdw takes the ABI's initial CFI rules from the machine. */
	eh->e_machine = ehdr.e_machine;
	eh->e_version = EV_CURRENT;
	eh->e_shoff = sh_off;
	eh->e_ehsize = sizeof(*eh);
	eh->e_shentsize = sizeof(*sh);
	eh->e_shnum = 3;
	eh->e_shstrndx = 2;
	memcpy(img->bytes + sizeof(*eh), data->d_buf, data->d_size);
	memcpy(img->bytes + str_off + 1, name, name_len);
	memcpy(img->bytes + str_off + 1 + name_len, strtab_name, sizeof(strtab_name));
	sh = (Elf64_Shdr *)(img->bytes + sh_off);
	sh[1].sh_name = 1;
	sh[1].sh_type = SHT_PROGBITS;
	sh[1].sh_flags = shdr->sh_flags & SHF_ALLOC;
	sh[1].sh_addr = shdr->sh_addr;
	sh[1].sh_offset = sizeof(*eh);
	sh[1].sh_size = data->d_size;
	sh[1].sh_addralign = 1;
	sh[2].sh_name = 1 + (Elf64_Word)name_len;
	sh[2].sh_type = SHT_STRTAB;
	sh[2].sh_offset = str_off;
	sh[2].sh_size = 1 + name_len + sizeof(strtab_name);
	sh[2].sh_addralign = 1;

	img->elf = elf_memory(img->bytes, size);
	copy = img->elf ? elf_getscn(img->elf, 1) : NULL;
	img->data = copy ? elf_getdata(copy, NULL) : NULL;
	img->ident = img->elf ? (const unsigned char *)elf_getident(img->elf, NULL) : NULL;
	if (!img->data || !img->data->d_buf || !img->ident || !gelf_getshdr(copy, &copy_shdr)) {
		cfi_image_close(img);
		memset(img, 0, sizeof(*img));
		return -ENOMEM;
	}
	img->sh_addr = copy_shdr.sh_addr;
	return 0;
}

static const struct cie_enc *cie_find(const struct cie_enc *cies, size_t nr, uint64_t offset)
{
	for (size_t i = 0; i < nr; i++)
		if (cies[i].offset == offset)
			return &cies[i];
	return NULL;
}

/* Whether one CFI program stays within CFI_MAX_REG and CFI_MAX_DEPTH, read as libdw reads it. */
static bool cfi_program_bounded(const uint8_t *p, const uint8_t *end, uint8_t fde_enc)
{
	unsigned int depth = 0;
	uint64_t reg, v;

	while (p < end) {
		uint8_t op = *p++;
		bool has_reg = true, has_operand = false, has_block = false;
		size_t skip = 0;

		switch (op >> 6) {
		case 1: /* DW_CFA_advance_loc */
		case 3: /* DW_CFA_restore: the register in the low six bits */
			continue;
		case 2: /* DW_CFA_offset */
			if (read_leb(&p, end, false, &v))
				return false;
			continue;
		}
		switch (op) {
		case DW_CFA_nop:
		case DW_CFA_GNU_window_save:
			continue;
		case DW_CFA_remember_state:
			if (++depth > CFI_MAX_DEPTH)
				return false;
			continue;
		case DW_CFA_restore_state:
			depth -= depth > 0;
			continue;
		case DW_CFA_set_loc:
			if (read_encoded(&p, end, fde_enc, 0, &v))
				return false;
			continue;
		case DW_CFA_advance_loc1:
			skip = 1;
			break;
		case DW_CFA_advance_loc2:
			skip = 2;
			break;
		case DW_CFA_advance_loc4:
			skip = 4;
			break;
		case DW_CFA_MIPS_advance_loc8:
			skip = 8;
			break;
		case DW_CFA_def_cfa_offset:
		case DW_CFA_def_cfa_offset_sf:
		case DW_CFA_GNU_args_size:
			has_reg = false;
			has_operand = true;
			break;
		case DW_CFA_def_cfa_expression:
			has_reg = false;
			has_block = true;
			break;
		case DW_CFA_restore_extended:
		case DW_CFA_undefined:
		case DW_CFA_same_value:
		case DW_CFA_def_cfa_register:
			break;
		case DW_CFA_offset_extended:
		case DW_CFA_register:
		case DW_CFA_def_cfa:
		case DW_CFA_offset_extended_sf:
		case DW_CFA_def_cfa_sf:
		case DW_CFA_val_offset:
		case DW_CFA_val_offset_sf:
		case DW_CFA_GNU_negative_offset_extended:
			has_operand = true;
			break;
		case DW_CFA_expression:
		case DW_CFA_val_expression:
			has_block = true;
			break;
		default:
			/* libdw stops at an opcode it does not know: nothing after it runs. */
			return true;
		}
		if (skip) {
			if ((size_t)(end - p) < skip)
				return false;
			p += skip;
			continue;
		}
		/* A number cut off by the end of the program is refused: libdw reads part of it. */
		if (has_reg && (read_leb(&p, end, false, &reg) || reg > CFI_MAX_REG))
			return false;
		if (has_operand && read_leb(&p, end, false, &v))
			return false;
		if (has_block) {
			if (read_leb(&p, end, false, &v) || v > (uint64_t)(end - p))
				return false;
			p += v;
		}
	}
	return true;
}

/*
 * The entry at *off or, past one that cannot be read, the next one, as libdw's FDE search steps
 * through a section. 0, or 1 at the end.
 */
static int next_entry(const struct cfi_image *img, bool eh_frame, Dwarf_Off *off, Dwarf_Off *next,
		      Dwarf_CFI_Entry *e)
{
	for (;;) {
		int ret;

		*next = *off;
		ret = dwarf_next_cfi(img->ident, img->data, eh_frame, *off, next, e);
		if (!ret)
			return 0;
		if (ret > 0 || *next == *off)
			return 1;
		*off = *next;
	}
}

/* An FDE's range, and where its program starts; the CIE gives the encoding. 0 or -EINVAL. */
static int fde_range(const struct cfi_image *img, const Dwarf_CFI_Entry *e,
		     const struct cie_enc *cie, uint64_t *lo, uint64_t *len, const uint8_t **prog)
{
	const uint8_t *p = e->fde.start, *end = e->fde.end;
	uint64_t aug = cie->fde_aug_len;

	if (!cie->ok ||
	    read_encoded(&p, end, cie->fde_enc,
			 img->sh_addr + (uint64_t)(p - (const uint8_t *)img->data->d_buf), lo) ||
	    read_encoded(&p, end, cie->fde_enc & 0x0f, 0, len) ||
	    (cie->sized_aug && read_leb(&p, end, false, &aug)) || aug > (uint64_t)(end - p))
		return -EINVAL;
	*prog = p + aug;
	return 0;
}

/* Whether [lo, hi) starts inside code that earlier (.eh_frame) rows already describe. */
static bool covered(const struct unwind_table *prev, uint64_t lo)
{
	const struct lt_unwind_row *r = prev ? unwind_table__find(prev, lo) : NULL;

	return r && LT_ROW_CFA_KIND(r) != LT_CFA_NONE;
}

/*
 * The CIEs of one CFI section (FDEs may name one that follows them), into *cies (malloc'ed) and
 * *nr_cies; *nr_fdes counts the FDEs, and *bounded is cleared when a CIE's program is not bounded.
 * 0 or -ENOMEM.
 */
static int read_cies(const struct cfi_image *img, bool eh_frame, struct cie_enc **cies,
		     size_t *nr_cies, size_t *nr_fdes, bool *bounded)
{
	size_t cap = 0;
	Dwarf_Off off, next;
	Dwarf_CFI_Entry e;

	*cies = NULL;
	*nr_cies = 0;
	for (off = 0; !next_entry(img, eh_frame, &off, &next, &e); off = next) {
		struct cie_enc *c;

		if (!dwarf_cfi_cie_p(&e)) {
			(*nr_fdes)++;
			continue;
		}
		if (array_reserve(cies, &cap, *nr_cies, sizeof(**cies), 16)) {
			free(*cies);
			*cies = NULL;
			return -ENOMEM;
		}
		c = &(*cies)[(*nr_cies)++];
		c->offset = off;
		c->ok = cie_fde_encoding(&e.cie, &c->fde_enc);
		c->sized_aug = e.cie.augmentation && e.cie.augmentation[0] == 'z';
		c->fde_aug_len = e.cie.fde_augmentation_data_size;
		*bounded &= cfi_program_bounded(e.cie.initial_instructions,
						e.cie.initial_instructions_end, c->fde_enc);
	}
	return 0;
}

int unwind_fde_range(struct elf_file *ef, uint64_t vaddr, uint64_t *lo, uint64_t *hi)
{
	Elf *elf = elf_file__elf(ef);
	struct cfi_image img = { 0 };
	struct cie_enc *cies;
	size_t nr_cies, nr_fdes = 0;
	bool bounded = true;
	Dwarf_Off off, next;
	Dwarf_CFI_Entry e;
	GElf_Shdr shdr;
	Elf_Scn *scn = find_section(elf, ".eh_frame", &shdr);
	int err = -ENOENT;

	/* Entries are only parsed here, never run: the section itself will do. */
	img.data = scn ? elf_getdata(scn, NULL) : NULL;
	img.ident = (const unsigned char *)elf_getident(elf, NULL);
	img.sh_addr = shdr.sh_addr;
	if (!img.data || !img.data->d_buf || !img.ident ||
	    read_cies(&img, true, &cies, &nr_cies, &nr_fdes, &bounded))
		return -ENOENT;
	for (off = 0; err && !next_entry(&img, true, &off, &next, &e); off = next) {
		const struct cie_enc *cie;
		const uint8_t *prog;
		uint64_t flo, len;

		if (dwarf_cfi_cie_p(&e))
			continue;
		cie = cie_find(cies, nr_cies, e.fde.CIE_pointer);
		if (!cie || fde_range(&img, &e, cie, &flo, &len, &prog) || !flo || !len ||
		    vaddr < flo || vaddr - flo >= len)
			continue;
		*lo = flo;
		*hi = flo + len;
		err = 0;
	}
	free(cies);
	return err;
}

/*
 * Every FDE of one CFI section, in section order. prev (may be NULL) is the table built from
 * .eh_frame: .debug_frame only fills in what it leaves out. The entries are those libdw's search
 * steps through, and no program goes to libdw unless all of them are bounded: for a pc, that
 * search may settle on any FDE of the section.
 */
static int section_rows(struct builder *b, const struct cfi_image *img, bool eh_frame,
			Dwarf_CFI *cfi, const struct unwind_table *prev)
{
	struct cie_enc *cies = NULL;
	size_t nr_cies = 0, nr_fdes = 0;
	bool bounded = true;
	Dwarf_Off off, next;
	Dwarf_CFI_Entry e;
	int err;

	err = read_cies(img, eh_frame, &cies, &nr_cies, &nr_fdes, &bounded);
	if (err)
		return err;
	/* An FDE whose CIE is not one of these would make libdw read a CIE anywhere. */
	for (off = 0; bounded && !next_entry(img, eh_frame, &off, &next, &e); off = next) {
		const struct cie_enc *cie;
		const uint8_t *prog;
		uint64_t lo, len;

		if (dwarf_cfi_cie_p(&e))
			continue;
		cie = cie_find(cies, nr_cies, e.fde.CIE_pointer);
		bounded = cie && !fde_range(img, &e, cie, &lo, &len, &prog) &&
			  cfi_program_bounded(prog, e.fde.end, cie->fde_enc);
	}
	if (!bounded) {
		b->t->nr_skipped_fdes += nr_fdes;
		free(cies);
		return 0;
	}
	for (off = 0; !err && !next_entry(img, eh_frame, &off, &next, &e); off = next) {
		const struct cie_enc *cie;
		const uint8_t *prog;
		uint64_t lo, len;

		if (dwarf_cfi_cie_p(&e))
			continue;
		cie = cie_find(cies, nr_cies, e.fde.CIE_pointer);
		if (!cie || fde_range(img, &e, cie, &lo, &len, &prog)) {
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
	free(cies);
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
	eh_scn = find_section(elf, ".eh_frame", &eh_shdr);
	dbg_scn = find_section(elf, ".debug_frame", &dbg_shdr);
	if (dbg_scn && (dbg_shdr.sh_flags & SHF_COMPRESSED))
		dbg_scn = NULL; /* libdw would need a writable ELF handle to inflate it */
	if (!eh_scn && !dbg_scn) {
		err = -ENOENT;
		goto out;
	}
	if (eh_scn) {
		struct cfi_image img;
		Dwarf_CFI *cfi;

		err = cfi_image_open(&img, elf, eh_scn, &eh_shdr, ".eh_frame");
		cfi = err ? NULL : dwarf_getcfi_elf(img.elf);
		if (cfi) {
			err = section_rows(&b, &img, true, cfi, NULL);
			dwarf_cfi_end(cfi);
			if (!err)
				err = finish(&b);
		}
		if (!err || err == -EINVAL)
			err = 0;
		cfi_image_close(&img);
	}
	if (!err && dbg_scn) {
		struct cfi_image img;
		Dwarf_CFI *cfi = NULL;
		Dwarf *dw = NULL;

		err = cfi_image_open(&img, elf, dbg_scn, &dbg_shdr, ".debug_frame");
		if (!err)
			dw = dwarf_begin_elf(img.elf, DWARF_C_READ, NULL);
		cfi = dw ? dwarf_getcfi(dw) : NULL;
		if (cfi) {
			struct unwind_table prev = *b.t;

			/* The .eh_frame rows, kept apart while .debug_frame's are added. */
			prev.rows = b.t->rows;
			b.t->rows = NULL;
			err = section_rows(&b, &img, false, cfi, &prev);
			free(prev.rows);
		}
		if (err == -EINVAL)
			err = 0;
		if (!err)
			err = finish(&b);
		if (dw)
			dwarf_end(dw);
		cfi_image_close(&img);
	}
	if (!err && !b.t->nr_fdes)
		err = -ENOENT;
	if (!err)
		err = mark_entry(b.t, elf);
	b.t->has_fp = keeps_frame_pointers(b.t);
out:
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
