/* leaky.c: leaks 100 kB at one named site, the child of `leaktop -- sh -c ./leaky`. */
/*
 * Figures at exit (outstanding bytes / allocations per allocation-site function):
 *   leaky_leak    100000 / 100    malloc(1000) x100
 * Nothing else is allocated by the program itself (it prints nothing without -w).
 * Note: Debian 12's sh (dash 0.5.12) forks a child for `sh -c ./leaky` and waits for it; bash execs
 * a lone command in place (`bash -c ./leaky` keeps the shell's pid: an exec, not a fork).
 */
#include <stdlib.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

static void *held[100];

NOINLINE static void leaky_leak(void)
{
	for (int i = 0; i < 100; i++) {
		held[i] = malloc(1000); /* SITE:leaky_leak */
		wl_touch(held[i], 1000);
	}
}

int main(int argc, char **argv)
{
	wl_init(argc, argv);
	wl_ready();
	leaky_leak();
	wl_done();
	wl_bye();
	return 0;
}
