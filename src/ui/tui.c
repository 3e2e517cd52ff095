/* tui.c: the live top-style view on a terminal (ncurses): the screen's life and its loop. */
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "ui/crash.h"
#include "ui/tui.h"
#include "ui/tui_internal.h"

/* Wake-ups for input that yield no key before stdin is taken for gone (a hung-up terminal). */
#define MAX_IDLE_INPUT 64

/* --- stderr held back while the screen is ours */

static void hold_stderr(struct tui *t)
{
	int held, saved;

	if (!isatty(STDERR_FILENO))
		return;
	held = memfd_create("leaktop-stderr", MFD_CLOEXEC);
	if (held < 0)
		return;
	fflush(stderr);
	saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (saved < 0 || dup2(held, STDERR_FILENO) < 0) {
		if (saved >= 0)
			close(saved);
		close(held);
		return;
	}
	t->saved_stderr = saved;
	t->held_stderr = held;
}

static void release_stderr(struct tui *t)
{
	char buf[4096];
	ssize_t n;

	if (t->held_stderr < 0)
		return;
	fflush(stderr);
	dup2(t->saved_stderr, STDERR_FILENO);
	close(t->saved_stderr);
	if (lseek(t->held_stderr, 0, SEEK_SET) == 0) {
		while ((n = read(t->held_stderr, buf, sizeof(buf))) > 0) {
			if (write(STDERR_FILENO, buf, (size_t)n) != n)
				break;
		}
	}
	close(t->held_stderr);
	t->saved_stderr = t->held_stderr = -1;
}

/* --- a crash while the screen is ours (see crash.h) */

/* Appends terminfo capability cap of the view's terminal to buf (len bytes). */
static void add_cap(char *buf, size_t len, const char *cap)
{
	const char *s = tigetstr(cap);

	if (s && s != (const char *)-1 && strlen(buf) + strlen(s) < len)
		strcat(buf, s);
}

/* What endwin() would undo, for a crash that cannot call it: attributes, cursor, keypad, screen. */
static void arm_crash(struct tui *t, const struct termios *tty)
{
	struct crash_restore r = { .tty_fd = STDOUT_FILENO, .tty = tty,
				   .stderr_fd = t->saved_stderr, .held_fd = t->held_stderr };
	char reset[256] = "";

	add_cap(reset, sizeof(reset), "sgr0");
	add_cap(reset, sizeof(reset), "cnorm");
	add_cap(reset, sizeof(reset), "rmkx");
	add_cap(reset, sizeof(reset), "rmcup");
	r.reset = reset;
	if (crash_arm(&r))
		log_debug("no crash handler for the view");
}

/* --- the screen's life */

static int start(struct tui *t)
{
	const char *term = getenv("TERM");
	struct termios tty;
	bool have_tty = !tcgetattr(STDOUT_FILENO, &tty);

	/* Names may be UTF-8; numbers stay in the C locale's format. */
	setlocale(LC_CTYPE, "");
	t->scr = newterm(NULL, stdout, stdin);
	if (!t->scr) {
		log_error("cannot start the live view on terminal type '%s' "
			  "(--batch shows the same frames as text)",
			  term ? term : "");
		return -ENOTTY;
	}
	hold_stderr(t);
	cbreak();
	noecho();
	nonl();
	intrflush(stdscr, FALSE);
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	if (has_colors() && start_color() == OK) {
		use_default_colors();
		t->colors = init_pair(PAIR_ALERT, COLOR_RED, -1) == OK;
	}
	if (have_tty)
		arm_crash(t, &tty);
	t->loop->input_fd = isatty(STDIN_FILENO) ? STDIN_FILENO : -1;
	return 0;
}

static void stop(struct tui *t)
{
	crash_disarm();
	if (t->scr) {
		endwin();
		delscreen(t->scr);
		t->scr = NULL;
	}
	release_stderr(t);
}

/* --- the loop's work */

/* A frame job: the next frame, shown unless paused. */
static int sample(void *ctx)
{
	struct tui *t = ctx;
	struct frame *f = live__sample(t->live, t->interval_s);
	int err;

	if (!f)
		return -errno;
	if (t->paused) {
		frame_free(t->latest);
		t->latest = f;
		return 0;
	}
	frame_free(t->shown);
	t->shown = f;
	err = tui_reselect(t);
	return err ? err : tui_draw(t);
}

/* Input, or a signal such as SIGWINCH: ncurses turns both into keys. */
static int on_input(void *ctx, int event)
{
	struct tui *t = ctx;
	int ch = getch(), err = 0;

	if (ch == ERR && event == LOOP_INPUT && ++t->idle_input > MAX_IDLE_INPUT)
		t->loop->input_fd = -1;
	for (; ch != ERR && !err && !t->quit; ch = getch()) {
		t->idle_input = 0;
		err = tui_key(t, ch);
	}
	if (err)
		return err;
	return t->quit ? LOOP_DONE : tui_draw(t);
}

int tui_run(struct pipeline *p, struct live *live, struct loop *l, double interval_s)
{
	struct tui t = { .saved_stderr = -1, .held_stderr = -1, .live = live, .pipe = p, .loop = l,
			 .interval_s = interval_s, .sort = FRAME_SORT_BYTES };
	uint64_t step = (uint64_t)(interval_s * 1e9);
	int err;

	l->on_input = on_input;
	l->input_ctx = &t;
	t.sampler = loop_add(l, sample, &t, now_ns(), step);
	err = t.sampler ? start(&t) : -ENOSPC;
	if (!err)
		err = pipeline_run(p, l);
	stop(&t);
	frame_free(t.shown);
	frame_free(t.latest);
	return err;
}
