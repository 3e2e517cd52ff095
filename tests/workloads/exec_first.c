/* exec_first.c: leaks at one site, then execs exec_second (same pid), which leaks at another. */
/*
 * Usage: exec_first [-w] [PATH-OF-exec_second]   (default: exec_second beside this executable)
 * Figures (outstanding bytes / allocations per allocation-site function):
 *   before the exec, in exec_first's image:
 *     exec_first_leak     10000 / 4    malloc(2500) x4, never freed: the exec discards the whole
 *                                      address space, so after it these blocks no longer exist
 *   after the exec, in exec_second's image: see exec_second.c
 *     exec_second_leak     7000 / 2    malloc(3500) x2
 * With -w: "ready PID", a line on stdin, then the leak and the exec; exec_second (given
 * "-w --from-exec") prints no "ready" of its own, leaks, prints "done", waits for a line and
 * prints "bye": to the test it is one workload whose pid never changes. Without -w both run
 * straight through and print nothing. Exit status: exec_second's; 3 when the exec fails.
 */
#include <limits.h>
#include <stdlib.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

static void *held[4];

NOINLINE static void exec_first_leak(void)
{
	for (int i = 0; i < 4; i++) {
		held[i] = malloc(2500); /* SITE:exec_first_leak */
		wl_touch(held[i], 2500);
	}
}

int main(int argc, char **argv)
{
	char path[PATH_MAX];
	char *next[4];
	int i = 0;

	argc = wl_init(argc, argv);
	if (argc > 1)
		snprintf(path, sizeof(path), "%s", argv[1]);
	else
		wl_beside_exe(path, sizeof(path), "exec_second");

	wl_ready();
	exec_first_leak();
	next[i++] = path;
	if (wl_wait_mode) {
		next[i++] = "-w";
		next[i++] = "--from-exec";
	}
	next[i] = NULL;
	execv(path, next);
	wl_say("exec %s failed", path);
	return 3;
}
