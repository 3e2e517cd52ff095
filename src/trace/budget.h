/* budget.h: --max-overhead's controller: the probes' cost measured, and the sample rate to set. */
#ifndef LT_BUDGET_H
#define LT_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

/* The rate the controller starts at (bytes): see budget_init(). */
#define BUDGET_START_RATE (64 * 1024)
/* The highest rate it sets: LT_MAX_SAMPLE_RATE, where hardly a block is sampled. */
#define BUDGET_MAX_RATE (1ULL << 36)
/* A decision waits for this much CPU time of the traced processes... */
#define BUDGET_MIN_CPU_NS 100000000ull
/* ...or this much wall time, whichever comes first. */
#define BUDGET_MAX_WAIT_NS 2000000000ull
/* The rate moves by at most these factors per decision: up (cheaper) fast, down slowly. */
#define BUDGET_STEP_UP 64
#define BUDGET_STEP_DOWN 8

/* What the probes did over one period (differences between two readings). */
struct budget_period {
	uint64_t wall_ns;
	uint64_t cpu_ns;	/* the traced processes' CPU time (user + system) */
	uint64_t bpf_ns;	/* run time of the probe programs (the kernel's BPF statistics) */
	uint64_t runs;		/* their runs: one per probe hit, entries and returns */
	uint64_t returns;	/* of which return probes */
	uint64_t samples;	/* blocks recorded */
	uint64_t est_allocs;	/* allocations, estimated from the recorded blocks' weights */
	uint64_t est_bytes;	/* bytes allocated, estimated likewise */
};

struct budget {
	/* given */
	double max_overhead;	/* the budget: probe time / the processes' own CPU time */
	double trap_entry_ns;	/* what the kernel spends per entry probe hit, BPF program aside */
	double trap_return_ns;	/* per return probe hit */
	double trap_entry_sparse_ns;	/* when entries are far apart (trapcost.h) */

	/* state */
	uint64_t rate;		/* bytes; 0: every block recorded */
	struct budget_period acc; /* since the last decision */
	double b0_ns;		/* least BPF run time per run seen (an unsampled probe's); < 0: none */
	double sample_ns;	/* cost per recorded block beyond the floor; < 0 unknown */

	/* the last decision's figures (fractions of the processes' own CPU time), and the run's */
	bool measured;		/* a decision has been made */
	double overhead;	/* the probes' cost */
	double entry_traps;	/* the entry probes' traps alone, which no rate removes */
	double hit_entry_ns;	/* an entry's trap, as the hits' spacing made it */
	bool entry_traps_over;	/* entry_traps > max_overhead: the budget cannot be met */
	bool entry_traps_ever_over;
	uint64_t decisions, changes;
	uint64_t min_rate, max_rate;	/* the rates in force while sampling, the start's too */
	bool full_tracking_seen;	/* rate 0 was in force at some decision */
};

/*
 * A controller for max_overhead (a fraction: 0.05 for 5%), with the measured trap costs. It starts
 * at start_rate (--sample-rate), or at BUDGET_START_RATE when that is 0, never at full tracking:
 * the budget holds from the first moment (full tracking of a process that allocates all the time
 * can cost it many times its own CPU before the first decision), and the rate comes down to full
 * tracking at the first decision where that fits (BUDGET_STEP_DOWN bounds only the steps between
 * two rates).
 */
void budget_init(struct budget *b, double max_overhead, double trap_entry_ns,
		 double trap_return_ns, uint64_t start_rate);

/*
 * Adds a period's figures. Once enough CPU or wall time has passed, decides: estimates the
 * overhead of the accumulated periods and, outside the band [max / 2, max] (full tracking under
 * the budget stays), sets b->rate so that the cost lands at 0.8 x the budget. Returns true when
 * b->rate changed.
 *
 * The model: cost = BPF run time + trap_entry x entry hits + trap_return x return hits (each trap
 * as costly as the hits' spacing makes it, budget_set_sparse()), over the
 * processes' own CPU time (theirs minus that cost). The floor no rate removes is every entry's
 * trap plus an unsampled run (b0_ns); the rest is paid per recorded block. The samples a rate
 * gives are inversely proportional to it (exactly so for blocks much smaller than the rate), so
 * the new rate is rate x samples / affordable samples; from full tracking, the bytes allocated /
 * the affordable samples. When even the floor exceeds the budget, the rate goes up as far as
 * the step allows and entry_traps_over says whether the entry traps alone are the reason.
 */
bool budget_update(struct budget *b, const struct budget_period *d);

/*
 * An entry's trap cost when hits are TRAPCOST_SPARSE_NS apart or more (budget_init's is that of
 * hits closer than TRAPCOST_DENSE_NS). A decision takes, for the period's mean CPU time per hit,
 * the cost between the two (on a log scale of the spacing).
 */
void budget_set_sparse(struct budget *b, double trap_entry_ns);

#endif
