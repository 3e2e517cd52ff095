/* main.c: wiring only: parse options, build the pieces, run the loop, report, clean up. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "base/clock.h"
#include "bpf/leaktop.h"
#include "trace/attach.h"
#include "trace/collect.h"
#include "proc/launch.h"
#include "ui/live.h"
#include "base/log.h"
#include "ui/loop.h"
#include "map_memory.h"
#include "options.h"
#include "output/output.h"
#include "ui/periodic.h"
#include "symbol/symbolize.h"
#include "trace/tracer.h"
#include "ui/tui.h"
#include "unwind/unwind_maps.h"

#define LEAKTOP_VERSION "0.1.0"

/* The only process-wide state: the signal that asks the loop to stop. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* The signals install_signals() turns into stop_signal. */
static void stop_signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
}

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

/* --metrics while the view or --batch runs: refreshed with every frame. */
static void refresh_metrics(void *ctx)
{
	int err = periodic_metrics(ctx);

	if (err)
		log_warn("cannot refresh the metrics: %s", strerror(-err));
}

/* The live view (view) or --batch, instead of the reports while tracing. */
static int run_live(struct periodic *rp, const struct options *opts, const struct tracer *tracer,
		    struct loop_target *targets, size_t nr_targets, bool view)
{
	struct live_opts lo = { .version = LEAKTOP_VERSION, .pids = rp->pids,
				.nr_pids = rp->nr_pids, .start_ns = rp->start_ns,
				.unwinder = rp->unwinder,
				.after_sample = rp->metrics ? refresh_metrics : NULL,
				.after_sample_ctx = rp,
				.min_age_ns = (uint64_t)(opts->min_age_s * 1e9),
				.window = HISTORY_WINDOW };
	struct live_run run = { .targets = targets, .nr_targets = nr_targets, .stop = &stop_signal,
				.interval_s = opts->interval_s > 0 ? opts->interval_s
								   : LIVE_DEFAULT_INTERVAL_S,
				.end_ns = opts->duration_s > 0 ? rp->start_ns + opts->duration_s * 1e9
							       : 0,
				.iterations = opts->iterations, .top = opts->top, .sym = rp->sym };
	struct live *live = live__new(rp->col, tracer, &lo);
	sigset_t stops;
	int err;

	if (!live)
		return -errno;
	stop_signal_set(&stops);
	run.stop_signals = &stops;
	if (view) {
		err = tui_run(live, &run);
	} else {
		err = output_error(stdout, live_run_batch(live, &run, stdout));
		if (err && ferror(stdout))
			log_error("cannot write the frames to standard output: %s", strerror(-err));
	}
	live__free(live);
	return err;
}

/* LEAKTOP_FAULT=thread_state: a fault the BPF programs make on purpose, for the tests. */
static uint32_t fault_from_env(void)
{
	const char *name = getenv("LEAKTOP_FAULT");

	if (!name || !*name)
		return LT_FAULT_NONE;
	if (!strcmp(name, "thread_state"))
		return LT_FAULT_THREAD_STATE;
	log_warn("LEAKTOP_FAULT=%s: no such fault, ignored", name);
	return LT_FAULT_NONE;
}

/* Exit codes: 0 success, 1 runtime failure, 2 usage error or bad input. */
int main(int argc, char **argv)
{
	struct options opts;
	struct tracer_opts topts;
	struct attach_opts aopts;
	struct tracer *tracer = NULL;
	struct symbolizer *sym = NULL;
	struct collector *col = NULL;
	struct unwinder *unwinder = NULL;
	struct loop_target *targets = NULL;
	struct periodic rp = { 0 };
	sigset_t stops;
	bool view;
	size_t nr_targets = 0;
	pid_t stopped_child = 0; /* launched, not yet resumed: killed if we fail before resuming */
	int *pids = NULL;
	char err_msg[256];
	int nr_cpus = libbpf_num_possible_cpus();
	struct timespec wall;
	int err, unwind_err, ret = 1;

	/* Map sizes the kernel would refuse, or that this machine cannot hold, are bad input; so is
	 * binary output to a terminal. */
	if (options_parse(&opts, argc, argv, err_msg, sizeof(err_msg)) ||
	    (!opts.help && !opts.version &&
	     (options_check_stdout(&opts, isatty(STDOUT_FILENO), err_msg, sizeof(err_msg)) ||
	      map_memory_check(&opts, machine_memory_bytes(),
			       (unsigned int)(nr_cpus > 0 ? nr_cpus : 1), err_msg,
			       sizeof(err_msg))))) {
		fprintf(stderr, "leaktop: %s\nTry 'leaktop --help' for more information.\n", err_msg);
		options_free(&opts);
		return 2;
	}
	if (opts.help || opts.version) {
		if (opts.help)
			fputs(options_usage(), stdout);
		else
			printf("leaktop %s\n", LEAKTOP_VERSION);
		options_free(&opts);
		return close_stdout(opts.help ? "the help" : "the version");
	}
	log_set_level(opts.verbosity >= 2 ? LOG_DEBUG : opts.verbosity ? LOG_INFO : LOG_WARN);
	log_install_libbpf_printer();
	install_signals();

	rp.opts = (struct periodic_opts){
		.duration_s = opts.duration_s,
		.interval_s = opts.interval_s,
		.min_age_s = opts.min_age_s,
		.top = opts.top,
		.sample_rate = opts.sample_rate,
		.record = opts.record,
		.record_dir = opts.record_dir,
		.keep = opts.keep,
	};
	rp.version = LEAKTOP_VERSION;
	rp.fmt = output_format_find(opts.format);
	nr_targets = opts.command ? 1 : opts.nr_pids;
	targets = calloc(nr_targets, sizeof(*targets));
	pids = calloc(nr_targets, sizeof(*pids));
	if (!targets || !pids)
		goto out;
	for (size_t i = 0; i < nr_targets; i++)
		targets[i].pidfd = -1;

	/* Check the pids before loading anything: a wrong pid is bad input, not a failure. */
	for (size_t i = 0; i < opts.nr_pids; i++) {
		if (loop_target_open(&targets[i], opts.pids[i], false)) {
			log_error("no process with pid %d", opts.pids[i]);
			ret = 2;
			goto out;
		}
	}

	topts = (struct tracer_opts){
		.max_allocs = opts.max_allocs,
		.max_stacks = opts.max_stacks,
		.min_size = opts.min_size,
		.max_size = opts.max_size,
		.sample_rate = opts.sample_rate,
		.no_session = opts.no_session,
		.empty_programs = opts.empty_programs,
		.unwind_mode = opts.unwind_mode,
		.unwind_rows = opts.unwind_rows,
		.fault = fault_from_env(),
	};
	tracer = tracer__new(&topts);
	if (!tracer) {
		ret = errno == EPERM || errno == EACCES ? 2 : 1;
		goto out;
	}
	sym = symbolizer__new();
	col = collector__new(tracer, opts.max_stacks);
	if (!sym || !col) {
		log_error("out of memory");
		goto out;
	}
	if (opts.unwind_mode != LT_UNWIND_FP) {
		unwinder = unwinder__new(tracer__unwind_rows_fd(tracer),
					 tracer__unwind_procs_fd(tracer), opts.unwind_rows);
		if (!unwinder) {
			log_error("cannot map the unwind row table: %s", strerror(errno));
			goto out;
		}
	}

	if (opts.command) {
		pid_t pid = launch_stopped(opts.command);

		if (pid < 0) {
			ret = pid == -ENOENT || pid == -EACCES || pid == -ENOEXEC ? 2 : 1;
			goto out;
		}
		stopped_child = pid;
		loop_target_open(&targets[0], pid, true);
	}

	aopts.no_probe_shift = opts.no_probe_shift;
	for (size_t i = 0; i < nr_targets; i++) {
		pids[i] = targets[i].pid;
		/* The tables first: a stack taken before them would follow frame pointers only. */
		unwind_err = unwinder ? unwinder__add_pid(unwinder, targets[i].pid) : 0;
		err = attach_process(tracer, targets[i].pid, &aopts);
		if (err < 0) {
			/* No such program, no allocator in it, or no permission: bad input. */
			ret = err == -ENOENT || err == -ESRCH || err == -EACCES || err == -EPERM ? 2 : 1;
			if (err == -ESRCH)
				log_error("pid %d exited before it could be traced", targets[i].pid);
			goto out;
		}
		if (unwind_err && unwind_err != -ESRCH)
			log_warn("no unwind tables for pid %d (%s): its stacks follow frame pointers",
				 targets[i].pid, strerror(-unwind_err));
		err = symbolizer__add_pid(sym, targets[i].pid);
		if (err && err != -ESRCH)
			log_warn("cannot read the mappings of pid %d: %s", targets[i].pid,
				 strerror(-err));
	}
	log_info("%u probes attached", tracer__nr_links(tracer));

	/* The view is for -p on a terminal; the final report then goes to stderr or -o PATH. */
	view = !opts.batch && !opts.record && !opts.format_given && !opts.command &&
	       isatty(STDOUT_FILENO);
	if (opts.metrics_listen) {
		rp.metrics = metrics_server__start(opts.metrics_listen, err_msg, sizeof(err_msg));
		if (!rp.metrics) {
			log_error("%s", err_msg);
			ret = errno == EINVAL ? 2 : 1;
			goto out;
		}
	}
	if (opts.record) {
		rp.out = NULL;
	} else if (opts.output_path) {
		rp.out = fopen(opts.output_path, "w");
		rp.out_name = opts.output_path;
		if (!rp.out) {
			log_error("cannot open %s: %s", opts.output_path, strerror(errno));
			ret = 2;
			goto out;
		}
	} else {
		rp.out = view ? stderr : opts.batch ? NULL : stdout;
		rp.out_name = view ? "standard error" : "standard output";
	}
	rp.col = col;
	rp.sym = sym;
	rp.unwinder = unwinder;
	rp.pids = pids;
	rp.nr_pids = nr_targets;
	rp.start_ns = now_ns();
	if (!clock_gettime(CLOCK_REALTIME, &wall))
		rp.start_time_ns = (uint64_t)wall.tv_sec * 1000000000ull + (uint64_t)wall.tv_nsec;
	if (periodic_init(&rp))
		goto out;

	if (opts.command) {
		err = launch_resume(targets[0].pid);
		if (err) {
			log_error("cannot start %s: %s", opts.command[0], strerror(-err));
			goto out;
		}
		stopped_child = 0;
	}

	stop_signal_set(&stops);
	if (view || opts.batch)
		err = run_live(&rp, &opts, tracer, targets, nr_targets, view);
	else
		err = periodic_run(&rp, targets, nr_targets, &stop_signal, &stops);
	/* The final report; record's last profile covers the interval SIGTERM cut short. */
	if (!err && (rp.out || opts.record))
		err = periodic_report(&rp);
	ret = err ? 1 : 0;
out:
	/* Probes go first, so nothing of ours is left in a process that outlives us. */
	tracer__free(tracer);
	if (stopped_child > 0)
		launch_abort(stopped_child);
	for (size_t i = 0; targets && i < nr_targets; i++)
		loop_target_close(&targets[i]);
	metrics_server__stop(rp.metrics);
	/* What is still buffered is written at fclose, and some file systems fail only there. */
	if (rp.out && rp.out != stdout && rp.out != stderr && fclose(rp.out) && !ret) {
		log_error("cannot write the report to %s: %s", rp.out_name, strerror(errno));
		ret = 1;
	}
	if (!ret && (rp.out == stdout || opts.batch))
		ret = close_stdout(opts.batch ? "the frames" : "the report");
	periodic_fini(&rp);
	collector__free(col);
	unwinder__free(unwinder);
	symbolizer__free(sym);
	free(targets);
	free(pids);
	options_free(&opts);
	return ret;
}
