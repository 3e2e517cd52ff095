/* evict.c: retires the stacks that hold nothing, so that the stack tables follow the live set. */
#include <errno.h>
#include <stdlib.h>
#include <bpf/bpf.h>

#include "base/clock.h"
#include "trace/evict.h"
#include "base/log.h"

/*
 * Why epochs. An entry that holds nothing can get a block at any moment: deleting it from here
 * would race with a program that has just found it and is adding to it, and the block would be
 * lost. So the stack ids carry an epoch, and a new epoch sends every allocation to new entries;
 * once the programs that read the old epoch are done (EVICT_GRACE_NS), an old entry that holds
 * nothing can get nothing any more and is deleted. The old entries of stacks that still hold
 * blocks stay until those blocks are freed; user space reports a stack's entries as one.
 */
struct evictor {
	struct tracer *t;
	int totals_fd, stacks_fd;
	uint32_t max_stacks;
	uint32_t epoch;
	uint64_t epoch_ns;	/* CLOCK_MONOTONIC when the current epoch began */
	uint64_t last_run_ns;
	bool pending;		/* a new epoch left old entries to delete */
	uint64_t evicted_allocs, evicted_bytes, nr_evicted;
};

struct evictor *evictor__new(struct tracer *t, uint32_t max_stacks)
{
	struct evictor *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->t = t;
	e->totals_fd = tracer__stack_totals_fd(t);
	e->stacks_fd = tracer__stacks_fd(t);
	e->max_stacks = max_stacks;
	e->epoch_ns = now_ns();
	return e;
}

void evictor__free(struct evictor *e)
{
	free(e);
}

uint64_t evictor__evicted_allocs(const struct evictor *e)
{
	return e->evicted_allocs;
}

uint64_t evictor__evicted_bytes(const struct evictor *e)
{
	return e->evicted_bytes;
}

uint64_t evictor__nr_evicted(const struct evictor *e)
{
	return e->nr_evicted;
}

bool evictor__due(const struct evictor *e, uint64_t now_ns)
{
	if (!e->last_run_ns || now_ns - e->last_run_ns >= EVICT_PERIOD_NS)
		return true;
	return e->pending && now_ns - e->epoch_ns >= EVICT_GRACE_NS;
}

bool evictor__pending(const struct evictor *e)
{
	return e->pending;
}

/* Whether to start a new epoch: enough of the current one's entries hold nothing to gain room. */
static bool want_epoch(const struct evictor *e, size_t n, size_t empty_now, uint64_t now_ns)
{
	if (!empty_now || empty_now * 2 < n)
		return false;
	if (n * 2 > e->max_stacks)
		return true;
	return now_ns - e->epoch_ns >= EVICT_EPOCH_NS && empty_now >= 1024;
}

int evictor__run(struct evictor *e, const struct stack_entry *entries, size_t n, uint64_t now_ns,
		 uint64_t **deleted, size_t *nr_deleted)
{
	bool past_grace = now_ns - e->epoch_ns >= EVICT_GRACE_NS;
	size_t empty_now = 0, nr = 0;
	uint64_t *ids;

	*deleted = NULL;
	*nr_deleted = 0;
	if (!evictor__due(e, now_ns))
		return 0;
	e->last_run_ns = now_ns;
	if (past_grace)
		e->pending = false;
	ids = malloc((n ? n : 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct stack_entry *se = &entries[i];

		if (!se->empty)
			continue;
		if (se->epoch == e->epoch) {
			empty_now++;
			continue;
		}
		if (!past_grace)
			continue;
		/* The totals first: the stack entry is what a report names it by. */
		if (bpf_map_delete_elem(e->totals_fd, &se->id) && errno != ENOENT)
			continue;
		bpf_map_delete_elem(e->stacks_fd, &se->id);
		e->evicted_allocs += se->allocs;
		e->evicted_bytes += se->alloc_bytes;
		e->nr_evicted++;
		ids[nr++] = se->id;
	}
	if (want_epoch(e, n, empty_now, now_ns) && !tracer__set_stack_epoch(e->t, e->epoch + 1)) {
		e->epoch++;
		e->epoch_ns = now_ns;
		e->pending = true;
		log_debug("stack epoch %u: %zu of %zu stacks hold nothing", e->epoch, empty_now, n);
	}
	*deleted = ids;
	*nr_deleted = nr;
	return 0;
}
