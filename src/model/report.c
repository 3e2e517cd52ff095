/* report.c: the report model: the stacks of a sorted snapshot with their symbolized frames. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "model/report.h"

static void fill_unknown(struct sym_frame *frame, uint64_t addr)
{
	memset(frame, 0, sizeof(*frame));
	frame->address = addr;
}

/* Symbolizes one stack into a malloc'ed array of exactly the frames found. */
static int build_stack(struct report_stack *rs, struct symbolizer *sym, struct sym_frame *scratch)
{
	const struct stack_record *rec = rs->rec;
	uint32_t nr_ips = rec->nr_ips < LT_MAX_DEPTH ? rec->nr_ips : LT_MAX_DEPTH;
	struct sym_frame *frames;
	size_t n = 0, got;
	uint32_t i;

	for (i = 0; i < nr_ips; i++) {
		got = 0;
		if (sym)
			got = symbolizer__resolve(sym, rec->pid, rec->exec_id, rec->ips[i], true, scratch + n,
						  REPORT_FRAMES_PER_IP);
		if (got > REPORT_FRAMES_PER_IP)
			got = REPORT_FRAMES_PER_IP;
		if (!got) {
			fill_unknown(&scratch[n], rec->ips[i]);
			got = 1;
		}
		if (sym && report_ends_stack(i, scratch[n].module))
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

static int mapping_cmp(const void *pa, const void *pb)
{
	const struct report_mapping *a = pa, *b = pb;

	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	if (a->map.start != b->map.start)
		return a->map.start < b->map.start ? -1 : 1;
	return 0;
}

/*
 * The mappings the frames lie in, asked of the symbolizer now: the process may be gone when a
 * writer runs, and pprof wants the real ranges and build-ids. One entry per frame first, then
 * sorted and made unique: a report holds a few thousand frames at most.
 */
static int collect_mappings(struct report *r, struct symbolizer *sym)
{
	struct report_mapping *maps = NULL;
	size_t nr = 0, cap = 0, i, j, out;

	for (i = 0; i < r->nr_stacks; i++) {
		const struct report_stack *rs = &r->stacks[i];

		for (j = 0; j < rs->nr_frames; j++) {
			if (!rs->frames[j].module)
				continue;
			if (array_reserve(&maps, &cap, nr, sizeof(*maps), 64)) {
				free(maps);
				return -ENOMEM;
			}
			maps[nr].pid = rs->rec->pid;
			if (!symbolizer__mapping(sym, rs->rec->pid, rs->rec->exec_id, rs->frames[j].address,
						 &maps[nr].map))
				nr++;
		}
	}
	if (!nr) {
		free(maps);
		return 0;
	}
	qsort(maps, nr, sizeof(*maps), mapping_cmp);
	for (i = 1, out = 1; i < nr; i++) {
		if (mapping_cmp(&maps[i], &maps[out - 1]))
			maps[out++] = maps[i];
	}
	r->mappings = maps;
	r->nr_mappings = out;
	return 0;
}

int report_init(struct report *r, const struct snapshot *snap, struct symbolizer *sym, size_t top)
{
	struct report_stack *stacks;
	size_t n = top && top < snap->nr_stacks ? top : snap->nr_stacks;

	r->snap = snap;
	r->duration_s = snap->duration_s;
	r->stacks = NULL;
	r->nr_stacks = 0;
	r->nr_stacks_total = snap->nr_stacks;
	r->mappings = NULL;
	r->nr_mappings = 0;
	r->sym = sym;
	r->command_exit = NULL;
	r->scratch = NULL;
	r->owned = NULL;
	if (!n)
		return 0;
	stacks = calloc(n, sizeof(*stacks));
	if (!stacks)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		stacks[i].rec = &snap->stacks[i];
	r->stacks = stacks;
	r->nr_stacks = n;
	return 0;
}

int report_symbolize(struct report *r, size_t first, size_t n)
{
	struct report_stack *stacks = (struct report_stack *)r->stacks;
	size_t end = r->nr_stacks;
	int err;

	if (first < end && n < end - first)
		end = first + n;
	for (size_t i = first; i < end; i++) {
		if (report_stack_symbolized(&stacks[i]))
			continue;
		/* One stack's worth of frames at most; each stack keeps only what it used. */
		if (!r->scratch) {
			r->scratch = malloc((size_t)LT_MAX_DEPTH * REPORT_FRAMES_PER_IP *
					    sizeof(*r->scratch));
			if (!r->scratch)
				return -ENOMEM;
		}
		err = build_stack(&stacks[i], r->sym, r->scratch);
		if (err)
			return err;
	}
	return 0;
}

int report_build(struct report *r, const struct snapshot *snap, struct symbolizer *sym, size_t top)
{
	int err = report_init(r, snap, sym, top);

	if (!err)
		err = report_symbolize(r, 0, r->nr_stacks);
	if (!err && sym)
		err = collect_mappings(r, sym);
	free(r->scratch);
	r->scratch = NULL;
	if (err)
		report_fini(r);
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
	free((void *)r->mappings);
	r->mappings = NULL;
	r->nr_mappings = 0;
	free(r->scratch);
	r->scratch = NULL;
	free(r->owned);
	r->owned = NULL;
}

struct report_proc_counts report_count_procs(const struct report *r)
{
	struct report_proc_counts c = { 0 };

	for (size_t i = 0; i < r->nr_procs; i++) {
		const struct report_proc *p = &r->procs[i];

		if (p->reason[0])
			continue;
		c.traced += !strcmp(p->state, "traced");
		c.exited += !strcmp(p->state, "exited");
		c.given += !p->followed;
		c.followed += p->followed;
		c.execs += p->execs;
		c.gap_s += p->gap_s;
	}
	return c;
}
