/* options.c: turns leaktop's command line into struct options, or a one-line usage error. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argval.h"
#include "bpf/leaktop.h"
#include "map_memory.h"
#include "model/snapshot.h"
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
	OPT_MAX_OVERHEAD,
	OPT_NO_SESSION,
	OPT_BATCH,
	OPT_ITERATIONS,
	OPT_DIR,
	OPT_KEEP,
	OPT_METRICS,
	OPT_UNWIND,
	OPT_UNWIND_ROWS,
	OPT_CGROUP,
	OPT_UNIT,
	OPT_COMM,
	OPT_NO_FOLLOW,
	OPT_TRACK,
	OPT_BASE,
	OPT_SUPPRESSIONS,
	OPT_NO_DEFAULT_SUPPRESSIONS,
	OPT_ERROR_EXITCODE,
	OPT_REACHABILITY,
};

/* "+" stops at the first non-option so that the command's own options stay its own; ":" reports a
 * missing argument apart from an unknown option. */
static const char short_options[] = "+:p:ad:i:f:o:n:vhV";

static const struct option long_options[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "unit", required_argument, NULL, OPT_UNIT },
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "no-follow", no_argument, NULL, OPT_NO_FOLLOW },
	{ "all", no_argument, NULL, 'a' },
	{ "track", required_argument, NULL, OPT_TRACK },
	{ "reachability", optional_argument, NULL, OPT_REACHABILITY },
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
	{ "max-overhead", required_argument, NULL, OPT_MAX_OVERHEAD },
	{ "no-session", no_argument, NULL, OPT_NO_SESSION },
	{ "batch", no_argument, NULL, OPT_BATCH },
	{ "dir", required_argument, NULL, OPT_DIR },
	{ "keep", required_argument, NULL, OPT_KEEP },
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "iterations", required_argument, NULL, OPT_ITERATIONS },
	{ "unwind", required_argument, NULL, OPT_UNWIND },
	{ "unwind-rows", required_argument, NULL, OPT_UNWIND_ROWS },
	{ "base", required_argument, NULL, OPT_BASE },
	{ "suppressions", required_argument, NULL, OPT_SUPPRESSIONS },
	{ "no-default-suppressions", no_argument, NULL, OPT_NO_DEFAULT_SUPPRESSIONS },
	{ "error-exitcode", required_argument, NULL, OPT_ERROR_EXITCODE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const char usage_text[] =
	"Usage: leaktop [options] -p PID[,PID...]\n"
	"       leaktop [options] --cgroup PATH | --unit NAME | --comm NAME\n"
	"       leaktop --track faults|mmap|kernel [options] -a\n"
	"       leaktop [options] [--] COMMAND [ARG...]\n"
	"       leaktop record --interval SEC --dir PATH [--keep N] [options] -p PID\n"
	"       leaktop report --dir PATH [--base FILE] [-f FMT] [-o PATH] [-n N]\n"
	"\n"
	"Shows which call stacks hold memory from malloc, calloc, realloc, operator new\n"
	"and friends, and which of them are still growing.\n"
	"\n"
	"With a running target (-p, --cgroup, --unit, --comm) and stdout a terminal,\n"
	"leaktop opens a live top-style view (h there lists the keys; q quits with the\n"
	"final report on stderr, or in -o PATH). --format, --batch or stdout not a\n"
	"terminal give the plain reports instead.\n"
	"\n"
	"Targets (give one):\n"
	"  -p, --pid PID[,PID...]  trace running processes (repeatable); allocations\n"
	"                          made before attach are not seen\n"
	"      --cgroup PATH       trace every process of a cgroup v2 group and of the\n"
	"                          groups below it, and those that join it later.\n"
	"                          PATH as /proc/PID/cgroup shows it\n"
	"                          (/system.slice/nginx.service, or without the\n"
	"                          leading /), or the group's directory\n"
	"      --unit NAME         the same for the group of a running systemd unit\n"
	"                          (NAME without a suffix gets .service)\n"
	"      --comm NAME         trace every process named NAME (its comm: the first\n"
	"                          15 bytes), and those so named later; none yet is no\n"
	"                          error: leaktop waits for the first\n"
	"  -- COMMAND [ARG...]     run COMMAND traced from its first instruction;\n"
	"                          report when it exits\n"
	"  -a, --all               every process of the machine (with --track without\n"
	"                          heap): the view ranks processes, then their stacks\n"
	"\n"
	"What is tracked:\n"
	"      --track LIST        a comma-separated subset of: heap (the default: the\n"
	"                          allocator's blocks), faults (pages of anonymous\n"
	"                          memory made resident, per stack: nothing on\n"
	"                          malloc/free), mmap, kernel. Each stack says its kind\n"
	"\n"
	"Options:\n"
	"      --no-follow         do not trace the processes that traced ones fork\n"
	"                          (by default they are traced too)\n"
	"  -d, --duration SEC      stop after SEC seconds (default: until Ctrl-C,\n"
	"                          SIGTERM, or every traced process has exited).\n"
	"                          With a command, when -d ends leaktop stops tracing\n"
	"                          and the command goes on running, untraced\n"
	"  -i, --interval SEC      also print a report every SEC seconds; in the live\n"
	"                          view and --batch: the refresh interval (default 2)\n"
	"  -f, --format FMT        text (default) | json | folded | pprof | html\n"
	"                          (pprof: gzip'ed protobuf, for -o FILE or a pipe;\n"
	"                          html: one self-contained page with a flame graph)\n"
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
	"      --max-overhead PCT  keep the probes' cost within PCT percent of the traced\n"
	"                          processes' CPU time: the sample rate follows it\n"
	"                          (starting at --sample-rate, or 64K)\n"
	"      --no-session        attach uprobe + uretprobe pairs even where the\n"
	"                          kernel has uprobe session links\n"
	"      --unwind MODE       how stacks are walked: fp (frame pointers only),\n"
	"                          dwarf (unwind tables from each object's CFI), or\n"
	"                          auto (default: frame pointers in objects built\n"
	"                          with them, the tables elsewhere)\n"
	"      --unwind-rows N     unwind table rows, 8 bytes each (default 1048576;\n"
	"                          at most 268435456); 1 MB of code needs about\n"
	"                          20000 to 40000\n"
	"      --reachability[=live]\n"
	"                          before each report, find which blocks nothing points\n"
	"                          to any more (lost), only into (possibly lost), or\n"
	"                          still does (reachable), per stack; each process is\n"
	"                          paused while its memory is copied (=live: no pause,\n"
	"                          an approximate answer). A command is scanned at its\n"
	"                          exit, before its memory is gone\n"
	"  -v, --verbose           more messages (twice: libbpf debug output too)\n"
	"      --no-probe-shift    probe every entry point at its first instruction\n"
	"                          (slower; for comparison)\n"
	"      --batch             print the live view as plain-text frames, one per\n"
	"                          interval, like top -b\n"
	"      --iterations N      with --batch: stop after N frames\n"
	"      --metrics ADDR:PORT serve Prometheus metrics at http://ADDR:PORT/metrics\n"
	"                          (ADDR defaults to 127.0.0.1; give 0.0.0.0 to expose)\n"
	"      --suppressions FILE drop the stacks that FILE's rules match, in\n"
	"                          LeakSanitizer's syntax (leak:PATTERN a line, # a\n"
	"                          comment); repeatable. Reports count what was dropped\n"
	"      --no-default-suppressions  do not apply the built-in rules for what the\n"
	"                          C and C++ runtimes hold until exit (stdio buffers,\n"
	"                          libstdc++'s exception pool, ...)\n"
	"      --error-exitcode N  exit N (1 to 255) when anything is outstanding at the\n"
	"                          end, after suppressions (a leak check, as valgrind's);\n"
	"                          with another target than a command: a leak suspect\n"
	"  -h, --help              show this help\n"
	"  -V, --version           show the version\n"
	"\n"
	"record: one pprof profile per --interval into --dir, written atomically, until\n"
	"SIGTERM or the processes exit.\n"
	"      --dir PATH          where profiles go (leaktop-<UTC time>.pb.gz)\n"
	"      --keep N            keep only the newest N profiles (default: all)\n"
	"\n"
	"report: the profiles record stored in --dir (or one profile), as one report:\n"
	"each stack's bytes at every profile, its growth, and the leak-suspect rule.\n"
	"      --base FILE         instead, what changed from the profile FILE to the\n"
	"                          newest of --dir, stack by stack (grown first)\n"
	"\n"
	"Every loss (allocation table full, stack lost, missed probe) is counted and\n"
	"shown in the report.\n"
	"\n"
	"Exit status: 0 success, 1 runtime failure, 2 usage error or bad input; with\n"
	"--error-exitcode N, N when anything is outstanding (a command) or a stack is a\n"
	"leak suspect (the other targets); else, with a command, the\n"
	"command's own: its exit code, or 128 + the signal that killed it.\n"
	"\n"
	"EXAMPLES\n"
	"  Which process, and which code in it, makes memory resident (any allocator):\n"
	"      leaktop --track faults -a\n"
	"  The kernel's allocations that a service makes and keeps:\n"
	"      leaktop --track kernel --unit nginx\n"
	"  Attach to every postgres process until Ctrl-C:\n"
	"      leaktop -p $(pgrep -d, postgres)\n"
	"  The same, and the postgres processes that start later:\n"
	"      leaktop --comm postgres\n"
	"  Every process of a systemd service, those it starts later too:\n"
	"      leaktop --unit postgresql\n"
	"      leaktop --cgroup system.slice/postgresql.service\n"
	"  Five frames of the live view, one a second, as text for a script:\n"
	"      leaktop --batch --iterations 5 -i 1 -p 1234\n"
	"  Watch one process for a minute, with a report every 10 seconds:\n"
	"      leaktop -d 60 -i 10 -p 1234\n"
	"  Run a test binary traced from its start; report what it holds at exit:\n"
	"      leaktop -- ./build/tests/test_parser --verbose\n"
	"  The same as a CI gate: exit 1 on a leak, known ones suppressed:\n"
	"      leaktop --error-exitcode 1 --suppressions known.supp -- ./test_parser\n"
	"  Write a JSON report to a file after 30 seconds:\n"
	"      leaktop -d 30 -f json -o leaks.json -p 1234\n"
	"  Profile a service continuously, sampled, with Prometheus metrics:\n"
	"      leaktop record --sample-rate 512K -i 300 --dir /var/lib/leaktop \\\n"
	"          --keep 48 --metrics 127.0.0.1:9464 -p $(pidof postgres)\n"
	"  Write a heap profile for go tool pprof, Pyroscope, Parca or Grafana:\n"
	"      leaktop -d 30 -f pprof -o heap.pb.gz -p 1234\n"
	"      go tool pprof -top heap.pb.gz\n"
	"  The growth of each stack across the profiles record stored; what grew\n"
	"  since one of them; a page with a flame graph and a timeline:\n"
	"      leaktop report --dir /var/lib/leaktop\n"
	"      leaktop report --dir /var/lib/leaktop --base OLD.pb.gz\n"
	"      leaktop report --dir /var/lib/leaktop -f html -o report.html\n"
	"  Which of a program's blocks are lost at its exit, as memcheck would say:\n"
	"      leaktop --reachability -f json -- ./server --selftest\n"
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
	free(opts->suppressions);
	opts->suppressions = NULL;
	opts->nr_suppressions = 0;
}

/* Options alike: a value of one kind, stored in one field of struct options. */
enum value_kind {
	VALUE_FLAG,	/* bool, set */
	VALUE_STRING,	/* const char *, the argument itself */
	VALUE_TARGET,	/* const char *, the argument itself: not empty, given once */
	VALUE_SECONDS,	/* double */
	VALUE_PERCENT,	/* double, > 0 */
	VALUE_SIZE,	/* uint64_t bytes, with suffixes; at most max */
	VALUE_ENTRIES,	/* uint32_t, 1..max: a BPF map's size */
	VALUE_COUNT,	/* size_t, min..max */
	VALUE_COUNT64,	/* uint64_t, min..max */
};

/* The offset of field f of struct options, which must be of type t (else no association matches). */
#define FIELD(f, t) \
	(offsetof(struct options, f) + 0 * sizeof(_Generic(((struct options *)0)->f, t: 1)))

static const struct value_option {
	int code;		/* getopt's */
	const char *name;	/* in messages */
	enum value_kind kind;
	size_t field;		/* offsetof(struct options, ...) */
	uint64_t min, max;
} value_options[] = {
	{ 'd', "--duration", VALUE_SECONDS, FIELD(duration_s, double), 0, 0 },
	{ 'i', "--interval", VALUE_SECONDS, FIELD(interval_s, double), 0, 0 },
	{ OPT_MIN_AGE, "--min-age", VALUE_SECONDS, FIELD(min_age_s, double), 0, 0 },
	{ 'n', "--top", VALUE_COUNT, FIELD(top, size_t), 0, SIZE_MAX },
	{ OPT_KEEP, "--keep", VALUE_COUNT, FIELD(keep, size_t), 0, SIZE_MAX },
	{ OPT_ITERATIONS, "--iterations", VALUE_COUNT64, FIELD(iterations, uint64_t), 1,
	  UINT64_MAX },
	{ OPT_MIN_SIZE, "--min-size", VALUE_SIZE, FIELD(min_size, uint64_t), 0, UINT64_MAX },
	{ OPT_MAX_SIZE, "--max-size", VALUE_SIZE, FIELD(max_size, uint64_t), 0, UINT64_MAX },
	{ OPT_SAMPLE_RATE, "--sample-rate", VALUE_SIZE, FIELD(sample_rate, uint64_t), 0,
	  LT_MAX_SAMPLE_RATE },
	{ OPT_MAX_OVERHEAD, "--max-overhead", VALUE_PERCENT, FIELD(max_overhead_pct, double), 0,
	  0 },
	{ OPT_MAX_ALLOCS, "--max-allocs", VALUE_ENTRIES, FIELD(max_allocs, uint32_t), 1,
	  MAP_MAX_HASH_ENTRIES },
	{ OPT_MAX_STACKS, "--max-stacks", VALUE_ENTRIES, FIELD(max_stacks, uint32_t), 1,
	  MAP_MAX_HASH_ENTRIES },
	{ OPT_UNWIND_ROWS, "--unwind-rows", VALUE_ENTRIES, FIELD(unwind_rows, uint32_t), 1,
	  MAP_MAX_UNWIND_ROWS },
	{ OPT_NO_PROBE_SHIFT, NULL, VALUE_FLAG, FIELD(no_probe_shift, bool), 0, 0 },
	{ OPT_EMPTY_PROGRAMS, NULL, VALUE_FLAG, FIELD(empty_programs, bool), 0, 0 },
	{ OPT_NO_SESSION, NULL, VALUE_FLAG, FIELD(no_session, bool), 0, 0 },
	{ OPT_NO_FOLLOW, NULL, VALUE_FLAG, FIELD(no_follow, bool), 0, 0 },
	{ OPT_NO_DEFAULT_SUPPRESSIONS, NULL, VALUE_FLAG, FIELD(no_default_suppressions, bool), 0,
	  0 },
	{ OPT_ERROR_EXITCODE, "--error-exitcode", VALUE_COUNT, FIELD(error_exitcode, size_t), 1,
	  255 },
	{ OPT_CGROUP, "--cgroup", VALUE_TARGET, FIELD(cgroup, const char *), 0, 0 },
	{ OPT_UNIT, "--unit", VALUE_TARGET, FIELD(unit, const char *), 0, 0 },
	{ OPT_COMM, "--comm", VALUE_TARGET, FIELD(comm, const char *), 0, 0 },
	{ OPT_BATCH, NULL, VALUE_FLAG, FIELD(batch, bool), 0, 0 },
	{ OPT_DIR, NULL, VALUE_STRING, FIELD(record_dir, const char *), 0, 0 },
	{ OPT_METRICS, NULL, VALUE_STRING, FIELD(metrics_listen, const char *), 0, 0 },
	{ OPT_BASE, NULL, VALUE_STRING, FIELD(base_path, const char *), 0, 0 },
};

/* Stores arg, read as vo says, in its field of opts. 0 or -EINVAL (err says why). */
static int set_value(struct options *opts, const struct value_option *vo, const char *arg,
		     char *err, size_t err_len)
{
	void *field = (char *)opts + vo->field;
	uint64_t v = 0;
	int ret = 0;

	switch (vo->kind) {
	case VALUE_FLAG:
		*(bool *)field = true;
		return 0;
	case VALUE_STRING:
		*(const char **)field = arg;
		return 0;
	case VALUE_TARGET:
		if (*(const char **)field)
			return argval_error(err, err_len, "%s given twice: one target per run",
					   vo->name);
		if (!arg[0])
			return argval_error(err, err_len, "%s: empty argument", vo->name);
		*(const char **)field = arg;
		return 0;
	case VALUE_SECONDS:
		return argval_seconds(vo->name, arg, (double *)field, err, err_len);
	case VALUE_PERCENT:
		return argval_percent(vo->name, arg, (double *)field, err, err_len);
	case VALUE_ENTRIES:
		return argval_entries(vo->name, arg, (uint32_t)vo->max, (uint32_t *)field, err,
				     err_len);
	case VALUE_SIZE:
		ret = argval_size(vo->name, arg, &v, err, err_len);
		if (!ret && v > vo->max)
			return argval_error(err, err_len, "%s: at most %llu bytes", vo->name,
					   (unsigned long long)vo->max);
		break;
	case VALUE_COUNT:
	case VALUE_COUNT64:
		ret = argval_count(vo->name, arg, vo->max, &v, err, err_len);
		if (!ret && v < vo->min)
			return argval_error(err, err_len, "%s: must be at least %llu", vo->name,
					   (unsigned long long)vo->min);
		break;
	}
	if (ret)
		return ret;
	if (vo->kind == VALUE_COUNT)
		*(size_t *)field = (size_t)v;
	else
		*(uint64_t *)field = v;
	return 0;
}

static int set_format(struct options *opts, const char *arg, char *err, size_t err_len)
{
	opts->format_given = true;
	if (!output_format_find(arg))
		return argval_error(err, err_len, "unknown format '%s' (expected %s)", arg,
				   output_format_names());
	opts->format = arg;
	return 0;
}

static int set_output(struct options *opts, const char *arg, char *err, size_t err_len)
{
	if (!arg[0])
		return argval_error(err, err_len, "--output: empty path");
	/* "-" is the usual spelling of stdout. */
	opts->output_path = strcmp(arg, "-") ? arg : NULL;
	return 0;
}

static int add_suppressions(struct options *opts, const char *arg, char *err, size_t err_len)
{
	const char **files;

	if (!arg[0])
		return argval_error(err, err_len, "--suppressions: empty path");
	files = realloc(opts->suppressions, (opts->nr_suppressions + 1) * sizeof(*files));
	if (!files) {
		argval_error(err, err_len, "out of memory");
		return -ENOMEM;
	}
	files[opts->nr_suppressions++] = arg;
	opts->suppressions = files;
	return 0;
}

static int set_unwind(struct options *opts, const char *arg, char *err, size_t err_len)
{
	static const struct {
		const char *name;
		uint32_t mode;
	} modes[] = { { "fp", LT_UNWIND_FP }, { "dwarf", LT_UNWIND_DWARF }, { "auto", LT_UNWIND_AUTO } };

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (!strcmp(arg, modes[i].name)) {
			opts->unwind_mode = modes[i].mode;
			return 0;
		}
	}
	return argval_error(err, err_len, "unknown --unwind mode '%s' (expected fp, dwarf or auto)",
			   arg);
}

/* --track LIST: a comma-separated subset of heap, mmap, faults, kernel. */
static int set_track(struct options *opts, const char *arg, char *err, size_t err_len)
{
	const char *p = arg;

	opts->track = 0;
	for (;;) {
		size_t len = strcspn(p, ",");
		uint32_t k;

		for (k = 0; k < LT_TRACK_MAX; k++) {
			const char *name = snapshot_kind_name(k);

			if (strlen(name) == len && !strncmp(p, name, len))
				break;
		}
		if (k == LT_TRACK_MAX)
			return argval_error(err, err_len,
					   "--track: unknown kind '%.*s' (expected a list of heap, "
					   "mmap, faults, kernel)", (int)len, p);
		opts->track |= LT_TRACK_BIT(k);
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

/* What apply_option() returns for -h and -V: they answer at once, whatever else is on the line. */
#define PARSE_STOP 1

/* One option getopt found (c, with optarg): 0, PARSE_STOP, or -errno (err says why). */
static int apply_option(struct options *opts, int c, int argc, char **argv, char *err,
			size_t err_len)
{
	for (size_t i = 0; i < sizeof(value_options) / sizeof(value_options[0]); i++)
		if (value_options[i].code == c)
			return set_value(opts, &value_options[i], optarg, err, err_len);
	switch (c) {
	case 'p':
		return parse_pids(opts, optarg, err, err_len);
	case 'f':
		return set_format(opts, optarg, err, err_len);
	case 'o':
		return set_output(opts, optarg, err, err_len);
	case OPT_UNWIND:
		return set_unwind(opts, optarg, err, err_len);
	case OPT_TRACK:
		return set_track(opts, optarg, err, err_len);
	case 'a':
		opts->all = true;
		return 0;
	case OPT_SUPPRESSIONS:
		return add_suppressions(opts, optarg, err, err_len);
	case OPT_REACHABILITY:
		if (optarg && strcmp(optarg, "live"))
			return argval_error(err, err_len, "--reachability takes no value or =live, not '%s'",
					   optarg);
		opts->reachability = optarg ? REACHABILITY_LIVE : REACHABILITY_PAUSED;
		return 0;
	case 'v':
		opts->verbosity++;
		return 0;
	case 'h':
		opts->help = true;
		return PARSE_STOP;
	case 'V':
		opts->version = true;
		return PARSE_STOP;
	default:
		return bad_option(c, argc, argv, err, err_len);
	}
}

/*
 * The options of argv, up to the command (left at argv[optind]): 0, PARSE_STOP or -errno.
 * `-p $(pidof postgres)` unquoted: the shell splits the pids into words, and the ones after the
 * first look like a command. Plain numbers after -p, with no `--` before them, are pids; options
 * may follow them.
 */
static int parse_words(struct options *opts, int argc, char **argv, char *err, size_t err_len)
{
	int c, ret;

	/* glibc: optind = 0 re-initializes getopt completely, so that every call parses afresh. */
	optind = 0;
	opterr = 0;
	for (;;) {
		c = getopt_long(argc, argv, short_options, long_options, NULL);
		if (c == -1 && opts->nr_pids && optind < argc && strcmp(argv[optind - 1], "--") &&
		    argval_digits(argv[optind], strlen(argv[optind])))
			ret = parse_pids(opts, argv[optind++], err, err_len);
		else if (c == -1)
			return 0;
		else
			ret = apply_option(opts, c, argc, argv, err, err_len);
		if (ret)
			return ret;
	}
}

/* What to trace: exactly one target, -p's pids, --cgroup, --unit, --comm, or the command after the
 * options (from argv[optind]). */
static int set_target(struct options *opts, int argc, char **argv, char *err, size_t err_len)
{
	const struct {
		bool given;
		const char *name;
	} targets[] = {
		{ opts->nr_pids > 0, "-p PID" },
		{ opts->cgroup, "--cgroup PATH" },
		{ opts->unit, "--unit NAME" },
		{ opts->comm, "--comm NAME" },
		{ opts->all, "-a" },
		{ optind < argc, "a command to run" },
	};
	const char *first = NULL;

	if (optind < argc)
		opts->command = &argv[optind];
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		if (!targets[i].given)
			continue;
		if (first)
			return argval_error(err, err_len, "give either %s or %s, not both", first,
					   targets[i].name);
		first = targets[i].name;
	}
	if (first)
		return 0;
	if (optind > 1 && optind <= argc && strcmp(argv[optind - 1], "--") == 0)
		return argval_error(err, err_len, "missing command after '--'");
	return argval_error(err, err_len, "nothing to trace: give %s, %s",
			   "-p PID[,PID...], --cgroup PATH, --unit NAME",
			   "--comm NAME or -- COMMAND [ARG...]");
}

/* Options that do not go together. 0 or -EINVAL (err says why). */
static int check_combinations(const struct options *o, char *err, size_t err_len)
{
	bool pprof = !strcmp(o->format, "pprof"), html = !strcmp(o->format, "html");
	const struct {
		bool broken;
		const char *msg;
	} rules[] = {
		/* One profile per file: a report every -i seconds would be appended into garbage. */
		{ !o->record && pprof && o->interval_s > 0,
		  "--format pprof writes one profile per run: no -i" },
		{ html && o->interval_s > 0, "--format html writes one page per run: no -i" },
		{ o->record && (!o->record_dir || o->interval_s <= 0),
		  "record needs --interval SEC and --dir PATH" },
		{ !o->record && !o->report && (o->record_dir || o->keep),
		  "--dir and --keep go with `leaktop record`" },
		{ o->report && (!o->record_dir || o->keep),
		  "report reads the profiles in --dir PATH (no --keep)" },
		{ !o->report && o->base_path, "--base goes with `leaktop report`" },
		{ o->report && (o->duration_s > 0 || o->interval_s > 0 || o->batch ||
				o->metrics_listen || o->min_age_s > 0),
		  "report reads stored profiles: no -d, -i, --min-age, --batch or --metrics" },
		{ o->record && (o->format_given || o->output_path || o->batch),
		  "record writes pprof profiles into --dir: no -f, -o or --batch" },
		{ o->iterations && !o->batch, "--iterations counts the frames of --batch: add it" },
		{ o->batch && o->format_given, "--batch prints the view's text frames: no --format" },
		/* The allocator's probes are per process: no system-wide heap. */
		{ o->all && (o->track & LT_TRACK_BIT(LT_TRACK_HEAP)),
		  "-a traces the whole system: give --track faults, mmap or kernel, without heap" },
		/* A sampled block's extent is not known: its size is its weight. */
		{ o->reachability && (o->sample_rate || o->max_overhead_pct > 0),
		  "--reachability needs every block: no --sample-rate or --max-overhead" },
		{ o->max_overhead_pct > 0 &&
			  (o->empty_programs || !(o->track & LT_TRACK_BIT(LT_TRACK_HEAP))),
		  "--max-overhead sets the sample rate of the heap's probes: --track with heap" },
	};

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i].broken)
			return argval_error(err, err_len, "%s", rules[i].msg);
	if (o->max_size && o->min_size > o->max_size)
		return argval_error(err, err_len, "--min-size (%llu) is larger than --max-size (%llu)",
				   (unsigned long long)o->min_size,
				   (unsigned long long)o->max_size);
	return 0;
}

static void set_defaults(struct options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->format = "text";
	opts->top = DEFAULT_TOP;
	opts->max_allocs = DEFAULT_MAX_ALLOCS;
	opts->max_stacks = DEFAULT_MAX_STACKS;
	opts->unwind_mode = LT_UNWIND_AUTO;
	opts->unwind_rows = DEFAULT_UNWIND_ROWS;
	opts->track = LT_TRACK_BIT(LT_TRACK_HEAP);
}

int options_parse(struct options *opts, int argc, char **argv, char *err, size_t err_len)
{
	int ret;

	set_defaults(opts);
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
	/* `leaktop report ...`: reads profiles; nothing is traced. */
	if (argc > 1 && !strcmp(argv[1], "report")) {
		opts->report = true;
		argv++;
		argc--;
	}
	ret = parse_words(opts, argc, argv, err, err_len);
	if (ret == PARSE_STOP)
		return 0;
	if (!ret && opts->report && (opts->nr_pids || opts->cgroup || opts->unit || opts->comm ||
				     optind < argc))
		ret = argval_error(err, err_len, "report reads stored profiles: no target");
	else if (!ret && !opts->report)
		ret = set_target(opts, argc, argv, err, err_len);
	if (!ret)
		ret = check_combinations(opts, err, err_len);
	if (ret) {
		options_free(opts);
		opts->command = NULL;
	}
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
