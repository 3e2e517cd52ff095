/* wl.h: the control protocol of every workload, so a test can attach before the allocations. */
/*
 * Without -w a workload runs its allocation phase at once, prints nothing and exits 0 (command
 * mode: its stdout may be leaktop's). With -w as the first argument (attach mode) it:
 *   1. prints "ready PID" and waits for a line on stdin   (the test attaches leaktop -p PID here)
 *   2. runs its allocation phase and prints "done"
 *   3. waits for another line (or EOF), prints "bye" and exits 0, still holding its leaks.
 * The protocol uses read(2)/write(2) only: stdio would malloc its buffers inside the traced window.
 */
#ifndef WL_H
#define WL_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int wl_wait_mode;

/* Writes one line to stdout without touching the heap. */
__attribute__((format(printf, 1, 2))) static void wl_say(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	for (int off = 0; off < n;) {
		ssize_t w = write(STDOUT_FILENO, line + off, n - off);

		if (w <= 0)
			return;
		off += w;
	}
}

/* Blocks until a whole line (or EOF) arrives on stdin. */
static void wl_wait_line(void)
{
	char c;

	while (read(STDIN_FILENO, &c, 1) == 1 && c != '\n')
		;
}

/* Consumes a leading -w; returns the new argc (argv stays NULL-terminated). */
static int wl_init(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "-w") == 0) {
		wl_wait_mode = 1;
		memmove(&argv[1], &argv[2], (size_t)(argc - 1) * sizeof(*argv));
		argc--;
	}
	return argc;
}

/* Before the allocation phase. */
static void wl_ready(void)
{
	if (!wl_wait_mode)
		return;
	wl_say("ready %d", (int)getpid());
	wl_wait_line();
}

/* After the allocation phase. */
static void wl_done(void)
{
	if (!wl_wait_mode)
		return;
	wl_say("done");
	wl_wait_line();
}

/* Last words before exit 0 (attach mode only). */
static void wl_bye(void)
{
	if (wl_wait_mode)
		wl_say("bye");
}

/* Keeps the compiler from proving a block unused: every workload writes into what it allocates. */
static void wl_touch(void *p, size_t n)
{
	if (p)
		memset(p, 0x5a, n);
}

/* The path of the file NAME in this executable's directory, in buf (len bytes). */
static void wl_beside_exe(char *buf, size_t len, const char *name)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	char *slash;

	if (n < 0)
		n = 0;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (slash)
		slash[1] = '\0';
	else
		buf[0] = '\0';
	strncat(buf, name, len - strlen(buf) - 1);
}

#endif /* WL_H */
