// newloop.cc: operator new(1000) N times from one site, every block held.
/*
 * Usage: newloop [-w] N
 *   new_many()   1000 x N / N   ::operator new(1000), held
 */
#include <cstdlib>
#include <new>

extern "C" {
#include "wl.h"
}

static void *held[256];

__attribute__((noinline)) static void new_many(int n)
{
	for (int i = 0; i < n && i < 256; i++) {
		held[i] = ::operator new(1000); /* SITE:new_many */
		wl_touch(held[i], 1000);
	}
}

int main(int argc, char **argv)
{
	argc = wl_init(argc, argv);
	wl_ready();
	new_many(argc > 1 ? atoi(argv[1]) : 10);
	wl_done();
	wl_bye();
	return 0;
}
