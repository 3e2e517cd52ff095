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
	struct profile **profs;		/* oldest first */
	size_t nr;
	struct profile *base;
	/* the report's own */
	struct snapshot snap;		/* totals and stats only */
	struct stack_record *recs;	/* the diff's figures */
	struct report_stack *stacks;
	int *pids;
	double *times_s;
	int64_t *bytes;
	char *source;
};

static void series_free(struct series *s)
{
	for (size_t i = 0; i < s->nr; i++)
		profile_free(s->profs[i]);
	free(s->profs);
	profile_free(s->base);
	free(s->recs);
	free(s->stacks);
	free(s->pids);
	free(s->times_s);
	free(s->bytes);
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

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static int stack_order(const void *a, const void *b)
{
	return snapshot_cmp(((const struct report_stack *)a)->rec,
			    ((const struct report_stack *)b)->rec, SORT_BYTES);
}

/* The pids of the report's stacks, sorted and unique. */
static int set_pids(struct series *s, struct report *r)
{
	size_t n = 0;

	s->pids = calloc(r->nr_stacks_total ? r->nr_stacks_total : 1, sizeof(*s->pids));
	if (!s->pids)
		return -ENOMEM;
	for (size_t i = 0; i < r->nr_stacks_total; i++)
		s->pids[n++] = s->stacks[i].rec->pid;
	qsort(s->pids, n, sizeof(*s->pids), cmp_int);
	r->nr_pids = 0;
	for (size_t i = 0; i < n; i++)
		if (!r->nr_pids || s->pids[r->nr_pids - 1] != s->pids[i])
			s->pids[r->nr_pids++] = s->pids[i];
	r->pids = s->pids;
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

/* The newest profile's stacks with their bytes in each profile, growth and trend over them. */
static int build_timeline(struct series *s, struct report *r, struct report_timeline *tl,
			  const char *dir)
{
	struct profile *newest = s->profs[s->nr - 1];
	size_t n = newest->nr_stacks, nt = s->nr;
	struct history_sample *samples = calloc(nt, sizeof(*samples));
	char first[32], last[32];

	s->stacks = calloc(n ? n : 1, sizeof(*s->stacks));
	s->times_s = calloc(nt, sizeof(*s->times_s));
	s->bytes = calloc(n * nt + 1, sizeof(*s->bytes));
	if (!samples || !s->stacks || !s->times_s || !s->bytes) {
		free(samples);
		return -ENOMEM;
	}
	for (size_t j = 0; j < nt; j++)
		s->times_s[j] = (double)(int64_t)(s->profs[j]->taken_ns - s->profs[0]->taken_ns) / 1e9;
	for (size_t i = 0; i < n; i++) {
		struct profile_stack *ps = &newest->stacks[i];
		struct history_trend trend;

		for (size_t j = 0; j < nt; j++) {
			const struct profile_stack *q = find(s->profs[j], ps->rec.pid, ps->rec.stack_id);

			samples[j] = (struct history_sample){ .t_ns = s->profs[j]->taken_ns,
							      .bytes = q ? q->rec.outstanding_bytes : 0,
							      .allocs = q ? q->rec.allocs : 0 };
		}
		history_trend_of(samples, nt, &trend);
		ps->rec.growth_bytes_per_s = trend.growth_bytes_per_s;
		s->stacks[i] = (struct report_stack){ &ps->rec, ps->frames, ps->nr_frames };
	}
	free(samples);
	qsort(s->stacks, n, sizeof(*s->stacks), stack_order);
	/* The rows in the report's order, each found again by its stack. */
	for (size_t i = 0; i < n; i++) {
		const struct stack_record *rec = s->stacks[i].rec;

		for (size_t j = 0; j < nt; j++) {
			const struct profile_stack *q = find(s->profs[j], rec->pid, rec->stack_id);

			s->bytes[i * nt + j] = q ? q->rec.outstanding_bytes : 0;
		}
	}
	*tl = (struct report_timeline){ .nr_times = nt, .times_s = s->times_s, .bytes = s->bytes };
	r->timeline = tl;
	r->nr_stacks_total = n;
	r->duration_s = newest->duration_s;
	r->start_time_ns = newest->start_time_ns;
	r->sample_rate_bytes = newest->sample_rate_bytes;
	s->snap.totals = newest->totals;
	memcpy(s->snap.stats, newest->stats, sizeof(s->snap.stats));
	utc(first, sizeof(first), s->profs[0]->taken_ns);
	utc(last, sizeof(last), newest->taken_ns);
	if (asprintf(&s->source, "%zu profile%s in %s, %s to %s UTC", nt, nt == 1 ? "" : "s", dir,
		     first, last) < 0) {
		s->source = NULL;
		return -ENOMEM;
	}
	return 0;
}

static uint64_t less(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* One stack of the diff: cur minus old (either may be NULL); false when nothing changed. */
static bool diff_stack(const struct profile_stack *cur, const struct profile_stack *old, double dt,
		       struct stack_record *out, struct report_stack *rs)
{
	const struct profile_stack *any = cur ? cur : old;

	*out = any->rec;
	out->outstanding_bytes = (cur ? cur->rec.outstanding_bytes : 0) -
				 (old ? old->rec.outstanding_bytes : 0);
	out->outstanding_allocs = (cur ? cur->rec.outstanding_allocs : 0) -
				  (old ? old->rec.outstanding_allocs : 0);
	out->allocs = less(cur ? cur->rec.allocs : 0, old ? old->rec.allocs : 0);
	out->alloc_bytes = less(cur ? cur->rec.alloc_bytes : 0, old ? old->rec.alloc_bytes : 0);
	out->growth_bytes_per_s = dt > 0 ? (double)out->outstanding_bytes / dt : NAN;
	*rs = (struct report_stack){ out, any->frames, any->nr_frames };
	return out->outstanding_bytes || out->outstanding_allocs || out->allocs;
}

/* The newest profile minus base, stack by stack. */
static int build_diff(struct series *s, struct report *r, const char *base_path)
{
	struct profile *cur = s->profs[s->nr - 1], *old = s->base;
	size_t cap = cur->nr_stacks + old->nr_stacks, n = 0;
	double dt = (double)(int64_t)(cur->taken_ns - old->taken_ns) / 1e9;
	char from[32], to[32];

	s->recs = calloc(cap ? cap : 1, sizeof(*s->recs));
	s->stacks = calloc(cap ? cap : 1, sizeof(*s->stacks));
	if (!s->recs || !s->stacks)
		return -ENOMEM;
	for (size_t i = 0; i < cur->nr_stacks; i++) {
		const struct profile_stack *c = &cur->stacks[i];

		n += diff_stack(c, find(old, c->rec.pid, c->rec.stack_id), dt, &s->recs[n],
				&s->stacks[n]);
	}
	for (size_t i = 0; i < old->nr_stacks; i++) {
		const struct profile_stack *o = &old->stacks[i];

		if (!find(cur, o->rec.pid, o->rec.stack_id))
			n += diff_stack(NULL, o, dt, &s->recs[n], &s->stacks[n]);
	}
	qsort(s->stacks, n, sizeof(*s->stacks), stack_order);
	r->nr_stacks_total = n;
	r->duration_s = dt;
	r->start_time_ns = old->taken_ns;
	r->sample_rate_bytes = cur->sample_rate_bytes;
	s->snap.totals = (struct snapshot_totals){
		.outstanding_bytes = cur->totals.outstanding_bytes - old->totals.outstanding_bytes,
		.outstanding_allocs = cur->totals.outstanding_allocs - old->totals.outstanding_allocs,
		.allocs = less(cur->totals.allocs, old->totals.allocs),
		.frees = less(cur->totals.frees, old->totals.frees),
		.alloc_bytes = less(cur->totals.alloc_bytes, old->totals.alloc_bytes),
	};
	for (int i = 0; i < LT_STAT_MAX; i++)
		s->snap.stats[i] = less(cur->stats[i], old->stats[i]);
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
	struct series s = { 0 };
	struct report_timeline tl;
	struct report r = { .version = o->version, .snap = &s.snap };
	int err = load_series(&s, o->dir);

	if (!err && o->base)
		err = load_one(o->base, &s.base);
	if (!err)
		err = o->base ? build_diff(&s, &r, o->base) : build_timeline(&s, &r, &tl, o->dir);
	if (!err)
		err = set_pids(&s, &r);
	if (err == -ENOMEM)
		log_error("cannot build the report: %s", strerror(ENOMEM));
	if (!err) {
		r.stacks = s.stacks;
		r.nr_stacks = o->top && o->top < r.nr_stacks_total ? o->top : r.nr_stacks_total;
		r.source = s.source;
		s.snap.duration_s = r.duration_s;
		err = output_error(o->out, o->fmt->write(&r, o->out));
		if (err) {
			log_error("cannot write the report to %s: %s", o->out_name, strerror(-err));
			err = err == -EINVAL ? -EIO : err;
		}
	}
	series_free(&s);
	return err;
}
