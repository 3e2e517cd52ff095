/* options.c: turns leaktop's command line into struct options, or a one-line usage error. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argval.h"
#include "bpf/leaktop.h"
#include "map_memory.h"
#include "options.h"
#include "output/output.h"

#define DEFAULT_TOP 20
#define DEFAULT_MAX_ALLOCS 1000000
#define DEFAULT_MAX_STACKS 65536
/* 8 MiB of rows: the code of redis-server and all it links (about 12 MB) needs about a third. */
#define DEFAULT_UNWIND_ROWS (1u << 20)
enum {
	OPT_MIN_AGE = 256,
	OPT_MIN_SIZE,
	OPT_MAX_SIZE,
	OPT_MAX_ALLOCS,
	OPT_MAX_STACKS,
	OPT_NO_PROBE_SHIFT,
	OPT_EMPTY_PROGRAMS,
	OPT_SAMPLE_RATE,
	OPT_NO_SESSION,
	OPT_BATCH,
	OPT_ITERATIONS,
	OPT_DIR,
	OPT_KEEP,
	OPT_METRICS,
	OPT_UNWIND,
	OPT_UNWIND_ROWS,
};

/* "+" stops at the first non-option so that the command's own options stay its own; ":" reports a
 * missing argument apart from an unknown option. */
static const char short_options[] = "+:p:d:i:f:o:n:vhV";

static const struct option long_options[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "duration", required_argument, NULL, 'd' },
	{ "interval", required_argument, NULL, 'i' },
	{ "format", required_argument, NULL, 'f' },
	{ "output", required_argument, NULL, 'o' },
	{ "top", required_argument, NULL, 'n' },
	{ "min-age", required_argument, NULL, OPT_MIN_AGE },
	{ "min-size", required_argument, NULL, OPT_MIN_SIZE },
	{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
	{ "max-allocs", required_argument, NULL, OPT_MAX_ALLOCS },
	{ "max-stacks", required_argument, NULL, OPT_MAX_STACKS },
	{ "verbose", no_argument, NULL, 'v' },
	{ "no-probe-shift", no_argument, NULL, OPT_NO_PROBE_SHIFT },
	{ "empty-programs", no_argument, NULL, OPT_EMPTY_PROGRAMS },
	{ "sample-rate", required_argument, NULL, OPT_SAMPLE_RATE },
	{ "no-session", no_argument, NULL, OPT_NO_SESSION },
	{ "batch", no_argument, NULL, OPT_BATCH },
	{ "dir", required_argument, NULL, OPT_DIR },
	{ "keep", required_argument, NULL, OPT_KEEP },
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "iterations", required_argument, NULL, OPT_ITERATIONS },
	{ "unwind", required_argument, NULL, OPT_UNWIND },
	{ "unwind-rows", required_argument, NULL, OPT_UNWIND_ROWS },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const char usage_text[] =
	"Usage: leaktop [options] -p PID[,PID...]\n"
	"       leaktop [options] [--] COMMAND [ARG...]\n"
	"       leaktop record --interval SEC --dir PATH [--keep N] [options] -p PID\n"
	"\n"
	"Shows which call stacks hold memory from malloc, calloc, realloc, operator new\n"
	"and friends, and which of them are still growing.\n"
	"\n"
	"With -p and stdout a terminal, leaktop opens a live top-style view (h there\n"
	"lists the keys; q quits with the final report on stderr, or in -o PATH).\n"
	"--format, --batch or stdout not a terminal give the plain reports instead.\n"
	"\n"
	"  -p, --pid PID[,PID...]  trace running processes (repeatable); allocations\n"
	"                          made before attach are not seen\n"
	"  -- COMMAND [ARG...]     run COMMAND traced from its first instruction;\n"
	"                          report when it exits\n"
	"  -d, --duration SEC      stop after SEC seconds (default: until Ctrl-C,\n"
	"                          SIGTERM, or every traced process has exited)\n"
	"  -i, --interval SEC      also print a report every SEC seconds; in the live\n"
	"                          view and --batch: the refresh interval (default 2)\n"
	"  -f, --format FMT        text (default) | json | folded | pprof\n"
	"                          (pprof: gzip'ed protobuf, for -o FILE or a pipe)\n"
	"  -o, --output PATH       write the report to PATH instead of stdout\n"
	"  -n, --top N             show the N largest stacks (default 20; 0 = all)\n"
	"      --min-age SEC       count only allocations live for at least SEC seconds\n"
	"      --min-size BYTES    ignore allocations smaller than BYTES\n"
	"                          (suffixes K, M, G: powers of 1024)\n"
	"      --max-size BYTES    ignore allocations larger than BYTES\n"
	"      --max-allocs N      live allocations tracked (default 1000000;\n"
	"                          1 to 134217728, as the machine's memory allows)\n"
	"      --max-stacks N      distinct stacks tracked (default 65536;\n"
	"                          1 to 134217728, as the machine's memory allows)\n"
	"      --sample-rate BYTES sample one allocation per BYTES allocated, on average\n"
	"                          (e.g. 512K); figures become unbiased estimates.\n"
	"                          0 (default) records every allocation\n"
	"      --no-session        attach uprobe + uretprobe pairs even where the\n"
	"                          kernel has uprobe session links\n"
	"      --unwind MODE       how stacks are walked: fp (frame pointers only),\n"
	"                          dwarf (unwind tables from each object's CFI), or\n"
	"                          auto (default: frame pointers in objects built\n"
	"                          with them, the tables elsewhere)\n"
	"      --unwind-rows N     unwind table rows, 8 bytes each (default 1048576;\n"
	"                          at most 268435456); 1 MB of code needs about\n"
	"                          20000 to 40000\n"
	"  -v, --verbose           more messages (twice: libbpf debug output too)\n"
	"      --no-probe-shift    probe every entry point at its first instruction\n"
	"                          (slower; for comparison)\n"
	"      --batch             print the live view as plain-text frames, one per\n"
	"                          interval, like top -b\n"
	"      --iterations N      with --batch: stop after N frames\n"
	"      --metrics ADDR:PORT serve Prometheus metrics at http://ADDR:PORT/metrics\n"
	"                          (ADDR defaults to 127.0.0.1; give 0.0.0.0 to expose)\n"
	"  -h, --help              show this help\n"
	"  -V, --version           show the version\n"
	"\n"
	"record: one pprof profile per --interval into --dir, written atomically, until\n"
	"SIGTERM or the processes exit.\n"
	"      --dir PATH          where profiles go (leaktop-<UTC time>.pb.gz)\n"
	"      --keep N            keep only the newest N profiles (default: all)\n"
	"\n"
	"Every loss (allocation table full, stack lost, missed probe) is counted and\n"
	"shown in the report. Exit status: 0 success, 1 runtime failure, 2 usage error.\n"
	"\n"
	"EXAMPLES\n"
	"  Attach to every postgres process until Ctrl-C:\n"
	"      leaktop -p $(pgrep -d, postgres)\n"
	"  Five frames of the live view, one a second, as text for a script:\n"
	"      leaktop --batch --iterations 5 -i 1 -p 1234\n"
	"  Watch one process for a minute, with a report every 10 seconds:\n"
	"      leaktop -d 60 -i 10 -p 1234\n"
	"  Run a test binary traced from its start; report what it holds at exit:\n"
	"      leaktop -- ./build/tests/test_parser --verbose\n"
	"  Write a JSON report to a file after 30 seconds:\n"
	"      leaktop -d 30 -f json -o leaks.json -p 1234\n"
	"  Profile a service continuously, sampled, with Prometheus metrics:\n"
	"      leaktop record --sample-rate 512K -i 300 --dir /var/lib/leaktop \\\n"
	"          --keep 48 --metrics 127.0.0.1:9464 -p $(pidof postgres)\n"
	"  Write a heap profile for go tool pprof, Pyroscope, Parca or Grafana:\n"
	"      leaktop -d 30 -f pprof -o heap.pb.gz -p 1234\n"
	"      go tool pprof -top heap.pb.gz\n"
	"  Draw a flame graph of outstanding bytes:\n"
	"      leaktop -d 30 -n 0 -f folded -p 1234 > leaks.folded\n"
	"      flamegraph.pl --countname=bytes leaks.folded > leaks.svg\n";

const char *options_usage(void)
{
	return usage_text;
}

static int add_pid(struct options *opts, const char *s, size_t len, const char *arg, char *err,
		   size_t err_len)
{
	/* Bounds the %.*s below; no pid is anywhere near this long. */
	int shown = len > 64 ? 64 : (int)len;
	long long v = 0;
	int *pids;
	size_t i;

	if (!len)
		return argval_error(err, err_len, "-p: empty process id in '%s'", arg);
	if (!argval_digits(s, len))
		return argval_error(err, err_len, "-p: '%.*s' is not a process id", shown, s);
	for (i = 0; i < len; i++) {
		v = v * 10 + (s[i] - '0');
		if (v > INT_MAX)
			return argval_error(err, err_len, "-p: '%.*s' is too large for a process id",
					   shown, s);
	}
	if (v == 0)
		return argval_error(err, err_len, "-p: '%.*s' is not a process id (must be %s)",
				   shown, s, "positive");
	/* Linear: a command line holds a handful of pids. */
	for (i = 0; i < opts->nr_pids; i++) {
		if (opts->pids[i] == v)
			return argval_error(err, err_len, "-p: pid %lld given twice", v);
	}
	pids = realloc(opts->pids, (opts->nr_pids + 1) * sizeof(*pids));
	if (!pids) {
		argval_error(err, err_len, "out of memory");
		return -ENOMEM;
	}
	pids[opts->nr_pids++] = (int)v;
	opts->pids = pids;
	return 0;
}

static int parse_pids(struct options *opts, const char *arg, char *err, size_t err_len)
{
	const char *p = arg;
	size_t len;
	int ret;

	/* Commas, or the blanks of a quoted "$(pidof postgres)". */
	for (;;) {
		len = strcspn(p, ", \t");
		ret = add_pid(opts, p, len, arg, err, err_len);
		if (ret)
			return ret;
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

/* getopt leaves the offending word at argv[optind - 1] for long options and option clusters. */
static int bad_option(int c, int argc, char **argv, char *err, size_t err_len)
{
	const char *word = optind > 0 && optind <= argc ? argv[optind - 1] : "";
	bool is_long = strncmp(word, "--", 2) == 0;

	if (c == ':') {
		if (!is_long && optopt > 0 && optopt < 256)
			return argval_error(err, err_len, "option -%c needs an argument", optopt);
		return argval_error(err, err_len, "option '%s' needs an argument", word);
	}
	if (is_long && strchr(word, '='))
		return argval_error(err, err_len, "option '%.*s' takes no argument",
				   (int)(strchr(word, '=') - word), word);
	if (is_long)
		return argval_error(err, err_len, "unknown or ambiguous option '%s'", word);
	if (optopt > 0 && optopt < 256)
		return argval_error(err, err_len, "unknown option -%c", optopt);
	return argval_error(err, err_len, "unknown option '%s'", word);
}

void options_free(struct options *opts)
{
	if (!opts)
		return;
	free(opts->pids);
	opts->pids = NULL;
	opts->nr_pids = 0;
}

int options_parse(struct options *opts, int argc, char **argv, char *err, size_t err_len)
{
	uint64_t v;
	int c, ret;

	memset(opts, 0, sizeof(*opts));
	opts->format = "text";
	opts->top = DEFAULT_TOP;
	opts->max_allocs = DEFAULT_MAX_ALLOCS;
	opts->max_stacks = DEFAULT_MAX_STACKS;
	opts->unwind_mode = LT_UNWIND_AUTO;
	opts->unwind_rows = DEFAULT_UNWIND_ROWS;
	if (err && err_len)
		err[0] = '\0';
	if (argc < 1 || !argv)
		return argval_error(err, err_len, "no arguments");
	/* `leaktop record ...`: the same options after the subcommand's name. */
	if (argc > 1 && !strcmp(argv[1], "record")) {
		opts->record = true;
		opts->format = "pprof";
		argv++;
		argc--;
	}

	/* glibc: optind = 0 re-initializes getopt completely, so that every call parses afresh. */
	optind = 0;
	opterr = 0;
	for (;;) {
		c = getopt_long(argc, argv, short_options, long_options, NULL);
		/*
		 * `-p $(pidof postgres)` unquoted: the shell splits the pids into words, and the ones
		 * after the first look like a command. Plain numbers after -p, with no `--` before
		 * them, are pids; options may follow them.
		 */
		if (c == -1 && opts->nr_pids && optind < argc && strcmp(argv[optind - 1], "--") &&
		    argval_digits(argv[optind], strlen(argv[optind]))) {
			ret = parse_pids(opts, argv[optind++], err, err_len);
			if (ret)
				goto fail;
			continue;
		}
		if (c == -1)
			break;
		ret = 0;
		switch (c) {
		case 'p':
			ret = parse_pids(opts, optarg, err, err_len);
			break;
		case 'd':
			ret = argval_seconds("--duration", optarg, &opts->duration_s, err, err_len);
			break;
		case 'i':
			ret = argval_seconds("--interval", optarg, &opts->interval_s, err, err_len);
			break;
		case OPT_MIN_AGE:
			ret = argval_seconds("--min-age", optarg, &opts->min_age_s, err, err_len);
			break;
		case 'f':
			opts->format_given = true;
			if (output_format_find(optarg))
				opts->format = optarg;
			else
				ret = argval_error(err, err_len, "unknown format '%s' (expected %s)",
						  optarg, output_format_names());
			break;
		case 'o':
			if (!optarg[0])
				ret = argval_error(err, err_len, "--output: empty path");
			/* "-" is the usual spelling of stdout. */
			else
				opts->output_path = strcmp(optarg, "-") ? optarg : NULL;
			break;
		case 'n':
			ret = argval_count("--top", optarg, SIZE_MAX, &v, err, err_len);
			opts->top = ret ? opts->top : (size_t)v;
			break;
		case OPT_MIN_SIZE:
			ret = argval_size("--min-size", optarg, &opts->min_size, err, err_len);
			break;
		case OPT_MAX_SIZE:
			ret = argval_size("--max-size", optarg, &opts->max_size, err, err_len);
			break;
		case OPT_MAX_ALLOCS:
			ret = argval_entries("--max-allocs", optarg, MAP_MAX_HASH_ENTRIES,
					    &opts->max_allocs, err, err_len);
			break;
		case OPT_MAX_STACKS:
			ret = argval_entries("--max-stacks", optarg, MAP_MAX_HASH_ENTRIES,
					    &opts->max_stacks, err, err_len);
			break;
		case 'v':
			opts->verbosity++;
			break;
		case OPT_NO_PROBE_SHIFT:
			opts->no_probe_shift = true;
			break;
		case OPT_EMPTY_PROGRAMS:
			opts->empty_programs = true;
			break;
		case OPT_SAMPLE_RATE:
			ret = argval_size("--sample-rate", optarg, &opts->sample_rate, err, err_len);
			if (!ret && opts->sample_rate > LT_MAX_SAMPLE_RATE)
				ret = argval_error(err, err_len, "--sample-rate: at most %llu bytes",
						  (unsigned long long)LT_MAX_SAMPLE_RATE);
			break;
		case OPT_NO_SESSION:
			opts->no_session = true;
			break;
		case OPT_BATCH:
			opts->batch = true;
			break;
		case OPT_DIR:
			opts->record_dir = optarg;
			break;
		case OPT_KEEP:
			ret = argval_count("--keep", optarg, SIZE_MAX, &v, err, err_len);
			opts->keep = ret ? 0 : (size_t)v;
			break;
		case OPT_METRICS:
			opts->metrics_listen = optarg;
			break;
		case OPT_ITERATIONS:
			ret = argval_count("--iterations", optarg, UINT64_MAX, &opts->iterations, err,
					  err_len);
			if (!ret && !opts->iterations)
				ret = argval_error(err, err_len, "--iterations: must be at least 1");
			break;
		case OPT_UNWIND:
			if (!strcmp(optarg, "fp"))
				opts->unwind_mode = LT_UNWIND_FP;
			else if (!strcmp(optarg, "dwarf"))
				opts->unwind_mode = LT_UNWIND_DWARF;
			else if (!strcmp(optarg, "auto"))
				opts->unwind_mode = LT_UNWIND_AUTO;
			else
				ret = argval_error(err, err_len,
						  "unknown --unwind mode '%s' (expected fp, dwarf or auto)",
						  optarg);
			break;
		case OPT_UNWIND_ROWS:
			ret = argval_entries("--unwind-rows", optarg, MAP_MAX_UNWIND_ROWS,
					    &opts->unwind_rows, err, err_len);
			break;
		/* Help and version answer at once, whatever else is (or is not) on the line. */
		case 'h':
			opts->help = true;
			return 0;
		case 'V':
			opts->version = true;
			return 0;
		default:
			ret = bad_option(c, argc, argv, err, err_len);
			break;
		}
		if (ret)
			goto fail;
	}

	if (optind < argc)
		opts->command = &argv[optind];
	if (opts->nr_pids && opts->command) {
		ret = argval_error(err, err_len, "give either -p PID or a command to run, not both");
		goto fail;
	}
	if (!opts->nr_pids && !opts->command) {
		if (optind > 1 && optind <= argc && strcmp(argv[optind - 1], "--") == 0)
			ret = argval_error(err, err_len, "missing command after '--'");
		else
			ret = argval_error(err, err_len, "nothing to trace: give %s",
					  "-p PID[,PID...] or -- COMMAND [ARG...]");
		goto fail;
	}
	if (!opts->record && !strcmp(opts->format, "pprof") && opts->interval_s > 0) {
		ret = argval_error(err, err_len, "--format pprof writes one profile per run: no -i");
		goto fail;
	}
	if (opts->record && (!opts->record_dir || opts->interval_s <= 0)) {
		ret = argval_error(err, err_len, "record needs --interval SEC and --dir PATH");
		goto fail;
	}
	if (!opts->record && (opts->record_dir || opts->keep)) {
		ret = argval_error(err, err_len, "--dir and --keep go with `leaktop record`");
		goto fail;
	}
	if (opts->record && (opts->format_given || opts->output_path || opts->batch)) {
		ret = argval_error(err, err_len, "record writes pprof profiles into --dir: no -f, -o "
				  "or --batch");
		goto fail;
	}
	if (opts->iterations && !opts->batch) {
		ret = argval_error(err, err_len, "--iterations counts the frames of --batch: add it");
		goto fail;
	}
	if (opts->batch && opts->format_given) {
		ret = argval_error(err, err_len, "--batch prints the view's text frames: no --format");
		goto fail;
	}
	if (opts->max_size && opts->min_size > opts->max_size) {
		ret = argval_error(err, err_len,
				  "--min-size (%llu) is larger than --max-size (%llu)",
				  (unsigned long long)opts->min_size,
				  (unsigned long long)opts->max_size);
		goto fail;
	}
	return 0;

fail:
	options_free(opts);
	opts->command = NULL;
	return ret;
}

int options_check_stdout(const struct options *opts, bool stdout_is_tty, char *err,
			 size_t err_len)
{
	/* pprof is gzip'ed protobuf: bytes that would garble a terminal, and one profile per file. */
	if (!opts->record && !strcmp(opts->format, "pprof") && !opts->output_path && stdout_is_tty)
		return argval_error(err, err_len, "--format pprof writes binary data: give -o FILE");
	return 0;
}
