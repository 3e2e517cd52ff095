/* hold.c: N live blocks of one size from one site, for the allocation table's tiers and limits. */
/*
 * Usage: hold [-w] N [SIZE]   (N at most 262144; SIZE default 32)
 *   hold_blocks   N x SIZE bytes, malloc(SIZE) N times, all held to the end
 * Nothing else allocates in the allocation phase: the pointers live in a static array.
 */
#include <stdlib.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))
#define MAX_BLOCKS 262144

static void *held[MAX_BLOCKS];

NOINLINE static void hold_blocks(long n, size_t size)
{
	for (long i = 0; i < n; i++) {
		held[i] = malloc(size); /* SITE:hold_blocks */
		wl_touch(held[i], size);
	}
}

int main(int argc, char **argv)
{
	long n;
	size_t size = 32;

	argc = wl_init(argc, argv);
	if (argc < 2)
		return 2;
	n = strtol(argv[1], NULL, 10);
	if (argc > 2)
		size = strtoul(argv[2], NULL, 10);
	if (n < 0 || n > MAX_BLOCKS)
		return 2;
	wl_ready();
	hold_blocks(n, size);
	wl_done();
	wl_bye();
	return 0;
}
