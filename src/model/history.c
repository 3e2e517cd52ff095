/* history.c: a bounded ring of samples per stack; growth over the window; the suspect rule. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/hashtab.h"
#include "model/history.h"

struct entry {
	int pid;
	uint64_t stack_id;
	uint64_t gen;		/* the update that last saw the stack */
	uint32_t head;		/* ring slot of the oldest sample */
	uint32_t count;
	uint32_t stride;	/* covering: updates between two samples kept */
	uint32_t steps;		/* covering: updates since the last sample on the stride */
	/* covering: the allocations of its first sample and its last (the samples keep none) */
	uint64_t first_allocs, last_allocs;
};

/* A sample as kept: its allocations apart (what a trend needs of them is the first and last). */
struct kept_sample {
	uint64_t t_ns;
	int64_t bytes;
};

struct history {
	size_t window;
	uint64_t gen;
	uint64_t first_ns;	/* time of the first update */
	uint64_t last_ns;	/* time of the previous update */
	uint64_t nr_updates;
	bool started;
	bool covering;		/* history__new_covering() */
	struct entry *entries;
	struct kept_sample *samples;	/* entry i's ring is samples[i * window ...] */
	uint64_t *allocs;		/* sliding: the samples' allocations, rings as samples */
	size_t nr, cap;
	struct hashtab *index;	/* hash of (pid, stack id) -> entry index */
	/*
	 * The entry of each record of the last update's snapshot, by position: a reading lists its
	 * stacks in the same order as the last one unless they moved, so this finds most entries
	 * without a look in the index.
	 */
	uint32_t *order;
	size_t nr_order, cap_order;
};

/* history_trend_of() over kept samples, with the allocations of the first and the last. */
static void trend_of(const struct kept_sample *s, size_t n, uint64_t first_allocs,
		     uint64_t last_allocs, struct history_trend *out)
{
	size_t steps, nondec = 0, inc = 0, mid;

	memset(out, 0, sizeof(*out));
	out->nr_samples = n;
	out->growth_bytes_per_s = NAN;
	if (n < 2)
		return;
	out->window_s = (double)(s[n - 1].t_ns - s[0].t_ns) / 1e9;
	if (out->window_s > 0)
		out->growth_bytes_per_s = (double)(s[n - 1].bytes - s[0].bytes) / out->window_s;
	out->active = last_allocs != first_allocs;

	steps = n - 1;
	for (size_t i = 0; i < steps; i++) {
		nondec += s[i + 1].bytes >= s[i].bytes;
		inc += s[i + 1].bytes > s[i].bytes;
	}
	mid = (n - 1) / 2;
	out->suspect = n >= HISTORY_MIN_SAMPLES && nondec * 5 >= steps * 4 && inc >= 3 &&
		       s[mid].bytes > s[0].bytes && s[n - 1].bytes > s[mid].bytes;
}

void history_trend_of(const struct history_sample *s, size_t n, struct history_trend *out)
{
	struct kept_sample room[HISTORY_MAX_WINDOW] = { { 0 } };
	/* A series longer than a history keeps (none of the histories' own) gets room of its own. */
	struct kept_sample *kept = n <= HISTORY_MAX_WINDOW ? room : malloc(n * sizeof(*kept));
	size_t k = kept ? n : 0;

	for (size_t i = 0; i < k; i++)
		kept[i] = (struct kept_sample){ .t_ns = s[i].t_ns, .bytes = s[i].bytes };
	trend_of(kept, k, k ? s[0].allocs : 0, k ? s[k - 1].allocs : 0, out);
	if (kept != room)
		free(kept);
}

static uint64_t key_hash(int pid, uint64_t stack_id)
{
	return fnv1a_u64(fnv1a_u64(FNV1A_SEED, (uint32_t)pid), stack_id);
}

struct key {
	const struct history *h;
	int pid;
	uint64_t stack_id;
};

static bool key_match(uint64_t idx, const void *ctx)
{
	const struct key *k = ctx;
	const struct entry *e = &k->h->entries[idx];

	return e->pid == k->pid && e->stack_id == k->stack_id;
}

/* The index of the entry of (pid, stack_id), or NULL when the stack is not in the history. */
static uint64_t *index_of(const struct history *h, int pid, uint64_t stack_id)
{
	struct key k = {h, pid, stack_id};

	return hashtab__find_match(h->index, key_hash(pid, stack_id), key_match, &k);
}

/* The entry of rec, the record at position i of a snapshot; NULL when it has none. */
static const uint64_t *entry_of(const struct history *h, size_t i, const struct stack_record *rec,
				uint64_t *tmp)
{
	const struct entry *e;

	if (i < h->nr_order && h->order[i] < h->nr) {
		e = &h->entries[h->order[i]];
		if (e->pid == rec->pid && e->stack_id == rec->stack_id) {
			*tmp = h->order[i];
			return tmp;
		}
	}
	return index_of(h, rec->pid, rec->stack_id);
}

/* How far ahead a walk of a snapshot's stacks asks for their entries. */
#define PREFETCH_AHEAD 16

/*
 * Asks ahead for the entry (and its samples) of the record PREFETCH_AHEAD past position i, as the
 * last update placed it: the entries lie apart, in the order the stacks came.
 */
static void prefetch_entry(const struct history *h, size_t i)
{
	size_t at = i + PREFETCH_AHEAD;

	if (at < h->nr_order && h->order[at] < h->nr) {
		__builtin_prefetch(&h->entries[h->order[at]]);
		__builtin_prefetch(&h->samples[(size_t)h->order[at] * h->window]);
	}
}

/* Files entry idx in the index; the room was reserved, so this cannot fail. */
static void index_add(struct history *h, size_t idx)
{
	(void)hashtab__add(h->index, key_hash(h->entries[idx].pid, h->entries[idx].stack_id), idx);
}

static struct history *new_history(size_t window, bool covering)
{
	struct history *h;

	if (window < 2 || window > HISTORY_MAX_WINDOW) {
		errno = EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->window = window;
	h->covering = covering;
	h->index = hashtab__new(32);
	if (!h->index) {
		free(h);
		errno = ENOMEM;
		return NULL;
	}
	return h;
}

struct history *history__new(size_t window)
{
	return new_history(window, false);
}

struct history *history__new_covering(size_t window)
{
	if (window < 4 || window % 2) {
		errno = EINVAL;
		return NULL;
	}
	return new_history(window, true);
}

/* Room for `need` entries, allocated before anything changes so that a failure changes nothing. */
static int reserve(struct history *h, size_t need)
{
	if (need > h->cap) {
		size_t cap = h->cap ? h->cap : 64;
		struct entry *entries;
		struct kept_sample *samples;
		uint64_t *allocs;

		while (cap < need)
			cap *= 2;
		if (cap > SIZE_MAX / (h->window * sizeof(*samples)))
			return -ENOMEM;
		entries = realloc(h->entries, cap * sizeof(*entries));
		if (!entries)
			return -ENOMEM;
		h->entries = entries;
		samples = realloc(h->samples, cap * h->window * sizeof(*samples));
		if (!samples)
			return -ENOMEM;
		h->samples = samples;
		if (!h->covering) {
			allocs = realloc(h->allocs, cap * h->window * sizeof(*allocs));
			if (!allocs)
				return -ENOMEM;
			h->allocs = allocs;
		}
		h->cap = cap;
	}
	return hashtab__reserve(h->index, need);
}

static int reserve_order(struct history *h, size_t n)
{
	uint32_t *order;

	if (n <= h->cap_order)
		return 0;
	if (n > UINT32_MAX)
		return -ENOMEM;
	order = realloc(h->order, n * sizeof(*order));
	if (!order)
		return -ENOMEM;
	h->order = order;
	h->cap_order = n;
	return 0;
}

/*
 * A covering entry's samples are ring[0 .. count - 1], oldest first. A full window keeps every
 * other sample from the oldest on, and the newest: the window is even, so the newest lies between
 * two samples of the doubled stride, and stays only until the next update replaces it.
 */
static void halve(struct entry *e, struct kept_sample *ring)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < e->count; i += 2)
		ring[n++] = ring[i];
	ring[n++] = ring[e->count - 1];
	e->steps = e->stride;
	e->stride *= 2;
	e->count = n;
}

static void push_covering(struct history *h, struct entry *e, struct kept_sample *ring,
			  struct kept_sample s, uint64_t allocs)
{
	if (!e->count)
		e->first_allocs = allocs;
	e->last_allocs = allocs;
	if (!e->steps && e->count == h->window)
		halve(e, ring);
	/* The newest sample off the stride gives way to this one. */
	if (e->steps)
		ring[e->count - 1] = s;
	else
		ring[e->count++] = s;
	if (++e->steps == e->stride)
		e->steps = 0;
}

static void push(struct history *h, size_t idx, uint64_t t_ns, int64_t bytes, uint64_t allocs)
{
	struct entry *e = &h->entries[idx];
	struct kept_sample *ring = &h->samples[idx * h->window];
	struct kept_sample s = { .t_ns = t_ns, .bytes = bytes };
	size_t slot;

	if (h->covering) {
		push_covering(h, e, ring, s, allocs);
		return;
	}
	if (e->count < h->window) {
		slot = (e->head + e->count) % h->window;
		e->count++;
	} else {
		slot = e->head;
		e->head = (e->head + 1) % h->window;
	}
	ring[slot] = s;
	h->allocs[idx * h->window + slot] = allocs;
}

/* Drops the entries this update did not see: their stacks have vanished from the kernel's table. */
static void evict(struct history *h)
{
	uint32_t *to = NULL;
	size_t kept = 0;

	for (size_t i = 0; i < h->nr && !to; i++)
		if (h->entries[i].gen != h->gen)
			to = malloc(h->nr * sizeof(*to));
	for (size_t i = 0; i < h->nr; i++) {
		if (to)
			to[i] = (uint32_t)kept;
		if (h->entries[i].gen != h->gen)
			continue;
		if (kept != i) {
			h->entries[kept] = h->entries[i];
			memcpy(&h->samples[kept * h->window], &h->samples[i * h->window],
			       h->window * sizeof(*h->samples));
			if (h->allocs)
				memcpy(&h->allocs[kept * h->window], &h->allocs[i * h->window],
				       h->window * sizeof(*h->allocs));
		}
		kept++;
	}
	if (kept == h->nr)
		return;
	/* The last update's records are all kept: their entries moved down. */
	for (size_t i = 0; i < h->nr_order; i++)
		h->order[i] = to ? to[h->order[i]] : UINT32_MAX;
	free(to);
	h->nr = kept;
	hashtab__clear(h->index);
	for (size_t i = 0; i < h->nr; i++)
		index_add(h, i);
}

/*
 * Entry idx's samples, oldest first, into out (room for the window). A covering history keeps the
 * allocations of the first and the last only: those between read 0.
 */
static uint32_t entry_samples(const struct history *h, size_t idx, struct history_sample *out)
{
	const struct entry *e = &h->entries[idx];
	const struct kept_sample *ring = &h->samples[idx * h->window];
	const uint64_t *allocs = h->allocs ? &h->allocs[idx * h->window] : NULL;
	size_t slot = e->head;

	for (uint32_t i = 0; i < e->count; i++) {
		out[i] = (struct history_sample){ .t_ns = ring[slot].t_ns, .bytes = ring[slot].bytes,
						  .allocs = allocs ? allocs[slot] : 0 };
		if (++slot == h->window)
			slot = 0;
	}
	if (!allocs && e->count) {
		out[0].allocs = e->first_allocs;
		out[e->count - 1].allocs = e->last_allocs;
	}
	return e->count;
}

/* The trend of entry idx over its samples: read in place while its ring has not wrapped. */
static void trend_of_entry(const struct history *h, size_t idx, struct history_trend *out)
{
	struct kept_sample lin[HISTORY_MAX_WINDOW];
	const struct entry *e = &h->entries[idx];
	const struct kept_sample *ring = &h->samples[idx * h->window];
	const uint64_t *allocs = h->allocs ? &h->allocs[idx * h->window] : NULL;
	size_t last = (e->head + e->count + h->window - 1) % h->window;

	if (e->head && e->count) {
		for (uint32_t i = 0, slot = e->head; i < e->count; i++) {
			lin[i] = ring[slot];
			if (++slot == h->window)
				slot = 0;
		}
		ring = lin;
	}
	trend_of(ring, e->count, allocs ? allocs[e->head] : e->first_allocs,
		 allocs ? allocs[last] : e->last_allocs, out);
}

int history__update(struct history *h, const struct snapshot *snap)
{
	return history__update_trends(h, snap, NULL);
}

int history__update_trends(struct history *h, const struct snapshot *snap,
			   struct history_trend *trends)
{
	size_t unknown = 0;
	uint64_t *found;
	int err;

	if (h->started && snap->taken_ns <= h->last_ns)
		return -EINVAL;
	/* Each stack's entry, looked up once; UINT64_MAX for a new one. */
	found = malloc((snap->nr_stacks ? snap->nr_stacks : 1) * sizeof(*found));
	if (!found)
		return -ENOMEM;
	/* Counted first so that the arrays grow only by the stacks that are really new. */
	for (size_t i = 0; i < snap->nr_stacks; i++) {
		uint64_t tmp;
		const uint64_t *have;

		prefetch_entry(h, i);
		have = entry_of(h, i, &snap->stacks[i], &tmp);

		found[i] = have ? *have : UINT64_MAX;
		unknown += !have;
	}
	err = reserve(h, h->nr + unknown);
	/* As many as the entries' room at least: it grows as they do, not at every new stack. */
	if (!err)
		err = reserve_order(h, snap->nr_stacks > h->cap ? snap->nr_stacks : h->cap);
	if (err) {
		free(found);
		return err;
	}
	h->gen++;
	for (size_t i = 0; i < snap->nr_stacks; i++) {
		const struct stack_record *rec = &snap->stacks[i];
		/* A stack listed twice in one snapshot was new the first time only. */
		uint64_t *have = found[i] != UINT64_MAX ? &found[i]
							: index_of(h, rec->pid, rec->stack_id);
		size_t idx = have ? *have : h->nr;
		struct entry *e = &h->entries[idx];

		if (i + PREFETCH_AHEAD < snap->nr_stacks && found[i + PREFETCH_AHEAD] != UINT64_MAX)
			__builtin_prefetch(&h->samples[found[i + PREFETCH_AHEAD] * h->window], 1);

		if (!have) {
			memset(e, 0, sizeof(*e));
			e->stride = 1;
			e->pid = rec->pid;
			e->stack_id = rec->stack_id;
			index_add(h, h->nr++);
			if (h->started)
				push(h, idx, h->last_ns, 0, 0);
		}
		/* A stack listed twice in one snapshot keeps one sample for this update. */
		if (e->gen != h->gen) {
			e->gen = h->gen;
			push(h, idx, snap->taken_ns, rec->outstanding_bytes, rec->allocs);
		}
		if (trends)
			trend_of_entry(h, idx, &trends[i]);
		h->order[i] = (uint32_t)idx;
	}
	h->nr_order = snap->nr_stacks;
	free(found);
	evict(h);
	if (!h->started)
		h->first_ns = snap->taken_ns;
	h->last_ns = snap->taken_ns;
	h->nr_updates++;
	h->started = true;
	return 0;
}

size_t history__samples(const struct history *h, int pid, uint64_t stack_id,
			struct history_sample *out)
{
	uint64_t *idx = index_of(h, pid, stack_id);

	return idx ? entry_samples(h, *idx, out) : 0;
}

bool history__trend(const struct history *h, int pid, uint64_t stack_id, struct history_trend *out)
{
	uint64_t *idx = index_of(h, pid, stack_id);

	if (!idx) {
		history_trend_of(NULL, 0, out);
		return false;
	}
	trend_of_entry(h, *idx, out);
	return true;
}

void history__trends(const struct history *h, const struct snapshot *snap,
		     struct history_trend *trends)
{
	for (size_t i = 0; i < snap->nr_stacks; i++) {
		uint64_t tmp;
		const uint64_t *idx;

		prefetch_entry(h, i);
		idx = entry_of(h, i, &snap->stacks[i], &tmp);

		if (idx)
			trend_of_entry(h, *idx, &trends[i]);
		else
			history_trend_of(NULL, 0, &trends[i]);
	}
}

void history__span(const struct history *h, struct history_span *out)
{
	out->first_ns = h->first_ns;
	out->last_ns = h->last_ns;
	out->nr_updates = h->nr_updates;
}

size_t history__nr_stacks(const struct history *h)
{
	return h->nr;
}

size_t history__mem_bytes(const struct history *h)
{
	return sizeof(*h) + h->cap * (sizeof(*h->entries) + h->window * sizeof(*h->samples)) +
	       (h->allocs ? h->cap * h->window * sizeof(*h->allocs) : 0) +
	       h->cap_order * sizeof(*h->order) + hashtab__mem_bytes(h->index);
}

void history__free(struct history *h)
{
	if (!h)
		return;
	free(h->entries);
	free(h->samples);
	free(h->allocs);
	free(h->order);
	hashtab__free(h->index);
	free(h);
}
