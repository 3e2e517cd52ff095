/* tui_internal.h: the live view's state, for its screen (tui_draw.c) and keys (tui_keys.c). */
#ifndef LT_TUI_INTERNAL_H
#define LT_TUI_INTERNAL_H

#include <curses.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ui/frame.h"
#include "ui/live.h"
#include "ui/loop.h"

/* A filter is a function or module name fragment: no need for more. */
#define TUI_MAX_FILTER 120

enum tui_mode { MODE_LIST, MODE_STACK, MODE_HELP, MODE_FILTER };

enum { PAIR_ALERT = 1 };

struct tui {
	SCREEN *scr;
	bool colors;
	int saved_stderr;	/* the real stderr while held_stderr stands in; -1 when not */
	int held_stderr;
	struct live *live;
	struct pipeline *pipe;	/* r: a reachability scan through it */
	struct loop *loop;
	struct loop_job *sampler;	/* the frame job: its period follows interval_s */
	struct frame *shown;	/* the frame on screen */
	struct frame *latest;	/* taken while paused; shown on resume */
	enum frame_sort sort;
	bool merge;		/* one row per site across processes */
	char filter[TUI_MAX_FILTER + 1];
	char edit[TUI_MAX_FILTER + 1];
	enum tui_mode mode, help_back;
	bool paused, quit;
	double interval_s;
	int idle_input;		/* wake-ups for input that gave no key */
	size_t sel, top;	/* selected row, first row on screen */
	bool have_sel;		/* sel_pid/sel_stack name the selected stack */
	int sel_pid;
	uint64_t sel_stack;
	size_t stack_scroll;
	int page;		/* rows on screen at the last draw */
	int stack_lines;	/* lines of the stack view at the last draw */
};

/* --- tui_draw.c */

/* The attributes of a frame style on this terminal. */
attr_t tui_style_attr(const struct tui *t, enum frame_style s);

/* Draws the screen of the current mode. 0 or -ENOMEM (symbolizing what it shows; logged). */
int tui_draw(struct tui *t);

/* --- tui_keys.c */

/* Handles one key. 0 or -errno (logged). */
int tui_key(struct tui *t, int ch);

/* Lists the shown frame's rows again (sort, filter), keeping the selected stack. 0 or -errno. */
int tui_reselect(struct tui *t);

#endif
