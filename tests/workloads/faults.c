/* faults.c: anonymous memory made resident page by page, read without being written, released. */
/*
 * Usage: faults [-w] PAGES
 * Maps anonymous memory (nothing resident yet), then:
 *   touch_pages()     writes one byte into each of PAGES pages: PAGES pages made resident
 *   read_pages()      reads PAGES other pages: the shared zero page, no memory taken
 *   touch_advised()   writes PAGES / 2 pages of a second mapping
 *   touch_freed()     writes PAGES / 4 pages of a third mapping
 *   touch_spanned()   writes PAGES / 4 pages of a fourth range, two mappings (MADV_DONTFORK on
 *                     its second half splits it)
 *   heap_block()      malloc(1000), kept: a heap block (--track heap,faults)
 * After "done" and a line (attach mode), release_pages() unmaps the first mapping,
 * madvise(MADV_DONTNEED) drops the second (through libc) and MADV_FREE the third (a raw syscall),
 * one MADV_DONTNEED the fourth range's two mappings, then "released", a line, "bye".
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

static long page;

static NOINLINE void touch_pages(volatile char *p, long n)
{
	for (long i = 0; i < n; i++)
		p[i * page] = 1; /* SITE:touch_pages */
}

static NOINLINE long read_pages(volatile char *p, long n)
{
	long sum = 0;

	for (long i = 0; i < n; i++)
		sum += p[i * page];
	return sum;
}

static NOINLINE void touch_advised(volatile char *p, long n)
{
	for (long i = 0; i < n; i++)
		p[i * page] = 2; /* SITE:touch_advised */
}

static NOINLINE void touch_freed(volatile char *p, long n)
{
	for (long i = 0; i < n; i++)
		p[i * page] = 3; /* SITE:touch_freed */
}

static NOINLINE void touch_spanned(volatile char *p, long n)
{
	for (long i = 0; i < n; i++)
		p[i * page] = 4; /* SITE:touch_spanned */
}

static void *block;

static NOINLINE void heap_block(void)
{
	block = malloc(1000); /* SITE:heap_block */
	wl_touch(block, 1000);
}

static NOINLINE void release_pages(char *p, long n, char *q, long m, char *r, long k)
{
	munmap(p, (size_t)(n * page));
	madvise(q, (size_t)(m * page), MADV_DONTNEED);
	syscall(SYS_madvise, r, (size_t)(k * page), MADV_FREE);
	madvise(r + k * page, (size_t)(k * page), MADV_DONTNEED);
}

int main(int argc, char **argv)
{
	long n;
	char *p, *q, *r;

	argc = wl_init(argc, argv);
	n = argc > 1 ? atol(argv[1]) : 100;
	page = sysconf(_SC_PAGESIZE);
	p = mmap(NULL, (size_t)(2 * n * page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	q = mmap(NULL, (size_t)(n * page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		 0);
	/* [0, n): the third mapping; [n, 2n): the fourth range, split at 3n/2 */
	r = mmap(NULL, (size_t)(2 * n * page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED || q == MAP_FAILED || r == MAP_FAILED ||
	    madvise(r + n * page, (size_t)(n * page), MADV_DONTFORK) ||
	    madvise(r + 3 * n / 2 * page, (size_t)(n / 2 * page), MADV_DOFORK))
		return 1;
	wl_ready();
	touch_pages(p, n);
	if (read_pages(p + n * page, n))
		return 1;
	touch_advised(q, n / 2);
	touch_freed(r, n / 4);
	touch_spanned(r + (3 * n / 2 - n / 8) * page, n / 4);
	heap_block();
	wl_done();
	release_pages(p, 2 * n, q, n, r, n);
	if (wl_wait_mode) {
		wl_say("released");
		wl_wait_line();
	}
	wl_bye();
	return 0;
}
