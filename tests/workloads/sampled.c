/* sampled.c: many allocations of known sizes per site, for the statistical test of --sample-rate. */
/*
 * Figures at exit (outstanding bytes / outstanding allocations per allocation-site function), for
 * `sampled [SCALE]` (default 1); each site allocates SCALE times as many blocks:
 *   many_small     2,000,000 / 40,000    malloc(50) x40000
 *   some_medium    4,096,000 / 1,000     malloc(4096) x1000
 *   few_large      6,000,000 / 60        malloc(100000) x60
 *   huge           8,388,608 / 4         malloc(2 MiB) x4
 *   churn                  0 / 0         malloc(700) + free x50000: all freed
 */
#include <stdlib.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

NOINLINE static void many_small(int scale)
{
	for (int i = 0; i < 40000 * scale; i++)
		wl_touch(malloc(50), 50); /* SITE:many_small */
}

NOINLINE static void some_medium(int scale)
{
	for (int i = 0; i < 1000 * scale; i++)
		wl_touch(malloc(4096), 4096); /* SITE:some_medium */
}

NOINLINE static void few_large(int scale)
{
	for (int i = 0; i < 60 * scale; i++)
		wl_touch(malloc(100000), 100000); /* SITE:few_large */
}

NOINLINE static void huge(int scale)
{
	for (int i = 0; i < 4 * scale; i++)
		wl_touch(malloc(2 << 20), 2 << 20); /* SITE:huge */
}

NOINLINE static void churn(int scale)
{
	for (int i = 0; i < 50000 * scale; i++) {
		void *p = malloc(700); /* SITE:churn */

		wl_touch(p, 700);
		free(p);
	}
}

int main(int argc, char **argv)
{
	int scale;

	argc = wl_init(argc, argv);
	scale = argc > 1 ? atoi(argv[1]) : 1;
	if (scale < 1)
		scale = 1;
	wl_ready();
	churn(scale);
	many_small(scale);
	some_medium(scale);
	few_large(scale);
	huge(scale);
	wl_done();
	wl_bye();
	return 0;
}
