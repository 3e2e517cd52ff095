/* ksyms.h: kernel addresses -> function and module, through /proc/kallsyms (modules included). */
#ifndef LT_KSYMS_H
#define LT_KSYMS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Whether addr is a kernel address (x86-64: the upper half). */
static inline bool ksyms_is_kernel(uint64_t addr)
{
	return addr >= 0xffff800000000000ULL;
}

struct ksyms;

/*
 * The text symbols of f, in /proc/kallsyms' format ("ADDRESS TYPE NAME [MODULE]"), sorted by
 * address. Addresses read as 0 (kptr_restrict, no privilege) leave it empty. NULL and errno ENOMEM.
 */
struct ksyms *ksyms__load(FILE *f);

/*
 * The symbol that covers addr (the last one at or below it): its name, addr - its start in
 * *offset, and its module ("[kernel]" for the kernel's own, "[NAME]" for a module's), which stay
 * valid until ksyms__free(). NULL when none is at or below addr.
 */
const char *ksyms__find(const struct ksyms *k, uint64_t addr, uint64_t *offset,
			const char **module);

void ksyms__free(struct ksyms *k);

#endif
