/* snapshot.h: per-stack records read from the BPF maps at one moment; sorting and filtering. */
#ifndef LT_SNAPSHOT_H
#define LT_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/leaktop.h"
#include "model/reach.h"

/*
 * A stack's return addresses, stored once (as long as the stack, not 64 slots) and shared by the
 * cache they were read into and every reading that lists the stack: counted references.
 */
struct stack_ips {
	uint32_t refs;
	uint32_t nr;
	uint64_t ips[];		/* ips[0] is the allocation site (a return address) */
};

/* A stack_ips of nr addresses copied from ips, with one reference (the caller's). NULL, errno. */
struct stack_ips *stack_ips__new(const uint64_t *ips, uint32_t nr);

/* Another reference to s (NULL-safe): returns s. */
struct stack_ips *stack_ips__get(struct stack_ips *s);

/* Drops a reference; the last one frees s. NULL-safe. */
void stack_ips__put(struct stack_ips *s);

struct stack_record {
	uint64_t stack_id;		/* BPF stack id (0 = stack unknown) */
	int pid;			/* process the stack belongs to (tgid) */
	uint32_t exec_id;		/* the process's image (its exec count) when the stack was taken */
	uint32_t kind;			/* enum lt_track_kind: what its figures count (0: heap) */
	int64_t outstanding_bytes;
	int64_t outstanding_allocs;
	uint64_t allocs;		/* allocations since attach */
	uint64_t alloc_bytes;		/* bytes allocated since attach */
	double oldest_age_s;		/* age of the oldest live block; < 0 when unknown */
	uint64_t last_alloc_ns;		/* CLOCK_MONOTONIC of the latest allocation */
	uint32_t nr_ips;		/* at most LT_MAX_DEPTH */
	/*
	 * nr_ips return addresses, ips[0] the allocation site: shared's, or storage the record's
	 * maker keeps alive as long as the record.
	 */
	const uint64_t *ips;
	struct stack_ips *shared;	/* a snapshot holds a reference to it (snapshot__add takes
					 * one, snapshot__free and the filters drop theirs); NULL */
	/* after a reachability scan that saw the stack: the split (the snapshot's); else NULL */
	const struct reach_split *reach;
};

struct snapshot_totals {
	int64_t outstanding_bytes;
	int64_t outstanding_allocs;
	uint64_t allocs;
	uint64_t frees;
	uint64_t alloc_bytes;
};

/* What suppressions took out of a reading (model/suppress.h): the stacks holding blocks. */
struct snapshot_suppressed {
	uint64_t stacks;
	int64_t bytes;
	int64_t allocs;
};

struct snapshot {
	uint64_t taken_ns;		/* CLOCK_MONOTONIC time the snapshot was read */
	double duration_s;		/* seconds since tracing began */
	uint64_t stats[LT_STAT_MAX];	/* summed over CPUs */
	struct snapshot_totals totals;
	struct stack_record *stacks;	/* owned (malloc'ed) */
	size_t nr_stacks;
	size_t cap_stacks;		/* slots allocated in stacks; snapshot__add grows it */
	uint64_t stacks_evicted;	/* stacks that held nothing, retired from the tables so far */
	struct snapshot_suppressed suppressed;	/* not in stacks nor in totals' outstanding */
	unsigned int reach_scans;	/* reachability scans so far (--reachability) */
	struct reach_split *reach_splits;	/* owned: what the records' reach point to */
	bool reach_approximate;		/* one ran without pausing the process (--reachability=live) */
};

enum snapshot_sort {
	SORT_BYTES,	/* outstanding_bytes */
	SORT_ALLOCS,	/* outstanding_allocs: live blocks */
	SORT_AGE,	/* oldest_age_s; unknown (< 0) last */
};

/* A snapshot with no stacks. NULL and errno on no memory. */
struct snapshot *snapshot__new(void);

/* Room for n stacks in all, so that adding them moves nothing. 0 or -ENOMEM. */
int snapshot__reserve(struct snapshot *snap, size_t n);

/* Appends a copy of rec, with a reference to rec->shared. 0 or -ENOMEM. */
int snapshot__add(struct snapshot *snap, const struct stack_record *rec);

/* Recomputes totals.outstanding_* / allocs / alloc_bytes from the stacks (frees comes from stats). */
void snapshot__sum_totals(struct snapshot *snap);

/*
 * Sorts stacks, largest first; ties broken by outstanding_bytes (largest first), then pid, then
 * stack_id (ascending), so that output is deterministic.
 */
void snapshot__sort(struct snapshot *snap, enum snapshot_sort key);

/* The order of snapshot__sort() by key, for lists of records of one's own: < 0 when a comes first. */
int snapshot_cmp(const struct stack_record *a, const struct stack_record *b, enum snapshot_sort key);

/* Drops stacks with no outstanding allocation (outstanding_allocs <= 0), keeping the order. */
void snapshot__drop_empty(struct snapshot *snap);

/*
 * Whether snap holds a leak, as valgrind's --error-exitcode counts them: a block outstanding (in
 * a stack not suppressed); after a reachability scan, a block lost or possibly lost (memcheck's
 * default --errors-for-leak-kinds), reachable ones not (a stack the scan did not split counts
 * whole).
 */
bool snapshot__has_leaks(const struct snapshot *snap);

void snapshot__free(struct snapshot *snap);

/*
 * Stat names as the JSON contract spells them ("dropped_allocs", ...), indexed by enum lt_stat;
 * LT_STAT_ALLOCS and LT_STAT_FREES are "allocs" and "frees". NULL outside the enum.
 */
const char *snapshot_stat_name(enum lt_stat stat);

/*
 * For a counter whose non-zero value means figures are missing, what that means and what to do
 * about it (one line); NULL for the others (events, unmatched frees) and outside the enum.
 */
const char *snapshot_stat_loss(enum lt_stat stat);

/* The JSON "kind" of enum lt_track_kind ("heap", "mmap", "faults", "kernel"); NULL outside it. */
const char *snapshot_kind_name(uint32_t kind);

#endif
