/* loop.h: the one event loop of every mode: timed jobs, input, traced processes, stop signals. */
#ifndef LT_LOOP_H
#define LT_LOOP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One traced process. */
struct loop_target {
	int pid;
	int pidfd;	/* readable once the process has exited; -1 when gone */
	bool child;	/* started by us: reap it */
};

enum loop_event {
	LOOP_TIMER = 1,	/* wake_ns has passed */
	LOOP_INPUT,	/* input_fd is readable (or hung up) */
	LOOP_STOP,	/* *stop is set */
	LOOP_EXITED,	/* every target has exited */
	LOOP_INTERRUPT,	/* another signal interrupted the wait (SIGWINCH, for the view) */
};

/* Opens t's pidfd for pid. 0, or -errno (-ESRCH: no such process). */
int loop_target_open(struct loop_target *t, int pid, bool child);

/* Closes t's pidfd, if open. */
void loop_target_close(struct loop_target *t);

/*
 * Waits until wake_ns (CLOCK_MONOTONIC; 0 = no timer) passes, input_fd (-1 = none) is readable,
 * *stop becomes non-zero, every target has exited, or a signal interrupts the wait; the first of
 * these that holds is returned, in the order STOP, EXITED, TIMER, INPUT, INTERRUPT. A target
 * that exits is logged at -v, reaped if it is our child, and its pidfd closed. stop_signals (may
 * be NULL) are the signals whose handler sets *stop: they are blocked outside the wait itself, so
 * that one arriving just before it cannot be missed. Returns an enum loop_event, or -errno when
 * poll fails.
 */
int loop_wait(struct loop_target *targets, size_t nr_targets, int input_fd, uint64_t wake_ns,
	      const volatile sig_atomic_t *stop, const sigset_t *stop_signals);

/* What a job or the input handler returns to end the run without a failure (q, --iterations). */
#define LOOP_DONE 1
/* Jobs a loop holds: a mode's own (frames or reports, metrics) and the maintenance of tracing. */
#define LOOP_MAX_JOBS 8

/* Work the loop does on a timer. */
struct loop_job {
	int (*run)(void *ctx);	/* 0 goes on, LOOP_DONE ends the run, -errno fails it */
	void *ctx;
	uint64_t period_ns;	/* 0: runs once */
	uint64_t next_ns;	/* CLOCK_MONOTONIC time it is due; 0: not scheduled */
	uint64_t last_ns;	/* when it last ran; set by the loop */
};

/*
 * A run: the processes it follows, how it stops, its jobs and its input. The caller fills the
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
	struct loop_target *targets;
	size_t nr_targets;
	const volatile sig_atomic_t *stop;	/* set by the signal handler: stop now */
	const sigset_t *stop_signals;		/* see loop_wait() */
	uint64_t end_ns;			/* -d: CLOCK_MONOTONIC end of the run; 0 = none */
	struct loop_job jobs[LOOP_MAX_JOBS];	/* of several due, the first added runs first */
	size_t nr_jobs;
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

/*
 * Runs the jobs as they fall due and the input handler on input, until the end time, a stop
 * signal, every target having exited, or LOOP_DONE from a job or the input handler: then 0. On a
 * failure, the error (see the failure policy above): -errno.
 */
int loop_run(struct loop *l);

#endif
