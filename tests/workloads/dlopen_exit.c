/* dlopen_exit.c: dlopens libdlsite.so, calls its leaks, exits at once: a module mapped late. */
/*
 * Usage: dlopen_exit [-w] [PATH-OF-libdlsite.so]   (default: libdlsite.so beside this executable)
 * Figures at exit: see libdlsite.c (module = the .so, which stays mapped until the exit):
 *   dl_leak_block    19629 / 3    malloc(6543) x3
 *   dl_leak_calloc    5000 / 1    calloc(2, 2500)
 * dlopen's own bookkeeping allocates inside ld.so/libc: those sites are not the workload's.
 * With -w: "ready PID" and a line on stdin before the dlopen; after dl_entry() it prints "done"
 * and "bye" and returns from main at once, without waiting for another line (unlike wl.h's other
 * workloads). Without -w it prints nothing. Exit status 0; 3 when the library cannot be loaded.
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
	if (wl_wait_mode) {
		wl_say("done");
		wl_bye();
	}
	return 0; /* at once: the library is still mapped, its leaks outstanding */
}
