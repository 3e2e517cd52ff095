/* reach.h: conservative reachability of a process's live blocks, as memcheck decides it: marking
 * from roots through aligned 8-byte words, then a lost / possibly lost / reachable split per stack.
 * Pure: the memory is the caller's copy of the process's. */
#ifndef LT_REACH_H
#define LT_REACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a scan found of a block. The order matters: a block's state only goes up. */
enum reach_state {
	REACH_LOST, /* no pointer to it from roots or from blocks they reach (memcheck's definitely
		     * and indirectly lost) */
	REACH_POSSIBLY,	 /* reached only through a pointer into its interior somewhere on the way */
	REACH_REACHABLE, /* a chain of pointers to block starts from a root */
	REACH_NR,
};

/* One live block of the process. */
struct reach_block {
	uint64_t addr, size; /* [addr, addr + size): the size the program asked for */
	uint64_t stack_id;   /* the stack that allocated it (as reports name it) */
	uint64_t alloc_ns;   /* when it was allocated (CLOCK_MONOTONIC) */
	uint8_t state;	     /* enum reach_state: reach_mark()'s answer */
};

/* A range of the process's memory and leaktop's copy of it. */
struct reach_region {
	uint64_t start;	     /* address in the process */
	uint64_t len;	     /* bytes */
	const uint8_t *data; /* the copy; len bytes */
};

/* Per stack: the outstanding bytes and blocks split by state. valid: a scan has set it. */
struct reach_split {
	int64_t bytes[REACH_NR];
	int64_t allocs[REACH_NR];
	bool valid;
};

/* Adds s to into (a row of several stacks); into is valid when either is. */
static inline void reach_split_add(struct reach_split *into, const struct reach_split *s)
{
	for (int k = 0; k < REACH_NR; k++) {
		into->bytes[k] += s->bytes[k];
		into->allocs[k] += s->allocs[k];
	}
	into->valid |= s->valid;
}

/*
 * Marks blocks (sorted by reach_sort()) from the roots: every aligned 8-byte word of each root
 * region, the parts that lie in a block excepted (a region may be a whole mapping that holds
 * blocks). A word equal to a block's start makes it reachable when it was found in a root or a
 * reachable block; a word inside a block (or its start, found in a block only possibly reached)
 * makes it possibly reached. Reached blocks are scanned in turn, their contents looked up in mem
 * (sorted by start; a block outside mem holds no pointer). The words are read as little-endian.
 * Sets every block's state. 0 or -ENOMEM.
 */
int reach_mark(struct reach_block *blocks, size_t nr_blocks, const struct reach_region *roots,
	       size_t nr_roots, const struct reach_region *mem, size_t nr_mem);

/* Sorts blocks by address, as reach_mark() needs them. */
void reach_sort(struct reach_block *blocks, size_t n);

#endif
