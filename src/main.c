/* main.c: wiring only: parse options, build the pieces, run the loop, report, clean up. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "base/clock.h"
#include "base/log.h"
#include "map_memory.h"
#include "model/suppress.h"
#include "bpf/leaktop.h"
#include "options.h"
#include "targets.h"
#include "output/output.h"
#include "output/series.h"
#include "proc/launch.h"
#include "proc/procview.h"
#include "symbol/symbolize.h"
#include "trace/attach.h"
#include "trace/budget.h"
#include "trace/collect.h"
#include "trace/reachscan.h"
#include "trace/tracer.h"
#include "trace/track.h"
#include "ui/batch.h"
#include "ui/live.h"
#include "ui/loop.h"
#include "ui/pipeline.h"
#include "ui/plain.h"
#include "ui/tui.h"
#include "unwind/unwind_maps.h"

#define LEAKTOP_VERSION "0.1.0"

/* The only process-wide state: the signal that asks the loop to stop. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* The signals that set stop_signal. */
static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };

static void install_signals(sigset_t *set)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigemptyset(set);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++) {
		sigaction(stop_signals[i], &sa, NULL);
		sigaddset(set, stop_signals[i]);
	}
	signal(SIGPIPE, SIG_IGN);
}

/* Everything one run of leaktop holds; run_close() frees it. */
struct run {
	struct options opts;
	struct tracer *tracer;
	struct procview *pv;	/* the traced processes' code, for attach, symbolizer, unwinder */
	struct symbolizer *sym;
	struct collector *col;
	struct track *track;	/* --track's kinds beyond heap; NULL: heap only */
	struct overhead *overhead; /* --max-overhead; NULL: none */
	struct reachscan *reach;	/* --reachability, or the view's key */
	struct unwinder *unwinder;
	struct metrics_server *metrics;
	struct targets *targets;	/* the pids given or the command, and what they fork */
	struct suppressions *sup;	/* --suppressions and the default list */
	bool view;		/* the live view, on this terminal */
	FILE *out;		/* the reports: stdout, stderr, -o PATH; NULL: none, record */
	const char *out_name;
	sigset_t stops;
	struct pipeline pipe;
	struct plain plain;
};

/*
 * Closes stdout after leaktop wrote `what` there: a full disk, a closed pipe or a failed close must
 * not go unnoticed at exit. 0, or 1 (logged).
 */
static int close_stdout(const char *what)
{
	if (fflush(stdout) || ferror(stdout) || fclose(stdout)) {
		log_error("cannot write %s to standard output: %s", what, strerror(errno));
		return 1;
	}
	return 0;
}

/* The machine's memory (what the kernel can allocate at most), in bytes; 0 when unknown. */
static uint64_t machine_memory_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

	return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
}

/*
 * The command line. -1 to go on; else the exit code: 0 after --help or --version, 2 for bad
 * input, including map sizes the kernel would refuse or this machine cannot hold.
 */
static int parse(struct options *opts, int argc, char **argv)
{
	int nr_cpus = libbpf_num_possible_cpus();
	char err[256];

	if (options_parse(opts, argc, argv, err, sizeof(err)) ||
	    (!opts->help && !opts->version &&
	     (options_check_stdout(opts, isatty(STDOUT_FILENO), err, sizeof(err)) ||
	      map_memory_check(opts, machine_memory_bytes(),
			       (unsigned int)(nr_cpus > 0 ? nr_cpus : 1), err, sizeof(err))))) {
		fprintf(stderr, "leaktop: %s\nTry 'leaktop --help' for more information.\n", err);
		return 2;
	}
	if (opts->help)
		fputs(options_usage(), stdout);
	else if (opts->version)
		printf("leaktop %s\n", LEAKTOP_VERSION);
	else
		return -1;
	return close_stdout(opts->help ? "the help" : "the version");
}

/* LEAKTOP_FAULT=thread_state: a fault the BPF programs make on purpose, for the tests. */
static uint32_t fault_from_env(void)
{
	const char *name = getenv("LEAKTOP_FAULT");

	if (!name || !*name)
		return LT_FAULT_NONE;
	if (!strcmp(name, "thread_state"))
		return LT_FAULT_THREAD_STATE;
	if (!strcmp(name, "events"))
		return LT_FAULT_EVENTS;
	if (!strcmp(name, "scratch_busy"))
		return LT_FAULT_SCRATCH_BUSY;
	if (!strcmp(name, "changed_full"))
		return LT_FAULT_CHANGED_FULL;
	log_warn("LEAKTOP_FAULT=%s: no such fault, ignored", name);
	return LT_FAULT_NONE;
}

/* The suppressions, read before anything starts: a bad file is bad input. -1, 1 or 2. */
static int open_suppressions(struct run *r)
{
	const struct options *o = &r->opts;
	char err[512];
	int ret = 0;

	r->sup = suppressions__new();
	if (!r->sup) {
		log_error("out of memory");
		return 1;
	}
	if (!o->no_default_suppressions)
		ret = suppressions__add_defaults(r->sup);
	for (size_t i = 0; !ret && i < o->nr_suppressions; i++)
		ret = suppressions__load(r->sup, o->suppressions[i], err, sizeof(err));
	if (ret == -ENOMEM)
		log_error("out of memory");
	else if (ret)
		log_error("%s", err);
	return !ret ? -1 : ret == -ENOMEM ? 1 : 2;
}

/* The traced processes, checked before loading anything: a wrong pid is bad input. -1, 1 or 2. */
static int open_targets(struct run *r)
{
	r->targets = targets__new(&r->opts);
	if (!r->targets)
		return errno == ESRCH || errno == EINVAL ? 2 : 1;
	return -1;
}

/* The BPF programs and their readers. -1 to go on, else the exit code. */
static int load(struct run *r)
{
	const struct options *o = &r->opts;
	struct tracer_opts topts = {
		.follow = !o->no_follow,
		.max_allocs = o->max_allocs,	.max_stacks = o->max_stacks,
		.min_size = o->min_size,	.max_size = o->max_size,
		.sample_rate = o->sample_rate,	.no_session = o->no_session,
		.empty_programs = o->empty_programs, .unwind_mode = o->unwind_mode,
		.unwind_rows = o->unwind_rows,	.fault = fault_from_env(),
		.budget = o->max_overhead_pct > 0,
	};

	/* A budget starts at a rate (budget.h): from the first probe on, not from its first poll. */
	if (topts.budget && !topts.sample_rate)
		topts.sample_rate = BUDGET_START_RATE;

	r->tracer = tracer__new(&topts);
	if (!r->tracer)
		return errno == EPERM || errno == EACCES ? 2 : 1;
	if (o->track & ~LT_TRACK_BIT(LT_TRACK_HEAP)) {
		struct track_opts to = {
			.kinds = o->track, .all = o->all, .procs_fd = tracer__procs_fd(r->tracer),
			.max_entries = o->max_allocs, .max_stacks = o->max_stacks,
			.fault = topts.fault, .task_work = tracer__task_work(r->tracer),
		};

		r->track = track__new(&to);
		if (!r->track)
			return errno == EPERM || errno == EACCES ? 2 : 1;
	}
	r->pv = procview__new();
	r->sym = r->pv ? symbolizer__new(r->pv) : NULL;
	r->col = collector__new(r->tracer, o->max_stacks);
	r->reach = r->col ? reachscan__new(r->col) : NULL;
	if (!r->sym || !r->col || !r->reach) {
		log_error("out of memory");
		return 1;
	}
	/* The unwind tables serve the heap's probes only. */
	if (o->unwind_mode != LT_UNWIND_FP && (o->track & LT_TRACK_BIT(LT_TRACK_HEAP))) {
		r->unwinder = unwinder__new(r->pv, tracer__unwind_rows_fd(r->tracer),
					    tracer__unwind_procs_fd(r->tracer), o->unwind_rows);
		if (!r->unwinder) {
			log_error("cannot map the unwind row table: %s", strerror(errno));
			return 1;
		}
	}
	return -1;
}

/*
 * The command, started and stopped before its first instruction, or the processes given: unwind
 * tables and probes for each. Their mappings and files are then in the view, where the
 * symbolizer finds them. -1 to go on, else the exit code.
 */
static int attach_all(struct run *r)
{
	const struct options *o = &r->opts;
	struct procset_opts po = {
		.tracer = r->tracer, .pv = r->pv, .unwinder = r->unwinder,
		.no_probe_shift = o->no_probe_shift, .follow = !o->no_follow,
		.held = o->command != NULL,
		.no_probes = !(o->track & LT_TRACK_BIT(LT_TRACK_HEAP)),
	};
	int ret = targets__start(r->targets, &po);

	if (ret < 0)
		log_info("%u probes attached", tracer__nr_links(r->tracer));
	return ret;
}

/*
 * The metrics server and where the reports go: the view's final report to stderr or -o PATH,
 * --batch's only to -o PATH, the plain modes' to stdout or -o PATH. -1, 1 or 2.
 */
/*
 * The -o file, written through a buffer of 256 KiB: a JSON report of 100,000 stacks is hundreds of
 * MB, which stdio's default of a block would write in a hundred thousand calls.
 */
static FILE *open_output(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f)
		setvbuf(f, NULL, _IOFBF, 256 << 10);
	return f;
}

static int open_outputs(struct run *r)
{
	const struct options *o = &r->opts;
	char err[256];

	/* The view is for -p on a terminal. */
	r->view = !o->batch && !o->record && !o->format_given && !o->command &&
		  isatty(STDOUT_FILENO);
	/*
	 * A reading, its report and their arrays are megabytes at 100,000 stacks, made and freed at
	 * every report: in the plain modes (what runs for hours, and where memory is short during an
	 * incident) arrays of 1 MiB and more are mapped apart and go back to the system when freed.
	 * glibc's default raises its threshold to the size of the first one freed and keeps them in
	 * the heap, where the holes they leave stay resident: 13 MiB more at 100,000 stacks. The
	 * view and --batch make a frame every interval and keep that default: mapping their arrays
	 * anew each time cost a refresh 10 ms of page faults.
	 */
	if (!r->view && !o->batch)
		mallopt(M_MMAP_THRESHOLD, 1 << 20);
	if (o->metrics_listen) {
		r->metrics = metrics_server__start(o->metrics_listen, err, sizeof(err));
		if (!r->metrics) {
			log_error("%s", err);
			return errno == EINVAL ? 2 : 1;
		}
	}
	if (o->record)
		return -1;
	if (o->output_path) {
		r->out = open_output(o->output_path);
		r->out_name = o->output_path;
		if (!r->out) {
			log_error("cannot open %s: %s", o->output_path, strerror(errno));
			return 2;
		}
		return -1;
	}
	r->out = r->view ? stderr : o->batch ? NULL : stdout;
	r->out_name = r->view ? "standard error" : "standard output";
	return -1;
}

/* The pipeline every mode reads through, and the reports; tracing starts counting now. */
static int start_pipeline(struct run *r)
{
	const struct options *o = &r->opts;
	struct timespec wall;

	r->pipe = (struct pipeline){
		.version = LEAKTOP_VERSION, .col = r->col, .track = r->track, .all = o->all,
		.sym = r->sym,
		.unwinder = r->unwinder, .metrics = r->metrics,
		.procs = targets__procs(r->targets), .start_ns = now_ns(), .sup = r->sup,
		.command_exit = targets__command_exit(r->targets),
		.min_age_ns = (uint64_t)(o->min_age_s * 1e9), .sample_rate = o->sample_rate,
		.max_allocs = o->max_allocs, .reach = r->reach,
		.reach_hold = o->reachability == REACHABILITY_LIVE ? REACHSCAN_LIVE : REACHSCAN_FREEZE,
		.reach_each = o->reachability && !o->command,
	};
	if (o->reachability && o->command)
		targets__scan_at_exit(r->targets, r->reach);
	if (o->max_overhead_pct > 0) {
		r->overhead = overhead__new(r->tracer, r->pipe.procs, o->max_overhead_pct / 100,
					    o->sample_rate);
		if (!r->overhead)
			return 1;
		r->pipe.overhead = r->overhead;
	}
	if (!clock_gettime(CLOCK_REALTIME, &wall))
		r->pipe.start_time_ns = (uint64_t)wall.tv_sec * 1000000000ull +
					(uint64_t)wall.tv_nsec;
	r->plain = (struct plain){
		.pipe = &r->pipe, .fmt = output_format_find(o->format), .out = r->out,
		.out_name = r->out_name, .top = o->top,
		.record_dir = o->record ? o->record_dir : NULL, .keep = o->keep,
	};
	return plain_init(&r->plain) ? 1 : -1;
}

/* The command starts now, traced from its first instruction. -1 or 1. */
static int resume(struct run *r)
{
	return targets__resume(r->targets);
}

/* The view or --batch: a frame per interval (2 s unless -i says otherwise). 0 or -errno. */
static int run_live(struct run *r, struct loop *l)
{
	double interval_s = r->opts.interval_s > 0 ? r->opts.interval_s : LIVE_DEFAULT_INTERVAL_S;
	struct live *live = live__new(&r->pipe, r->tracer, HISTORY_WINDOW);
	int err;

	if (!live)
		return -errno;
	if (r->view)
		err = tui_run(&r->pipe, live, l, interval_s);
	else
		err = batch_run(&r->pipe, live, l, interval_s, r->opts.iterations, r->opts.top,
				stdout);
	live__free(live);
	return err;
}

/* Traces until the end, in the mode asked for; then the final report. 0 or 1. */
static int run_mode(struct run *r)
{
	double duration_s = r->opts.duration_s;
	struct loop l = {
		.stop = &stop_signal, .stop_signals = &r->stops, .input_fd = -1,
		.end_ns = duration_s > 0 ? r->pipe.start_ns + (uint64_t)(duration_s * 1e9) : 0,
	};
	int err = targets__watch(r->targets, &l);

	if (err)
		log_error("cannot watch the traced processes: %s", strerror(-err));
	else if (r->view || r->opts.batch)
		err = run_live(r, &l);
	else
		err = plain_run(&r->plain, &l, r->opts.interval_s);
	/* The final report, with the processes' last events; record's last profile covers the
	 * interval SIGTERM cut short. --error-exitcode reads it even where nothing is written. */
	if (!err && (r->out || r->opts.record || r->opts.error_exitcode))
		err = procset__settle(targets__procs(r->targets));
	if (!err && (r->out || r->opts.record || r->opts.error_exitcode))
		err = plain_report(&r->plain);
	return err ? 1 : 0;
}

/* `leaktop report`: nothing is traced; the stored profiles, as one report. 1 or 2 on failure. */
static int report_stored(struct run *r)
{
	const struct options *o = &r->opts;
	struct series_opts so = {
		.dir = o->record_dir, .base = o->base_path, .fmt = output_format_find(o->format),
		.top = o->top, .version = LEAKTOP_VERSION,
	};
	int err;

	r->out = o->output_path ? open_output(o->output_path) : stdout;
	r->out_name = o->output_path ? o->output_path : "standard output";
	if (!r->out) {
		log_error("cannot open %s: %s", o->output_path, strerror(errno));
		return 2;
	}
	so.out = r->out;
	so.out_name = r->out_name;
	err = series_report(&so);
	return err == -EINVAL ? 2 : err ? 1 : 0;
}

/*
 * The exit status of a run that went well, as valgrind's: in command mode, --error-exitcode's N
 * when the end's reading holds a leak (snapshot__has_leaks()), else the command's own status
 * (its exit code, or 128 + the signal that killed it, as a shell reports it); in the other modes,
 * N when the final report holds a leak suspect; else 0.
 */
static int run_status(struct run *r)
{
	const struct report_exit *e = targets__command_exit(r->targets);
	const struct snapshot *last = r->plain.prev;

	if (r->opts.error_exitcode && e && last && snapshot__has_leaks(last))
		return (int)r->opts.error_exitcode;
	/* Not a command's run (-p, a discovery target): a leak suspect in the final report. */
	if (r->opts.error_exitcode && !e && r->plain.suspects)
		return (int)r->opts.error_exitcode;
	if (e && e->ended)
		return e->signal ? 128 + e->signal : e->code;
	return 0;
}

/* Frees everything r holds; probes first. Returns ret, or 1 when what was written fails now. */
static int run_close(struct run *r, int ret)
{
	/* Probes go first, so nothing of ours is left in a process that outlives us. */
	track__free(r->track);
	overhead__free(r->overhead);
	tracer__free(r->tracer);
	targets__free(r->targets);
	metrics_server__stop(r->metrics);
	/* What is still buffered is written at fclose, and some file systems fail only there. */
	if (r->out && r->out != stdout && r->out != stderr && fclose(r->out) && !ret) {
		log_error("cannot write the report to %s: %s", r->out_name, strerror(errno));
		ret = 1;
	}
	if (!ret && (r->out == stdout || r->opts.batch))
		ret = close_stdout(r->opts.batch ? "the frames" : "the report");
	plain_fini(&r->plain);
	reachscan__free(r->reach);
	collector__free(r->col);
	unwinder__free(r->unwinder);
	symbolizer__free(r->sym);
	procview__free(r->pv);
	suppressions__free(r->sup);
	options_free(&r->opts);
	return ret;
}

/*
 * Exit codes: 0 success, 1 runtime failure, 2 usage error or bad input; after a run that went
 * well, run_status()'s.
 */
int main(int argc, char **argv)
{
	static int (*const steps[])(struct run *) = {
		open_suppressions, open_targets, load, attach_all, open_outputs, start_pipeline,
		resume,
	};
	struct run r = { 0 };
	int ret, status;

	ret = parse(&r.opts, argc, argv);

	if (ret >= 0) {
		options_free(&r.opts);
		return ret;
	}
	log_set_level(r.opts.verbosity >= 2 ? LOG_DEBUG : r.opts.verbosity ? LOG_INFO : LOG_WARN);
	log_install_libbpf_printer();
	install_signals(&r.stops);
	if (r.opts.report)
		return run_close(&r, report_stored(&r));
	for (size_t i = 0; ret < 0 && i < sizeof(steps) / sizeof(steps[0]); i++)
		ret = steps[i](&r);
	if (ret < 0)
		ret = run_mode(&r);
	status = ret ? 0 : run_status(&r);
	ret = run_close(&r, ret);
	return ret ? ret : status;
}
