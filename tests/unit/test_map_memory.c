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

/*
 * The kernel memory of the maps: bpftool's "memlock" for each map, less the 912 bytes of its struct
 * bpf_htab (hash maps), as measured on Linux 6.18 with 2 possible CPUs when all were preallocated
 * (allocs 112778320, unwind_rows 8392704 with the defaults; 113488 and 45056 with --max-allocs 1000
 * --unwind-rows 5000). The stack tables, allocated on demand since, count the same way when every
 * entry is used: 16 bytes per bucket, and per entry and CPU 48 + 8 + 40 bytes (stack_totals) or
 * 48 + 8 + 528 (stacks).
 */
static void test_maps_bytes(void **state)
{
	assert_int_equal(map_memory_bytes(1000000, 65536, 1048576, 2),
			 112778320 - 912 + (65536 * 16 + 96 * 65538) + (65536 * 16 + 584 * 65538) +
				 8392704);
	assert_int_equal(map_memory_bytes(1000, 3000, 5000, 2),
			 113488 - 912 + (4096 * 16 + 96 * 3002) + (4096 * 16 + 584 * 3002) + 45056);
	/* The largest hash maps: 2^27 buckets of 16 bytes, and elements of 96 bytes (allocs). */
	assert_int_equal(map_memory_bytes(1u << 27, 1, 1, 0),
			 (1ull << 31) + 96ull * (1u << 27) + 16 + 96 + 16 + 584 + 4096 + 4096);
	/* Each extra CPU adds one element to each hash map. */
	assert_int_equal(map_memory_bytes(1, 1, 1, 3) - map_memory_bytes(1, 1, 1, 2),
			 96 + 96 + 584);
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

	/* The largest --max-allocs takes 14.1 GiB: it fits 23.5 GiB, not 8 GiB. */
	assert_int_equal(PARSE(&o, "--max-allocs", "134217728", "-p", "1"), 0);
	assert_int_equal(map_memory_check(&o, MEM_23_5_GIB, 2, err, sizeof(err)), 0);
	assert_int_equal(map_memory_check(&o, 8ull << 30, 2, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--max-allocs: '134217728' is too large for this machine: the BPF "
				 "maps would take 14.1 GiB of kernel memory, it has 8.0 GiB "
				 "(accepted: 1 to 67108864)");
	options_free(&o);

	/* The range is the largest size that fits, the other options as given. */
	assert_int_equal(PARSE(&o, "--max-stacks", "50000000", "-p", "1"), 0);
	assert_int_equal(map_memory_check(&o, MEM_23_5_GIB, 2, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--max-stacks: '50000000' is too large for this machine: the BPF "
				 "maps would take 33.8 GiB of kernel memory, it has 23.5 GiB "
				 "(accepted: 1 to 33835081)");
	o.max_stacks = 33835082;
	assert_int_equal(map_memory_check(&o, MEM_23_5_GIB, 2, err, sizeof(err)), -EINVAL);
	o.max_stacks = 33835081;
	assert_int_equal(map_memory_check(&o, MEM_23_5_GIB, 2, err, sizeof(err)), 0);
	options_free(&o);

	/* The row table counts only when there are tables: --unwind fp keeps one row. */
	assert_int_equal(PARSE(&o, "--unwind-rows", "268435456", "-p", "1"), 0);
	assert_int_equal(map_memory_check(&o, 1ull << 30, 2, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--unwind-rows: '268435456' is too large for this machine: the "
				 "BPF maps would take 2.1 GiB of kernel memory, it has 1.0 GiB "
				 "(accepted: 1 to 114287104)");
	o.unwind_mode = LT_UNWIND_FP;
	assert_int_equal(map_memory_check(&o, 1ull << 30, 2, err, sizeof(err)), 0);
	options_free(&o);

	/* Even one entry of the largest table does not fit beside the others. */
	assert_int_equal(PARSE(&o, "-p", "1"), 0);
	assert_int_equal(map_memory_check(&o, 50000000, 2, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--max-allocs: '1000000' is too large for this machine: the BPF "
				 "maps would take 160.1 MiB of kernel memory, it has 47.7 MiB, and "
				 "the other tables alone take 52.5 MiB");
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
