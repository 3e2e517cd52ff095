/* launch.c: command mode: start COMMAND stopped at its entry point, so tracing sees its first step. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch.h"
#include "log.h"

static uint64_t auxv_entry(pid_t pid)
{
	char path[64];
	Elf64_auxv_t av;
	uint64_t entry = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	while (read(fd, &av, sizeof(av)) == sizeof(av) && av.a_type != AT_NULL)
		if (av.a_type == AT_ENTRY)
			entry = av.a_un.a_val;
	close(fd);
	return entry;
}

/* Waits for the next stop of the child; -ECHILD when it exited or was killed instead. */
static int wait_stop(pid_t pid, int *sig)
{
	int status;

	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (!WIFSTOPPED(status))
		return -ECHILD;
	*sig = WSTOPSIG(status);
	return 0;
}

/* Runs the stopped child up to its entry point with a one-shot breakpoint there. */
static int run_to_entry(pid_t pid)
{
	struct user_regs_struct regs;
	uint64_t entry = auxv_entry(pid);
	long orig;
	int sig = 0, err;

	if (!entry)
		return -ENOENT;
	errno = 0;
	orig = ptrace(PTRACE_PEEKTEXT, pid, (void *)entry, NULL);
	if (errno)
		return -errno;
	if (ptrace(PTRACE_POKETEXT, pid, (void *)entry, (void *)((orig & ~0xffL) | 0xcc)))
		return -errno;
	/* Signals that arrive before the entry point are passed on, as if nobody watched. */
	for (long pending = 0;; pending = sig) {
		if (ptrace(PTRACE_CONT, pid, NULL, (void *)pending))
			return -errno;
		err = wait_stop(pid, &sig);
		if (err)
			return err;
		if (sig == SIGTRAP)
			break;
	}
	if (ptrace(PTRACE_GETREGS, pid, NULL, &regs))
		return -errno;
	if (regs.rip != entry + 1)
		return -EPROTO;
	regs.rip = entry;
	if (ptrace(PTRACE_POKETEXT, pid, (void *)entry, (void *)orig) ||
	    ptrace(PTRACE_SETREGS, pid, NULL, &regs))
		return -errno;
	return 0;
}

pid_t launch_stopped(char *const argv[])
{
	int pipefd[2], child_errno = 0, sig = 0, err;
	pid_t pid;
	ssize_t n;

	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return err;
	}
	if (pid == 0) {
		close(pipefd[0]);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0)
			execvp(argv[0], argv);
		child_errno = errno;
		if (write(pipefd[1], &child_errno, sizeof(child_errno)) < 0)
			_exit(127);
		_exit(127);
	}
	close(pipefd[1]);
	/* The pipe closes on a successful exec (O_CLOEXEC); otherwise it carries the errno. */
	n = read(pipefd[0], &child_errno, sizeof(child_errno));
	close(pipefd[0]);
	if (n == sizeof(child_errno)) {
		waitpid(pid, NULL, 0);
		log_error("cannot execute %s: %s", argv[0], strerror(child_errno));
		return -child_errno;
	}
	/* The exec stops the child with SIGTRAP. */
	err = wait_stop(pid, &sig);
	if (!err)
		err = run_to_entry(pid);
	if (err) {
		log_error("%s did not reach its entry point: %s", argv[0], strerror(-err));
		launch_abort(pid);
		return err;
	}
	return pid;
}

int launch_resume(pid_t pid)
{
	return ptrace(PTRACE_DETACH, pid, NULL, NULL) ? -errno : 0;
}

void launch_abort(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}
