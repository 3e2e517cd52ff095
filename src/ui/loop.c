/* loop.c: the one event loop of every mode: timed jobs, input, traced processes, stop signals. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "ui/loop.h"

int loop_target_open(struct loop_target *t, int pid, bool child)
{
	t->pid = pid;
	t->child = child;
	t->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	return t->pidfd < 0 ? -errno : 0;
}

void loop_target_close(struct loop_target *t)
{
	if (t->pidfd >= 0)
		close(t->pidfd);
	t->pidfd = -1;
}

/* Reaps the command leaktop started, and says how it ended when that was not a success. */
static void report_child(int pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return;
	if (WIFSIGNALED(status))
		log_warn("the command (pid %d) was killed by signal %d (%s)", pid, WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else if (WIFEXITED(status) && WEXITSTATUS(status))
		log_warn("the command (pid %d) exited with status %d", pid, WEXITSTATUS(status));
	else
		log_info("pid %d exited", pid);
}

/* Reaps the targets whose pidfd says they exited; returns how many are still alive. */
static size_t reap(struct loop_target *targets, size_t nr, const struct pollfd *pfds)
{
	size_t alive = 0;

	for (size_t i = 0; i < nr; i++) {
		if (targets[i].pidfd >= 0 && pfds && pfds[i].revents & (POLLIN | POLLHUP)) {
			if (targets[i].child)
				report_child(targets[i].pid);
			else
				log_info("pid %d exited", targets[i].pid);
			loop_target_close(&targets[i]);
		}
		alive += targets[i].pidfd >= 0;
	}
	return alive;
}

int loop_wait(struct loop_target *targets, size_t nr_targets, int input_fd, uint64_t wake_ns,
	      const volatile sig_atomic_t *stop, const sigset_t *stop_signals)
{
	struct pollfd *pfds = calloc(nr_targets + 1, sizeof(*pfds));
	sigset_t old;
	int ret = 0;

	if (!pfds)
		return -ENOMEM;
	if (stop_signals)
		sigprocmask(SIG_BLOCK, stop_signals, &old);
	while (!ret) {
		struct timespec ts, *tsp = NULL;
		uint64_t now = now_ns();
		size_t nfds = 0;
		int n;

		if (*stop)
			ret = LOOP_STOP;
		else if (!reap(targets, nr_targets, NULL))
			ret = LOOP_EXITED;
		else if (wake_ns && now >= wake_ns)
			ret = LOOP_TIMER;
		if (ret)
			break;
		if (wake_ns) {
			ts.tv_sec = (wake_ns - now) / 1000000000ULL;
			ts.tv_nsec = (wake_ns - now) % 1000000000ULL;
			tsp = &ts;
		}
		/* pfds[i] is targets[i]; poll skips the negative fds of targets gone already. */
		for (size_t i = 0; i < nr_targets; i++)
			pfds[nfds++] = (struct pollfd){ .fd = targets[i].pidfd, .events = POLLIN };
		if (input_fd >= 0)
			pfds[nfds++] = (struct pollfd){ .fd = input_fd, .events = POLLIN };
		/* Stop signals are unblocked only inside ppoll: one that came before is pending. */
		n = ppoll(pfds, nfds, tsp, stop_signals ? &old : NULL);
		if (n < 0 && errno != EINTR) {
			ret = -errno;
			break;
		}
		if (n < 0 && !*stop) {
			ret = LOOP_INTERRUPT;
			break;
		}
		if (n <= 0)
			continue;
		reap(targets, nr_targets, pfds);
		if (input_fd >= 0 && pfds[nr_targets].revents)
			ret = LOOP_INPUT;
	}
	if (stop_signals)
		sigprocmask(SIG_SETMASK, &old, NULL);
	free(pfds);
	return ret;
}

struct loop_job *loop_add(struct loop *l, int (*run)(void *ctx), void *ctx, uint64_t first_ns,
			  uint64_t period_ns)
{
	struct loop_job *j;

	if (l->nr_jobs == LOOP_MAX_JOBS)
		return NULL;
	j = &l->jobs[l->nr_jobs++];
	*j = (struct loop_job){ .run = run, .ctx = ctx, .period_ns = period_ns,
				.next_ns = first_ns };
	return j;
}

/* Runs the first job due at now, if any: 0 when none was, else what it returned (or 0). */
static int run_due(struct loop *l, uint64_t now, bool *ran)
{
	for (size_t i = 0; i < l->nr_jobs; i++) {
		struct loop_job *j = &l->jobs[i];
		int ret;

		if (!j->next_ns || now < j->next_ns)
			continue;
		ret = j->run(j->ctx);
		j->last_ns = now_ns();
		if (!j->period_ns) {
			j->next_ns = 0;
		} else {
			j->next_ns += j->period_ns;
			if (j->next_ns <= j->last_ns)
				j->next_ns = j->last_ns + j->period_ns;
		}
		*ran = true;
		return ret;
	}
	*ran = false;
	return 0;
}

/* The earliest of the end and the jobs' next runs; 0 when nothing is timed. */
static uint64_t next_wake(const struct loop *l)
{
	uint64_t wake = l->end_ns;

	for (size_t i = 0; i < l->nr_jobs; i++) {
		if (l->jobs[i].next_ns && (!wake || l->jobs[i].next_ns < wake))
			wake = l->jobs[i].next_ns;
	}
	return wake;
}

int loop_run(struct loop *l)
{
	for (;;) {
		uint64_t now = now_ns();
		bool ran;
		int ret;

		if (l->end_ns && now >= l->end_ns)
			return 0;
		ret = run_due(l, now, &ran);
		if (ret)
			return ret < 0 ? ret : 0;
		/* One job at a time: the end, a stop or another due job may have come meanwhile. */
		if (ran && !*l->stop)
			continue;
		ret = loop_wait(l->targets, l->nr_targets, l->input_fd, next_wake(l), l->stop,
				l->stop_signals);
		if (ret < 0) {
			log_error("cannot wait for events: %s", strerror(-ret));
			return ret;
		}
		if (ret == LOOP_STOP || ret == LOOP_EXITED)
			return 0;
		if ((ret == LOOP_INPUT || ret == LOOP_INTERRUPT) && l->on_input) {
			ret = l->on_input(l->input_ctx, ret);
			if (ret)
				return ret < 0 ? ret : 0;
		}
	}
}
