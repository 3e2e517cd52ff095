/* tui.c: the live top-style view on a terminal (ncurses): screen, keys, refresh loop. */
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
#include "ui/tui.h"

/* A filter is a function or module name fragment: no need for more. */
#define MAX_FILTER 120
/* Wake-ups for input that yield no key before stdin is taken for gone (a hung-up terminal). */
#define MAX_IDLE_INPUT 64

enum mode { MODE_LIST, MODE_STACK, MODE_HELP, MODE_FILTER };

enum { PAIR_ALERT = 1 };

static const double interval_steps[] = { 0.5, 1, 2, 3, 5, 10, 30, 60 };
#define NR_STEPS (sizeof(interval_steps) / sizeof(interval_steps[0]))

static const char *const help_lines[] = {
	"leaktop live view: keys",
	"",
	"  Up/Down PgUp/PgDn Home/End   move through the rows",
	"  Enter        the full stack of the selected row, with file:line (Esc: back)",
	"  /            filter: only stacks with a function or module containing the text",
	"               (Enter applies, Esc cancels; Esc in the list clears the filter)",
	"  b g c a      sort by bytes, growth, blocks, age of the oldest block; s: next",
	"  p, Space     pause / resume the display (tracing and the history go on)",
	"  + -          refresh interval longer / shorter (the window is 9 refreshes)",
	"  h, ?         this help",
	"  q            quit; the final report goes to stderr, or to -o PATH",
	"",
	"Columns: BYTES and BLOCKS outstanding; GROWTH in bytes/s over the window;",
	"TREND LEAK? marks sustained, near-monotonic growth over the window (a suspect);",
	"grow, flat, shrink otherwise; OLDEST: age of the oldest live block;",
	"SITE: the function that called the allocator, its module, file:line.",
	"",
	"Any key closes this help.",
};
#define NR_HELP_LINES (sizeof(help_lines) / sizeof(help_lines[0]))

struct tui {
	SCREEN *scr;
	bool colors;
	int in_fd;		/* stdin when it is a terminal; -1 otherwise */
	int saved_stderr;	/* the real stderr while held_stderr stands in; -1 when not */
	int held_stderr;
	struct live *live;
	const struct live_run *run;
	struct frame *shown;	/* the frame on screen */
	struct frame *latest;	/* taken while paused; shown on resume */
	enum frame_sort sort;
	char filter[MAX_FILTER + 1];
	char edit[MAX_FILTER + 1];
	enum mode mode, help_back;
	bool paused, quit;
	double interval_s;
	size_t sel, top;	/* selected row, first row on screen */
	bool have_sel;		/* sel_pid/sel_stack name the selected stack */
	int sel_pid;
	uint64_t sel_stack;
	size_t stack_scroll;
	int page;		/* rows on screen at the last draw */
	int stack_lines;	/* lines of the stack view at the last draw */
};

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

/* --- the screen as a frame sink */

struct screen_sink {
	struct tui *t;
	int y;		/* screen line of the first line drawn */
	int y_end;	/* first screen line not drawn on */
	int skip;	/* rendered lines left out before the first drawn one */
	int line;	/* lines rendered so far */
	int x;
	attr_t extra;	/* or-ed into every span: the selection bar */
	bool fill;	/* paint the rest of each line with extra */
};

static attr_t style_attr(const struct tui *t, enum frame_style s)
{
	switch (s) {
	case FRAME_LABEL:
		return A_BOLD;
	case FRAME_ALERT:
		return A_BOLD | (t->colors ? COLOR_PAIR(PAIR_ALERT) : A_STANDOUT);
	case FRAME_SUSPECT:
		return A_BOLD | (t->colors ? COLOR_PAIR(PAIR_ALERT) : A_UNDERLINE);
	case FRAME_TITLE:
		return A_REVERSE;
	default:
		return A_NORMAL;
	}
}

static int sink_row(const struct screen_sink *s)
{
	int row = s->line - s->skip;

	return row < 0 || s->y + row >= s->y_end ? -1 : s->y + row;
}

static void screen_put(void *ctx, const char *text, size_t len, enum frame_style style)
{
	struct screen_sink *s = ctx;
	int y = sink_row(s), room = COLS - s->x;

	if (y >= 0 && room > 0) {
		int n = len < (size_t)room ? (int)len : room;

		attrset(style_attr(s->t, style) | s->extra);
		mvaddnstr(y, s->x, text, n);
		attrset(A_NORMAL);
	}
	s->x += len < (size_t)COLS ? (int)len : COLS;
}

static void screen_eol(void *ctx)
{
	struct screen_sink *s = ctx;
	int y = sink_row(s);

	if (y >= 0 && s->fill && s->x < COLS)
		mvhline(y, s->x, ' ' | s->extra, COLS - s->x);
	s->line++;
	s->x = 0;
}

static struct screen_sink sink_at(struct tui *t, int y, int y_end, int skip, attr_t extra)
{
	return (struct screen_sink){ .t = t, .y = y, .y_end = y_end, .skip = skip, .extra = extra,
				     .fill = extra != 0 };
}

static void put_line(struct tui *t, int y, attr_t attr, bool fill, const char *text)
{
	struct screen_sink s = sink_at(t, y, y + 1, 0, attr);
	struct frame_sink sink = { .put = screen_put, .eol = screen_eol, .ctx = &s };

	s.fill = fill;
	screen_put(&s, text, strlen(text), FRAME_NORMAL);
	sink.eol(sink.ctx);
}

/* --- selection */

static void select_row(struct tui *t, size_t i)
{
	const struct frame *f = t->shown;

	t->have_sel = f && i < f->nr_rows;
	t->sel = i;
	if (t->have_sel) {
		t->sel_pid = f->rows[i].rec->pid;
		t->sel_stack = f->rows[i].rec->stack_id;
	}
}

/* After new rows: the same stack stays selected wherever it went, else the same position. */
static void keep_selection(struct tui *t)
{
	const struct frame *f = t->shown;
	ssize_t i = t->have_sel ? frame_find_row(f, t->sel_pid, t->sel_stack) : -1;

	if (i >= 0) {
		t->sel = (size_t)i;
		return;
	}
	select_row(t, f->nr_rows && t->sel >= f->nr_rows ? f->nr_rows - 1 : t->sel);
}

static void move_selection(struct tui *t, long delta)
{
	long n = t->shown ? (long)t->shown->nr_rows : 0, i = (long)t->sel + delta;

	if (!n)
		return;
	select_row(t, (size_t)(i < 0 ? 0 : i >= n ? n - 1 : i));
}

static int reselect(struct tui *t)
{
	int err;

	if (!t->shown)
		return 0;
	err = frame_select(t->shown, t->sort, t->filter, t->run->sym);
	if (err)
		log_error("cannot list the stacks: %s", strerror(-err));
	else
		keep_selection(t);
	return err;
}

/* --- drawing */

static void draw_status(struct tui *t)
{
	char line[256];
	int y = LINES - 1;

	if (t->mode == MODE_FILTER) {
		snprintf(line, sizeof(line), "filter: %s_   (Enter: apply, Esc: cancel)", t->edit);
		put_line(t, y, A_REVERSE, true, line);
		return;
	}
	snprintf(line, sizeof(line), "%s%s", t->paused ? "PAUSED  " : "",
		 t->mode == MODE_STACK ? "Esc back  Up/Down scroll  q quit  h help"
				       : "q quit  h help  Enter stack  / filter  b g c a sort"
					 "  +/- refresh  p pause");
	put_line(t, y, A_REVERSE, true, line);
	if (t->paused)
		mvchgat(y, 0, 6, A_REVERSE | style_attr(t, FRAME_ALERT), t->colors ? PAIR_ALERT : 0,
			NULL);
}

static void draw_list(struct tui *t)
{
	const struct frame *f = t->shown;
	int header = FRAME_HEADER_LINES, rows_y, page;
	struct screen_sink s;
	struct frame_sink sink = { .put = screen_put, .eol = screen_eol, .ctx = &s };

	/* A short screen keeps the first header lines, the titles, one row and the status line. */
	if (header > LINES - 3)
		header = LINES - 3 > 0 ? LINES - 3 : 0;
	s = sink_at(t, 0, header, 0, 0);
	frame_render_header(f, &sink);
	s = sink_at(t, header, header + 1, 0, A_REVERSE);
	frame_render_titles(&sink, COLS);
	rows_y = header + 1;
	page = LINES - 1 - rows_y;
	t->page = page > 0 ? page : 1;

	if (t->sel < t->top)
		t->top = t->sel;
	if (t->sel >= t->top + (size_t)t->page)
		t->top = t->sel - (size_t)t->page + 1;
	if (t->top + (size_t)t->page > f->nr_rows)
		t->top = f->nr_rows > (size_t)t->page ? f->nr_rows - (size_t)t->page : 0;
	for (int k = 0; k < page && t->top + (size_t)k < f->nr_rows; k++) {
		size_t i = t->top + (size_t)k;

		s = sink_at(t, rows_y + k, rows_y + k + 1, 0, i == t->sel ? A_REVERSE : 0);
		frame_render_row(f, i, t->run->sym, &sink, COLS);
	}
	if (!f->nr_rows && page > 0)
		put_line(t, rows_y, A_NORMAL, false,
			 f->filter ? "  no stack matches the filter (Esc clears it)"
				   : "  no stack holds memory or allocates yet");
}

static void draw_stack(struct tui *t)
{
	const struct history_trend *trend = NULL;
	const struct stack_record *rec = NULL;
	struct screen_sink s;
	struct frame_sink sink = { .put = screen_put, .eol = screen_eol, .ctx = &s };
	int page = LINES - 2;

	if (t->have_sel)
		rec = frame_find_stack(t->shown, t->sel_pid, t->sel_stack, &trend);
	put_line(t, 0, A_REVERSE, true, "stack of the selected row, innermost first");
	if (!rec) {
		put_line(t, 1, A_NORMAL, false, "  this stack is no longer traced (Esc: back)");
		return;
	}
	/* Render once unclipped to count the lines, then the part that the scroll shows. */
	s = sink_at(t, 1, 1, 0, 0);
	frame_render_stack(rec, trend, t->run->sym, &sink);
	t->stack_lines = s.line;
	if (page < 1)
		page = 1;
	if ((int)t->stack_scroll > t->stack_lines - page)
		t->stack_scroll = t->stack_lines > page ? (size_t)(t->stack_lines - page) : 0;
	s = sink_at(t, 1, 1 + page, (int)t->stack_scroll, 0);
	frame_render_stack(rec, trend, t->run->sym, &sink);
}

static void draw_help(struct tui *t)
{
	for (size_t i = 0; i < NR_HELP_LINES && (int)i < LINES - 1; i++)
		put_line(t, (int)i, i ? A_NORMAL : A_BOLD, false, help_lines[i]);
}

static void draw(struct tui *t)
{
	erase();
	if (COLS < 20 || LINES < 3) {
		/* Too small for anything but saying so; q still quits. */
		mvaddnstr(0, 0, "leaktop: enlarge the window", COLS);
		refresh();
		return;
	}
	if (t->mode == MODE_HELP)
		draw_help(t);
	else if (t->mode == MODE_STACK)
		draw_stack(t);
	else if (t->shown)
		draw_list(t);
	draw_status(t);
	refresh();
}

/* --- keys */

static void set_interval(struct tui *t, int dir)
{
	size_t i;

	if (dir > 0) {
		for (i = 0; i < NR_STEPS - 1 && interval_steps[i] <= t->interval_s; i++)
			;
	} else {
		for (i = NR_STEPS - 1; i > 0 && interval_steps[i] >= t->interval_s; i--)
			;
	}
	t->interval_s = interval_steps[i];
}

static int filter_key(struct tui *t, int ch)
{
	size_t len = strlen(t->edit);

	switch (ch) {
	case 27: /* Esc */
		t->mode = MODE_LIST;
		return 0;
	case '\r':
	case '\n':
	case KEY_ENTER:
		memcpy(t->filter, t->edit, sizeof(t->filter));
		t->mode = MODE_LIST;
		/* The first matching row, not the stack that was selected before. */
		t->top = t->sel = 0;
		t->have_sel = false;
		return reselect(t);
	case KEY_BACKSPACE:
	case 127:
	case 8:
		if (len)
			t->edit[len - 1] = '\0';
		return 0;
	case 21: /* Ctrl-U */
		t->edit[0] = '\0';
		return 0;
	default:
		if (ch >= 0x20 && ch < 0x7f && len < MAX_FILTER) {
			t->edit[len] = (char)ch;
			t->edit[len + 1] = '\0';
		}
		return 0;
	}
}

static int set_sort(struct tui *t, enum frame_sort sort)
{
	t->sort = sort;
	return reselect(t);
}

/* Handles one key. 0 or -errno. */
static int on_key(struct tui *t, int ch)
{
	if (t->mode == MODE_FILTER)
		return filter_key(t, ch);
	if (t->mode == MODE_HELP && ch != 'q' && ch != 'Q' && ch != KEY_RESIZE) {
		t->mode = t->help_back;
		return 0;
	}
	switch (ch) {
	case 'q':
	case 'Q':
	case KEY_F(10):
		t->quit = true;
		return 0;
	case 'h':
	case '?':
	case KEY_F(1):
		t->help_back = t->mode;
		t->mode = MODE_HELP;
		return 0;
	case 'p':
	case ' ':
		t->paused = !t->paused;
		if (!t->paused && t->latest) {
			frame__free(t->shown);
			t->shown = t->latest;
			t->latest = NULL;
			return reselect(t);
		}
		return 0;
	case '+':
	case '=':
		set_interval(t, 1);
		return 0;
	case '-':
	case '_':
		set_interval(t, -1);
		return 0;
	case 12: /* Ctrl-L */
		clearok(curscr, TRUE);
		return 0;
	case KEY_RESIZE:
		return 0;
	}

	if (t->mode == MODE_STACK) {
		size_t page = LINES > 3 ? (size_t)(LINES - 2) : 1;

		switch (ch) {
		case 27:
		case KEY_LEFT:
		case KEY_BACKSPACE:
		case 127:
			t->mode = MODE_LIST;
			break;
		case KEY_UP:
			t->stack_scroll -= t->stack_scroll > 0;
			break;
		case KEY_DOWN:
			t->stack_scroll++;
			break;
		case KEY_PPAGE:
			t->stack_scroll -= t->stack_scroll > page ? page : t->stack_scroll;
			break;
		case KEY_NPAGE:
			t->stack_scroll += page;
			break;
		case KEY_HOME:
			t->stack_scroll = 0;
			break;
		case KEY_END:
			t->stack_scroll = (size_t)t->stack_lines;
			break;
		}
		return 0;
	}

	switch (ch) {
	case KEY_UP:
	case 'k':
		move_selection(t, -1);
		return 0;
	case KEY_DOWN:
	case 'j':
		move_selection(t, 1);
		return 0;
	case KEY_PPAGE:
		move_selection(t, -t->page);
		return 0;
	case KEY_NPAGE:
		move_selection(t, t->page);
		return 0;
	case KEY_HOME:
		move_selection(t, -(long)(t->shown ? t->shown->nr_rows : 0));
		return 0;
	case KEY_END:
		move_selection(t, t->shown ? (long)t->shown->nr_rows : 0);
		return 0;
	case '\r':
	case '\n':
	case KEY_ENTER:
	case KEY_RIGHT:
		if (t->shown && t->sel < t->shown->nr_rows) {
			select_row(t, t->sel);
			t->mode = MODE_STACK;
			t->stack_scroll = 0;
		}
		return 0;
	case '/':
		memcpy(t->edit, t->filter, sizeof(t->edit));
		t->mode = MODE_FILTER;
		return 0;
	case 27:
		if (!t->filter[0])
			return 0;
		t->filter[0] = '\0';
		return reselect(t);
	case 'b':
		return set_sort(t, FRAME_SORT_BYTES);
	case 'g':
		return set_sort(t, FRAME_SORT_GROWTH);
	case 'c':
		return set_sort(t, FRAME_SORT_BLOCKS);
	case 'a':
		return set_sort(t, FRAME_SORT_AGE);
	case 's':
	case '\t':
		return set_sort(t, (enum frame_sort)((t->sort + 1) % FRAME_SORT_MAX));
	}
	return 0;
}

/* --- the loop */

static int sample(struct tui *t)
{
	struct frame *f = live__sample(t->live, t->interval_s);

	if (!f)
		return -errno;
	if (t->paused) {
		frame__free(t->latest);
		t->latest = f;
		return 0;
	}
	frame__free(t->shown);
	t->shown = f;
	return reselect(t);
}

static int start(struct tui *t)
{
	const char *term = getenv("TERM");

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
	t->in_fd = isatty(STDIN_FILENO) ? STDIN_FILENO : -1;
	return 0;
}

static void stop(struct tui *t)
{
	if (t->scr) {
		endwin();
		delscreen(t->scr);
		t->scr = NULL;
	}
	release_stderr(t);
}

int tui_run(struct live *l, const struct live_run *run)
{
	struct tui t = { .in_fd = -1, .saved_stderr = -1, .held_stderr = -1, .live = l, .run = run,
			 .interval_s = run->interval_s, .sort = FRAME_SORT_BYTES };
	uint64_t last, next;
	int idle_input = 0, err;

	err = start(&t);
	if (err)
		goto out;
	err = sample(&t);
	last = now_ns();
	while (!err && !t.quit) {
		uint64_t wake;
		int ev, ch;

		draw(&t);
		next = last + (uint64_t)(t.interval_s * 1e9);
		wake = run->end_ns && run->end_ns < next ? run->end_ns : next;
		ev = loop_wait(run->targets, run->nr_targets, t.in_fd, wake, run->stop,
			       run->stop_signals);
		if (ev < 0) {
			err = ev;
			log_error("the live view cannot wait for events: %s", strerror(-err));
			break;
		}
		if (ev == LOOP_STOP || ev == LOOP_EXITED)
			break;
		if (ev == LOOP_TIMER) {
			if (run->end_ns && now_ns() >= run->end_ns)
				break;
			err = sample(&t);
			last = now_ns();
			continue;
		}
		/* Input, or a signal such as SIGWINCH: ncurses turns both into keys. */
		ch = getch();
		if (ch == ERR && ev == LOOP_INPUT && ++idle_input > MAX_IDLE_INPUT)
			t.in_fd = -1;
		for (; ch != ERR && !err && !t.quit; ch = getch()) {
			idle_input = 0;
			err = on_key(&t, ch);
		}
	}
out:
	stop(&t);
	frame__free(t.shown);
	frame__free(t.latest);
	return err;
}
