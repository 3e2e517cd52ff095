/* deep.c: a leak at the bottom of main -> a -> b -> c -> d, for whole-stack assertions. */
/*
 *   d    13701 / 3    malloc(4567) x3
 * Its stack, innermost first: d, c, b, a, main, each frame on the line of its call (the SITE/CALL
 * markers below).
 * Folded (root first): ...;main;a;b;c;d 13701
 */
#include <stdlib.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

static void *held[3];

NOINLINE void d(void);
NOINLINE void c(void);
NOINLINE void b(void);
NOINLINE void a(void);

NOINLINE void d(void)
{
	for (int i = 0; i < 3; i++)
		held[i] = malloc(4567); /* SITE:d */
	wl_touch(held[2], 4567);
}

NOINLINE void c(void)
{
	d(); /* CALL:d */
}

NOINLINE void b(void)
{
	c(); /* CALL:c */
}

NOINLINE void a(void)
{
	b(); /* CALL:b */
}

int main(int argc, char **argv)
{
	wl_init(argc, argv);
	wl_ready();
	a(); /* CALL:a */
	wl_done();
	wl_bye();
	return 0;
}
