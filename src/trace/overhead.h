/* overhead.h: --max-overhead at run time: the readings the controller needs, the rate it sets. */
#ifndef LT_OVERHEAD_H
#define LT_OVERHEAD_H

#include <stdint.h>

#include "model/report.h"
#include "trace/budget.h"
#include "trace/procset.h"
#include "trace/tracer.h"

/* How often the controller is given a period's figures (it decides on several, budget.h). */
#define OVERHEAD_POLL_NS 250000000ull

struct overhead;

/*
 * Measures the trap costs (trapcost.h), turns the BPF run-time statistics on while it lives, and
 * sets the tracer's rate to the controller's first (start_rate, or BUDGET_START_RATE when 0).
 * max_overhead is a fraction (0.05 for 5%). t and ps are borrowed and must outlive it (ps may be
 * NULL: then no CPU time, and no decision). NULL and errno (logged).
 */
struct overhead *overhead__new(struct tracer *t, const struct procset *ps, double max_overhead,
			       uint64_t start_rate);

/*
 * Reads the probes' run time and hits and the traced processes' CPU since the last call, gives
 * them to the controller, and sets the rate it decides. Says once (a warning) when the entry
 * probes alone exceed the budget. 0 or -errno (logged): statistics that cannot be read.
 */
int overhead__poll(struct overhead *o);

/* The rate in force (bytes; 0: every block recorded). */
uint64_t overhead__rate(const struct overhead *o);

/* The budget's figures for the reports, as of the last poll; lives as long as o. */
const struct report_budget *overhead__report(struct overhead *o);

void overhead__free(struct overhead *o);

#endif
