/* hashtab.c: the one hash table: open addressing, linear probing, deletion by backward shift. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/hashtab.h"

#define MIN_CAP 16

struct slot {
	uint64_t key;
	uint64_t value;
};

struct hashtab {
	struct slot *slots;
	uint64_t *used; /* one bit per slot: every key is allowed, so none can mark a free slot */
	size_t cap;	/* a power of two, at least twice count */
	size_t count;
};

/*
 * The slot a key starts its probe at. Keys are often hashes already, but pcs, pids and indices
 * are not, and the low bits of FNV-1a over words depend on the low bits of the words only: the
 * finalizer of MurmurHash3 makes every bit of the key count.
 */
static size_t home(const struct hashtab *t, uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	key *= 0xc4ceb9fe1a85ec53ULL;
	key ^= key >> 33;
	return (size_t)key & (t->cap - 1);
}

static bool is_used(const uint64_t *used, size_t i)
{
	return used[i / 64] >> (i % 64) & 1;
}

static void set_used(uint64_t *used, size_t i, bool on)
{
	if (on)
		used[i / 64] |= 1ULL << (i % 64);
	else
		used[i / 64] &= ~(1ULL << (i % 64));
}

static size_t bitmap_bytes(size_t cap)
{
	return (cap + 63) / 64 * sizeof(uint64_t);
}

/* The smallest capacity that holds n entries at most half full; 0 when none would fit in memory. */
static size_t cap_for(size_t n)
{
	size_t cap = MIN_CAP;

	while (cap / 2 < n) {
		if (cap > SIZE_MAX / 2 / sizeof(struct slot))
			return 0;
		cap *= 2;
	}
	return cap;
}

/* The slot a new entry for key goes to: the first free one of its probe. */
static size_t free_slot(const struct hashtab *t, uint64_t key)
{
	size_t i = home(t, key);

	while (is_used(t->used, i))
		i = (i + 1) & (t->cap - 1);
	return i;
}

static int resize(struct hashtab *t, size_t cap)
{
	struct hashtab n = {.cap = cap, .count = t->count};

	n.slots = malloc(cap * sizeof(*n.slots));
	n.used = calloc(1, bitmap_bytes(cap));
	if (!n.slots || !n.used) {
		free(n.slots);
		free(n.used);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->cap; i++) {
		size_t j;

		if (!is_used(t->used, i))
			continue;
		j = free_slot(&n, t->slots[i].key);
		n.slots[j] = t->slots[i];
		set_used(n.used, j, true);
	}
	free(t->slots);
	free(t->used);
	*t = n;
	return 0;
}

struct hashtab *hashtab__new(size_t expected)
{
	struct hashtab *t = calloc(1, sizeof(*t));
	size_t cap = cap_for(expected);

	if (!t || !cap || resize(t, cap)) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	return t;
}

void hashtab__free(struct hashtab *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t->used);
	free(t);
}

int hashtab__reserve(struct hashtab *t, size_t n)
{
	size_t cap = cap_for(n);

	if (!cap)
		return -ENOMEM;
	return cap > t->cap ? resize(t, cap) : 0;
}

/* The slot of the entry filed under hash that match accepts (any, without match), or t->cap. */
static size_t lookup(const struct hashtab *t, uint64_t hash, hashtab_match_fn match,
		     const void *ctx)
{
	for (size_t i = home(t, hash); is_used(t->used, i); i = (i + 1) & (t->cap - 1)) {
		const struct slot *s = &t->slots[i];

		if (s->key == hash && (!match || match(s->value, ctx)))
			return i;
	}
	return t->cap;
}

uint64_t *hashtab__find_match(const struct hashtab *t, uint64_t hash, hashtab_match_fn match,
			      const void *ctx)
{
	size_t i = lookup(t, hash, match, ctx);

	return i < t->cap ? &t->slots[i].value : NULL;
}

uint64_t *hashtab__find(const struct hashtab *t, uint64_t key)
{
	return hashtab__find_match(t, key, NULL, NULL);
}

int hashtab__add(struct hashtab *t, uint64_t hash, uint64_t value)
{
	size_t i;

	if (t->count + 1 > t->cap / 2 && hashtab__reserve(t, t->count + 1))
		return -ENOMEM;
	i = free_slot(t, hash);
	t->slots[i] = (struct slot){.key = hash, .value = value};
	set_used(t->used, i, true);
	t->count++;
	return 0;
}

int hashtab__put(struct hashtab *t, uint64_t key, uint64_t value)
{
	uint64_t *v = hashtab__find(t, key);

	if (v) {
		*v = value;
		return 0;
	}
	return hashtab__add(t, key, value);
}

/*
 * Linear probing needs no tombstones: each entry after the hole, up to the next free slot, moves
 * into the hole when its probe starts at or before the hole (cyclically), and leaves a hole of its
 * own. Every entry stays reachable from its home slot, and lookups stay short after deletions.
 */
bool hashtab__delete(struct hashtab *t, uint64_t key)
{
	size_t mask = t->cap - 1, hole = lookup(t, key, NULL, NULL), j;

	if (hole == t->cap)
		return false;
	for (j = (hole + 1) & mask; is_used(t->used, j); j = (j + 1) & mask) {
		size_t h = home(t, t->slots[j].key);

		if (((j - h) & mask) >= ((j - hole) & mask)) {
			t->slots[hole] = t->slots[j];
			hole = j;
		}
	}
	set_used(t->used, hole, false);
	t->count--;
	return true;
}

void hashtab__clear(struct hashtab *t)
{
	memset(t->used, 0, bitmap_bytes(t->cap));
	t->count = 0;
}

size_t hashtab__count(const struct hashtab *t)
{
	return t->count;
}

size_t hashtab__mem_bytes(const struct hashtab *t)
{
	return sizeof(*t) + t->cap * sizeof(*t->slots) + bitmap_bytes(t->cap);
}

bool hashtab__next(const struct hashtab *t, size_t *pos, uint64_t *key, uint64_t **value)
{
	for (size_t i = *pos; i < t->cap; i++) {
		if (!is_used(t->used, i))
			continue;
		*pos = i + 1;
		if (key)
			*key = t->slots[i].key;
		if (value)
			*value = &t->slots[i].value;
		return true;
	}
	*pos = t->cap;
	return false;
}
