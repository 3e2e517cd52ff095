/* mmaps.c: anonymous mappings kept, unmapped, cut in the middle and grown, each in a function. */
/*
 * Usage: mmaps [-w]
 *   leak_maps()       3 x mmap(64 KiB), kept                      196608 bytes in 3 mappings
 *   unmapped_maps()   2 x mmap(128 KiB), each unmapped            0
 *   partial_map()     mmap(4 pages), the middle 2 unmapped        2 pages in 2 mappings
 *   grown_map()       mmap(2 pages), mremap'ed to 8 pages          8 pages in 1 mapping
 * (--track mmap; pages of 4096 bytes on x86-64.)
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/mman.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))
#define PAGE 4096

static void *kept[8];


static NOINLINE void leak_maps(void)
{
	int prot = PROT_READ | PROT_WRITE, flags = MAP_PRIVATE | MAP_ANONYMOUS;

	for (int i = 0; i < 3; i++)
		kept[i] = mmap(NULL, 64 << 10, prot, flags, -1, 0); /* SITE:leak_maps */
}

static NOINLINE void unmapped_maps(void)
{
	for (int i = 0; i < 2; i++) {
		void *p = mmap(NULL, 128 << 10, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); /* SITE:unmapped_maps */

		munmap(p, 128 << 10);
	}
}

static NOINLINE void partial_map(void)
{
	char *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0); /* SITE:partial_map */

	munmap(p + PAGE, 2 * PAGE);
	kept[3] = p;
}

static NOINLINE void grown_map(void)
{
	void *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0); /* SITE:grown_map */

	kept[4] = mremap(p, 2 * PAGE, 8 * PAGE, MREMAP_MAYMOVE);
}

int main(int argc, char **argv)
{
	argc = wl_init(argc, argv);
	wl_ready();
	leak_maps();
	unmapped_maps();
	partial_map();
	grown_map();
	wl_done();
	wl_bye();
	return 0;
}
