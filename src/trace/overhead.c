/* overhead.c: --max-overhead at run time: the readings the controller needs, the rate it sets. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/hashtab.h"
#include "base/log.h"
#include "proc/procinfo.h"
#include "trace/bpfcost.h"
#include "trace/overhead.h"
#include "trace/trapcost.h"

/* The cumulative figures at one reading. */
struct reading {
	uint64_t t_ns;
	uint64_t bpf_ns, runs;
	uint64_t counts[LT_BUDGET_MAX];
};

struct overhead {
	struct tracer *tracer;
	const struct procset *procs;
	struct bpfcost *cost;
	struct hashtab *cpu;	/* pid -> its CPU time at the last reading */
	struct reading last;
	struct budget budget;
	struct report_budget report;	/* overhead__report()'s */
	bool said_over;		/* the entry traps' excess was told */
};

static int read_now(struct overhead *o, struct reading *r)
{
	int err;

	r->t_ns = now_ns();
	err = bpfcost__read(o->cost, &r->bpf_ns, &r->runs);
	if (err == -ENODATA)
		log_error("--max-overhead needs the kernel's BPF statistics, which are off");
	if (!err)
		err = tracer__budget_counts(o->tracer, r->counts);
	if (err && err != -ENODATA)
		log_error("cannot read what the probes cost: %s", strerror(-err));
	return err;
}

/*
 * The CPU time the traced processes used since the last reading. A process seen for the first
 * time counts from now, unless it was followed from its fork (traced all its life); one that
 * exited takes its last interval with it.
 */
static uint64_t cpu_delta(struct overhead *o)
{
	size_t n = o->procs ? procset__nr(o->procs) : 0;
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++) {
		const struct procset_proc *p = procset__proc(o->procs, i);
		uint64_t now, *prev;

		if (p->state != PROCSET_TRACED) {
			hashtab__delete(o->cpu, (uint64_t)p->pid);
			continue;
		}
		now = procinfo_cpu_ns(p->pid);
		if (!now)
			continue;
		prev = hashtab__find(o->cpu, (uint64_t)p->pid);
		if (prev) {
			sum += now > *prev ? now - *prev : 0;
			*prev = now;
		} else if (!hashtab__put(o->cpu, (uint64_t)p->pid, now) && p->followed) {
			sum += now;
		}
	}
	return sum;
}

struct overhead *overhead__new(struct tracer *t, const struct procset *ps, double max_overhead,
			       uint64_t start_rate)
{
	struct overhead *o = calloc(1, sizeof(*o));
	struct trapcost traps;
	int err = -ENOMEM;

	if (!o)
		return NULL;
	o->tracer = t;
	o->procs = ps;
	o->cpu = hashtab__new(16);
	o->cost = bpfcost__new_probes(t);
	if (!o->cpu || !o->cost)
		goto fail;
	err = trapcost_measure(&traps, tracer__sessions(t));
	if (err)
		goto fail;
	log_info("a probe's trap costs %.0f ns at an entry (%.0f ns with entries %.0f us apart), "
		 "%.0f ns at a return", traps.entry_ns, traps.entry_sparse_ns,
		 TRAPCOST_SPARSE_NS / 1000, traps.return_ns);
	budget_init(&o->budget, max_overhead, traps.entry_ns, traps.return_ns, start_rate);
	budget_set_sparse(&o->budget, traps.entry_sparse_ns);
	err = tracer__set_sample_rate(t, o->budget.rate);
	if (!err)
		err = read_now(o, &o->last);
	if (err)
		goto fail;
	cpu_delta(o);
	return o;
fail:
	overhead__free(o);
	errno = -err;
	return NULL;
}

int overhead__poll(struct overhead *o)
{
	struct reading now;
	struct budget_period d;
	int err = read_now(o, &now);

	if (err)
		return err;
	d = (struct budget_period){
		.wall_ns = now.t_ns - o->last.t_ns,
		.cpu_ns = cpu_delta(o),
		.bpf_ns = now.bpf_ns - o->last.bpf_ns,
		.runs = now.runs - o->last.runs,
		.returns = now.counts[LT_BUDGET_RETURNS] - o->last.counts[LT_BUDGET_RETURNS],
		.samples = now.counts[LT_BUDGET_SAMPLES] - o->last.counts[LT_BUDGET_SAMPLES],
		.est_allocs = now.counts[LT_BUDGET_EST_ALLOCS] -
			      o->last.counts[LT_BUDGET_EST_ALLOCS],
		.est_bytes = now.counts[LT_BUDGET_EST_BYTES] - o->last.counts[LT_BUDGET_EST_BYTES],
	};
	/* Returns counted after the runs were read: never more than the runs. */
	if (d.returns > d.runs)
		d.returns = d.runs;
	o->last = now;
	log_debug("budget: %.0f ms of CPU, BPF %.0f ms in %llu runs (%llu returns), %llu samples",
		  (double)d.cpu_ns / 1e6, (double)d.bpf_ns / 1e6, (unsigned long long)d.runs,
		  (unsigned long long)d.returns, (unsigned long long)d.samples);
	if (budget_update(&o->budget, &d)) {
		err = tracer__set_sample_rate(o->tracer, o->budget.rate);
		if (err) {
			log_error("cannot set the sample rate: %s", strerror(-err));
			return err;
		}
		log_info("overhead %.2f%% of the traced processes' CPU (budget %.2f%%): sample "
			 "rate now %llu bytes", o->budget.overhead * 100, o->budget.max_overhead * 100,
			 (unsigned long long)o->budget.rate);
	}
	if (o->budget.entry_traps_over && !o->said_over) {
		o->said_over = true;
		log_warn("the entry probes alone cost %.1f%% of the traced processes' CPU, over "
			 "the budget of %.1f%% (--max-overhead): no sample rate can meet it",
			 o->budget.entry_traps * 100, o->budget.max_overhead * 100);
	}
	return 0;
}

uint64_t overhead__rate(const struct overhead *o)
{
	return o->budget.rate;
}

const struct report_budget *overhead__report(struct overhead *o)
{
	const struct budget *b = &o->budget;
	struct report_budget *r = &o->report;

	*r = (struct report_budget){
		.max_overhead = b->max_overhead,
		.measured = b->measured,
		.overhead = b->overhead,
		.entry_probes = b->entry_traps,
		.entry_probes_over = b->entry_traps_over,
		.entry_probes_ever_over = b->entry_traps_ever_over,
		.trap_entry_ns = b->trap_entry_ns,
		.trap_return_ns = b->trap_return_ns,
		.trap_entry_sparse_ns = b->trap_entry_sparse_ns,
		.min_rate_bytes = b->min_rate,
		.max_rate_bytes = b->max_rate,
		.full_tracking = b->full_tracking_seen || !b->rate,
		.decisions = b->decisions,
		.rate_changes = b->changes,
	};
	return r;
}

void overhead__free(struct overhead *o)
{
	if (!o)
		return;
	bpfcost__free(o->cost);
	hashtab__free(o->cpu);
	free(o);
}
