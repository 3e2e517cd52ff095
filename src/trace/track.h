/* track.h: --track's kinds beyond heap (bpf/track.bpf.c): load, attach, read into a snapshot. */
#ifndef LT_TRACK_H
#define LT_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/snapshot.h"

struct track_opts {
	uint32_t kinds;		/* LT_TRACK_BIT()s; heap's bit is ignored (the tracer's) */
	bool all;		/* -a: every process but leaktop; else those in procs_fd */
	int procs_fd;		/* the tracer's traced processes (tgid -> struct lt_proc) */
	uint32_t max_entries;	/* pages (faults) recorded at most: --max-allocs */
	uint32_t max_stacks;	/* stacks: --max-stacks */
	uint32_t fault;		/* enum lt_fault (tests only) */
	bool task_work;		/* the kernel has BPF task work (tracer__task_work) */
};

struct track;

/*
 * Opens, sizes, loads and attaches the programs of the kinds asked. NULL and errno (logged):
 * EPERM without the privileges, or the libbpf error.
 */
struct track *track__new(const struct track_opts *opts);

/*
 * Adds to snap a record per stack of the tracked kinds (kind set, pid, ips, figures; oldest age
 * unknown), their figures to snap's totals, and the programs' loss counters to snap's stats.
 * First drops what processes that exited or exec'd had recorded (their memory is gone). 0 or
 * -errno.
 */
int track__read(struct track *t, struct snapshot *snap);

/* File descriptors of the loaded programs (their run-time statistics): writes at most max of them
 * to fds and returns how many there are. */
size_t track__prog_fds(const struct track *t, int *fds, size_t max);

/* Detaches and unloads. NULL-safe. */
void track__free(struct track *t);

#endif
