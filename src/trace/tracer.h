/* tracer.h: the BPF skeleton's life: open, size the maps, load, attach probes, detach. */
#ifndef LT_TRACER_H
#define LT_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/leaktop.h"

struct tracer_opts {
	uint32_t max_allocs;	/* entries of the live-allocation table */
	uint32_t max_stacks;	/* entries of the stack and per-stack totals tables */
	uint64_t min_size;	/* bytes; allocations below are not recorded */
	uint64_t max_size;	/* bytes; 0 = no limit */
	uint64_t sample_rate;	/* mean bytes between samples; 0 = record every allocation */
	bool no_session;	/* never use uprobe session links (the classic fallback) */
	bool empty_programs;	/* attach no-op programs instead (the benchmark's probe floor) */
	uint32_t unwind_mode;	/* enum lt_unwind_mode */
	uint32_t unwind_rows;	/* entries of the unwind row table (unused with LT_UNWIND_FP) */
	uint32_t fault;		/* enum lt_fault: a fault the programs make on purpose (tests) */
	bool follow;		/* follow the processes traced processes fork */
	bool budget;		/* --max-overhead: the rate changes at run time; count for it */
};

struct tracer;

/*
 * Opens, sizes and loads the BPF programs. NULL and errno: EPERM when the caller lacks root or
 * CAP_BPF+CAP_PERFMON, or the libbpf error. Logs the reason.
 */
struct tracer *tracer__new(const struct tracer_opts *opts);

/*
 * Whether entry points are attached through uprobe session links (one link per object, entry and
 * return in one program) rather than classic uprobe + uretprobe pairs. True after tracer__new when
 * the kernel has them and they were not refused; false for good once a session link fails.
 */
bool tracer__sessions(const struct tracer *t);

/* Whether the kernel has BPF task work (6.18), which --track ends mapping calls by. */
bool tracer__task_work(const struct tracer *t);

/* Whether entry-type probes go in uprobe_multi links (the kernel has them, and took them so far). */
bool tracer__multi(const struct tracer *t);

/*
 * Attaches one classic probe to pid's object `path` at file offset `offset`. An entry probe
 * carries `cookie` (LT_COOKIE); a return probe must sit where the stack pointer still points at
 * the return address. 0 or -errno.
 */
int tracer__attach(struct tracer *t, int pid, const char *path, uint64_t offset, uint64_t cookie,
		   bool retprobe);

/*
 * Attaches n entry points of one object in one session link: offsets[i] carries cookies[i], and
 * its return (when the program asks for it) is caught at the same place, so every offset must be
 * one where the stack pointer still points at the return address. 0 or -errno; -EOPNOTSUPP when
 * the kernel refused session links (logged once, and tracer__sessions() is false from then on).
 */
int tracer__attach_session(struct tracer *t, int pid, const char *path, const uint64_t *offsets,
			   const uint64_t *cookies, size_t n);

/*
 * Attaches n entry-type probes of one object in one uprobe_multi link (no return probes: nothing
 * of the traced process is ever replaced, and a process not traced runs nothing of ours). 0 or
 * -errno; -EOPNOTSUPP when the kernel has no such links (from then on, once refused). The empty
 * programs have no twin here: the benchmark never asks for it.
 */
int tracer__attach_multi(struct tracer *t, int pid, const char *path, const uint64_t *offsets,
			 const uint64_t *cookies, size_t n);

/*
 * Tells the programs where pid's allocator (the object whose free() is probed) has its code,
 * [start, end): a free called from there of a block never seen allocated is the allocator's own
 * (counted as allocator_frees, not unmatched_frees). 0 or -errno.
 */
int tracer__set_allocator_range(struct tracer *t, int pid, uint64_t start, uint64_t end);

/* Sets the epoch new stack ids are made in (see evict.c). 0 or -ENOTSUP. */
int tracer__set_stack_epoch(struct tracer *t, uint32_t epoch);

/* Number of probes attached so far. */
/*
 * Detaches every probe attached for pid (it exited: its links would otherwise stay registered on
 * the files' probes, and every hit in a traced process would walk past them), and forgets its
 * allocator range.
 */
void tracer__detach_pid(struct tracer *t, int pid);

/*
 * Gives child, just forked by parent (the same image), every probe parent has: no plan to make,
 * so the child runs untraced for as short a time as can be. 0 or -errno (then child has none: it
 * exec'd or exited already, say).
 */
int tracer__clone_pid(struct tracer *t, int parent, int child);

/*
 * Releases the blocks of the n processes pids, which have exited, from the allocation table, and
 * takes them off their stacks' totals (LT_STAT_EXITED_RELEASED counts them): room for the live
 * ones. Walks the whole table in the kernel. At most 4096 pids a call. 0 or -errno.
 */
int tracer__release_exited(struct tracer *t, const int *pids, size_t n);

unsigned int tracer__nr_links(const struct tracer *t);

/* The live-allocation table's tiers (trace/alloctab.h), oldest first: sets *fds, returns how many. */
size_t tracer__alloc_fds(const struct tracer *t, const int **fds);

/* Keeps a tier of the allocation table ready beyond the one in use (alloctab__grow). 0 or -errno. */
int tracer__grow_allocs(struct tracer *t);

/* Map file descriptors for the collector. */
int tracer__stack_totals_fd(const struct tracer *t);
int tracer__stacks_fd(const struct tracer *t);
/*
 * The traced processes (tgid -> struct lt_proc), which user space fills with the processes it
 * attaches to and the BPF side with the children it follows; and the ring buffer of their forks,
 * execs and exits (struct lt_event).
 */
int tracer__procs_fd(const struct tracer *t);
int tracer__events_fd(const struct tracer *t);

/* The totals of stack 0 (stack unknown): a one-entry array, key 0. */
int tracer__unknown_totals_fd(const struct tracer *t);

/*
 * The ring of the stacks whose totals changed (struct lt_changed, each stack once per generation:
 * bpf/leaktop.bpf.c's totals_changed), and the move to a new generation before the ring is
 * drained: sets *gen to the new generation and returns whether the ring filled since the last move
 * (records were lost: read every entry), and clears that. -ENOTSUP from the fd when the programs
 * have no such ring.
 */
int tracer__changed_fd(const struct tracer *t);
bool tracer__changed_next(struct tracer *t, uint64_t *gen);
int tracer__stats_fd(const struct tracer *t);
/*
 * Whether the programs time blocks by the clock (exact) or by the kernel's tick (early by less than
 * a tick: tickclock.h), as they do once it is measured.
 */
void tracer__exact_block_times(struct tracer *t, bool exact);
/* The unwind tables (see unwind_maps.h): the row table and the per-process mappings. */
int tracer__unwind_rows_fd(const struct tracer *t);
int tracer__unwind_procs_fd(const struct tracer *t);

/* File descriptors of the loaded BPF programs (for their run-time statistics): writes at most max
 * of them to fds and returns how many there are. */
size_t tracer__prog_fds(const struct tracer *t, int *fds, size_t max);

/* The same, of the uprobe programs only: those that run at the traced processes' probes. */
size_t tracer__probe_prog_fds(const struct tracer *t, int *fds, size_t max);

/*
 * Sets the sample rate of the decisions from now on (bytes; 0: record every block). Blocks keep
 * the weight of the rate their decision read. 0 or -ENOTSUP.
 */
int tracer__set_sample_rate(struct tracer *t, uint64_t rate);

/* The budget counters (enum lt_budget_count) summed over CPUs: 0 or -errno. */
int tracer__budget_counts(const struct tracer *t, uint64_t counts[LT_BUDGET_MAX]);

/*
 * A uprobe_multi link (or a session link) of prog_fd over n offsets of the object at path, for
 * pid, with a raw bpf(BPF_LINK_CREATE): libbpf 1.1.2 predates both. Its fd, or -errno.
 */
int uprobe_multi_link_create(int prog_fd, bool session, int pid, const char *path,
			     const uint64_t *offsets, const uint64_t *cookies, size_t n);

/* Makes prog, before its load, a program for session links. */
struct bpf_program;
void uprobe_prog_set_session(struct bpf_program *prog);

/* The fds of obj's loaded programs: as many as fit in fds (max); returns how many there are. */
struct bpf_object;
size_t bpf_object_prog_fds(const struct bpf_object *obj, int *fds, size_t max);

/* Detaches every probe and unloads the programs. NULL-safe. */
void tracer__free(struct tracer *t);

#endif
