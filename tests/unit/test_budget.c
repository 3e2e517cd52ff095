/* test_budget.c: --max-overhead's controller against a simulated process and its probes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "trace/budget.h"

#define SEC 1000000000.0

/*
 * A process that allocates `allocs_per_s` blocks of `size` bytes and frees them, using `cpu_frac`
 * of a CPU for its own work. Its probes: an entry trap per malloc and per free (trap_ns each), a
 * BPF run of b0_ns for each, and per recorded block a return trap and sample_ns of BPF more.
 */
struct plant {
	double allocs_per_s, size, cpu_frac;
	double trap_ns, b0_ns, sample_ns;
};

static const struct plant busy = { .allocs_per_s = 2e6, .size = 64, .cpu_frac = 1.0,
				   .trap_ns = 400, .b0_ns = 60, .sample_ns = 800 };

/* One period of wall_s seconds at b's rate: what the controller would read (expected values). */
static struct budget_period period(const struct plant *p, const struct budget *b, double wall_s)
{
	double calls = p->allocs_per_s * wall_s;
	double prob = b->rate ? -expm1(-p->size / (double)b->rate) : 1.0;
	double samples = calls * prob, runs = 2 * calls + samples;
	double bpf = runs * p->b0_ns + samples * (p->sample_ns - p->trap_ns);
	double cost = bpf + (runs - samples) * p->trap_ns + samples * p->trap_ns;

	return (struct budget_period){
		.wall_ns = (uint64_t)(wall_s * SEC),
		.cpu_ns = (uint64_t)(p->cpu_frac * wall_s * SEC + cost),
		.bpf_ns = (uint64_t)bpf,
		.runs = (uint64_t)runs,
		.returns = (uint64_t)samples,
		.samples = (uint64_t)samples,
		.est_allocs = (uint64_t)calls,
		.est_bytes = (uint64_t)(calls * p->size),
	};
}

/* The overhead the plant pays at b's rate. */
static double overhead(const struct plant *p, const struct budget *b)
{
	struct budget_period d = period(p, b, 1.0);

	return (double)(d.cpu_ns - (uint64_t)(p->cpu_frac * SEC)) / (p->cpu_frac * SEC);
}

/* n periods of 0.5 s; returns the decisions that changed the rate. */
static int run(const struct plant *p, struct budget *b, int n)
{
	int changes = 0;

	for (int i = 0; i < n; i++) {
		struct budget_period d = period(p, b, 0.5);

		changes += budget_update(b, &d);
	}
	return changes;
}

static void test_quiet_process_gets_full_tracking(void **state)
{
	struct plant quiet = busy;
	struct budget b;

	quiet.allocs_per_s = 1000;
	budget_init(&b, 0.05, 400, 400, 0);
	assert_int_equal(b.rate, BUDGET_START_RATE);
	run(&quiet, &b, 10);
	/* Full tracking costs 1000 x 1.26 us a second, 0.13%: well within 5%. */
	assert_int_equal(b.rate, 0);
	assert_true(b.full_tracking_seen);
	assert_false(b.entry_traps_over);
	/* And stays there: under the budget, full tracking is kept. */
	assert_int_equal(run(&quiet, &b, 10), 0);
	assert_true(b.overhead < 0.05);
}

static void test_busy_process_is_sampled_within_budget(void **state)
{
	struct plant p = busy;
	struct budget b;

	/* 20,000 allocs/s: entries cost 20000 x 2 x 460 ns = 1.84%; full tracking 3.4%. */
	p.allocs_per_s = 20000;
	budget_init(&b, 0.025, 400, 400, 0);
	b.rate = 0;
	run(&p, &b, 2);
	assert_true(b.rate > 0);
	run(&p, &b, 20);
	assert_true(b.overhead <= 0.025);
	assert_true(overhead(&p, &b) <= 0.025);
	assert_true(overhead(&p, &b) >= 0.025 * 0.5);
	assert_false(b.entry_traps_over);
	/* Settled: no more changes. */
	assert_int_equal(run(&p, &b, 10), 0);
}

static void test_rate_follows_the_allocation_rate(void **state)
{
	struct plant slow = busy, fast = busy;
	struct budget b;
	uint64_t fast_rate;

	slow.allocs_per_s = 2000;
	fast.allocs_per_s = 40000;
	budget_init(&b, 0.05, 400, 400, 0);
	run(&slow, &b, 10);
	assert_int_equal(b.rate, 0);
	run(&fast, &b, 10);
	fast_rate = b.rate;
	assert_true(fast_rate > 0);
	assert_true(overhead(&fast, &b) <= 0.05);
	assert_true(b.min_rate <= BUDGET_START_RATE && b.max_rate >= fast_rate);
	/* Back to slow: the budget allows full tracking again. */
	run(&slow, &b, 10);
	assert_int_equal(b.rate, 0);
}

static void test_entry_traps_over_budget(void **state)
{
	struct budget b;
	uint64_t prev;

	/* 2M allocs/s: every entry trap alone is 160% of the process's CPU. */
	budget_init(&b, 0.10, 400, 400, 0);
	prev = b.rate;
	for (int i = 0; i < 20; i++) {
		run(&busy, &b, 1);
		/* Bounded steps: at most BUDGET_STEP_UP at a time. */
		assert_true(b.rate <= prev * BUDGET_STEP_UP);
		prev = b.rate;
	}
	assert_true(b.entry_traps_over);
	assert_true(b.entry_traps_ever_over);
	assert_true(b.entry_traps > 1.5 && b.entry_traps < 1.7);
	assert_int_equal(b.rate, BUDGET_MAX_RATE);
}

static void test_steps_down_are_bounded(void **state)
{
	struct plant quiet = busy;
	struct budget b;

	quiet.allocs_per_s = 10;
	budget_init(&b, 0.05, 400, 400, 1 << 20);
	run(&quiet, &b, 1);
	assert_int_equal(b.rate, (1 << 20) / BUDGET_STEP_DOWN);
}

static void test_within_band_is_kept(void **state)
{
	struct plant p = busy;
	struct budget b;
	double o;

	p.allocs_per_s = 20000;
	budget_init(&b, 0.05, 400, 400, 4096);
	o = overhead(&p, &b);
	/* At 4096 bytes 1.6% of the blocks are sampled: about the floor, 1.9%. */
	assert_true(o > 0.01 && o < 0.025);
	budget_init(&b, o * 1.5, 400, 400, 4096);
	assert_int_equal(run(&p, &b, 10), 0);
	assert_int_equal(b.rate, 4096);
	assert_int_equal(b.changes, 0);
	assert_true(b.decisions > 0);
}

static void test_little_room_above_the_floor(void **state)
{
	struct plant p = busy;
	struct budget b;

	/* 20,000 allocs/s: the floor is 1.84%, full tracking 3.56%; a budget of 2.1% leaves 0.26%
	 * above the floor, less than 0.8 x the budget: the controller aims halfway, and samples. */
	p.allocs_per_s = 20000;
	budget_init(&b, 0.021, 400, 400, 0);
	run(&p, &b, 20);
	assert_true(b.rate > 0 && b.rate < BUDGET_MAX_RATE);
	assert_true(overhead(&p, &b) <= 0.021);
	assert_true(overhead(&p, &b) > 0.0184);
	assert_false(b.entry_traps_over);
}

static void test_trap_cost_by_spacing(void **state)
{
	struct plant sparse = busy, mid = busy;
	struct budget b;

	/* 4M probe runs a second of CPU: 250 ns apart, the dense cost. */
	budget_init(&b, 10.0, 400, 300, 0);
	budget_set_sparse(&b, 900);
	run(&busy, &b, 1);
	assert_true(b.measured);
	assert_true(b.hit_entry_ns == 400);
	/* 2,000 runs a second: 500 us apart, the sparse cost. */
	sparse.allocs_per_s = 1000;
	budget_init(&b, 10.0, 400, 300, 0);
	budget_set_sparse(&b, 900);
	run(&sparse, &b, 1);
	assert_true(b.hit_entry_ns == 900);
	/* Between them on a log scale: a hit every sqrt(2.5 x 20) = 7.07 us, halfway. */
	mid.allocs_per_s = 1e9 / (2 * 7071.07);
	mid.cpu_frac = 0.9;
	budget_init(&b, 10.0, 400, 300, 0);
	budget_set_sparse(&b, 900);
	run(&mid, &b, 1);
	assert_true(b.hit_entry_ns > 600 && b.hit_entry_ns < 700);
}

static void test_waits_for_cpu_time(void **state)
{
	struct budget_period d = { .wall_ns = 100000000, .cpu_ns = 10000000, .bpf_ns = 9000000,
				   .runs = 1000, .samples = 10, .est_allocs = 500,
				   .est_bytes = 32000 };
	struct budget b;

	budget_init(&b, 0.01, 400, 400, 0);
	/* 10 ms of CPU a period: a decision after BUDGET_MIN_CPU_NS of it. */
	for (uint64_t i = 1; i < BUDGET_MIN_CPU_NS / d.cpu_ns; i++)
		assert_false(budget_update(&b, &d));
	assert_false(b.measured);
	budget_update(&b, &d);
	assert_true(b.measured);
	assert_int_equal(b.decisions, 1);
	/* An idle process (no runs) is not judged, however long. */
	memset(&d, 0, sizeof(d));
	d.wall_ns = BUDGET_MAX_WAIT_NS;
	assert_false(budget_update(&b, &d));
	assert_int_equal(b.decisions, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quiet_process_gets_full_tracking),
		cmocka_unit_test(test_busy_process_is_sampled_within_budget),
		cmocka_unit_test(test_rate_follows_the_allocation_rate),
		cmocka_unit_test(test_entry_traps_over_budget),
		cmocka_unit_test(test_steps_down_are_bounded),
		cmocka_unit_test(test_within_band_is_kept),
		cmocka_unit_test(test_little_room_above_the_floor),
		cmocka_unit_test(test_trap_cost_by_spacing),
		cmocka_unit_test(test_waits_for_cpu_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
