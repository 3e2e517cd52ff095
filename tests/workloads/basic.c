/* basic.c: every C allocator entry point once, each from its own named site, with exact figures. */
/*
 * Figures at exit (outstanding bytes / outstanding allocations per allocation-site function):
 *   leak_malloc            5000 / 5    malloc(1000) x5
 *   partial_malloc        12000 / 6    malloc(2000) x10, 4 freed (allocs 10)
 *   leak_calloc            6300 / 3    calloc(7, 300) x3
 *   chain_start               0 / 0    malloc(111), then grown by grow_chain
 *   grow_chain            12000 / 1    p = realloc(p, 3000 * i), i = 1..4, one call site (allocs 4)
 *   realloc_null           8642 / 2    realloc(NULL, 4321) x2
 *   realloc_zero_victim       0 / 0    malloc(777), freed by realloc(p, 0)
 *   realloc_to_zero           0 / 0    realloc(p, 0) returns NULL: a free, no allocation
 *   leak_reallocarray      2250 / 1    reallocarray(NULL, 6, 250), then reallocarray(p, 9, 250)
 *   leak_posix_memalign    8000 / 2    posix_memalign(&p, 64, 4000) x2
 *   bad_posix_memalign        0 / 0    posix_memalign(&p, 3, 100): EINVAL, records nothing
 *   leak_aligned_alloc     6144 / 3    aligned_alloc(256, 2048) x3
 *   leak_memalign          2600 / 2    memalign(128, 1300) x2
 *   leak_valloc            5200 / 1    valloc(5200)
 *   leak_pvalloc          12288 / 2    pvalloc(5000) -> 8192, pvalloc(100) -> 4096
 *   failing_malloc            0 / 0    malloc(1 << 62) fails
 *   failing_calloc            0 / 0    calloc(1 << 40, 1 << 40) overflows
 *   free_null                 -        free(NULL): ignored
 * Sum over these sites: 80424 bytes in 28 allocations. Every free here matches a traced allocation.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
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

NOINLINE static void leak_malloc(void)
{
	for (int i = 0; i < 5; i++) {
		void *p = malloc(1000); /* SITE:leak_malloc */
		hold(p, 1000);
	}
}

NOINLINE static void partial_malloc(void)
{
	void *p[10];

	for (int i = 0; i < 10; i++) {
		p[i] = malloc(2000); /* SITE:partial_malloc */
		wl_touch(p[i], 2000);
	}
	for (int i = 0; i < 10; i++) {
		if (i % 3 == 0) /* 0, 3, 6, 9: four blocks freed */
			free(p[i]);
		else
			held[nr_held++] = p[i];
	}
}

NOINLINE static void leak_calloc(void)
{
	for (int i = 0; i < 3; i++)
		hold(calloc(7, 300), 2100); /* SITE:leak_calloc */
}

NOINLINE static void *chain_start(void)
{
	return malloc(111); /* SITE:chain_start */
}

NOINLINE static void *grow_chain(void *p)
{
	for (int i = 1; i <= 4; i++) {
		p = realloc(p, 3000 * (size_t)i); /* SITE:grow_chain */
		wl_touch(p, 3000 * (size_t)i);
	}
	return p;
}

NOINLINE static void realloc_null(void)
{
	for (int i = 0; i < 2; i++)
		hold(realloc(NULL, 4321), 4321); /* SITE:realloc_null */
}

NOINLINE static void *realloc_zero_victim(void)
{
	return malloc(777); /* SITE:realloc_zero_victim */
}

NOINLINE static void realloc_to_zero(void *p)
{
	void *q = realloc(p, 0); /* SITE:realloc_to_zero */

	if (q) /* glibc frees and returns NULL; keep the figures right where it does not */
		free(q);
}

NOINLINE static void leak_reallocarray(void)
{
	void *p = reallocarray(NULL, 6, 250); /* SITE:leak_reallocarray */

	wl_touch(p, 1500);
	p = reallocarray(p, 9, 250);
	hold(p, 2250);
}

NOINLINE static void leak_posix_memalign(void)
{
	for (int i = 0; i < 2; i++) {
		void *p = NULL;

		if (posix_memalign(&p, 64, 4000) == 0) /* SITE:leak_posix_memalign */
			hold(p, 4000);
	}
}

NOINLINE static void bad_posix_memalign(void)
{
	/* A sentinel a tracer would record if it read the out-argument of a failed call. */
	void *p = (void *)0x1000;

	if (posix_memalign(&p, 3, 100) == 0) /* SITE:bad_posix_memalign */
		hold(p, 100);
}

NOINLINE static void leak_aligned_alloc(void)
{
	for (int i = 0; i < 3; i++)
		hold(aligned_alloc(256, 2048), 2048); /* SITE:leak_aligned_alloc */
}

NOINLINE static void leak_memalign(void)
{
	for (int i = 0; i < 2; i++)
		hold(memalign(128, 1300), 1300); /* SITE:leak_memalign */
}

NOINLINE static void leak_valloc(void)
{
	hold(valloc(5200), 5200); /* SITE:leak_valloc */
}

NOINLINE static void leak_pvalloc(void)
{
	static const size_t sizes[] = {5000, 100};

	for (int i = 0; i < 2; i++)
		hold(pvalloc(sizes[i]), sizes[i]); /* SITE:leak_pvalloc */
}

NOINLINE static void failing_malloc(void)
{
	volatile size_t huge = (size_t)1 << 62;
	void *p = malloc(huge); /* SITE:failing_malloc */

	if (p)
		hold(p, 0);
}

NOINLINE static void failing_calloc(void)
{
	volatile size_t n = (size_t)1 << 40;
	void *p = calloc(n, n); /* SITE:failing_calloc */

	if (p)
		hold(p, 0);
}

NOINLINE static void free_null(void)
{
	free(NULL);
}

int main(int argc, char **argv)
{
	void *p;

	wl_init(argc, argv);
	wl_ready();

	leak_malloc();
	partial_malloc();
	leak_calloc();
	p = chain_start();
	wl_touch(p, 111);
	hold(grow_chain(p), 0);
	realloc_null();
	realloc_to_zero(realloc_zero_victim());
	leak_reallocarray();
	leak_posix_memalign();
	bad_posix_memalign();
	leak_aligned_alloc();
	leak_memalign();
	leak_valloc();
	leak_pvalloc();
	failing_malloc();
	failing_calloc();
	free_null();

	wl_done();
	wl_bye();
	return 0;
}
