/* test_exitpoint.c: the exit search on hand-assembled functions: rets, tail calls, GOT jumps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "trace/exitpoint.h"

/* Two fake objects: each a 64 KiB image at ELF address 0, with the functions' extents. */
struct fake_obj {
	uint8_t image[0x10000];
	struct {
		uint64_t lo, hi;
	} funcs[16];
	size_t nr_funcs;
	uint64_t entries[4]; /* addresses that are entry points of their own */
	size_t nr_entries;
};

static struct fake_obj obj1, obj2;

static void put(struct fake_obj *o, uint64_t at, const uint8_t *bytes, size_t n, uint64_t hi)
{
	memcpy(o->image + at, bytes, n);
	o->funcs[o->nr_funcs].lo = at;
	o->funcs[o->nr_funcs++].hi = hi;
}

static int fake_range(void *ctx, void *obj, uint64_t vaddr, uint64_t *lo, uint64_t *hi)
{
	struct fake_obj *o = obj;

	(void)ctx;
	for (size_t i = 0; i < o->nr_funcs; i++) {
		if (vaddr >= o->funcs[i].lo && vaddr < o->funcs[i].hi) {
			*lo = o->funcs[i].lo;
			*hi = o->funcs[i].hi;
			return 0;
		}
	}
	return -2;
}

static const uint8_t *fake_code(void *ctx, void *obj, uint64_t vaddr, size_t size)
{
	(void)ctx;
	return vaddr + size <= sizeof(obj1.image) ? ((struct fake_obj *)obj)->image + vaddr : NULL;
}

/* The one GOT slot: obj1's 0x4106 binds to obj2's function at 0x5000. */
static int fake_slot(void *ctx, void *obj, uint64_t slot, void **tobj, uint64_t *tvaddr)
{
	(void)ctx;
	if (obj != &obj1 || slot != 0x4106)
		return -2;
	*tobj = &obj2;
	*tvaddr = 0x5000;
	return 0;
}

static bool fake_is_entry(void *ctx, void *obj, uint64_t vaddr)
{
	struct fake_obj *o = obj;

	(void)ctx;
	for (size_t i = 0; i < o->nr_entries; i++)
		if (o->entries[i] == vaddr)
			return true;
	return false;
}

static const struct exit_code_ops ops = {
	.range = fake_range,
	.code = fake_code,
	.slot_target = fake_slot,
	.is_entry = fake_is_entry,
};

static int setup(void **state)
{
	/* A: two returns, one behind a conditional jump. */
	static const uint8_t a[] = { 0x53, 0x48, 0x89, 0xfb, 0x48, 0x85, 0xff, 0x74, 0x05, 0x48,
				     0x89, 0xd8, 0x5b, 0xc3, 0x5b, 0xc3 };
	/* B: a return, and a tail call (jmp rel32) to C. */
	static const uint8_t b[] = { 0x48, 0x85, 0xff, 0x75, 0x06, 0xe9, 0xf6, 0x0f,
				     0x00, 0x00, 0x90, 0x31, 0xc0, 0xc3 };
	static const uint8_t c[] = { 0x31, 0xc0, 0xc3 };
	/* D: jmp *0x100(%rip), through the GOT slot at 0x4106, to obj2's 0x5000. */
	static const uint8_t d[] = { 0xff, 0x25, 0x00, 0x01, 0x00, 0x00 };
	/* E: a tail call into A, an entry point with probes of its own. */
	static const uint8_t e[] = { 0xe9, 0xfb, 0xaf, 0xff, 0xff };
	/* F: a return, and jmp *%rax: where that goes is unknown. */
	static const uint8_t f[] = { 0x74, 0x02, 0xff, 0xe0, 0xc3 };
	/* G: a jump into the middle of `mov $0xc3, %eax`, whose second byte reads as a ret. */
	static const uint8_t g[] = { 0xeb, 0x01, 0xb8, 0xc3, 0x00, 0x00, 0x00, 0xc3 };
	/* H: a conditional tail call (je rel32) to C, and a return. */
	static const uint8_t h[] = { 0x48, 0x85, 0xff, 0x0f, 0x84, 0xf7, 0x9f, 0xff, 0xff, 0xc3 };
	static const uint8_t ret[] = { 0xc3 };

	(void)state;
	memset(&obj1, 0, sizeof(obj1));
	memset(&obj2, 0, sizeof(obj2));
	put(&obj1, 0x1000, a, sizeof(a), 0x1010);
	put(&obj1, 0x2000, b, sizeof(b), 0x200e);
	put(&obj1, 0x3000, c, sizeof(c), 0x3003);
	put(&obj1, 0x4000, d, sizeof(d), 0x4006);
	put(&obj1, 0x6000, e, sizeof(e), 0x6005);
	put(&obj1, 0x7000, f, sizeof(f), 0x7005);
	put(&obj1, 0x8000, g, sizeof(g), 0x8008);
	put(&obj1, 0x9000, h, sizeof(h), 0x900a);
	put(&obj2, 0x5000, ret, sizeof(ret), 0x5001);
	obj1.entries[obj1.nr_entries++] = 0x1000;
	return 0;
}

/* Runs the search from obj1:vaddr; checks the sites, in any order, and completeness. */
static void expect(uint64_t vaddr, const struct exit_site *want, size_t nr_want, bool complete)
{
	struct exit_site got[8];
	size_t n;
	bool done;

	assert_int_equal(exitpoint_find(&ops, NULL, &obj1, vaddr, got, 8, &n, &done), 0);
	assert_int_equal(n, nr_want);
	for (size_t i = 0; i < nr_want; i++) {
		bool found = false;

		for (size_t k = 0; k < n; k++)
			found |= got[k].obj == want[i].obj && got[k].vaddr == want[i].vaddr;
		assert_true(found);
	}
	assert_int_equal(done, complete);
}

static void test_own_returns(void **state)
{
	const struct exit_site want[] = { { &obj1, 0x100d }, { &obj1, 0x100f } };

	(void)state;
	expect(0x1000, want, 2, true);
}

static void test_tail_call(void **state)
{
	const struct exit_site want[] = { { &obj1, 0x200d }, { &obj1, 0x3002 } };

	(void)state;
	expect(0x2000, want, 2, true);
}

static void test_got_jump(void **state)
{
	const struct exit_site want[] = { { &obj2, 0x5000 } };

	(void)state;
	expect(0x4000, want, 1, true);
}

static void test_tail_call_into_entry_point(void **state)
{
	(void)state;
	expect(0x6000, NULL, 0, true);
}

static void test_indirect_jump(void **state)
{
	const struct exit_site want[] = { { &obj1, 0x7004 } };

	(void)state;
	expect(0x7000, want, 1, false);
}

static void test_no_probe_inside_an_instruction(void **state)
{
	(void)state;
	expect(0x8000, NULL, 0, false);
}

static void test_conditional_tail_call(void **state)
{
	const struct exit_site want[] = { { &obj1, 0x9009 }, { &obj1, 0x3002 } };

	(void)state;
	expect(0x9000, want, 2, true);
}

static void test_limits(void **state)
{
	struct exit_site got[1];
	size_t n;
	bool done;

	(void)state;
	/* Room for one site of two: the search says it is incomplete. */
	assert_int_equal(exitpoint_find(&ops, NULL, &obj1, 0x1000, got, 1, &n, &done), 0);
	assert_int_equal(n, 1);
	assert_false(done);
	/* No function at the entry: nothing to search. */
	assert_int_equal(exitpoint_find(&ops, NULL, &obj1, 0xa000, got, 1, &n, &done), -2);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_own_returns, setup),
		cmocka_unit_test_setup(test_tail_call, setup),
		cmocka_unit_test_setup(test_got_jump, setup),
		cmocka_unit_test_setup(test_tail_call_into_entry_point, setup),
		cmocka_unit_test_setup(test_indirect_jump, setup),
		cmocka_unit_test_setup(test_no_probe_inside_an_instruction, setup),
		cmocka_unit_test_setup(test_conditional_tail_call, setup),
		cmocka_unit_test_setup(test_limits, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
