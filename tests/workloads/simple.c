/* simple.c: the attach-mode workload: blocks allocated before attach and freed after, and leaks. */
/*
 * Uses only entry points every allocator exports (glibc and jemalloc alike), so the same binary
 * runs under LD_PRELOAD=libjemalloc.so.2 with the same figures.
 * Figures at the end of the allocation phase (outstanding bytes / allocations per site):
 *   pre_attach_alloc       0 / 0    malloc(1234) x8 BEFORE "ready", all freed after the trigger:
 *                                   in attach mode these are 8 frees of never-seen blocks
 *                                   (stats.unmatched_frees == 8) and the site never appears
 *   simple_malloc       6000 / 4    malloc(1500) x6, 2 freed
 *   simple_calloc      14000 / 2    calloc(10, 700) x2
 *   simple_realloc_src     0 / 0    malloc(100), grown by simple_realloc
 *   simple_realloc      9000 / 1    realloc(p, 9000)
 *   simple_memalign     2500 / 1    posix_memalign(&p, 64, 2500)
 * At exit (attach mode) it prints "bye sum=N": the byte sum of what it holds, 729300 when
 * nothing disturbed its memory (4*1500*0x11 + 100*0x22 + 8900*0x33 + 2500*0x44, calloc blocks
 * all zero and the posix_memalign block 64-aligned; otherwise the sum is off).
 */
#include <stdint.h>
#include <stdlib.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

static void *pre[8];
static unsigned char *kept_malloc[4], *kept_calloc[2], *kept_realloc, *kept_memalign;

NOINLINE static void pre_attach_alloc(void)
{
	for (int i = 0; i < 8; i++) {
		pre[i] = malloc(1234); /* SITE:pre_attach_alloc */
		wl_touch(pre[i], 1234);
	}
}

NOINLINE static void release_pre(void)
{
	for (int i = 0; i < 8; i++)
		free(pre[i]);
}

NOINLINE static void simple_malloc(void)
{
	unsigned char *p[6];

	for (int i = 0; i < 6; i++) {
		p[i] = malloc(1500); /* SITE:simple_malloc */
		memset(p[i], 0x11, 1500);
	}
	free(p[1]);
	free(p[4]);
	kept_malloc[0] = p[0];
	kept_malloc[1] = p[2];
	kept_malloc[2] = p[3];
	kept_malloc[3] = p[5];
}

NOINLINE static void simple_calloc(void)
{
	for (int i = 0; i < 2; i++)
		kept_calloc[i] = calloc(10, 700); /* SITE:simple_calloc */
}

NOINLINE static unsigned char *simple_realloc_src(void)
{
	unsigned char *p = malloc(100); /* SITE:simple_realloc_src */

	memset(p, 0x22, 100);
	return p;
}

NOINLINE static void simple_realloc(unsigned char *p)
{
	kept_realloc = realloc(p, 9000); /* SITE:simple_realloc */
	memset(kept_realloc + 100, 0x33, 8900);
}

NOINLINE static void simple_memalign(void)
{
	void *p = NULL;

	if (posix_memalign(&p, 64, 2500) == 0) { /* SITE:simple_memalign */
		kept_memalign = p;
		memset(p, 0x44, 2500);
	}
}

static unsigned long sum_bytes(const unsigned char *p, size_t n)
{
	unsigned long s = 0;

	for (size_t i = 0; i < n; i++)
		s += p[i];
	return s;
}

static unsigned long checksum(void)
{
	unsigned long s = 0;

	for (int i = 0; i < 4; i++)
		s += sum_bytes(kept_malloc[i], 1500);
	for (int i = 0; i < 2; i++)
		s += sum_bytes(kept_calloc[i], 7000);
	s += sum_bytes(kept_realloc, 9000);
	s += sum_bytes(kept_memalign, 2500);
	if ((uintptr_t)kept_memalign % 64)
		s += 1;
	return s;
}

int main(int argc, char **argv)
{
	wl_init(argc, argv);
	pre_attach_alloc();
	wl_ready();
	release_pre();
	simple_malloc();
	simple_calloc();
	simple_realloc(simple_realloc_src());
	simple_memalign();
	wl_done();
	if (wl_wait_mode)
		wl_say("bye sum=%lu", checksum());
	return 0;
}
