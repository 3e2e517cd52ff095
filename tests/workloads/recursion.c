/* recursion.c: allocations at the bottom of recursions of chosen depths: one stack per depth. */
/*
 * Usage: recursion [-w] DEPTH [SPREAD]
 * For each depth d from DEPTH to DEPTH + SPREAD - 1 (SPREAD 1 by default), dig() calls itself d
 * times and the innermost call allocates:
 *   bottom()   777 x SPREAD / SPREAD   malloc(777), held
 * Each depth is a stack of its own; below, main and the C runtime add 4 frames.
 */
#include <stdlib.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

static void *held[4096];
static int nr_held;

static NOINLINE void bottom(void)
{
	if (nr_held < (int)(sizeof(held) / sizeof(held[0]))) {
		held[nr_held] = malloc(777); /* SITE:bottom */
		wl_touch(held[nr_held++], 777);
	}
}

static NOINLINE void dig(int d)
{
	if (d == 0)
		bottom(); /* CALL:bottom */
	else
		dig(d - 1); /* CALL:dig */
}

int main(int argc, char **argv)
{
	int depth, spread;

	argc = wl_init(argc, argv);
	depth = argc > 1 ? atoi(argv[1]) : 10;
	spread = argc > 2 ? atoi(argv[2]) : 1;
	wl_ready();
	for (int d = depth; d < depth + spread; d++)
		dig(d);
	wl_done();
	wl_bye();
	return 0;
}
