/* cfi.h: an object's CFI sections, read and checked before libdw runs a single program in them. */
#ifndef LT_CFI_H
#define LT_CFI_H

#include <gelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One CFI section (.eh_frame or .debug_frame) copied into an ELF image of its own, for libdw, with
 * its CIEs read. The section comes from the traced process's files: nothing in it is trusted.
 */
struct cfi_section;

/* The section called name in elf (not SHT_NOBITS), and its header; NULL when there is none. */
Elf_Scn *cfi_find_section(Elf *elf, const char *name, GElf_Shdr *shdr);

/*
 * The CFI section scn of elf (found as name). elf must be ELF64 little-endian, as x86-64 objects
 * are. NULL and errno: EINVAL (another object, or a section without contents), ENOMEM.
 */
struct cfi_section *cfi_section__new(Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr,
				     const char *name);

/* The image holding the section, for dwarf_getcfi_elf() and dwarf_begin_elf(); lives as s. */
Elf *cfi_section__elf(const struct cfi_section *s);

/* FDEs in the section, whether they can be decoded or not. */
size_t cfi_section__nr_fdes(const struct cfi_section *s);

/*
 * Whether libdw may run the section's programs: every CIE's and FDE's program names registers up
 * to CFI_MAX_REG only and nests remembered states CFI_MAX_DEPTH deep at most (see cfi.c), and
 * every FDE names a CIE of the section and has a range that can be decoded. For a pc, libdw's
 * search may settle on any FDE of the section, so one program out of bounds rules out all.
 */
bool cfi_section__bounded(const struct cfi_section *s);

/*
 * The next FDE from *pos (0 for the first), in section order, as libdw's search steps through
 * the section: its code range [*lo, *lo + *len) as link-time addresses; *pos moves past it.
 * 0, -EINVAL for an FDE that cannot be decoded (its CIE unknown, its range cut off), or 1 after
 * the last.
 */
int cfi_section__next_fde(const struct cfi_section *s, uint64_t *pos, uint64_t *lo, uint64_t *len);

/* NULL-safe. */
void cfi_section__free(struct cfi_section *s);

/*
 * The code range [*lo, *hi) of the .eh_frame FDE of elf that covers vaddr: a function's extent
 * where no symbol gives it. Reads the section in place and runs no program. Linear in the number
 * of FDEs. 0 or -ENOENT.
 */
int cfi_fde_range(Elf *elf, uint64_t vaddr, uint64_t *lo, uint64_t *hi);

#endif
