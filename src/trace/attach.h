/* attach.h: which allocator entry points a process uses, in which mapped object, and attaching them. */
#ifndef LT_ATTACH_H
#define LT_ATTACH_H

#include <stdbool.h>

#include "trace/tracer.h"

struct procfile;

struct attach_opts {
	bool no_probe_shift;	/* every entry probe at the function's first instruction */
	/*
	 * After an exec: whether the process has f's probes already (its links stay, and the kernel
	 * puts them in the new image where it maps f again). Those are not attached twice. NULL:
	 * none has.
	 */
	bool (*kept)(void *ctx, const struct procfile *f);
	/* Told each file that got probes (a file may be told more than once). 0 or -errno. */
	int (*probed)(void *ctx, struct procfile *f);
	void *ctx;
};

/*
 * Finds the allocator entry points process pid binds to (its code read now through the view pv,
 * which the probes then attach through: deleted files and other mount namespaces included),
 * resolving each name the way the dynamic
 * linker does (the executable, then the loaded objects in load order, first definition wins), and
 * attaches them to t. Logs what it attached at -v. Returns the number of entry points attached, or
 * -ENOENT when the process has none, or no program of its own (a kernel thread; logged, naming the
 * objects searched), -ESRCH when the process is gone, -EACCES when its /proc files may not be read
 * (logged), or another -errno from attaching (logged).
 */
struct procview;

int attach_process(struct tracer *t, struct procview *pv, int pid,
		   const struct attach_opts *opts);

#endif
