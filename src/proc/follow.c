/* follow.c: command mode: the command's process tree under ptrace, each new process and each exec
 * held until its probes are in place. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/array.h"
#include "base/clock.h"
#include "base/log.h"
#include "proc/follow.h"
#include "proc/launch.h"

/*
 * A process of the tree that has not exited. A new one is known from its parent's fork event or
 * from its own first stop, whichever waitpid() gives first: it may be scheduled only after its
 * parent has exited (or much later, born in a frozen cgroup), and until then it is a process of
 * the tree all the same, with the kernel's SIGSTOP pending, which stops it for good if it runs
 * after leaktop has gone.
 */
struct member {
	pid_t pid;
	pid_t ppid;		/* from its parent's fork event; 0 when not seen yet */
	bool started;		/* its first stop was seen: ops->on_new has run */
	/* At the end (follower__free): */
	bool stop_sent;		/* leaktop sent it a SIGSTOP to take it out of the run */
	bool stopped;		/* in a ptrace stop, with nothing of leaktop's pending */
};

struct follower {
	const struct follow_ops *ops;
	void *ctx;
	struct member *live;
	size_t nr_live, cap_live;
	/* Let go at their first stop, before their parent's fork event came: that event then names
	 * no new process. (A parent killed before telling it leaves a stale pid here: a process that
	 * gets that pid later counts from its first stop only.) */
	pid_t *left;
	size_t nr_left, cap_left;
	unsigned int nr_seen;
};

static struct member *find(struct follower *f, pid_t pid)
{
	for (size_t i = 0; i < f->nr_live; i++)
		if (f->live[i].pid == pid)
			return &f->live[i];
	return NULL;
}

/* pid in the tree (ppid: its parent, 0 unknown), not started. The member, or NULL (ENOMEM). */
static struct member *track(struct follower *f, pid_t pid, pid_t ppid)
{
	if (array_reserve(&f->live, &f->cap_live, f->nr_live, sizeof(*f->live), 16))
		return NULL;
	f->live[f->nr_live] = (struct member){ .pid = pid, .ppid = ppid };
	f->nr_seen++;
	return &f->live[f->nr_live++];
}

static void untrack(struct follower *f, pid_t pid)
{
	struct member *m = find(f, pid);

	if (m)
		*m = f->live[--f->nr_live];
}

/* Whether pid was let go before its parent's fork event came (forgotten now that it has). */
static bool was_left(struct follower *f, pid_t pid)
{
	for (size_t i = 0; i < f->nr_left; i++) {
		if (f->left[i] == pid) {
			f->left[i] = f->left[--f->nr_left];
			return true;
		}
	}
	return false;
}

/* The parent of pid, from /proc (the one that forked it: ptrace does not change it). */
static pid_t parent_of(pid_t pid)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	pid_t ppid = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fp = fopen(path, "r");
	if (!fp)
		return 0;
	while (getline(&line, &cap, fp) > 0)
		if (sscanf(line, "PPid: %d", &ppid) == 1)
			break;
	free(line);
	fclose(fp);
	return ppid;
}

static void resume(pid_t pid, int sig)
{
	if (ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig) && errno != ESRCH)
		log_debug("pid %d: cannot resume: %s", (int)pid, strerror(errno));
}

/*
 * One stop of a process of the tree. A process new to us is stopped at its start (the kernel
 * attached it when its parent forked): it runs once ops->on_new is done. An exec stop runs to the
 * point where the new image's libraries are mapped first. Other stops carry a signal for the
 * process: it goes on with it.
 */
static int on_stop(struct follower *f, pid_t pid, int status)
{
	int sig = WSTOPSIG(status), event = status >> 16, err;
	struct member *m = find(f, pid);
	unsigned long child;
	pid_t ppid;

	if (!m)
		m = track(f, pid, 0);
	if (!m)
		return -ENOMEM;
	if (!m->started) {
		m->started = true;
		/* Before its fork event, the parent is stopped at it: /proc names it still. */
		ppid = m->ppid ? m->ppid : parent_of(pid);
		err = f->ops->on_new(f->ctx, pid, ppid);
		if (err == FOLLOW_LEAVE) {
			if (!m->ppid) {
				if (array_reserve(&f->left, &f->cap_left, f->nr_left,
						  sizeof(*f->left), 8))
					return -ENOMEM;
				f->left[f->nr_left++] = pid;
			}
			untrack(f, pid);
			if (ptrace(PTRACE_DETACH, pid, NULL, NULL) && errno != ESRCH)
				log_debug("pid %d: cannot let go: %s", (int)pid, strerror(errno));
			return 0;
		}
		if (err)
			log_warn("pid %d runs untraced: %s", (int)pid, strerror(-err));
		resume(pid, sig == SIGSTOP || sig == SIGTRAP ? 0 : sig);
		return 0;
	}
	if (sig == SIGTRAP && event == PTRACE_EVENT_EXIT) {
		f->ops->on_exiting(f->ctx, pid);
		resume(pid, 0);
		return 0;
	}
	if (sig == SIGTRAP && event == PTRACE_EVENT_EXEC) {
		err = launch_run_to_start(pid);
		if (!err)
			err = f->ops->on_exec(f->ctx, pid);
		if (err)
			log_warn("pid %d runs its new image untraced: %s", (int)pid, strerror(-err));
		resume(pid, 0);
		return 0;
	}
	/* A fork or vfork: the child is in the tree from now on; ops see it at its first stop. */
	if (sig == SIGTRAP && (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK)) {
		if (!ptrace(PTRACE_GETEVENTMSG, pid, NULL, &child) && !was_left(f, (pid_t)child)) {
			m = find(f, (pid_t)child);
			if (!m && !track(f, (pid_t)child, pid))
				return -ENOMEM;
		}
		resume(pid, 0);
		return 0;
	}
	resume(pid, sig == SIGTRAP && event ? 0 : sig);
	return 0;
}

struct follower *follower__start(pid_t root, const struct follow_ops *ops, void *ctx)
{
	struct follower *f = calloc(1, sizeof(*f));
	long opts = PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC |
		    PTRACE_O_TRACEEXIT;
	struct member *m;

	if (!f)
		return NULL;
	f->ops = ops;
	f->ctx = ctx;
	/* Started: launch_stopped() had it run up to its libraries, and the caller has added it. */
	m = track(f, root, 0);
	if (m)
		m->started = true;
	if (!m || ptrace(PTRACE_SETOPTIONS, root, NULL, (void *)opts) ||
	    ptrace(PTRACE_CONT, root, NULL, NULL)) {
		int err = m ? errno : ENOMEM;

		free(f->live);
		free(f);
		errno = err;
		return NULL;
	}
	return f;
}

int follower__service(struct follower *f)
{
	for (;;) {
		int status, err;
		pid_t pid = waitpid(-1, &status, WNOHANG | __WALL);

		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0 && errno != ECHILD)
			return -errno;
		if (pid <= 0)
			break;
		if (WIFSTOPPED(status)) {
			err = on_stop(f, pid, status);
			if (err)
				return err;
			continue;
		}
		untrack(f, pid);
		f->ops->on_exit(f->ctx, pid, status);
	}
	return (int)f->nr_live;
}

unsigned int follower__nr_live(const struct follower *f)
{
	return (unsigned int)f->nr_live;
}

unsigned int follower__nr_seen(const struct follower *f)
{
	return f->nr_seen;
}

/* How long the end waits for the tree's processes to stop so that it lets each go cleanly. */
#define FOLLOW_END_WAIT_MS 2000

/*
 * One stop at the end: fork events add the child (it has the kernel's SIGSTOP pending until its
 * first stop), leaktop's SIGSTOP or a child's first stop leaves the process stopped and clean,
 * another stop goes on (its signal handed back) until leaktop's SIGSTOP arrives. -ENOMEM or 0.
 */
static int end_stop(struct follower *f, pid_t pid, int status)
{
	int sig = WSTOPSIG(status), event = status >> 16;
	struct member *m = find(f, pid);
	unsigned long child;

	if (!m && !(m = track(f, pid, 0)))
		return -ENOMEM;
	if (sig == SIGTRAP && (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK) &&
	    !ptrace(PTRACE_GETEVENTMSG, pid, NULL, &child) && !was_left(f, (pid_t)child) &&
	    !find(f, (pid_t)child) && !track(f, (pid_t)child, pid))
		return -ENOMEM;
	m = find(f, pid); /* track() may have moved the array */
	if (!m->started && sig == SIGSTOP && !event) {
		m->started = true; /* its first stop: the kernel's SIGSTOP is spent */
		m->stopped = !m->stop_sent;
		if (m->stopped)
			return 0;
	} else if (m->stop_sent && sig == SIGSTOP && !event) {
		m->stopped = true;
		return 0;
	}
	/* Any other stop goes on, with its signal if it is one of the process's own. */
	resume(pid, !event && sig != SIGTRAP && sig != SIGSTOP ? sig : 0);
	return 0;
}

/*
 * Stops every process of the tree within FOLLOW_END_WAIT_MS: those that run, and the children
 * not yet started (their first stop comes when they are first scheduled).
 */
static void stop_all(struct follower *f)
{
	uint64_t end = now_ns() + FOLLOW_END_WAIT_MS * 1000000ull;
	size_t waiting;
	int status;
	pid_t pid;

	for (;;) {
		waiting = 0;
		for (size_t i = 0; i < f->nr_live; i++) {
			struct member *m = &f->live[i];

			if (m->stopped)
				continue;
			waiting++;
			if (m->started && !m->stop_sent)
				m->stop_sent = !syscall(SYS_tgkill, m->pid, m->pid, SIGSTOP);
		}
		if (!waiting || now_ns() >= end)
			return;
		pid = waitpid(-1, &status, WNOHANG | __WALL);
		if (pid < 0 && errno != EINTR)
			return;
		if (pid == 0)
			usleep(1000);
		else if (pid > 0 && !WIFSTOPPED(status))
			untrack(f, pid);
		else if (pid > 0 && end_stop(f, pid, status))
			return;
	}
}

void follower__free(struct follower *f)
{
	if (!f)
		return;
	/*
	 * Each process of the tree is let go from a stop: first stopped (a thread-directed SIGSTOP,
	 * which ptrace takes before it could stop the process), with the fork events on the way
	 * read, so that no child is left with the SIGSTOP of its attach pending. One not stopped
	 * in time (asleep in the kernel, or never run: born in a frozen cgroup) gets a SIGCONT,
	 * which discards a pending stop signal (and, unhandled, does nothing); the kernel lets it go
	 * when leaktop exits.
	 */
	stop_all(f);
	for (size_t i = 0; i < f->nr_live; i++) {
		struct member *m = &f->live[i];

		if (!m->stopped || ptrace(PTRACE_DETACH, m->pid, NULL, NULL))
			kill(m->pid, SIGCONT);
	}
	free(f->live);
	free(f->left);
	free(f);
}
