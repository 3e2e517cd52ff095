/* test_ages.c: the age slots of bpf/ages.h: placement, carries, frees, OLDEST, --min-age. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bpf/leaktop.h"

#define S 1000000000ull
/* A time far from 0, as bpf_ktime_get_ns() is after a while of uptime; on level 0's slot 0. */
#define T0 (3ull * (1000ull << 28))

static __u64 width(unsigned int k)
{
	return 1ull << lt_age_shift[k];
}

/* The level of slot i; LT_AGE_LEVELS for the overflow. */
static unsigned int level_of(unsigned int i)
{
	unsigned int k = 0;

	while (k < LT_AGE_LEVELS && i >= lt_age_base[k] + LT_AGE_RING)
		k++;
	return k;
}

static void assert_slot(const struct lt_ages *a, unsigned int i, __u64 first, __s64 bytes,
			__s64 allocs)
{
	assert_int_equal(a->s[i].first_ns, first);
	assert_int_equal(a->s[i].bytes, bytes);
	assert_int_equal(a->s[i].allocs, allocs);
}

static void assert_empty_but(const struct lt_ages *a, unsigned int keep1, unsigned int keep2)
{
	for (unsigned int i = 0; i < LT_AGE_SLOTS; i++)
		if (i != keep1 && i != keep2) {
			assert_int_equal(a->s[i].bytes, 0);
			assert_int_equal(a->s[i].allocs, 0);
		}
}

/* The geometry: 14 slots in 7 levels, then the overflow; windows grow with the levels. */
static void test_geometry(void **state)
{
	unsigned int n = 0;

	for (unsigned int k = 0; k < LT_AGE_LEVELS; k++) {
		assert_int_equal(lt_age_base[k], n);
		n += LT_AGE_RING;
		if (k)
			assert_true(lt_age_shift[k] > lt_age_shift[k - 1]);
	}
	assert_int_equal(n, LT_AGE_OVERFLOW);
	assert_int_equal(level_of(LT_AGE_OVERFLOW), LT_AGE_LEVELS);
	assert_int_equal(sizeof(struct lt_heap_totals), 48 + 360);
	/* T0 begins a window of every level but the last two. */
	assert_int_equal(lt_age_slot(0, T0), 0);
	assert_int_equal(lt_age_slot(1, T0), 2);
}

/* Blocks of one window share its slot; its first block's time is the oldest. */
static void test_place(void **state)
{
	struct lt_ages a = { 0 };
	__s64 bytes, allocs;

	lt_ages_add(&a, T0 + 5, 100, 1);
	lt_ages_add(&a, T0 + 1000, 50, 2);
	lt_ages_add(&a, T0 + 3, 7, 1); /* an earlier block of the same window (another CPU's) */
	assert_slot(&a, 0, T0 + 3, 157, 4);
	assert_empty_but(&a, 0, 0);
	assert_int_equal(lt_ages_oldest(&a), T0 + 3);
	/* The next window: the next slot. */
	lt_ages_add(&a, T0 + width(0), 10, 1);
	assert_slot(&a, 1, T0 + width(0), 10, 1);
	assert_int_equal(lt_ages_oldest(&a), T0 + 3);

	lt_ages_before(&a, T0 + 2, &bytes, &allocs);
	assert_int_equal(bytes, 0);
	assert_int_equal(allocs, 0);
	lt_ages_before(&a, T0 + 3, &bytes, &allocs);
	assert_int_equal(bytes, 157);
	assert_int_equal(allocs, 4);
	lt_ages_before(&a, T0 + width(0), &bytes, &allocs);
	assert_int_equal(bytes, 167);
	assert_int_equal(allocs, 5);
}

/* A slot wanted for a later window carries its blocks to the next level, under their own time. */
static void test_carry(void **state)
{
	struct lt_ages a = { 0 };
	__u64 t1 = T0 + 2 * width(0) + 9; /* level 0's slot 0 again, two windows on */

	lt_ages_add(&a, T0 + 5, 100, 1);
	lt_ages_add(&a, T0 + 6, 20, 1);
	lt_ages_add(&a, t1, 30, 1);
	assert_slot(&a, 0, t1, 30, 1);
	assert_slot(&a, lt_age_slot(1, T0 + 5), T0 + 5, 120, 2);
	assert_empty_but(&a, 0, lt_age_slot(1, T0 + 5));
	assert_int_equal(lt_ages_oldest(&a), T0 + 5);

	/* Its free finds each block where it is now. */
	lt_ages_sub(&a, T0 + 6, 20, 1);
	assert_slot(&a, lt_age_slot(1, T0 + 5), T0 + 5, 100, 1);
	lt_ages_sub(&a, t1, 30, 1);
	assert_slot(&a, 0, t1, 0, 0);
	/* An empty slot gives no age. */
	assert_int_equal(lt_ages_oldest(&a), T0 + 5);
	lt_ages_sub(&a, T0 + 5, 100, 1);
	assert_int_equal(lt_ages_oldest(&a), 0);
	assert_empty_but(&a, LT_AGE_SLOTS, LT_AGE_SLOTS);
}

/*
 * A carry into a slot of an earlier window carries that one on in turn (a cascade); a carry
 * whose slot has moved on to a later window goes to a coarser level; past the last, the overflow.
 */
static void test_cascade_and_overflow(void **state)
{
	struct lt_ages a = { 0 };
	__u64 t = T0;

	/* A block in each of level 0's windows for 20 windows: each carry of level 0 lands in
	 * level 1, whose ring of 2 in turn carries into level 2. */
	for (unsigned int i = 0; i < 20; i++, t += width(0))
		lt_ages_add(&a, t, 1, 1);
	__s64 sum = 0;

	for (unsigned int i = 0; i < LT_AGE_SLOTS; i++)
		sum += a.s[i].allocs;
	assert_int_equal(sum, 20);
	assert_true(a.s[lt_age_slot(2, T0)].allocs > 0);
	assert_int_equal(lt_ages_oldest(&a), T0);

	/* A block put back at T0 (realloc failing) after its level-0 and level-1 slots moved on. */
	__s64 before = a.s[lt_age_slot(2, T0)].allocs;

	lt_ages_add(&a, T0 + 1, 1, 1);
	assert_int_equal(a.s[lt_age_slot(2, T0)].allocs, before + 1);

	/* A block in every window of level 0 for a day: T0's block, kept, is pushed on through
	 * every level into the overflow, where its free finds it. */
	struct lt_ages b = { 0 };
	__u64 end = T0 + 3 * width(LT_AGE_LEVELS - 1);

	lt_ages_add(&b, T0, 5, 1);
	for (t = T0 + width(0); t < end; t += width(0))
		lt_ages_add(&b, t, 1, 1);
	assert_int_equal(b.s[LT_AGE_OVERFLOW].first_ns, T0);
	assert_int_equal(lt_ages_oldest(&b), T0);
	sum = b.s[LT_AGE_OVERFLOW].bytes;
	lt_ages_sub(&b, T0, 5, 1);
	assert_int_equal(b.s[LT_AGE_OVERFLOW].bytes, sum - 5);
	/* Its first block gone, the overflow's time is before its oldest block (no bound there). */
	assert_int_equal(lt_ages_oldest(&b), T0);
}

/* A block of a window whose slot holds a later one is counted at a coarser level. */
static void test_later_window(void **state)
{
	struct lt_ages a = { 0 };
	__u64 late = T0 + 2 * width(0);

	lt_ages_add(&a, late, 1, 1);	/* slot 0 holds a later window than T0's */
	lt_ages_add(&a, T0 + 2, 4, 1);	/* another CPU's clock, a little behind */
	assert_slot(&a, 0, late, 1, 1);
	assert_slot(&a, lt_age_slot(1, T0), T0 + 2, 4, 1);
	lt_ages_sub(&a, T0 + 2, 4, 1);
	assert_slot(&a, lt_age_slot(1, T0), T0 + 2, 0, 0);
}

/* --min-age: a slot counts when its first block is old enough; never misses an old block. */
static void test_min_age(void **state)
{
	struct lt_ages a = { 0 };
	__s64 bytes, allocs;

	lt_ages_add(&a, T0, 8192, 4);		  /* group A */
	lt_ages_add(&a, T0 + 2 * S, 15360, 5);	  /* group B, 2 s later */
	/* --min-age 1, just after B */
	lt_ages_before(&a, T0 + 2 * S + 1000 - 1 * S, &bytes, &allocs);
	assert_int_equal(bytes, 8192);
	assert_int_equal(allocs, 4);
	/* Ten minutes on, both are older than a minute. */
	lt_ages_add(&a, T0 + 600 * S, 1, 1);
	lt_ages_before(&a, T0 + 540 * S, &bytes, &allocs);
	assert_int_equal(bytes, 8192 + 15360);
	assert_int_equal(allocs, 9);
	assert_int_equal(lt_ages_oldest(&a), T0);
}

struct block {
	__u64 ts;
	__s64 size, count;
};

/* The slot a block is counted in, by the free's rule. */
static unsigned int slot_of(const struct lt_ages *a, __u64 ts)
{
	for (unsigned int k = 0; k < LT_AGE_LEVELS; k++) {
		unsigned int j = lt_age_slot(k, ts);

		if ((a->s[j].first_ns >> lt_age_shift[k]) == (ts >> lt_age_shift[k]))
			return j;
	}
	return LT_AGE_OVERFLOW;
}

/*
 * Random allocations and frees over days, with gaps from nanoseconds to hours: after each step
 * every live block is counted in the slot its free looks in, within that slot's window and not
 * before its first_ns; the slots add up to the live blocks; OLDEST is never younger than the
 * truth, and exact when the oldest slot's first block lives; --min-age never misses an old block.
 */
static void test_random(void **state)
{
	enum { N = 4000 };
	struct block *live = calloc(N, sizeof(*live));
	struct lt_ages a = { 0 };
	__s64 slot_bytes[LT_AGE_SLOTS], slot_allocs[LT_AGE_SLOTS];
	__u64 now = T0;
	size_t n = 0;

	srandom(11);
	for (int step = 0; step < 60000; step++) {
		long r = random();

		switch (r % 4) {
		case 0: now += random() % 1000; break;
		case 1: now += random() % (2 * S); break;
		case 2: now += (r % 97 == 0) ? (__u64)(random() % 7200) * S : 0; break;
		default: break;
		}
		if (n < N && (n < 10 || random() % 2)) {
			live[n] = (struct block){ now, 1 + random() % 5000, 1 + random() % 3 };
			lt_ages_add(&a, live[n].ts, live[n].size, live[n].count);
			n++;
		} else if (n) {
			size_t i = random() % n;

			lt_ages_sub(&a, live[i].ts, live[i].size, live[i].count);
			live[i] = live[--n];
		}
		if (step % 7)
			continue;
		memset(slot_bytes, 0, sizeof(slot_bytes));
		memset(slot_allocs, 0, sizeof(slot_allocs));
		__u64 true_oldest = 0;

		for (size_t i = 0; i < n; i++) {
			unsigned int s = slot_of(&a, live[i].ts), k = level_of(s);

			slot_bytes[s] += live[i].size;
			slot_allocs[s] += live[i].count;
			assert_true(a.s[s].first_ns <= live[i].ts);
			if (k < LT_AGE_LEVELS)
				assert_int_equal(a.s[s].first_ns >> lt_age_shift[k],
						 live[i].ts >> lt_age_shift[k]);
			if (!true_oldest || live[i].ts < true_oldest)
				true_oldest = live[i].ts;
		}
		for (unsigned int s = 0; s < LT_AGE_SLOTS; s++) {
			assert_int_equal(a.s[s].bytes, slot_bytes[s]);
			assert_int_equal(a.s[s].allocs, slot_allocs[s]);
		}
		__u64 oldest = lt_ages_oldest(&a);

		assert_int_equal(oldest == 0, n == 0);
		assert_true(oldest <= true_oldest);
		for (size_t i = 0; i < n; i++)
			if (live[i].ts == oldest)
				assert_int_equal(oldest, true_oldest);

		/* --min-age at a random age: every block at least that old counted. */
		__u64 cutoff = now - (__u64)(random() % 3600) * (S / 10);
		__s64 bytes, allocs, old_bytes = 0, counted = 0;

		lt_ages_before(&a, cutoff, &bytes, &allocs);
		for (size_t i = 0; i < n; i++) {
			if (live[i].ts <= cutoff)
				old_bytes += live[i].size;
			if (a.s[slot_of(&a, live[i].ts)].first_ns <= cutoff)
				counted += live[i].size;
		}
		assert_true(bytes >= old_bytes);
		assert_int_equal(bytes, counted);
	}
	free(live);
}

/* Threads adding and freeing on one stack at once: the slots still add up to what is live. */
struct racer {
	struct lt_ages *a;
	__u64 *clock;
	unsigned int seed;
	__s64 bytes, allocs; /* what this thread leaves live */
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct block held[64];
	size_t n = 0;

	for (int i = 0; i < 200000; i++) {
		__u64 now = __sync_add_and_fetch(r->clock, 1 + rand_r(&r->seed) % (1u << 24));

		if (n < 64 && rand_r(&r->seed) % 2) {
			held[n] = (struct block){ now, 1 + rand_r(&r->seed) % 100, 1 };
			lt_ages_add(r->a, held[n].ts, held[n].size, 1);
			n++;
		} else if (n) {
			size_t j = rand_r(&r->seed) % n;

			lt_ages_sub(r->a, held[j].ts, held[j].size, 1);
			held[j] = held[--n];
		}
	}
	for (size_t j = 0; j < n; j++) {
		r->bytes += held[j].size;
		r->allocs++;
	}
	return NULL;
}

static void test_races_lose_nothing(void **state)
{
	struct lt_ages a = { 0 };
	__u64 clock = T0;
	struct racer r[3];
	pthread_t th[3];
	__s64 bytes = 0, allocs = 0, want_bytes = 0, want_allocs = 0;

	for (int i = 0; i < 3; i++) {
		r[i] = (struct racer){ .a = &a, .clock = &clock, .seed = 7u + i };
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		want_bytes += r[i].bytes;
		want_allocs += r[i].allocs;
	}
	for (unsigned int s = 0; s < LT_AGE_SLOTS; s++) {
		bytes += a.s[s].bytes;
		allocs += a.s[s].allocs;
	}
	assert_int_equal(bytes, want_bytes);
	assert_int_equal(allocs, want_allocs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_place),
		cmocka_unit_test(test_carry),
		cmocka_unit_test(test_cascade_and_overflow),
		cmocka_unit_test(test_later_window),
		cmocka_unit_test(test_min_age),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_races_lose_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
