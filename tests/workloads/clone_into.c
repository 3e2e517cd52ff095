/* clone_into.c: forks a child into a cgroup v2 group and exits at once, not waiting for it. */
/*
 * Usage: clone_into GROUP_DIR (a group's directory in the cgroup2 mount). The child is born in
 * that group (clone3 with CLONE_INTO_CGROUP): when the group is frozen (cgroup.freeze), the child
 * runs its first instruction only once it is thawed, however long after its parent has exited.
 * The parent prints "child PID" and exits 0 (1 when the group cannot be opened or the clone
 * fails); it allocates nothing itself.
 * The child leaks, then exits 0. Figures at its exit (outstanding bytes / allocations):
 *   clone_into_leak   8000 / 2   malloc(4000) x2
 */
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

static void *held[2];

NOINLINE static void clone_into_leak(void)
{
	for (int i = 0; i < 2; i++) {
		held[i] = malloc(4000); /* SITE:clone_into_leak */
		wl_touch(held[i], 4000);
	}
}

int main(int argc, char **argv)
{
	struct clone_args args = { .flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD };
	long pid;
	int fd;

	if (argc != 2)
		return 1;
	fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	args.cgroup = (uint64_t)fd;
	/* Single-threaded and outside malloc: the raw clone leaves the child's heap consistent. */
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0)
		return 1;
	if (pid == 0) {
		clone_into_leak();
		return 0;
	}
	wl_say("child %ld", pid);
	return 0;
}
