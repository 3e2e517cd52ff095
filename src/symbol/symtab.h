/* symtab.h: one object's function symbols, found by address, and the names they are shown by. */
#ifndef LT_SYMTAB_H
#define LT_SYMTAB_H

#include <stdbool.h>
#include <stdint.h>

struct elf_file;
struct strpool;
struct symtab;

/*
 * The function symbols of ef (.symtab and .dynsym), and those of debug's .symtab when ef was
 * stripped down to .dynsym (debug may be NULL). One entry per address, under its preferred name.
 * The table points at names inside ef and debug: free it before them. An object without symbols
 * gives an empty table. NULL and errno (ENOMEM, or what reading the symbols failed with).
 */
struct symtab *symtab__new(struct elf_file *ef, struct elf_file *debug);

/*
 * The symbol that holds the link-time address vaddr: a sized symbol whose range holds it (the
 * innermost of nested ones), else a label without a size up to the next symbol within its
 * section. *name is its shown name (see symtab_display_name(); computed once, interned in pool)
 * and *start its address. false when no symbol holds vaddr. NULL-safe in t.
 */
bool symtab__find(struct symtab *t, uint64_t vaddr, struct strpool *pool, const char **name,
		  uint64_t *start);

/* NULL-safe. */
void symtab__free(struct symtab *t);

/*
 * The name to show for a raw symbol or DWARF linkage name: without its symbol version
 * ("memcpy@GLIBC_2.2.5" -> "memcpy") and demangled, interned in pool. raw itself when there is
 * nothing to change or memory runs short (still a true answer).
 */
const char *symtab_display_name(struct strpool *pool, const char *raw);

/* Demangles a C++ name; returns a malloc'ed string, or NULL when the name is not mangled. */
char *symtab_demangle(const char *name);

#endif
