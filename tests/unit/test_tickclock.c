/* test_tickclock.c: the kernel's tick fitted from two ticks seen: its HZ, and the clock's base. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "trace/tickclock.h"

/* jiffies_64 starts 5 minutes before it wraps a 32-bit count (INITIAL_JIFFIES). */
#define J0(hz) (0x100000000ull - 300ull * (hz))

/* Each HZ from ticks seen a few microseconds late, its TICK_NSEC, and the base of the earlier. */
static void test_each_hz(void **state)
{
	static const struct {
		unsigned int hz;
		uint64_t tick;
	} cases[] = { { 100, 10000000 }, { 250, 4000000 }, { 300, 3333333 }, { 1000, 1000000 } };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t tick = cases[i].tick, j1 = J0(cases[i].hz) + 12345, t1 = 777000000000ull;
		struct tickclock tc;

		/* the second tick seen 3 us later than it came, the first 1 us */
		assert_int_equal(tickclock_fit(t1 + 1000, j1, t1 + tick + 3000, j1 + 1, &tc), 0);
		assert_int_equal(tc.hz, cases[i].hz);
		assert_int_equal(tc.tick_ns, tick);
		/* the earlier: the first tick's time, one tick on */
		assert_int_equal((j1 + 1) * tick - tc.base, t1 + 1000 + tick);
		/* the count 1000 ticks past j1: that many ticks past the first tick's time */
		assert_int_equal((j1 + 1000) * tick - tc.base, t1 + 1000 + 1000 * tick);
	}
}

/* Ticks that are not consecutive counts: the step between them is what is fitted. */
static void test_ticks_apart(void **state)
{
	struct tickclock tc;

	(void)state;
	assert_int_equal(tickclock_fit(5000000, 900, 5000000 + 3 * 4000000 - 2000, 903, &tc), 0);
	assert_int_equal(tc.hz, 250);
	/* the second, seen 2 us sooner than 3 ticks after the first, sets the base */
	assert_int_equal(903 * 4000000ull - tc.base, 5000000 + 3 * 4000000 - 2000);
}

/* No HZ within 5% (a VM paused between the ticks), and readings that go backwards. */
static void test_misfits(void **state)
{
	struct tickclock tc = { 0 };

	(void)state;
	assert_int_equal(tickclock_fit(0, 10, 4300000, 11, &tc), -ETIME);
	assert_int_equal(tickclock_fit(0, 10, 2000000, 11, &tc), -ETIME);
	assert_int_equal(tickclock_fit(0, 10, 25000000, 11, &tc), -ETIME);
	assert_int_equal(tickclock_fit(1000, 10, 1000, 11, &tc), -EINVAL);
	assert_int_equal(tickclock_fit(0, 11, 4000000, 11, &tc), -EINVAL);
	assert_int_equal(tc.tick_ns, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_hz),
		cmocka_unit_test(test_ticks_apart),
		cmocka_unit_test(test_misfits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
