/* freeze.h: a process's threads paused briefly (PTRACE_SEIZE + PTRACE_INTERRUPT), their registers
 * read, then let go as they were. */
#ifndef LT_FREEZE_H
#define LT_FREEZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

struct freeze_thread {
	pid_t tid;
	struct user_regs_struct regs;
	int signal; /* a signal it stopped with instead: handed back when it goes on */
};

struct freeze {
	pid_t pid;
	struct freeze_thread *threads; /* every thread, each stopped in a ptrace stop */
	size_t nr_threads;
};

/*
 * Seizes and stops every thread of pid, threads created meanwhile included, within
 * FREEZE_WAIT_MS, and reads their registers. Should leaktop die while they are stopped, however
 * it dies (SIGKILL too), the kernel lets them go on: a seized tracee is detached when its tracer
 * exits. A crash (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) on this thread lets them go at once,
 * from a handler installed until freeze__thaw(), which then hands the signal on. One freeze at a
 * time. NULL and errno: EPERM (another tracer, or no right to trace it), ESRCH (gone),
 * ETIMEDOUT (a thread did not stop in time: every thread is let go again), ENOMEM.
 */
#define FREEZE_WAIT_MS 2000
struct freeze *freeze__new(pid_t pid);

/* Lets every thread go on, each with the signal it had stopped with. NULL-safe; frees f. */
void freeze__thaw(struct freeze *f);

/* The registers of tid, a thread in a ptrace stop of ours. 0 or -errno. */
int freeze_regs(pid_t tid, struct user_regs_struct *regs);

/* The stack pointer in regs. */
static inline uint64_t freeze_sp(const struct user_regs_struct *regs)
{
	return regs->rsp;
}

#endif
