/* frame.h: one frame of the live view and its text, for the screen and --batch. */
#ifndef LT_FRAME_H
#define LT_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/history.h"
#include "model/report.h"
#include "model/snapshot.h"
#include "proc/procinfo.h"

enum frame_sort {
	FRAME_SORT_BYTES,	/* outstanding bytes */
	FRAME_SORT_GROWTH,	/* growth over the window; unknown last */
	FRAME_SORT_BLOCKS,	/* outstanding blocks */
	FRAME_SORT_AGE,		/* age of the oldest live block; none last */
	FRAME_SORT_MAX,
};

/* A traced process as the header shows it. */
struct frame_proc {
	int pid;
	const char *comm;	/* NULL when unknown; not owned */
	bool exited;
	bool have_mem;		/* mem was read */
	struct proc_mem mem;
	int64_t accounted_bytes; /* outstanding bytes of its stacks */
};

/*
 * A row: one stack, or in merged mode the stacks of every process whose symbolized frames are
 * equal (one site). rec and trend are the stack's own, or for a merged row the frame's record of
 * the sums: the first stack's record with bytes, blocks, allocations and growth summed over the
 * row's stacks, the oldest age theirs, and a suspect when one of them is.
 */
struct frame_row {
	const struct stack_record *rec;
	const struct history_trend *trend;
	size_t stack;		/* its (first) stack, in snap->stacks and report.stacks */
	const size_t *members;	/* the stacks it shows (indexes as stack), most bytes first */
	size_t nr_members;	/* 1 unless merged */
	size_t nr_procs;	/* processes among its stacks */
	int64_t proc_bytes;	/* -a: its process's bytes over the rows (rows are ranked by it) */
};

/*
 * Everything one frame shows. The sampler fills the figures and the report; frame_select() makes
 * the rows. Rows, the filter and the stack screen read the frames of one report.
 */
struct frame {
	const char *version;
	struct snapshot *snap;		/* owned */
	struct report report;		/* over every stack of snap, in its order; owned */
	struct history_trend *trends;	/* owned; trends[i] belongs to snap->stacks[i] */
	struct frame_proc *procs;	/* owned array */
	size_t nr_procs;
	bool all;			/* -a: every process; rows ranked by process */
	double traced_s;
	double interval_s;		/* refresh interval */
	double window_s;		/* span of the growth window (0 before two samples) */
	/* Rates, NAN when unknown: totals' change over the window, calls over the last interval. */
	double bytes_per_s, blocks_per_s;
	double allocs_per_s, frees_per_s;
	double bpf_ns_per_s, bpf_runs_per_s; /* NAN when the kernel's BPF statistics are off */
	double self_cpu_frac;		/* leaktop's CPU time per second of the interval */
	uint64_t self_rss_bytes;	/* 0 when unknown */
	uint64_t map_bytes;		/* kernel memory of leaktop's BPF maps; 0 when unknown */

	/* Set by frame_select(). */
	struct frame_row *rows;		/* owned */
	size_t nr_rows;
	size_t nr_listed;		/* stacks listed, before the filter */
	size_t nr_matched;		/* stacks the filter keeps (nr_listed without a filter) */
	size_t nr_suspects;		/* suspects among the rows */
	enum frame_sort sort;
	const char *filter;		/* not owned; NULL or "" = none */
	bool merged;			/* rows merge equal sites across processes */
	bool show_pid;			/* a PID column: more than one process shown */
	bool show_kind;			/* a KIND column: stacks other than heap (--track) */
	size_t *members;		/* owned; the rows' members */
	struct stack_record *sums;	/* owned; merged rows' records */
	struct history_trend *sum_trends; /* owned; merged rows' trends */
	struct reach_split *sum_reach;	/* owned; merged rows' reachability splits */
};

/*
 * Lists, filters, merges and sorts the rows of f. A stack is listed when it holds memory or
 * allocated within the window (so a churning stack with nothing outstanding stays in view while it
 * churns). With a non-empty filter, only stacks with a frame of the report whose function or module
 * (file name) contains it, ignoring case, are kept: the listed stacks are symbolized for it
 * (without a symbolizer, names are unknown and the filter matches nothing).
 *
 * With merge, the stacks kept whose whole lists of symbolized frames are equal (function, offset,
 * module, file, line, inlined; an unnamed frame by module and file offset, an unmapped one by
 * address) make one row, whatever their processes: the raw addresses of one site differ between
 * processes that load an object at different addresses, the frames do not. The stacks kept are all
 * symbolized for it. Otherwise a row is a stack, and show_pid is set when more than one process is
 * traced or the listed stacks belong to more than one.
 *
 * Replaces f's previous rows. 0 or -ENOMEM (f then has no rows).
 */
int frame_select(struct frame *f, enum frame_sort sort, const char *filter, bool merge);

/* Symbolizes the stacks of rows first .. first + n - 1 (cut at the last row), to show them. 0 or
 * -ENOMEM. */
int frame_symbolize_rows(struct frame *f, size_t first, size_t n);

/* The row of f->rows that shows the stack (pid, stack_id), alone or merged, or -1. */
ssize_t frame_find_row(const struct frame *f, int pid, uint64_t stack_id);

/* The index of (pid, stack_id) in f->snap->stacks (listed or not), or -1. */
ssize_t frame_find_stack(const struct frame *f, int pid, uint64_t stack_id);

/* Frees f, its snapshot, report, trends and rows. NULL-safe. */
void frame_free(struct frame *f);

/* "bytes", "growth", "blocks", "age". */
const char *frame_sort_name(enum frame_sort sort);

/* --- text: the renderer writes spans through a sink; the screen and --batch are two sinks. */

enum frame_style {
	FRAME_NORMAL,
	FRAME_LABEL,	/* a header label */
	FRAME_ALERT,	/* a loss counter that is not zero, the suspect count */
	FRAME_SUSPECT,	/* a leak-suspect row */
	FRAME_TITLE,	/* column titles */
};

struct frame_sink {
	/* Writes len bytes of text (no newline, no control character) in style. */
	void (*put)(void *ctx, const char *text, size_t len, enum frame_style style);
	/* Ends the line. */
	void (*eol)(void *ctx);
	void *ctx;
};

/* Header lines always rendered (the count is fixed, so that a layout can plan for it). */
#define FRAME_HEADER_LINES 6

/* The header: FRAME_HEADER_LINES lines, the most important first. */
void frame_render_header(const struct frame *f, const struct frame_sink *sink);

/*
 * Column titles and rows of f, for a screen `width` columns wide (0: unlimited, every column and
 * the whole site). A PID column leads when f->show_pid, a PROCS column (processes in the row) when
 * f->merged. Narrower screens drop the blocks and age columns, then growth; the sink clips what is
 * still too long. A row's site is the first frame of its stack in the report (its address while the
 * stack is not symbolized: frame_symbolize_rows()).
 */
void frame_render_titles(const struct frame *f, const struct frame_sink *sink, int width);
void frame_render_row(const struct frame *f, size_t row, const struct frame_sink *sink, int width);

/*
 * The full stack of f->snap->stacks[stack], from the report: a summary line, then one line per
 * frame, innermost first, as `#N function+0xoff (module) file:line`, inlined frames marked.
 * Symbolizes it first. 0 or -ENOMEM (nothing rendered).
 */
int frame_render_stack(struct frame *f, size_t stack, const struct frame_sink *sink);

/*
 * The full stack of row `row`: as frame_render_stack() for a row of one stack; for a merged row,
 * its summed figures, the frames, then each of its stacks with its process and figures, most
 * bytes first. 0 or -ENOMEM (nothing rendered).
 */
int frame_render_row_stack(struct frame *f, size_t row, const struct frame_sink *sink);

#endif
