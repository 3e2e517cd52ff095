/* live.c: samples the traced processes into frames, for the live view and --batch. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "trace/bpfcost.h"
#include "model/history.h"
#include "ui/live.h"
#include "unwind/unwind_maps.h"
#include "base/log.h"
#include "proc/procinfo.h"

/* The heap totals at one sample, for the header's change per second. */
struct totals_sample {
	uint64_t t_ns;
	int64_t bytes, blocks;
};

struct live {
	struct collector *col;
	struct history *hist;
	struct bpfcost *cost;
	const char *version;
	int *pids;
	char **comms;		/* per pid; NULL until read */
	size_t nr_pids;
	uint64_t start_ns, min_age_ns;
	struct unwinder *unwinder;	/* NULL with --unwind fp */
	void (*after_sample)(void *ctx);
	void *after_sample_ctx;

	/* the previous sample, for the rates over the last interval */
	uint64_t prev_ns;
	uint64_t prev_allocs, prev_frees;
	uint64_t prev_bpf_ns, prev_bpf_runs;
	bool prev_bpf_ok;
	uint64_t prev_cpu_ns;

	struct totals_sample *ring;	/* the totals over the window, oldest at ring_head */
	size_t window, ring_head, ring_count;
};

struct live *live__new(struct collector *col, const struct tracer *t, const struct live_opts *o)
{
	struct live *l = calloc(1, sizeof(*l));
	struct snapshot *empty = NULL;
	int err = -ENOMEM;

	if (!l)
		return NULL;
	l->col = col;
	l->version = o->version;
	l->nr_pids = o->nr_pids;
	l->start_ns = o->start_ns;
	l->min_age_ns = o->min_age_ns;
	l->unwinder = o->unwinder;
	l->after_sample = o->after_sample;
	l->after_sample_ctx = o->after_sample_ctx;
	l->window = o->window;
	l->pids = calloc(o->nr_pids ? o->nr_pids : 1, sizeof(*l->pids));
	l->comms = calloc(o->nr_pids ? o->nr_pids : 1, sizeof(*l->comms));
	l->ring = calloc(o->window ? o->window : 1, sizeof(*l->ring));
	l->hist = history__new(o->window);
	l->cost = bpfcost__new(t);
	empty = snapshot__new();
	if (!l->pids || !l->comms || !l->ring || !l->hist || !l->cost || !empty) {
		err = errno == EINVAL ? -EINVAL : -ENOMEM;
		goto fail;
	}
	memcpy(l->pids, o->pids, o->nr_pids * sizeof(*l->pids));
	for (size_t i = 0; i < l->nr_pids; i++)
		l->comms[i] = procinfo_comm(l->pids[i]);

	/* Tracing began with nothing outstanding: every stack grows from 0 at start_ns. */
	empty->taken_ns = o->start_ns;
	err = history__update(l->hist, empty);
	if (err)
		goto fail;
	snapshot__free(empty);
	l->prev_ns = o->start_ns;
	l->prev_bpf_ok = !bpfcost__read(l->cost, &l->prev_bpf_ns, &l->prev_bpf_runs);
	l->prev_cpu_ns = procinfo_self_cpu_ns();
	l->ring[0] = (struct totals_sample){ .t_ns = o->start_ns };
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
	for (size_t i = 0; l->comms && i < l->nr_pids; i++)
		free(l->comms[i]);
	free(l->comms);
	free(l->pids);
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

static void set_procs(struct live *l, struct frame *f)
{
	for (size_t i = 0; i < l->nr_pids; i++) {
		struct frame_proc *p = &f->procs[i];
		int err;

		p->pid = l->pids[i];
		if (!l->comms[i])
			l->comms[i] = procinfo_comm(p->pid);
		p->comm = l->comms[i];
		err = procinfo_mem(p->pid, &p->mem);
		p->have_mem = !err;
		/* A zombie has no memory fields left: it has exited as far as we care. */
		p->exited = err == -ESRCH || err == -ENODATA;
	}
	for (size_t k = 0; k < f->snap->nr_stacks; k++) {
		const struct stack_record *rec = &f->snap->stacks[k];

		for (size_t i = 0; i < l->nr_pids; i++) {
			if (f->procs[i].pid == rec->pid) {
				f->procs[i].accounted_bytes += rec->outstanding_bytes;
				break;
			}
		}
	}
}

struct frame *live__sample(struct live *l, double interval_s)
{
	struct frame *f = calloc(1, sizeof(*f));
	const struct totals_sample *first, *last;
	struct proc_mem self;
	uint64_t bpf_ns, bpf_runs, cpu_ns;
	double dt;
	int err = -ENOMEM;

	if (!f)
		return NULL;
	/* Code mapped since the last refresh (dlopen) gets its unwind table before more stacks. */
	if (l->unwinder)
		unwinder__refresh(l->unwinder, UNWIND_REREAD_NS);
	f->snap = collector__read(l->col, true, l->min_age_ns);
	if (!f->snap) {
		err = -errno;
		goto fail;
	}
	f->snap->duration_s = (double)(f->snap->taken_ns - l->start_ns) / 1e9;
	f->trends = calloc(f->snap->nr_stacks ? f->snap->nr_stacks : 1, sizeof(*f->trends));
	f->procs = calloc(l->nr_pids ? l->nr_pids : 1, sizeof(*f->procs));
	if (!f->trends || !f->procs)
		goto fail;
	err = history__update(l->hist, f->snap);
	if (err) {
		log_error("cannot keep the history of %zu stacks: %s", f->snap->nr_stacks,
			  strerror(-err));
		goto fail;
	}
	for (size_t i = 0; i < f->snap->nr_stacks; i++)
		history__trend(l->hist, f->snap->stacks[i].pid, f->snap->stacks[i].stack_id,
			       &f->trends[i]);

	f->version = l->version;
	f->nr_procs = l->nr_pids;
	set_procs(l, f);
	f->traced_s = f->snap->duration_s;
	f->interval_s = interval_s;

	push_totals(l, f->snap);
	first = &l->ring[l->ring_head];
	last = &l->ring[(l->ring_head + l->ring_count - 1) % l->window];
	f->window_s = (double)(last->t_ns - first->t_ns) / 1e9;
	f->bytes_per_s = f->blocks_per_s = NAN;
	if (f->window_s > 0) {
		f->bytes_per_s = (double)(last->bytes - first->bytes) / f->window_s;
		f->blocks_per_s = (double)(last->blocks - first->blocks) / f->window_s;
	}

	dt = (double)(f->snap->taken_ns - l->prev_ns) / 1e9;
	f->allocs_per_s = f->frees_per_s = f->bpf_ns_per_s = f->bpf_runs_per_s = NAN;
	f->self_cpu_frac = NAN;
	cpu_ns = procinfo_self_cpu_ns();
	if (dt > 0) {
		f->allocs_per_s = (double)(f->snap->stats[LT_STAT_ALLOCS] - l->prev_allocs) / dt;
		f->frees_per_s = (double)(f->snap->stats[LT_STAT_FREES] - l->prev_frees) / dt;
		f->self_cpu_frac = (double)(cpu_ns - l->prev_cpu_ns) / 1e9 / dt;
	}
	if (!bpfcost__read(l->cost, &bpf_ns, &bpf_runs)) {
		if (l->prev_bpf_ok && dt > 0) {
			f->bpf_ns_per_s = (double)(bpf_ns - l->prev_bpf_ns) / dt;
			f->bpf_runs_per_s = (double)(bpf_runs - l->prev_bpf_runs) / dt;
		}
		l->prev_bpf_ns = bpf_ns;
		l->prev_bpf_runs = bpf_runs;
		l->prev_bpf_ok = true;
	} else {
		l->prev_bpf_ok = false;
	}
	if (!procinfo_mem(0, &self))
		f->self_rss_bytes = self.rss_bytes;

	l->prev_ns = f->snap->taken_ns;
	l->prev_allocs = f->snap->stats[LT_STAT_ALLOCS];
	l->prev_frees = f->snap->stats[LT_STAT_FREES];
	l->prev_cpu_ns = cpu_ns;
	if (l->after_sample)
		l->after_sample(l->after_sample_ctx);
	return f;
fail:
	frame__free(f);
	errno = -err;
	return NULL;
}

/* --- --batch */

struct file_sink {
	FILE *out;
};

static void file_put(void *ctx, const char *text, size_t len, enum frame_style style)
{
	struct file_sink *fs = ctx;

	(void)style;
	fwrite(text, 1, len, fs->out);
}

static void file_eol(void *ctx)
{
	struct file_sink *fs = ctx;

	fputc('\n', fs->out);
}

static int write_frame(const struct frame *f, struct symbolizer *sym, size_t top, FILE *out)
{
	struct file_sink fs = { .out = out };
	struct frame_sink sink = { .put = file_put, .eol = file_eol, .ctx = &fs };
	size_t n = top && top < f->nr_rows ? top : f->nr_rows;

	frame_render_header(f, &sink);
	fputc('\n', out);
	frame_render_titles(&sink, 0);
	for (size_t i = 0; i < n; i++)
		frame_render_row(f, i, sym, &sink, 0);
	if (n < f->nr_rows)
		fprintf(out, "... %zu more rows; -n 0 shows all\n", f->nr_rows - n);
	fputc('\n', out);
	if (fflush(out) || ferror(out))
		return -EIO;
	return 0;
}

int live_run_batch(struct live *l, const struct live_run *run, FILE *out)
{
	uint64_t step = (uint64_t)(run->interval_s * 1e9), next = now_ns() + step, frames = 0;
	int err = 0;

	for (;;) {
		uint64_t wake = run->end_ns && run->end_ns < next ? run->end_ns : next;
		struct frame *f;
		int ev;

		ev = loop_wait(run->targets, run->nr_targets, -1, wake, run->stop,
			       run->stop_signals);
		if (ev < 0)
			return ev;
		if (ev == LOOP_STOP || ev == LOOP_EXITED)
			break;
		if (ev != LOOP_TIMER)
			continue;
		if (run->end_ns && now_ns() >= run->end_ns)
			break;
		f = live__sample(l, run->interval_s);
		if (!f)
			return -errno;
		err = frame_select(f, FRAME_SORT_BYTES, NULL, run->sym);
		if (!err)
			err = write_frame(f, run->sym, run->top, out);
		frame__free(f);
		if (err)
			return err;
		if (run->iterations && ++frames >= run->iterations)
			break;
		/* Keep the cadence; after a stall, start afresh from now. */
		next += step;
		if (next <= now_ns())
			next = now_ns() + step;
	}
	return 0;
}
