/* plain.h: the plain modes: a report (or record's profile) per interval and at the end. */
#ifndef LT_PLAIN_H
#define LT_PLAIN_H

#include <stddef.h>
#include <stdio.h>

#include "output/output.h"
#include "ui/loop.h"
#include "ui/pipeline.h"

/* Refresh period of the metrics without --interval, in seconds. */
#define PLAIN_METRICS_S 5.0

/* The reports of a run: the caller fills the fields above prev. */
struct plain {
	struct pipeline *pipe;
	const struct output_format *fmt;
	FILE *out;			/* the reports; NULL in record mode, or none written */
	const char *out_name;		/* out in messages: its path, or "standard output" */
	size_t top;			/* -n */
	const char *record_dir;		/* leaktop record: profiles go there (out is NULL) */
	size_t keep;			/* record: the newest profiles kept; 0 = all */
	struct snapshot *prev;		/* the last report's reading (growth baseline; the final
					 * figures, after plain_report()); owned */
	struct history *history;	/* the run's readings (pipe->history); owned */
	size_t suspects;		/* leak suspects in the last report (report.nr_suspects) */
};

/*
 * Prepares pl and the run's history (a covering one, HISTORY_RUN_WINDOW samples per stack, set
 * as pl->pipe->history): its first reading is an empty one at the start of tracing. 0 or -ENOMEM.
 */
int plain_init(struct plain *pl);

/*
 * One report to pl->out, or in record mode one profile into record_dir, from a reading of its
 * own, which joins the run's history first: growth and suspects are over the run's window. Sets
 * pl->suspects. 0 or -errno; a failure is logged, naming the file and the reason.
 */
int plain_report(struct plain *pl);

/*
 * Runs l (the caller has set its targets, stop signals and end): a report (or profile) every
 * interval_s (0: none before the end), and with --metrics the metrics from each report's
 * reading (or every PLAIN_METRICS_S without an interval). The history gets each report's
 * reading, or without an interval one every LIVE_DEFAULT_INTERVAL_S (the view's refresh). The
 * final report is the caller's. What pipeline_run() returns.
 */
int plain_run(struct plain *pl, struct loop *l, double interval_s);

void plain_fini(struct plain *pl);

#endif
