/* budget.c: --max-overhead's controller: the probes' cost measured, and the sample rate to set. */
#include <math.h>
#include <string.h>

#include "trace/budget.h"
#include "trace/trapcost.h"

/* Where a new rate aims, as a share of the budget; and the band in which a rate is kept. */
#define AIM 0.8
#define KEEP_LOW 0.5
/* Runs in a period before its BPF time per run counts as a measure of b0. */
#define B0_MIN_RUNS 1000

void budget_init(struct budget *b, double max_overhead, double trap_entry_ns,
		 double trap_return_ns, uint64_t start_rate)
{
	memset(b, 0, sizeof(*b));
	b->max_overhead = max_overhead;
	b->trap_entry_ns = b->trap_entry_sparse_ns = trap_entry_ns;
	b->trap_return_ns = trap_return_ns;
	b->rate = start_rate ? start_rate : BUDGET_START_RATE;
	b->min_rate = b->max_rate = b->rate;
	b->b0_ns = -1;
	b->sample_ns = -1;
}

void budget_set_sparse(struct budget *b, double trap_entry_ns)
{
	b->trap_entry_sparse_ns = trap_entry_ns;
}

/* Where between dense (0) and sparse (1) hits lie that are ns apart. */
static double sparseness(double ns)
{
	if (ns <= TRAPCOST_DENSE_NS)
		return 0;
	if (ns >= TRAPCOST_SPARSE_NS)
		return 1;
	return log(ns / TRAPCOST_DENSE_NS) / log(TRAPCOST_SPARSE_NS / TRAPCOST_DENSE_NS);
}

static void add(struct budget_period *a, const struct budget_period *d)
{
	a->wall_ns += d->wall_ns;
	a->cpu_ns += d->cpu_ns;
	a->bpf_ns += d->bpf_ns;
	a->runs += d->runs;
	a->returns += d->returns;
	a->samples += d->samples;
	a->est_allocs += d->est_allocs;
	a->est_bytes += d->est_bytes;
}

static uint64_t clamp_rate(double r)
{
	if (r >= (double)BUDGET_MAX_RATE)
		return BUDGET_MAX_RATE;
	return r < 1 ? 1 : (uint64_t)llround(r);
}

/*
 * The rate that gives `affordable` samples where the period gave a->samples at b->rate; 0 when
 * every block fits.
 */
static uint64_t rate_for(const struct budget *b, const struct budget_period *a, double affordable)
{
	double r;

	if (affordable >= (double)a->est_allocs)
		return 0;
	if (affordable < 1)
		affordable = 1;
	if (!b->rate)
		r = (double)a->est_bytes / affordable;
	else if (a->samples)
		r = (double)b->rate * (double)a->samples / affordable;
	else
		r = (double)b->rate / BUDGET_STEP_DOWN;
	return clamp_rate(r);
}

/* new bounded to the steps allowed from b->rate. */
static uint64_t bounded(const struct budget *b, uint64_t r)
{
	double cur = (double)b->rate;

	if (!b->rate || !r)
		return r;
	if ((double)r > cur * BUDGET_STEP_UP)
		return clamp_rate(cur * BUDGET_STEP_UP);
	if ((double)r < cur / BUDGET_STEP_DOWN)
		return clamp_rate(cur / BUDGET_STEP_DOWN);
	return r;
}

static bool decide(struct budget *b, const struct budget_period *a)
{
	double entries = (double)(a->runs - a->returns);
	double w = sparseness((double)a->cpu_ns / (double)a->runs);
	double te = b->trap_entry_ns + w * (b->trap_entry_sparse_ns - b->trap_entry_ns);
	double cost = (double)a->bpf_ns + te * entries + b->trap_return_ns * (double)a->returns;
	double own = (double)a->cpu_ns - cost, fixed, target;
	uint64_t r;

	/* Cost beyond the CPU measured: the trap estimate is off; the processes did something. */
	if (own < (double)a->cpu_ns / 100)
		own = (double)a->cpu_ns / 100;
	if (own < 1)
		own = 1;
	b->measured = true;
	b->decisions++;
	b->overhead = cost / own;
	b->entry_traps = te * entries / own;
	b->hit_entry_ns = te;
	b->entry_traps_over = b->entry_traps > b->max_overhead;
	b->entry_traps_ever_over |= b->entry_traps_over;
	if (!b->rate)
		b->full_tracking_seen = true;
	/* Only where nearly every run is an unsampled one's: at full tracking, runs walk stacks. */
	if (a->runs >= B0_MIN_RUNS && a->samples * 10 <= a->runs) {
		double per_run = (double)a->bpf_ns / (double)a->runs;

		if (b->b0_ns < 0 || per_run < b->b0_ns)
			b->b0_ns = per_run;
	}
	fixed = entries * (te + (b->b0_ns > 0 ? b->b0_ns : 0));
	if (fixed > cost)
		fixed = cost;
	if (a->samples)
		b->sample_ns = (cost - fixed) / (double)a->samples;

	if (b->overhead <= b->max_overhead &&
	    (!b->rate || b->overhead >= KEEP_LOW * b->max_overhead))
		return false;
	target = AIM * b->max_overhead * own;
	/* Little room above the floor: aim halfway between it and the budget. */
	if (fixed >= target && fixed < b->max_overhead * own)
		target = (fixed + b->max_overhead * own) / 2;
	if (fixed >= target)
		r = b->rate ? clamp_rate((double)b->rate * BUDGET_STEP_UP) : BUDGET_START_RATE;
	else if (b->sample_ns > 0)
		r = rate_for(b, a, (target - fixed) / b->sample_ns);
	else if (b->overhead > b->max_overhead)
		r = b->rate ? clamp_rate((double)b->rate * 4) : BUDGET_START_RATE;
	else
		r = b->rate / BUDGET_STEP_DOWN;
	r = bounded(b, r);
	if (r == b->rate)
		return false;
	b->rate = r;
	b->changes++;
	if (r) {
		if (!b->min_rate || r < b->min_rate)
			b->min_rate = r;
		if (r > b->max_rate)
			b->max_rate = r;
	}
	return true;
}

bool budget_update(struct budget *b, const struct budget_period *d)
{
	bool changed = false;

	add(&b->acc, d);
	if (b->acc.cpu_ns < BUDGET_MIN_CPU_NS && b->acc.wall_ns < BUDGET_MAX_WAIT_NS)
		return false;
	/* Nothing probed: nothing to judge (the process may be idle). */
	if (b->acc.runs)
		changed = decide(b, &b->acc);
	memset(&b->acc, 0, sizeof(b->acc));
	return changed;
}
