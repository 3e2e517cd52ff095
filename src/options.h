/* options.h: the command line, parsed into struct options. Pure: no I/O but the messages it returns. */
#ifndef LT_OPTIONS_H
#define LT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct options {
	int *pids;			/* -p PID[,PID...]; owned; no duplicates */
	size_t nr_pids;
	char **command;			/* argv after "--" (points into the caller's argv, which must have
					 * argv[argc] == NULL as main's does); else NULL */
	/* The other targets; exactly one target (-p, --cgroup, --unit, --comm or a command) is
	 * given. Each points into argv; NULL when not given, never empty. */
	const char *cgroup;		/* --cgroup PATH: a cgroup v2 group and the groups below */
	const char *unit;		/* --unit NAME: a systemd unit's group */
	const char *comm;		/* --comm NAME: every process of that name */
	bool no_follow;			/* --no-follow: what traced processes fork is not traced */
	bool all;			/* -a: every process of the machine (a target; not with heap) */
	uint32_t track;			/* --track: LT_TRACK_BIT()s of the kinds; default heap */
	double duration_s;		/* -d; 0 = until interrupted or every process exited */
	double interval_s;		/* -i; 0 = one report at the end */
	const char *format;		/* -f: a name from the output-format table; default "text" */
	const char *output_path;	/* -o; NULL = stdout (also for "-o -") */
	size_t top;			/* -n; default 20; 0 = all */
	double min_age_s;		/* --min-age; 0 = off */
	uint64_t min_size;		/* --min-size, bytes; 0 = off */
	uint64_t max_size;		/* --max-size, bytes; 0 = off */
	uint32_t max_allocs;		/* --max-allocs: live allocations tracked; default 1,000,000
					 * (1 to 2^27, the kernel's limit for a hash map) */
	uint32_t max_stacks;		/* --max-stacks: distinct stacks; default 65,536 (to 2^27) */
	int verbosity;			/* -v count */
	bool no_probe_shift;		/* --no-probe-shift: probe every function at its first instruction */
	uint64_t sample_rate;		/* --sample-rate, bytes; 0 = record every allocation */
	double max_overhead_pct;	/* --max-overhead, percent; 0 = none */
	bool no_session;		/* --no-session: classic uprobe + uretprobe pairs */
	uint32_t unwind_mode;		/* --unwind fp|dwarf|auto: enum lt_unwind_mode; default auto */
	uint32_t unwind_rows;		/* --unwind-rows: table rows; default 1,048,576 (to 2^28) */
	bool empty_programs;		/* --empty-programs (hidden): no-op programs, for the probe floor */
	bool format_given;		/* -f was given: plain reports, never the live view */
	bool batch;			/* --batch: the live view's frames as plain text, one per interval */
	uint64_t iterations;		/* --iterations (with --batch): frames; 0 = until stopped */
	bool record;			/* `leaktop record`: a pprof profile per interval into --dir */
	const char *record_dir;		/* --dir (record) */
	size_t keep;			/* --keep (record): newest profiles kept; 0 = all */
	const char *metrics_listen;	/* --metrics ADDRESS:PORT: serve Prometheus /metrics */
	bool report;			/* `leaktop report`: the profiles in --dir, as one report */
	const char *base_path;		/* --base FILE (report): the profile to subtract */
	const char **suppressions;	/* --suppressions FILE, each given (into argv); owned array */
	size_t nr_suppressions;
	bool no_default_suppressions;	/* --no-default-suppressions */
	size_t error_exitcode;		/* --error-exitcode N (1..255): exit N when anything is
					 * outstanding at the end; 0 = off */
	uint32_t reachability;		/* --reachability: enum options_reach */
	bool help;			/* -h: usage was requested (print options_usage() and exit 0) */
	bool version;			/* -V */
};

/* --reachability: scan which blocks are still pointed to, before each report. */
enum options_reach {
	REACHABILITY_OFF,
	REACHABILITY_PAUSED,	/* --reachability: each process paused while its memory is copied */
	REACHABILITY_LIVE,	/* --reachability=live: no pause, an approximate answer */
};

/*
 * Parses argv into opts (which it zeroes first and fills with defaults). Returns 0, or -EINVAL with a
 * one-line reason in err (for a usage error: exit code 2), or -ENOMEM. On error opts holds nothing
 * to free (options_free() is still harmless). Sizes accept suffixes K, M, G, KiB, MiB, GiB (powers
 * of 1024); durations accept a plain number of seconds with an optional fraction. -h and -V return
 * 0 at once with help/version set and nothing else validated. Pure: it looks at argv alone (where
 * the output goes is options_check_stdout()'s). Uses getopt: not thread-safe.
 */
int options_parse(struct options *opts, int argc, char **argv, char *err, size_t err_len);

/*
 * Whether the report may go where opts sends it, given whether stdout is a terminal: --format
 * pprof (gzip'ed protobuf) without -o is refused on a terminal. 0, or -EINVAL with the message in
 * err (a usage error: exit code 2). Pure; the caller asks isatty().
 */
int options_check_stdout(const struct options *opts, bool stdout_is_tty, char *err,
			 size_t err_len);

/* The help text, with an EXAMPLES section. */
const char *options_usage(void);

void options_free(struct options *opts);

#endif
