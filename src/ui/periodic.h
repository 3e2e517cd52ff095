/* periodic.h: the plain modes: reports (or record's profiles) per interval and at the end, metrics. */
#ifndef LT_PERIODIC_H
#define LT_PERIODIC_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "trace/collect.h"
#include "ui/loop.h"
#include "output/metrics.h"
#include "output/output.h"
#include "symbol/symbolize.h"
#include "unwind/unwind_maps.h"

/* What the plain modes take from the command line. */
struct periodic_opts {
	double duration_s;		/* -d; 0 = none */
	double interval_s;		/* -i; 0 = one report at the end */
	double min_age_s;		/* --min-age */
	size_t top;			/* -n */
	uint64_t sample_rate;		/* --sample-rate */
	bool record;			/* leaktop record: profiles into record_dir */
	const char *record_dir;
	size_t keep;
};

struct periodic {
	struct periodic_opts opts;
	const char *version;
	const struct output_format *fmt;
	struct collector *col;
	struct symbolizer *sym;
	FILE *out;			/* reports; NULL in record mode (profiles go to --dir) */
	const char *out_name;		/* out in messages: its path, or "standard output" */
	const int *pids;
	size_t nr_pids;
	uint64_t start_ns;		/* CLOCK_MONOTONIC when tracing began */
	uint64_t start_time_ns;		/* the same moment on the wall clock */
	struct metrics_server *metrics;	/* NULL without --metrics */
	struct unwinder *unwinder;	/* NULL with --unwind fp */
	struct snapshot *prev;		/* the previous report's snapshot (growth baseline); owned */
};

/* Prepares p (the caller fills the fields above prev). 0 or -ENOMEM. */
int periodic_init(struct periodic *p);

/*
 * One report to p->out, or in record mode one profile into --dir. 0 or -errno; a report or profile
 * that cannot be written is logged, naming the file and the reason.
 */
int periodic_report(struct periodic *p);

/* Refreshes the text served at /metrics (nothing without --metrics). 0 or -errno. */
int periodic_metrics(struct periodic *p);

/*
 * Runs until the duration ends, *stop is set, or every target has exited: a report (or profile)
 * every --interval, the metrics every interval (or every PERIODIC_METRICS_S). The final report is
 * the caller's. 0 or -errno.
 */
int periodic_run(struct periodic *p, struct loop_target *targets, size_t nr_targets,
		 const volatile sig_atomic_t *stop, const sigset_t *stop_signals);

void periodic_fini(struct periodic *p);

/* Refresh period of the metrics without --interval. */
#define PERIODIC_METRICS_S 5.0

#endif
