/* steps.c: a leak that grows one step at a time, at the test's word: for `leaktop report --dir`. */
/*
 * Usage: steps [-w] [STEPS]   (default 3). With -w, after "ready PID" each line on stdin runs one
 * step, which then prints "step K"; "done" follows the last. Without -w the steps run at once.
 * Figures after step K (outstanding bytes / allocations per allocation-site function):
 *   step_cache    65536 / 16         4096 B x16, at step 1 only
 *   step_leak     K * 10000 / K * 10   1000 B x10 per step, never freed
 *   step_churn    0 / 0              2000 B x5 per step, freed in the step
 */
#include <stdlib.h>

#include "wl.h"

#define NOINLINE  __attribute__((noinline))
#define MAX_STEPS 64

static void *cache[16];
static void *leaks[MAX_STEPS * 10];

NOINLINE static void step_cache(void)
{
	for (int i = 0; i < 16; i++) {
		cache[i] = malloc(4096); /* SITE:step_cache */
		wl_touch(cache[i], 4096);
	}
}

NOINLINE static void step_leak(int step)
{
	for (int i = 0; i < 10; i++) {
		leaks[step * 10 + i] = malloc(1000); /* SITE:step_leak */
		wl_touch(leaks[step * 10 + i], 1000);
	}
}

NOINLINE static void step_churn(void)
{
	for (int i = 0; i < 5; i++) {
		void *p = malloc(2000); /* SITE:step_churn */

		wl_touch(p, 2000);
		free(p);
	}
}

int main(int argc, char **argv)
{
	int steps = 3;

	argc = wl_init(argc, argv);
	if (argc > 1)
		steps = atoi(argv[1]);
	if (steps < 1 || steps > MAX_STEPS)
		return 2;
	wl_ready();
	for (int k = 0; k < steps; k++) {
		if (k && wl_wait_mode)
			wl_wait_line();
		if (!k)
			step_cache();
		step_leak(k);
		step_churn();
		if (wl_wait_mode)
			wl_say("step %d", k + 1);
	}
	wl_done();
	wl_bye();
	return 0;
}
