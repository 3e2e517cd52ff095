/* crash.c: a crash while the view holds the terminal restores the terminal and is reported. */
#include <errno.h>
#include <execinfo.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ui/crash.h"

/* Provided by the sanitizers' runtime when leaktop is built with them; absent otherwise. */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

static const struct {
	int sig;
	const char *name;	/* sigabbrev_np() is not documented as async-signal-safe */
} fatal_signals[] = { { SIGSEGV, "SIGSEGV" }, { SIGBUS, "SIGBUS" }, { SIGILL, "SIGILL" },
		      { SIGFPE, "SIGFPE" },   { SIGABRT, "SIGABRT" } };
#define NR_FATAL (sizeof(fatal_signals) / sizeof(fatal_signals[0]))
#define BACKTRACE_DEPTH 64
#define ALT_STACK_BYTES (64 * 1024)

/* Everything the handler reads, copied while arming: it may touch nothing that can change. */
static struct {
	volatile sig_atomic_t armed, restored;
	int tty_fd, stderr_fd, held_fd;
	struct termios tty;
	char reset[256];
	size_t reset_len;
	struct sigaction prev[NR_FATAL];
	stack_t prev_stack;
	void *alt_stack;
} crash;

static void put(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static void puts_fd(int fd, const char *s)
{
	put(fd, s, strlen(s));
}

/* A number without stdio. */
static void put_int(int fd, int v)
{
	char num[12];
	size_t i = sizeof(num);

	do {
		num[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 && i);
	put(fd, num + i, sizeof(num) - i);
}

/* Restores the terminal and stderr, once. Whether it did so now. */
static bool restore(void)
{
	char buf[4096];
	ssize_t n;

	if (!crash.armed || crash.restored)
		return false;
	crash.restored = 1;
	put(crash.tty_fd, crash.reset, crash.reset_len);
	tcsetattr(crash.tty_fd, TCSANOW, &crash.tty);
	if (crash.held_fd >= 0 && dup2(crash.stderr_fd, STDERR_FILENO) >= 0 &&
	    lseek(crash.held_fd, 0, SEEK_SET) == 0) {
		while ((n = read(crash.held_fd, buf, sizeof(buf))) > 0)
			put(STDERR_FILENO, buf, (size_t)n);
	}
	return true;
}

static int slot_of(int sig)
{
	for (size_t i = 0; i < NR_FATAL; i++)
		if (fatal_signals[i].sig == sig)
			return (int)i;
	return -1;
}

/* The handlers that were there before, for every fatal signal. */
static void put_back_handlers(void)
{
	for (size_t i = 0; i < NR_FATAL; i++)
		sigaction(fatal_signals[i].sig, &crash.prev[i], NULL);
}

static bool is_function(const struct sigaction *sa)
{
	if (sa->sa_flags & SA_SIGINFO)
		return sa->sa_sigaction != NULL;
	return sa->sa_handler != SIG_DFL && sa->sa_handler != SIG_IGN;
}

static void on_fatal_signal(int sig, siginfo_t *info, void *uctx)
{
	int slot = slot_of(sig);
	struct sigaction prev = slot >= 0 ? crash.prev[slot] : (struct sigaction){ 0 };
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	void *frames[BACKTRACE_DEPTH];
	sigset_t set;

	restore();
	puts_fd(STDERR_FILENO, "\nleaktop crashed on signal ");
	put_int(STDERR_FILENO, sig);
	puts_fd(STDERR_FILENO, " (");
	puts_fd(STDERR_FILENO, slot >= 0 ? fatal_signals[slot].name : "?");
	puts_fd(STDERR_FILENO, "); the terminal is restored.\n");
	/* A sanitizer's handler reports the stack itself, symbolized. */
	if (!is_function(&prev)) {
		puts_fd(STDERR_FILENO, "backtrace:\n");
		backtrace_symbols_fd(frames, backtrace(frames, BACKTRACE_DEPTH), STDERR_FILENO);
	}
	put_back_handlers();
	if (is_function(&prev)) {
		if (prev.sa_flags & SA_SIGINFO)
			prev.sa_sigaction(sig, info, uctx);
		else
			prev.sa_handler(sig);
	}
	/* The default action, as if no handler had been there: the usual status and core dump. */
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
}

/* A sanitizer's fatal report has gone to stderr (held back): it exits after this. */
static void on_sanitizer_death(void)
{
	if (restore())
		puts_fd(STDERR_FILENO, "\nleaktop crashed (the sanitizer's report is above); the "
				       "terminal is restored.\n");
}

/* An alternate stack, so that a stack overflow can still be reported; kept if one is set. */
static void use_alt_stack(void)
{
	stack_t st;

	if (sigaltstack(NULL, &crash.prev_stack) || !(crash.prev_stack.ss_flags & SS_DISABLE))
		return;
	crash.alt_stack = malloc(ALT_STACK_BYTES);
	if (!crash.alt_stack)
		return;
	st = (stack_t){ .ss_sp = crash.alt_stack, .ss_size = ALT_STACK_BYTES };
	if (sigaltstack(&st, NULL)) {
		free(crash.alt_stack);
		crash.alt_stack = NULL;
	}
}

int crash_arm(const struct crash_restore *r)
{
	struct sigaction sa = { .sa_sigaction = on_fatal_signal,
				.sa_flags = SA_SIGINFO | SA_ONSTACK };
	size_t len = r->reset ? strlen(r->reset) : 0;
	void *warm[1];

	if (crash.armed || len > sizeof(crash.reset))
		return -EINVAL;
	crash.tty_fd = r->tty_fd;
	crash.tty = *r->tty;
	memcpy(crash.reset, r->reset, len);
	crash.reset_len = len;
	crash.stderr_fd = r->stderr_fd;
	crash.held_fd = r->held_fd;
	crash.restored = 0;
	/* backtrace() loads libgcc on its first call: not in a signal handler. */
	backtrace(warm, 1);
	use_alt_stack();
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NR_FATAL; i++)
		sigaction(fatal_signals[i].sig, &sa, &crash.prev[i]);
	if (__sanitizer_set_death_callback)
		__sanitizer_set_death_callback(on_sanitizer_death);
	crash.armed = 1;
	return 0;
}

void crash_disarm(void)
{
	if (!crash.armed)
		return;
	crash.armed = 0;
	if (__sanitizer_set_death_callback)
		__sanitizer_set_death_callback(NULL);
	put_back_handlers();
	if (crash.alt_stack) {
		/* Only now that no handler of ours can run on it. */
		sigaltstack(&crash.prev_stack, NULL);
		free(crash.alt_stack);
		crash.alt_stack = NULL;
	}
}
