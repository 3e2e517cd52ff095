/* args.c: leaks what its command line says, proving that command mode passes arguments through. */
/*
 * Usage: args [-w] COUNT SIZE [WORD]
 *   leak_args   COUNT*SIZE / COUNT     malloc(SIZE) COUNT times
 *   dup_arg     strlen(WORD)+1 / 1     a copy of WORD, when WORD is given (malloc here, not
 *                                      strdup: libc would be the allocation site)
 * e.g. `args 3 1000 "hello world"`: leak_args 3000 / 3, dup_arg 12 / 1. Bad usage: exit 2.
 */
#include <stdlib.h>
#include <string.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

NOINLINE static void leak_args(long count, long size)
{
	for (long i = 0; i < count; i++) {
		void *p = malloc((size_t)size); /* SITE:leak_args */

		wl_touch(p, (size_t)size);
	}
}

NOINLINE static char *dup_arg(const char *word)
{
	size_t n = strlen(word) + 1;
	char *copy = malloc(n); /* SITE:dup_arg */

	if (copy)
		memcpy(copy, word, n);
	return copy;
}

int main(int argc, char **argv)
{
	long count, size;

	argc = wl_init(argc, argv);
	if (argc < 3 || argc > 4)
		return 2;
	count = strtol(argv[1], NULL, 10);
	size = strtol(argv[2], NULL, 10);
	if (count < 0 || size <= 0)
		return 2;
	wl_ready();
	leak_args(count, size);
	if (argc == 4 && !dup_arg(argv[3]))
		return 1;
	wl_done();
	wl_bye();
	return 0;
}
