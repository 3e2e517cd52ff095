/* stacks_bench.c: many distinct call stacks holding live blocks, for scripts/bench's refresh figures. */
/*
 * stacks_bench STACKS LIVE
 *   prints "waiting" and waits for a line on stdin (time for leaktop to attach); then makes STACKS
 *   distinct call stacks (STACKS <= 131072: 17 levels of calls, the bits of the stack's number
 *   choosing at each level which of two functions is called), each allocating one block of 32
 *   bytes that it frees at once, so that every stack is in leaktop's tables; then allocates LIVE
 *   blocks of 32 bytes, block j from stack j % STACKS, and holds them. Prints "ready STACKS LIVE",
 *   waits for another line, frees everything and exits.
 */
#include <stdio.h>
#include <stdlib.h>

#define LEVELS 17

static void *left(unsigned long path, int level);
static void *right(unsigned long path, int level);

/*
 * The body of left and right, a macro rather than an inline function so that a frame is one
 * function (no inlined frames): each has its own two calls, so a frame's return address says
 * which function called which. The empty asm keeps the calls from becoming jumps: each level
 * keeps its frame.
 */
#define DESCEND(path, level)                                                                       \
	do {                                                                                       \
		void *p;                                                                           \
                                                                                                   \
		if ((level) == LEVELS)                                                             \
			p = malloc(32);                                                            \
		else if ((path) >> (level) & 1)                                                    \
			p = right(path, (level) + 1);                                              \
		else                                                                               \
			p = left(path, (level) + 1);                                               \
		__asm__ volatile("" : : "r"(p) : "memory");                                        \
		return p;                                                                          \
	} while (0)

__attribute__((noinline)) static void *left(unsigned long path, int level)
{
	DESCEND(path, level);
}

__attribute__((noinline)) static void *right(unsigned long path, int level)
{
	DESCEND(path, level);
}

static void wait_line(void)
{
	char line[16];

	if (!fgets(line, sizeof(line), stdin))
		line[0] = '\0';
}

int main(int argc, char **argv)
{
	long stacks = argc > 2 ? atol(argv[1]) : 0, live = argc > 2 ? atol(argv[2]) : -1;
	void **held;

	if (stacks <= 0 || stacks > 1L << LEVELS || live < 0) {
		fprintf(stderr, "usage: stacks_bench STACKS LIVE (STACKS 1..%ld)\n", 1L << LEVELS);
		return 2;
	}
	held = malloc((live ? live : 1) * sizeof(*held));
	if (!held)
		return 1;
	printf("waiting\n");
	fflush(stdout);
	wait_line();
	/* One call site for both, so that the stacks are STACKS, not twice as many. */
	for (long j = 0; j < stacks + live; j++) {
		void *p = left(j % stacks, 0);

		if (j < stacks)
			free(p);
		else
			held[j - stacks] = p;
	}
	printf("ready %ld %ld\n", stacks, live);
	fflush(stdout);
	wait_line();
	for (long j = 0; j < live; j++)
		free(held[j]);
	free(held);
	return 0;
}
