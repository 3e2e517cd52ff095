/* evict.h: retires the stacks that hold nothing, so that the stack tables follow the live set. */
#ifndef LT_EVICT_H
#define LT_EVICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace/tracer.h"

/* One entry of the per-stack tables, as one reading of them saw it. */
struct stack_entry {
	uint64_t id;		/* the BPF stack id (epoch included) */
	uint32_t epoch;
	bool empty;		/* no outstanding block (nor bytes) */
	uint64_t allocs;	/* allocations counted in the entry since it was made */
	uint64_t alloc_bytes;
};

/* The evictor runs about this often, and sooner when a new epoch left entries to delete. */
#define EVICT_PERIOD_NS 1000000000ull
/*
 * After an epoch starts, a program that read the old one may still be under way this long (it
 * takes microseconds): then the old entries that hold nothing are deleted.
 */
#define EVICT_GRACE_NS 100000000ull
/* Without pressure on the tables, a new epoch at most this often (memory follows the live set). */
#define EVICT_EPOCH_NS 60000000000ull

struct evictor;

/* An evictor over t's stack tables of max_stacks entries. NULL and errno on no memory. */
struct evictor *evictor__new(struct tracer *t, uint32_t max_stacks);

/* Whether a reading now would run the evictor (see evictor__run). */
bool evictor__due(const struct evictor *e, uint64_t now_ns);

/*
 * Runs the policy over one reading of the tables (n entries, every one of them): deletes the
 * entries of past epochs that hold nothing from both tables, and starts a new epoch when the
 * current one's entries that hold nothing are half the tables' entries and the tables are half
 * full (or an epoch is EVICT_EPOCH_NS old). Does nothing unless evictor__due().
 * Sets *deleted (malloc'ed, the caller frees it) to the ids deleted and *nr_deleted to their
 * number. 0 or -ENOMEM.
 */
int evictor__run(struct evictor *e, const struct stack_entry *entries, size_t n, uint64_t now_ns,
		 uint64_t **deleted, size_t *nr_deleted);

/* Whether a new epoch left entries to delete (they are due EVICT_GRACE_NS after it). */
bool evictor__pending(const struct evictor *e);

/* Allocations, and their bytes, that entries since deleted had counted. */
uint64_t evictor__evicted_allocs(const struct evictor *e);
uint64_t evictor__evicted_bytes(const struct evictor *e);

/* Entries deleted so far. */
uint64_t evictor__nr_evicted(const struct evictor *e);

void evictor__free(struct evictor *e);

#endif
