/* procset.h: the processes a run traces: those given, those they fork, their execs and exits. */
#ifndef LT_PROCSET_H
#define LT_PROCSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace/attach.h"

struct procview;
struct tracer;
struct unwinder;

struct procset_opts {
	struct tracer *tracer;
	struct procview *pv;
	struct unwinder *unwinder;	/* NULL with --unwind fp */
	bool no_probe_shift;		/* attach_opts.no_probe_shift */
	bool follow;			/* the processes traced ones fork are traced too */
	/*
	 * Command mode: ptrace holds each new process and each exec until procset__add() or
	 * procset__exec_ready() has run (proc/follow.c), so nothing runs untraced. Without it (-p),
	 * a forked child runs while its probes are attached: that gap is measured.
	 */
	bool held;
	/* --track without heap: processes are followed (forks, execs, exits), with no probes. */
	bool no_probes;
};

enum procset_state {
	PROCSET_TRACED = 0,	/* probes in place */
	PROCSET_EXITED,		/* it was traced, and exited */
	PROCSET_REFUSED,	/* it could not be traced (err says why; -ESRCH: gone first) */
};

/* One process of the run. */
struct procset_proc {
	int pid;		/* as leaktop sees it (the host's pid namespace) */
	int nspid;		/* in its own pid namespace (a container's); = pid when the same */
	int ppid;		/* the traced process that forked it; 0 for one given */
	char comm[16];		/* its name, as of its last exec */
	bool followed;		/* forked by a traced process after the run began */
	enum procset_state state;
	int err;		/* PROCSET_REFUSED: -errno */
	uint32_t execs;		/* execs since it was traced */
	uint64_t gap_ns;	/* followed, not held: from its fork until its probes were in place */
};

struct procset_counts {
	unsigned int traced;	/* alive, probes in place */
	unsigned int given;	/* given on the command line (-p, the command) */
	unsigned int followed;	/* forked by traced processes since */
	unsigned int exited;
	unsigned int refused;
	uint64_t gap_ns;	/* the followed processes' gaps added up */
	uint64_t max_gap_ns;
};

struct procset;

/*
 * An empty set over o's tracer, view and unwinder (borrowed: they outlive the set). Reads the
 * tracer's ring buffer of forks, execs and exits. NULL and errno.
 */
struct procset *procset__new(const struct procset_opts *o);

/*
 * Traces pid, a process given (ppid 0), or one forked by the traced process ppid (fork_ns:
 * CLOCK_MONOTONIC of the fork; its gap is counted from there unless new processes are held):
 * the BPF side is told of it, its unwind tables are loaded, its allocator entry points probed.
 * 0 when traced (or already); else -errno, recorded with the process (PROCSET_REFUSED) and
 * logged by attach (but -ESRCH: gone before it could be traced).
 */
int procset__add(struct procset *ps, int pid, int ppid, uint64_t fork_ns);

/*
 * Held mode: pid, stopped after an exec with the new image's libraries mapped, gets the new
 * image's probes (those of files it maps again it kept) and unwind tables. 0 or -errno.
 */
int procset__exec_ready(struct procset *ps, int pid);

/* pid exited (its exit seen by the caller, ptrace's): its probes are detached. */
void procset__exited(struct procset *ps, int pid);

/*
 * Handles the forks, execs and exits the BPF side has told since the last call (without
 * blocking), retries the probes of execs still waiting for their libraries, and once a second
 * checks that the processes thought alive are (an exit whose event was lost). 0 or -ENOMEM.
 */
int procset__service(struct procset *ps);

/*
 * Called from inside long work on the main loop (base/yield.h): puts in at once the probes of
 * the processes traced ones have forked since, from their parents' (a child's allocations go
 * unseen until then). Every event it reads is handled, in order, by the next procset__service().
 * Nothing when called from inside procset__service() or procset__add(), or when new processes
 * are held (they wait for their probes anyway).
 */
void procset__urgent(struct procset *ps);

/* Whether processes have exited whose blocks procset__release_exited() would release. */
bool procset__releasable(const struct procset *ps);

/* Most processes released by one call of procset__release_exited(). */
#define PROCSET_RELEASE_MAX 4096

/*
 * Not held (-p, discovery): when the allocation table holds more than half of max_allocs
 * (outstanding_allocs, from a reading), releases the blocks of the processes that exited, once
 * each (tracer__release_exited(), counted in exited_released): they hold no memory any more, and
 * the live processes need the room. Held (command mode) never releases: each process's blocks at
 * its exit are its leak report. Returns the number of processes released, or -errno (logged; no
 * further try).
 */
int procset__release_exited(struct procset *ps, uint64_t outstanding_allocs, uint32_t max_allocs);

/* As procset__service(), and checks now which processes are gone: before a final report. */
int procset__settle(struct procset *ps);

/* The descriptor that is readable when the BPF side has told something: call procset__service(). */
int procset__fd(const struct procset *ps);

/* Processes traced and alive. */
unsigned int procset__nr_alive(const struct procset *ps);

/* The processes of the run, in the order they came: i from 0 to procset__nr() - 1. */
size_t procset__nr(const struct procset *ps);
const struct procset_proc *procset__proc(const struct procset *ps, size_t i);

/* Why a process was not traced, as a phrase ("exited before it could be traced"). */
const char *procset_reason(int err);

void procset__counts(const struct procset *ps, struct procset_counts *c);

/* NULL-safe. Detaches nothing: tracer__free() does. */
void procset__free(struct procset *ps);

#endif
