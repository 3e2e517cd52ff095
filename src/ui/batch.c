/* batch.c: --batch: the live view's frames as plain text, one per interval (like top -b). */
#include <errno.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "output/output.h"
#include "ui/batch.h"

struct batch {
	struct live *live;
	double interval_s;
	uint64_t iterations, frames;
	size_t top;
	FILE *out;
};

static void file_put(void *ctx, const char *text, size_t len, enum frame_style style)
{
	fwrite(text, 1, len, ctx);
}

static void file_eol(void *ctx)
{
	fputc('\n', ctx);
}

static int write_frame(struct frame *f, size_t top, FILE *out)
{
	struct frame_sink sink = { .put = file_put, .eol = file_eol, .ctx = out };
	size_t n = top && top < f->nr_rows ? top : f->nr_rows;
	int err = frame_symbolize_rows(f, 0, n);

	if (err)
		return err;
	frame_render_header(f, &sink);
	fputc('\n', out);
	frame_render_titles(f, &sink, 0);
	for (size_t i = 0; i < n; i++)
		frame_render_row(f, i, &sink, 0);
	if (n < f->nr_rows)
		fprintf(out, "... %zu more rows; -n 0 shows all\n", f->nr_rows - n);
	fputc('\n', out);
	if (fflush(out) || ferror(out)) {
		err = output_error(out, -EIO);
		log_error("cannot write the frames to standard output: %s", strerror(-err));
	}
	return err;
}

static int frame_job(void *ctx)
{
	struct batch *b = ctx;
	struct frame *f = live__sample(b->live, b->interval_s);
	int err;

	if (!f)
		return -errno;
	err = frame_select(f, FRAME_SORT_BYTES, NULL, false);
	if (err)
		log_error("cannot list the stacks: %s", strerror(-err));
	else
		err = write_frame(f, b->top, b->out);
	frame_free(f);
	if (err)
		return err;
	return b->iterations && ++b->frames >= b->iterations ? LOOP_DONE : 0;
}

int batch_run(struct pipeline *p, struct live *live, struct loop *l, double interval_s,
	      uint64_t iterations, size_t top, FILE *out)
{
	struct batch b = { .live = live, .interval_s = interval_s, .iterations = iterations,
			   .top = top, .out = out };
	uint64_t step = (uint64_t)(interval_s * 1e9);

	if (!loop_add(l, frame_job, &b, now_ns() + step, step))
		return -ENOSPC;
	return pipeline_run(p, l);
}
