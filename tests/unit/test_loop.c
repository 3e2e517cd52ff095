/* test_loop.c: the one event loop: jobs on timers, the end of a run, and its failure policy. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/clock.h"
#include "ui/loop.h"

#define MS 1000000ull

/* A job that counts its runs, and returns fail_with at run number fail_at (from 1). */
struct counter {
	int runs;
	int fail_at;
	int fail_with;
	uint64_t first_ns;
	volatile sig_atomic_t *stop_at_run; /* set when runs reaches fail_at, instead of failing */
};

static int count(void *ctx)
{
	struct counter *c = ctx;

	if (!c->runs)
		c->first_ns = now_ns();
	c->runs++;
	if (c->fail_at && c->runs == c->fail_at) {
		if (c->stop_at_run) {
			*c->stop_at_run = 1;
			return 0;
		}
		return c->fail_with;
	}
	return 0;
}

static volatile sig_atomic_t no_stop;

static struct loop base(uint64_t run_ms)
{
	no_stop = 0;
	return (struct loop){ .stop = &no_stop, .input_fd = -1,
			      .end_ns = run_ms ? now_ns() + run_ms * MS : 0 };
}

/* Jobs run at their first time, then every period, until the end: then 0. */
static void test_jobs_and_end(void **state)
{
	struct loop l = base(450);
	struct counter every = { 0 }, once = { 0 }, off = { 0 };
	uint64_t start = now_ns();

	assert_non_null(loop_add(&l, count, &every, start, 100 * MS));
	assert_non_null(loop_add(&l, count, &once, start + 150 * MS, 0));
	assert_non_null(loop_add(&l, count, &off, 0, 10 * MS));
	assert_int_equal(loop_run(&l), 0);
	assert_true(now_ns() - start >= 450 * MS);
	assert_int_equal(every.runs, 5); /* 0, 100, 200, 300, 400 ms */
	assert_int_equal(once.runs, 1);
	assert_true(once.first_ns - start >= 150 * MS);
	assert_int_equal(off.runs, 0);
}

/* The policy: the first failure ends the run with its error; no job runs after it. */
static void test_failure_ends_the_run(void **state)
{
	struct loop l = base(10000);
	struct counter failing = { .fail_at = 3, .fail_with = -EIO }, after = { 0 };
	uint64_t start = now_ns();

	assert_non_null(loop_add(&l, count, &failing, start, 10 * MS));
	/* Due at the same times, but added after: it runs after the failing one each time. */
	assert_non_null(loop_add(&l, count, &after, start, 10 * MS));
	assert_int_equal(loop_run(&l), -EIO);
	assert_int_equal(failing.runs, 3);
	assert_int_equal(after.runs, 2);
	assert_true(now_ns() - start < 1000 * MS);
}

/* LOOP_DONE ends the run as a success (q, --iterations). */
static void test_done(void **state)
{
	struct loop l = base(0);
	struct counter done = { .fail_at = 4, .fail_with = LOOP_DONE };

	assert_non_null(loop_add(&l, count, &done, now_ns(), 5 * MS));
	assert_int_equal(loop_run(&l), 0);
	assert_int_equal(done.runs, 4);
}

/* A stop signal's flag, set while a job runs, ends the run before any other job. */
static void test_stop(void **state)
{
	struct loop l = base(10000);
	struct counter stopper = { .fail_at = 2, .stop_at_run = &no_stop }, other = { 0 };
	uint64_t start = now_ns();

	assert_non_null(loop_add(&l, count, &stopper, start, 10 * MS));
	/* Due with the stopper each time, after it: its second run never comes. */
	assert_non_null(loop_add(&l, count, &other, start, 10 * MS));
	assert_int_equal(loop_run(&l), 0);
	assert_int_equal(stopper.runs, 2);
	assert_int_equal(other.runs, 1);
}

struct input {
	int fd, calls, ret;
};

static int on_input(void *ctx, int event)
{
	struct input *in = ctx;
	char c;

	assert_int_equal(event, LOOP_INPUT);
	assert_int_equal(read(in->fd, &c, 1), 1);
	in->calls++;
	return in->ret;
}

/* The input handler follows the same rule as a job: its failure ends the run. */
static void test_input_failure(void **state)
{
	struct loop l = base(10000);
	struct input in = { .ret = -ENOMEM };
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	in.fd = l.input_fd = fds[0];
	l.on_input = on_input;
	l.input_ctx = &in;
	assert_int_equal(write(fds[1], "x", 1), 1);
	assert_int_equal(loop_run(&l), -ENOMEM);
	assert_int_equal(in.calls, 1);
	close(fds[0]);
	close(fds[1]);
}

/* A process watched through its pidfd, as a source; alive until its handler reaps it. */
struct watched {
	pid_t pid;
	int pidfd;
	int reaped;
};

static int reap_watched(void *ctx)
{
	struct watched *w = ctx;

	w->reaped += waitpid(w->pid, NULL, WNOHANG) == w->pid;
	return 0;
}

static bool watched_alive(void *ctx)
{
	return !((struct watched *)ctx)->reaped;
}

/* Nothing traced left alive (a source's handler saw the last one go): the run ends with 0. */
static void test_targets_exit(void **state)
{
	struct loop l = base(10000);
	struct counter tick = { 0 };
	struct watched w = { .pid = fork() };

	assert_true(w.pid >= 0);
	if (!w.pid) {
		usleep(30000);
		_exit(0);
	}
	w.pidfd = (int)syscall(SYS_pidfd_open, w.pid, 0);
	assert_true(w.pidfd >= 0);
	assert_int_equal(loop_add_source(&l, w.pidfd, reap_watched, &w), 0);
	l.alive = watched_alive;
	l.alive_ctx = &w;
	assert_non_null(loop_add(&l, count, &tick, now_ns(), 5 * MS));
	assert_int_equal(loop_run(&l), 0);
	assert_true(tick.runs >= 2);
	assert_int_equal(w.reaped, 1);
	assert_int_equal(waitpid(w.pid, NULL, WNOHANG), -1); /* reaped already */
	close(w.pidfd);
}

/* A late run keeps the cadence without a burst of catching up. */
static void test_no_burst_after_a_stall(void **state)
{
	struct loop l = base(0);
	struct loop_job *j;
	struct counter c = { .fail_at = 3, .fail_with = LOOP_DONE };
	uint64_t start = now_ns();

	j = loop_add(&l, count, &c, start - 100 * MS, 10 * MS); /* ten periods late */
	assert_non_null(j);
	assert_int_equal(loop_run(&l), 0);
	assert_int_equal(c.runs, 3);
	assert_true(now_ns() - start >= 20 * MS);
}

static void test_table_full(void **state)
{
	struct loop l = base(0);
	struct counter c = { 0 };

	for (size_t i = 0; i < LOOP_MAX_JOBS; i++)
		assert_non_null(loop_add(&l, count, &c, 0, 0));
	assert_null(loop_add(&l, count, &c, 0, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jobs_and_end),
		cmocka_unit_test(test_failure_ends_the_run),
		cmocka_unit_test(test_done),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_input_failure),
		cmocka_unit_test(test_targets_exit),
		cmocka_unit_test(test_no_burst_after_a_stall),
		cmocka_unit_test(test_table_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
