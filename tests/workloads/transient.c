/* transient.c: a flood of distinct short-lived stacks (one per path down a binary tree of calls),
 * then, after a pause, a leak from a stack never seen before. */
/*
 * Usage: transient [-w] SECONDS PAUSE DEPTH
 * For SECONDS, walks the 2^DEPTH call paths of go_left/go_right over and over; each path ends in
 * one malloc(32) and its free, so each is a stack of its own that holds nothing. Then sleeps PAUSE
 * seconds, and leaks:
 *   late_leak()   50000 / 50   malloc(1000) x50
 * and before the flood and after the pause, from one stack (whose entries are then in two epochs
 * of the stack ids, the flood having filled the stack table):
 *   epoch_leak()  12000 / 40   malloc(300) x20, twice
 * Prints (with -w) "paths N" before "done": how many malloc/free pairs the flood made.
 */
#include <stdlib.h>
#include <time.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

static void *late[50];
static void *kept[40];
static unsigned long pairs;

static NOINLINE void descend(unsigned long bits, int depth);

static NOINLINE void go_left(unsigned long bits, int depth)
{
	descend(bits >> 1, depth - 1);
}

static NOINLINE void go_right(unsigned long bits, int depth)
{
	descend(bits >> 1, depth - 1);
}

static NOINLINE void descend(unsigned long bits, int depth)
{
	if (depth == 0) {
		void *p = malloc(32);

		wl_touch(p, 32);
		free(p);
		pairs++;
		return;
	}
	if (bits & 1)
		go_right(bits, depth);
	else
		go_left(bits, depth);
}

static NOINLINE void late_leak(void)
{
	for (int i = 0; i < 50; i++) {
		late[i] = malloc(1000); /* SITE:late_leak */
		wl_touch(late[i], 1000);
	}
}

/* Twenty blocks before the flood (phase 0) and twenty after it (phase 1). */
static NOINLINE void epoch_leak(int phase)
{
	for (int i = 0; i < 20; i++) {
		kept[phase * 20 + i] = malloc(300); /* SITE:epoch_leak */
		wl_touch(kept[phase * 20 + i], 300);
	}
}

static void pause_s(double pause)
{
	struct timespec ts = { (time_t)pause, (long)((pause - (time_t)pause) * 1e9) };

	if (pause > 0)
		nanosleep(&ts, NULL);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds, pause, end;
	int depth;

	argc = wl_init(argc, argv);
	seconds = argc > 1 ? atof(argv[1]) : 5;
	pause = argc > 2 ? atof(argv[2]) : 3;
	depth = argc > 3 ? atoi(argv[3]) : 20;
	wl_ready();
	end = now_s() + seconds;
	/* One call site of epoch_leak for both phases: one stack. */
	for (int phase = 0; phase < 2; phase++) {
		if (phase) {
			for (unsigned long path = 0; now_s() < end; path++)
				descend(path & ((1ul << depth) - 1), depth);
			pause_s(pause);
		}
		epoch_leak(phase);
	}
	late_leak();
	wl_say("paths %lu", pairs);
	wl_done();
	wl_bye();
	return 0;
}
