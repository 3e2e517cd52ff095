/* dlopen.c: loads libdlsite.so only in its allocation phase (after attach) and calls its leaks. */
/*
 * Usage: dlopen [-w] [PATH-OF-libdlsite.so]   (default: libdlsite.so beside this executable)
 * Figures: see libdlsite.c (dl_leak_block 19629 / 3, dl_leak_calloc 5000 / 1, module = the .so).
 * dlopen's own bookkeeping allocates inside ld.so/libc: those sites are not the workload's.
 * Exit status 3 when the library cannot be loaded.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

#include "wl.h"

int main(int argc, char **argv)
{
	char path[PATH_MAX];
	void *lib;
	int (*entry)(void);

	argc = wl_init(argc, argv);
	if (argc > 1)
		snprintf(path, sizeof(path), "%s", argv[1]);
	else
		wl_beside_exe(path, sizeof(path), "libdlsite.so");

	wl_ready();
	lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		wl_say("dlopen %s failed: %s", path, dlerror());
		return 3;
	}
	entry = (int (*)(void))dlsym(lib, "dl_entry");
	if (!entry || !entry())
		return 3;
	wl_done();
	wl_bye();
	return 0; /* the library stays loaded: its leaks stay attributed to it */
}
