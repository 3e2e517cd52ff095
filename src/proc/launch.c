/* launch.c: command mode: start COMMAND stopped before any of its code runs, so tracing sees it all. */
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

#include "proc/launch.h"
#include "proc/procview.h"
#include "proc/elf_file.h"
#include "base/log.h"
#include "proc/procmaps.h"
#include "proc/rdebug.h"

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

/*
 * Runs the stopped child until it executes the int3 planted at addr, which is then taken out
 * again (the original word restored, rip back at addr). Signals that arrive meanwhile are passed
 * on, as if nobody watched.
 */
static int run_to_breakpoint(pid_t pid, uint64_t addr)
{
	struct user_regs_struct regs;
	long orig, pending = 0;
	int sig = 0, err;

	errno = 0;
	orig = ptrace(PTRACE_PEEKTEXT, pid, (void *)addr, NULL);
	if (errno)
		return -errno;
	if (ptrace(PTRACE_POKETEXT, pid, (void *)addr, (void *)((orig & ~0xffL) | 0xcc)))
		return -errno;
	for (;; pending = sig) {
		if (ptrace(PTRACE_CONT, pid, NULL, (void *)pending))
			return -errno;
		err = wait_stop(pid, &sig);
		if (err)
			return err;
		if (sig != SIGTRAP)
			continue;
		if (ptrace(PTRACE_GETREGS, pid, NULL, &regs))
			return -errno;
		if (regs.rip == addr + 1)
			break;
		sig = 0; /* some other trap: not ours to pass on */
	}
	regs.rip = addr;
	if (ptrace(PTRACE_POKETEXT, pid, (void *)addr, (void *)orig) ||
	    ptrace(PTRACE_SETREGS, pid, NULL, &regs))
		return -errno;
	return 0;
}

/* Address of the dynamic linker's _dl_debug_state in pid, 0 when it cannot be found. */
static uint64_t dl_debug_state(pid_t pid, uint64_t ld_base)
{
	struct procmaps *pm = procmaps__read(pid);
	const struct procmap *m = NULL;
	struct elf_file *ef = NULL;
	struct elf_sym sym;
	uint64_t addr = 0;
	char *path;

	/* Its code mapping: the one loaded at ld_base (the dynamic linker maps offset = address). */
	for (size_t i = 0; pm && i < pm->nr_maps && !m; i++)
		if (pm->maps[i].start - pm->maps[i].file_offset == ld_base)
			m = &pm->maps[i];
	if (m && m->path[0] == '/' && (path = procview__path(pid, m))) {
		ef = elf_file__open(path);
		free(path);
	}
	/* The dynamic linker is linked at 0: its load base is its bias. */
	if (ef && !elf_file__find_func(ef, "_dl_debug_state", false, &sym))
		addr = ld_base + sym.vaddr;
	elf_file__free(ef);
	procmaps__free(pm);
	return addr;
}

/*
 * The dynamic linker calls _dl_debug_state (the debuggers' r_brk) with r_state RT_CONSISTENT once
 * it has mapped every library it loads at start-up, before it relocates them and runs their
 * constructors: the earliest point where the allocator's code is mapped. -ENOENT when it never
 * says so (then the entry point will do).
 */
static int run_to_libraries_mapped(pid_t pid, uint64_t brk)
{
	uint64_t r_debug;
	int sig, err;

	/* glibc says RT_ADD, then RT_CONSISTENT; a few more stops cover audit modules. */
	for (int hit = 0; hit < 16; hit++) {
		err = run_to_breakpoint(pid, brk);
		if (err)
			return err;
		err = rdebug_find(pid, &r_debug);
		log_debug("pid %d: dynamic linker stop %d: r_debug %s, state %d", pid, hit,
			  err ? strerror(-err) : "found", err ? -1 : rdebug_state(pid, r_debug));
		if (!err && rdebug_state(pid, r_debug) == RDEBUG_CONSISTENT)
			return 0;
		/* Step over the original instruction, then plant the breakpoint again. */
		if (ptrace(PTRACE_SINGLESTEP, pid, NULL, NULL))
			return -errno;
		err = wait_stop(pid, &sig);
		if (err)
			return err;
	}
	return -ENOENT;
}

/*
 * Runs the child from its exec to where tracing starts. A static binary is there already. A
 * dynamic one runs until its libraries are mapped, or else to its entry point (after library
 * constructors, which are then not seen).
 */
int launch_run_to_start(pid_t pid)
{
	uint64_t ld_base = rdebug_auxv(pid, AT_BASE), brk;
	int err;

	if (!ld_base)
		return 0;
	brk = dl_debug_state(pid, ld_base);
	log_debug("pid %d: dynamic linker at 0x%llx, _dl_debug_state at 0x%llx", pid,
		  (unsigned long long)ld_base, (unsigned long long)brk);
	if (brk) {
		err = run_to_libraries_mapped(pid, brk);
		if (err != -ENOENT)
			return err;
		log_warn("the dynamic linker never reported its libraries mapped: tracing starts at "
			 "the entry point");
	}
	return run_to_breakpoint(pid, rdebug_auxv(pid, AT_ENTRY));
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
		sigset_t none;

		close(pipefd[0]);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		/* The mask is inherited across exec: the command starts with none blocked. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
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
		err = launch_run_to_start(pid);
	if (err) {
		log_error("%s did not start: %s", argv[0], strerror(-err));
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
