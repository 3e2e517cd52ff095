/* churn.c: heavy malloc/free churn that frees all it allocates, plus one small known leak. */
/*
 * Figures at exit (outstanding bytes / outstanding allocations per allocation-site function):
 *   churn_alloc    0 / 0     200000 allocations of 16..4111 bytes, all freed
 *   churn_keep   999 / 1     malloc(999): proves the run was traced
 * Blocks are freed out of order: a ring of 256 live blocks, each slot freed when it is reused.
 */
#include <stdlib.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))
#define ROUNDS	 200000
#define RING	 256

static void *kept;

NOINLINE static void *churn_alloc(size_t n)
{
	return malloc(n); /* SITE:churn_alloc */
}

NOINLINE static void churn_keep(void)
{
	kept = malloc(999); /* SITE:churn_keep */
	wl_touch(kept, 999);
}

NOINLINE static void churn(void)
{
	void *ring[RING] = {0};
	unsigned int seed = 12345;

	for (int i = 0; i < ROUNDS; i++) {
		/* slot order is pseudo-random, so frees do not follow allocation order */
		seed = seed * 1103515245u + 12345u;
		unsigned int slot = (seed >> 16) % RING;
		size_t n = 16 + (seed >> 8) % 4096;

		free(ring[slot]);
		ring[slot] = churn_alloc(n);
		wl_touch(ring[slot], 8);
	}
	for (int i = 0; i < RING; i++)
		free(ring[i]);
}

int main(int argc, char **argv)
{
	wl_init(argc, argv);
	wl_ready();
	churn();
	churn_keep();
	wl_done();
	wl_bye();
	return 0;
}
