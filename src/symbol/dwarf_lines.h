/* dwarf_lines.h: source lines and inlined frames of an object's code, from its DWARF. */
#ifndef LT_DWARF_LINES_H
#define LT_DWARF_LINES_H

#include <stdbool.h>
#include <stdint.h>

struct Elf;
struct strpool;
struct dwarf_lines;

/* One source-level frame of a call site. */
struct call_frame {
	const char *function; /* shown name (interned in the pool given), or NULL when unknown */
	const char *file;     /* source file as DWARF names it (inside the DWARF data), or NULL */
	uint64_t offset;      /* pc + 1 - the entry of the function or inlined copy; 0 if unknown */
	uint32_t line;	      /* 0 when unknown */
	bool inlined;	      /* inlined into the next frame; false for the last one only */
};

/* The frames of one call site, innermost first, in one allocation (free() it). */
struct call_site {
	uint32_t nr; /* >= 1 */
	struct call_frame frames[];
};

/*
 * The DWARF of elf, read as it is needed. NULL when elf has none (or memory ran short). elf must
 * outlive the result.
 */
struct dwarf_lines *dwarf_lines__new(struct Elf *elf);

/*
 * The call site at pc (a link-time address: the last byte of a call instruction). outer is what
 * the symbol table says of the real function (function NULL when it knows nothing). The result
 * has the inlined copies that hold pc, innermost first, each with the line pc is at in it, then
 * the real function with the line of the outermost inlined call in it (or of pc), named from
 * DWARF when outer has no name. dl may be NULL: then outer is the one frame. Names are interned
 * in pool, files point into the DWARF data: both live as long as pool and dl. *site is
 * malloc'ed. 0 or -ENOMEM.
 */
int dwarf_lines__call_site(struct dwarf_lines *dl, uint64_t pc, struct strpool *pool,
			   const struct call_frame *outer, struct call_site **site);

/* NULL-safe. */
void dwarf_lines__free(struct dwarf_lines *dl);

#endif
