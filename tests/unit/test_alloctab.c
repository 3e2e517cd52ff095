/* test_alloctab.c: the sizes of the allocation table's tiers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bpf/leaktop.h"
#include "trace/alloctab.h"

/* The tiers of a table add up to its entries exactly, each 4 times the one before but the last. */
static void test_tiers_add_up(void **state)
{
	const uint32_t sizes[] = { 1, 1000, 16383, 16384, 16385, 81920, 100000, 1000000, 1u << 27 };

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint64_t total = 0;
		uint32_t n, prev = 0;
		unsigned int i;

		for (i = 0; (n = alloctab_tier_entries(sizes[s], i)); i++) {
			assert_true(i < LT_ALLOC_TIERS);
			if (i)
				assert_true(n <= (uint64_t)prev * LT_ALLOC_TIER_GROWTH);
			prev = n;
			total += n;
		}
		assert_int_equal(total, sizes[s]);
		assert_int_equal(alloctab_tier_entries(sizes[s], i + 1), 0);
	}
}

static void test_tier_sizes(void **state)
{
	/* The default, 1,000,000: 16384, 65536, 262144, and the rest. */
	assert_int_equal(alloctab_tier_entries(1000000, 0), 16384);
	assert_int_equal(alloctab_tier_entries(1000000, 1), 65536);
	assert_int_equal(alloctab_tier_entries(1000000, 2), 262144);
	assert_int_equal(alloctab_tier_entries(1000000, 3), 1000000 - 16384 - 65536 - 262144);
	assert_int_equal(alloctab_tier_entries(1000000, 4), 0);
	/* A table smaller than the first tier is one tier. */
	assert_int_equal(alloctab_tier_entries(1000, 0), 1000);
	assert_int_equal(alloctab_tier_entries(1000, 1), 0);
	assert_int_equal(alloctab_tier_entries(16384, 0), 16384);
	assert_int_equal(alloctab_tier_entries(16384, 1), 0);
	assert_int_equal(alloctab_tier_entries(16385, 1), 1);
	/* The kernel's largest hash map, 2^27: the eighth tier holds the rest. */
	assert_int_equal(alloctab_tier_entries(1u << 27, 6), 16384u << 12);
	assert_int_equal(alloctab_tier_entries(1u << 27, 7), (1u << 27) - 16384u * 5461);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tiers_add_up),
		cmocka_unit_test(test_tier_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
