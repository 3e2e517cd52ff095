/* test_options.c: the command line parser: defaults, every accepted form, and every usage error. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bpf/leaktop.h"
#include "options.h"

#define MAX_ARGS 32

/* options.command points into argv, so argv outlives each parse. */
static char *argv_store[MAX_ARGS + 1];
static char err[256];

static int parse_list(struct options *o, const char *const *args)
{
	int argc = 0;

	while (args[argc]) {
		assert_true(argc < MAX_ARGS);
		argv_store[argc] = (char *)args[argc];
		argc++;
	}
	argv_store[argc] = NULL;
	memset(err, 'x', sizeof(err));
	return options_parse(o, argc, argv_store, err, sizeof(err));
}

#define PARSE(o, ...) parse_list(o, (const char *const[]){ "leaktop", __VA_ARGS__, NULL })

/* Parses args expecting a usage error with exactly the message msg. */
#define ASSERT_USAGE(msg, ...)                                                   \
	do {                                                                     \
		struct options o_;                                               \
		assert_int_equal(PARSE(&o_, __VA_ARGS__), -EINVAL);              \
		assert_string_equal(err, msg);                                   \
		assert_null(o_.pids);                                            \
		assert_int_equal(o_.nr_pids, 0);                                 \
		options_free(&o_);                                               \
	} while (0)

static void test_defaults(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "-p", "42"), 0);
	assert_string_equal(err, "");
	assert_int_equal(o.nr_pids, 1);
	assert_int_equal(o.pids[0], 42);
	assert_null(o.command);
	assert_null(o.cgroup);
	assert_null(o.unit);
	assert_null(o.comm);
	assert_false(o.no_follow);
	assert_true(o.duration_s == 0);
	assert_true(o.interval_s == 0);
	assert_string_equal(o.format, "text");
	assert_null(o.output_path);
	assert_int_equal(o.top, 20);
	assert_true(o.min_age_s == 0);
	assert_int_equal(o.min_size, 0);
	assert_int_equal(o.max_size, 0);
	assert_int_equal(o.max_allocs, 1000000);
	assert_int_equal(o.max_stacks, 65536);
	assert_int_equal(o.verbosity, 0);
	assert_false(o.no_probe_shift);
	assert_false(o.empty_programs);
	assert_false(o.format_given);
	assert_false(o.batch);
	assert_int_equal(o.iterations, 0);
	assert_int_equal(o.unwind_mode, LT_UNWIND_AUTO);
	assert_int_equal(o.unwind_rows, 1u << 20);
	assert_false(o.help);
	assert_false(o.version);
	options_free(&o);
	assert_null(o.pids);
	options_free(&o);
}

static void test_every_option(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "--pid", "7", "-d", "2.5", "--interval", "0.5", "--format",
			       "json", "--output", "/tmp/out.json", "--top", "0", "--min-age", "3",
			       "--min-size", "16", "--max-size", "4K", "--max-allocs", "5",
			       "--max-stacks", "134217728", "-vv", "--verbose", "--no-probe-shift",
			       "--empty-programs"),
			 0);
	assert_int_equal(o.nr_pids, 1);
	assert_int_equal(o.pids[0], 7);
	assert_true(o.duration_s == 2.5);
	assert_true(o.interval_s == 0.5);
	assert_string_equal(o.format, "json");
	assert_string_equal(o.output_path, "/tmp/out.json");
	assert_int_equal(o.top, 0);
	assert_true(o.min_age_s == 3);
	assert_int_equal(o.min_size, 16);
	assert_int_equal(o.max_size, 4096);
	assert_int_equal(o.max_allocs, 5);
	assert_int_equal(o.max_stacks, 1u << 27);
	assert_int_equal(o.verbosity, 3);
	assert_true(o.no_probe_shift);
	assert_true(o.empty_programs);
	options_free(&o);

	assert_int_equal(PARSE(&o, "-f", "folded", "-o", "-", "-n", "5", "-i", "10", "-p", "1"), 0);
	assert_string_equal(o.format, "folded");
	assert_null(o.output_path);
	assert_int_equal(o.top, 5);
	assert_true(o.interval_s == 10);
	options_free(&o);

	/* getopt_long takes an unambiguous prefix of a long option. */
	assert_int_equal(PARSE(&o, "--dur=3", "-p1"), 0);
	assert_true(o.duration_s == 3);
	assert_int_equal(o.pids[0], 1);
	options_free(&o);
}

static void test_pid_lists(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "-p", "1,2", "-p", "3", "--pid=2147483647"), 0);
	assert_int_equal(o.nr_pids, 4);
	assert_int_equal(o.pids[0], 1);
	assert_int_equal(o.pids[1], 2);
	assert_int_equal(o.pids[2], 3);
	assert_int_equal(o.pids[3], 2147483647);
	options_free(&o);

	ASSERT_USAGE("-p: pid 2 given twice", "-p", "1,2", "-p", "2");
	ASSERT_USAGE("-p: pid 5 given twice", "-p", "5,5");
	ASSERT_USAGE("-p: pid 7 given twice", "-p", "7,007");
	ASSERT_USAGE("-p: '0' is not a process id (must be positive)", "-p", "0");
	ASSERT_USAGE("-p: '-1' is not a process id", "-p", "-1");
	ASSERT_USAGE("-p: 'abc' is not a process id", "-p", "abc");
	ASSERT_USAGE("-p: '12x' is not a process id", "-p", "12x");
	ASSERT_USAGE("-p: empty process id in ' 12'", "-p", " 12");
	ASSERT_USAGE("-p: '+12' is not a process id", "-p", "+12");
	ASSERT_USAGE("-p: empty process id in '1,,2'", "-p", "1,,2");
	ASSERT_USAGE("-p: empty process id in '1,'", "-p", "1,");
	ASSERT_USAGE("-p: empty process id in ''", "-p", "");
	ASSERT_USAGE("-p: '2147483648' is too large for a process id", "-p", "2147483648");

	/* "$(pidof postgres)" quoted, and unquoted (the shell splits it into words) */
	assert_int_equal(PARSE(&o, "-p", "11 12\t13"), 0);
	assert_int_equal(o.nr_pids, 3);
	assert_int_equal(o.pids[2], 13);
	options_free(&o);
	assert_int_equal(PARSE(&o, "-p", "21", "22", "23", "-d", "4", "24"), 0);
	assert_int_equal(o.nr_pids, 4);
	assert_int_equal(o.pids[1], 22);
	assert_int_equal(o.pids[3], 24);
	assert_true(o.duration_s == 4);
	assert_null(o.command);
	options_free(&o);
	ASSERT_USAGE("-p: pid 31 given twice", "-p", "31", "32", "31");
	/* after --, or mixed with a word that is no number, it is a command */
	ASSERT_USAGE("give either -p PID or a command to run, not both", "-p", "41", "--", "42");
	ASSERT_USAGE("give either -p PID or a command to run, not both", "-p", "41", "42", "ls");
	ASSERT_USAGE("-p: '99999999999999999999999' is too large for a process id", "-p",
		     "99999999999999999999999");
}

static void test_command(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "-d", "5", "--", "ls", "-l", "--", "-p"), 0);
	assert_null(o.pids);
	assert_non_null(o.command);
	assert_string_equal(o.command[0], "ls");
	assert_string_equal(o.command[1], "-l");
	assert_string_equal(o.command[2], "--");
	assert_string_equal(o.command[3], "-p");
	assert_null(o.command[4]);
	assert_ptr_equal(o.command, &argv_store[4]);
	assert_true(o.duration_s == 5);
	options_free(&o);

	/* Without "--", options stop at the first word that is not one. */
	assert_int_equal(PARSE(&o, "-n", "3", "./test_parser", "-v", "--format", "xml"), 0);
	assert_string_equal(o.command[0], "./test_parser");
	assert_string_equal(o.command[1], "-v");
	assert_int_equal(o.verbosity, 0);
	assert_int_equal(o.top, 3);
	options_free(&o);

	ASSERT_USAGE("give either -p PID or a command to run, not both", "-p", "1", "--", "ls");
	ASSERT_USAGE("give either -p PID or a command to run, not both", "-p", "1", "ls");
	ASSERT_USAGE("nothing to trace: give -p PID[,PID...], --cgroup PATH, --unit NAME, "
		     "--comm NAME or -- COMMAND [ARG...]",
		     "-v");
	ASSERT_USAGE("missing command after '--'", "-v", "--");
}

static void test_no_arguments(void **state)
{
	struct options o;
	char *argv[] = { "leaktop", NULL };

	assert_int_equal(options_parse(&o, 1, argv, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "nothing to trace: give -p PID[,PID...], --cgroup PATH, "
				 "--unit NAME, --comm NAME or -- COMMAND [ARG...]");
	assert_int_equal(options_parse(&o, 0, argv, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "no arguments");
	/* No room for a message: the error code alone must still come back. */
	assert_int_equal(options_parse(&o, 1, argv, NULL, 0), -EINVAL);
}

static void test_durations(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "-d", "0.25", "-i", "1e1", "--min-age", ".5", "-p", "1"), 0);
	assert_true(o.duration_s == 0.25);
	assert_true(o.interval_s == 10);
	assert_true(o.min_age_s == 0.5);
	options_free(&o);
	assert_int_equal(PARSE(&o, "-d", "0", "-d", "1000000000", "-p", "1"), 0);
	assert_true(o.duration_s == 1e9);
	options_free(&o);

	ASSERT_USAGE("--duration: '-1' is negative", "-d", "-1", "-p", "1");
	ASSERT_USAGE("--interval: '-0.5' is negative", "-i", "-0.5", "-p", "1");
	ASSERT_USAGE("--min-age: '-3' is negative", "--min-age", "-3", "-p", "1");
	ASSERT_USAGE("--duration: 'nan' is not a number of seconds", "-d", "nan", "-p", "1");
	ASSERT_USAGE("--duration: 'NAN' is not a number of seconds", "-d", "NAN", "-p", "1");
	ASSERT_USAGE("--duration: 'inf' is not a number of seconds", "-d", "inf", "-p", "1");
	ASSERT_USAGE("--duration: '5s' is not a number of seconds", "-d", "5s", "-p", "1");
	ASSERT_USAGE("--duration: '0x10' is not a number of seconds", "-d", "0x10", "-p", "1");
	ASSERT_USAGE("--duration: ' 5' is not a number of seconds", "-d", " 5", "-p", "1");
	ASSERT_USAGE("--duration: '' is not a number of seconds", "-d", "", "-p", "1");
	ASSERT_USAGE("--duration: '1.2.3' is not a number of seconds", "-d", "1.2.3", "-p", "1");
	ASSERT_USAGE("--duration: '1e' is not a number of seconds", "-d", "1e", "-p", "1");
	ASSERT_USAGE("--duration: '1e400' is too large (at most 1000000000 seconds)", "-d", "1e400",
		     "-p", "1");
	ASSERT_USAGE("--interval: '1000000001' is too large (at most 1000000000 seconds)", "-i",
		     "1000000001", "-p", "1");
}

static void test_formats(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "-f", "text", "-p", "1"), 0);
	assert_string_equal(o.format, "text");
	options_free(&o);
	ASSERT_USAGE("unknown format 'xml' (expected text|json|folded|pprof|html)", "-f", "xml", "-p", "1");
	ASSERT_USAGE("unknown format 'JSON' (expected text|json|folded|pprof|html)", "-f", "JSON", "-p", "1");
	ASSERT_USAGE("unknown format '' (expected text|json|folded|pprof|html)", "--format=", "-p", "1");
	ASSERT_USAGE("--output: empty path", "-o", "", "-p", "1");
}

static void test_pprof_needs_a_file(void **state)
{
	struct options o;

	/* The parser looks at argv alone: where stdout goes is checked apart. */
	assert_int_equal(PARSE(&o, "-f", "pprof", "-p", "1"), 0);
	assert_string_equal(o.format, "pprof");
	assert_null(o.output_path);
	/* A terminal gets no gzip'ed protobuf: a usage error that says what to do. */
	memset(err, 'x', sizeof(err));
	assert_int_equal(options_check_stdout(&o, true, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--format pprof writes binary data: give -o FILE");
	/* stdout that is no terminal (a pipe, a file) is fine. */
	assert_int_equal(options_check_stdout(&o, false, err, sizeof(err)), 0);
	options_free(&o);
	assert_int_equal(PARSE(&o, "-p", "1", "--format=pprof", "-o", "-"), 0);
	assert_int_equal(options_check_stdout(&o, true, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--format pprof writes binary data: give -o FILE");
	options_free(&o);

	/* A file is fine on a terminal too. */
	assert_int_equal(PARSE(&o, "-f", "pprof", "-o", "heap.pb.gz", "-p", "1"), 0);
	assert_string_equal(o.format, "pprof");
	assert_string_equal(o.output_path, "heap.pb.gz");
	assert_int_equal(options_check_stdout(&o, true, err, sizeof(err)), 0);
	options_free(&o);
	/* The text formats still go to a terminal; record writes into --dir. */
	assert_int_equal(PARSE(&o, "-f", "json", "-p", "1"), 0);
	assert_int_equal(options_check_stdout(&o, true, err, sizeof(err)), 0);
	options_free(&o);
	assert_int_equal(parse_list(&o, (const char *const[]){ "leaktop", "record", "-i", "5", "--dir",
							       "/tmp", "-p", "1", NULL }),
			 0);
	assert_int_equal(options_check_stdout(&o, true, err, sizeof(err)), 0);
	options_free(&o);
	/* A message cut short by a small buffer. */
	assert_int_equal(PARSE(&o, "-f", "pprof", "-p", "1"), 0);
	assert_int_equal(options_check_stdout(&o, true, err, 9), -EINVAL);
	assert_string_equal(err, "--format");
	assert_int_equal(options_check_stdout(&o, true, NULL, 0), -EINVAL);
	options_free(&o);

	/* One profile per file: a report every -i seconds would be appended into garbage. */
	ASSERT_USAGE("--format pprof writes one profile per run: no -i", "-f", "pprof", "-o", "x",
		     "-i", "5", "-p", "1");
	ASSERT_USAGE("--format html writes one page per run: no -i", "-f", "html", "-o", "x", "-i",
		     "5", "-p", "1");
}

static void test_bad_options(void **state)
{
	ASSERT_USAGE("unknown option -x", "-x", "-p", "1");
	ASSERT_USAGE("unknown option -x", "-vx", "-p", "1");
	ASSERT_USAGE("unknown or ambiguous option '--bogus'", "--bogus", "-p", "1");
	/* --min-age, --min-size, --max-... all start so. */
	ASSERT_USAGE("unknown or ambiguous option '--m'", "--m", "1", "-p", "1");
	ASSERT_USAGE("option '--verbose' takes no argument", "--verbose=3", "-p", "1");
	ASSERT_USAGE("option -d needs an argument", "-p", "1", "-d");
	ASSERT_USAGE("option -d needs an argument", "-p", "1", "-vd");
	ASSERT_USAGE("option '--duration' needs an argument", "-p", "1", "--duration");
	ASSERT_USAGE("option '--max-stacks' needs an argument", "-p", "1", "--max-stacks");
	/* A missing pid list after -p takes the next word, which must then be a pid. */
	ASSERT_USAGE("-p: '--' is not a process id", "-p", "--", "ls");
}

static void test_sizes(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "--min-size", "4k", "--max-size", "1MiB", "-p", "1"), 0);
	assert_int_equal(o.min_size, 4096);
	assert_int_equal(o.max_size, 1u << 20);
	options_free(&o);
	assert_int_equal(PARSE(&o, "--min-size", "2G", "--max-size", "2gib", "-p", "1"), 0);
	assert_int_equal(o.min_size, 2ull << 30);
	assert_int_equal(o.max_size, 2ull << 30);
	options_free(&o);
	assert_int_equal(PARSE(&o, "--min-size", "100B", "--max-size", "0", "-p", "1"), 0);
	assert_int_equal(o.min_size, 100);
	assert_int_equal(o.max_size, 0);
	options_free(&o);
	assert_int_equal(PARSE(&o, "--min-size", "18446744073709551615", "-p", "1"), 0);
	assert_int_equal(o.min_size, UINT64_MAX);
	options_free(&o);

	ASSERT_USAGE("--min-size (4097) is larger than --max-size (4096)", "--min-size", "4097",
		     "--max-size", "4K", "-p", "1");
	ASSERT_USAGE("--min-size: '-1' is not a size in bytes", "--min-size", "-1", "-p", "1");
	ASSERT_USAGE("--min-size: '' is not a size in bytes", "--min-size", "", "-p", "1");
	ASSERT_USAGE("--max-size: '4KB' is not a size in bytes (suffixes: K, M, G, KiB, MiB, GiB)",
		     "--max-size", "4KB", "-p", "1");
	ASSERT_USAGE("--max-size: '1.5M' is not a size in bytes (suffixes: K, M, G, KiB, MiB, GiB)",
		     "--max-size", "1.5M", "-p", "1");
	ASSERT_USAGE("--max-size: '16 ' is not a size in bytes (suffixes: K, M, G, KiB, MiB, GiB)",
		     "--max-size", "16 ", "-p", "1");
	ASSERT_USAGE("--max-size: '17179869184G' is too large", "--max-size", "17179869184G", "-p",
		     "1");
	ASSERT_USAGE("--max-size: '18446744073709551616' is too large", "--max-size",
		     "18446744073709551616", "-p", "1");
}

static void test_counts(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "--max-allocs", "1", "--max-stacks", "1", "-p", "1"), 0);
	assert_int_equal(o.max_allocs, 1);
	assert_int_equal(o.max_stacks, 1);
	options_free(&o);

	/* The kernel's limit for a hash map is 2^27 entries; one more fails with E2BIG at load. */
	assert_int_equal(PARSE(&o, "--max-allocs", "134217728", "--max-stacks", "134217728", "-p",
			       "1"),
			 0);
	assert_int_equal(o.max_allocs, 134217728);
	assert_int_equal(o.max_stacks, 134217728);
	options_free(&o);
	ASSERT_USAGE("--max-allocs: '0' is out of range (1 to 134217728)", "--max-allocs", "0",
		     "-p", "1");
	ASSERT_USAGE("--max-stacks: '0' is out of range (1 to 134217728)", "--max-stacks", "0",
		     "-p", "1");
	ASSERT_USAGE("--max-allocs: '134217729' is out of range (1 to 134217728)", "--max-allocs",
		     "134217729", "-p", "1");
	ASSERT_USAGE("--max-stacks: '134217729' is out of range (1 to 134217728)", "--max-stacks",
		     "134217729", "-p", "1");
	ASSERT_USAGE("--max-allocs: '4294967296' is out of range (1 to 134217728)", "--max-allocs",
		     "4294967296", "-p", "1");
	ASSERT_USAGE("--max-stacks: '99999999999999999999' is out of range (1 to 134217728)",
		     "--max-stacks", "99999999999999999999", "-p", "1");
	ASSERT_USAGE("--max-allocs: '1e6' is not a non-negative integer", "--max-allocs", "1e6",
		     "-p", "1");
	ASSERT_USAGE("--max-allocs: '12abc' is not a non-negative integer", "--max-allocs",
		     "12abc", "-p", "1");
	ASSERT_USAGE("--max-allocs: '-5' is not a non-negative integer", "--max-allocs", "-5",
		     "-p", "1");
	ASSERT_USAGE("--top: '-1' is not a non-negative integer", "-n", "-1", "-p", "1");
	ASSERT_USAGE("--top: 'all' is not a non-negative integer", "-n", "all", "-p", "1");
	ASSERT_USAGE("--top: '' is not a non-negative integer", "-n", "", "-p", "1");
}

static void test_unwind(void **state)
{
	static const struct {
		const char *arg;
		uint32_t mode;
	} modes[] = {
		{ "fp", LT_UNWIND_FP },
		{ "dwarf", LT_UNWIND_DWARF },
		{ "auto", LT_UNWIND_AUTO },
	};
	struct options o;

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		assert_int_equal(PARSE(&o, "--unwind", modes[i].arg, "-p", "1"), 0);
		assert_int_equal(o.unwind_mode, modes[i].mode);
		options_free(&o);
	}
	assert_int_equal(PARSE(&o, "--unwind-rows", "5000", "-p", "1"), 0);
	assert_int_equal(o.unwind_rows, 5000);
	options_free(&o);
	ASSERT_USAGE("unknown --unwind mode 'lbr' (expected fp, dwarf or auto)", "--unwind", "lbr",
		     "-p", "1");
	assert_int_equal(PARSE(&o, "--unwind-rows", "268435456", "-p", "1"), 0);
	assert_int_equal(o.unwind_rows, 1u << 28);
	options_free(&o);
	ASSERT_USAGE("--unwind-rows: '0' is out of range (1 to 268435456)", "--unwind-rows", "0",
		     "-p", "1");
	ASSERT_USAGE("--unwind-rows: '268435457' is out of range (1 to 268435456)", "--unwind-rows",
		     "268435457", "-p", "1");
	ASSERT_USAGE("--unwind-rows: '1e6' is not a non-negative integer", "--unwind-rows", "1e6",
		     "-p", "1");
}

static void test_track(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "-p", "1"), 0);
	assert_int_equal(o.track, LT_TRACK_BIT(LT_TRACK_HEAP));
	assert_false(o.all);
	options_free(&o);
	assert_int_equal(PARSE(&o, "--track", "heap,faults", "-p", "1"), 0);
	assert_int_equal(o.track, LT_TRACK_BIT(LT_TRACK_HEAP) | LT_TRACK_BIT(LT_TRACK_FAULTS));
	options_free(&o);
	assert_int_equal(PARSE(&o, "--track", "kernel,mmap,faults", "-a"), 0);
	assert_int_equal(o.track, LT_TRACK_BIT(LT_TRACK_KERNEL) | LT_TRACK_BIT(LT_TRACK_MMAP) |
					  LT_TRACK_BIT(LT_TRACK_FAULTS));
	assert_true(o.all);
	options_free(&o);
	ASSERT_USAGE("--track: unknown kind 'disk' (expected a list of heap, mmap, faults, kernel)",
		     "--track", "faults,disk", "-p", "1");
	ASSERT_USAGE("--track: unknown kind '' (expected a list of heap, mmap, faults, kernel)",
		     "--track", "faults,", "-p", "1");
	ASSERT_USAGE("-a traces the whole system: give --track faults, mmap or kernel, without heap",
		     "-a");
	ASSERT_USAGE("give either -p PID or -a, not both", "--track", "faults", "-p", "1", "-a");
}

static void test_help_and_version(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "-h"), 0);
	assert_true(o.help);
	options_free(&o);
	assert_int_equal(PARSE(&o, "-p", "1", "--help", "--bogus"), 0);
	assert_true(o.help);
	options_free(&o);
	assert_int_equal(PARSE(&o, "--version"), 0);
	assert_true(o.version);
	assert_false(o.help);
	options_free(&o);
	assert_int_equal(PARSE(&o, "-V"), 0);
	assert_true(o.version);
	options_free(&o);
	/* After the command, -h is the command's. */
	assert_int_equal(PARSE(&o, "--", "ls", "-h"), 0);
	assert_false(o.help);
	options_free(&o);
}

static void test_usage_text(void **state)
{
	static const char *const documented[] = {
		"--pid",      "--duration",   "--interval", "--format",	      "--output",
		"--top",      "--min-age",    "--min-size", "--max-size",     "--max-allocs",
		"--max-stacks", "--verbose",  "--no-probe-shift", "--help",   "--version",
		"--unwind",	"--unwind-rows", "--cgroup",   "--unit",	      "--comm",
		"--no-follow",
	};
	const char *u = options_usage();
	const char *line, *nl;
	size_t i;

	assert_non_null(strstr(u, "Usage: leaktop [options] -p PID[,PID...]\n"));
	assert_non_null(strstr(u, "\nEXAMPLES\n"));
	assert_non_null(strstr(u, "leaktop -p $(pgrep -d, postgres)\n"));
	assert_non_null(strstr(u, "leaktop -- ./build/tests/test_parser"));
	assert_non_null(strstr(u, "-f json -o leaks.json"));
	assert_non_null(strstr(u, "flamegraph.pl"));
	assert_non_null(strstr(u, "      leaktop --cgroup system.slice/postgresql.service\n"));
	assert_non_null(strstr(u, "      leaktop --comm postgres\n"));
	assert_non_null(strstr(u, "      leaktop --unit postgresql\n"));
	/* What -d does to a command, said where -d is. */
	assert_non_null(strstr(u, "With a command, when -d ends leaktop stops tracing\n"));
	assert_non_null(strstr(u, "and the command goes on running, untraced\n"));
	for (i = 0; i < sizeof(documented) / sizeof(documented[0]); i++)
		assert_non_null(strstr(u, documented[i]));
	assert_null(strstr(u, "empty-programs"));
	/* Fits a terminal of 80 columns. */
	for (line = u; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		assert_non_null(nl);
		assert_true(nl - line <= 80);
	}
}

static void test_small_error_buffer(void **state)
{
	struct options o;
	char small[8];
	char *argv[] = { "leaktop", "-p", "0", NULL };

	memset(small, 'x', sizeof(small));
	assert_int_equal(options_parse(&o, 3, argv, small, sizeof(small)), -EINVAL);
	assert_string_equal(small, "-p: '0'");
}

/* The live view's options: --batch, --iterations, and -f given (which keeps the plain reports). */
static void test_view_options(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "--batch", "--iterations", "3", "-i", "0.5", "-p", "1"), 0);
	assert_true(o.batch);
	assert_int_equal(o.iterations, 3);
	assert_true(o.interval_s == 0.5);
	assert_false(o.format_given);
	options_free(&o);

	assert_int_equal(PARSE(&o, "--batch", "-p", "1"), 0);
	assert_true(o.batch);
	assert_int_equal(o.iterations, 0);
	options_free(&o);

	/* Even the default format, named, asks for the plain report. */
	assert_int_equal(PARSE(&o, "-f", "text", "-p", "1"), 0);
	assert_true(o.format_given);
	assert_false(o.batch);
	options_free(&o);

	ASSERT_USAGE("--iterations counts the frames of --batch: add it", "--iterations", "2", "-p",
		     "1");
	ASSERT_USAGE("--batch prints the view's text frames: no --format", "--batch", "-f", "text",
		     "-p", "1");
	ASSERT_USAGE("--iterations: must be at least 1", "--batch", "--iterations", "0", "-p", "1");
	ASSERT_USAGE("--iterations: '-1' is not a non-negative integer", "--batch", "--iterations",
		     "-1", "-p", "1");
	ASSERT_USAGE("option '--iterations' needs an argument", "--batch", "-p", "1",
		     "--iterations");
}

/* The targets beside -p and a command: --cgroup, --unit, --comm; exactly one per run. */
static void test_targets(void **state)
{
	static const char *const kinds[] = { "--cgroup", "--unit", "--comm" };
	struct options o;

	assert_int_equal(PARSE(&o, "--cgroup", "system.slice/postgresql.service", "-d", "5"), 0);
	assert_string_equal(o.cgroup, "system.slice/postgresql.service");
	assert_ptr_equal(o.cgroup, argv_store[2]);
	assert_null(o.unit);
	assert_null(o.comm);
	assert_null(o.pids);
	assert_null(o.command);
	assert_true(o.duration_s == 5);
	options_free(&o);
	assert_int_equal(PARSE(&o, "--unit=postgresql"), 0);
	assert_string_equal(o.unit, "postgresql");
	assert_null(o.cgroup);
	options_free(&o);
	/* A name that matches nothing yet is for leaktop to wait for, not a usage error. */
	assert_int_equal(PARSE(&o, "--comm", "no-such-process-name", "-n", "3"), 0);
	assert_string_equal(o.comm, "no-such-process-name");
	assert_int_equal(o.top, 3);
	options_free(&o);
	assert_int_equal(parse_list(&o, (const char *const[]){ "leaktop", "record", "-i", "5",
							       "--dir", "/tmp", "--unit", "nginx",
							       NULL }),
			 0);
	assert_true(o.record);
	assert_string_equal(o.unit, "nginx");
	options_free(&o);

	ASSERT_USAGE("--cgroup: empty argument", "--cgroup", "");
	ASSERT_USAGE("--unit: empty argument", "--unit=");
	ASSERT_USAGE("--comm: empty argument", "--comm", "");
	ASSERT_USAGE("--comm given twice: one target per run", "--comm", "a", "--comm", "b");
	ASSERT_USAGE("--cgroup given twice: one target per run", "--cgroup", "a", "--cgroup", "a");
	ASSERT_USAGE("option '--unit' needs an argument", "--unit");
	ASSERT_USAGE("option '--cgroup' needs an argument", "-v", "--cgroup");

	/* Exactly one kind of target: each with -p, with a command, and with another. */
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		char want[128];

		snprintf(want, sizeof(want), "give either -p PID or %s %s, not both", kinds[i],
			 i ? "NAME" : "PATH");
		ASSERT_USAGE(want, kinds[i], "x", "-p", "1");
		ASSERT_USAGE(want, "-p", "1", kinds[i], "x");
		snprintf(want, sizeof(want), "give either %s %s or a command to run, not both",
			 kinds[i], i ? "NAME" : "PATH");
		ASSERT_USAGE(want, kinds[i], "x", "--", "ls");
		ASSERT_USAGE(want, kinds[i], "x", "ls", "-l");
	}
	ASSERT_USAGE("give either --cgroup PATH or --unit NAME, not both", "--unit", "a",
		     "--cgroup", "b");
	ASSERT_USAGE("give either --cgroup PATH or --comm NAME, not both", "--cgroup", "a",
		     "--comm", "b");
	ASSERT_USAGE("give either --unit NAME or --comm NAME, not both", "--comm", "a", "--unit",
		     "b");
	/* Three: the first two are named. */
	ASSERT_USAGE("give either -p PID or --cgroup PATH, not both", "--comm", "a", "--cgroup",
		     "b", "-p", "1", "--", "ls");
	/* After the command's name, an option is the command's. */
	assert_int_equal(PARSE(&o, "--", "ls", "--comm", "x"), 0);
	assert_null(o.comm);
	assert_string_equal(o.command[1], "--comm");
	options_free(&o);
}

static void test_no_follow(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "--no-follow", "-p", "1"), 0);
	assert_true(o.no_follow);
	options_free(&o);
	assert_int_equal(PARSE(&o, "--no-follow", "--", "ls"), 0);
	assert_true(o.no_follow);
	options_free(&o);
	assert_int_equal(PARSE(&o, "--comm", "x", "--no-follow"), 0);
	assert_true(o.no_follow);
	options_free(&o);
	/* Following is the default. */
	assert_int_equal(PARSE(&o, "--unit", "x"), 0);
	assert_false(o.no_follow);
	options_free(&o);
	ASSERT_USAGE("option '--no-follow' takes no argument", "--no-follow=yes", "-p", "1");
	/* --no-session, --no-probe-shift, --no-follow: a prefix must tell them apart. */
	ASSERT_USAGE("unknown or ambiguous option '--no-'", "--no-", "-p", "1");
	assert_int_equal(PARSE(&o, "--no-f", "-p", "1"), 0);
	assert_true(o.no_follow);
	options_free(&o);
}

static void test_gate_options(void **state)
{
	struct options o;

	/* Off by default: the default suppressions on, no gate. */
	assert_int_equal(PARSE(&o, "--", "ls"), 0);
	assert_int_equal(o.error_exitcode, 0);
	assert_int_equal(o.nr_suppressions, 0);
	assert_false(o.no_default_suppressions);
	options_free(&o);
	assert_int_equal(PARSE(&o, "--error-exitcode", "42", "--suppressions", "a.supp",
			       "--suppressions=b.supp", "--no-default-suppressions", "--", "ls"),
			 0);
	assert_int_equal(o.error_exitcode, 42);
	assert_int_equal(o.nr_suppressions, 2);
	assert_string_equal(o.suppressions[0], "a.supp");
	assert_string_equal(o.suppressions[1], "b.supp");
	assert_true(o.no_default_suppressions);
	options_free(&o);
	assert_null(o.suppressions);
	assert_int_equal(PARSE(&o, "--error-exitcode", "255", "--", "ls"), 0);
	assert_int_equal(o.error_exitcode, 255);
	options_free(&o);
	ASSERT_USAGE("--error-exitcode: must be at least 1", "--error-exitcode", "0", "--", "ls");
	ASSERT_USAGE("--suppressions: empty path", "--suppressions", "", "--", "ls");
	ASSERT_USAGE("option '--no-default-suppressions' takes no argument",
		     "--no-default-suppressions=1", "--", "ls");
}

static void test_reachability(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "-p", "1"), 0);
	assert_int_equal(o.reachability, REACHABILITY_OFF);
	options_free(&o);
	assert_int_equal(PARSE(&o, "--reachability", "-p", "1"), 0);
	assert_int_equal(o.reachability, REACHABILITY_PAUSED);
	options_free(&o);
	assert_int_equal(PARSE(&o, "--reachability=live", "--", "ls"), 0);
	assert_int_equal(o.reachability, REACHABILITY_LIVE);
	options_free(&o);
	ASSERT_USAGE("--reachability takes no value or =live, not 'now'", "--reachability=now", "-p",
		     "1");
	ASSERT_USAGE("--reachability needs every block: no --sample-rate or --max-overhead",
		     "--reachability", "--sample-rate", "512K", "-p", "1");
	ASSERT_USAGE("--reachability needs every block: no --sample-rate or --max-overhead",
		     "--reachability", "--max-overhead", "5", "-p", "1");
}

static void test_max_overhead(void **state)
{
	struct options o;

	assert_int_equal(PARSE(&o, "-p", "1"), 0);
	assert_true(o.max_overhead_pct == 0);
	options_free(&o);
	assert_int_equal(PARSE(&o, "--max-overhead", "5", "-p", "1"), 0);
	assert_true(o.max_overhead_pct == 5);
	options_free(&o);
	assert_int_equal(PARSE(&o, "--max-overhead", "2.5%", "--sample-rate", "1M", "-p", "1"), 0);
	assert_true(o.max_overhead_pct == 2.5);
	assert_int_equal(o.sample_rate, 1 << 20);
	options_free(&o);
	ASSERT_USAGE("--max-overhead: '0' is not a percentage above 0, at most 1000000",
		     "--max-overhead", "0", "-p", "1");
	ASSERT_USAGE("--max-overhead: '5x' is not a percentage", "--max-overhead", "5x", "-p", "1");
	ASSERT_USAGE("--max-overhead: '%' is not a percentage", "--max-overhead", "%", "-p", "1");
	ASSERT_USAGE("--max-overhead sets the sample rate of the heap's probes: --track with heap",
		     "--max-overhead", "5", "--track", "faults", "-p", "1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),	 cmocka_unit_test(test_every_option),
		cmocka_unit_test(test_gate_options),
		cmocka_unit_test(test_pid_lists),	 cmocka_unit_test(test_command),
		cmocka_unit_test(test_no_arguments),	 cmocka_unit_test(test_durations),
		cmocka_unit_test(test_formats),		 cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_sizes),		 cmocka_unit_test(test_counts),
		cmocka_unit_test(test_help_and_version), cmocka_unit_test(test_usage_text),
		cmocka_unit_test(test_small_error_buffer),
		cmocka_unit_test(test_view_options), cmocka_unit_test(test_pprof_needs_a_file),
		cmocka_unit_test(test_unwind),		 cmocka_unit_test(test_track),
		cmocka_unit_test(test_targets),		 cmocka_unit_test(test_no_follow),
		cmocka_unit_test(test_reachability),	 cmocka_unit_test(test_max_overhead),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
