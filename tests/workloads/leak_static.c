/* leak_static.c: built -static, so malloc lives in the executable itself (its .symtab names it). */
/*
 *   static_leak     9499 / 7    malloc(1357) x7
 *   static_calloc   3000 / 1    calloc(3, 1000)
 *   static_churn       0 / 0    malloc(640) then free, 100 times
 * (Built as build/workloads/leak_static by the Makefile's *_static.c rule.)
 */
#include <stdlib.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

static void *held[8];

NOINLINE static void static_leak(void)
{
	for (int i = 0; i < 7; i++) {
		held[i] = malloc(1357); /* SITE:static_leak */
		wl_touch(held[i], 1357);
	}
}

NOINLINE static void static_calloc(void)
{
	held[7] = calloc(3, 1000); /* SITE:static_calloc */
}

NOINLINE static void static_churn(void)
{
	for (int i = 0; i < 100; i++) {
		void *p = malloc(640); /* SITE:static_churn */

		wl_touch(p, 640);
		free(p);
	}
}

int main(int argc, char **argv)
{
	wl_init(argc, argv);
	wl_ready();
	static_leak();
	static_calloc();
	static_churn();
	wl_done();
	wl_bye();
	return 0;
}
