/* frames.c: functions with known frames, for the unwind-table tests (built with and without frame
 * pointers, and with .debug_frame only). Never run. */
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))

volatile unsigned long fx_sink;

/* Two callee-saved registers live across the call: two pushes, then a call. */
NOINLINE unsigned long fx_pushes(unsigned long a, unsigned long b)
{
	unsigned long x = a * 3, y = b ^ 7;

	fx_sink = (unsigned long)malloc(x + y);
	return x + y;
}

/* A 4 KiB local array: a large CFA offset. */
NOINLINE unsigned long fx_big_frame(unsigned long n)
{
	volatile char buf[4096];

	buf[n % sizeof(buf)] = (char)n;
	fx_sink = (unsigned long)malloc(n);
	return buf[(n + 1) % sizeof(buf)];
}

/* A variable-length array: the CFA comes from rbp even without -fno-omit-frame-pointer. */
NOINLINE unsigned long fx_vla(unsigned long n)
{
	volatile char buf[n + 1];

	buf[n] = 1;
	fx_sink = (unsigned long)malloc(n);
	return buf[n];
}

int main(int argc, char **argv)
{
	return (int)(fx_pushes((unsigned long)argc, 2) + fx_big_frame(3) + fx_vla(4));
}
