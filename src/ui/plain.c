/* plain.c: the plain modes: a report (or record's profile) per interval and at the end. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "output/record.h"
#include "ui/live.h"
#include "ui/plain.h"

int plain_init(struct plain *pl)
{
	pl->prev = snapshot__new();
	pl->history = history__new_covering(HISTORY_RUN_WINDOW);
	if (!pl->prev || !pl->history)
		return -ENOMEM;
	/* Tracing began with nothing outstanding: every stack grows from 0 at start_ns. */
	pl->prev->taken_ns = pl->pipe->start_ns;
	pl->pipe->history = pl->history;
	return pipeline_sample(pl->pipe, pl->prev);
}

void plain_fini(struct plain *pl)
{
	if (pl->pipe && pl->pipe->history == pl->history)
		pl->pipe->history = NULL;
	history__free(pl->history);
	pl->history = NULL;
	snapshot__free(pl->prev);
	pl->prev = NULL;
}

/* The metrics of a whole reading; the reading stays as it is. */
static int publish_metrics(struct plain *pl, const struct snapshot *snap)
{
	struct report r;
	int err;

	if (!pl->pipe->metrics)
		return 0;
	err = pipeline_report(pl->pipe, &r, snap, 0, false, true);
	if (!err)
		err = pipeline_metrics(pl->pipe, &r);
	report_fini(&r);
	return err;
}

static int write_report(struct plain *pl, const struct report *r)
{
	struct timespec wall;
	int err;

	if (pl->record_dir) {
		clock_gettime(CLOCK_REALTIME, &wall);
		return record_write(pl->record_dir, r,
				    (uint64_t)wall.tv_sec * 1000000000ULL + (uint64_t)wall.tv_nsec,
				    pl->keep);
	}
	/* A reading only, for --error-exitcode (--batch without -o writes no final report). */
	if (!pl->out)
		return 0;
	/* Writers flush before they return: a full disk shows here, not at exit. */
	err = output_error(pl->out, pl->fmt->write(r, pl->out));
	if (err)
		log_error("cannot write the report to %s: %s", pl->out_name, strerror(-err));
	return err;
}

/* A report, and the metrics of the same reading. */
static int report_and_metrics(struct plain *pl, bool metrics)
{
	struct snapshot *snap;
	struct report r;
	int err;

	/* A scan that failed (logged) leaves the report without its split, not without a report. */
	if (pl->pipe->reach_each)
		pipeline_scan(pl->pipe);
	snap = pipeline_read(pl->pipe);
	if (!snap)
		return -errno;
	/* The report's reading is the last of its window. */
	err = pipeline_sample(pl->pipe, snap);
	if (!err && metrics)
		err = publish_metrics(pl, snap);
	if (!err) {
		/* The reports list the stacks that hold memory; the metrics count them all. */
		snapshot__drop_empty(snap);
		err = pipeline_report(pl->pipe, &r, snap, pl->record_dir ? 0 : pl->top,
				      pl->record_dir || !pl->fmt || !pl->fmt->names_stacks, true);
		if (!err) {
			pl->suspects = r.nr_suspects;
			err = write_report(pl, &r);
			report_fini(&r);
		}
	}
	snapshot__free(pl->prev);
	pl->prev = snap;
	return err;
}

int plain_report(struct plain *pl)
{
	return report_and_metrics(pl, false);
}

static int interval_job(void *ctx)
{
	return report_and_metrics(ctx, true);
}

static int metrics_job(void *ctx)
{
	struct plain *pl = ctx;
	struct snapshot *snap = pipeline_read(pl->pipe);
	int err;

	if (!snap)
		return -errno;
	err = publish_metrics(pl, snap);
	snapshot__free(snap);
	return err;
}

/* A reading for the trends only, between reports. */
static int sample_job(void *ctx)
{
	struct plain *pl = ctx;
	const struct pipeline *p = pl->pipe;
	struct snapshot *snap = pipeline_read(p);
	int err;

	if (!snap)
		return -errno;
	err = pipeline_sample(p, snap);
	snapshot__free(snap);
	return err;
}

int plain_run(struct plain *pl, struct loop *l, double interval_s)
{
	uint64_t now = now_ns(), report_ns = (uint64_t)(interval_s * 1e9);
	uint64_t sample_ns = (uint64_t)(LIVE_DEFAULT_INTERVAL_S * 1e9);

	/* The trends' readings: each report's, or the view's refresh interval without -i. */
	if (report_ns && !loop_add(l, interval_job, pl, pl->pipe->start_ns + report_ns, report_ns))
		return -ENOSPC;
	if (!report_ns && !loop_add(l, sample_job, pl, pl->pipe->start_ns + sample_ns, sample_ns))
		return -ENOSPC;
	/* Metrics from the start; then with each report, or on their own without an interval. */
	if (pl->pipe->metrics &&
	    !loop_add(l, metrics_job, pl, now, report_ns ? 0 : (uint64_t)(PLAIN_METRICS_S * 1e9)))
		return -ENOSPC;
	return pipeline_run(pl->pipe, l);
}
