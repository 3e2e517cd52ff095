/* exec_second.c: the program exec_first execs (it also runs alone as a workload of its own). */
/*
 * Figures at exit (outstanding bytes / allocations per allocation-site function):
 *   exec_second_leak     7000 / 2    malloc(3500) x2
 * Usage: exec_second [-w [--from-exec]]. With -w alone it follows wl.h ("ready PID" first);
 * with "-w --from-exec" (how exec_first execs it) it skips "ready": the test already triggered
 * exec_first, so it leaks at once, prints "done", waits for a line and prints "bye".
 */
#include <stdlib.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

static void *held[2];

NOINLINE static void exec_second_leak(void)
{
	for (int i = 0; i < 2; i++) {
		held[i] = malloc(3500); /* SITE:exec_second_leak */
		wl_touch(held[i], 3500);
	}
}

int main(int argc, char **argv)
{
	argc = wl_init(argc, argv);
	if (!(argc > 1 && strcmp(argv[1], "--from-exec") == 0))
		wl_ready();
	exec_second_leak();
	wl_done();
	wl_bye();
	return 0;
}
