/* loop.h: the one event loop of every mode: timed jobs, input, traced processes, stop signals. */
#ifndef LT_LOOP_H
#define LT_LOOP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum loop_event {
	LOOP_TIMER = 1,	/* wake_ns has passed */
	LOOP_INPUT,	/* input_fd is readable (or hung up) */
	LOOP_STOP,	/* *stop is set */
	LOOP_EXITED,	/* nothing traced is left alive */
	LOOP_INTERRUPT,	/* another signal interrupted the wait (SIGWINCH, for the view) */
	LOOP_SOURCE,	/* a source's descriptor is readable */
};

/* What a job or the input handler returns to end the run without a failure (q, --iterations). */
#define LOOP_DONE 1
/* Jobs a loop holds: a mode's own (frames or reports, metrics) and the maintenance of tracing. */
#define LOOP_MAX_JOBS 8
/* Descriptors a loop watches besides the input: the traced processes' events, ptrace's SIGCHLD. */
#define LOOP_MAX_SOURCES 4

/* Work the loop does on a timer. */
struct loop_job {
	int (*run)(void *ctx);	/* 0 goes on, LOOP_DONE ends the run, -errno fails it */
	void *ctx;
	uint64_t period_ns;	/* 0: runs once */
	uint64_t next_ns;	/* CLOCK_MONOTONIC time it is due; 0: not scheduled */
	uint64_t last_ns;	/* when it last ran; set by the loop */
};

/* A descriptor the loop watches: ready() runs whenever it is readable, as a job runs. */
struct loop_source {
	int fd;
	int (*ready)(void *ctx);	/* 0 goes on, LOOP_DONE ends the run, -errno fails it */
	void *ctx;
};

/*
 * A run: how it stops, its jobs, the descriptors it watches and its input. The caller fills the
 * fields and adds the jobs (loop_add()); loop_run() runs them.
 *
 * The failure policy, the same in every mode: a job (or the input handler, or the wait itself)
 * that fails ends the run at once, with its error, and no other job runs after it. The one that
 * failed has logged why. The mode then restores what it holds (the terminal) and leaktop writes
 * no final report and exits 1. No failure is ignored or retried: a reading that failed, a report
 * not written, metrics or unwind tables left stale would all go on showing figures that are no
 * longer true, with nothing to say so.
 */
struct loop {
	const volatile sig_atomic_t *stop;	/* set by the signal handler: stop now */
	const sigset_t *stop_signals;		/* their handler sets *stop */
	uint64_t end_ns;			/* -d: CLOCK_MONOTONIC end of the run; 0 = none */
	struct loop_job jobs[LOOP_MAX_JOBS];	/* of several due, the first added runs first */
	size_t nr_jobs;
	struct loop_source sources[LOOP_MAX_SOURCES];
	size_t nr_sources;
	/* Whether anything traced is still alive: asked before each wait; NULL: the run never ends
	 * that way. */
	bool (*alive)(void *ctx);
	void *alive_ctx;
	int input_fd;				/* -1: none */
	/* Called when input_fd is readable or a signal (SIGWINCH) interrupts the wait: as run(). */
	int (*on_input)(void *ctx, int event);
	void *input_ctx;
};

/*
 * Adds a job that first runs at first_ns (CLOCK_MONOTONIC), then every period_ns (0: once). After
 * each run the next is due one period after the one scheduled, or one period from now when the
 * run came late (a stall), so a cadence is kept without bursts. Returns the job, whose period the
 * caller may change between runs, or NULL when the table is full.
 */
struct loop_job *loop_add(struct loop *l, int (*run)(void *ctx), void *ctx, uint64_t first_ns,
			  uint64_t period_ns);

/* Watches fd: ready(ctx) runs when it is readable. 0, or -ENOSPC when the table is full. */
int loop_add_source(struct loop *l, int fd, int (*ready)(void *ctx), void *ctx);

/*
 * Runs the jobs as they fall due, the sources' handlers and the input handler when their
 * descriptors are readable, until the end time, a stop signal (stop_signals, blocked outside the
 * wait so that one arriving just before it is not missed), nothing traced left alive, or
 * LOOP_DONE from a handler: then 0. On a failure, the error (see the failure policy above):
 * -errno.
 */
int loop_run(struct loop *l);

#endif
