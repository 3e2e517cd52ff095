/* phases.c: a slow allocation phase, then a fast one: the rate changes mid-run (--max-overhead). */
/*
 * phases SLOW_MS FAST_MS [FAST_WORK_US]
 *   slow: for SLOW_MS ms of its CPU time, a malloc(4096) (slow_site) after every 200 us of work
 *   fast: for FAST_MS ms of its CPU time, a malloc(256) (fast_site) after every FAST_WORK_US
 *         (default 12) us of work
 * Every block is held until exit, when it prints how many each site allocated:
 *   slow_site N 4096
 *   fast_site M 256
 * Work and phases are measured in the thread's CPU time, so that a loaded machine changes the
 * phases' wall time, not their allocation rate per CPU second.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))
#define SLOW_SIZE 4096
#define FAST_SIZE 256
#define SLOW_WORK_US 200

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static volatile uint64_t sink;

static void spin(uint64_t iters)
{
	uint64_t x = sink;

	for (uint64_t i = 0; i < iters; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	sink = x;
}

/* Iterations of spin() per microsecond of CPU. */
static uint64_t calibrate(void)
{
	uint64_t t0 = cpu_ns(), n = 1 << 20;

	spin(n);
	return n * 1000 / (cpu_ns() - t0 + 1) + 1;
}

NOINLINE static void *slow_site(void)
{
	void *p = malloc(SLOW_SIZE);

	wl_touch(p, 64);
	return p;
}

NOINLINE static void *fast_site(void)
{
	void *p = malloc(FAST_SIZE);

	wl_touch(p, 64);
	return p;
}

/* Room for the blocks held, mapped (not malloc'ed: no site of its own), untouched until used. */
#define MAX_HELD (64L << 20)

/* Allocates from site after every work_iters of spin() for ms of CPU; returns how many. */
static long phase(void *(*site)(void), uint64_t ms, uint64_t work_iters, void **held, long *n)
{
	uint64_t end = cpu_ns() + ms * 1000000ull;
	long count = 0;

	while (cpu_ns() < end && *n < MAX_HELD) {
		spin(work_iters);
		held[(*n)++] = site();
		count++;
	}
	return count;
}

int main(int argc, char **argv)
{
	uint64_t per_us, slow_ms, fast_ms, fast_us;
	void **held = mmap(NULL, MAX_HELD * sizeof(void *), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	long n = 0, slow, fast;

	argc = wl_init(argc, argv);
	if (argc < 3 || held == MAP_FAILED)
		return 2;
	slow_ms = strtoull(argv[1], NULL, 10);
	fast_ms = strtoull(argv[2], NULL, 10);
	fast_us = argc > 3 ? strtoull(argv[3], NULL, 10) : 12;
	per_us = calibrate();
	wl_ready();
	slow = phase(slow_site, slow_ms, SLOW_WORK_US * per_us, held, &n);
	fast = phase(fast_site, fast_ms, fast_us * per_us, held, &n);
	wl_done();
	wl_say("slow_site %ld %d", slow, SLOW_SIZE);
	wl_say("fast_site %ld %d", fast, FAST_SIZE);
	wl_bye();
	return 0;
}
