/* malloc_bench.c: ns per malloc+free pair, or hold N live blocks, for scripts/bench. */
/*
 * malloc_bench pairs N [LIVE] N malloc(64)+free pairs, best of 5 rounds; prints "ns_per_pair X";
 *                             with LIVE, LIVE blocks of 32 bytes are allocated first and held
 * malloc_bench hold N         allocates N blocks of 32 bytes, prints "holding N", waits for a line
 *                             on stdin, then exits (the blocks stay live until then)
 * malloc_bench paced N WORK   N pairs, each after WORK ns of computation: a program that does
 *                             something between its allocations (--max-overhead's bench); best
 *                             of 5 rounds, prints "ns_per_pair X" (the work included), then
 *                             "cpu_ns_per_pair X", its CPU time (the kernel's in its probes too)
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

static volatile unsigned long sink;

/* iters steps of a linear congruential generator: work the compiler cannot drop. */
static void spin(unsigned long iters)
{
	unsigned long x = sink;

	for (unsigned long i = 0; i < iters; i++)
		x = x * 6364136223846793005ul + 1442695040888963407ul;
	sink = x;
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* spin()'s iterations for ns nanoseconds of CPU (not wall time, which a loaded machine stretches). */
static unsigned long spin_iters(long ns)
{
	unsigned long n = 1 << 20;
	double best = 1e30;

	/* The fastest of 20: the same count in every run, whatever runs beside it. */
	for (int i = 0; i < 20; i++) {
		double t0 = cpu_s(), t;

		spin(n);
		t = cpu_s() - t0;
		if (t < best)
			best = t;
	}
	return (unsigned long)(n * (ns / 1e9) / best);
}

static void pairs(long n, long work_ns)
{
	unsigned long iters = work_ns ? spin_iters(work_ns) : 0;
	double best = 1e30, best_cpu = 1e30;

	for (int round = 0; round < 5; round++) {
		double t0 = now_s(), c0 = cpu_s();

		for (long i = 0; i < n; i++) {
			void *p;

			if (iters)
				spin(iters);
			p = site_alloc(64);

			/* Keeps the compiler from pairing malloc with free away. */
			__asm__ volatile("" : : "r"(p) : "memory");
			free(p);
		}
		double dt = (now_s() - t0) / n * 1e9, dc = (cpu_s() - c0) / n * 1e9;
		if (dt < best)
			best = dt;
		if (dc < best_cpu)
			best_cpu = dc;
	}
	printf("ns_per_pair %.2f\n", best);
	/* The process's own CPU, the kernel's time in its probes included: a load on the machine
	 * stretches the wall time, not this. */
	if (work_ns)
		printf("cpu_ns_per_pair %.2f\n", best_cpu);
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
		fprintf(stderr, "usage: malloc_bench pairs N [LIVE] | hold N | paced N WORK\n");
		return 2;
	}
	if (!strcmp(argv[1], "pairs")) {
		/* A large heap: the allocation table holds these while the pairs run. */
		if (live)
			held = malloc(live * sizeof(*held));
		for (long i = 0; held && i < live; i++)
			held[i] = site_alloc(32);
		pairs(n, 0);
		for (long i = 0; held && i < live; i++)
			free(held[i]);
		free(held);
	}
	else if (!strcmp(argv[1], "paced"))
		pairs(n, live);
	else
		hold(n);
	return 0;
}
