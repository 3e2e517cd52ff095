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
#include "proc/follow.h"
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
	bool command_exited;
	struct follower *follower;
	int sigchld_fd;		/* SIGCHLD, while the follower holds the command's tree */
};

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

struct targets *targets__new(const struct options *opts)
{
	struct targets *t;
	sigset_t chld;

	if (!opts->command && !any_alive(opts)) {
		errno = ESRCH;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->opts = opts;
	t->sigchld_fd = -1;
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
	procview__image(((struct targets *)ctx)->pv, pid, 0);
}

/* Says how the command ended when that was not a success. */
static void on_gone(void *ctx, pid_t pid, int status)
{
	struct targets *t = ctx;

	procset__exited(t->ps, pid);
	if (pid != t->command)
		return;
	t->command_exited = true;
	if (WIFSIGNALED(status))
		log_warn("the command (pid %d) was killed by signal %d (%s)", pid, WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else if (WIFEXITED(status) && WEXITSTATUS(status))
		log_warn("the command (pid %d) exited with status %d", pid, WEXITSTATUS(status));
	else
		log_info("the command (pid %d) exited", pid);
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

static bool alive(void *ctx)
{
	const struct targets *t = ctx;

	/* The command's tree ends when ptrace has seen each of its processes go (and reaped it). */
	if (t->follower)
		return follower__nr_live(t->follower) > 0;
	return procset__nr_alive(t->ps) > 0;
}

int targets__watch(struct targets *t, struct loop *l)
{
	int err = loop_add_source(l, procset__fd(t->ps), on_events, t);

	if (!err && t->follower)
		err = loop_add_source(l, t->sigchld_fd, on_sigchld, t);
	l->alive = alive;
	l->alive_ctx = t;
	return err;
}

struct procset *targets__procs(const struct targets *t)
{
	return t->ps;
}

void targets__free(struct targets *t)
{
	if (!t)
		return;
	if (t->command && !t->resumed)
		launch_abort(t->command);
	else if (t->command && !t->command_exited)
		log_warn("the command (pid %d) goes on running, no longer traced", t->command);
	follower__free(t->follower);
	procset__free(t->ps);
	if (t->sigchld_fd >= 0)
		close(t->sigchld_fd);
	free(t);
}
