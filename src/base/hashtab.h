/* hashtab.h: the one hash table of user space: uint64_t keys to uint64_t values; FNV-1a. */
#ifndef LT_HASHTAB_H
#define LT_HASHTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Open addressing with linear probing, at most half full, so a lookup looks at a slot or two. Keys
 * and values are plain uint64_t: an integer, an index into the caller's array, or a pointer cast
 * to uintptr_t. Any key is allowed, 0 and UINT64_MAX included. The table owns only its slots:
 * what values point to stays the caller's.
 *
 * Two ways to use one table (never both on the same table):
 *  - unique keys (stack ids, pcs, pids): hashtab__find(), hashtab__put(), hashtab__delete();
 *  - keys that are hashes of longer keys (strings, structs): hashtab__add() files a value under
 *    the hash, and hashtab__find_match() asks the caller's match function which of the values
 *    filed under a hash is the one wanted, so two keys with one hash stay two entries.
 *
 * A value pointer that a lookup returns stays valid until the next put, add, delete, reserve or
 * clear on the table.
 */
struct hashtab;

/* An empty table with room for `expected` entries before it first grows. NULL and errno ENOMEM. */
struct hashtab *hashtab__new(size_t expected);

/* NULL-safe. */
void hashtab__free(struct hashtab *t);

/* The value of key, or NULL when key is not in t. */
uint64_t *hashtab__find(const struct hashtab *t, uint64_t key);

/* Sets key's value, adding key when new. 0, or -ENOMEM (t unchanged). */
int hashtab__put(struct hashtab *t, uint64_t key, uint64_t value);

/* Removes key; false when it was not there. Never allocates, never fails. */
bool hashtab__delete(struct hashtab *t, uint64_t key);

/* Whether value, filed under a hash, is the entry that ctx describes. */
typedef bool (*hashtab_match_fn)(uint64_t value, const void *ctx);

/* The first value filed under hash that match accepts, or NULL. */
uint64_t *hashtab__find_match(const struct hashtab *t, uint64_t hash, hashtab_match_fn match,
			      const void *ctx);

/* Files value under hash, beside any value already there. 0, or -ENOMEM (t unchanged). */
int hashtab__add(struct hashtab *t, uint64_t hash, uint64_t value);

/*
 * Makes room for n entries in all: until t holds n, hashtab__put() and hashtab__add() do not
 * allocate, so they cannot fail. 0, or -ENOMEM (t unchanged).
 */
int hashtab__reserve(struct hashtab *t, size_t n);

/* Removes every entry and keeps the room. */
void hashtab__clear(struct hashtab *t);

/* Entries held. */
size_t hashtab__count(const struct hashtab *t);

/* Bytes the table holds, its slots included. */
size_t hashtab__mem_bytes(const struct hashtab *t);

/*
 * Iteration, in no particular order: start with *pos = 0; each call gives the next entry and
 * returns true, or false after the last. Values may be changed through *value on the way, but
 * nothing may be put, added or deleted until the iteration ends.
 */
bool hashtab__next(const struct hashtab *t, size_t *pos, uint64_t *key, uint64_t **value);

/*
 * FNV-1a, the hash of strings and of word sequences (the maps' signatures, pprof's keys). User
 * space only: the BPF side hashes stacks with lt_stack_hash (bpf/leaktop.h), which is
 * fnv1a_u64() over the return addresses from a seed of its own; test_hashtab.c holds the two
 * together.
 */
#define FNV1A_SEED  0xcbf29ce484222325ULL
#define FNV1A_PRIME 0x100000001b3ULL

/* h with len more bytes hashed in, one byte at a time (FNV-1a proper). */
static inline uint64_t fnv1a_bytes(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len--)
		h = (h ^ *p++) * FNV1A_PRIME;
	return h;
}

/* h with one 64-bit word hashed in whole, as lt_stack_hash does with each return address. */
static inline uint64_t fnv1a_u64(uint64_t h, uint64_t word)
{
	return (h ^ word) * FNV1A_PRIME;
}

#endif
