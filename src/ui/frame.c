/* frame.c: one frame of the live view: its rows, listed, filtered and sorted, over its report. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "base/hashtab.h"
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

/*
 * -a (no process list, many processes): rows grouped by process, the processes ranked by the
 * bytes of their rows (then pid), each one's rows in the order asked.
 */
static int cmp_by_process(const void *pa, const void *pb, void *sort)
{
	const struct frame_row *a = pa, *b = pb;

	if (a->proc_bytes != b->proc_bytes)
		return a->proc_bytes > b->proc_bytes ? -1 : 1;
	if (a->rec->pid != b->rec->pid)
		return a->rec->pid < b->rec->pid ? -1 : 1;
	return cmps[*(const enum frame_sort *)sort](a, b);
}

static int rank_processes(struct frame *f)
{
	struct hashtab *sums = hashtab__new(64);
	int err = sums ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < f->nr_rows; i++) {
		uint64_t *v = hashtab__find(sums, (uint32_t)f->rows[i].rec->pid);

		if (v)
			*v += (uint64_t)f->rows[i].rec->outstanding_bytes;
		else
			err = hashtab__put(sums, (uint32_t)f->rows[i].rec->pid,
					   (uint64_t)f->rows[i].rec->outstanding_bytes);
	}
	for (size_t i = 0; !err && i < f->nr_rows; i++)
		f->rows[i].proc_bytes =
			(int64_t)*hashtab__find(sums, (uint32_t)f->rows[i].rec->pid);
	hashtab__free(sums);
	if (!err)
		qsort_r(f->rows, f->nr_rows, sizeof(*f->rows), cmp_by_process, &f->sort);
	return err;
}

/* --- merged rows: one per site, whatever the processes */

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* Whether two symbolized frames name the same code: see frame_select(). */
static bool same_frame(const struct sym_frame *a, const struct sym_frame *b)
{
	if (a->line != b->line || a->inlined != b->inlined || !same_str(a->function, b->function) ||
	    !same_str(a->module, b->module) || !same_str(a->file, b->file))
		return false;
	if (a->function)
		return a->offset == b->offset;
	if (a->module)
		return a->module_offset == b->module_offset;
	return a->address == b->address;
}

static bool same_site(const struct report_stack *a, const struct report_stack *b)
{
	if (a->nr_frames != b->nr_frames || a->rec->kind != b->rec->kind)
		return false;
	for (size_t k = 0; k < a->nr_frames; k++) {
		if (!same_frame(&a->frames[k], &b->frames[k]))
			return false;
	}
	return true;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
	return s ? fnv1a_bytes(h, s, strlen(s) + 1) : fnv1a_u64(h, 0);
}

/* A hash of what same_site() compares. */
static uint64_t site_hash(const struct report_stack *rs)
{
	uint64_t h = fnv1a_u64(FNV1A_SEED, rs->nr_frames << 8 | rs->rec->kind);

	for (size_t k = 0; k < rs->nr_frames; k++) {
		const struct sym_frame *fr = &rs->frames[k];

		h = hash_str(h, fr->function);
		h = hash_str(h, fr->module);
		h = hash_str(h, fr->file);
		h = fnv1a_u64(h, (uint64_t)fr->line << 1 | fr->inlined);
		h = fnv1a_u64(h, fr->function ? fr->offset
					      : fr->module ? fr->module_offset : fr->address);
	}
	return h;
}

struct site_match {
	const struct report *report;
	const size_t *firsts;		/* each site's first stack */
	const struct report_stack *rs;	/* the stack looked up */
};

static bool site_matches(uint64_t site, const void *ctx)
{
	const struct site_match *m = ctx;

	return same_site(&m->report->stacks[m->firsts[site]], m->rs);
}

/*
 * site[k] = the site of stack f->members[k], sites numbered from 0 in the order they first come;
 * firsts[s] = the first stack of site s. 0 or -ENOMEM (symbolizing, or the table).
 */
static int find_sites(struct frame *f, size_t *site, size_t *firsts, size_t *nr_sites)
{
	struct hashtab *t = hashtab__new(f->nr_matched);
	struct site_match m = { .report = &f->report, .firsts = firsts };
	int err = t ? 0 : -ENOMEM;
	uint64_t *found, h;

	*nr_sites = 0;
	for (size_t k = 0; k < f->nr_matched && !err; k++) {
		size_t i = f->members[k];

		err = report_symbolize(&f->report, i, 1);
		if (err)
			break;
		m.rs = &f->report.stacks[i];
		h = site_hash(m.rs);
		found = hashtab__find_match(t, h, site_matches, &m);
		if (found) {
			site[k] = (size_t)*found;
			continue;
		}
		firsts[*nr_sites] = i;
		site[k] = *nr_sites;
		err = hashtab__add(t, h, (*nr_sites)++);
	}
	hashtab__free(t);
	return err;
}

/* a + b, where NAN is unknown: the sum of what is known, NAN when nothing is. */
static double add_known(double a, double b)
{
	if (!isfinite(a))
		return b;
	return isfinite(b) ? a + b : a;
}

/* Adds the figures of stack i to the merged row's record, split (the record's) and trend. */
static void add_to_sum(const struct frame *f, size_t i, struct stack_record *sum,
		       struct reach_split *split, struct history_trend *t)
{
	const struct stack_record *rec = &f->snap->stacks[i];
	const struct history_trend *rt = &f->trends[i];

	sum->outstanding_bytes += rec->outstanding_bytes;
	sum->outstanding_allocs += rec->outstanding_allocs;
	sum->allocs += rec->allocs;
	sum->alloc_bytes += rec->alloc_bytes;
	if (rec->reach) {
		reach_split_add(split, rec->reach);
		sum->reach = split;
	}
	if (rec->oldest_age_s > sum->oldest_age_s)
		sum->oldest_age_s = rec->oldest_age_s;
	if (rec->last_alloc_ns > sum->last_alloc_ns)
		sum->last_alloc_ns = rec->last_alloc_ns;
	t->growth_bytes_per_s = add_known(t->growth_bytes_per_s, rt->growth_bytes_per_s);
	if (rt->nr_samples > t->nr_samples)
		t->nr_samples = rt->nr_samples;
	if (rt->window_s > t->window_s)
		t->window_s = rt->window_s;
	t->suspect |= rt->suspect;
	t->active |= rt->active;
}

static int cmp_int(const void *pa, const void *pb)
{
	int a = *(const int *)pa, b = *(const int *)pb;

	return (a > b) - (a < b);
}

/* The processes among n stacks (pids: room for n). */
static size_t count_procs(const struct frame *f, const size_t *stacks, size_t n, int *pids)
{
	size_t nr = n ? 1 : 0;

	for (size_t k = 0; k < n; k++)
		pids[k] = f->snap->stacks[stacks[k]].pid;
	qsort(pids, n, sizeof(*pids), cmp_int);
	for (size_t k = 1; k < n; k++)
		nr += pids[k] != pids[k - 1];
	return nr;
}

/* Row s over the stacks members[0 .. n - 1], its sums in f->sums[s] and f->sum_trends[s]. */
static void merged_row(struct frame *f, size_t s, const size_t *members, size_t n, int *pids)
{
	struct stack_record *sum = &f->sums[s];
	struct history_trend *t = &f->sum_trends[s];
	struct reach_split *split = &f->sum_reach[s];

	*sum = f->snap->stacks[members[0]];
	*t = f->trends[members[0]];
	*split = sum->reach ? *sum->reach : (struct reach_split){ 0 };
	if (sum->reach)
		sum->reach = split;
	for (size_t k = 1; k < n; k++)
		add_to_sum(f, members[k], sum, split, t);
	f->rows[s] = (struct frame_row){ .rec = sum, .trend = t, .stack = members[0],
					 .members = members, .nr_members = n,
					 .nr_procs = count_procs(f, members, n, pids) };
	f->nr_suspects += t->suspect;
}

/*
 * One row per site among the stacks kept (f->members, in the snapshot's order), its stacks in
 * that order too. 0 or -ENOMEM.
 */
static int merge_rows(struct frame *f)
{
	size_t n = f->nr_matched, nr_sites = 0, *site = NULL, *firsts = NULL, *end = NULL;
	size_t *sorted = NULL;
	int *pids = NULL, err = -ENOMEM;

	if (!n)
		return 0;
	site = malloc(n * sizeof(*site));
	firsts = malloc(n * sizeof(*firsts));
	end = calloc(n, sizeof(*end));
	sorted = malloc(n * sizeof(*sorted));
	pids = malloc(n * sizeof(*pids));
	if (!site || !firsts || !end || !sorted || !pids)
		goto out;
	err = find_sites(f, site, firsts, &nr_sites);
	if (err)
		goto out;
	err = -ENOMEM;
	f->sums = malloc(nr_sites * sizeof(*f->sums));
	f->sum_trends = malloc(nr_sites * sizeof(*f->sum_trends));
	f->sum_reach = malloc(nr_sites * sizeof(*f->sum_reach));
	if (!f->sums || !f->sum_trends || !f->sum_reach)
		goto out;
	/* A counting sort by site: end[s] is where site s's stacks end once they are placed. */
	for (size_t k = 0; k < n; k++)
		end[site[k]]++;
	for (size_t s = 1; s < nr_sites; s++)
		end[s] += end[s - 1];
	for (size_t k = n; k-- > 0;)
		sorted[--end[site[k]]] = f->members[k];
	for (size_t s = 0; s < nr_sites; s++) {
		size_t last = s + 1 < nr_sites ? end[s + 1] : n;

		merged_row(f, s, sorted + end[s], last - end[s], pids + end[s]);
	}
	f->nr_rows = nr_sites;
	free(f->members);
	f->members = sorted;
	sorted = NULL;
	err = 0;
out:
	free(site);
	free(firsts);
	free(end);
	free(sorted);
	free(pids);
	return err;
}

/* Keeps listed stack i unless the filter leaves it out. 0 or -ENOMEM (symbolizing it). */
static int keep_stack(struct frame *f, size_t i, int *pid, bool *many_pids)
{
	const struct stack_record *rec = &f->snap->stacks[i];
	int err;

	if (!listed(rec, &f->trends[i]))
		return 0;
	if (!f->nr_listed++)
		*pid = rec->pid;
	else if (rec->pid != *pid)
		*many_pids = true;
	if (f->filter) {
		err = report_symbolize(&f->report, i, 1);
		if (err)
			return err;
		if (!matches(&f->report.stacks[i], f->filter))
			return 0;
	}
	f->members[f->nr_matched++] = i;
	return 0;
}

/* One row per stack kept. */
static void rows_of_stacks(struct frame *f)
{
	for (size_t k = 0; k < f->nr_matched; k++) {
		size_t i = f->members[k];

		f->rows[k] = (struct frame_row){ .rec = &f->snap->stacks[i], .trend = &f->trends[i],
						 .stack = i, .members = &f->members[k],
						 .nr_members = 1, .nr_procs = 1 };
		f->nr_suspects += f->trends[i].suspect;
	}
	f->nr_rows = f->nr_matched;
}

static void drop_rows(struct frame *f)
{
	free(f->rows);
	free(f->members);
	free(f->sums);
	free(f->sum_trends);
	free(f->sum_reach);
	f->rows = NULL;
	f->members = NULL;
	f->sums = NULL;
	f->sum_trends = NULL;
	f->sum_reach = NULL;
	f->nr_rows = f->nr_listed = f->nr_matched = f->nr_suspects = 0;
}

int frame_select(struct frame *f, enum frame_sort sort, const char *filter, bool merge)
{
	size_t n = f->snap ? f->snap->nr_stacks : 0;
	bool many_pids = false;
	int pid = 0, err = 0;

	drop_rows(f);
	f->sort = (unsigned int)sort < FRAME_SORT_MAX ? sort : FRAME_SORT_BYTES;
	f->filter = filter && filter[0] ? filter : NULL;
	f->merged = merge;
	f->show_pid = !merge && f->nr_procs > 1;
	f->show_kind = false;
	for (size_t i = 0; i < n; i++)
		f->show_kind |= f->snap->stacks[i].kind != LT_TRACK_HEAP;
	if (!n)
		return 0;
	/* The report lists every stack of the snapshot, in its order: stack i is report stack i. */
	if (f->report.nr_stacks != n)
		return -EINVAL;
	f->rows = malloc(n * sizeof(*f->rows));
	f->members = malloc(n * sizeof(*f->members));
	if (!f->rows || !f->members)
		err = -ENOMEM;
	for (size_t i = 0; i < n && !err; i++)
		err = keep_stack(f, i, &pid, &many_pids);
	if (!err && merge)
		err = merge_rows(f);
	else if (!err)
		rows_of_stacks(f);
	if (err) {
		drop_rows(f);
		return err;
	}
	f->show_pid |= !merge && many_pids;
	if (!merge && many_pids && f->all)
		err = rank_processes(f);
	/* The bytes order of a reading is often theirs already. */
	else if (f->nr_rows > 1 &&
		 !array_sorted(f->rows, f->nr_rows, sizeof(*f->rows), cmps[f->sort]))
		qsort(f->rows, f->nr_rows, sizeof(*f->rows), cmps[f->sort]);
	if (err)
		drop_rows(f);
	return err;
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
	for (size_t i = 0; i < f->nr_rows; i++) {
		for (size_t k = 0; k < f->rows[i].nr_members; k++) {
			const struct stack_record *rec = &f->snap->stacks[f->rows[i].members[k]];

			if (rec->pid == pid && rec->stack_id == stack_id)
				return (ssize_t)i;
		}
	}
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
	drop_rows(f);
	free(f);
}
