/* reach.c: conservative reachability of a process's live blocks, as memcheck decides it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/reach.h"

struct marker {
	struct reach_block *b;
	size_t n;
	uint64_t lo, hi; /* every block lies in [lo, hi) */
	size_t *stack;	 /* blocks whose state went up, to scan */
	size_t nr_stack, cap_stack;
	const struct reach_region *mem;
	size_t nr_mem;
};

static int cmp_block(const void *a_, const void *b_)
{
	const struct reach_block *a = a_, *b = b_;

	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

void reach_sort(struct reach_block *blocks, size_t n)
{
	if (n > 1)
		qsort(blocks, n, sizeof(*blocks), cmp_block);
}

/* The number of blocks that start at or below v. */
static size_t upper(const struct reach_block *b, size_t n, uint64_t v)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b[mid].addr <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The region of mem holding addr, or NULL. */
static const struct reach_region *region_of(const struct reach_region *mem, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mem[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || addr - mem[lo - 1].start >= mem[lo - 1].len)
		return NULL;
	return &mem[lo - 1];
}

static int push(struct marker *m, size_t i)
{
	if (m->nr_stack == m->cap_stack) {
		size_t cap = m->cap_stack ? m->cap_stack * 2 : 1024;
		size_t *s = realloc(m->stack, cap * sizeof(*s));

		if (!s)
			return -ENOMEM;
		m->stack = s;
		m->cap_stack = cap;
	}
	m->stack[m->nr_stack++] = i;
	return 0;
}

/* One word found in a root (definite) or in a block (definite when that block is reachable). */
/*
 * Whether v, inside block b, is glibc malloc's pointer to the chunk after b's. A block of size s
 * lies 16 bytes into a chunk of (s + 8 + 15) & ~15 bytes, 32 at least, and the next chunk's header
 * begins 16 bytes before that chunk's end: inside the block when s % 16 is 1 to 8, since the
 * block may use the next chunk's first word. The allocator points there (the top chunk, bins,
 * free chunks' links), which memcheck, whose allocator is its own, never sees: such a pointer
 * would make a lost block "possibly" lost. It is the allocator's when the next chunk's size word
 * follows, with its bit saying that b's chunk is in use.
 */
static bool allocator_ptr(const struct marker *m, const struct reach_block *b, uint64_t v)
{
	uint64_t chunk = (b->size + 8 + 15) & ~15ull, size_addr, w;
	const struct reach_region *r;

	if (chunk < 32)
		chunk = 32;
	if (v != b->addr + chunk - 16)
		return false;
	size_addr = v + 8;
	r = region_of(m->mem, m->nr_mem, size_addr);
	if (!r || size_addr - r->start + 8 > r->len)
		return false;
	memcpy(&w, r->data + (size_addr - r->start), 8);
	return (w & 1) && (w & ~7ull) >= 32 && !(w & 8);
}

static int visit(struct marker *m, uint64_t v, bool definite)
{
	struct reach_block *b;
	size_t i;

	if (v - m->lo >= m->hi - m->lo)
		return 0;
	i = upper(m->b, m->n, v);
	if (!i)
		return 0;
	b = &m->b[i - 1];
	/* memcheck's test: inside, or the start of an empty block */
	if (!(v - b->addr < b->size || (!b->size && v == b->addr)))
		return 0;
	if (b->state == REACH_REACHABLE || (v != b->addr && allocator_ptr(m, b, v)))
		return 0;
	if (v == b->addr && definite) {
		b->state = REACH_REACHABLE;
		return push(m, i - 1);
	}
	if (b->state == REACH_LOST) {
		b->state = REACH_POSSIBLY;
		return push(m, i - 1);
	}
	return 0;
}

/* The aligned words of [start, end) in region r. */
static int scan_words(struct marker *m, const struct reach_region *r, uint64_t start, uint64_t end,
		      bool definite)
{
	uint64_t a = (start + 7) & ~7ull;

	for (; a + 8 <= end && a + 8 > a; a += 8) {
		uint64_t v;
		int err;

		memcpy(&v, r->data + (a - r->start), 8);
		if (v - m->lo >= m->hi - m->lo)
			continue;
		err = visit(m, v, definite);
		if (err)
			return err;
	}
	return 0;
}

/* A root region, the blocks inside it left out. */
static int scan_root(struct marker *m, const struct reach_region *r)
{
	uint64_t pos = r->start, end = r->start + r->len;
	size_t i = upper(m->b, m->n, pos);
	int err;

	/* a block that starts below the region may cover its beginning */
	if (i && m->b[i - 1].addr + m->b[i - 1].size > pos)
		pos = m->b[i - 1].addr + m->b[i - 1].size;
	for (; pos < end; i++) {
		uint64_t stop = i < m->n && m->b[i].addr < end ? m->b[i].addr : end;

		if (stop > pos) {
			err = scan_words(m, r, pos, stop, true);
			if (err)
				return err;
		}
		if (i >= m->n || stop == end)
			break;
		if (m->b[i].addr + m->b[i].size > pos)
			pos = m->b[i].addr + m->b[i].size;
	}
	return 0;
}

static int drain(struct marker *m, const struct reach_region *mem, size_t nr_mem)
{
	while (m->nr_stack) {
		const struct reach_block *b = &m->b[m->stack[--m->nr_stack]];
		const struct reach_region *r = region_of(mem, nr_mem, b->addr);
		uint64_t end;
		int err;

		if (!r)
			continue;
		end = b->addr + b->size;
		if (end > r->start + r->len || end < b->addr)
			end = r->start + r->len;
		err = scan_words(m, r, b->addr, end, b->state == REACH_REACHABLE);
		if (err)
			return err;
	}
	return 0;
}

int reach_mark(struct reach_block *blocks, size_t nr_blocks, const struct reach_region *roots,
	       size_t nr_roots, const struct reach_region *mem, size_t nr_mem)
{
	struct marker m = { .b = blocks, .n = nr_blocks, .mem = mem, .nr_mem = nr_mem };
	int err = 0;

	for (size_t i = 0; i < nr_blocks; i++)
		blocks[i].state = REACH_LOST;
	if (!nr_blocks)
		return 0;
	m.lo = blocks[0].addr;
	for (size_t i = 0; i < nr_blocks; i++) {
		uint64_t end = blocks[i].addr + (blocks[i].size ? blocks[i].size : 1);

		if (end > m.hi)
			m.hi = end;
	}
	for (size_t i = 0; i < nr_roots && !err; i++) {
		err = scan_root(&m, &roots[i]);
		if (!err)
			err = drain(&m, mem, nr_mem);
	}
	free(m.stack);
	return err;
}
