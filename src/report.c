/* report.c: turns the top stacks of a sorted snapshot into a report of symbolized frames. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

/* Inlined frames one return address can expand to; deeper inline chains keep their innermost. */
#define MAX_FRAMES_PER_IP 8

static void fill_unknown(struct sym_frame *frame, uint64_t addr)
{
	memset(frame, 0, sizeof(*frame));
	frame->address = addr;
}

/* Symbolizes one stack into a malloc'ed array of exactly the frames found. */
static int build_stack(struct report_stack *rs, const struct stack_record *rec,
		       struct symbolizer *sym, struct sym_frame *scratch)
{
	uint32_t nr_ips = rec->nr_ips < LT_MAX_DEPTH ? rec->nr_ips : LT_MAX_DEPTH;
	struct sym_frame *frames;
	size_t n = 0, got;
	uint32_t i;

	rs->rec = rec;
	rs->frames = NULL;
	rs->nr_frames = 0;
	for (i = 0; i < nr_ips; i++) {
		got = 0;
		if (sym)
			got = symbolizer__resolve(sym, rec->pid, rec->ips[i], true, scratch + n,
						  MAX_FRAMES_PER_IP);
		if (got > MAX_FRAMES_PER_IP)
			got = MAX_FRAMES_PER_IP;
		if (!got) {
			fill_unknown(&scratch[n], rec->ips[i]);
			got = 1;
		}
		/*
		 * A caller's return address outside every mapped object means the frame-pointer
		 * walk ran into code built without frame pointers: what follows is not a stack.
		 */
		if (sym && i > 0 && !scratch[n].module)
			break;
		n += got;
	}
	if (!n)
		return 0;
	frames = malloc(n * sizeof(*frames));
	if (!frames)
		return -ENOMEM;
	memcpy(frames, scratch, n * sizeof(*frames));
	rs->frames = frames;
	rs->nr_frames = n;
	return 0;
}

int report_build(struct report *r, const struct snapshot *snap, struct symbolizer *sym, size_t top)
{
	struct report_stack *stacks = NULL;
	struct sym_frame *scratch = NULL;
	size_t n, i;
	int err = 0;

	n = top && top < snap->nr_stacks ? top : snap->nr_stacks;
	r->snap = snap;
	r->duration_s = snap->duration_s;
	r->stacks = NULL;
	r->nr_stacks = 0;
	r->nr_stacks_total = snap->nr_stacks;
	if (!n)
		return 0;

	stacks = calloc(n, sizeof(*stacks));
	/* One stack's worth of frames at most; each stack keeps only what it used. */
	scratch = malloc((size_t)LT_MAX_DEPTH * MAX_FRAMES_PER_IP * sizeof(*scratch));
	if (!stacks || !scratch) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		err = build_stack(&stacks[i], &snap->stacks[i], sym, scratch);
		if (err)
			break;
	}
	r->stacks = stacks;
	r->nr_stacks = i;
	stacks = NULL;
	if (err)
		report_fini(r);
out:
	free(stacks);
	free(scratch);
	return err;
}

void report_fini(struct report *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; r->stacks && i < r->nr_stacks; i++)
		free((void *)r->stacks[i].frames);
	free((void *)r->stacks);
	r->stacks = NULL;
	r->nr_stacks = 0;
}
