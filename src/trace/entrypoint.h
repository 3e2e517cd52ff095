/* entrypoint.h: the attach table (every allocator entry point leaktop knows), and the plan of one
 * process's probes: which object defines each entry point, where its probe goes, its cookie. */
#ifndef LT_ENTRYPOINT_H
#define LT_ENTRYPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/leaktop.h"
#include "trace/objects.h"

/* More than the attach table's entries: room for every probe of one process. */
#define ENTRYPOINT_MAX 64

/* One entry point as it will be attached. */
struct probe {
	const char *name;	/* the entry point's symbol, e.g. "malloc", "_Znwm" */
	enum lt_kind kind;
	struct object *o;	/* the object that defines it first */
	uint64_t vaddr;		/* the symbol's address (aliases share one probe) */
	uint64_t start;		/* file offset of the function's first instruction */
	uint64_t probe;		/* file offset of the entry probe */
	uint32_t sp_adj;	/* bytes pushed before the probe point */
	uint32_t fn;		/* LT_COOKIE_FN: the entry point's index in the table, + 1 */
	bool outer;		/* calls another entry point for the same block */
	bool exits;		/* ends at exit probes on its `ret`s (an allocator's own operator new) */
	bool needs_return;
	bool session_ok;	/* nothing unwinds through it: it may sit on a session link */
};

/*
 * Plans a probe for every entry point of the table that objs binds (objects__resolve()), in table
 * order, one per address (glibc's aligned_alloc is memalign). With no_probe_shift each probe sits at
 * the function's first instruction, else where probepoint_choose() puts it. Logs each at -v.
 * Fills probes (ENTRYPOINT_MAX of them) and returns how many; *nr_allocator: how many of them
 * allocate or free (the rest are the unwinding hooks: longjmp, _Unwind_RaiseException, ...).
 */
size_t entrypoint_plan(struct objects *objs, bool no_probe_shift, struct probe *probes,
		       size_t *nr_allocator);

/* The BPF cookie of pr's entry probe, placed sp_adj bytes of pushes into the function. */
uint64_t entrypoint_cookie(const struct probe *pr, uint32_t sp_adj);

/*
 * Where pr's return probe goes. The return probe replaces the return address at the stack pointer,
 * so it needs a point where that is still true: the entry probe's own point when nothing was pushed
 * before it (one breakpoint then serves both), else the function's first instruction.
 */
uint64_t entrypoint_return_offset(const struct probe *pr);

#endif
