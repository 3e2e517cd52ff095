/* main.c: wiring only: parse options, build the pieces, run the loop, report, clean up. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../bpf/leaktop.h"
#include "attach.h"
#include "collect.h"
#include "launch.h"
#include "log.h"
#include "options.h"
#include "output.h"
#include "symbolize.h"
#include "tracer.h"
#include "unwind_maps.h"

#define LEAKTOP_VERSION "0.1.0"
/* How often the unwind tables look for code mapped since (dlopen): a quick check of each process's
 * miss counter, and a full re-read of its mappings at most this often when nothing was missed. */
#define UNWIND_CHECK_NS 250000000ull
#define UNWIND_REREAD_NS 2000000000ull

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

struct target {
	int pid;
	int pidfd;	/* readable once the process has exited; -1 when gone */
	bool child;	/* started by us: reap it */
};

static int pidfd_open(int pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* What one report needs besides the snapshot. */
struct reporter {
	const struct options *opts;
	const struct output_format *fmt;
	struct collector *col;
	struct symbolizer *sym;
	struct unwinder *unwinder; /* NULL with --unwind fp */
	FILE *out;
	const int *pids;
	size_t nr_pids;
	uint64_t start_ns;
	uint64_t start_time_ns;	/* the same moment on the wall clock */
	struct snapshot *prev;	/* the previous report's snapshot (growth baseline) */
};

static int write_report(struct reporter *rp)
{
	struct snapshot *snap;
	struct report r;
	int err;

	snap = collector__read(rp->col, true, (uint64_t)(rp->opts->min_age_s * 1e9));
	if (!snap)
		return -errno;
	snap->duration_s = (snap->taken_ns - rp->start_ns) / 1e9;
	snapshot__set_growth(snap, rp->prev);
	snapshot__drop_empty(snap);
	snapshot__sort(snap, SORT_BYTES);

	err = report_build(&r, snap, rp->sym, rp->opts->top);
	if (!err) {
		r.version = LEAKTOP_VERSION;
		r.pids = rp->pids;
		r.nr_pids = rp->nr_pids;
		r.duration_s = snap->duration_s;
		r.sample_rate_bytes = rp->opts->sample_rate;
		r.start_time_ns = rp->start_time_ns;
		err = rp->fmt->write(&r, rp->out);
		fflush(rp->out);
		report_fini(&r);
	}
	snapshot__free(rp->prev);
	rp->prev = snap;
	return err;
}

/* Waits until a report is due, the duration ends, a signal comes, or every target has exited. */
static int wait_loop(struct reporter *rp, struct target *targets, size_t nr_targets)
{
	const struct options *opts = rp->opts;
	uint64_t end_ns = opts->duration_s > 0 ? rp->start_ns + opts->duration_s * 1e9 : 0;
	uint64_t next_report_ns = opts->interval_s > 0 ? rp->start_ns + opts->interval_s * 1e9 : 0;
	uint64_t next_unwind_ns = rp->unwinder ? rp->start_ns + UNWIND_CHECK_NS : 0;
	struct pollfd *pfds = calloc(nr_targets, sizeof(*pfds));
	int err = 0;

	if (!pfds)
		return -ENOMEM;
	while (!stop_signal) {
		uint64_t now = now_ns(), wake = end_ns;
		size_t alive = 0;
		int timeout_ms = -1, n;

		if (end_ns && now >= end_ns)
			break;
		if (next_report_ns && now >= next_report_ns) {
			err = write_report(rp);
			if (err)
				break;
			next_report_ns += opts->interval_s * 1e9;
			continue;
		}
		if (next_unwind_ns && now >= next_unwind_ns) {
			err = unwinder__refresh(rp->unwinder, UNWIND_REREAD_NS);
			if (err)
				break;
			next_unwind_ns = now + UNWIND_CHECK_NS;
			continue;
		}
		if (next_report_ns && (!wake || next_report_ns < wake))
			wake = next_report_ns;
		if (next_unwind_ns && (!wake || next_unwind_ns < wake))
			wake = next_unwind_ns;
		if (wake)
			timeout_ms = (int)((wake - now + 999999) / 1000000);

		for (size_t i = 0; i < nr_targets; i++) {
			pfds[i].fd = targets[i].pidfd;
			pfds[i].events = POLLIN;
			pfds[i].revents = 0;
			alive += targets[i].pidfd >= 0;
		}
		if (!alive)
			break;
		n = poll(pfds, nr_targets, timeout_ms);
		if (n < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		for (size_t i = 0; n > 0 && i < nr_targets; i++) {
			if (targets[i].pidfd < 0 || !(pfds[i].revents & (POLLIN | POLLHUP)))
				continue;
			log_info("pid %d exited", targets[i].pid);
			if (targets[i].child)
				waitpid(targets[i].pid, NULL, 0);
			close(targets[i].pidfd);
			targets[i].pidfd = -1;
		}
	}
	free(pfds);
	return err;
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
	struct target *targets = NULL;
	struct reporter rp = { 0 };
	size_t nr_targets = 0;
	pid_t stopped_child = 0; /* launched, not yet resumed: killed if we fail before resuming */
	int *pids = NULL;
	char err_msg[256];
	struct timespec wall;
	int err, ret = 1;

	if (options_parse(&opts, argc, argv, err_msg, sizeof(err_msg))) {
		fprintf(stderr, "leaktop: %s\nTry 'leaktop --help' for more information.\n", err_msg);
		return 2;
	}
	if (opts.help) {
		fputs(options_usage(), stdout);
		options_free(&opts);
		return 0;
	}
	if (opts.version) {
		printf("leaktop %s\n", LEAKTOP_VERSION);
		options_free(&opts);
		return 0;
	}
	log_set_level(opts.verbosity >= 2 ? LOG_DEBUG : opts.verbosity ? LOG_INFO : LOG_WARN);
	log_install_libbpf_printer();
	install_signals();

	rp.opts = &opts;
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
		targets[i].pid = opts.pids[i];
		targets[i].pidfd = pidfd_open(opts.pids[i]);
		if (targets[i].pidfd < 0) {
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
	};
	tracer = tracer__new(&topts);
	if (!tracer) {
		ret = errno == EPERM || errno == EACCES ? 2 : 1;
		goto out;
	}
	sym = symbolizer__new();
	col = collector__new(tracer);
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
		targets[0].pid = pid;
		targets[0].child = true;
		targets[0].pidfd = pidfd_open(pid);
	}

	aopts.no_probe_shift = opts.no_probe_shift;
	for (size_t i = 0; i < nr_targets; i++) {
		pids[i] = targets[i].pid;
		err = attach_process(tracer, targets[i].pid, &aopts);
		if (err < 0) {
			ret = err == -ENOENT || err == -ESRCH ? 2 : 1;
			if (err == -ESRCH)
				log_error("pid %d exited before it could be traced", targets[i].pid);
			goto out;
		}
		err = symbolizer__add_pid(sym, targets[i].pid);
		if (err && err != -ESRCH)
			log_warn("cannot read the mappings of pid %d: %s", targets[i].pid,
				 strerror(-err));
		err = unwinder ? unwinder__add_pid(unwinder, targets[i].pid) : 0;
		if (err && err != -ESRCH)
			log_warn("no unwind tables for pid %d (%s): its stacks follow frame pointers",
				 targets[i].pid, strerror(-err));
	}
	log_info("%u probes attached", tracer__nr_links(tracer));

	if (opts.output_path) {
		rp.out = fopen(opts.output_path, "w");
		if (!rp.out) {
			log_error("cannot open %s: %s", opts.output_path, strerror(errno));
			ret = 2;
			goto out;
		}
	} else {
		rp.out = stdout;
	}
	rp.col = col;
	rp.sym = sym;
	rp.unwinder = unwinder;
	rp.pids = pids;
	rp.nr_pids = nr_targets;
	rp.start_ns = now_ns();
	if (!clock_gettime(CLOCK_REALTIME, &wall))
		rp.start_time_ns = (uint64_t)wall.tv_sec * 1000000000ull + (uint64_t)wall.tv_nsec;
	rp.prev = snapshot__new();
	if (!rp.prev)
		goto out;
	rp.prev->taken_ns = rp.start_ns;

	if (opts.command) {
		err = launch_resume(targets[0].pid);
		if (err) {
			log_error("cannot start %s: %s", opts.command[0], strerror(-err));
			goto out;
		}
		stopped_child = 0;
	}

	err = wait_loop(&rp, targets, nr_targets);
	if (!err)
		err = write_report(&rp);
	ret = err ? 1 : 0;
out:
	/* Probes go first, so nothing of ours is left in a process that outlives us. */
	tracer__free(tracer);
	if (stopped_child > 0)
		launch_abort(stopped_child);
	for (size_t i = 0; targets && i < nr_targets; i++)
		if (targets[i].pidfd >= 0)
			close(targets[i].pidfd);
	if (rp.out && rp.out != stdout)
		fclose(rp.out);
	snapshot__free(rp.prev);
	collector__free(col);
	unwinder__free(unwinder);
	symbolizer__free(sym);
	free(targets);
	free(pids);
	options_free(&opts);
	return ret;
}
