/* live.c: samples the traced processes into frames, for the live view and --batch. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "model/history.h"
#include "proc/procinfo.h"
#include "trace/bpfcost.h"
#include "trace/tracer.h"
#include "ui/live.h"

/* The heap totals at one sample, for the header's change per second. */
struct totals_sample {
	uint64_t t_ns;
	int64_t bytes, blocks;
};

/*
 * The kernel's BPF statistics are on for one interval in this many, the first among them: they
 * cost the traced processes two clock reads per program run (bpfcost.h), about 5% of what tracing
 * costs them. The cost line shows the last interval measured.
 */
#define COST_EVERY 4

struct live {
	const struct pipeline *pipe;
	const struct tracer *tracer;
	struct history *hist;
	struct bpfcost *cost;

	/* the previous sample, for the rates over the last interval */
	uint64_t prev_ns;
	uint64_t prev_allocs, prev_frees;
	uint64_t prev_bpf_ns, prev_bpf_runs;
	bool prev_bpf_ok;		/* the statistics were on and read at the previous sample */
	uint64_t intervals;		/* samples taken */
	double bpf_ns_per_s, bpf_runs_per_s; /* over the last interval measured; NAN before it */
	uint64_t prev_cpu_ns;

	struct totals_sample *ring;	/* the totals over the window, oldest at ring_head */
	size_t window, ring_head, ring_count;
};

struct live *live__new(const struct pipeline *p, const struct tracer *t, size_t window)
{
	struct live *l = calloc(1, sizeof(*l));
	struct snapshot *empty = NULL;
	int err = -ENOMEM;

	if (!l)
		return NULL;
	l->pipe = p;
	l->tracer = t;
	l->window = window;
	l->ring = calloc(window ? window : 1, sizeof(*l->ring));
	l->hist = history__new(window);
	l->cost = bpfcost__new(t);
	if (l->cost)
		bpfcost__add_track(l->cost, p->track);
	empty = snapshot__new();
	if (!l->ring || !l->hist || !l->cost || !empty) {
		err = errno == EINVAL ? -EINVAL : -ENOMEM;
		goto fail;
	}
	/* Tracing began with nothing outstanding: every stack grows from 0 at start_ns. */
	empty->taken_ns = p->start_ns;
	err = history__update(l->hist, empty);
	if (err)
		goto fail;
	snapshot__free(empty);
	l->prev_ns = p->start_ns;
	l->prev_bpf_ok = !bpfcost__read(l->cost, &l->prev_bpf_ns, &l->prev_bpf_runs);
	l->bpf_ns_per_s = l->bpf_runs_per_s = NAN;
	l->prev_cpu_ns = procinfo_self_cpu_ns();
	l->ring[0] = (struct totals_sample){ .t_ns = p->start_ns };
	l->ring_count = 1;
	return l;
fail:
	snapshot__free(empty);
	live__free(l);
	errno = -err;
	return NULL;
}

void live__free(struct live *l)
{
	if (!l)
		return;
	free(l->ring);
	history__free(l->hist);
	bpfcost__free(l->cost);
	free(l);
}

static void push_totals(struct live *l, const struct snapshot *snap)
{
	struct totals_sample s = { .t_ns = snap->taken_ns,
				   .bytes = snap->totals.outstanding_bytes,
				   .blocks = snap->totals.outstanding_allocs };

	if (l->ring_count < l->window) {
		l->ring[(l->ring_head + l->ring_count++) % l->window] = s;
	} else {
		l->ring[l->ring_head] = s;
		l->ring_head = (l->ring_head + 1) % l->window;
	}
}

/* The processes traced in the run (the report's), with what the kernel says they hold. */
static void set_procs(struct frame *f)
{
	const struct report *r = &f->report;

	for (size_t i = 0; i < r->nr_procs; i++) {
		const struct report_proc *rp = &r->procs[i];
		struct frame_proc *p = &f->procs[f->nr_procs];
		int err;

		if (!strcmp(rp->state, "not traced"))
			continue;
		f->nr_procs++;
		p->pid = rp->pid;
		p->comm = rp->comm;
		err = procinfo_mem(p->pid, &p->mem);
		p->have_mem = !err;
		/* A zombie has no memory fields left: it has exited as far as we care. */
		p->exited = err == -ESRCH || err == -ENODATA;
	}
	for (size_t k = 0; k < f->snap->nr_stacks; k++) {
		const struct stack_record *rec = &f->snap->stacks[k];

		for (size_t i = 0; i < f->nr_procs; i++) {
			if (f->procs[i].pid == rec->pid) {
				f->procs[i].accounted_bytes += rec->outstanding_bytes;
				break;
			}
		}
	}
}


/* The heap's change per second over the window of samples. */
static void set_window_rates(struct live *l, struct frame *f)
{
	const struct totals_sample *first, *last;

	push_totals(l, f->snap);
	first = &l->ring[l->ring_head];
	last = &l->ring[(l->ring_head + l->ring_count - 1) % l->window];
	f->window_s = (double)(last->t_ns - first->t_ns) / 1e9;
	f->bytes_per_s = f->blocks_per_s = NAN;
	if (f->window_s > 0) {
		f->bytes_per_s = (double)(last->bytes - first->bytes) / f->window_s;
		f->blocks_per_s = (double)(last->blocks - first->blocks) / f->window_s;
	}
}

/*
 * Calls, BPF run time and leaktop's CPU per second over the last interval; leaktop's RSS and the
 * kernel memory of its maps.
 */
static void set_interval_rates(struct live *l, struct frame *f)
{
	double dt = (double)(f->snap->taken_ns - l->prev_ns) / 1e9;
	uint64_t bpf_ns, bpf_runs, cpu_ns = procinfo_self_cpu_ns();
	struct proc_mem self;

	f->allocs_per_s = f->frees_per_s = NAN;
	f->self_cpu_frac = NAN;
	if (dt > 0) {
		f->allocs_per_s = (double)(f->snap->stats[LT_STAT_ALLOCS] - l->prev_allocs) / dt;
		f->frees_per_s = (double)(f->snap->stats[LT_STAT_FREES] - l->prev_frees) / dt;
		f->self_cpu_frac = (double)(cpu_ns - l->prev_cpu_ns) / 1e9 / dt;
	}
	if (l->prev_bpf_ok && !bpfcost__read(l->cost, &bpf_ns, &bpf_runs) && dt > 0) {
		l->bpf_ns_per_s = (double)(bpf_ns - l->prev_bpf_ns) / dt;
		l->bpf_runs_per_s = (double)(bpf_runs - l->prev_bpf_runs) / dt;
	} else if (l->prev_bpf_ok) {
		l->bpf_ns_per_s = l->bpf_runs_per_s = NAN;
	}
	f->bpf_ns_per_s = l->bpf_ns_per_s;
	f->bpf_runs_per_s = l->bpf_runs_per_s;
	/* The next interval: measured, or not (statistics off). */
	l->intervals++;
	if (l->intervals % COST_EVERY == 0) {
		/* Refused (an old kernel), the kernel.bpf_stats_enabled sysctl may have them on. */
		bpfcost__set_on(l->cost, true);
		l->prev_bpf_ok = !bpfcost__read(l->cost, &l->prev_bpf_ns, &l->prev_bpf_runs);
	} else {
		bpfcost__set_on(l->cost, false);
		l->prev_bpf_ok = false;
	}
	if (!procinfo_mem(0, &self))
		f->self_rss_bytes = self.rss_bytes;
	f->map_bytes = procinfo_bpf_map_bytes(0);
	l->prev_ns = f->snap->taken_ns;
	l->prev_allocs = f->snap->stats[LT_STAT_ALLOCS];
	l->prev_frees = f->snap->stats[LT_STAT_FREES];
	l->prev_cpu_ns = cpu_ns;
}

/* The trend of every stack of the reading, after adding the reading to the history. */
static int set_trends(struct live *l, struct frame *f)
{
	const struct snapshot *snap = f->snap;
	int err = history__update_trends(l->hist, snap, f->trends);

	if (err)
		log_error("cannot keep the history of %zu stacks: %s", snap->nr_stacks,
			  strerror(-err));
	return err;
}

struct frame *live__sample(struct live *l, double interval_s)
{
	struct frame *f = calloc(1, sizeof(*f));
	int err = -ENOMEM;

	if (!f)
		return NULL;
	f->all = l->pipe->all;
	/* A scan that failed (logged) leaves the frame without its LOST column, not without a frame. */
	if (l->pipe->reach_each)
		pipeline_scan(l->pipe);
	f->snap = pipeline_read(l->pipe);
	if (!f->snap) {
		err = -errno;
		goto fail;
	}
	/* The run's history (the reports' trends) gets the view's readings too. */
	err = pipeline_sample(l->pipe, f->snap);
	if (err)
		goto fail;
	err = -ENOMEM;
	f->trends = calloc(f->snap->nr_stacks ? f->snap->nr_stacks : 1, sizeof(*f->trends));
	if (!f->trends)
		goto fail;
	/* The rows have the view's trends: the run's are the metrics' only. */
	err = pipeline_report(l->pipe, &f->report, f->snap, 0, false, l->pipe->metrics != NULL);
	if (!err)
		err = set_trends(l, f);
	if (err)
		goto fail;
	err = -ENOMEM;
	f->procs = calloc(f->report.nr_procs ? f->report.nr_procs : 1, sizeof(*f->procs));
	if (!f->procs)
		goto fail;
	f->version = l->pipe->version;
	set_procs(f);
	f->traced_s = f->snap->duration_s;
	f->interval_s = interval_s;
	set_window_rates(l, f);
	set_interval_rates(l, f);
	/* The metrics read the frame's own report: one reading, one symbolization. */
	err = pipeline_metrics(l->pipe, &f->report);
	if (err)
		goto fail;
	return f;
fail:
	frame_free(f);
	errno = -err;
	return NULL;
}
