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

/* Names one stack's frames into scratch (LT_MAX_DEPTH * REPORT_FRAMES_PER_IP of them). How many. */
static size_t name_stack(const struct stack_record *rec, struct symbolizer *sym,
			 struct sym_frame *scratch)
{
	uint32_t nr_ips = rec->nr_ips < LT_MAX_DEPTH ? rec->nr_ips : LT_MAX_DEPTH;
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
	return n;
}

/* Symbolizes one stack into a malloc'ed array of exactly the frames found. */
static int build_stack(struct report_stack *rs, struct symbolizer *sym, struct sym_frame *scratch)
{
	size_t n = name_stack(rs->rec, sym, scratch);
	struct sym_frame *frames;

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

size_t report_frames(const struct report *r, size_t i, const struct sym_frame **frames)
{
	const struct report_stack *rs = &r->stacks[i];

	if (report_stack_symbolized(rs)) {
		*frames = rs->frames;
		return rs->nr_frames;
	}
	*frames = r->scratch;
	return r->scratch ? name_stack(rs->rec, r->sym, r->scratch) : 0;
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

/* The run's window, and whether its readings are enough to judge a trend. */
static void set_window(struct report *r, const struct history *hist)
{
	struct history_span span;

	r->history = hist;
	r->window_s = 0;
	r->window_start_ns = 0;
	r->nr_readings = 0;
	r->judged = false;
	r->nr_suspects = 0;
	if (!hist)
		return;
	history__span(hist, &span);
	r->window_start_ns = span.first_ns;
	r->window_s = (double)(span.last_ns - span.first_ns) / 1e9;
	r->nr_readings = span.nr_updates;
	r->judged = span.nr_updates >= HISTORY_MIN_SAMPLES;
}

/*
 * Which stacks of snap the report lists, in snap's order: all, or under top the suspects first,
 * then the largest others. trends[i] is snap's stack i's.
 */
static size_t pick(const struct snapshot *snap, const struct history_trend *trends, size_t top,
		   size_t *picked)
{
	size_t n = 0, suspects = 0, want_suspects, want_others;

	for (size_t i = 0; trends && i < snap->nr_stacks; i++)
		suspects += trends[i].suspect;
	if (!top || top > snap->nr_stacks)
		top = snap->nr_stacks;
	want_suspects = suspects < top ? suspects : top;
	want_others = top - want_suspects;
	for (size_t i = 0; i < snap->nr_stacks && n < top; i++) {
		size_t *want = trends && trends[i].suspect ? &want_suspects : &want_others;

		if (*want) {
			(*want)--;
			picked[n++] = i;
		}
	}
	return n;
}

int report_init(struct report *r, const struct snapshot *snap, struct symbolizer *sym, size_t top,
		const struct history *hist)
{
	struct history_trend *trends = NULL;
	struct report_stack *stacks;
	size_t *picked = NULL, n;
	int err = -ENOMEM;

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
	r->self_cpu_s = 0;
	r->self_rss_bytes = 0;
	r->source = NULL;
	r->budget = NULL;
	set_window(r, hist);
	if (!snap->nr_stacks)
		return 0;
	/* One stack's worth of frames at most; each stack keeps only what it used. */
	r->scratch = malloc((size_t)LT_MAX_DEPTH * REPORT_FRAMES_PER_IP * sizeof(*r->scratch));
	if (!r->scratch)
		return -ENOMEM;
	picked = malloc(snap->nr_stacks * sizeof(*picked));
	if (!picked)
		return -ENOMEM;
	if (r->judged) {
		trends = malloc(snap->nr_stacks * sizeof(*trends));
		if (!trends)
			goto out;
		history__trends(hist, snap, trends);
		for (size_t i = 0; i < snap->nr_stacks; i++)
			r->nr_suspects += trends[i].suspect;
	}
	n = pick(snap, trends, top, picked);
	stacks = calloc(n, sizeof(*stacks));
	if (!stacks)
		goto out;
	for (size_t i = 0; i < n; i++) {
		stacks[i].rec = &snap->stacks[picked[i]];
		if (trends)
			stacks[i].trend = trends[picked[i]];
		else
			history_trend_of(NULL, 0, &stacks[i].trend);
	}
	r->stacks = stacks;
	r->nr_stacks = n;
	err = 0;
out:
	free(trends);
	free(picked);
	return err;
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
		err = build_stack(&stacks[i], r->sym, r->scratch);
		if (err)
			return err;
	}
	return 0;
}

int report_build(struct report *r, const struct snapshot *snap, struct symbolizer *sym, size_t top,
		 const struct history *hist)
{
	int err = report_init(r, snap, sym, top, hist);

	if (!err)
		err = report_symbolize(r, 0, r->nr_stacks);
	if (!err && sym)
		err = collect_mappings(r, sym);
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

size_t report_stack_timeline(const struct report *r, size_t i, double *t_s, int64_t *bytes)
{
	struct history_sample samples[HISTORY_MAX_WINDOW];
	const struct stack_record *rec = r->stacks[i].rec;
	size_t n;

	if (!r->history)
		return 0;
	n = history__samples(r->history, rec->pid, rec->stack_id, samples);
	for (size_t j = 0; j < n; j++) {
		t_s[j] = (double)(int64_t)(samples[j].t_ns - r->window_start_ns) / 1e9;
		bytes[j] = samples[j].bytes;
	}
	return n;
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
