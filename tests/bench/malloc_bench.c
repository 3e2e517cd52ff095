/* malloc_bench.c: ns per malloc+free pair, or hold N live blocks, for scripts/bench. */
/*
 * malloc_bench pairs N [LIVE] N malloc(64)+free pairs, best of 5 rounds; prints "ns_per_pair X";
 *                             with LIVE, LIVE blocks of 32 bytes are allocated first and held
 * malloc_bench hold N         allocates N blocks of 32 bytes, prints "holding N", waits for a line
 *                             on stdin, then exits (the blocks stay live until then)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void *site_alloc(size_t n)
{
	return malloc(n);
}

static void pairs(long n)
{
	double best = 1e30;

	for (int round = 0; round < 5; round++) {
		double t0 = now_s();

		for (long i = 0; i < n; i++) {
			void *p = site_alloc(64);

			/* Keeps the compiler from pairing malloc with free away. */
			__asm__ volatile("" : : "r"(p) : "memory");
			free(p);
		}
		double dt = (now_s() - t0) / n * 1e9;
		if (dt < best)
			best = dt;
	}
	printf("ns_per_pair %.2f\n", best);
}

static void hold(long n)
{
	void **blocks = malloc(n * sizeof(*blocks));
	char line[16];

	for (long i = 0; blocks && i < n; i++)
		blocks[i] = site_alloc(32);
	printf("holding %ld\n", n);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		line[0] = '\0';
	for (long i = 0; blocks && i < n; i++)
		free(blocks[i]);
	free(blocks);
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 0, live = argc > 3 ? atol(argv[3]) : 0;
	void **held = NULL;

	if (argc < 3 || n <= 0 || live < 0) {
		fprintf(stderr, "usage: malloc_bench pairs N [LIVE] | hold N\n");
		return 2;
	}
	if (!strcmp(argv[1], "pairs")) {
		/* A large heap: the allocation table holds these while the pairs run. */
		if (live)
			held = malloc(live * sizeof(*held));
		for (long i = 0; held && i < live; i++)
			held[i] = site_alloc(32);
		pairs(n);
		for (long i = 0; held && i < live; i++)
			free(held[i]);
		free(held);
	}
	else
		hold(n);
	return 0;
}
