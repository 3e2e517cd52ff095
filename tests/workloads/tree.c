/* tree.c: a three-level process tree (parent, child, grandchild), each leaking at its own site. */
/*
 * The parent allocates one block, forks the child and leaks; the child frees its inherited copy of
 * that block, forks the grandchild and leaks; the grandchild leaks. Each leaks only after its own
 * fork, so no process inherits another's leak. All three then hold their blocks until released;
 * then they exit in order (grandchild, child, parent), each parent reaping its child, all exit 0.
 * Figures while they hold (outstanding bytes / allocations per allocation-site function):
 *   parent:      tree_inherited         7000 / 1   malloc(7000) before the fork, kept
 *                tree_leak_parent      12000 / 3   malloc(4000) x3 after the fork
 *   child:       tree_free_inherited       -       free() of the child's copy of tree_inherited's
 *                                                  block: one free of a block the child never
 *                                                  allocated; the parent's 7000 / 1 stays
 *                tree_leak_child       10000 / 2   malloc(5000) x2 after forking the grandchild
 *   grandchild:  tree_leak_grandchild   6000 / 1   malloc(6000)
 * Sum over the tree: 35000 bytes in 7 allocations (the parent 19000 / 4). The children allocate
 * nothing else of their own between fork and leak (no stdio: pipes and read/write only).
 * With -w: "ready PID" and a line on stdin before the parent's first allocation (attach to the
 * parent there); once all three have leaked the parent prints "pids PARENT CHILD GRANDCHILD" then
 * "done"; the next line on stdin releases the tree, and the parent prints "bye" after reaping the
 * child. Without -w, the tree is released as soon as all three have leaked; nothing is printed.
 * TREE_SETTLE_MS=N in the environment: each descendant sleeps N ms after its fork before it does
 * anything (for -p, whose followed processes run untraced until their probes are in place).
 * Exit status: 0; 1 when a fork, a pipe or a descendant failed.
 */
#include <stdlib.h>
#include <sys/wait.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

static void *held[8];
static int nr_held;
static int report_fd = -1;  /* write end: each descendant sends its pid once it has leaked */
static int release_fd = -1; /* read end: EOF when the parent releases the tree */

static void hold(void *p, size_t n)
{
	wl_touch(p, n);
	held[nr_held++] = p;
}

NOINLINE static void *tree_inherited(void)
{
	void *p = malloc(7000); /* SITE:tree_inherited */

	wl_touch(p, 7000);
	return p;
}

NOINLINE static void tree_free_inherited(void *p)
{
	free(p); /* SITE:tree_free_inherited */
}

NOINLINE static void tree_leak_parent(void)
{
	for (int i = 0; i < 3; i++)
		hold(malloc(4000), 4000); /* SITE:tree_leak_parent */
}

NOINLINE static void tree_leak_child(void)
{
	for (int i = 0; i < 2; i++)
		hold(malloc(5000), 5000); /* SITE:tree_leak_child */
}

NOINLINE static void tree_leak_grandchild(void)
{
	hold(malloc(6000), 6000); /* SITE:tree_leak_grandchild */
}

/* A descendant: says it has leaked, then blocks until the release. */
static void report_and_hold(void)
{
	int pid = (int)getpid();
	char c;

	if (write(report_fd, &pid, sizeof(pid)) != (ssize_t)sizeof(pid))
		_exit(1);
	close(report_fd);
	while (read(release_fd, &c, 1) > 0)
		;
}

static int reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return 1;
	return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* TREE_SETTLE_MS: a descendant waits that long after its fork. */
static void settle(void)
{
	const char *ms = getenv("TREE_SETTLE_MS");

	if (ms)
		usleep((useconds_t)atoi(ms) * 1000);
}

static int run_grandchild(void)
{
	settle();
	tree_leak_grandchild();
	report_and_hold();
	return 0;
}

static int run_child(void *inherited)
{
	pid_t grandchild;

	settle();
	tree_free_inherited(inherited);
	grandchild = fork();
	if (grandchild < 0)
		return 1;
	if (grandchild == 0)
		_exit(run_grandchild());
	tree_leak_child();
	report_and_hold();
	return reap(grandchild);
}

int main(int argc, char **argv)
{
	int report[2], release[2], kids[2];
	void *inherited;
	pid_t child;

	wl_init(argc, argv);
	if (pipe(report) || pipe(release))
		return 1;
	wl_ready();

	inherited = tree_inherited();
	report_fd = report[1];
	release_fd = release[0];
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		close(report[0]);
		close(release[1]);
		_exit(run_child(inherited));
	}
	close(report[1]);
	close(release[0]);
	held[nr_held++] = inherited;
	tree_leak_parent();

	/* Both descendants have leaked once both pids have arrived. */
	for (size_t got = 0; got < sizeof(kids);) {
		ssize_t n = read(report[0], (char *)kids + got, sizeof(kids) - got);

		if (n <= 0)
			return 1;
		got += (size_t)n;
	}
	if (wl_wait_mode) {
		/* The child's pid is the one the parent forked; the other is the grandchild's. */
		wl_say("pids %d %d %d", (int)getpid(), (int)child,
		       kids[0] == child ? kids[1] : kids[0]);
		wl_done();
	}
	close(release[1]);
	if (reap(child))
		return 1;
	wl_bye();
	return 0;
}
