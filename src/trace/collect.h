/* collect.h: reads the BPF maps into a snapshot: the stacks that changed, or all of them. */
#ifndef LT_COLLECT_H
#define LT_COLLECT_H

#include <stdbool.h>
#include <stdint.h>

#include "model/reach.h"
#include "model/snapshot.h"
#include "trace/tracer.h"

struct collector;

/*
 * A collector over t's maps, whose stack tables hold max_stacks entries. Caches the stacks it has
 * read, while they are in the tables. NULL and errno on no memory.
 */
struct collector *collector__new(struct tracer *t, uint32_t max_stacks);

/*
 * Reads one snapshot: per-stack totals and stacks, stats summed over CPUs, and totals. Each stack
 * is reported once, under its id in epoch 0, whatever epochs it allocated in, and the stacks come
 * in the bytes order (snapshot__sort's) but with --min-age. Only the stacks the programs said
 * changed since the last reading are looked up (the changed ring); every stack on the first
 * reading, with --min-age, or when the ring filled. Runs the evictor (evict.h) over the reading,
 * at most once per EVICT_PERIOD_NS.
 * Each stack's oldest_age_s comes from its age slots (bpf/ages.h: exact while the first block of
 * its oldest slot lives, else too old by less than that slot's window), and with min_age_ns > 0
 * the outstanding figures count only the slots whose first block is at least that old: no
 * reading looks at the live blocks (growth is the history's). NULL and errno on failure.
 */
struct snapshot *collector__read(struct collector *c, uint64_t min_age_ns);

/*
 * The tables' upkeep: a tier of the allocation table kept ready beyond the one in use
 * (tracer__grow_allocs), and a reading for the evictor's sake, if the evictor is due and no
 * other reading came for 3 evictor periods (the plain modes between long intervals' reports), or
 * at once when a new epoch left entries to delete. Call it every COLLECT_MAINTAIN_NS.
 * 0 or -errno.
 */
#define COLLECT_MAINTAIN_NS 100000000ull
int collector__maintain(struct collector *c);

/*
 * Whether blocks are timed exactly from now on (a reachability scan's copy: a block allocated after
 * it began is told apart from one in it), or by the kernel's tick again (tracer.h).
 */
void collector__exact_times(struct collector *c, bool exact);

/*
 * The live blocks of process pid from the allocation table (batch lookups), each with its stack's
 * id as the readings name it (epoch 0), unsorted. *blocks is malloc'ed (the caller frees it; NULL
 * when none). 0 or -errno.
 */
int collector__blocks(struct collector *c, int pid, struct reach_block **blocks, size_t *nr);

void collector__free(struct collector *c);

#endif
