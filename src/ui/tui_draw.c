/* tui_draw.c: the live view's screen: the frame's text through a screen sink, status and help. */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "ui/tui_internal.h"

static const char *const help_lines[] = {
	"leaktop live view: keys",
	"",
	"  Up/Down PgUp/PgDn Home/End   move through the rows",
	"  Enter        the full stack of the selected row, with file:line (Esc: back)",
	"  /            filter: only stacks with a function or module containing the text",
	"               (Enter applies, Esc cancels; Esc in the list clears the filter)",
	"  b g c a      sort by bytes, growth, blocks, age of the oldest block; s: next",
	"  m            one row per site for all processes (PROCS), or one per stack again",
	"  p, Space     pause / resume the display (tracing and the history go on)",
	"  r            reachability scan: each process paused while its memory is copied",
	"               (with --reachability=live: not paused); LOST then shows per row",
	"               the bytes nothing points to any more",
	"  + -          refresh interval longer / shorter (the window is 9 refreshes)",
	"  h, ?         this help",
	"  q            quit; the final report goes to stderr, or to -o PATH",
	"",
	"Columns: BYTES and BLOCKS outstanding; GROWTH in bytes/s over the window;",
	"TREND LEAK? marks sustained, near-monotonic growth over the window (a suspect);",
	"grow, flat, shrink otherwise; OLDEST: age of the oldest live block;",
	"SITE: the function that called the allocator, its module, file:line.",
	"LOST (after r): bytes of blocks no pointer reaches, as of the last scan.",
	"PID: the stack's process, when more than one process is shown. Merged (m): PROCS,",
	"the processes with a stack of the row's frames (Enter lists them).",
	"",
	"Any key closes this help.",
};
#define NR_HELP_LINES (sizeof(help_lines) / sizeof(help_lines[0]))

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

attr_t tui_style_attr(const struct tui *t, enum frame_style s)
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

		attrset(tui_style_attr(s->t, style) | s->extra);
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

/* --- the screens */

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
					 "  m merge  r scan  +/- refresh  p pause");
	put_line(t, y, A_REVERSE, true, line);
	if (t->paused)
		mvchgat(y, 0, 6, A_REVERSE | tui_style_attr(t, FRAME_ALERT), t->colors ? PAIR_ALERT : 0,
			NULL);
}

static int draw_list(struct tui *t)
{
	struct frame *f = t->shown;
	int header = FRAME_HEADER_LINES, rows_y, page, err;
	struct screen_sink s;
	struct frame_sink sink = { .put = screen_put, .eol = screen_eol, .ctx = &s };

	/* A short screen keeps the first header lines, the titles, one row and the status line. */
	if (header > LINES - 3)
		header = LINES - 3 > 0 ? LINES - 3 : 0;
	s = sink_at(t, 0, header, 0, 0);
	frame_render_header(f, &sink);
	s = sink_at(t, header, header + 1, 0, A_REVERSE);
	frame_render_titles(f, &sink, COLS);
	rows_y = header + 1;
	page = LINES - 1 - rows_y;
	t->page = page > 0 ? page : 1;

	if (t->sel < t->top)
		t->top = t->sel;
	if (t->sel >= t->top + (size_t)t->page)
		t->top = t->sel - (size_t)t->page + 1;
	if (t->top + (size_t)t->page > f->nr_rows)
		t->top = f->nr_rows > (size_t)t->page ? f->nr_rows - (size_t)t->page : 0;
	/* The rows on screen are the ones to name: the report symbolizes them once. */
	err = frame_symbolize_rows(f, t->top, page > 0 ? (size_t)page : 0);
	if (err)
		return err;
	for (int k = 0; k < page && t->top + (size_t)k < f->nr_rows; k++) {
		size_t i = t->top + (size_t)k;

		s = sink_at(t, rows_y + k, rows_y + k + 1, 0, i == t->sel ? A_REVERSE : 0);
		frame_render_row(f, i, &sink, COLS);
	}
	if (!f->nr_rows && page > 0)
		put_line(t, rows_y, A_NORMAL, false,
			 f->filter ? "  no stack matches the filter (Esc clears it)"
				   : "  no stack holds memory or allocates yet");
	return 0;
}

/* The selected row's stack (a merged row's with its processes), else the stack no longer listed. */
static int render_selected(struct tui *t, ssize_t row, ssize_t stack, const struct frame_sink *sink)
{
	if (row >= 0)
		return frame_render_row_stack(t->shown, (size_t)row, sink);
	return frame_render_stack(t->shown, (size_t)stack, sink);
}

static int draw_stack(struct tui *t)
{
	ssize_t row = t->have_sel ? frame_find_row(t->shown, t->sel_pid, t->sel_stack) : -1;
	ssize_t stack = t->have_sel ? frame_find_stack(t->shown, t->sel_pid, t->sel_stack) : -1;
	struct screen_sink s;
	struct frame_sink sink = { .put = screen_put, .eol = screen_eol, .ctx = &s };
	int page = LINES - 2, err;

	put_line(t, 0, A_REVERSE, true, "stack of the selected row, innermost first");
	if (stack < 0) {
		put_line(t, 1, A_NORMAL, false, "  this stack is no longer traced (Esc: back)");
		return 0;
	}
	/* Render once unclipped to count the lines, then the part that the scroll shows. */
	s = sink_at(t, 1, 1, 0, 0);
	err = render_selected(t, row, stack, &sink);
	if (err)
		return err;
	t->stack_lines = s.line;
	if (page < 1)
		page = 1;
	if ((int)t->stack_scroll > t->stack_lines - page)
		t->stack_scroll = t->stack_lines > page ? (size_t)(t->stack_lines - page) : 0;
	s = sink_at(t, 1, 1 + page, (int)t->stack_scroll, 0);
	return render_selected(t, row, stack, &sink);
}

static void draw_help(struct tui *t)
{
	for (size_t i = 0; i < NR_HELP_LINES && (int)i < LINES - 1; i++)
		put_line(t, (int)i, i ? A_NORMAL : A_BOLD, false, help_lines[i]);
}

int tui_draw(struct tui *t)
{
	int err = 0;

	erase();
	if (COLS < 20 || LINES < 3) {
		/* Too small for anything but saying so; q still quits. */
		mvaddnstr(0, 0, "leaktop: enlarge the window", COLS);
		refresh();
		return 0;
	}
	if (t->mode == MODE_HELP)
		draw_help(t);
	else if (t->mode == MODE_STACK)
		err = draw_stack(t);
	else if (t->shown)
		err = draw_list(t);
	if (err) {
		log_error("cannot name the stacks on screen: %s", strerror(-err));
		return err;
	}
	draw_status(t);
	refresh();
	return 0;
}
