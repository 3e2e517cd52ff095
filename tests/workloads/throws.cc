// throws.cc: operator new failing over and over (bad_alloc caught, nothrow new returning null),
// optionally in a forked child too, then a known leak.
/*
 * Usage: throws [-w] N [fork]
 * Figures at exit (outstanding bytes / allocations per allocation-site function):
 *   keep_array()        9000 / 3   new char[3000] x3, after the failures
 *   keep_malloc()       4242 / 1   malloc(4242)
 * Exit status: 0 when every one of the N throwing calls threw std::bad_alloc, every one of the N
 * nothrow calls returned nullptr, and (with "fork") the child did the same and exited 0; 3
 * otherwise. Without -w, nothing is printed: stdout may be leaktop's.
 */
#include <cstdlib>
#include <new>
#include <sys/wait.h>
#include <unistd.h>

extern "C" {
#include "wl.h"
}

#define NOINLINE __attribute__((noinline))

static char *kept[3];
static void *kept_malloc;

/* Larger than any allocator can give: every attempt fails. */
static volatile size_t huge_size = (size_t)1 << 62;

/* n failing new[] and n failing nothrow new; true when all behaved. */
static NOINLINE bool fail_many(int n)
{
	int thrown = 0, nulls = 0;

	for (int i = 0; i < n; i++) {
		try {
			char *p = new char[huge_size];

			p[0] = 1;
		} catch (const std::bad_alloc &) {
			thrown++;
		}
		if (!new (std::nothrow) char[huge_size])
			nulls++;
	}
	return thrown == n && nulls == n;
}

static NOINLINE void keep_array(void)
{
	for (int i = 0; i < 3; i++) {
		kept[i] = new char[3000]; /* SITE:keep_array */
		wl_touch(kept[i], 3000);
	}
}

static NOINLINE void keep_malloc(void)
{
	kept_malloc = malloc(4242); /* SITE:keep_malloc */
	wl_touch(kept_malloc, 4242);
}

int main(int argc, char **argv)
{
	bool ok, with_fork;
	int n, status = 0;
	pid_t child = -1;

	argc = wl_init(argc, argv);
	n = argc > 1 ? atoi(argv[1]) : 100;
	with_fork = argc > 2 && argv[2][0] == 'f';
	wl_ready();
	if (with_fork) {
		child = fork();
		if (child == 0)
			_exit(fail_many(n) ? 0 : 3);
	}
	ok = fail_many(n);
	keep_array();
	keep_malloc();
	if (child > 0 && (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
			  WEXITSTATUS(status) != 0))
		ok = false;
	wl_done();
	wl_bye();
	return ok ? 0 : 3;
}
