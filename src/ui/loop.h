/* loop.h: waits on the traced processes, a timer, an input fd and the stop signal. */
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

#endif
