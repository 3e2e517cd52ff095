/* libdlchain_nofp.c: a library built -O2 without frame pointers, loaded by dlopen_nofp after attach. */
/*
 *   dl_chain_leak   4 x malloc(3000): 12000 / 4, one block per call of dl_chain_entry
 * Stack: dl_chain_leak, dl_chain_middle (this library), then dlopen_nofp's call_library and main.
 */
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))

static void *held[8];
static int nr_held;
volatile unsigned long dl_chain_sink;

NOINLINE unsigned long dl_chain_leak(unsigned long seed);
NOINLINE unsigned long dl_chain_middle(unsigned long seed);
unsigned long dl_chain_entry(unsigned long seed);

NOINLINE unsigned long dl_chain_leak(unsigned long seed)
{
	void *p = malloc(3000); /* SITE:dl_chain_leak */

	held[nr_held++ & 7] = p;
	return (unsigned long)p ^ seed;
}

NOINLINE unsigned long dl_chain_middle(unsigned long seed)
{
	unsigned long a = seed * 5, b = seed ^ 0x77;
	unsigned long r = dl_chain_leak(a + b); /* CALL:dl_chain_leak */

	dl_chain_sink = a ^ b;
	return r + a * b;
}

unsigned long dl_chain_entry(unsigned long seed)
{
	unsigned long r = dl_chain_middle(seed); /* CALL:dl_chain_middle */

	dl_chain_sink = r;
	return r + 1;
}
