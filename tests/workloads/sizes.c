/* sizes.c: one site per size class, for --min-size / --max-size. */
/*
 *   size_tiny        160 / 10    malloc(16) x10
 *   size_small       800 / 8     malloc(100) x8
 *   size_medium     6000 / 6     malloc(1000) x6
 *   size_large     40000 / 4     malloc(10000) x4
 *   size_huge     400000 / 2     malloc(200000) x2 (above glibc's mmap threshold)
 *   size_mixed      3300 / 2     malloc(300), malloc(3000): one site, two sizes
 * e.g. --min-size 50 --max-size 5000 keeps size_small, size_medium and both size_mixed blocks;
 * --min-size 1000 --max-size 10000 (bounds inclusive) keeps size_medium, size_large and the
 * 3000-byte block of size_mixed.
 */
#include <stdlib.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

static void *held[64];
static int nr_held;

static void hold(void *p, size_t n)
{
	wl_touch(p, n);
	held[nr_held++] = p;
}

NOINLINE static void size_tiny(void)
{
	for (int i = 0; i < 10; i++)
		hold(malloc(16), 16); /* SITE:size_tiny */
}

NOINLINE static void size_small(void)
{
	for (int i = 0; i < 8; i++)
		hold(malloc(100), 100); /* SITE:size_small */
}

NOINLINE static void size_medium(void)
{
	for (int i = 0; i < 6; i++)
		hold(malloc(1000), 1000); /* SITE:size_medium */
}

NOINLINE static void size_large(void)
{
	for (int i = 0; i < 4; i++)
		hold(malloc(10000), 10000); /* SITE:size_large */
}

NOINLINE static void size_huge(void)
{
	for (int i = 0; i < 2; i++)
		hold(malloc(200000), 200000); /* SITE:size_huge */
}

NOINLINE static void size_mixed(void)
{
	for (size_t n = 300; n <= 3000; n *= 10)
		hold(malloc(n), n); /* SITE:size_mixed */
}

int main(int argc, char **argv)
{
	wl_init(argc, argv);
	wl_ready();
	size_tiny();
	size_small();
	size_medium();
	size_large();
	size_huge();
	size_mixed();
	wl_done();
	wl_bye();
	return 0;
}
