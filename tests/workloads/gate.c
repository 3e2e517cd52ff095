/* gate.c: a test program as a CI job runs it: it passes, leaks, fails or crashes, on demand. */
/*
 *   gate pass        allocates 3 x 500 B and frees them; prints "pass" through stdio; exit 0
 *   gate leak        leak_one: malloc(4000) x1; leak_two: malloc(100) x3; prints "leak"; exit 0
 *   gate exit N      the leaks of `gate leak`, then exit(N)
 *   gate segv        the leaks of `gate leak`, then killed by SIGSEGV (no core dump)
 * Every mode writes one line to stdout through stdio, whose buffer (4096 B on a pipe, from
 * _IO_file_doallocate) glibc holds until exit: the default suppressions drop it.
 * Figures at exit besides that buffer: pass 0 B; the others 4300 B in 4 blocks (leak_one 4000 B
 * in 1, leak_two 300 B in 3). With -w first (wl.h), all of it happens between "ready" and "done".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

static void *held[4];

static NOINLINE void leak_one(void)
{
	held[0] = malloc(4000);
	wl_touch(held[0], 4000);
}

static NOINLINE void leak_two(void)
{
	for (int i = 1; i < 4; i++) {
		held[i] = malloc(100);
		wl_touch(held[i], 100);
	}
}

static NOINLINE void churn(void)
{
	void *p[3];

	for (int i = 0; i < 3; i++) {
		p[i] = malloc(500);
		wl_touch(p[i], 500);
	}
	for (int i = 0; i < 3; i++)
		free(p[i]);
}

int main(int argc, char **argv)
{
	struct rlimit no_core = { 0, 0 };
	const char *mode;

	argc = wl_init(argc, argv);
	mode = argc > 1 ? argv[1] : "pass";
	wl_ready();
	churn();
	printf("%s\n", mode);
	fflush(stdout);
	if (strcmp(mode, "pass")) {
		leak_one();
		leak_two();
	}
	wl_done();
	wl_bye();
	if (!strcmp(mode, "pass"))
		return 0;
	if (!strcmp(mode, "exit"))
		return argc > 2 ? atoi(argv[2]) : 1;
	if (!strcmp(mode, "segv")) {
		setrlimit(RLIMIT_CORE, &no_core);
		raise(SIGSEGV);
	}
	return 0;
}
