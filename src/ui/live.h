/* live.h: samples the traced processes into frames, for the live view and --batch. */
#ifndef LT_LIVE_H
#define LT_LIVE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "trace/collect.h"
#include "ui/frame.h"
#include "ui/loop.h"
#include "symbol/symbolize.h"
#include "trace/tracer.h"

/* Default refresh interval of the view and of --batch, in seconds. */
#define LIVE_DEFAULT_INTERVAL_S 2.0

struct live_opts {
	const char *version;
	const int *pids;	/* the traced processes; copied */
	size_t nr_pids;
	uint64_t start_ns;	/* CLOCK_MONOTONIC time tracing began */
	uint64_t min_age_ns;	/* --min-age */
	size_t window;		/* samples per stack (HISTORY_WINDOW) */
	struct unwinder *unwinder; /* NULL with --unwind fp; its tables follow dlopen per sample */
	/* Called after each sample (the metrics refresh, with --metrics); may be NULL. */
	void (*after_sample)(void *ctx);
	void *after_sample_ctx;
};

struct live;

/*
 * A sampler over col's maps. Turns the kernel's BPF run-time statistics on while it lives (see
 * bpfcost.h). col and t must outlive it. NULL and errno on no memory.
 */
struct live *live__new(struct collector *col, const struct tracer *t, const struct live_opts *o);

/*
 * Reads the maps now, adds the reading to the history, and returns a new frame with every figure
 * of the header and a trend per stack, but no rows yet (frame_select()). interval_s is only shown.
 * The caller frees the frame (frame__free()). NULL and errno on failure (logged).
 */
struct frame *live__sample(struct live *l, double interval_s);

void live__free(struct live *l);

/* How a run of frames ends: the view's and --batch's loop. */
struct live_run {
	struct loop_target *targets;
	size_t nr_targets;
	const volatile sig_atomic_t *stop;	/* set by the signal handler: stop now */
	const sigset_t *stop_signals;		/* see loop_wait() */
	double interval_s;			/* refresh interval (> 0) */
	uint64_t end_ns;			/* -d: CLOCK_MONOTONIC end; 0 = none */
	uint64_t iterations;			/* frames to show; 0 = until stopped */
	size_t top;				/* --batch: rows per frame; 0 = all */
	struct symbolizer *sym;
};

/*
 * --batch: writes one plain-text frame per interval to out, sorted by bytes, until the iterations
 * are done, the duration ends, a stop signal comes or every target exited. Each frame is the
 * header, a blank line, the column titles, the rows, and a blank line, as the view shows them on a
 * screen of unlimited width. 0, or -errno (-EIO when out fails).
 */
int live_run_batch(struct live *l, const struct live_run *run, FILE *out);

#endif
