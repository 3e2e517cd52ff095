/* follow.c: command mode: the command's process tree under ptrace, each new process and each exec
 * held until its probes are in place. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "base/array.h"
#include "base/log.h"
#include "proc/follow.h"
#include "proc/launch.h"

struct follower {
	const struct follow_ops *ops;
	void *ctx;
	pid_t *live;		/* the tree's processes that have not exited */
	size_t nr_live, cap_live;
	unsigned int nr_seen;
};

static int track(struct follower *f, pid_t pid)
{
	for (size_t i = 0; i < f->nr_live; i++)
		if (f->live[i] == pid)
			return 0;
	if (array_reserve(&f->live, &f->cap_live, f->nr_live, sizeof(*f->live), 16))
		return -ENOMEM;
	f->live[f->nr_live++] = pid;
	f->nr_seen++;
	return 1;
}

static void untrack(struct follower *f, pid_t pid)
{
	for (size_t i = 0; i < f->nr_live; i++) {
		if (f->live[i] == pid) {
			f->live[i] = f->live[--f->nr_live];
			return;
		}
	}
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
	int sig = WSTOPSIG(status), event = status >> 16, err, fresh = track(f, pid);

	if (fresh < 0)
		return fresh;
	if (fresh) {
		err = f->ops->on_new(f->ctx, pid, parent_of(pid));
		if (err == FOLLOW_LEAVE) {
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
	/* A fork or vfork: the child is reported on its own, at its first stop. */
	if (sig == SIGTRAP && (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK)) {
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

	if (!f)
		return NULL;
	f->ops = ops;
	f->ctx = ctx;
	if (track(f, root) < 0 || ptrace(PTRACE_SETOPTIONS, root, NULL, (void *)opts) ||
	    ptrace(PTRACE_CONT, root, NULL, NULL)) {
		int err = errno ? errno : ENOMEM;

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

void follower__free(struct follower *f)
{
	if (!f)
		return;
	/* One in a ptrace stop goes on now; the kernel lets the others go when leaktop exits. */
	for (size_t i = 0; i < f->nr_live; i++)
		ptrace(PTRACE_DETACH, f->live[i], NULL, NULL);
	free(f->live);
	free(f);
}
