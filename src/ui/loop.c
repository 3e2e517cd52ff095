/* loop.c: the one event loop of every mode: timed jobs, input, traced processes, stop signals. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/yield.h"
#include "ui/loop.h"

int loop_add_source(struct loop *l, int fd, int (*ready)(void *ctx), void *ctx)
{
	if (l->nr_sources == LOOP_MAX_SOURCES)
		return -ENOSPC;
	l->sources[l->nr_sources++] = (struct loop_source){ .fd = fd, .ready = ready, .ctx = ctx };
	return 0;
}

/*
 * Waits until wake_ns (CLOCK_MONOTONIC; 0 = no timer) passes, a source or the input is readable,
 * *stop becomes non-zero, nothing traced is alive, or a signal interrupts the wait; the first of
 * these that holds is returned, in the order STOP, EXITED, TIMER, SOURCE, INPUT, INTERRUPT, with
 * *source the readable source's index. An enum loop_event, or -errno when poll fails.
 */
static int loop_wait(const struct loop *l, uint64_t wake_ns, size_t *source)
{
	struct pollfd pfds[LOOP_MAX_SOURCES + 1];
	size_t nfds = 0;
	sigset_t old;
	int ret = 0;

	for (size_t i = 0; i < l->nr_sources; i++)
		pfds[nfds++] = (struct pollfd){ .fd = l->sources[i].fd, .events = POLLIN };
	pfds[nfds++] = (struct pollfd){ .fd = l->input_fd, .events = POLLIN };
	if (l->stop_signals)
		sigprocmask(SIG_BLOCK, l->stop_signals, &old);
	while (!ret) {
		struct timespec ts, *tsp = NULL;
		uint64_t now = now_ns();
		int n;

		if (*l->stop)
			ret = LOOP_STOP;
		else if (l->alive && !l->alive(l->alive_ctx))
			ret = LOOP_EXITED;
		else if (wake_ns && now >= wake_ns)
			ret = LOOP_TIMER;
		if (ret)
			break;
		if (wake_ns) {
			ts.tv_sec = (wake_ns - now) / 1000000000ULL;
			ts.tv_nsec = (wake_ns - now) % 1000000000ULL;
			tsp = &ts;
		}
		/* Stop signals are unblocked only inside ppoll: one that came before is pending. A
		 * negative fd (no input) is skipped by poll. */
		n = ppoll(pfds, nfds, tsp, l->stop_signals ? &old : NULL);
		if (n < 0 && errno != EINTR) {
			ret = -errno;
			break;
		}
		if (n < 0 && !*l->stop) {
			ret = LOOP_INTERRUPT;
			break;
		}
		for (size_t i = 0; n > 0 && !ret && i < l->nr_sources; i++) {
			if (pfds[i].revents) {
				*source = i;
				ret = LOOP_SOURCE;
			}
		}
		if (n > 0 && !ret && pfds[nfds - 1].revents)
			ret = LOOP_INPUT;
	}
	if (l->stop_signals)
		sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}

struct loop_job *loop_add(struct loop *l, int (*run)(void *ctx), void *ctx, uint64_t first_ns,
			  uint64_t period_ns)
{
	struct loop_job *j;

	if (l->nr_jobs == LOOP_MAX_JOBS)
		return NULL;
	j = &l->jobs[l->nr_jobs++];
	*j = (struct loop_job){ .run = run, .ctx = ctx, .period_ns = period_ns,
				.next_ns = first_ns };
	return j;
}

/* Runs the first job due at now, if any: 0 when none was, else what it returned (or 0). */
static int run_due(struct loop *l, uint64_t now, bool *ran)
{
	for (size_t i = 0; i < l->nr_jobs; i++) {
		struct loop_job *j = &l->jobs[i];
		int ret;

		if (!j->next_ns || now < j->next_ns)
			continue;
		yield_restart();
		ret = j->run(j->ctx);
		j->last_ns = now_ns();
		if (!j->period_ns) {
			j->next_ns = 0;
		} else {
			j->next_ns += j->period_ns;
			if (j->next_ns <= j->last_ns)
				j->next_ns = j->last_ns + j->period_ns;
		}
		*ran = true;
		return ret;
	}
	*ran = false;
	return 0;
}

/* The earliest of the end and the jobs' next runs; 0 when nothing is timed. */
static uint64_t next_wake(const struct loop *l)
{
	uint64_t wake = l->end_ns;

	for (size_t i = 0; i < l->nr_jobs; i++) {
		if (l->jobs[i].next_ns && (!wake || l->jobs[i].next_ns < wake))
			wake = l->jobs[i].next_ns;
	}
	return wake;
}

int loop_run(struct loop *l)
{
	for (;;) {
		uint64_t now = now_ns();
		size_t source = 0;
		bool ran;
		int ret;

		if (l->end_ns && now >= l->end_ns)
			return 0;
		ret = run_due(l, now, &ran);
		if (ret)
			return ret < 0 ? ret : 0;
		/* One job at a time: the end, a stop or another due job may have come meanwhile. */
		if (ran && !*l->stop)
			continue;
		ret = loop_wait(l, next_wake(l), &source);
		if (ret < 0) {
			log_error("cannot wait for events: %s", strerror(-ret));
			return ret;
		}
		if (ret == LOOP_STOP || ret == LOOP_EXITED)
			return 0;
		if (ret == LOOP_SOURCE) {
			ret = l->sources[source].ready(l->sources[source].ctx);
			if (ret)
				return ret < 0 ? ret : 0;
			continue;
		}
		if ((ret == LOOP_INPUT || ret == LOOP_INTERRUPT) && l->on_input) {
			ret = l->on_input(l->input_ctx, ret);
			if (ret)
				return ret < 0 ? ret : 0;
		}
	}
}
