/* follow.h: command mode: the command's process tree under ptrace, each new process and each exec
 * held until its probes are in place. */
#ifndef LT_FOLLOW_H
#define LT_FOLLOW_H

#include <stdbool.h>
#include <sys/types.h>

/* What the caller does while a process is held. Each returns 0, or -errno (logged by the caller:
 * the process then runs on untraced). */
struct follow_ops {
	/* pid was forked (or vforked) by ppid, a process of the tree: put its probes in place.
	 * FOLLOW_LEAVE: not followed (--no-follow): it runs on, out of the tree. */
	int (*on_new)(void *ctx, pid_t pid, pid_t ppid);
	/* pid runs a new image, its libraries mapped: put the new image's probes in place. */
	int (*on_exec)(void *ctx, pid_t pid);
	/* pid is exiting, its memory still mapped: the last moment to read its mappings. */
	void (*on_exiting)(void *ctx, pid_t pid);
	/* pid left the tree: exited (status as waitpid(2) gives it). */
	void (*on_exit)(void *ctx, pid_t pid, int status);
};

/* What on_new returns for a process left out of the tree. */
#define FOLLOW_LEAVE 1

struct follower;

/*
 * Follows the tree of root, a child of ours that launch_stopped() left stopped under ptrace: its
 * forks, vforks and execs stop each process (a ptrace stop, which nothing but leaktop sees) until
 * ops have run, then it goes on. Starts root. Should leaktop die, the kernel lets every process go
 * on, untraced. NULL and errno on failure (root is then still stopped: launch_abort() it).
 */
struct follower *follower__start(pid_t root, const struct follow_ops *ops, void *ctx);

/*
 * Handles every stop and exit waiting, without blocking: new processes and execs (ops), signals
 * passed on as if nobody watched. Call it when SIGCHLD arrives (follower__signal_mask()). Returns
 * how many processes of the tree are still running, or -errno.
 */
int follower__service(struct follower *f);

/* The processes of the tree that have not exited, those forked and not yet run included. */
unsigned int follower__nr_live(const struct follower *f);

/* The processes the tree has had, root included. */
unsigned int follower__nr_seen(const struct follower *f);

/* Lets every process of the tree go on, untraced. NULL-safe. */
void follower__free(struct follower *f);

#endif
