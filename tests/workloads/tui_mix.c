/* tui_mix.c: the live view's workload: a cache filled once, a slow steady leak, heavy churn. */
/*
 * Usage: tui_mix [-w] [SECONDS] [RATE]   (default 600 s, 50 requests a second)
 * At the first request the cache is filled; then every request (every 1/RATE s) leaks one small
 * block and churns blocks it frees at once. Figures after `tui_mix S R` (outstanding bytes /
 * outstanding allocations per allocation-site function), with N = S * R requests:
 *   cache_fill    2097152 / 512     4096 B x 512, at the first request only, never freed
 *   leak_slow      N * 64 / N       64 B per request, never freed: +64 * R B/s (3200 B/s at 50/s)
 *   churn_alloc         0 / 0       200 blocks of 16..1039 B per request, each freed at once:
 *                                   N * 200 allocations in all
 * In attach mode (-w) the requests start at the trigger line and "done" follows the last one.
 */
#include <stdlib.h>
#include <time.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))
#define CACHE_BLOCKS 512
#define CACHE_BLOCK 4096
#define LEAK_BYTES 64
#define CHURN_PER_REQUEST 200

struct leaked {
	struct leaked *next;
	char payload[LEAK_BYTES - sizeof(struct leaked *)];
};

static void *cache[CACHE_BLOCKS];
static struct leaked *leaks;
static unsigned int seed = 12345;

NOINLINE static void cache_fill(void)
{
	for (int i = 0; i < CACHE_BLOCKS; i++) {
		cache[i] = malloc(CACHE_BLOCK); /* SITE:cache_fill */
		wl_touch(cache[i], CACHE_BLOCK);
	}
}

NOINLINE static void leak_slow(void)
{
	struct leaked *l = malloc(sizeof(*l)); /* SITE:leak_slow */

	wl_touch(l, sizeof(*l));
	l->next = leaks; /* kept forever: the leak */
	leaks = l;
}

NOINLINE static void *churn_alloc(size_t n)
{
	return malloc(n); /* SITE:churn_alloc */
}

NOINLINE static void churn(void)
{
	for (int i = 0; i < CHURN_PER_REQUEST; i++) {
		size_t n;
		void *p;

		seed = seed * 1103515245u + 12345u;
		n = 16 + (seed >> 16) % 1024;
		p = churn_alloc(n);
		wl_touch(p, 8);
		free(p);
	}
}

NOINLINE static void handle_request(int request)
{
	if (request == 0)
		cache_fill();
	leak_slow();
	churn();
}

int main(int argc, char **argv)
{
	struct timespec tick = { 0, 0 };
	int seconds = 600, rate = 50;

	_Static_assert(sizeof(struct leaked) == LEAK_BYTES, "the leak's size is in the figures");
	argc = wl_init(argc, argv);
	if (argc > 1)
		seconds = atoi(argv[1]);
	if (argc > 2)
		rate = atoi(argv[2]);
	if (rate < 1 || rate > 1000)
		rate = 50;
	tick.tv_nsec = 1000000000L / rate;
	wl_ready();
	for (int i = 0; i < seconds * rate; i++) {
		handle_request(i);
		nanosleep(&tick, NULL);
	}
	wl_done();
	wl_bye();
	return 0;
}
