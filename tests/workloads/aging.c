/* aging.c: an old set of blocks and a young one, for OLDEST and --min-age. */
/*
 * Usage: aging [-w] [GAP_SECONDS [LINGER_MS]]   (default gap 3, linger 0)
 *   aging_old     8192 / 4     malloc(2048) x4 before the gap
 *   aging_mixed   3072 / 3     malloc(1024) x3 before the gap, and x2 after it: 5120 / 5 in all,
 *                              one stack (the same call path both times)
 *   aging_gone       0 / 0     malloc(512) x2 before the gap, freed at the end
 *   aging_young  15360 / 5     malloc(3072) x5 after the gap
 * Without -w it exits right after, so a report at exit sees ages of about GAP and 0 seconds: with
 * --min-age 1 (GAP 2) only the sets before the gap count. On stderr, "aging: NAME NS" for the
 * first block of each set (NAME old, mixed, young, mixed_young) and "aging: end NS" at the end:
 * CLOCK_MONOTONIC, the clock of the BPF side's times, read just before the set's first malloc.
 * Then it lingers LINGER_MS, so that views refreshed meanwhile see aging_gone's blocks gone.
 */
#include <stdlib.h>
#include <time.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

static void *held[16];
static int nr_held;

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

/*
 * Sleeps until PERMILLE thousandths into a window of 2^28 ns of CLOCK_MONOTONIC, the BPF side's
 * finest age slots (bpf/ages.h): the old set goes late in one window and the mixed set early in
 * the next, so that an age taken from a window's start instead of a block's time would be off by
 * far more than the time between the two.
 */
static void wait_in_window(unsigned long long permille)
{
	unsigned long long w = 1ull << 28, t = now_ns(), at = t - t % w + w * permille / 1000;
	struct timespec ts;

	if (at <= t)
		at += w;
	ts.tv_sec = (time_t)(at / 1000000000ull);
	ts.tv_nsec = (long)(at % 1000000000ull);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL))
		;
}

/* Writes "aging: NAME NS" to stderr, without touching the heap. */
static void say_time(const char *name, unsigned long long ns)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "aging: %s %llu\n", name, ns);

	if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

/* A macro, not a function: the malloc's caller is the set's own function. */
#define HOLD(size)                                         \
	do {                                               \
		held[nr_held] = malloc(size);              \
		wl_touch(held[nr_held], size);             \
		nr_held++;                                 \
	} while (0)

NOINLINE static void aging_old(void)
{
	unsigned long long t = now_ns();

	for (int i = 0; i < 4; i++)
		HOLD(2048); /* SITE:aging_old */
	say_time("old", t);
}

NOINLINE static void aging_mixed(int n, const char *name)
{
	unsigned long long t = now_ns();

	for (int i = 0; i < n; i++)
		HOLD(1024); /* SITE:aging_mixed */
	say_time(name, t);
}

NOINLINE static void aging_gone(void **gone)
{
	for (int i = 0; i < 2; i++) {
		gone[i] = malloc(512); /* SITE:aging_gone */
		wl_touch(gone[i], 512);
	}
}

NOINLINE static void aging_young(void)
{
	unsigned long long t = now_ns();

	for (int i = 0; i < 5; i++)
		HOLD(3072); /* SITE:aging_young */
	say_time("young", t);
}

int main(int argc, char **argv)
{
	unsigned int gap = 3, linger_ms = 0;
	void *gone[2];

	argc = wl_init(argc, argv);
	if (argc > 1)
		gap = (unsigned int)strtoul(argv[1], NULL, 10);
	if (argc > 2)
		linger_ms = (unsigned int)strtoul(argv[2], NULL, 10);
	wl_ready();
	for (int young = 0; young < 2; young++) {
		if (young) {
			sleep(gap);
			aging_young();
		} else {
			wait_in_window(750);
			aging_old();
			aging_gone(gone);
			wait_in_window(40);
		}
		aging_mixed(young ? 2 : 3, young ? "mixed_young" : "mixed");
	}
	free(gone[0]);
	free(gone[1]);
	say_time("end", now_ns());
	usleep(linger_ms * 1000);
	wl_done();
	wl_bye();
	return 0;
}
