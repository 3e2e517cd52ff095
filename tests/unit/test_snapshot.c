/* test_snapshot.c: snapshot records: adding, totals, sort orders, filtering, growth rates. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model/snapshot.h"

static struct stack_record rec(int pid, uint64_t stack_id, int64_t bytes, int64_t blocks)
{
	struct stack_record r;

	memset(&r, 0, sizeof(r));
	r.pid = pid;
	r.stack_id = stack_id;
	r.outstanding_bytes = bytes;
	r.outstanding_allocs = blocks;
	r.allocs = (uint64_t)blocks * 2;
	r.alloc_bytes = (uint64_t)bytes * 2;
	r.oldest_age_s = -1;
	return r;
}

static struct snapshot *make(const struct stack_record *recs, size_t n)
{
	struct snapshot *snap = snapshot__new();
	size_t i;

	assert_non_null(snap);
	for (i = 0; i < n; i++)
		assert_int_equal(snapshot__add(snap, &recs[i]), 0);
	return snap;
}

/* "pid:stack_id" of every stack in order, to compare orders in one assert. */
static const char *order(const struct snapshot *snap)
{
	static char buf[512];
	size_t i, len = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; i < snap->nr_stacks; i++) {
		n = snprintf(buf + len, sizeof(buf) - len, "%s%d:%llu", i ? " " : "",
			     snap->stacks[i].pid, (unsigned long long)snap->stacks[i].stack_id);
		assert_true(n > 0 && (size_t)n < sizeof(buf) - len);
		len += (size_t)n;
	}
	return buf;
}

static void test_add_grows(void **state)
{
	struct snapshot *snap = snapshot__new();
	struct stack_record r;
	size_t i;

	assert_non_null(snap);
	assert_int_equal(snap->nr_stacks, 0);
	assert_null(snap->stacks);
	for (i = 0; i < 1000; i++) {
		uint64_t ips[LT_MAX_DEPTH] = { 0 };

		ips[LT_MAX_DEPTH - 1] = i;
		r = rec(1, i + 1, (int64_t)i, 1);
		r.shared = stack_ips__new(ips, LT_MAX_DEPTH);
		assert_non_null(r.shared);
		r.nr_ips = r.shared->nr;
		r.ips = r.shared->ips;
		assert_int_equal(snapshot__add(snap, &r), 0);
		/* The snapshot holds its own reference: the addresses outlive the maker's. */
		assert_int_equal(r.shared->refs, 2);
		stack_ips__put(r.shared);
	}
	assert_int_equal(snap->nr_stacks, 1000);
	assert_true(snap->cap_stacks >= 1000);
	for (i = 0; i < 1000; i++) {
		assert_int_equal(snap->stacks[i].stack_id, i + 1);
		assert_int_equal(snap->stacks[i].outstanding_bytes, i);
		assert_int_equal(snap->stacks[i].nr_ips, LT_MAX_DEPTH);
		assert_int_equal(snap->stacks[i].ips[LT_MAX_DEPTH - 1], i);
		assert_int_equal(snap->stacks[i].shared->refs, 1);
	}
	snapshot__free(snap);
	snapshot__free(NULL);
}

/* Room reserved: adding that many stacks moves none. */
static void test_reserve(void **state)
{
	struct snapshot *snap = snapshot__new();
	const struct stack_record *first;

	assert_non_null(snap);
	assert_int_equal(snapshot__reserve(snap, 500), 0);
	assert_int_equal(snap->cap_stacks, 500);
	first = snap->stacks;
	for (uint64_t i = 1; i <= 500; i++) {
		struct stack_record r = rec(1, i, 10, 1);

		assert_int_equal(snapshot__add(snap, &r), 0);
	}
	assert_ptr_equal(snap->stacks, first);
	/* Less than it holds changes nothing. */
	assert_int_equal(snapshot__reserve(snap, 10), 0);
	assert_int_equal(snap->cap_stacks, 500);
	snapshot__free(snap);
}

/* A snapshot whose stacks were set by hand (cap_stacks left 0) must still grow safely. */
static void test_add_to_hand_built(void **state)
{
	struct snapshot *snap = snapshot__new();
	struct stack_record r = rec(9, 4, 40, 4);
	size_t i;

	assert_non_null(snap);
	snap->stacks = calloc(3, sizeof(*snap->stacks));
	assert_non_null(snap->stacks);
	for (i = 0; i < 3; i++)
		snap->stacks[i] = rec(9, i + 1, 10, 1);
	snap->nr_stacks = 3;
	assert_int_equal(snapshot__add(snap, &r), 0);
	assert_int_equal(snap->nr_stacks, 4);
	assert_string_equal(order(snap), "9:1 9:2 9:3 9:4");
	snapshot__free(snap);
}

static void test_sum_totals(void **state)
{
	const struct stack_record recs[] = { rec(1, 1, 100, 2), rec(1, 2, 50, 1), rec(2, 1, 7, 7) };
	struct snapshot *snap = make(recs, 3);

	snap->stats[LT_STAT_ALLOCS] = 99;
	snap->stats[LT_STAT_FREES] = 12;
	snap->totals.outstanding_bytes = 123456; /* stale: must be replaced, not added to */
	snapshot__sum_totals(snap);
	assert_int_equal(snap->totals.outstanding_bytes, 157);
	assert_int_equal(snap->totals.outstanding_allocs, 10);
	assert_int_equal(snap->totals.allocs, 20);
	assert_int_equal(snap->totals.alloc_bytes, 314);
	assert_int_equal(snap->totals.frees, 12);
	snapshot__free(snap);

	snap = snapshot__new();
	assert_non_null(snap);
	snapshot__sum_totals(snap);
	assert_int_equal(snap->totals.outstanding_bytes, 0);
	assert_int_equal(snap->totals.frees, 0);
	snapshot__free(snap);
}

static void test_sort_bytes_ties(void **state)
{
	const struct stack_record recs[] = {
		rec(2, 5, 100, 1), rec(1, 9, 100, 1), rec(1, 3, 100, 1), rec(3, 1, 500, 1),
		rec(1, 4, 1, 1),   rec(2, 1, 100, 1), rec(1, 2, -5, 0),
	};
	struct snapshot *snap = make(recs, sizeof(recs) / sizeof(recs[0]));

	snapshot__sort(snap, SORT_BYTES);
	assert_string_equal(order(snap), "3:1 1:3 1:9 2:1 2:5 1:4 1:2");
	/* Sorting again, from any order, gives the same. */
	snapshot__sort(snap, SORT_AGE);
	snapshot__sort(snap, SORT_BYTES);
	assert_string_equal(order(snap), "3:1 1:3 1:9 2:1 2:5 1:4 1:2");
	snapshot__free(snap);

	snap = snapshot__new();
	assert_non_null(snap);
	snapshot__sort(snap, SORT_BYTES);
	assert_int_equal(snap->nr_stacks, 0);
	snapshot__free(snap);
}

static void test_sort_other_keys(void **state)
{
	struct stack_record recs[] = {
		rec(1, 1, 10, 5), rec(1, 2, 20, 1), rec(1, 3, 30, 5),
		rec(1, 4, 40, 2), rec(1, 5, 5, 9),
	};
	struct snapshot *snap;

	recs[0].oldest_age_s = 3;
	recs[1].oldest_age_s = 0;
	recs[3].oldest_age_s = 3;
	recs[4].oldest_age_s = 0.5;
	snap = make(recs, 5);

	snapshot__sort(snap, SORT_ALLOCS);
	assert_string_equal(order(snap), "1:5 1:3 1:1 1:4 1:2");
	/* Unknown age (< 0) sorts last; a known age of 0 does not. */
	snapshot__sort(snap, SORT_AGE);
	assert_string_equal(order(snap), "1:4 1:1 1:5 1:2 1:3");
	snapshot__free(snap);
}

/* Many records with ties: the bytes order holds throughout, and every record is there once. */
static void test_sort_bytes_many(void **state)
{
	struct snapshot *snap = snapshot__new();
	static int64_t bytes[5001];
	static int pids[5001];
	uint64_t ids = 0, seen = 0;

	assert_non_null(snap);
	srand(7);
	for (uint64_t i = 1; i <= 5000; i++) {
		struct stack_record r = rec(rand() % 3, i, rand() % 50, 1);

		bytes[i] = r.outstanding_bytes;
		pids[i] = r.pid;
		ids += i;
		assert_int_equal(snapshot__add(snap, &r), 0);
	}
	snapshot__sort(snap, SORT_BYTES);
	assert_int_equal(snap->nr_stacks, 5000);
	for (size_t i = 0; i < snap->nr_stacks; i++) {
		const struct stack_record *r = &snap->stacks[i];

		seen += r->stack_id;
		/* Each record moved whole. */
		assert_int_equal(r->outstanding_bytes, bytes[r->stack_id]);
		assert_int_equal(r->pid, pids[r->stack_id]);
		assert_int_equal(r->alloc_bytes, (uint64_t)bytes[r->stack_id] * 2);
		if (i)
			assert_true(snapshot_cmp(&snap->stacks[i - 1], r, SORT_BYTES) < 0);
	}
	assert_int_equal(seen, ids);
	snapshot__free(snap);
}

static void test_drop_empty(void **state)
{
	const struct stack_record recs[] = {
		rec(1, 1, 0, 0), rec(1, 2, 20, 1), rec(1, 3, 0, 0),
		rec(1, 4, 40, 2), rec(1, 5, 8, -1), rec(1, 6, 0, 0),
	};
	struct snapshot *snap = make(recs, 6);
	uint64_t ip = 0x1000;
	struct stack_ips *kept = stack_ips__new(&ip, 1), *dropped = stack_ips__new(&ip, 1);

	assert_non_null(kept);
	assert_non_null(dropped);
	snap->stacks[0].shared = stack_ips__get(dropped);
	snap->stacks[1].shared = stack_ips__get(kept);
	snapshot__drop_empty(snap);
	assert_string_equal(order(snap), "1:2 1:4");
	/* A stack dropped lets go of its addresses; one kept holds them still. */
	assert_int_equal(dropped->refs, 1);
	assert_int_equal(kept->refs, 2);
	/* Still usable for adding after shrinking. */
	assert_int_equal(snapshot__add(snap, &recs[0]), 0);
	assert_string_equal(order(snap), "1:2 1:4 1:1");
	snapshot__free(snap);
	assert_int_equal(kept->refs, 1);
	stack_ips__put(kept);
	stack_ips__put(dropped);
}

/* --error-exitcode's question: every block counts, unless a reachability scan split them. */
static void test_has_leaks(void **state)
{
	struct snapshot *snap = snapshot__new();
	struct stack_record rec = { .stack_id = 1, .outstanding_bytes = 100, .outstanding_allocs = 2 };
	struct reach_split split;

	assert_non_null(snap);
	assert_false(snapshot__has_leaks(snap));
	assert_int_equal(snapshot__add(snap, &rec), 0);
	snapshot__sum_totals(snap);
	assert_true(snapshot__has_leaks(snap));
	/* After a scan: reachable blocks are no leak; lost or possibly lost ones are. */
	snap->reach_scans = 1;
	split = (struct reach_split){ .valid = true, .allocs = { [REACH_REACHABLE] = 2 } };
	snap->stacks[0].reach = &split;
	assert_false(snapshot__has_leaks(snap));
	split.allocs[REACH_POSSIBLY] = 1;
	assert_true(snapshot__has_leaks(snap));
	split = (struct reach_split){ .valid = true, .allocs = { [REACH_LOST] = 1 } };
	assert_true(snapshot__has_leaks(snap));
	/* A stack the scan did not split counts whole. */
	snap->stacks[0].reach = NULL;
	assert_true(snapshot__has_leaks(snap));
	snapshot__free(snap);
}

static void test_stat_names(void **state)
{
	int s;

	assert_string_equal(snapshot_stat_name(LT_STAT_ALLOCS), "allocs");
	assert_string_equal(snapshot_stat_name(LT_STAT_FREES), "frees");
	assert_string_equal(snapshot_stat_name(LT_STAT_DROPPED_ALLOCS), "dropped_allocs");
	assert_string_equal(snapshot_stat_name(LT_STAT_UNMATCHED_FREES), "unmatched_frees");
	assert_string_equal(snapshot_stat_name(LT_STAT_LOST_STACKS), "lost_stacks");
	assert_string_equal(snapshot_stat_name(LT_STAT_STACK_TABLE_FULL), "stack_table_full");
	assert_string_equal(snapshot_stat_name(LT_STAT_THREAD_STATE_FULL), "thread_state_full");
	assert_string_equal(snapshot_stat_name(LT_STAT_MISSED_RETURNS), "missed_returns");
	assert_string_equal(snapshot_stat_name(LT_STAT_UNWIND_NO_MAPPING), "unwind_no_mapping");
	assert_string_equal(snapshot_stat_name(LT_STAT_UNWIND_NO_TABLE), "unwind_no_table");
	assert_string_equal(snapshot_stat_name(LT_STAT_UNWIND_NO_CFI), "unwind_no_cfi");
	assert_string_equal(snapshot_stat_name(LT_STAT_UNWIND_STOP_ROW), "unwind_stop_row");
	assert_string_equal(snapshot_stat_name(LT_STAT_UNWIND_READ_FAILED), "unwind_read_failed");
	assert_string_equal(snapshot_stat_name(LT_STAT_TRUNCATED_STACKS), "truncated_stacks");
	assert_string_equal(snapshot_stat_name(LT_STAT_UNWIND_NOT_READY), "unwind_not_ready");
	assert_string_equal(snapshot_stat_name(LT_STAT_UNWOUND_CALLS), "unwound_calls");
	assert_string_equal(snapshot_stat_name(LT_STAT_ALLOCATOR_FREES), "allocator_frees");
	assert_null(snapshot_stat_loss(LT_STAT_ALLOCATOR_FREES));
	assert_string_equal(snapshot_stat_name(LT_STAT_LOST_EVENTS), "lost_events");
	/* Counters that are no loss: frees of blocks never seen, calls left by an exception. */
	assert_null(snapshot_stat_loss(LT_STAT_UNMATCHED_FREES));
	assert_null(snapshot_stat_loss(LT_STAT_UNWOUND_CALLS));
	assert_null(snapshot_stat_loss(LT_STAT_ALLOCS));
	assert_non_null(snapshot_stat_loss(LT_STAT_TRUNCATED_STACKS));
	assert_non_null(snapshot_stat_loss(LT_STAT_MISSED_RETURNS));
	/* A counter added to the enum without a name here would print "(null)". */
	for (s = 0; s < LT_STAT_MAX; s++)
		assert_non_null(snapshot_stat_name((enum lt_stat)s));
	assert_null(snapshot_stat_name(LT_STAT_MAX));
	assert_null(snapshot_stat_name((enum lt_stat)-1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_grows),	cmocka_unit_test(test_add_to_hand_built),
		cmocka_unit_test(test_sum_totals),	cmocka_unit_test(test_sort_bytes_ties),
		cmocka_unit_test(test_sort_other_keys), cmocka_unit_test(test_drop_empty),
		cmocka_unit_test(test_sort_bytes_many), cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_stat_names),	cmocka_unit_test(test_has_leaks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
