// new_bench.cc: ns per operator new + delete pair, for scripts/bench (under any allocator).
/*
 * new_bench pairs N     N new char[64] + delete[] pairs, best of 5 rounds; prints "ns_per_pair X"
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

static double now_s()
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static char *site_new(size_t n)
{
	return new char[n];
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 0;
	double best = 1e30;

	if (argc < 3 || strcmp(argv[1], "pairs") || n <= 0) {
		fprintf(stderr, "usage: new_bench pairs N\n");
		return 2;
	}
	for (int round = 0; round < 5; round++) {
		double t0 = now_s();

		for (long i = 0; i < n; i++) {
			char *p = site_new(64);

			__asm__ volatile("" : : "r"(p) : "memory");
			delete[] p;
		}
		double dt = (now_s() - t0) / n * 1e9;
		if (dt < best)
			best = dt;
	}
	printf("ns_per_pair %.2f\n", best);
	return 0;
}
