/* report.h: the report model that every writer and view formats: a sorted snapshot, symbolized. */
#ifndef LT_REPORT_H
#define LT_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "model/snapshot.h"
#include "symbol/symbolize.h"

/* One stack of a report with its symbolized frames (innermost first, inlined frames expanded). */
struct report_stack {
	const struct stack_record *rec;
	const struct sym_frame *frames;
	size_t nr_frames;
};

/* A mapping of an object file in which frames of the report lie (pprof's Mapping). */
struct report_mapping {
	int pid;
	struct sym_mapping map;
};

/* Everything a writer needs. Writers are pure functions of a report and a FILE*. */
struct report {
	const char *version;
	const int *pids;
	size_t nr_pids;
	double duration_s;
	uint64_t sample_rate_bytes;
	const struct snapshot *snap;	/* totals and stats */
	const struct report_stack *stacks; /* already sorted and limited to --top */
	size_t nr_stacks;
	size_t nr_stacks_total;		/* stacks before --top cut the list */
	uint64_t start_time_ns;		/* tracing began, ns since the epoch (0 = unknown) */
	const struct report_mapping *mappings; /* where frames lie, sorted by (pid, start) */
	size_t nr_mappings;
};

/*
 * Builds a report from a snapshot: symbolizes the first `top` stacks (0 = all) of snap, which the
 * caller has sorted, and sets snap, duration_s (from snap), stacks, nr_stacks, nr_stacks_total and
 * mappings. version, pids, sample_rate_bytes and start_time_ns are the caller's to set. sym may be
 * NULL: every frame is then an unknown one with only its address, and there are no mappings. r
 * refers to snap and to sym's strings: keep both alive until report_fini(). Returns 0 or -ENOMEM
 * (r then holds no stacks); report_fini() frees what it allocated.
 */
int report_build(struct report *r, const struct snapshot *snap, struct symbolizer *sym, size_t top);
void report_fini(struct report *r);

#endif
