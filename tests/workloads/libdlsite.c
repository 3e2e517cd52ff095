/* libdlsite.c: a shared object that dlopen.c loads late; its leak sites live inside the .so. */
/*
 * Figures after dl_entry() (outstanding bytes / allocations per allocation-site function,
 * module = the path of libdlsite.so):
 *   dl_leak_block    19629 / 3    malloc(6543) x3
 *   dl_leak_calloc    5000 / 1    calloc(2, 2500)
 */
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

static void *held[4];

NOINLINE static void dl_leak_block(void)
{
	for (int i = 0; i < 3; i++) {
		held[i] = malloc(6543); /* SITE:dl_leak_block */
		memset(held[i], 1, 6543);
	}
}

NOINLINE static void dl_leak_calloc(void)
{
	held[3] = calloc(2, 2500); /* SITE:dl_leak_calloc */
}

/* The one entry point dlopen.c looks up. */
int dl_entry(void);
int dl_entry(void)
{
	dl_leak_block();
	dl_leak_calloc();
	return held[3] != NULL;
}
