/* snapshot.c: the per-stack records of one reading of the BPF maps; sorting, filtering. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "model/snapshot.h"

/*
 * Each counter's name in every output, and for the ones that mean figures are missing, what a
 * non-zero count means and what to do about it.
 */
static const struct {
	const char *name;
	const char *loss;
} stat_info[LT_STAT_MAX] = {
	[LT_STAT_ALLOCS] = { "allocs", NULL },
	[LT_STAT_FREES] = { "frees", NULL },
	[LT_STAT_DROPPED_ALLOCS] = { "dropped_allocs", "allocation table full: allocations not "
						       "recorded (raise --max-allocs)" },
	/* No loss: with -p, blocks allocated before attach are freed all the time. */
	[LT_STAT_UNMATCHED_FREES] = { "unmatched_frees", NULL },
	[LT_STAT_LOST_STACKS] = { "lost_stacks", "allocations recorded under an unknown stack" },
	[LT_STAT_STACK_TABLE_FULL] = { "stack_table_full", "stack table full: allocations under an "
							   "unknown stack (raise --max-stacks)" },
	[LT_STAT_THREAD_STATE_FULL] = { "thread_state_full",
					"no per-thread state (the kernel had none to give): "
					"allocator calls not seen" },
	[LT_STAT_MISSED_RETURNS] = { "missed_returns",
				     "allocator returns not seen: allocations not recorded" },
	[LT_STAT_UNWIND_NO_MAPPING] = { "unwind_no_mapping",
					"stacks cut at code outside every known mapping (JIT "
					"code, or a library mapped moments ago)" },
	[LT_STAT_UNWIND_NO_TABLE] = { "unwind_no_table", "stacks cut at an object without an "
							 "unwind table (raise --unwind-rows; -v "
							 "names it)" },
	[LT_STAT_UNWIND_NO_CFI] = { "unwind_no_cfi",
				    "stacks cut at code without unwind information (CFI)" },
	[LT_STAT_UNWIND_STOP_ROW] = { "unwind_stop_row", "stacks cut at a frame whose CFI rule "
							 "leaktop cannot follow" },
	[LT_STAT_UNWIND_READ_FAILED] = { "unwind_read_failed",
					 "stacks cut where a saved register could not be read" },
	[LT_STAT_TRUNCATED_STACKS] = { "truncated_stacks",
				       "stacks deeper than 64 frames, cut at the 64th" },
	[LT_STAT_UNWIND_NOT_READY] = { "unwind_not_ready",
				       "stacks taken before the process's unwind tables were "
				       "loaded (frame pointers only)" },
	/* No loss: a call left by an exception or longjmp returns no block. */
	[LT_STAT_UNWOUND_CALLS] = { "unwound_calls", NULL },
	/* No loss: glibc flushing a thread's cache at its exit, or freeing the cache itself. */
	[LT_STAT_ALLOCATOR_FREES] = { "allocator_frees", NULL },
	[LT_STAT_LOST_EVENTS] = { "lost_events", "forks, execs or exits of traced processes not "
						 "heard of: processes not followed or refreshed" },
	/* No loss: a child freeing its copy of a block its parent allocated before the fork. */
	[LT_STAT_INHERITED_FREES] = { "inherited_frees", NULL },
	/* No loss: blocks of exited processes, released to make room (they hold no memory). */
	[LT_STAT_EXITED_RELEASED] = { "exited_released", NULL },
	[LT_STAT_TRACK_LOST_STACKS] = { "track_lost_stacks", "pages or mappings (--track) counted "
							     "under an unknown stack" },
	[LT_STAT_TRACK_STACK_FULL] = { "track_stack_full", "track stack table full: pages or "
							   "mappings under an unknown stack (raise "
							   "--max-stacks)" },
	[LT_STAT_TRACK_TABLE_FULL] = { "track_table_full", "track page or mapping table full: "
							   "pages or mappings not recorded (raise "
							   "--max-allocs)" },
	[LT_STAT_TRACK_VMA_BUSY] = { "track_vma_busy", "faults whose mapping could not be looked "
						       "up (its lock was taken): not counted" },
	[LT_STAT_TRACK_EXITS_LOST] = { "track_exits_lost", "exits not told: those processes' "
							   "pages stay counted" },
	[LT_STAT_TRACK_MOVES_CUT] = { "track_moves_cut", "pages of a large mremap left under "
							 "their old address" },
	[LT_STAT_TRACK_CALLS_LOST] = { "track_calls_lost", "mmap, munmap, madvise, brk or "
							   "mremap calls whose end was not seen: "
							   "their releases missed" },
	[LT_STAT_SCRATCH_BUSY] = { "scratch_busy", "allocations under an unknown stack: their "
						   "probe found the CPU's stack buffer in use by "
						   "a preempted task" },
};

static const char *const kind_names[LT_TRACK_MAX] = {
	[LT_TRACK_HEAP] = "heap", [LT_TRACK_MMAP] = "mmap", [LT_TRACK_FAULTS] = "faults",
	[LT_TRACK_KERNEL] = "kernel",
};

const char *snapshot_kind_name(uint32_t kind)
{
	return kind < LT_TRACK_MAX ? kind_names[kind] : NULL;
}

const char *snapshot_stat_name(enum lt_stat stat)
{
	if ((unsigned int)stat >= LT_STAT_MAX)
		return NULL;
	return stat_info[stat].name;
}

const char *snapshot_stat_loss(enum lt_stat stat)
{
	if ((unsigned int)stat >= LT_STAT_MAX)
		return NULL;
	return stat_info[stat].loss;
}

struct stack_ips *stack_ips__new(const uint64_t *ips, uint32_t nr)
{
	struct stack_ips *s = malloc(sizeof(*s) + (size_t)nr * sizeof(s->ips[0]));

	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	s->refs = 1;
	s->nr = nr;
	if (nr)
		memcpy(s->ips, ips, (size_t)nr * sizeof(s->ips[0]));
	return s;
}

struct stack_ips *stack_ips__get(struct stack_ips *s)
{
	if (s)
		s->refs++;
	return s;
}

void stack_ips__put(struct stack_ips *s)
{
	if (s && !--s->refs)
		free(s);
}

struct snapshot *snapshot__new(void)
{
	struct snapshot *snap = calloc(1, sizeof(*snap));

	if (!snap)
		errno = ENOMEM;
	return snap;
}

int snapshot__reserve(struct snapshot *snap, size_t n)
{
	struct stack_record *stacks;

	/* cap_stacks < nr_stacks when a caller filled stacks by hand: trust only nr_stacks then. */
	if (n <= snap->cap_stacks || n <= snap->nr_stacks)
		return 0;
	if (n > SIZE_MAX / sizeof(*stacks))
		return -ENOMEM;
	stacks = realloc(snap->stacks, n * sizeof(*stacks));
	if (!stacks)
		return -ENOMEM;
	snap->stacks = stacks;
	snap->cap_stacks = n;
	return 0;
}

int snapshot__add(struct snapshot *snap, const struct stack_record *rec)
{
	struct stack_record *stacks;
	size_t cap;

	/* cap_stacks < nr_stacks when a caller filled stacks by hand: trust only nr_stacks then. */
	if (snap->nr_stacks >= snap->cap_stacks) {
		cap = snap->nr_stacks < 64 ? 64 : snap->nr_stacks * 2;
		if (cap > SIZE_MAX / sizeof(*stacks))
			return -ENOMEM;
		stacks = realloc(snap->stacks, cap * sizeof(*stacks));
		if (!stacks)
			return -ENOMEM;
		snap->stacks = stacks;
		snap->cap_stacks = cap;
	}
	snap->stacks[snap->nr_stacks++] = *rec;
	stack_ips__get(rec->shared);
	return 0;
}

void snapshot__sum_totals(struct snapshot *snap)
{
	struct snapshot_totals *t = &snap->totals;
	size_t i;

	uint64_t bytes = 0, blocks = 0;

	memset(t, 0, sizeof(*t));
	/* Signed counters from the kernel can be anything: sum them unsigned, where overflow wraps
	 * instead of being undefined. */
	for (i = 0; i < snap->nr_stacks; i++) {
		const struct stack_record *rec = &snap->stacks[i];

		bytes += (uint64_t)rec->outstanding_bytes;
		blocks += (uint64_t)rec->outstanding_allocs;
		t->allocs += rec->allocs;
		t->alloc_bytes += rec->alloc_bytes;
	}
	t->outstanding_bytes = (int64_t)bytes;
	t->outstanding_allocs = (int64_t)blocks;
	t->frees = snap->stats[LT_STAT_FREES];
}

/* -1 when a sorts before b, that is when a is larger. */
static int cmp_desc_i64(int64_t a, int64_t b)
{
	return a > b ? -1 : a < b ? 1 : 0;
}

/* Unknown values (NAN, or negative ages) sort after every known one. */
static int cmp_desc_known(double a, bool a_known, double b, bool b_known)
{
	if (a_known != b_known)
		return a_known ? -1 : 1;
	if (!a_known)
		return 0;
	return a > b ? -1 : a < b ? 1 : 0;
}

static int cmp_ties(const struct stack_record *a, const struct stack_record *b)
{
	int c = cmp_desc_i64(a->outstanding_bytes, b->outstanding_bytes);

	if (c)
		return c;
	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	if (a->stack_id != b->stack_id)
		return a->stack_id < b->stack_id ? -1 : 1;
	return 0;
}

static int cmp_bytes(const void *pa, const void *pb)
{
	return cmp_ties(pa, pb);
}

static int cmp_allocs(const void *pa, const void *pb)
{
	const struct stack_record *a = pa, *b = pb;
	int c = cmp_desc_i64(a->outstanding_allocs, b->outstanding_allocs);

	return c ? c : cmp_ties(a, b);
}

static int cmp_age(const void *pa, const void *pb)
{
	const struct stack_record *a = pa, *b = pb;
	int c = cmp_desc_known(a->oldest_age_s, a->oldest_age_s >= 0, b->oldest_age_s,
			       b->oldest_age_s >= 0);

	return c ? c : cmp_ties(a, b);
}

static int (*cmp_of(enum snapshot_sort key))(const void *, const void *)
{
	switch (key) {
	case SORT_ALLOCS:
		return cmp_allocs;
	case SORT_AGE:
		return cmp_age;
	case SORT_BYTES:
	default:
		return cmp_bytes;
	}
}

int snapshot_cmp(const struct stack_record *a, const struct stack_record *b, enum snapshot_sort key)
{
	return cmp_of(key)(a, b);
}

/* What the bytes order compares, apart from the records: 24 bytes to move instead of a record. */
struct bytes_key {
	int64_t bytes;
	int pid;
	uint32_t idx;
	uint64_t stack_id;
};

static int cmp_bytes_key(const void *pa, const void *pb)
{
	const struct bytes_key *a = pa, *b = pb;

	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	if (a->stack_id != b->stack_id)
		return a->stack_id < b->stack_id ? -1 : 1;
	return 0;
}

/*
 * The bytes order of every reading: the keys sorted, then each record moved once into its place,
 * cycle by cycle (no second array of records). false when out of memory (nothing changed).
 */
static bool sort_bytes_by_keys(struct snapshot *snap)
{
	size_t n = snap->nr_stacks;
	struct bytes_key *keys = n <= UINT32_MAX ? malloc(n * sizeof(*keys)) : NULL;
	struct stack_record *st = snap->stacks, held;

	if (!keys)
		return false;
	for (size_t i = 0; i < n; i++)
		keys[i] = (struct bytes_key){ .bytes = st[i].outstanding_bytes, .pid = st[i].pid,
					      .idx = (uint32_t)i, .stack_id = st[i].stack_id };
	qsort(keys, n, sizeof(*keys), cmp_bytes_key);
	/* Place j takes the record keys[j].idx names; a place done names itself. */
	for (size_t i = 0; i < n; i++) {
		size_t j = i;

		if (keys[i].idx == i)
			continue;
		held = st[i];
		while (keys[j].idx != i) {
			size_t from = keys[j].idx;

			st[j] = st[from];
			keys[j].idx = (uint32_t)j;
			j = from;
		}
		st[j] = held;
		keys[j].idx = (uint32_t)j;
	}
	free(keys);
	return true;
}

void snapshot__sort(struct snapshot *snap, enum snapshot_sort key)
{
	int (*cmp)(const void *, const void *) = cmp_of(key);

	if (snap->nr_stacks <= 1)
		return;
	/* The collector lists a reading's stacks in the bytes order already: only a check then. */
	if (array_sorted(snap->stacks, snap->nr_stacks, sizeof(*snap->stacks), cmp))
		return;
	if (key == SORT_BYTES && sort_bytes_by_keys(snap))
		return;
	qsort(snap->stacks, snap->nr_stacks, sizeof(*snap->stacks), cmp);
}

void snapshot__drop_empty(struct snapshot *snap)
{
	size_t i, kept = 0;

	for (i = 0; i < snap->nr_stacks; i++) {
		if (snap->stacks[i].outstanding_allocs <= 0) {
			stack_ips__put(snap->stacks[i].shared);
			continue;
		}
		if (kept != i)
			snap->stacks[kept] = snap->stacks[i];
		kept++;
	}
	snap->nr_stacks = kept;
}

void snapshot__free(struct snapshot *snap)
{
	if (!snap)
		return;
	for (size_t i = 0; i < snap->nr_stacks; i++) {
		/* The stacks' addresses lie apart: asked for ahead. */
		if (i + 8 < snap->nr_stacks)
			__builtin_prefetch(snap->stacks[i + 8].shared, 1);
		stack_ips__put(snap->stacks[i].shared);
	}
	free(snap->stacks);
	free(snap->reach_splits);
	free(snap);
}

bool snapshot__has_leaks(const struct snapshot *snap)
{
	if (!snap->reach_scans)
		return snap->totals.outstanding_allocs > 0 || snap->totals.outstanding_bytes > 0;
	for (size_t i = 0; i < snap->nr_stacks; i++) {
		const struct stack_record *rec = &snap->stacks[i];
		const struct reach_split *r = rec->reach;

		if (r ? r->allocs[REACH_LOST] + r->allocs[REACH_POSSIBLY] > 0
			     : rec->outstanding_allocs > 0)
			return true;
	}
	return false;
}
