/* test_yield.c: long work gives way to urgent work at most once a period, never nested. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/clock.h"
#include "base/yield.h"

#define MS 1000000ull

static int calls;

static void urgent(void *ctx)
{
	(void)ctx;
	calls++;
	/* A point reached from inside the urgent work itself does not call it again. */
	for (int i = 0; i < 1000; i++)
		yield_point();
}

/* Points for dur_ns of busy work. */
static void work(uint64_t dur_ns)
{
	uint64_t end = now_ns() + dur_ns;

	while (now_ns() < end)
		yield_point();
}

static void test_period(void **state)
{
	(void)state;
	calls = 0;
	yield_set(urgent, NULL, 10 * MS);
	work(5 * MS);
	assert_int_equal(calls, 0); /* not due before its period */
	work(8 * MS);
	assert_int_equal(calls, 1);
	work(55 * MS);
	/* once per period at most: 13 + 55 ms of work with 10 ms periods (fewer if preempted) */
	assert_in_range(calls, 1, 6);
	yield_set(NULL, NULL, 0);
	calls = 0;
	work(20 * MS);
	assert_int_equal(calls, 0);
}

static void *other_thread(void *arg)
{
	(void)arg;
	work(30 * MS);
	return NULL;
}

static void test_other_threads_never_call(void **state)
{
	pthread_t th;

	(void)state;
	calls = 0;
	yield_set(urgent, NULL, 1 * MS);
	assert_int_equal(pthread_create(&th, NULL, other_thread, NULL), 0);
	pthread_join(th, NULL);
	assert_int_equal(calls, 0);
	yield_set(NULL, NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_period),
		cmocka_unit_test(test_other_threads_never_call),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
