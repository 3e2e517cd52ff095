/* tui_keys.c: the live view's keys, a table of bindings per screen (as htop has); selection. */
#include <curses.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "ui/tui_internal.h"

static const double interval_steps[] = { 0.5, 1, 2, 3, 5, 10, 30, 60 };
#define NR_STEPS (sizeof(interval_steps) / sizeof(interval_steps[0]))

#define KEY_ESC 27
#define KEY_CTRL_L 12
#define KEY_CTRL_U 21
#define KEY_DEL 127
#define KEY_CTRL_H 8

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

int tui_reselect(struct tui *t)
{
	int err;

	if (!t->shown)
		return 0;
	err = frame_select(t->shown, t->sort, t->filter, t->merge);
	if (err)
		log_error("cannot list the stacks: %s", strerror(-err));
	else
		keep_selection(t);
	return err;
}

/* --- actions of the list and the stack screens */

static int quit(struct tui *t, int ch)
{
	t->quit = true;
	return 0;
}

static int help(struct tui *t, int ch)
{
	t->help_back = t->mode;
	t->mode = MODE_HELP;
	return 0;
}

static int pause_resume(struct tui *t, int ch)
{
	t->paused = !t->paused;
	if (t->paused || !t->latest)
		return 0;
	frame_free(t->shown);
	t->shown = t->latest;
	t->latest = NULL;
	return tui_reselect(t);
}

/* The next refresh interval up (+) or down (-): the next frame comes that long after the last. */
static int change_interval(struct tui *t, int ch)
{
	size_t i;

	if (ch == '+' || ch == '=') {
		for (i = 0; i < NR_STEPS - 1 && interval_steps[i] <= t->interval_s; i++)
			;
	} else {
		for (i = NR_STEPS - 1; i > 0 && interval_steps[i] >= t->interval_s; i--)
			;
	}
	t->interval_s = interval_steps[i];
	t->sampler->period_ns = (uint64_t)(t->interval_s * 1e9);
	if (t->sampler->last_ns)
		t->sampler->next_ns = t->sampler->last_ns + t->sampler->period_ns;
	return 0;
}

/* A reachability scan of every traced process, then a frame at once to show its LOST column. A
 * scan that fails is logged, and the view goes on. */
static int scan(struct tui *t, int ch)
{
	pipeline_scan(t->pipe);
	t->sampler->next_ns = now_ns();
	return 0;
}

static int redraw(struct tui *t, int ch)
{
	clearok(curscr, TRUE);
	return 0;
}

static int move_rows(struct tui *t, int ch)
{
	long all = t->shown ? (long)t->shown->nr_rows : 0;

	switch (ch) {
	case KEY_UP:
	case 'k':
		move_selection(t, -1);
		break;
	case KEY_DOWN:
	case 'j':
		move_selection(t, 1);
		break;
	case KEY_PPAGE:
		move_selection(t, -t->page);
		break;
	case KEY_NPAGE:
		move_selection(t, t->page);
		break;
	case KEY_HOME:
		move_selection(t, -all);
		break;
	case KEY_END:
		move_selection(t, all);
		break;
	}
	return 0;
}

static int open_stack(struct tui *t, int ch)
{
	if (t->shown && t->sel < t->shown->nr_rows) {
		select_row(t, t->sel);
		t->mode = MODE_STACK;
		t->stack_scroll = 0;
	}
	return 0;
}

static int edit_filter(struct tui *t, int ch)
{
	memcpy(t->edit, t->filter, sizeof(t->edit));
	t->mode = MODE_FILTER;
	return 0;
}

static int clear_filter(struct tui *t, int ch)
{
	if (!t->filter[0])
		return 0;
	t->filter[0] = '\0';
	return tui_reselect(t);
}

static int sort_by(struct tui *t, int ch)
{
	switch (ch) {
	case 'b':
		t->sort = FRAME_SORT_BYTES;
		break;
	case 'g':
		t->sort = FRAME_SORT_GROWTH;
		break;
	case 'c':
		t->sort = FRAME_SORT_BLOCKS;
		break;
	case 'a':
		t->sort = FRAME_SORT_AGE;
		break;
	default: /* s, Tab: the next one */
		t->sort = (enum frame_sort)((t->sort + 1) % FRAME_SORT_MAX);
		break;
	}
	return tui_reselect(t);
}

/* The selected stack stays selected: in its site's row when merged, in its own row when not. */
static int toggle_merge(struct tui *t, int ch)
{
	t->merge = !t->merge;
	return tui_reselect(t);
}

static int close_stack(struct tui *t, int ch)
{
	t->mode = MODE_LIST;
	return 0;
}

static int scroll_stack(struct tui *t, int ch)
{
	size_t page = LINES > 3 ? (size_t)(LINES - 2) : 1;

	switch (ch) {
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

/* --- the table */

#define ON_LIST (1u << MODE_LIST)
#define ON_STACK (1u << MODE_STACK)
#define ON_HELP (1u << MODE_HELP)
#define ON_VIEWS (ON_LIST | ON_STACK)

struct key_binding {
	int key;
	unsigned int screens;	/* ON_* */
	int (*act)(struct tui *t, int ch);
};

/* The first binding of a key for the screen shown is the one that acts. */
static const struct key_binding bindings[] = {
	{ 'q', ON_VIEWS | ON_HELP, quit },
	{ 'Q', ON_VIEWS | ON_HELP, quit },
	{ KEY_F(10), ON_VIEWS, quit },
	{ 'h', ON_VIEWS, help },
	{ '?', ON_VIEWS, help },
	{ KEY_F(1), ON_VIEWS, help },
	{ 'p', ON_VIEWS, pause_resume },
	{ ' ', ON_VIEWS, pause_resume },
	{ '+', ON_VIEWS, change_interval },
	{ '=', ON_VIEWS, change_interval },
	{ '-', ON_VIEWS, change_interval },
	{ '_', ON_VIEWS, change_interval },
	{ KEY_CTRL_L, ON_VIEWS, redraw },

	{ KEY_UP, ON_LIST, move_rows },
	{ 'k', ON_LIST, move_rows },
	{ KEY_DOWN, ON_LIST, move_rows },
	{ 'j', ON_LIST, move_rows },
	{ KEY_PPAGE, ON_LIST, move_rows },
	{ KEY_NPAGE, ON_LIST, move_rows },
	{ KEY_HOME, ON_LIST, move_rows },
	{ KEY_END, ON_LIST, move_rows },
	{ '\r', ON_LIST, open_stack },
	{ '\n', ON_LIST, open_stack },
	{ KEY_ENTER, ON_LIST, open_stack },
	{ KEY_RIGHT, ON_LIST, open_stack },
	{ '/', ON_LIST, edit_filter },
	{ KEY_ESC, ON_LIST, clear_filter },
	{ 'b', ON_LIST, sort_by },
	{ 'g', ON_LIST, sort_by },
	{ 'c', ON_LIST, sort_by },
	{ 'a', ON_LIST, sort_by },
	{ 's', ON_LIST, sort_by },
	{ '\t', ON_LIST, sort_by },
	{ 'm', ON_LIST, toggle_merge },
	{ 'r', ON_VIEWS, scan },

	{ KEY_ESC, ON_STACK, close_stack },
	{ KEY_LEFT, ON_STACK, close_stack },
	{ KEY_BACKSPACE, ON_STACK, close_stack },
	{ KEY_DEL, ON_STACK, close_stack },
	{ KEY_UP, ON_STACK, scroll_stack },
	{ KEY_DOWN, ON_STACK, scroll_stack },
	{ KEY_PPAGE, ON_STACK, scroll_stack },
	{ KEY_NPAGE, ON_STACK, scroll_stack },
	{ KEY_HOME, ON_STACK, scroll_stack },
	{ KEY_END, ON_STACK, scroll_stack },
};
#define NR_BINDINGS (sizeof(bindings) / sizeof(bindings[0]))

/* The filter prompt is a line editor, not a table of actions. */
static int filter_key(struct tui *t, int ch)
{
	size_t len = strlen(t->edit);

	switch (ch) {
	case KEY_ESC:
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
		return tui_reselect(t);
	case KEY_BACKSPACE:
	case KEY_DEL:
	case KEY_CTRL_H:
		if (len)
			t->edit[len - 1] = '\0';
		return 0;
	case KEY_CTRL_U:
		t->edit[0] = '\0';
		return 0;
	default:
		if (ch >= 0x20 && ch < 0x7f && len < TUI_MAX_FILTER) {
			t->edit[len] = (char)ch;
			t->edit[len + 1] = '\0';
		}
		return 0;
	}
}

int tui_key(struct tui *t, int ch)
{
	unsigned int screen = 1u << t->mode;

	if (t->mode == MODE_FILTER)
		return filter_key(t, ch);
	for (size_t i = 0; i < NR_BINDINGS; i++) {
		if (bindings[i].key == ch && bindings[i].screens & screen)
			return bindings[i].act(t, ch);
	}
	/* Any other key closes the help; a resize is no key. */
	if (t->mode == MODE_HELP && ch != KEY_RESIZE)
		t->mode = t->help_back;
	return 0;
}
