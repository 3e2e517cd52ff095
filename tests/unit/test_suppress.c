/* test_suppress.c: LeakSanitizer's pattern syntax, the file format, matching and filtering. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "model/suppress.h"

/* compiler-rt's TemplateMatch, case by case: substrings, `*`, `^` and `$`. */
static void test_pattern(void **state)
{
	/* A plain pattern is a substring anywhere. */
	assert_true(suppress_pattern_match("leak_one", "leak_one"));
	assert_true(suppress_pattern_match("leak", "my_leak_one"));
	assert_false(suppress_pattern_match("leak_two", "leak_one"));
	/* Empty or missing strings never match, whatever the pattern. */
	assert_false(suppress_pattern_match("x", ""));
	assert_false(suppress_pattern_match("x", NULL));
	assert_false(suppress_pattern_match("*", ""));
	assert_true(suppress_pattern_match("*", "a"));
	/* `*`: pieces in order. */
	assert_true(suppress_pattern_match("app::*::fill", "app::Cache::fill(int)"));
	assert_false(suppress_pattern_match("fill*app", "app::Cache::fill(int)"));
	assert_true(suppress_pattern_match("*LSanTestLeakingFunc*", "LSanTestLeakingFunc()"));
	/* `^` anchors the first piece at the start. */
	assert_true(suppress_pattern_match("^leak", "leak_one"));
	assert_false(suppress_pattern_match("^leak", "my_leak"));
	assert_true(suppress_pattern_match("^*leak", "my_leak"));
	/* `$` anchors at the end; after a `*`, anything may come before the end. */
	assert_true(suppress_pattern_match("one$", "leak_one"));
	assert_false(suppress_pattern_match("one$", "one_more"));
	assert_true(suppress_pattern_match("^leak_one$", "leak_one"));
	assert_false(suppress_pattern_match("^leak_one$", "leak_one2"));
	assert_true(suppress_pattern_match("leak*$", "leak_one"));
	/* The first occurrence of a piece is taken (as TemplateMatch does): no backtracking. */
	assert_false(suppress_pattern_match("ab$", "abab_"));
	assert_true(suppress_pattern_match("^_dl_init$", "_dl_init"));
	assert_false(suppress_pattern_match("^_dl_init$", "_dl_init_paths"));
	/* A path: substrings of a module. */
	assert_true(suppress_pattern_match("libstdc++.so",
					   "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30"));
	assert_true(suppress_pattern_match("/gate$", "/work/build/workloads/gate"));
}

static void test_parse(void **state)
{
	struct suppressions *s = suppressions__new();
	char err[256];

	assert_non_null(s);
	assert_int_equal(suppressions__parse(s,
					     "# a comment\n"
					     "\n"
					     "   leak:leak_one   \n"
					     "\t# indented comment\n"
					     "leak:^libfoo.so$\r\n"
					     "leak:last without newline",
					     "t.supp", err, sizeof(err)),
			 0);
	assert_int_equal(suppressions__count(s), 3);
	/* A line that is not leak: is refused with file and line, and nothing of that text is
	 * kept. */
	assert_int_equal(suppressions__parse(s, "leak:fine\nrace:foo\n", "bad.supp", err,
					     sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "bad.supp:2: 'race:foo' is not a leak suppression "
				 "(expected leak:PATTERN)");
	assert_int_equal(suppressions__count(s), 3);
	assert_int_equal(suppressions__parse(s, "leak:\n", "e.supp", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "e.supp:1: empty pattern after leak:");
	assert_int_equal(suppressions__parse(s, "just_a_name\n", "n.supp", err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(suppressions__count(s), 3);
	suppressions__free(s);
}

static void test_load(void **state)
{
	struct suppressions *s = suppressions__new();
	char path[] = "/tmp/leaktop-supp-XXXXXX", err[512];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "leak:a\nleak:b\n", 14), 14);
	close(fd);
	assert_int_equal(suppressions__load(s, path, err, sizeof(err)), 0);
	assert_int_equal(suppressions__count(s), 2);
	unlink(path);
	assert_int_equal(suppressions__load(s, path, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file or directory"));
	assert_int_equal(suppressions__load(s, "/tmp", err, sizeof(err)), -EISDIR);
	assert_string_equal(err, "cannot read the suppressions /tmp: Is a directory");
	suppressions__free(s);
}

/* The built-in list parses, and names what it is for. */
static void test_defaults(void **state)
{
	struct suppressions *s = suppressions__new();
	struct sym_frame pool[] = {
		{ .address = 0x7f0000a57ba, .module = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30" },
		{ .function = "call_init", .module = "/usr/lib64/ld-linux-x86-64.so.2",
		  .file = "./elf/dl-init.c", .inlined = true },
		{ .function = "_dl_init", .module = "/usr/lib64/ld-linux-x86-64.so.2",
		  .file = "./elf/dl-init.c" },
	};
	struct sym_frame stdio[] = {
		{ .function = "_IO_file_doallocate", .module = "/usr/lib/x86_64-linux-gnu/libc.so.6",
		  .file = "./libio/filedoalloc.c" },
		{ .function = "printf", .module = "/usr/lib/x86_64-linux-gnu/libc.so.6" },
		{ .function = "main", .module = "/tmp/prog", .file = "prog.c" },
	};
	struct sym_frame named_pool[] = {
		{ .function = "pool", .module = "/usr/lib/x86_64-linux-gnu/debug/libstdc++.so.6.0.30",
		  .file = "../../../../src/libstdc++-v3/libsupc++/eh_alloc.cc" },
	};
	struct sym_frame mine[] = {
		{ .function = "leak_one", .module = "/tmp/gate", .file = "gate.c" },
		{ .function = "main", .module = "/tmp/gate", .file = "gate.c" },
		{ .function = "__libc_start_main", .module = "/usr/lib/x86_64-linux-gnu/libc.so.6" },
	};

	assert_int_equal(suppressions__add_defaults(s), 0);
	assert_true(suppressions__count(s) >= 4);
	assert_true(suppressions__match(s, pool, 3) >= 0);
	assert_true(suppressions__match(s, stdio, 3) >= 0);
	assert_true(suppressions__match(s, named_pool, 1) >= 0);
	assert_int_equal(suppressions__match(s, mine, 3), -1);
	suppressions__free(s);
}

/* Module first, then function and file, at each frame in turn; the first rule wins. */
static void test_match_fields(void **state)
{
	struct suppressions *s = suppressions__new();
	struct sym_frame frames[] = {
		{ .function = "leak_one", .module = "/work/build/workloads/gate",
		  .file = "tests/workloads/gate.c" },
		{ .function = NULL, .module = NULL, .address = 0x1234 },
		{ .function = "main", .module = "/work/build/workloads/gate",
		  .file = "tests/workloads/gate.c" },
	};
	char err[128];

	assert_int_equal(suppressions__parse(s, "leak:nothing\nleak:^main$\nleak:gate.c\n", "m",
					     err, sizeof(err)),
			 0);
	/* gate.c matches the file of frame 0, before main at frame 2 is looked at. */
	assert_int_equal(suppressions__match(s, frames, 3), 2);
	assert_int_equal(suppressions__match(s, frames + 1, 2), 1);
	/* Unknown frames (no module, function or file) match nothing. */
	assert_int_equal(suppressions__match(s, frames + 1, 1), -1);
	suppressions__free(s);
}

/* The records' addresses: a record points at its own, which must outlive it. */
static uint64_t record_ips[64];
static size_t nr_record_ips;

static struct stack_record record(int pid, uint64_t id, int64_t bytes, int64_t allocs,
				  uint64_t ip)
{
	uint64_t *ips = &record_ips[nr_record_ips++ % 64];

	*ips = ip;
	return (struct stack_record){ .pid = pid, .stack_id = id, .outstanding_bytes = bytes,
				      .outstanding_allocs = allocs, .nr_ips = ip ? 1 : 0,
				      .ips = ips };
}

/* A reading loses the stacks a rule matches, and its totals what they held. */
static void test_apply(void **state)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct suppressions *s = suppressions__new();
	struct snapshot *snap = snapshot__new();
	struct stack_record recs[] = {
		record(100, 1, 4096, 1, 0x1010),	/* in /bin/true: suppressed */
		record(100, 2, 64, 2, 0x9000010),	/* in no mapping */
		record(100, 0, 16, 1, 0),		/* the unknown stack */
		record(100, 3, 0, 0, 0x1020),		/* suppressed, holds nothing: not counted */
	};
	char err[128];

	assert_non_null(sym);
	assert_int_equal(symbolizer__add_mapping(sym, 100, 0x1000, 0x2000, 0, "/bin/true"), 0);
	assert_int_equal(suppressions__parse(s, "leak:/bin/true$\n", "t", err, sizeof(err)), 0);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(snapshot__add(snap, &recs[i]), 0);
	snapshot__sum_totals(snap);
	assert_int_equal(suppressions__apply(s, snap, sym), 0);
	assert_int_equal(snap->nr_stacks, 2);
	assert_int_equal(snap->stacks[0].stack_id, 2);
	assert_int_equal(snap->stacks[1].stack_id, 0);
	assert_int_equal(snap->totals.outstanding_bytes, 80);
	assert_int_equal(snap->totals.outstanding_allocs, 3);
	assert_int_equal(snap->suppressed.stacks, 1);
	assert_int_equal(snap->suppressed.bytes, 4096);
	assert_int_equal(snap->suppressed.allocs, 1);
	snapshot__free(snap);

	/* The next reading finds each stack's verdict kept: the same stacks go. */
	snap = snapshot__new();
	assert_non_null(snap);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(snapshot__add(snap, &recs[i]), 0);
	snapshot__sum_totals(snap);
	assert_int_equal(suppressions__apply(s, snap, sym), 0);
	assert_int_equal(snap->nr_stacks, 2);
	assert_int_equal(snap->stacks[0].stack_id, 2);
	assert_int_equal(snap->stacks[1].stack_id, 0);
	assert_int_equal(snap->suppressed.stacks, 1);
	assert_int_equal(snap->suppressed.bytes, 4096);
	snapshot__free(snap);

	/* A frame past a caller outside every mapping is no frame (the reports end the stack
	 * there): it cannot make a match. Before it, the first frame may be unmapped. */
	snap = snapshot__new();
	assert_int_equal(symbolizer__add_mapping(sym, 100, 0x3000, 0x4000, 0, "/bin/false"), 0);
	recs[0] = (struct stack_record){ .pid = 100, .stack_id = 7, .outstanding_bytes = 10,
					 .outstanding_allocs = 1, .nr_ips = 3,
					 .ips = (const uint64_t[]){ 0x3010, 0x9000020, 0x1010 } };
	recs[1] = (struct stack_record){ .pid = 100, .stack_id = 8, .outstanding_bytes = 20,
					 .outstanding_allocs = 2, .nr_ips = 2,
					 .ips = (const uint64_t[]){ 0x9000020, 0x1030 } };
	/* Another process's same addresses are its own: no mapping there. */
	recs[2] = (struct stack_record){ .pid = 101, .stack_id = 9, .outstanding_bytes = 40,
					 .outstanding_allocs = 4, .nr_ips = 1,
					 .ips = (const uint64_t[]){ 0x1010 } };
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(snapshot__add(snap, &recs[i]), 0);
	snapshot__sum_totals(snap);
	assert_int_equal(suppressions__apply(s, snap, sym), 0);
	assert_int_equal(snap->nr_stacks, 2);
	assert_int_equal(snap->stacks[0].stack_id, 7);
	assert_int_equal(snap->stacks[1].stack_id, 9);
	assert_int_equal(snap->suppressed.stacks, 1);
	assert_int_equal(snap->suppressed.bytes, 20);
	assert_int_equal(snap->totals.outstanding_bytes, 50);
	snapshot__free(snap);
	suppressions__free(s);
	symbolizer__free(sym);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pattern),	  cmocka_unit_test(test_parse),
		cmocka_unit_test(test_load),	  cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_match_fields), cmocka_unit_test(test_apply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
