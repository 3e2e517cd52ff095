/* dlopen_nofp.c: loads libdlchain_nofp.so after attach and leaks through it, before and after a pause. */
/*
 * Usage: dlopen_nofp [-w]   (libdlchain_nofp.so beside this executable)
 * Calls dl_chain_entry once right after dlopen, then sleeps 1.5 s (time for leaktop to see the
 * new mapping and load its unwind table), then calls it 3 more times. Figures: 12000 / 4 at
 * dl_chain_leak; the last 3 blocks at least have the whole stack, up to main.
 * Exit status 3 when the library cannot be loaded.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <time.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

volatile unsigned long sink;

NOINLINE static unsigned long call_library(unsigned long (*entry)(unsigned long), unsigned long n)
{
	unsigned long r = entry(n); /* CALL:dl_chain_entry */

	sink = r;
	return r ^ n;
}

int main(int argc, char **argv)
{
	char path[PATH_MAX];
	unsigned long (*entry)(unsigned long);
	struct timespec pause = { 1, 500000000 };
	ssize_t n;
	void *lib;

	wl_init(argc, argv);
	n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	path[n > 0 ? n : 0] = '\0';
	strcpy(strrchr(path, '/') ? strrchr(path, '/') + 1 : path, "libdlchain_nofp.so");

	wl_ready();
	lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	entry = lib ? (unsigned long (*)(unsigned long))dlsym(lib, "dl_chain_entry") : NULL;
	if (!entry) {
		wl_say("dlopen %s failed: %s", path, dlerror());
		return 3;
	}
	sink = call_library(entry, 1); /* CALL:call_library */
	nanosleep(&pause, NULL);
	for (unsigned long i = 2; i <= 4; i++)
		sink = call_library(entry, i); /* CALL:call_library_after */
	wl_done();
	wl_bye();
	return 0;
}
