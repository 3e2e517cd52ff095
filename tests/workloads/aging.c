/* aging.c: an old set of leaks and a young one, for --min-age. */
/*
 * Usage: aging [-w] [GAP_SECONDS]   (default gap 3)
 *   aging_old     8192 / 4     malloc(2048) x4, then the gap
 *   aging_young  15360 / 5     malloc(3072) x5, right before the end
 * Without -w it exits right after the young set, so a report at exit sees ages of about GAP
 * and 0 seconds: with --min-age 2 only aging_old counts.
 */
#include <stdlib.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

static void *held[9];

NOINLINE static void aging_old(void)
{
	for (int i = 0; i < 4; i++) {
		held[i] = malloc(2048); /* SITE:aging_old */
		wl_touch(held[i], 2048);
	}
}

NOINLINE static void aging_young(void)
{
	for (int i = 0; i < 5; i++) {
		held[4 + i] = malloc(3072); /* SITE:aging_young */
		wl_touch(held[4 + i], 3072);
	}
}

int main(int argc, char **argv)
{
	unsigned int gap = 3;

	argc = wl_init(argc, argv);
	if (argc > 1)
		gap = (unsigned int)strtoul(argv[1], NULL, 10);
	wl_ready();
	aging_old();
	sleep(gap);
	aging_young();
	wl_done();
	wl_bye();
	return 0;
}
