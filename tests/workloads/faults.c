/* faults.c: anonymous memory made resident page by page, read without being written, released. */
/*
 * Usage: faults [-w] PAGES
 * Maps anonymous memory (nothing resident yet), then:
 *   touch_pages()     writes one byte into each of PAGES pages: PAGES pages made resident
 *   read_pages()      reads PAGES other pages: the shared zero page, no memory taken
 *   touch_advised()   writes PAGES / 2 pages of a second mapping
 *   heap_block()      malloc(1000), kept: a heap block (--track heap,faults)
 * After "done" and a line (attach mode), release_pages() unmaps the first mapping and
 * madvise(MADV_DONTNEED) drops the second, then "released", a line, "bye".
 */
#include <stdlib.h>
#include <sys/mman.h>

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

static void *block;

static NOINLINE void heap_block(void)
{
	block = malloc(1000); /* SITE:heap_block */
	wl_touch(block, 1000);
}

static NOINLINE void release_pages(char *p, long n, char *q, long m)
{
	munmap(p, (size_t)(n * page));
	madvise(q, (size_t)(m * page), MADV_DONTNEED);
}

int main(int argc, char **argv)
{
	long n;
	char *p, *q;

	argc = wl_init(argc, argv);
	n = argc > 1 ? atol(argv[1]) : 100;
	page = sysconf(_SC_PAGESIZE);
	p = mmap(NULL, (size_t)(2 * n * page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	q = mmap(NULL, (size_t)(n * page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		 0);
	if (p == MAP_FAILED || q == MAP_FAILED)
		return 1;
	wl_ready();
	touch_pages(p, n);
	if (read_pages(p + n * page, n))
		return 1;
	touch_advised(q, n / 2);
	heap_block();
	wl_done();
	release_pages(p, 2 * n, q, n);
	if (wl_wait_mode) {
		wl_say("released");
		wl_wait_line();
	}
	wl_bye();
	return 0;
}
