/* test_map_memory.c: the kernel memory of the BPF maps for given sizes, and the check that they fit. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bpf/leaktop.h"
#include "map_memory.h"
#include "options.h"

static char err[256];

/* Parses leaktop ARGS... into o (options.command points into argv, which outlives the parse). */
#define PARSE(o, ...)                                                                        \
	options_parse(o, sizeof((char *[]){ "leaktop", __VA_ARGS__ }) / sizeof(char *),      \
		      (char *[]){ "leaktop", __VA_ARGS__, NULL }, err, sizeof(err))

/* A tier of the allocation table, or a stack table, when every entry is in use: 16 bytes per
 * bucket (the entries rounded up to a power of 2), and per entry and CPU 48 bytes of struct
 * htab_elem, the key and the value. */
static uint64_t table(uint64_t entries, uint64_t buckets, uint64_t kv, unsigned int cpus)
{
	return buckets * 16 + (48 + kv) * (entries + cpus);
}

/*
 * The kernel memory of the maps: bpftool's "memlock" for each map, less the 912 bytes of its struct
 * bpf_htab (hash maps), as measured on Linux 6.18 with 2 possible CPUs when all were preallocated
 * (unwind_rows 8392704 with the defaults, 45056 with --unwind-rows 5000). The tables allocated on
 * demand count when every entry is used: the allocation table's tiers (16384, 65536, 262144 and
 * the rest of 1,000,000 entries; key and value 16 + 32 bytes), stack_totals (8 + 408) and stacks
 * (8 + 528).
 */
static void test_maps_bytes(void **state)
{
	assert_int_equal(map_memory_bytes(1000000, 65536, 1048576, 2),
			 table(16384, 16384, 48, 2) + table(65536, 65536, 48, 2) +
				 table(262144, 262144, 48, 2) + table(655936, 1048576, 48, 2) +
				 table(65536, 65536, 416, 2) + table(65536, 65536, 536, 2) + 8392704);
	/* A table of 1,000 entries is one tier of 1,000. */
	assert_int_equal(map_memory_bytes(1000, 3000, 5000, 2),
			 table(1000, 1024, 48, 2) + table(3000, 4096, 416, 2) +
				 table(3000, 4096, 536, 2) + 45056);
	/* The largest table: seven whole tiers (16384 x 4^n) and the rest of 2^27 in the eighth. */
	uint64_t tiers = 0, size = 16384, before = 0;

	for (int i = 0; i < 7; i++, before += size, size *= 4)
		tiers += table(size, size, 48, 0);
	tiers += table((1u << 27) - before, 1u << 26, 48, 0);
	assert_int_equal(map_memory_bytes(1u << 27, 1, 1, 0),
			 tiers + table(1, 1, 416, 0) + table(1, 1, 536, 0) + 4096 + 4096);
	/* Each extra CPU adds one element to each hash map: 4 tiers for 1,000,000 entries. */
	assert_int_equal(map_memory_bytes(1000000, 1, 1, 3) - map_memory_bytes(1000000, 1, 1, 2),
			 4 * 96 + 464 + 584);
}

/* This machine's memory, when these tests were written: 6171023 pages of 4 KiB. */
#define MEM_23_5_GIB 25276510208ull

static void test_check_memory(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "-p", "1"), 0);
	assert_int_equal(map_memory_check(&o, MEM_23_5_GIB, 2, err, sizeof(err)), 0);
	/* Unknown memory: nothing to check against. */
	o.max_stacks = 1u << 27;
	assert_int_equal(map_memory_check(&o, 0, 2, err, sizeof(err)), 0);
	options_free(&o);

	/* The largest --max-allocs takes 14.4 GiB: it fits 23.5 GiB, not 8 GiB. */
	assert_int_equal(PARSE(&o, "--max-allocs", "134217728", "-p", "1"), 0);
	assert_int_equal(map_memory_check(&o, MEM_23_5_GIB, 2, err, sizeof(err)), 0);
	assert_int_equal(map_memory_check(&o, 8ull << 30, 2, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--max-allocs: '134217728' is too large for this machine: the BPF "
				 "maps would take 14.4 GiB of kernel memory, it has 8.0 GiB "
				 "(accepted: 1 to 73741574)");
	options_free(&o);

	/* The range is the largest size that fits, the other options as given. */
	assert_int_equal(PARSE(&o, "--max-stacks", "50000000", "-p", "1"), 0);
	assert_int_equal(map_memory_check(&o, MEM_23_5_GIB, 2, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--max-stacks: '50000000' is too large for this machine: the BPF "
				 "maps would take 50.9 GiB of kernel memory, it has 23.5 GiB "
				 "(accepted: 1 to 22973368)");
	o.max_stacks = 22973369;
	assert_int_equal(map_memory_check(&o, MEM_23_5_GIB, 2, err, sizeof(err)), -EINVAL);
	o.max_stacks = 22973368;
	assert_int_equal(map_memory_check(&o, MEM_23_5_GIB, 2, err, sizeof(err)), 0);
	options_free(&o);

	/* The row table counts only when there are tables: --unwind fp keeps one row. */
	assert_int_equal(PARSE(&o, "--unwind-rows", "268435456", "-p", "1"), 0);
	assert_int_equal(map_memory_check(&o, 1ull << 30, 2, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--unwind-rows: '268435456' is too large for this machine: the "
				 "BPF maps would take 2.2 GiB of kernel memory, it has 1.0 GiB "
				 "(accepted: 1 to 110583808)");
	o.unwind_mode = LT_UNWIND_FP;
	assert_int_equal(map_memory_check(&o, 1ull << 30, 2, err, sizeof(err)), 0);
	options_free(&o);

	/* Even one entry of the largest table does not fit beside the others. */
	assert_int_equal(PARSE(&o, "-p", "1"), 0);
	assert_int_equal(map_memory_check(&o, 50000000, 2, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--max-allocs: '1000000' is too large for this machine: the BPF "
				 "maps would take 188.3 MiB of kernel memory, it has 47.7 MiB, and "
				 "the other tables alone take 75.5 MiB");
	options_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_bytes),
		cmocka_unit_test(test_check_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
