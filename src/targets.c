/* targets.c: what a run traces: the pids given or the command started, and what they fork and exec. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/yield.h"
#include "output/output.h"
#include "proc/follow.h"
#include "proc/discover.h"
#include "proc/launch.h"
#include "proc/procinfo.h"
#include "proc/procview.h"
#include "targets.h"

struct targets {
	const struct options *opts;
	struct procset *ps;
	struct procview *pv;
	pid_t command;		/* the command's pid; 0 for -p */
	bool resumed;		/* the command runs */
	struct report_exit command_exit;	/* ended: the command has exited */
	struct follower *follower;
	int sigchld_fd;		/* SIGCHLD, while the follower holds the command's tree */
	struct discover *discover;	/* --cgroup, --unit, --comm: the processes they name */
	bool waiting;		/* discovery has found nothing yet (said once) */
	struct reachscan *reach;	/* scans each process of the command at its exit */
};

/* How often --cgroup, --unit and --comm look for new processes. */
#define DISCOVER_PERIOD_NS 500000000ull
/* How long long work on the loop may keep a fork's probes waiting (base/yield.h). */
#define TARGETS_URGENT_NS 2000000ull

/* Whether any pid given is alive; names those that are not (skipped). */
static bool any_alive(const struct options *o)
{
	size_t alive = 0;

	for (size_t i = 0; i < o->nr_pids; i++) {
		if (procinfo_alive(o->pids[i]))
			alive++;
		else if (o->nr_pids > 1)
			log_warn("pid %d skipped: %s", o->pids[i],
				 kill(o->pids[i], 0) && errno == ESRCH ? "no such process"
								       : "a zombie");
	}
	if (!alive && o->nr_pids == 1)
		log_error("no process with pid %d", o->pids[0]);
	else if (!alive)
		log_error("none of the %zu pids given is a live process", o->nr_pids);
	return alive;
}

/* The discovery --cgroup, --unit or --comm asks for; NULL and errno (EINVAL: bad input, logged). */
static struct discover *open_discover(const struct options *o)
{
	struct discover_target dt = {
		.kind = o->cgroup ? DISCOVER_CGROUP : o->unit ? DISCOVER_UNIT : DISCOVER_COMM,
		.arg = o->cgroup ? o->cgroup : o->unit ? o->unit : o->comm,
	};
	char err[256] = "";
	struct discover *d = discover__new(&dt, err, sizeof(err));

	if (!d) {
		int errnum = errno;

		log_error("%s", err[0] ? err : strerror(errnum));
		errno = errnum;
	}
	return d;
}

struct targets *targets__new(const struct options *opts)
{
	bool discovering = opts->cgroup || opts->unit || opts->comm;
	struct targets *t;
	sigset_t chld;

	if (!opts->command && !discovering && !opts->all && !any_alive(opts)) {
		errno = ESRCH;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->opts = opts;
	t->sigchld_fd = -1;
	if (discovering) {
		t->discover = open_discover(opts);
		if (!t->discover) {
			int errnum = errno;

			free(t);
			errno = errnum;
			return NULL;
		}
	}
	if (opts->command) {
		/* Blocked before any thread starts, so that only the signalfd takes it. */
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		sigprocmask(SIG_BLOCK, &chld, NULL);
		t->sigchld_fd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
		if (t->sigchld_fd < 0) {
			free(t);
			return NULL;
		}
	}
	return t;
}

/* Bad input (2), a process that cannot be traced; else a failure (1). */
static int exit_code(int err)
{
	return err == -ENOENT || err == -ESRCH || err == -EACCES || err == -EPERM ? 2 : 1;
}

/*
 * Traces the processes discovery finds that it has not found before. Those that exit or cannot be
 * traced are named and skipped: a service's processes come and go. 0, or -errno on a failure.
 */
static int discover_new(struct targets *t)
{
	const pid_t *pids;
	size_t nr;
	int err = discover__poll(t->discover, &pids, &nr);

	if (err) {
		log_error("cannot list the processes of %s: %s", discover__describe(t->discover),
			  strerror(-err));
		return err;
	}
	for (size_t i = 0; i < nr; i++) {
		err = procset__add(t->ps, pids[i], 0, 0);
		if (err == -ESRCH)
			log_info("pid %d exited before it could be traced", pids[i]);
		else if (err && exit_code(err) == 1)
			return err;
	}
	if (!nr && !t->waiting && !procset__nr(t->ps))
		log_warn("nothing to trace yet (%s); waiting for a process",
			 discover__describe(t->discover));
	t->waiting = !procset__nr(t->ps);
	return 0;
}

int targets__start(struct targets *t, const struct procset_opts *o)
{
	size_t traced = 0;
	int err = 0;

	t->pv = o->pv;
	t->ps = procset__new(o);
	if (!t->ps) {
		log_error("cannot read the traced processes' events: %s", strerror(errno));
		return 1;
	}
	if (t->opts->command) {
		pid_t pid = launch_stopped(t->opts->command);

		if (pid < 0)
			return exit_code(pid);
		t->command = pid;
		err = procset__add(t->ps, pid, 0, 0);
		return err ? exit_code(err) : -1;
	}
	if (t->discover)
		return discover_new(t) ? 1 : -1;
	/* -a: the track programs see every process; there is none to add */
	if (t->opts->all)
		return -1;
	for (size_t i = 0; i < t->opts->nr_pids; i++) {
		int pid = t->opts->pids[i];

		err = procset__add(t->ps, pid, 0, 0);
		if (err == -ESRCH)
			log_warn("pid %d exited before it could be traced", pid);
		else if (err && exit_code(err) == 1)
			return 1;
		traced += !err;
	}
	/* Only a list with nothing traceable in it is bad input. */
	return traced ? -1 : 2;
}

static int on_new(void *ctx, pid_t pid, pid_t ppid)
{
	struct targets *t = ctx;

	if (t->opts->no_follow)
		return FOLLOW_LEAVE;
	return procset__add(t->ps, pid, ppid, now_ns());
}

static int on_exec(void *ctx, pid_t pid)
{
	return procset__exec_ready(((struct targets *)ctx)->ps, pid);
}

/* A library mapped just before the exit is in the mappings still: read them one last time. */
static void on_exiting(void *ctx, pid_t pid)
{
	struct targets *t = ctx;

	procview__image(t->pv, pid, 0);
	/* A failure is logged; the report then has no split for the process. */
	if (t->reach)
		reachscan__run(t->reach, pid, REACHSCAN_STOPPED);
}

/* Keeps how the command ended for the reports and the exit status; says so when it failed. */
static void on_gone(void *ctx, pid_t pid, int status)
{
	struct targets *t = ctx;
	struct report_exit *e = &t->command_exit;
	char how[128];

	procset__exited(t->ps, pid);
	if (pid != t->command)
		return;
	e->ended = true;
	e->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	e->code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
	log_msg(e->signal || e->code ? LOG_WARN : LOG_INFO, "the command %s (pid %d) %s",
		t->opts->command[0], pid, output_command_exit(e, how, sizeof(how)));
}

static const struct follow_ops follow_ops = {
	.on_new = on_new, .on_exec = on_exec, .on_exiting = on_exiting, .on_exit = on_gone,
};

int targets__resume(struct targets *t)
{
	if (!t->command)
		return -1;
	t->follower = follower__start(t->command, &follow_ops, t);
	if (!t->follower) {
		log_error("cannot start %s: %s", t->opts->command[0], strerror(errno));
		return 1;
	}
	t->resumed = true;
	return -1;
}

static int on_events(void *ctx)
{
	return procset__service(((struct targets *)ctx)->ps);
}

/* SIGCHLD: the tree's stops and exits. */
static int on_sigchld(void *ctx)
{
	struct targets *t = ctx;
	struct signalfd_siginfo si;
	int n;

	while (read(t->sigchld_fd, &si, sizeof(si)) == sizeof(si))
		;
	n = follower__service(t->follower);
	if (n < 0) {
		log_error("cannot follow the command's processes: %s", strerror(-n));
		return n;
	}
	return procset__service(t->ps);
}

/* Discovery's poll, as a job. */
static int on_discover(void *ctx)
{
	return discover_new(ctx);
}

static bool alive(void *ctx)
{
	const struct targets *t = ctx;

	/* What discovery names may start at any time: the run ends with -d or a signal. */
	if (t->discover || t->opts->all)
		return true;
	/* The command's tree ends when ptrace has seen each of its processes go (and reaped it). */
	if (t->follower)
		return follower__nr_live(t->follower) > 0;
	return procset__nr_alive(t->ps) > 0;
}

/* From inside long work on the loop: the probes of processes just forked (procset__urgent()). */
static void urgent(void *ctx)
{
	procset__urgent(ctx);
}

int targets__watch(struct targets *t, struct loop *l)
{
	int err = loop_add_source(l, procset__fd(t->ps), on_events, t);

	yield_set(urgent, t->ps, TARGETS_URGENT_NS);
	if (!err && t->follower)
		err = loop_add_source(l, t->sigchld_fd, on_sigchld, t);
	if (!err && t->discover &&
	    !loop_add(l, on_discover, t, now_ns() + DISCOVER_PERIOD_NS, DISCOVER_PERIOD_NS))
		err = -ENOSPC;
	l->alive = alive;
	l->alive_ctx = t;
	return err;
}

const struct report_exit *targets__command_exit(const struct targets *t)
{
	return t->command ? &t->command_exit : NULL;
}

struct procset *targets__procs(const struct targets *t)
{
	return t->ps;
}

void targets__scan_at_exit(struct targets *t, struct reachscan *rs)
{
	t->reach = rs;
}

void targets__free(struct targets *t)
{
	if (!t)
		return;
	if (t->command && !t->resumed)
		launch_abort(t->command);
	else if (t->command && !t->command_exit.ended)
		log_warn("the command (pid %d) goes on running, no longer traced", t->command);
	follower__free(t->follower);
	discover__free(t->discover);
	yield_set(NULL, NULL, 0);
	procset__free(t->ps);
	if (t->sigchld_fd >= 0)
		close(t->sigchld_fd);
	free(t);
}
