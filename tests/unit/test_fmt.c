/* test_fmt.c: sizes, rates and durations as every human-facing output writes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <cmocka.h>

#include "base/fmt.h"

static void test_bytes(void **state)
{
	char b[32];

	fmt_bytes(b, sizeof(b), 0);
	assert_string_equal(b, "0 B");
	fmt_bytes(b, sizeof(b), 512);
	assert_string_equal(b, "512 B");
	fmt_bytes(b, sizeof(b), 1536);
	assert_string_equal(b, "1.5 KiB");
	fmt_bytes(b, sizeof(b), 6400);
	assert_string_equal(b, "6.2 KiB");
	fmt_bytes(b, sizeof(b), 2097152);
	assert_string_equal(b, "2.0 MiB");
	fmt_bytes(b, sizeof(b), 1023.96 * 1024);
	assert_string_equal(b, "1.0 MiB");
	fmt_bytes(b, sizeof(b), -3200);
	assert_string_equal(b, "-3.1 KiB");
	fmt_bytes(b, sizeof(b), 5.0 * (1ULL << 30));
	assert_string_equal(b, "5.0 GiB");
}

static void test_rate(void **state)
{
	char b[FMT_LEN];

	fmt_rate(b, sizeof(b), 0);
	assert_string_equal(b, "0 B/s");
	fmt_rate(b, sizeof(b), 3200);
	assert_string_equal(b, "+3.1 KiB/s");
	fmt_rate(b, sizeof(b), 0.3);
	assert_string_equal(b, "+0.3 B/s");
	fmt_rate(b, sizeof(b), -12);
	assert_string_equal(b, "-12 B/s");
	fmt_rate(b, sizeof(b), -1536);
	assert_string_equal(b, "-1.5 KiB/s");
	fmt_rate(b, sizeof(b), NAN);
	assert_string_equal(b, "-");
	fmt_rate(b, sizeof(b), INFINITY);
	assert_string_equal(b, "-");
}

static void test_duration(void **state)
{
	char b[FMT_LEN];

	fmt_duration(b, sizeof(b), 0);
	assert_string_equal(b, "0.0s");
	fmt_duration(b, sizeof(b), 4.2);
	assert_string_equal(b, "4.2s");
	fmt_duration(b, sizeof(b), 59.9);
	assert_string_equal(b, "59.9s");
	fmt_duration(b, sizeof(b), 62);
	assert_string_equal(b, "1m02s");
	fmt_duration(b, sizeof(b), 125.5);
	assert_string_equal(b, "2m05s");
	fmt_duration(b, sizeof(b), 3725);
	assert_string_equal(b, "1h02m");
	fmt_duration(b, sizeof(b), 90061);
	assert_string_equal(b, "25h01m");
	fmt_duration(b, sizeof(b), -1);
	assert_string_equal(b, "-");
	fmt_duration(b, sizeof(b), NAN);
	assert_string_equal(b, "-");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_duration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
