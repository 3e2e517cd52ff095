/* pipeline.h: the one pipeline: a reading of the maps, the report model over it, shared upkeep. */
#ifndef LT_PIPELINE_H
#define LT_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/history.h"
#include "model/report.h"
#include "model/snapshot.h"
#include "model/suppress.h"
#include "output/metrics.h"
#include "symbol/symbolize.h"
#include "trace/collect.h"
#include "trace/overhead.h"
#include "trace/procset.h"
#include "trace/track.h"
#include "trace/reachscan.h"
#include "ui/loop.h"
#include "unwind/unwind_maps.h"

/*
 * What every mode reads through: the plain reports, record's profiles, the metrics, the view and
 * --batch all take a reading (pipeline_read()), build the report model over it
 * (pipeline_report()), and format that. The caller owns every pointer; they outlive the pipeline.
 */
struct pipeline {
	const char *version;
	struct collector *col;
	struct track *track;		/* NULL unless --track asks for more than heap */
	bool all;			/* -a: every process (none listed) */
	struct symbolizer *sym;
	struct unwinder *unwinder;	/* NULL with --unwind fp */
	struct metrics_server *metrics;	/* NULL without --metrics */
	struct procset *procs;		/* the processes of the run */
	struct suppressions *sup;	/* stacks every output drops; NULL: none */
	const struct report_exit *command_exit;	/* command mode: how the command ended */
	uint64_t start_ns;		/* CLOCK_MONOTONIC when tracing began */
	uint64_t start_time_ns;		/* the same moment on the wall clock (0 = unknown) */
	uint64_t min_age_ns;		/* --min-age */
	uint64_t sample_rate;		/* --sample-rate */
	uint32_t max_allocs;		/* --max-allocs; 0: exited processes' blocks are never released */
	struct reachscan *reach;	/* reachability scans; NULL: no scan ran nor will */
	enum reachscan_hold reach_hold;	/* how pipeline_scan() holds a process (FREEZE or LIVE) */
	bool reach_each;		/* --reachability: a scan before each report and frame */
	struct history *history;	/* the run's readings, one per refresh interval (plain.c
					 * owns it): the reports' trends; NULL: none */
	struct overhead *overhead;	/* --max-overhead: sets the sample rate; NULL: none */
};

/* How often the blocks of exited processes are considered for release (procset.h). */
#define RELEASE_CHECK_NS 1000000000ull

/*
 * One reading of the maps: every stack (those that hold nothing too) but those suppressed (taken
 * off the totals and counted in snap->suppressed), with the age of its oldest block, sorted by
 * outstanding bytes; duration_s counts from start_ns. NULL and errno (logged).
 */
struct snapshot *pipeline_read(const struct pipeline *p);

/*
 * A reachability scan of every traced process that runs (those a ptrace of leaktop's already
 * holds, a command's, are scanned at their exit instead): their split per stack goes into the
 * readings that follow. A scan that fails is logged, and its process keeps its last split.
 */
void pipeline_scan(const struct pipeline *p);

/*
 * Adds a reading to the run's history, once per refresh interval: the reports' trends come from
 * these readings. Nothing without a history. 0 or -errno (logged).
 */
int pipeline_sample(const struct pipeline *p, const struct snapshot *snap);

/*
 * The report over `top` stacks of snap (0 = all; the suspects first under top, report_init()),
 * with the trends of the run's history (judged; else none: the view's rows have their own) and
 * the run's fields (version, the processes as they are now, sample rate, start time). symbolize:
 * every stack and the mappings, what the writers take (report_build()); else none yet
 * (report_init(): the view symbolizes what it shows). 0 or -ENOMEM; report_fini() frees r.
 */
int pipeline_report(const struct pipeline *p, struct report *r, const struct snapshot *snap,
		    size_t top, bool symbolize, bool judged);

/*
 * Publishes the metrics of r, a report over a whole reading in pipeline_read()'s order: its first
 * stacks are the largest sites; suspects beyond them are named too (as many at most), and every
 * suspect counts in its process's. Nothing without --metrics. 0 or -ENOMEM (logged).
 */
int pipeline_metrics(const struct pipeline *p, struct report *r);

/*
 * Runs l after adding the upkeep every mode needs: the unwind tables follow code mapped since
 * (dlopen) every UNWIND_CHECK_NS, stacks that hold nothing are evicted every
 * COLLECT_MAINTAIN_NS (a no-op when a reading did it), and the blocks of exited processes are
 * released when the table is half full (checked every RELEASE_CHECK_NS), and --max-overhead's
 * controller gets its figures every OVERHEAD_POLL_NS. The mode has added its own jobs first.
 * What loop_run() returns; -ENOSPC when the job table is full.
 */
int pipeline_run(struct pipeline *p, struct loop *l);

/* Stacks of a report whose sites the metrics name (per process, METRICS_DEFAULT_TOP_SITES). */
#define PIPELINE_METRICS_STACKS (20 * METRICS_DEFAULT_TOP_SITES)

#endif
