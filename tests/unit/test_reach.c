/* test_reach.c: the reachability marker on synthetic memory: memcheck's rules, case by case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "model/reach.h"

/* A synthetic process: globals at 0x1000 (a root), a heap at 0x10000 holding the blocks. */
#define GLOBALS 0x1000ull
#define HEAP	0x10000ull

struct world {
	uint8_t globals[256];
	uint8_t heap[4096];
	struct reach_block blocks[16];
	size_t nr;
};

static void put(struct world *w, uint64_t addr, uint64_t value)
{
	uint8_t *p = addr >= HEAP ? &w->heap[addr - HEAP] : &w->globals[addr - GLOBALS];

	memcpy(p, &value, 8);
}

static void block(struct world *w, uint64_t addr, uint64_t size, uint64_t stack)
{
	w->blocks[w->nr++] = (struct reach_block){.addr = addr, .size = size, .stack_id = stack};
}

/* Marks with the globals as root; with heap_root, the whole heap mapping is a root too. */
static void mark(struct world *w, bool heap_root)
{
	struct reach_region mem[2] = {
	    {.start = GLOBALS, .len = sizeof(w->globals), .data = w->globals},
	    {.start = HEAP, .len = sizeof(w->heap), .data = w->heap},
	};

	reach_sort(w->blocks, w->nr);
	assert_int_equal(reach_mark(w->blocks, w->nr, mem, heap_root ? 2 : 1, mem, 2), 0);
}

static int state_of(struct world *w, uint64_t addr)
{
	for (size_t i = 0; i < w->nr; i++)
		if (w->blocks[i].addr == addr)
			return w->blocks[i].state;
	fail();
	return -1;
}

/* A list whose head nothing points to: every node lost (memcheck: 1 definitely, 2 indirectly). */
static void test_list_dropped(void **state)
{
	struct world w = {0};

	(void)state;
	block(&w, HEAP + 0x100, 16, 1);
	block(&w, HEAP + 0x200, 16, 1);
	block(&w, HEAP + 0x300, 16, 1);
	put(&w, HEAP + 0x100, HEAP + 0x200);
	put(&w, HEAP + 0x200, HEAP + 0x300);
	mark(&w, true);
	assert_int_equal(state_of(&w, HEAP + 0x100), REACH_LOST);
	assert_int_equal(state_of(&w, HEAP + 0x200), REACH_LOST);
	assert_int_equal(state_of(&w, HEAP + 0x300), REACH_LOST);
}

/* A global points to a cache's table, which points to its entries: all reachable. */
static void test_cache_from_global(void **state)
{
	struct world w = {0};

	(void)state;
	block(&w, HEAP + 0x100, 32, 1);
	block(&w, HEAP + 0x200, 24, 2);
	block(&w, HEAP + 0x300, 24, 2);
	put(&w, GLOBALS + 8, HEAP + 0x100);
	put(&w, HEAP + 0x100, HEAP + 0x200);
	put(&w, HEAP + 0x108, HEAP + 0x300);
	mark(&w, true);
	assert_int_equal(state_of(&w, HEAP + 0x100), REACH_REACHABLE);
	assert_int_equal(state_of(&w, HEAP + 0x200), REACH_REACHABLE);
	assert_int_equal(state_of(&w, HEAP + 0x300), REACH_REACHABLE);
}

/*
 * An interior pointer makes its block possibly lost, and what that block points to (start
 * pointers included) possibly lost too, until a definite chain reaches it.
 */
static void test_interior(void **state)
{
	struct world w = {0};

	(void)state;
	block(&w, HEAP + 0x100, 64, 1); /* pointed into */
	block(&w, HEAP + 0x200, 16, 2); /* pointed at by the first only */
	block(&w, HEAP + 0x300, 16, 3); /* pointed at by the first, and later from a root */
	put(&w, GLOBALS, HEAP + 0x100 + 40);
	put(&w, HEAP + 0x100, HEAP + 0x200);
	put(&w, HEAP + 0x108, HEAP + 0x300);
	put(&w, GLOBALS + 0x80, HEAP + 0x300);
	mark(&w, true);
	assert_int_equal(state_of(&w, HEAP + 0x100), REACH_POSSIBLY);
	assert_int_equal(state_of(&w, HEAP + 0x200), REACH_POSSIBLY);
	assert_int_equal(state_of(&w, HEAP + 0x300), REACH_REACHABLE);
}

/* A possibly reached block that a root reaches later is rescanned: its targets become reachable. */
static void test_upgrade_rescans(void **state)
{
	struct world w = {0};

	(void)state;
	block(&w, HEAP + 0x100, 32, 1);
	block(&w, HEAP + 0x200, 16, 2);
	put(&w, GLOBALS, HEAP + 0x108);	       /* interior first */
	put(&w, GLOBALS + 0x10, HEAP + 0x100); /* then the start */
	put(&w, HEAP + 0x100, HEAP + 0x200);
	mark(&w, true);
	assert_int_equal(state_of(&w, HEAP + 0x100), REACH_REACHABLE);
	assert_int_equal(state_of(&w, HEAP + 0x200), REACH_REACHABLE);
}

/*
 * A root mapping that holds blocks: the words outside blocks are roots (heap before attach), the
 * words of a lost block are not. Pointers at the end of a block, one past it, or unaligned count
 * for nothing.
 */
static void test_blocks_in_roots(void **state)
{
	struct world w = {0};

	(void)state;
	block(&w, HEAP + 0x100, 16, 1); /* lost: points to the next */
	block(&w, HEAP + 0x200, 16, 2);
	block(&w, HEAP + 0x300, 20, 3); /* pointed at from untracked heap */
	block(&w, HEAP + 0x400, 16, 4); /* pointed at one past its end only */
	block(&w, HEAP + 0x500, 16, 5); /* pointed at by an unaligned word */
	block(&w, HEAP + 0x600, 16, 6); /* pointed at by the partial last word of 0x300 */
	put(&w, HEAP + 0x100, HEAP + 0x200);
	put(&w, HEAP + 0x800, HEAP + 0x300);
	put(&w, HEAP + 0x808, HEAP + 0x410);
	put(&w, HEAP + 0x811, HEAP + 0x500);
	put(&w, HEAP + 0x310, HEAP + 0x600); /* bytes 16..23 of a 20-byte block */
	mark(&w, true);
	assert_int_equal(state_of(&w, HEAP + 0x100), REACH_LOST);
	assert_int_equal(state_of(&w, HEAP + 0x200), REACH_LOST);
	assert_int_equal(state_of(&w, HEAP + 0x300), REACH_REACHABLE);
	assert_int_equal(state_of(&w, HEAP + 0x400), REACH_LOST);
	assert_int_equal(state_of(&w, HEAP + 0x500), REACH_LOST);
	assert_int_equal(state_of(&w, HEAP + 0x600), REACH_LOST);
	/* without the heap as a root, the block the untracked heap points to is lost too */
	mark(&w, false);
	assert_int_equal(state_of(&w, HEAP + 0x300), REACH_LOST);
}

/* A cycle reached from nowhere stays lost; reached from a root, it is reachable. */
static void test_cycle(void **state)
{
	struct world w = {0};

	(void)state;
	block(&w, HEAP + 0x100, 16, 1);
	block(&w, HEAP + 0x200, 16, 1);
	put(&w, HEAP + 0x100, HEAP + 0x200);
	put(&w, HEAP + 0x200, HEAP + 0x100);
	mark(&w, true);
	assert_int_equal(state_of(&w, HEAP + 0x100), REACH_LOST);
	assert_int_equal(state_of(&w, HEAP + 0x200), REACH_LOST);
	put(&w, GLOBALS + 0xf8, HEAP + 0x200);
	mark(&w, true);
	assert_int_equal(state_of(&w, HEAP + 0x100), REACH_REACHABLE);
	assert_int_equal(state_of(&w, HEAP + 0x200), REACH_REACHABLE);
}

/* An empty block counts its start as inside (memcheck's rule); a block beyond mem is not read. */
static void test_edges(void **state)
{
	struct world w = {0};

	(void)state;
	block(&w, HEAP + 0x100, 0, 1);
	block(&w, HEAP + 0x2000, 64, 2); /* past the copy of the heap: nothing read from it */
	put(&w, GLOBALS, HEAP + 0x100);
	put(&w, GLOBALS + 8, HEAP + 0x2000);
	mark(&w, true);
	assert_int_equal(state_of(&w, HEAP + 0x100), REACH_REACHABLE);
	assert_int_equal(state_of(&w, HEAP + 0x2000), REACH_REACHABLE);
	assert_int_equal(reach_mark(NULL, 0, NULL, 0, NULL, 0), 0);
}

/* Many blocks chained through random slots: the marker agrees with a plain model of the rule. */
static void test_long_chain(void **state)
{
	enum { N = 200 };
	static uint8_t heap[N * 32];
	struct reach_block b[N];
	struct reach_region mem = {.start = HEAP, .len = sizeof(heap), .data = heap};
	uint8_t root_words[8];
	struct reach_region root = {.start = GLOBALS, .len = 8, .data = root_words};
	uint64_t v;

	(void)state;
	memset(heap, 0, sizeof(heap));
	for (size_t i = 0; i < N; i++) {
		b[i] = (struct reach_block){.addr = HEAP + i * 32, .size = 32, .stack_id = i};
		/* block i points to block (i * 7 + 3) % N at the word i % 4 */
		v = HEAP + ((i * 7 + 3) % N) * 32;
		if (i < N / 2)
			memcpy(&heap[i * 32 + (i % 4) * 8], &v, 8);
	}
	v = HEAP + 0;
	memcpy(root_words, &v, 8);
	assert_int_equal(reach_mark(b, N, &root, 1, &mem, 1), 0);
	/* the model: follow from block 0 while the block points on */
	{
		bool seen[N] = {false};
		size_t i = 0;

		while (!seen[i]) {
			seen[i] = true;
			if (i >= N / 2)
				break;
			i = (i * 7 + 3) % N;
		}
		for (size_t k = 0; k < N; k++)
			assert_int_equal(b[k].state, seen[k] ? REACH_REACHABLE : REACH_LOST);
	}
}

/*
 * glibc's pointer to the chunk after a block (its header inside the block's last 8 bytes when the
 * size is 1 to 8 more than a multiple of 16) is the allocator's, when that header is there.
 */
static void test_allocator_tail(void **state)
{
	struct world w = { 0 };

	(void)state;
	block(&w, HEAP + 0x100, 40, 1);	 /* chunk of 48: the next header at +32 */
	block(&w, HEAP + 0x200, 40, 2);	 /* the same, no header after it */
	block(&w, HEAP + 0x300, 48, 3);	 /* chunk of 64: +32 is an interior pointer */
	block(&w, HEAP + 0x400, 20, 4);	 /* chunk of 32: the next header at +16 */
	put(&w, GLOBALS, HEAP + 0x120);
	put(&w, HEAP + 0x128, 0x20d01);	 /* the top chunk's size, this chunk in use */
	put(&w, GLOBALS + 8, HEAP + 0x220);
	put(&w, GLOBALS + 16, HEAP + 0x320);
	put(&w, HEAP + 0x338, 0x41);
	put(&w, GLOBALS + 24, HEAP + 0x410);
	put(&w, HEAP + 0x418, 0x31);
	mark(&w, false);
	assert_int_equal(state_of(&w, HEAP + 0x100), REACH_LOST);
	assert_int_equal(state_of(&w, HEAP + 0x200), REACH_POSSIBLY);
	assert_int_equal(state_of(&w, HEAP + 0x300), REACH_POSSIBLY);
	assert_int_equal(state_of(&w, HEAP + 0x400), REACH_LOST);
	/* a size word of a chunk not in use says nothing of the allocator's pointers to it */
	put(&w, HEAP + 0x128, 0x20d00);
	mark(&w, false);
	assert_int_equal(state_of(&w, HEAP + 0x100), REACH_POSSIBLY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_list_dropped),    cmocka_unit_test(test_cache_from_global),
	    cmocka_unit_test(test_interior),	    cmocka_unit_test(test_upgrade_rescans),
	    cmocka_unit_test(test_blocks_in_roots), cmocka_unit_test(test_cycle),
	    cmocka_unit_test(test_edges),	    cmocka_unit_test(test_long_chain),
	    cmocka_unit_test(test_allocator_tail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
