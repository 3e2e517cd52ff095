/* history.c: a bounded ring of samples per stack; growth over the window; the suspect rule. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/history.h"

struct entry {
	int pid;
	uint64_t stack_id;
	uint64_t gen;		/* the update that last saw the stack */
	uint32_t head;		/* ring slot of the oldest sample */
	uint32_t count;
};

struct history {
	size_t window;
	uint64_t gen;
	uint64_t last_ns;	/* time of the previous update */
	bool started;
	struct entry *entries;
	struct history_sample *samples; /* entry i's ring is samples[i * window ...] */
	size_t nr, cap;
	size_t *slots;		/* open addressing: entry index + 1, 0 = empty */
	size_t nr_slots;	/* a power of two, more than twice nr */
};

void history_trend_of(const struct history_sample *s, size_t n, struct history_trend *out)
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
	out->active = s[n - 1].allocs != s[0].allocs;

	steps = n - 1;
	for (size_t i = 0; i < steps; i++) {
		nondec += s[i + 1].bytes >= s[i].bytes;
		inc += s[i + 1].bytes > s[i].bytes;
	}
	mid = (n - 1) / 2;
	out->suspect = n >= HISTORY_MIN_SAMPLES && nondec * 5 >= steps * 4 && inc >= 3 &&
		       s[mid].bytes > s[0].bytes && s[n - 1].bytes > s[mid].bytes;
}

static size_t hash_key(int pid, uint64_t stack_id)
{
	uint64_t h = stack_id ^ ((uint64_t)(uint32_t)pid * 0x9e3779b97f4a7c15ULL);

	/* Stack ids are hashes already, but pid-only keys (stack 0) need mixing. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h;
}

static size_t *slot_of(const struct history *h, int pid, uint64_t stack_id)
{
	size_t mask = h->nr_slots - 1;

	for (size_t i = hash_key(pid, stack_id) & mask;; i = (i + 1) & mask) {
		size_t v = h->slots[i];

		if (!v || (h->entries[v - 1].pid == pid && h->entries[v - 1].stack_id == stack_id))
			return &h->slots[i];
	}
}

static void reindex(struct history *h, size_t *slots, size_t nr_slots)
{
	memset(slots, 0, nr_slots * sizeof(*slots));
	h->slots = slots;
	h->nr_slots = nr_slots;
	for (size_t i = 0; i < h->nr; i++)
		*slot_of(h, h->entries[i].pid, h->entries[i].stack_id) = i + 1;
}

struct history *history__new(size_t window)
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
	h->nr_slots = 64;
	h->slots = calloc(h->nr_slots, sizeof(*h->slots));
	if (!h->slots) {
		free(h);
		errno = ENOMEM;
		return NULL;
	}
	return h;
}

/* Room for `need` entries, allocated before anything changes so that a failure changes nothing. */
static int reserve(struct history *h, size_t need)
{
	size_t nr_slots = h->nr_slots;

	if (need > h->cap) {
		size_t cap = h->cap ? h->cap : 64;
		struct entry *entries;
		struct history_sample *samples;

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
		h->cap = cap;
	}
	while (nr_slots <= need * 2)
		nr_slots *= 2;
	if (nr_slots != h->nr_slots) {
		size_t *slots = malloc(nr_slots * sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		free(h->slots);
		reindex(h, slots, nr_slots);
	}
	return 0;
}

static void push(struct history *h, size_t idx, uint64_t t_ns, int64_t bytes, uint64_t allocs)
{
	struct entry *e = &h->entries[idx];
	struct history_sample *ring = &h->samples[idx * h->window];
	struct history_sample s = { .t_ns = t_ns, .bytes = bytes, .allocs = allocs };

	if (e->count < h->window) {
		ring[(e->head + e->count) % h->window] = s;
		e->count++;
	} else {
		ring[e->head] = s;
		e->head = (e->head + 1) % h->window;
	}
}

/* Drops the entries this update did not see: their stacks have vanished from the kernel's table. */
static void evict(struct history *h)
{
	size_t kept = 0;

	for (size_t i = 0; i < h->nr; i++) {
		if (h->entries[i].gen != h->gen)
			continue;
		if (kept != i) {
			h->entries[kept] = h->entries[i];
			memcpy(&h->samples[kept * h->window], &h->samples[i * h->window],
			       h->window * sizeof(*h->samples));
		}
		kept++;
	}
	if (kept == h->nr)
		return;
	h->nr = kept;
	reindex(h, h->slots, h->nr_slots);
}

int history__update(struct history *h, const struct snapshot *snap)
{
	size_t unknown = 0;
	int err;

	if (h->started && snap->taken_ns <= h->last_ns)
		return -EINVAL;
	/* Counted first so that the arrays grow only by the stacks that are really new. */
	for (size_t i = 0; i < snap->nr_stacks; i++)
		unknown += !*slot_of(h, snap->stacks[i].pid, snap->stacks[i].stack_id);
	err = reserve(h, h->nr + unknown);
	if (err)
		return err;
	h->gen++;
	for (size_t i = 0; i < snap->nr_stacks; i++) {
		const struct stack_record *rec = &snap->stacks[i];
		size_t *slot = slot_of(h, rec->pid, rec->stack_id);
		struct entry *e;

		if (!*slot) {
			e = &h->entries[h->nr];
			memset(e, 0, sizeof(*e));
			e->pid = rec->pid;
			e->stack_id = rec->stack_id;
			*slot = ++h->nr;
			if (h->started)
				push(h, *slot - 1, h->last_ns, 0, 0);
		}
		e = &h->entries[*slot - 1];
		/* A stack listed twice in one snapshot keeps one sample for this update. */
		if (e->gen == h->gen)
			continue;
		e->gen = h->gen;
		push(h, *slot - 1, snap->taken_ns, rec->outstanding_bytes, rec->allocs);
	}
	evict(h);
	h->last_ns = snap->taken_ns;
	h->started = true;
	return 0;
}

bool history__trend(const struct history *h, int pid, uint64_t stack_id, struct history_trend *out)
{
	struct history_sample lin[HISTORY_MAX_WINDOW];
	const struct history_sample *ring;
	const struct entry *e;
	size_t v = *slot_of(h, pid, stack_id);

	if (!v) {
		history_trend_of(NULL, 0, out);
		return false;
	}
	e = &h->entries[v - 1];
	ring = &h->samples[(v - 1) * h->window];
	for (uint32_t i = 0; i < e->count; i++)
		lin[i] = ring[(e->head + i) % h->window];
	history_trend_of(lin, e->count, out);
	return true;
}

size_t history__nr_stacks(const struct history *h)
{
	return h->nr;
}

size_t history__mem_bytes(const struct history *h)
{
	return sizeof(*h) + h->cap * (sizeof(*h->entries) + h->window * sizeof(*h->samples)) +
	       h->nr_slots * sizeof(*h->slots);
}

void history__free(struct history *h)
{
	if (!h)
		return;
	free(h->entries);
	free(h->samples);
	free(h->slots);
	free(h);
}
