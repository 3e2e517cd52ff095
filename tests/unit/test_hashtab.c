/* test_hashtab.c: the hash table against a plain model of it, and FNV-1a against known values. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/hashtab.h"
#include "bpf/leaktop.h"

/* A small deterministic generator (xorshift64*), so a failure replays. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static void test_empty(void **state)
{
	struct hashtab *t = hashtab__new(0);
	size_t pos = 0;
	uint64_t key;

	assert_non_null(t);
	assert_int_equal(hashtab__count(t), 0);
	assert_null(hashtab__find(t, 0));
	assert_null(hashtab__find(t, 42));
	assert_false(hashtab__delete(t, 42));
	assert_false(hashtab__next(t, &pos, &key, NULL));
	hashtab__free(t);
	hashtab__free(NULL);
}

static void test_put_find_replace(void **state)
{
	struct hashtab *t = hashtab__new(4);
	uint64_t *v;

	assert_int_equal(hashtab__put(t, 7, 70), 0);
	assert_int_equal(hashtab__put(t, 8, 80), 0);
	v = hashtab__find(t, 7);
	assert_non_null(v);
	assert_int_equal(*v, 70);
	assert_int_equal(hashtab__put(t, 7, 71), 0);
	assert_int_equal(*hashtab__find(t, 7), 71);
	assert_int_equal(hashtab__count(t), 2);
	/* The value can be changed in place. */
	*hashtab__find(t, 8) = 81;
	assert_int_equal(*hashtab__find(t, 8), 81);
	assert_null(hashtab__find(t, 9));
	hashtab__free(t);
}

/* No key is special: 0 and all ones are keys like any other. */
static void test_extreme_keys(void **state)
{
	struct hashtab *t = hashtab__new(0);

	assert_null(hashtab__find(t, 0));
	assert_int_equal(hashtab__put(t, 0, 5), 0);
	assert_int_equal(hashtab__put(t, UINT64_MAX, 0), 0);
	assert_int_equal(*hashtab__find(t, 0), 5);
	assert_int_equal(*hashtab__find(t, UINT64_MAX), 0);
	assert_int_equal(hashtab__count(t), 2);
	assert_true(hashtab__delete(t, 0));
	assert_null(hashtab__find(t, 0));
	assert_int_equal(*hashtab__find(t, UINT64_MAX), 0);
	hashtab__free(t);
}

/* Many keys: the table grows from its first room, keeps every entry, and stays at most half full.
 */
static void test_grow_many_keys(void **state)
{
	enum { N = 200000 };
	struct hashtab *t = hashtab__new(0);
	size_t first = hashtab__mem_bytes(t);

	for (uint64_t k = 0; k < N; k++)
		assert_int_equal(hashtab__put(t, k * 4096, k), 0);
	assert_int_equal(hashtab__count(t), N);
	for (uint64_t k = 0; k < N; k++) {
		uint64_t *v = hashtab__find(t, k * 4096);

		assert_non_null(v);
		assert_int_equal(*v, k);
	}
	assert_null(hashtab__find(t, 4096 * N));
	assert_null(hashtab__find(t, 1));
	assert_true(hashtab__mem_bytes(t) > first);
	/* 2^19 slots of 16 bytes hold 200,000 entries at most half full; not 2^20. */
	assert_true(hashtab__mem_bytes(t) < (1u << 20) * 16);
	hashtab__free(t);
}

/* Random puts and deletes in a small key space, checked against a plain array after each step. */
static void test_delete_against_model(void **state)
{
	enum { KEYS = 64, STEPS = 20000 };
	uint64_t model[KEYS], seed = 0x9e3779b97f4a7c15ULL;
	bool present[KEYS] = {false};
	struct hashtab *t = hashtab__new(0);
	size_t nr = 0;

	for (int step = 0; step < STEPS; step++) {
		uint64_t r = rng_next(&seed);
		size_t k = r % KEYS;
		/* Keys far apart and near each other alike; the key space keeps clusters forming.
		 */
		uint64_t key = (k % 2) ? k << 40 : k;

		if (r >> 63) {
			assert_int_equal(hashtab__delete(t, key), present[k]);
			nr -= present[k];
			present[k] = false;
		} else {
			assert_int_equal(hashtab__put(t, key, r), 0);
			nr += !present[k];
			present[k] = true;
			model[k] = r;
		}
		assert_int_equal(hashtab__count(t), nr);
		for (size_t j = 0; j < KEYS; j++) {
			uint64_t *v = hashtab__find(t, (j % 2) ? j << 40 : j);

			if (!present[j]) {
				assert_null(v);
				continue;
			}
			assert_non_null(v);
			assert_int_equal(*v, model[j]);
		}
	}
	hashtab__free(t);
}

struct str_ctx {
	const char *const *strs;
	const char *want;
};

static bool str_match(uint64_t value, const void *ctx_)
{
	const struct str_ctx *ctx = ctx_;

	return !strcmp(ctx->strs[value], ctx->want);
}

/* Entries under one hash stay apart: the match function picks among them. */
static void test_collisions_under_one_hash(void **state)
{
	static const char *const strs[] = {"alpha", "beta", "gamma", "delta", "epsilon"};
	struct hashtab *t = hashtab__new(0);
	struct str_ctx ctx = {.strs = strs};
	uint64_t *v;

	for (uint64_t i = 0; i < 5; i++)
		assert_int_equal(hashtab__add(t, 42, i), 0);
	/* A neighbour under another hash does not confuse the cluster. */
	assert_int_equal(hashtab__add(t, 43, 0), 0);
	assert_int_equal(hashtab__count(t), 6);
	for (size_t i = 0; i < 5; i++) {
		ctx.want = strs[i];
		v = hashtab__find_match(t, 42, str_match, &ctx);
		assert_non_null(v);
		assert_int_equal(*v, i);
	}
	ctx.want = "zeta";
	assert_null(hashtab__find_match(t, 42, str_match, &ctx));
	ctx.want = "beta";
	assert_null(hashtab__find_match(t, 44, str_match, &ctx));
	v = hashtab__find_match(t, 43, str_match, &(struct str_ctx){strs, "alpha"});
	assert_non_null(v);
	assert_int_equal(*v, 0);
	hashtab__free(t);
}

/* After reserve(n) the table does not grow until it holds n: the room is already there. */
static void test_reserve_and_clear(void **state)
{
	struct hashtab *t = hashtab__new(0);
	size_t mem;

	assert_int_equal(hashtab__reserve(t, 1000), 0);
	mem = hashtab__mem_bytes(t);
	for (uint64_t k = 0; k < 1000; k++)
		assert_int_equal(hashtab__add(t, k, k), 0);
	assert_int_equal(hashtab__mem_bytes(t), mem);
	/* Past the room reserved (rounded up), it grows again. */
	for (uint64_t k = 1000; hashtab__mem_bytes(t) == mem; k++) {
		assert_true(k < 4096);
		assert_int_equal(hashtab__put(t, k, k), 0);
	}
	mem = hashtab__mem_bytes(t);
	hashtab__clear(t);
	assert_int_equal(hashtab__count(t), 0);
	assert_int_equal(hashtab__mem_bytes(t), mem);
	assert_null(hashtab__find(t, 5));
	assert_int_equal(hashtab__put(t, 5, 50), 0);
	assert_int_equal(*hashtab__find(t, 5), 50);
	/* Reserving less than there is room for changes nothing. */
	assert_int_equal(hashtab__reserve(t, 10), 0);
	assert_int_equal(hashtab__mem_bytes(t), mem);
	assert_int_equal(hashtab__reserve(t, SIZE_MAX / 2), -ENOMEM);
	assert_int_equal(*hashtab__find(t, 5), 50);
	hashtab__free(t);
}

/* Iteration sees every entry once, and values can be rewritten through it. */
static void test_iteration(void **state)
{
	enum { N = 1000 };
	struct hashtab *t = hashtab__new(0);
	uint64_t key, *value, sum = 0, count = 0;
	size_t pos = 0;

	for (uint64_t k = 1; k <= N; k++)
		assert_int_equal(hashtab__put(t, k, k * 2), 0);
	for (uint64_t k = 2; k <= N; k += 2)
		assert_true(hashtab__delete(t, k));
	while (hashtab__next(t, &pos, &key, &value)) {
		assert_int_equal(key % 2, 1);
		assert_int_equal(*value, key * 2);
		sum += key;
		count++;
		*value = key;
	}
	assert_int_equal(count, N / 2);
	assert_int_equal(sum, (uint64_t)(N / 2) * (N / 2));
	assert_false(hashtab__next(t, &pos, &key, &value));
	assert_int_equal(*hashtab__find(t, 999), 999);
	hashtab__free(t);
}

/* The published FNV-1a 64 test vectors (the FNV reference, fnv_test_vectors). */
static void test_fnv1a_vectors(void **state)
{
	assert_true(fnv1a_bytes(FNV1A_SEED, "", 0) == 0xcbf29ce484222325ULL);
	assert_true(fnv1a_bytes(FNV1A_SEED, "a", 1) == 0xaf63dc4c8601ec8cULL);
	assert_true(fnv1a_bytes(FNV1A_SEED, "foobar", 6) == 0x85944171f73967e8ULL);
	/* In pieces as at once. */
	assert_true(fnv1a_bytes(fnv1a_bytes(FNV1A_SEED, "foo", 3), "bar", 3) ==
		    0x85944171f73967e8ULL);
}

/*
 * The stack ids the BPF side makes and user space recomputes (collect.c) must never change: pinned
 * to values computed by hand, and to fnv1a_u64() from the seed lt_stack_hash documents.
 */
static void test_stack_hash_pinned(void **state)
{
	const __u64 ips[] = {0x401136, 0x7f1234567890, 0x55555555a0b1};
	uint64_t h = FNV1A_SEED ^ 1234;

	assert_true(lt_stack_hash(1234, 0, 0, ips, 3) == 0xb7dc825715419818ULL);
	assert_true(lt_stack_hash(1234, 0, 7, ips, 3) == 0xbd8f3df215419818ULL);
	/* Another image of the same process: another id for the same addresses. */
	assert_true(lt_stack_hash(1234, 5, 0, ips, 3) == 0xb133825715419818ULL);
	for (size_t i = 0; i < 3; i++)
		h = fnv1a_u64(h, ips[i]);
	assert_true(lt_stack_hash(1234, 0, 0, ips, 3) == h);
	/* No frames and no pid: the seed itself. */
	assert_true(lt_stack_hash(0, 0, 0, ips, 0) == FNV1A_SEED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_put_find_replace),
	    cmocka_unit_test(test_extreme_keys),
	    cmocka_unit_test(test_grow_many_keys),
	    cmocka_unit_test(test_delete_against_model),
	    cmocka_unit_test(test_collisions_under_one_hash),
	    cmocka_unit_test(test_reserve_and_clear),
	    cmocka_unit_test(test_iteration),
	    cmocka_unit_test(test_fnv1a_vectors),
	    cmocka_unit_test(test_stack_hash_pinned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
