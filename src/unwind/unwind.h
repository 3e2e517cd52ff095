/* unwind.h: the compact unwind table of one ELF object, from its CFI (.eh_frame, .debug_frame). */
#ifndef LT_UNWIND_H
#define LT_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/leaktop.h"

struct elf_file;

/*
 * Rows sorted by pc, each holding from its pc until the next row's pc; consecutive rows never
 * carry the same rule. Addresses between FDEs get an LT_CFA_NONE row, so a pc is never read
 * under the rule of the function before it.
 */
struct unwind_table {
	struct lt_unwind_row *rows; /* owned */
	size_t nr_rows;
	size_t nr_fdes;		/* FDEs turned into rows (.eh_frame, then .debug_frame) */
	size_t nr_fp_fdes;	/* of these, FDEs whose body finds its CFA through rbp */
	size_t nr_stop_rows;	/* rows with a rule leaktop cannot express (LT_CFA_STOP) */
	size_t nr_skipped_fdes; /* FDEs left out: beyond 4 GiB, or undecodable */
	uint64_t code_bytes;	/* bytes of code the FDEs cover */
	uint64_t fp_bytes;	/* of these, in FDEs that use rbp as the frame pointer */
	bool has_fp;		/* the object keeps frame pointers (see unwind.c for the rule) */
};

/*
 * Builds the table of ef from its .eh_frame, and from its .debug_frame for code .eh_frame does not
 * cover. Pure: reads nothing but ef. NULL and errno: ENOENT when ef has no CFI at all, ENOMEM.
 */
struct unwind_table *unwind_table__build(struct elf_file *ef);

/* The row that holds for ELF virtual address pc, or NULL below the first row. */
const struct lt_unwind_row *unwind_table__find(const struct unwind_table *t, uint64_t pc);

/*
 * The code range [*lo, *hi) of the .eh_frame FDE that covers vaddr in ef: a function's extent where
 * no symbol gives it (stripped objects, local functions, .cold parts, PLT sections). Linear in the
 * number of FDEs. 0 or -ENOENT.
 */
int unwind_fde_range(struct elf_file *ef, uint64_t vaddr, uint64_t *lo, uint64_t *hi);

/* NULL-safe. */
void unwind_table__free(struct unwind_table *t);

#endif
