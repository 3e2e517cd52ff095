/* exitplan.h: the exit probes of an entry point whose return address is never replaced (an
 * allocator's own operator new): exitpoint's search over the process's objects, and their links. */
#ifndef LT_EXITPLAN_H
#define LT_EXITPLAN_H

#include <stddef.h>

#include "trace/entrypoint.h"
#include "trace/linkplan.h"
#include "trace/objects.h"
#include "trace/tracer.h"

/*
 * Plans the exit probes of pr (one with pr->exits): one on each `ret` through which its calls
 * return, found by exitpoint_find() through pr's tail calls into any object of objs (GOT slots
 * resolved as the dynamic linker binds them), not past another entry point of probes[0..nr_probes).
 * They go into lp's uprobe_multi link of their object, or, without such links, are attached at
 * once as classic uprobes. Exits that cannot be found or attached are logged: calls that leave
 * through them end unseen and are counted as missed returns. 0 or -ENOMEM.
 */
int exitplan_place(struct tracer *t, int pid, struct link_plans *lp, struct objects *objs,
		   const struct probe *probes, size_t nr_probes, const struct probe *pr);

#endif
