/* crash.h: a crash while the view holds the terminal restores the terminal and is reported. */
#ifndef LT_CRASH_H
#define LT_CRASH_H

#include <termios.h>

/* What a crash restores, as the view found it when it started. */
struct crash_restore {
	int tty_fd;		/* the terminal the view draws on */
	const struct termios *tty; /* its settings before the view */
	const char *reset;	/* bytes that undo the view's screen modes (rmcup, cnorm...) */
	int stderr_fd;		/* the real stderr while the view holds messages back; -1 */
	int held_fd;		/* the messages held back (read from offset 0); -1 */
};

/*
 * Until crash_disarm(): a fatal signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) or a sanitizer's
 * fatal report first restores the terminal (r's bytes, then its settings), puts stderr back and
 * writes the messages held back, then says that leaktop crashed, on which signal, with a
 * backtrace. Then the signal goes on as it would have: to the handler that was there before (a
 * sanitizer's, which reports and exits), else to the default action, raised again, so that the
 * exit status and the core dump are the usual ones. Everything the handler does is
 * async-signal-safe (write(2), no stdio, no allocation). r's strings are copied. 0 or -errno.
 *
 * The one process-wide state outside main.c: a signal handler can reach nothing else.
 */
int crash_arm(const struct crash_restore *r);

/* Puts the previous handlers back. Call before the terminal or stderr change again. */
void crash_disarm(void);

#endif
