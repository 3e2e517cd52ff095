/* chain_nofp.c: a leak at the bottom of main -> level1 -> level2 -> level3 -> level4, built -O2. */
/*
 * The Makefile builds it twice: chain_nofp with -O2 -fomit-frame-pointer, chain_withfp with -O2
 * -fno-omit-frame-pointer. Both must give the same stack.
 *   level4    24000 / 6    malloc(4000) x6
 * Its stack, innermost first: level4, level3, level2, level1, main, each frame on the line of its
 * call (the SITE/CALL markers below).
 * Every level keeps values live across its call and does work after it, so that -O2 neither
 * inlines a level nor turns its call into a tail jump, and each has a frame of a different size
 * (one a large local array) for the unwinder to measure.
 */
#include <stdlib.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

static void *held[6];
static volatile unsigned long sink;

NOINLINE unsigned long level4(unsigned long seed);
NOINLINE unsigned long level3(unsigned long seed);
NOINLINE unsigned long level2(unsigned long seed);
NOINLINE unsigned long level1(unsigned long seed);

NOINLINE unsigned long level4(unsigned long seed)
{
	unsigned long sum = 0;

	for (int i = 0; i < 6; i++) {
		held[i] = malloc(4000); /* SITE:level4 */
		wl_touch(held[i], 4000);
		sum += (unsigned long)held[i] ^ seed;
	}
	return sum;
}

NOINLINE unsigned long level3(unsigned long seed)
{
	unsigned long a = seed * 3, b = seed ^ 0x5555;
	unsigned long r = level4(a + b); /* CALL:level4 */

	sink = r;
	return r + a * b;
}

NOINLINE unsigned long level2(unsigned long seed)
{
	volatile char pad[2048];
	unsigned long r;

	pad[seed % sizeof(pad)] = (char)seed;
	r = level3(seed + pad[seed % sizeof(pad)]); /* CALL:level3 */
	pad[r % sizeof(pad)] = (char)r;
	return r + pad[(r + 1) % sizeof(pad)];
}

NOINLINE unsigned long level1(unsigned long seed)
{
	unsigned long x = seed + 1, y = seed * 7, z = seed ^ 0xabc;
	unsigned long r = level2(x ^ y ^ z); /* CALL:level2 */

	sink = x + y + z;
	return r * x + y * z;
}

int main(int argc, char **argv)
{
	unsigned long r;

	argc = wl_init(argc, argv);
	wl_ready();
	r = level1((unsigned long)argc); /* CALL:level1 */
	sink = r;
	wl_done();
	wl_bye();
	return 0;
}
