/* series.c: `leaktop report`: stored profiles as one report: growth per stack, or a diff. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/log.h"
#include "model/history.h"
#include "output/profile_read.h"
#include "output/record.h"
#include "output/series.h"

/* What one `leaktop report` holds; series_free() frees it. */
struct series {
	struct profile **profs; /* oldest first */
	size_t nr;
	struct profile *base;
	struct history *hist;  /* the profiles' readings, as a run's */
	struct snapshot *snap; /* the reading the report lists */
	char *source;
};

static void series_free(struct series *s)
{
	for (size_t i = 0; i < s->nr; i++)
		profile_free(s->profs[i]);
	free(s->profs);
	profile_free(s->base);
	history__free(s->hist);
	snapshot__free(s->snap);
	free(s->source);
}

static int cmp_key(int pa, uint64_t ia, int pb, uint64_t ib)
{
	if (pa != pb)
		return pa < pb ? -1 : 1;
	return ia < ib ? -1 : ia > ib;
}

static int stack_key_cmp(const void *a, const void *b)
{
	const struct stack_record *x = &((const struct profile_stack *)a)->rec;
	const struct stack_record *y = &((const struct profile_stack *)b)->rec;

	return cmp_key(x->pid, x->stack_id, y->pid, y->stack_id);
}

/* The stack (pid, id) of p, whose stacks are sorted by that key; NULL when p has none such. */
static const struct profile_stack *find(const struct profile *p, int pid, uint64_t id)
{
	size_t lo = 0, hi = p->nr_stacks;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct stack_record *r = &p->stacks[mid].rec;
		int c = cmp_key(pid, id, r->pid, r->stack_id);

		if (!c)
			return &p->stacks[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Reads one profile, its stacks sorted for find(). -EINVAL (logged) when it is none. */
static int load_one(const char *path, struct profile **out)
{
	char err[512];
	struct profile *p = profile_read(path, err, sizeof(err));

	if (!p) {
		log_error("%s", err);
		return errno == ENOMEM ? -ENOMEM : -EINVAL;
	}
	qsort(p->stacks, p->nr_stacks, sizeof(*p->stacks), stack_key_cmp);
	*out = p;
	return 0;
}

/* dir's profiles (or dir itself, a profile), oldest first. */
static int load_series(struct series *s, const char *dir)
{
	char **names = NULL, *path;
	size_t nr = 0;
	struct stat st;
	int err = 0;

	if (stat(dir, &st)) {
		log_error("cannot read %s: %s", dir, strerror(errno));
		return -EINVAL;
	}
	if (!S_ISDIR(st.st_mode)) {
		s->profs = calloc(1, sizeof(*s->profs));
		if (!s->profs)
			return -ENOMEM;
		err = load_one(dir, &s->profs[0]);
		s->nr = !err;
		return err;
	}
	err = record_list(dir, &names, &nr);
	if (err)
		return -EINVAL;
	if (!nr) {
		log_error("no profiles in %s (`leaktop record` writes leaktop-*.pb.gz there)", dir);
		record_list_free(names, nr);
		return -EINVAL;
	}
	s->profs = calloc(nr, sizeof(*s->profs));
	for (size_t i = 0; !err && i < nr; i++) {
		if (!s->profs || asprintf(&path, "%s/%s", dir, names[i]) < 0) {
			err = -ENOMEM;
			break;
		}
		err = load_one(path, &s->profs[i]);
		s->nr += !err;
		free(path);
	}
	record_list_free(names, nr);
	return err;
}

/* A profile's stacks as a reading, taken when the profile was. NULL on no memory. */
static struct snapshot *reading_of(const struct profile *p)
{
	struct snapshot *snap = snapshot__new();

	if (!snap)
		return NULL;
	snap->taken_ns = p->taken_ns;
	snap->duration_s = p->duration_s;
	snap->totals = p->totals;
	memcpy(snap->stats, p->stats, sizeof(snap->stats));
	for (size_t i = 0; i < p->nr_stacks; i++) {
		if (snapshot__add(snap, &p->stacks[i].rec)) {
			snapshot__free(snap);
			return NULL;
		}
	}
	return snap;
}

/* The report's stacks get their frames: copies, which report_fini() frees. */
static int add_frames(struct report *r, const struct profile *a, const struct profile *b)
{
	struct report_stack *stacks = (struct report_stack *)r->stacks;

	for (size_t i = 0; i < r->nr_stacks; i++) {
		const struct stack_record *rec = stacks[i].rec;
		const struct profile_stack *ps = find(a, rec->pid, rec->stack_id);
		struct sym_frame *frames;

		if (!ps && b)
			ps = find(b, rec->pid, rec->stack_id);
		if (!ps || !ps->nr_frames)
			continue;
		frames = malloc(ps->nr_frames * sizeof(*frames));
		if (!frames)
			return -ENOMEM;
		memcpy(frames, ps->frames, ps->nr_frames * sizeof(*frames));
		stacks[i].frames = frames;
		stacks[i].nr_frames = ps->nr_frames;
	}
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* The pids of the report's stacks, sorted and unique, in a block r owns. */
static int set_pids(struct report *r)
{
	int *pids = calloc(r->nr_stacks + 1, sizeof(*pids));
	size_t n = 0;

	if (!pids)
		return -ENOMEM;
	for (size_t i = 0; i < r->nr_stacks; i++)
		pids[i] = r->stacks[i].rec->pid;
	qsort(pids, r->nr_stacks, sizeof(*pids), cmp_int);
	for (size_t i = 0; i < r->nr_stacks; i++)
		if (!n || pids[n - 1] != pids[i])
			pids[n++] = pids[i];
	r->owned = pids;
	r->pids = pids;
	r->nr_pids = n;
	return 0;
}

/* "2026-11-26 19:20:01" (UTC) of ns since the epoch. */
static void utc(char *buf, size_t len, uint64_t ns)
{
	time_t secs = (time_t)(ns / 1000000000ull);
	struct tm tm;

	if (!gmtime_r(&secs, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "?");
}

/*
 * The newest profile's stacks, their trends from the profiles as a run's readings: tracing's
 * start (nothing held yet), then each profile.
 */
static int build_timeline(struct series *s, struct report *r, size_t top, const char *dir)
{
	struct profile *newest = s->profs[s->nr - 1];
	struct snapshot *start = snapshot__new();
	char first[32], last[32];
	int err;

	s->hist = history__new_covering(HISTORY_RUN_WINDOW);
	if (!start || !s->hist) {
		snapshot__free(start);
		return -ENOMEM;
	}
	start->taken_ns = s->profs[0]->start_time_ns;
	err = start->taken_ns < s->profs[0]->taken_ns ? history__update(s->hist, start) : 0;
	snapshot__free(start);
	for (size_t j = 0; !err && j < s->nr; j++) {
		struct snapshot *snap = reading_of(s->profs[j]);

		if (!snap)
			return -ENOMEM;
		err = history__update(s->hist, snap);
		if (err == -EINVAL) {
			/* Two profiles of one moment (or of two runs, out of order): one reading.
			 */
			log_warn("profile %zu of %s was not taken after the one before it: skipped",
				 j + 1, dir);
			err = 0;
		}
		if (j + 1 < s->nr)
			snapshot__free(snap);
		else
			s->snap = snap;
	}
	if (err)
		return err;
	snapshot__sort(s->snap, SORT_BYTES);
	err = report_init(r, s->snap, NULL, top, s->hist);
	if (!err)
		err = add_frames(r, newest, NULL);
	if (err)
		return err;
	r->duration_s = newest->duration_s;
	r->start_time_ns = newest->start_time_ns;
	r->sample_rate_bytes = newest->sample_rate_bytes;
	utc(first, sizeof(first), s->profs[0]->taken_ns);
	utc(last, sizeof(last), newest->taken_ns);
	if (asprintf(&s->source, "%zu profile%s in %s, %s to %s UTC", s->nr, s->nr == 1 ? "" : "s",
		     dir, first, last) < 0) {
		s->source = NULL;
		return -ENOMEM;
	}
	return 0;
}

static uint64_t less(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* One stack of the diff: cur minus old (either may be NULL), added to snap if anything changed. */
static int diff_stack(const struct profile_stack *cur, const struct profile_stack *old,
		      struct snapshot *snap)
{
	struct stack_record rec = (cur ? cur : old)->rec;

	rec.outstanding_bytes =
	    (cur ? cur->rec.outstanding_bytes : 0) - (old ? old->rec.outstanding_bytes : 0);
	rec.outstanding_allocs =
	    (cur ? cur->rec.outstanding_allocs : 0) - (old ? old->rec.outstanding_allocs : 0);
	rec.allocs = less(cur ? cur->rec.allocs : 0, old ? old->rec.allocs : 0);
	rec.alloc_bytes = less(cur ? cur->rec.alloc_bytes : 0, old ? old->rec.alloc_bytes : 0);
	if (!rec.outstanding_bytes && !rec.outstanding_allocs && !rec.allocs)
		return 0;
	return snapshot__add(snap, &rec);
}

/* The newest profile minus base, stack by stack; growth over the time between them. */
static int build_diff(struct series *s, struct report *r, size_t top, const char *base_path)
{
	struct profile *cur = s->profs[s->nr - 1], *old = s->base;
	double dt = (double)(int64_t)(cur->taken_ns - old->taken_ns) / 1e9;
	char from[32], to[32];
	int err = 0;

	s->snap = snapshot__new();
	if (!s->snap)
		return -ENOMEM;
	for (size_t i = 0; !err && i < cur->nr_stacks; i++) {
		const struct profile_stack *c = &cur->stacks[i];

		err = diff_stack(c, find(old, c->rec.pid, c->rec.stack_id), s->snap);
	}
	for (size_t i = 0; !err && i < old->nr_stacks; i++) {
		const struct profile_stack *o = &old->stacks[i];

		if (!find(cur, o->rec.pid, o->rec.stack_id))
			err = diff_stack(NULL, o, s->snap);
	}
	if (err)
		return err;
	s->snap->duration_s = dt;
	s->snap->totals = (struct snapshot_totals){
	    .outstanding_bytes = cur->totals.outstanding_bytes - old->totals.outstanding_bytes,
	    .outstanding_allocs = cur->totals.outstanding_allocs - old->totals.outstanding_allocs,
	    .allocs = less(cur->totals.allocs, old->totals.allocs),
	    .frees = less(cur->totals.frees, old->totals.frees),
	    .alloc_bytes = less(cur->totals.alloc_bytes, old->totals.alloc_bytes),
	};
	for (int i = 0; i < LT_STAT_MAX; i++)
		s->snap->stats[i] = less(cur->stats[i], old->stats[i]);
	snapshot__sort(s->snap, SORT_BYTES);
	err = report_init(r, s->snap, NULL, top, NULL);
	if (!err)
		err = add_frames(r, cur, old);
	if (err)
		return err;
	for (size_t i = 0; i < r->nr_stacks; i++) {
		struct report_stack *rs = (struct report_stack *)&r->stacks[i];

		rs->trend.growth_bytes_per_s =
		    dt > 0 ? (double)rs->rec->outstanding_bytes / dt : NAN;
	}
	r->start_time_ns = old->taken_ns;
	r->sample_rate_bytes = cur->sample_rate_bytes;
	utc(from, sizeof(from), old->taken_ns);
	utc(to, sizeof(to), cur->taken_ns);
	if (asprintf(&s->source, "difference: the profile of %s UTC minus the base %s (%s UTC)", to,
		     base_path, from) < 0) {
		s->source = NULL;
		return -ENOMEM;
	}
	return 0;
}

int series_report(const struct series_opts *o)
{
	struct series s = {0};
	struct report r = {0};
	int err = load_series(&s, o->dir);

	if (!err && o->base)
		err = load_one(o->base, &s.base);
	if (!err)
		err = o->base ? build_diff(&s, &r, o->top, o->base)
			      : build_timeline(&s, &r, o->top, o->dir);
	if (!err)
		err = set_pids(&r);
	if (err == -ENOMEM)
		log_error("cannot build the report: %s", strerror(ENOMEM));
	if (!err) {
		r.version = o->version;
		r.source = s.source;
		err = output_error(o->out, o->fmt->write(&r, o->out));
		if (err) {
			log_error("cannot write the report to %s: %s", o->out_name, strerror(-err));
			err = err == -EINVAL ? -EIO : err;
		}
	}
	report_fini(&r);
	series_free(&s);
	return err;
}
