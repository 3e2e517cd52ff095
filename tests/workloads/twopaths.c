/* twopaths.c: one allocation site reached by two callers whose frames are alike, taken in turn. */
/*
 *   leaf     from path_a   32000 / 500   malloc(64) x500
 *   leaf     from path_b   32000 / 500   malloc(64) x500
 * path_a and path_b have the same frame, and main calls them from the same loop: at malloc's
 * return the registers (rip, rsp, rbp) are the same whichever path called leaf. Only the return
 * addresses on the stack tell the two stacks apart, so a stack reused from the unwinder's cache
 * must be checked against them (tests/integration/test_unwind.py).
 */
#include <stdlib.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))
#define ROUNDS 500

static void *held[2 * ROUNDS];

NOINLINE void *leaf(void)
{
	return malloc(64); /* SITE:leaf */
}

NOINLINE void *path_a(int i)
{
	volatile int pad = i;

	return pad >= 0 ? leaf() : NULL; /* CALL:leaf_a */
}

NOINLINE void *path_b(int i)
{
	volatile int pad = i;

	return pad >= 0 ? leaf() : NULL; /* CALL:leaf_b */
}

int main(int argc, char **argv)
{
	argc = wl_init(argc, argv);
	wl_ready();
	for (int i = 0; i < ROUNDS; i++) {
		held[2 * i] = path_a(i);     /* CALL:path_a */
		held[2 * i + 1] = path_b(i); /* CALL:path_b */
	}
	wl_done();
	wl_bye();
	return argc > 1 ? (int)(long)held[0] : 0;
}
