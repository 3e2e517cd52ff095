/* linkplan.h: how one process's probes are attached: one session link per object, one uprobe_multi
 * link per object for the probes that need no return, classic uprobes for the rest. */
#ifndef LT_LINKPLAN_H
#define LT_LINKPLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace/entrypoint.h"
#include "trace/objects.h"
#include "trace/tracer.h"

/* The multi-probe links planned for one process, by object and kind, not yet created. */
struct link_plans;

/* An empty plan. NULL and errno (ENOMEM). */
struct link_plans *link_plans__new(void);

/*
 * Places the entry probe of pr (and its return, if it needs one): in its object's session link
 * when the kernel has them and nothing unwinds through pr (a session catches the return where it
 * caught the entry, so an entry point that needs its return is probed where the return address is
 * still at the stack pointer); else, needing no return, in its object's uprobe_multi link; else in
 * classic probes, attached at once. 0 or -errno (logged, naming the entry point and object).
 */
int link_plans__place(struct link_plans *lp, struct tracer *t, int pid, const struct probe *pr);

/*
 * Adds one probe at offset in o, with cookie, to o's session link (session) or to its uprobe_multi
 * link. An offset already planned in that link is kept once (an exit two entry points share).
 * 0 or -ENOMEM.
 */
int link_plans__add(struct link_plans *lp, struct object *o, bool session, uint64_t offset,
		    uint64_t cookie);

/*
 * Creates the planned links. A kind of link the kernel refuses (-EOPNOTSUPP) falls back to classic
 * probes at the same offsets, plus the returns of the probes (of probes[0..nr_probes)) that need
 * one. 0 or -errno (logged, naming the object).
 */
int link_plans__attach(struct link_plans *lp, struct tracer *t, int pid, const struct probe *probes,
		       size_t nr_probes);

void link_plans__free(struct link_plans *lp);

#endif
