/* alloctab.h: the live-allocation table's tiers: their sizes, their creation as they fill. */
#ifndef LT_ALLOCTAB_H
#define LT_ALLOCTAB_H

#include <stddef.h>
#include <stdint.h>

/*
 * Entries of tier n (0-based) of a table of max_allocs entries in all: LT_ALLOC_TIER0 times
 * LT_ALLOC_TIER_GROWTH^n, the last tier cut so that the tiers add up to max_allocs exactly; 0 for
 * a tier beyond the last. Pure.
 */
uint32_t alloctab_tier_entries(uint32_t max_allocs, unsigned int n);

struct alloctab;

/*
 * The tiers of the table behind outer_fd (the BPF array of maps "allocs"), max_allocs entries in
 * all. Creates the first tier, and the second when there is one. NULL and errno (ENOMEM, or the
 * kernel's error creating a map).
 */
struct alloctab *alloctab__new(int outer_fd, uint32_t max_allocs);

/*
 * Keeps one tier ready beyond the tier in use (`in_use`, which the BPF programs move on when a tier
 * is full), so that a burst fills the next tier, four times the size, before the table stops
 * taking blocks. Call it often (the collector's maintenance: every 100 ms). 0 or -errno.
 */
int alloctab__grow(struct alloctab *a, uint32_t in_use);

/* The fds of the tiers created so far, oldest first; returns how many (at most LT_ALLOC_TIERS). */
size_t alloctab__fds(const struct alloctab *a, const int **fds);

void alloctab__free(struct alloctab *a);

#endif
