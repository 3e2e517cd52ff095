/* dwarf_lines.c: pc -> source line and chain of inlined copies, through libdw; CU lookup table. */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "base/yield.h"
#include "symbol/dwarf_lines.h"
#include "symbol/symtab.h"

struct cu_range {
	uint64_t lo, hi;
	Dwarf_Die cudie;
};

struct dwarf_lines {
	Dwarf *dw;
	struct cu_range *cus; /* built only when .debug_aranges does not answer */
	size_t nr_cus;
	bool cus_built;
};

struct dwarf_lines *dwarf_lines__new(struct Elf *elf)
{
	Dwarf *dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	struct dwarf_lines *dl;

	if (!dw)
		return NULL;
	dl = calloc(1, sizeof(*dl));
	if (!dl) {
		dwarf_end(dw);
		return NULL;
	}
	dl->dw = dw;
	return dl;
}

void dwarf_lines__free(struct dwarf_lines *dl)
{
	if (!dl)
		return;
	dwarf_end(dl->dw);
	free(dl->cus);
	free(dl);
}

static int cu_cmp(const void *pa, const void *pb)
{
	const struct cu_range *a = pa, *b = pb;

	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* Producers that omit .debug_aranges (clang by default) still give each CU its ranges. */
static void build_cu_table(struct dwarf_lines *dl)
{
	Dwarf_CU *cu = NULL;
	Dwarf_Die cudie;
	Dwarf_Half version;
	uint8_t unit_type;
	size_t cap = 0;

	dl->cus_built = true;
	while (!dwarf_get_units(dl->dw, cu, &cu, &version, &unit_type, &cudie, NULL)) {
		Dwarf_Addr base, lo, hi;
		ptrdiff_t off = 0;

		yield_point();
		if (unit_type == DW_UT_type || unit_type == DW_UT_split_type)
			continue;
		while ((off = dwarf_ranges(&cudie, off, &base, &lo, &hi)) > 0) {
			if (hi <= lo)
				continue;
			if (array_reserve(&dl->cus, &cap, dl->nr_cus, sizeof(*dl->cus), 64))
				goto out;
			dl->cus[dl->nr_cus++] = (struct cu_range){lo, hi, cudie};
		}
	}
out:
	/* Units without code leave no range and cus NULL, which qsort's nonnull array forbids. */
	if (dl->nr_cus)
		qsort(dl->cus, dl->nr_cus, sizeof(*dl->cus), cu_cmp);
}

static bool find_cu(struct dwarf_lines *dl, uint64_t pc, Dwarf_Die *cudie)
{
	size_t lo = 0, hi;

	if (dwarf_addrdie(dl->dw, pc, cudie))
		return true;
	if (!dl->cus_built)
		build_cu_table(dl);
	hi = dl->nr_cus;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (dl->cus[mid].lo <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || pc >= dl->cus[lo - 1].hi)
		return false;
	*cudie = dl->cus[lo - 1].cudie;
	return true;
}

static const char *die_name(struct strpool *pool, Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *name = NULL;

	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
		name = dwarf_formstring(&attr);
	if (!name && dwarf_attr_integrate(die, DW_AT_name, &attr))
		name = dwarf_formstring(&attr);
	return name ? symtab_display_name(pool, name) : NULL;
}

/* f's function from die (a subprogram or an inlined copy), its offset from die's entry. */
static void name_frame(Dwarf_Die *die, uint64_t pc, struct strpool *pool, struct call_frame *f)
{
	Dwarf_Addr low;

	f->function = die_name(pool, die);
	if (f->function && !dwarf_entrypc(die, &low) && low <= pc)
		f->offset = pc + 1 - low;
}

/* Where the inlined copy inl is called from: the file and line of the call in its caller. */
static void call_location(Dwarf_Die *inl, Dwarf_Die *cudie, const char **file, uint32_t *line)
{
	Dwarf_Attribute attr;
	Dwarf_Word v;
	Dwarf_Files *files;
	size_t nfiles;

	*file = NULL;
	*line = 0;
	if (!dwarf_formudata(dwarf_attr(inl, DW_AT_call_line, &attr), &v))
		*line = (uint32_t)v;
	if (!dwarf_formudata(dwarf_attr(inl, DW_AT_call_file, &attr), &v) &&
	    !dwarf_getsrcfiles(cudie, &files, &nfiles) && v < nfiles)
		*file = dwarf_filesrc(files, v, NULL, NULL);
}

/*
 * The innermost scope that holds pc, found as dwarf_getscopes() finds it, which leaktop no longer
 * calls: that function leaks its scope array (32 bytes per DIE in it) whenever it fails after
 * finding the innermost scope, and the caller cannot free what it never receives. It fails so
 * when an inlined copy's DW_AT_abstract_origin does not resolve (malformed DWARF), and also on
 * valid DWARF: libdw 0.188 looks for the abstract origin in the copy's own unit only, and link-time
 * optimisation puts it in another. Each call site cached would leak once, and lose its inlined
 * frames besides. Only the innermost DIE is needed here: dwarf_getscopes_die() (which frees on
 * every path) gives its chain of concrete parents.
 */
struct scope_search {
	uint64_t pc;
	Dwarf_Die found;
	bool any;      /* found is set */
	size_t budget; /* DIEs left to look at: imported units can make the walk a large DAG */
};

/* Deeper nesting is malformed; the bound also ends a cycle of imported units. */
#define MAX_SCOPE_DEPTH	 256
#define MAX_SCOPE_VISITS (1u << 20)

/* The tags whose children may hold pc (libdw's may_have_scopes(), which dwarf_getscopes uses). */
static bool may_have_scopes(int tag)
{
	switch (tag) {
	case DW_TAG_compile_unit:
	case DW_TAG_module:
	case DW_TAG_lexical_block:
	case DW_TAG_with_stmt:
	case DW_TAG_catch_block:
	case DW_TAG_try_block:
	case DW_TAG_entry_point:
	case DW_TAG_inlined_subroutine:
	case DW_TAG_subprogram:
	case DW_TAG_namespace:
	case DW_TAG_class_type:
	case DW_TAG_structure_type:
		return true;
	default:
		return false;
	}
}

static int scope_search_children(Dwarf_Die *parent, struct scope_search *ss, unsigned int depth);

/*
 * 1 when die holds pc (ss->found is then the innermost DIE under it that does), 0 when it does
 * not, -1 when the search must stop (too deep or too long): what was found so far stands.
 */
static int scope_search_die(Dwarf_Die *die, struct scope_search *ss, unsigned int depth)
{
	int tag = dwarf_tag(die);

	if (!ss->budget)
		return -1;
	ss->budget--;
	if (tag == DW_TAG_imported_unit) {
		Dwarf_Attribute attr;
		Dwarf_Die unit;

		/* A partial unit's children count as the importer's own, as libdw walks them. */
		if (!dwarf_formref_die(dwarf_attr(die, DW_AT_import, &attr), &unit) ||
		    dwarf_tag(&unit) == DW_TAG_compile_unit)
			return 0;
		return scope_search_children(&unit, ss, depth + 1);
	}
	/* A DIE whose ranges cannot be read holds nothing, as in dwarf_getscopes(). */
	if (dwarf_haspc(die, ss->pc) <= 0)
		return 0;
	ss->found = *die;
	ss->any = true;
	/* The first child that holds pc is the way down, as dwarf_getscopes() goes. */
	if (may_have_scopes(tag) && dwarf_haschildren(die) > 0)
		(void)scope_search_children(die, ss, depth + 1);
	return 1;
}

static int scope_search_children(Dwarf_Die *parent, struct scope_search *ss, unsigned int depth)
{
	Dwarf_Die child;
	int ret;

	if (depth > MAX_SCOPE_DEPTH)
		return -1;
	if (dwarf_child(parent, &child))
		return 0;
	do {
		ret = scope_search_die(&child, ss, depth);
		if (ret)
			return ret;
	} while (!dwarf_siblingof(&child, &child));
	return 0;
}

static bool innermost_scope(Dwarf_Die *cudie, uint64_t pc, Dwarf_Die *out)
{
	struct scope_search ss = {.pc = pc, .budget = MAX_SCOPE_VISITS};

	(void)scope_search_children(cudie, &ss, 0);
	if (ss.any)
		*out = ss.found;
	return ss.any;
}

/*
 * The inlined copies around pc, innermost first, up to the real function: the innermost scope's
 * parents in the DIE tree are the chain of concrete callers. The real function names outer when
 * it has no name yet. *inl is malloc'ed, or NULL (then there are none, also when memory ran
 * short: a frame without its inlined callers is still a true answer).
 */
static size_t inlined_copies(Dwarf_Die *cudie, uint64_t pc, struct strpool *pool,
			     struct call_frame *outer, Dwarf_Die **inl)
{
	Dwarf_Die innermost, *scopes = NULL;
	int nscopes = 0;
	size_t n = 0;

	*inl = NULL;
	if (innermost_scope(cudie, pc, &innermost))
		nscopes = dwarf_getscopes_die(&innermost, &scopes);
	if (nscopes > 0)
		*inl = calloc((size_t)nscopes, sizeof(**inl));
	for (int i = 0; *inl && i < nscopes; i++) {
		int tag = dwarf_tag(&scopes[i]);

		if (tag == DW_TAG_inlined_subroutine) {
			(*inl)[n++] = scopes[i];
		} else if (tag == DW_TAG_subprogram) {
			if (!outer->function)
				name_frame(&scopes[i], pc, pool, outer);
			break;
		}
	}
	free(scopes);
	return n;
}

int dwarf_lines__call_site(struct dwarf_lines *dl, uint64_t pc, struct strpool *pool,
			   const struct call_frame *outer, struct call_site **site)
{
	struct call_frame last = *outer;
	Dwarf_Die cudie, *inl = NULL;
	struct call_site *cs;
	size_t ninl = 0;

	if (dl && find_cu(dl, pc, &cudie)) {
		Dwarf_Line *line = dwarf_getsrc_die(&cudie, pc);
		int ln = 0;

		if (line) {
			last.file = dwarf_linesrc(line, NULL, NULL);
			if (!dwarf_lineno(line, &ln) && ln > 0)
				last.line = (uint32_t)ln;
		}
		ninl = inlined_copies(&cudie, pc, pool, &last, &inl);
	}
	cs = calloc(1, sizeof(*cs) + (ninl + 1) * sizeof(cs->frames[0]));
	if (!cs) {
		free(inl);
		return -ENOMEM;
	}
	for (size_t k = 0; k < ninl; k++) {
		struct call_frame *f = &cs->frames[k];

		/* An inlined copy has no symbol: its offset counts from the copy's entry. */
		name_frame(&inl[k], pc, pool, f);
		f->file = last.file;
		f->line = last.line;
		f->inlined = true;
		call_location(&inl[k], &cudie, &last.file, &last.line);
	}
	last.inlined = false;
	cs->frames[ninl] = last;
	cs->nr = (uint32_t)ninl + 1;
	free(inl);
	*site = cs;
	return 0;
}
