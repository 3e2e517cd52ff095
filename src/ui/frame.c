/* frame.c: one frame of the live view: its rows, listed, filtered and sorted, over its report. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "output/output.h"
#include "ui/frame.h"

static const char *const sort_names[FRAME_SORT_MAX] = {
	[FRAME_SORT_BYTES] = "bytes",
	[FRAME_SORT_GROWTH] = "growth",
	[FRAME_SORT_BLOCKS] = "blocks",
	[FRAME_SORT_AGE] = "age",
};

const char *frame_sort_name(enum frame_sort sort)
{
	return (unsigned int)sort < FRAME_SORT_MAX ? sort_names[sort] : "?";
}

static bool listed(const struct stack_record *rec, const struct history_trend *t)
{
	return rec->outstanding_allocs != 0 || rec->outstanding_bytes != 0 || t->active;
}

static bool contains(const char *hay, const char *needle)
{
	return hay && strcasestr(hay, needle);
}

/* Whether a frame of the symbolized stack names filter in its function or module. */
static bool matches(const struct report_stack *rs, const char *filter)
{
	for (size_t k = 0; k < rs->nr_frames; k++) {
		const struct sym_frame *fr = &rs->frames[k];

		if (contains(fr->function, filter) ||
		    (fr->module && contains(output_basename(fr->module), filter)))
			return true;
	}
	return false;
}

/* The rows' orders are the snapshot's (ties: bytes, pid, stack id), but for growth. */
static int cmp_bytes(const void *pa, const void *pb)
{
	const struct frame_row *a = pa, *b = pb;

	return snapshot_cmp(a->rec, b->rec, SORT_BYTES);
}

static int cmp_blocks(const void *pa, const void *pb)
{
	const struct frame_row *a = pa, *b = pb;

	return snapshot_cmp(a->rec, b->rec, SORT_ALLOCS);
}

static int cmp_age(const void *pa, const void *pb)
{
	const struct frame_row *a = pa, *b = pb;

	return snapshot_cmp(a->rec, b->rec, SORT_AGE);
}

/* Growth over the window, from the history: larger first, unknown last, then a suspect first. */
static int cmp_growth(const void *pa, const void *pb)
{
	const struct frame_row *a = pa, *b = pb;
	double ga = a->trend->growth_bytes_per_s, gb = b->trend->growth_bytes_per_s;
	bool ka = isfinite(ga), kb = isfinite(gb);

	if (ka != kb)
		return ka ? -1 : 1;
	if (ka && ga != gb)
		return ga > gb ? -1 : 1;
	/* Among equal growth, a suspect first: that is what the growth sort is for. */
	if (a->trend->suspect != b->trend->suspect)
		return a->trend->suspect ? -1 : 1;
	return cmp_bytes(a, b);
}

static int (*const cmps[FRAME_SORT_MAX])(const void *, const void *) = {
	[FRAME_SORT_BYTES] = cmp_bytes,
	[FRAME_SORT_GROWTH] = cmp_growth,
	[FRAME_SORT_BLOCKS] = cmp_blocks,
	[FRAME_SORT_AGE] = cmp_age,
};

/* Lists stack i unless the filter leaves it out. 0 or -ENOMEM (symbolizing it for the filter). */
static int add_row(struct frame *f, size_t i)
{
	const struct stack_record *rec = &f->snap->stacks[i];
	const struct history_trend *t = &f->trends[i];
	int err;

	if (!listed(rec, t))
		return 0;
	f->nr_listed++;
	if (f->filter) {
		err = report_symbolize(&f->report, i, 1);
		if (err)
			return err;
		if (!matches(&f->report.stacks[i], f->filter))
			return 0;
	}
	f->rows[f->nr_rows++] = (struct frame_row){ .rec = rec, .trend = t, .stack = i };
	f->nr_suspects += t->suspect;
	return 0;
}

int frame_select(struct frame *f, enum frame_sort sort, const char *filter)
{
	size_t n = f->snap ? f->snap->nr_stacks : 0;
	int err = 0;

	free(f->rows);
	f->rows = NULL;
	f->nr_rows = f->nr_listed = f->nr_suspects = 0;
	f->sort = (unsigned int)sort < FRAME_SORT_MAX ? sort : FRAME_SORT_BYTES;
	f->filter = filter && filter[0] ? filter : NULL;
	if (!n)
		return 0;
	/* The report lists every stack of the snapshot, in its order: stack i is report stack i. */
	if (f->report.nr_stacks != n)
		return -EINVAL;
	f->rows = malloc(n * sizeof(*f->rows));
	if (!f->rows)
		return -ENOMEM;
	for (size_t i = 0; i < n && !err; i++)
		err = add_row(f, i);
	if (err) {
		free(f->rows);
		f->rows = NULL;
		f->nr_rows = f->nr_suspects = 0;
		return err;
	}
	if (f->nr_rows > 1)
		qsort(f->rows, f->nr_rows, sizeof(*f->rows), cmps[f->sort]);
	return 0;
}

int frame_symbolize_rows(struct frame *f, size_t first, size_t n)
{
	int err = 0;

	for (size_t i = first; i < f->nr_rows && i - first < n && !err; i++)
		err = report_symbolize(&f->report, f->rows[i].stack, 1);
	return err;
}

ssize_t frame_find_row(const struct frame *f, int pid, uint64_t stack_id)
{
	for (size_t i = 0; i < f->nr_rows; i++)
		if (f->rows[i].rec->pid == pid && f->rows[i].rec->stack_id == stack_id)
			return (ssize_t)i;
	return -1;
}

ssize_t frame_find_stack(const struct frame *f, int pid, uint64_t stack_id)
{
	for (size_t i = 0; f->snap && i < f->snap->nr_stacks; i++) {
		const struct stack_record *rec = &f->snap->stacks[i];

		if (rec->pid == pid && rec->stack_id == stack_id)
			return (ssize_t)i;
	}
	return -1;
}

void frame_free(struct frame *f)
{
	if (!f)
		return;
	report_fini(&f->report);
	snapshot__free(f->snap);
	free(f->trends);
	free(f->procs);
	free(f->rows);
	free(f);
}
