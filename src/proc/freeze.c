/* freeze.c: a process's threads paused briefly (PTRACE_SEIZE + PTRACE_INTERRUPT), their registers
 * read, then let go as they were. */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/array.h"
#include "base/clock.h"
#include "base/log.h"
#include "proc/freeze.h"

#ifndef __x86_64__
#error "freeze.h reads x86-64 registers"
#endif

struct freezer {
	struct freeze *f;
	size_t cap;
};

/*
 * While threads are frozen, a crash of leaktop (on the thread that froze them: the scan's) lets
 * them go from the signal handler before the crash goes on, rather than when the kernel reaps
 * leaktop, which a sanitizer's report or a core dump may delay. The handler can reach nothing
 * else: this is the one state of the file.
 */
static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
#define NR_FATAL (sizeof(fatal_signals) / sizeof(fatal_signals[0]))
static struct {
	struct freeze *volatile frozen;
	struct sigaction prev[NR_FATAL];
} held;

static void on_fatal(int sig, siginfo_t *info, void *uctx)
{
	struct freeze *f = held.frozen;
	struct sigaction prev = {.sa_handler = SIG_DFL};

	held.frozen = NULL;
	for (size_t i = 0; f && i < f->nr_threads; i++)
		if (f->threads[i].tid)
			ptrace(PTRACE_DETACH, f->threads[i].tid, NULL,
			       (void *)(long)(f->threads[i].signal > 0 ? f->threads[i].signal : 0));
	for (size_t i = 0; i < NR_FATAL; i++) {
		if (fatal_signals[i] == sig)
			prev = held.prev[i];
		sigaction(fatal_signals[i], &held.prev[i], NULL);
	}
	/* The previous handler (a sanitizer's, the view's) or the default action, as if never here.
	 */
	if ((prev.sa_flags & SA_SIGINFO) && prev.sa_sigaction)
		prev.sa_sigaction(sig, info, uctx);
	else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN && prev.sa_handler)
		prev.sa_handler(sig);
	else if (sig == SIGABRT)
		raise(sig);
	/* else the faulting instruction runs again, under the default action */
}

static void hold(struct freeze *f)
{
	struct sigaction sa = {.sa_sigaction = on_fatal, .sa_flags = SA_SIGINFO | SA_ONSTACK};

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NR_FATAL; i++)
		sigaction(fatal_signals[i], &sa, &held.prev[i]);
	held.frozen = f;
}

static void unhold(void)
{
	if (!held.frozen)
		return;
	held.frozen = NULL;
	for (size_t i = 0; i < NR_FATAL; i++)
		sigaction(fatal_signals[i], &held.prev[i], NULL);
}

int freeze_regs(pid_t tid, struct user_regs_struct *regs)
{
	struct iovec iov = {.iov_base = regs, .iov_len = sizeof(*regs)};

	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &iov))
		return -errno;
	return 0;
}

static bool seized(const struct freeze *f, pid_t tid)
{
	for (size_t i = 0; i < f->nr_threads; i++)
		if (f->threads[i].tid == tid)
			return true;
	return false;
}

/* Whether thread tid of pid has exited (a zombie or dead): nothing to stop there. */
static bool is_zombie(pid_t pid, pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/* Seizes the threads of the process not seized yet. How many were new, or -errno. */
static int seize_new(struct freezer *z)
{
	struct freeze *f = z->f;
	char path[64];
	struct dirent *de;
	int added = 0, err = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)f->pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);

		if (tid <= 0 || seized(f, tid))
			continue;
		if (ptrace(PTRACE_SEIZE, tid, NULL, NULL)) {
			/* a thread that has just exited, or a leader that did (a zombie while the
			 * others run), is not an error: it runs no more */
			if (errno == ESRCH || (errno == EPERM && is_zombie(f->pid, tid)))
				continue;
			err = -errno;
			break;
		}
		if (array_reserve(&f->threads, &z->cap, f->nr_threads, sizeof(*f->threads), 16)) {
			ptrace(PTRACE_DETACH, tid, NULL, NULL);
			err = -ENOMEM;
			break;
		}
		f->threads[f->nr_threads++] = (struct freeze_thread){.tid = tid, .signal = -1};
		if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) && errno != ESRCH) {
			err = -errno;
			break;
		}
		added++;
	}
	closedir(d);
	return err ? err : added;
}

/* Waits for the seized threads' stops until end_ns. 0, -ETIMEDOUT or -errno. */
static int wait_stops(struct freeze *f, uint64_t end_ns)
{
	for (;;) {
		size_t waiting = 0;

		for (size_t i = 0; i < f->nr_threads; i++) {
			struct freeze_thread *t = &f->threads[i];
			int status, sig;
			pid_t r;

			if (t->signal >= 0)
				continue;
			r = waitpid(t->tid, &status, WNOHANG | __WALL);
			if (r < 0 && errno == ECHILD) {
				/* gone (exited): nothing to read, nothing to let go */
				t->signal = 0;
				t->tid = 0;
				continue;
			}
			if (r <= 0) {
				waiting++;
				continue;
			}
			if (!WIFSTOPPED(status)) {
				t->signal = 0;
				t->tid = 0;
				continue;
			}
			sig = WSTOPSIG(status);
			/* an event stop (our interrupt, or a group stop) holds no signal; a
			 * signal-delivery stop holds one the thread is to get when let go */
			t->signal = (status >> 16) ? 0 : sig;
		}
		if (!waiting)
			return 0;
		if (now_ns() >= end_ns)
			return -ETIMEDOUT;
		usleep(200);
	}
}

static void let_go(struct freeze *f)
{
	unhold();
	/*
	 * A thread seized but not stopped yet (asleep in the kernel) cannot be detached until its
	 * stop comes: wait for it a while longer, or the kernel lets it go when leaktop exits.
	 */
	if (wait_stops(f, now_ns() + 10 * FREEZE_WAIT_MS * 1000000ull))
		log_warn("pid %d: a thread did not stop: it stays seized until leaktop exits",
			 (int)f->pid);
	for (size_t i = 0; i < f->nr_threads; i++) {
		struct freeze_thread *t = &f->threads[i];

		if (t->tid)
			ptrace(PTRACE_DETACH, t->tid, NULL,
			       (void *)(long)(t->signal > 0 ? t->signal : 0));
	}
	free(f->threads);
	free(f);
}

struct freeze *freeze__new(pid_t pid)
{
	uint64_t end = now_ns() + FREEZE_WAIT_MS * 1000000ull;
	struct freezer z = {.f = calloc(1, sizeof(*z.f))};
	int err, n;

	if (!z.f)
		return NULL;
	z.f->pid = pid;
	/* Until a listing finds no new thread: a thread not yet stopped may create one. */
	do {
		n = seize_new(&z);
		err = n < 0 ? n : wait_stops(z.f, end);
	} while (!err && n > 0);
	if (!err && !z.f->nr_threads)
		err = -ESRCH;
	for (size_t i = 0; !err && i < z.f->nr_threads; i++) {
		struct freeze_thread *t = &z.f->threads[i];

		if (t->tid && freeze_regs(t->tid, &t->regs) && errno != ESRCH)
			err = -errno;
	}
	if (err) {
		let_go(z.f);
		errno = -err;
		return NULL;
	}
	hold(z.f);
	return z.f;
}

void freeze__thaw(struct freeze *f)
{
	if (f)
		let_go(f);
}
