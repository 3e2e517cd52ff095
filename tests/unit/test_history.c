/* test_history.c: the per-stack sample rings, growth over the window, and the leak-suspect rule. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model/history.h"

#define SEC 1000000000ULL

/* The trend of bytes[0..n-1], sampled one second apart; allocs grow by one per sample. */
static struct history_trend trend_of(const int64_t *bytes, size_t n)
{
	struct history_sample s[HISTORY_MAX_WINDOW];
	struct history_trend t;

	assert_true(n <= HISTORY_MAX_WINDOW);
	for (size_t i = 0; i < n; i++)
		s[i] = (struct history_sample){ .t_ns = (10 + i) * SEC, .bytes = bytes[i],
						.allocs = i };
	history_trend_of(s, n, &t);
	return t;
}

#define TREND(...)                                                                           \
	trend_of((const int64_t[]){ __VA_ARGS__ },                                           \
		 sizeof((const int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t))

static void test_steady_leak_is_suspect(void **state)
{
	struct history_trend t = TREND(0, 100, 200, 300, 400);

	assert_int_equal(t.nr_samples, 5);
	assert_true(t.window_s == 4.0);
	assert_true(t.growth_bytes_per_s == 100.0);
	assert_true(t.suspect);
	assert_true(t.active);
	/* A small leak is as much a suspect as a big one. */
	assert_true(TREND(0, 1, 2, 3, 4, 5, 6, 7, 8, 9).suspect);
}

static void test_too_few_samples(void **state)
{
	struct history_trend t = TREND(0, 100, 200, 300);

	assert_false(t.suspect);
	assert_true(t.growth_bytes_per_s == 100.0);
	t = TREND(500);
	assert_false(t.suspect);
	assert_true(isnan(t.growth_bytes_per_s));
	assert_true(t.window_s == 0);
	assert_false(t.active);
	history_trend_of(NULL, 0, &t);
	assert_int_equal(t.nr_samples, 0);
	assert_true(isnan(t.growth_bytes_per_s));
	assert_false(t.suspect);
}

static void test_cache_fill_is_not_suspect(void **state)
{
	/* Filled in one step: growth shows while the jump is inside the window, the mark never. */
	struct history_trend t = TREND(0, 1048576, 1048576, 1048576, 1048576, 1048576);

	assert_false(t.suspect);
	assert_true(t.growth_bytes_per_s == 1048576.0 / 5);
	/* Once the jump has left the window the cache is flat. */
	t = TREND(1048576, 1048576, 1048576, 1048576, 1048576);
	assert_false(t.suspect);
	assert_true(t.growth_bytes_per_s == 0);
	/* Filled over three steps, then flat: the second half of the window does not grow. */
	assert_false(TREND(0, 100, 200, 300, 300, 300, 300, 300, 300, 300).suspect);
	/* Two jumps are not enough either. */
	assert_false(TREND(0, 500, 500, 500, 900, 900, 900).suspect);
}

static void test_churn_is_not_suspect(void **state)
{
	struct history_trend t = TREND(0, 64, 0, 128, 0, 64, 0, 4096, 0, 0);

	assert_false(t.suspect);
	assert_true(t.growth_bytes_per_s == 0);
	assert_true(t.active);
	/*
	 * The same blocks never freed: each sample holds all allocated so far (64, 128, 64, 4096 in
	 * steps 1, 3, 5, 7). Nine steps, none down, four up, and both halves end higher (s[4] = 192 >
	 * 0, s[9] = 4352 > 192): a leak, marked.
	 */
	t = TREND(0, 64, 64, 192, 192, 256, 256, 4352, 4352, 4352);
	assert_true(t.suspect);
	assert_true(t.growth_bytes_per_s == 4352.0 / 9);
	/* Ups and downs that end higher are still not near-monotonic (4 of 9 steps go down). */
	assert_false(TREND(0, 100, 50, 150, 100, 200, 150, 250, 200, 300).suspect);
	/* The same floor without the dips (50 a step, every other step flat): marked. */
	t = TREND(0, 100, 100, 150, 150, 200, 200, 250, 250, 300);
	assert_true(t.suspect);
	assert_true(t.growth_bytes_per_s == 300.0 / 9);
	/* Churn riding on a leak: one dip in nine steps (8/9 do not decrease) is still marked. */
	t = TREND(0, 100, 164, 132, 300, 400, 500, 600, 700, 800);
	assert_true(t.suspect);
	assert_true(t.growth_bytes_per_s == 800.0 / 9);
}

static void test_near_monotonic(void **state)
{
	/* One dip in nine steps (8/9 non-decreasing): still a suspect. Two dips (7/9): not. */
	assert_true(TREND(0, 10, 20, 15, 30, 40, 50, 60, 70, 80).suspect);
	assert_false(TREND(0, 10, 5, 15, 30, 25, 50, 60, 70, 80).suspect);
	/* Exactly three increases, one in each half and one at the middle: sustained. */
	assert_true(TREND(0, 0, 100, 100, 200, 200, 300).suspect);
	/* Growth only in the first half: stopped. */
	assert_false(TREND(0, 100, 200, 300, 300, 300, 300).suspect);
	/* Growth only in the second half: started, but one jump and flat before it. */
	assert_false(TREND(0, 0, 0, 0, 0, 0, 300).suspect);
}

static void test_shrinking(void **state)
{
	struct history_trend t = TREND(400, 300, 200, 100, 0);

	assert_false(t.suspect);
	assert_true(t.growth_bytes_per_s == -100.0);
}

static void test_active(void **state)
{
	struct history_sample s[3] = {
		{ .t_ns = SEC, .bytes = 0, .allocs = 7 },
		{ .t_ns = 2 * SEC, .bytes = 0, .allocs = 7 },
		{ .t_ns = 3 * SEC, .bytes = 0, .allocs = 7 },
	};
	struct history_trend t;

	history_trend_of(s, 3, &t);
	assert_false(t.active);
	s[2].allocs = 9000;
	history_trend_of(s, 3, &t);
	assert_true(t.active);
	assert_true(t.growth_bytes_per_s == 0);
}

/* A snapshot at t seconds with one stack per (id, bytes) pair, all of pid 42, allocs = bytes. */
static struct snapshot *snap_at(double t_s, const uint64_t *ids, const int64_t *bytes, size_t n)
{
	struct snapshot *snap = snapshot__new();

	assert_non_null(snap);
	snap->taken_ns = (uint64_t)(t_s * SEC);
	for (size_t i = 0; i < n; i++) {
		struct stack_record rec = { .stack_id = ids[i], .pid = 42,
					    .outstanding_bytes = bytes[i],
					    .allocs = (uint64_t)bytes[i] };

		assert_int_equal(snapshot__add(snap, &rec), 0);
	}
	return snap;
}

static void update(struct history *h, double t_s, const uint64_t *ids, const int64_t *bytes,
		   size_t n)
{
	struct snapshot *snap = snap_at(t_s, ids, bytes, n);

	assert_int_equal(history__update(h, snap), 0);
	snapshot__free(snap);
}

static void test_new_stack_starts_from_zero(void **state)
{
	struct history *h = history__new(HISTORY_WINDOW);
	struct history_trend t;
	uint64_t ids[] = { 7 };
	int64_t bytes[] = { 1000 };

	assert_non_null(h);
	update(h, 1, NULL, NULL, 0); /* tracing began: nothing held */
	assert_false(history__trend(h, 42, 7, &t));
	update(h, 3, ids, bytes, 1);
	assert_true(history__trend(h, 42, 7, &t));
	/* It held nothing at the previous update (1 s), 1000 bytes at 3 s. */
	assert_int_equal(t.nr_samples, 2);
	assert_true(t.window_s == 2.0);
	assert_true(t.growth_bytes_per_s == 500.0);
	assert_true(t.active);
	/* Another pid's stack of the same id is another stack. */
	assert_false(history__trend(h, 43, 7, &t));
	history__free(h);
}

/* The trends an update gives are those history__trend() gives after it, stack for stack. */
static void test_update_trends(void **state)
{
	struct history *h = history__new_covering(HISTORY_RUN_WINDOW);
	uint64_t ids[] = { 7, 8, 7 };
	struct history_trend got[3], want;

	assert_non_null(h);
	update(h, 1, NULL, NULL, 0);
	for (int k = 1; k <= 40; k++) {
		/* 7 grows at every update (listed twice: one sample); 8 goes up and down. */
		int64_t bytes[] = { 100 * k, k % 2 ? 5000 : 10, 100 * k };
		struct snapshot *snap = snap_at(1 + k, ids, bytes, 3);

		assert_int_equal(history__update_trends(h, snap, got), 0);
		for (size_t i = 0; i < 3; i++) {
			assert_true(history__trend(h, 42, ids[i], &want));
			assert_int_equal(got[i].nr_samples, want.nr_samples);
			assert_true(got[i].window_s == want.window_s);
			assert_true(got[i].growth_bytes_per_s == want.growth_bytes_per_s ||
				    (isnan(got[i].growth_bytes_per_s) &&
				     isnan(want.growth_bytes_per_s)));
			assert_int_equal(got[i].suspect, want.suspect);
			assert_int_equal(got[i].active, want.active);
		}
		snapshot__free(snap);
	}
	/* 40 updates, halved to 9..16 samples: 7 is a suspect, 8 is not. */
	assert_true(got[0].suspect);
	assert_false(got[1].suspect);
	assert_true(got[0].growth_bytes_per_s == 100.0);
	history__free(h);
}

static void test_window_is_bounded(void **state)
{
	struct history *h = history__new(HISTORY_WINDOW);
	struct history_trend t;
	uint64_t ids[] = { 1, 2 };
	int64_t bytes[2];
	size_t mem = 0;

	assert_non_null(h);
	update(h, 0.5, NULL, NULL, 0);
	for (int i = 1; i <= 1000; i++) {
		bytes[0] = 100 * i;	/* a leak: 100 bytes a second */
		bytes[1] = 5000;	/* a cache, filled at once */
		update(h, i, ids, bytes, 2);
		if (i == 20)
			mem = history__mem_bytes(h);
	}
	assert_int_equal(history__nr_stacks(h), 2);
	assert_int_equal(history__mem_bytes(h), mem);
	assert_true(history__trend(h, 42, 1, &t));
	assert_int_equal(t.nr_samples, HISTORY_WINDOW);
	assert_true(t.window_s == HISTORY_WINDOW - 1);
	assert_true(t.growth_bytes_per_s == 100.0);
	assert_true(t.suspect);
	assert_true(history__trend(h, 42, 2, &t));
	assert_true(t.growth_bytes_per_s == 0);
	assert_false(t.suspect);
	assert_false(t.active);
	history__free(h);
}

static void test_vanished_stacks_are_evicted(void **state)
{
	struct history *h = history__new(4);
	struct history_trend t;
	uint64_t ids[64];
	int64_t bytes[64];
	size_t mem = 0;

	assert_non_null(h);
	update(h, 0.5, NULL, NULL, 0);
	/* 64 stacks at a time, all of them new at every update: the old ones vanish. */
	for (int i = 1; i <= 300; i++) {
		for (int k = 0; k < 64; k++) {
			ids[k] = (uint64_t)i * 1000 + k + 1;
			bytes[k] = k;
		}
		update(h, i, ids, bytes, 64);
		assert_int_equal(history__nr_stacks(h), 64);
		if (i == 10)
			mem = history__mem_bytes(h);
	}
	assert_int_equal(history__mem_bytes(h), mem);
	assert_false(history__trend(h, 42, 299 * 1000 + 1, &t));
	assert_true(history__trend(h, 42, 300 * 1000 + 64, &t));
	assert_int_equal(t.nr_samples, 2);
	assert_true(t.growth_bytes_per_s == 63.0);
	history__free(h);
}

static void test_many_stacks(void **state)
{
	enum { N = 20000 };
	struct history *h = history__new(3);
	uint64_t *ids = calloc(N, sizeof(*ids));
	int64_t *bytes = calloc(N, sizeof(*bytes));
	struct history_trend t;

	assert_non_null(h);
	assert_non_null(ids);
	assert_non_null(bytes);
	update(h, 1, NULL, NULL, 0);
	for (int round = 2; round <= 5; round++) {
		for (size_t k = 0; k < N; k++) {
			/* ids that collide in their low bits, and the unknown stack 0 */
			ids[k] = k << 20;
			bytes[k] = (int64_t)k * round;
		}
		update(h, round, ids, bytes, N);
	}
	assert_int_equal(history__nr_stacks(h), N);
	for (size_t k = 0; k < N; k += 997) {
		assert_true(history__trend(h, 42, k << 20, &t));
		assert_int_equal(t.nr_samples, 3);
		assert_true(t.growth_bytes_per_s == (double)k);
	}
	history__free(h);
	free(ids);
	free(bytes);
}

static void test_errors(void **state)
{
	struct history *h;
	struct snapshot *snap;

	errno = 0;
	assert_null(history__new(1));
	assert_int_equal(errno, EINVAL);
	assert_null(history__new(HISTORY_MAX_WINDOW + 1));
	h = history__new(2);
	assert_non_null(h);
	update(h, 5, NULL, NULL, 0);
	snap = snap_at(5, NULL, NULL, 0);
	assert_int_equal(history__update(h, snap), -EINVAL);
	snapshot__free(snap);
	history__free(h);
	history__free(NULL);
}

static void test_duplicate_records(void **state)
{
	struct history *h = history__new(5);
	struct history_trend t;
	uint64_t ids[] = { 9, 9 };
	int64_t bytes[] = { 10, 20 };

	assert_non_null(h);
	update(h, 1, NULL, NULL, 0);
	update(h, 2, ids, bytes, 2);
	assert_int_equal(history__nr_stacks(h), 1);
	assert_true(history__trend(h, 42, 9, &t));
	assert_int_equal(t.nr_samples, 2);
	history__free(h);
}

/* The samples of (42, id): every one but the newest on one stride from the first; count them. */
static size_t check_spacing(const struct history *h, uint64_t id, double first_s, double last_s)
{
	struct history_sample s[HISTORY_MAX_WINDOW];
	size_t n = history__samples(h, 42, id, s);
	uint64_t stride;

	assert_true(n >= 2);
	assert_true(s[0].t_ns == (uint64_t)(first_s * SEC));
	assert_true(s[n - 1].t_ns == (uint64_t)(last_s * SEC));
	stride = s[1].t_ns - s[0].t_ns;
	for (size_t i = 1; i + 1 < n; i++)
		assert_true(s[i].t_ns - s[i - 1].t_ns == stride);
	assert_true(s[n - 1].t_ns - s[n - 2].t_ns <= stride);
	return n;
}

static void test_covering_window(void **state)
{
	struct history *h = history__new_covering(8);
	struct history_span span;
	struct history_trend t;
	uint64_t ids[] = { 1, 2, 3 };
	int64_t bytes[3];
	size_t mem = 0, n;

	assert_non_null(h);
	update(h, 0, NULL, NULL, 0);
	for (int i = 1; i <= 1000; i++) {
		bytes[0] = 100 * i;	/* a leak: 100 bytes a second */
		bytes[1] = 5000;	/* a cache, filled at once */
		bytes[2] = 7 * (i - 499); /* a leak that begins at 500 s */
		update(h, i, ids, bytes, i < 500 ? 2 : 3);
		/* Every stack keeps at most the window, its samples over its whole life. */
		n = check_spacing(h, 1, 0, i);
		assert_true(n <= 8);
		assert_true(i < 7 || n >= 5);
		assert_true(history__trend(h, 42, 1, &t));
		assert_true(t.window_s == i);
		assert_true(t.growth_bytes_per_s == 100.0);
		assert_true(t.suspect == (i >= 4));
		assert_true(history__trend(h, 42, 2, &t));
		assert_false(t.suspect);
		assert_true(t.growth_bytes_per_s == 5000.0 / i);
		if (i == 20)
			mem = history__mem_bytes(h);
	}
	assert_int_equal(history__mem_bytes(h), mem);
	/* The late one counts from the update before it came, with 0 bytes then. */
	n = check_spacing(h, 3, 499, 1000);
	assert_true(n >= 5 && n <= 8);
	assert_true(history__trend(h, 42, 3, &t));
	assert_true(t.growth_bytes_per_s == 7.0);
	assert_true(t.suspect);
	history__span(h, &span);
	assert_true(span.first_ns == 0 && span.last_ns == 1000 * SEC);
	assert_int_equal(span.nr_updates, 1001);
	assert_int_equal(history__samples(h, 42, 99, NULL), 0);
	history__free(h);

	errno = 0;
	assert_null(history__new_covering(2));
	assert_int_equal(errno, EINVAL);
	assert_null(history__new_covering(7));
	assert_null(history__new_covering(HISTORY_MAX_WINDOW + 2));
	h = history__new_covering(HISTORY_RUN_WINDOW);
	assert_non_null(h);
	history__free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steady_leak_is_suspect),
		cmocka_unit_test(test_too_few_samples),
		cmocka_unit_test(test_cache_fill_is_not_suspect),
		cmocka_unit_test(test_churn_is_not_suspect),
		cmocka_unit_test(test_near_monotonic),
		cmocka_unit_test(test_shrinking),
		cmocka_unit_test(test_active),
		cmocka_unit_test(test_new_stack_starts_from_zero),
		cmocka_unit_test(test_update_trends),
		cmocka_unit_test(test_window_is_bounded),
		cmocka_unit_test(test_vanished_stacks_are_evicted),
		cmocka_unit_test(test_many_stacks),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_duplicate_records),
		cmocka_unit_test(test_covering_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
