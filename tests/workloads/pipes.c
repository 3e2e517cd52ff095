/* pipes.c: the kernel allocates for pipes a process creates and keeps open, then closes. */
/*
 * Usage: pipes [-w] N
 * make_pipes() creates N pipes (pipe2): the kernel allocates a pipe_inode_info and its buffer
 * array (alloc_pipe_info), an inode, two files... for each. After "done" and a line, close_pipes()
 * closes them all, then "closed", a line, "bye".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

static int fds[4096][2];

static NOINLINE int make_pipes(int n)
{
	for (int i = 0; i < n; i++)
		if (pipe2(fds[i], O_CLOEXEC)) /* SITE:make_pipes */
			return -1;
	return 0;
}

static NOINLINE void close_pipes(int n)
{
	for (int i = 0; i < n; i++) {
		close(fds[i][0]);
		close(fds[i][1]);
	}
}

int main(int argc, char **argv)
{
	int n;

	argc = wl_init(argc, argv);
	n = argc > 1 ? atoi(argv[1]) : 100;
	if (n > 4096)
		n = 4096;
	wl_ready();
	if (make_pipes(n))
		return 1;
	wl_done();
	close_pipes(n);
	if (wl_wait_mode) {
		wl_say("closed");
		wl_wait_line();
	}
	wl_bye();
	return 0;
}
