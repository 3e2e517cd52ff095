/* frame.c: one frame of the live view and its text, for the screen and --batch. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fmt.h"
#include "ui/frame.h"
#include "output/output.h"

/* Inlined frames one return address can expand to, as in report.c. */
#define MAX_FRAMES_PER_IP 8

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


/* "+1.5 KiB/s", "0 B/s", "-12 B/s"; "-" when unknown. Below half a byte a second, the sign says
 * nothing: such a rate is 0, as trend_word() calls it flat. */
static void put_rate(char *buf, size_t len, double v)
{
	fmt_rate(buf, len, fabs(v) < 0.5 ? 0 : v);
}

/* --- rows */

static bool listed(const struct stack_record *rec, const struct history_trend *t)
{
	return rec->outstanding_allocs != 0 || rec->outstanding_bytes != 0 || t->active;
}

static bool contains(const char *hay, const char *needle)
{
	return hay && strcasestr(hay, needle);
}

static bool matches(const struct stack_record *rec, const char *filter, struct symbolizer *sym,
		    struct sym_frame *frames)
{
	uint32_t nr_ips = rec->nr_ips < LT_MAX_DEPTH ? rec->nr_ips : LT_MAX_DEPTH;

	if (!sym)
		return false;
	for (uint32_t i = 0; i < nr_ips; i++) {
		size_t n = symbolizer__resolve(sym, rec->pid, rec->ips[i], true, frames,
					       MAX_FRAMES_PER_IP);

		/* As in the reports: past a caller outside every mapping, no stack was walked. */
		if (i > 0 && (!n || !frames[0].module))
			break;
		for (size_t k = 0; k < n; k++) {
			const char *mod = frames[k].module;

			if (contains(frames[k].function, filter) ||
			    (mod && contains(output_basename(mod), filter)))
				return true;
		}
	}
	return false;
}

static int cmp_i64(int64_t a, int64_t b)
{
	return a > b ? -1 : a < b ? 1 : 0;
}

/* Larger first; unknown values after every known one. */
static int cmp_known(double a, bool a_known, double b, bool b_known)
{
	if (a_known != b_known)
		return a_known ? -1 : 1;
	if (!a_known || a == b)
		return 0;
	return a > b ? -1 : 1;
}

/* Ties as in snapshot.c: bytes, then pid, then stack id, so that rows keep their order. */
static int cmp_ties(const struct frame_row *a, const struct frame_row *b)
{
	int c = cmp_i64(a->rec->outstanding_bytes, b->rec->outstanding_bytes);

	if (c)
		return c;
	if (a->rec->pid != b->rec->pid)
		return a->rec->pid < b->rec->pid ? -1 : 1;
	if (a->rec->stack_id != b->rec->stack_id)
		return a->rec->stack_id < b->rec->stack_id ? -1 : 1;
	return 0;
}

static int cmp_bytes(const void *pa, const void *pb)
{
	return cmp_ties(pa, pb);
}

static int cmp_growth(const void *pa, const void *pb)
{
	const struct frame_row *a = pa, *b = pb;
	double ga = a->trend->growth_bytes_per_s, gb = b->trend->growth_bytes_per_s;
	int c = cmp_known(ga, isfinite(ga), gb, isfinite(gb));

	/* Among equal growth, a suspect first: that is what the growth sort is for. */
	if (!c && a->trend->suspect != b->trend->suspect)
		c = a->trend->suspect ? -1 : 1;
	return c ? c : cmp_ties(a, b);
}

static int cmp_blocks(const void *pa, const void *pb)
{
	const struct frame_row *a = pa, *b = pb;
	int c = cmp_i64(a->rec->outstanding_allocs, b->rec->outstanding_allocs);

	return c ? c : cmp_ties(a, b);
}

static int cmp_age(const void *pa, const void *pb)
{
	const struct frame_row *a = pa, *b = pb;
	int c = cmp_known(a->rec->oldest_age_s, a->rec->oldest_age_s >= 0, b->rec->oldest_age_s,
			  b->rec->oldest_age_s >= 0);

	return c ? c : cmp_ties(a, b);
}

int frame_select(struct frame *f, enum frame_sort sort, const char *filter, struct symbolizer *sym)
{
	static int (*const cmps[FRAME_SORT_MAX])(const void *, const void *) = {
		[FRAME_SORT_BYTES] = cmp_bytes,
		[FRAME_SORT_GROWTH] = cmp_growth,
		[FRAME_SORT_BLOCKS] = cmp_blocks,
		[FRAME_SORT_AGE] = cmp_age,
	};
	size_t n = f->snap ? f->snap->nr_stacks : 0;
	struct sym_frame *scratch = NULL;

	free(f->rows);
	f->rows = NULL;
	f->nr_rows = f->nr_listed = f->nr_suspects = 0;
	f->sort = (unsigned int)sort < FRAME_SORT_MAX ? sort : FRAME_SORT_BYTES;
	f->filter = filter && filter[0] ? filter : NULL;
	if (!n)
		return 0;
	f->rows = malloc(n * sizeof(*f->rows));
	if (f->filter)
		scratch = malloc(MAX_FRAMES_PER_IP * sizeof(*scratch));
	if (!f->rows || (f->filter && !scratch)) {
		free(f->rows);
		free(scratch);
		f->rows = NULL;
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct stack_record *rec = &f->snap->stacks[i];
		const struct history_trend *t = &f->trends[i];

		if (!listed(rec, t))
			continue;
		f->nr_listed++;
		if (f->filter && !matches(rec, f->filter, sym, scratch))
			continue;
		f->rows[f->nr_rows++] = (struct frame_row){ .rec = rec, .trend = t };
		f->nr_suspects += t->suspect;
	}
	free(scratch);
	if (f->nr_rows > 1)
		qsort(f->rows, f->nr_rows, sizeof(*f->rows), cmps[f->sort]);
	return 0;
}

ssize_t frame_find_row(const struct frame *f, int pid, uint64_t stack_id)
{
	for (size_t i = 0; i < f->nr_rows; i++)
		if (f->rows[i].rec->pid == pid && f->rows[i].rec->stack_id == stack_id)
			return (ssize_t)i;
	return -1;
}

const struct stack_record *frame_find_stack(const struct frame *f, int pid, uint64_t stack_id,
					    const struct history_trend **trend)
{
	for (size_t i = 0; f->snap && i < f->snap->nr_stacks; i++) {
		const struct stack_record *rec = &f->snap->stacks[i];

		if (rec->pid == pid && rec->stack_id == stack_id) {
			if (trend)
				*trend = &f->trends[i];
			return rec;
		}
	}
	return NULL;
}

void frame__free(struct frame *f)
{
	if (!f)
		return;
	snapshot__free(f->snap);
	free(f->trends);
	free(f->procs);
	free(f->rows);
	free(f);
}

/* --- text */

static void put(const struct frame_sink *sink, enum frame_style style, const char *s)
{
	sink->put(sink->ctx, s, strlen(s), style);
}

static void putf(const struct frame_sink *sink, enum frame_style style, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void putf(const struct frame_sink *sink, enum frame_style style, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* Only numbers and short words come through here: a cut is a clipped cell, no more. */
	sink->put(sink->ctx, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1, style);
}

struct styled {
	const struct frame_sink *sink;
	enum frame_style style;
};

static void styled_put(void *ctx, const char *text, size_t len)
{
	const struct styled *st = ctx;

	st->sink->put(st->sink->ctx, text, len, st->style);
}

/* Names come from the traced program's files: control characters become '?'. */
static void put_clean(const struct frame_sink *sink, enum frame_style style, const char *s)
{
	struct styled st = { sink, style };

	output_put_clean(s, styled_put, &st);
}

static void put_rate_figure(const struct frame_sink *sink, enum frame_style style, double v,
			    const char *unit)
{
	if (isfinite(v))
		putf(sink, style, "%s%.1f %s", v > 0 ? "+" : "", v, unit);
	else
		putf(sink, style, "- %s", unit);
}

void frame_render_header(const struct frame *f, const struct frame_sink *sink)
{
	static const struct snapshot empty;
	const struct snapshot *snap = f->snap ? f->snap : &empty;
	char a[48], b[48];
	size_t i, k;

	/* 1: who, for how long, how the view is set */
	putf(sink, FRAME_LABEL, "leaktop %s", f->version ? f->version : "");
	put(sink, FRAME_NORMAL, f->nr_procs > 1 ? "  pids" : "  pid");
	for (i = 0; i < f->nr_procs; i++) {
		putf(sink, FRAME_NORMAL, "%s %d (", i ? "," : "", f->procs[i].pid);
		put_clean(sink, FRAME_NORMAL, f->procs[i].comm ? f->procs[i].comm : "?");
		put(sink, FRAME_NORMAL, f->procs[i].exited ? ", exited)" : ")");
	}
	fmt_duration(a, sizeof(a), f->traced_s);
	putf(sink, FRAME_NORMAL, "  traced %s  refresh %.1fs  window %.1fs  sort %s", a,
	     f->interval_s, f->window_s, frame_sort_name(f->sort));
	if (f->filter) {
		put(sink, FRAME_NORMAL, "  filter \"");
		put_clean(sink, FRAME_ALERT, f->filter);
		put(sink, FRAME_NORMAL, "\"");
	}
	sink->eol(sink->ctx);

	/* 2: the heap leaktop accounts for, and how fast it moves */
	put(sink, FRAME_LABEL, "heap   ");
	fmt_bytes(a, sizeof(a), (double)snap->totals.outstanding_bytes);
	putf(sink, FRAME_NORMAL, "%s (%" PRId64 " bytes) in %" PRId64 " blocks, ", a,
	     snap->totals.outstanding_bytes, snap->totals.outstanding_allocs);
	put_rate(a, sizeof(a), f->bytes_per_s);
	putf(sink, FRAME_NORMAL, "%s, ", a);
	put_rate_figure(sink, FRAME_NORMAL, f->blocks_per_s, "blocks/s");
	if (isfinite(f->allocs_per_s) && isfinite(f->frees_per_s))
		putf(sink, FRAME_NORMAL, "; %.0f allocs/s, %.0f frees/s", f->allocs_per_s,
		     f->frees_per_s);
	else
		put(sink, FRAME_NORMAL, "; - allocs/s, - frees/s");
	sink->eol(sink->ctx);

	/* 3: every loss counter; the ones not zero first, so that a narrow screen keeps them */
	put(sink, FRAME_LABEL, "losses ");
	k = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (int s = 0; s < LT_STAT_MAX; s++) {
			uint64_t v = snap->stats[s];

			if (!snapshot_stat_loss((enum lt_stat)s) || (pass == 0) != (v != 0))
				continue;
			putf(sink, v ? FRAME_ALERT : FRAME_NORMAL, "%s%s %" PRIu64, k++ ? ", " : "",
			     snapshot_stat_name((enum lt_stat)s), v);
		}
	}
	putf(sink, FRAME_NORMAL, "; pre-attach frees %" PRIu64,
	     snap->stats[LT_STAT_UNMATCHED_FREES]);
	if (snap->stats[LT_STAT_ALLOCATOR_FREES])
		putf(sink, FRAME_NORMAL, "; allocator frees %" PRIu64,
		     snap->stats[LT_STAT_ALLOCATOR_FREES]);
	sink->eol(sink->ctx);

	/* 4: what the kernel says each process holds, beside what leaktop accounts for */
	put(sink, FRAME_LABEL, "rss    ");
	for (i = 0; i < f->nr_procs; i++) {
		const struct frame_proc *p = &f->procs[i];

		putf(sink, FRAME_NORMAL, "%spid %d ", i ? "; " : "", p->pid);
		if (p->have_mem) {
			fmt_bytes(a, sizeof(a), (double)p->mem.rss_bytes);
			fmt_bytes(b, sizeof(b), (double)p->mem.anon_bytes);
			putf(sink, FRAME_NORMAL, "%s (anon %s), ", a, b);
		} else {
			put(sink, FRAME_NORMAL, p->exited ? "gone, " : "unknown, ");
		}
		fmt_bytes(a, sizeof(a), (double)p->accounted_bytes);
		putf(sink, FRAME_NORMAL, "leaktop accounts for %s", a);
	}
	sink->eol(sink->ctx);

	/* 5: what leaktop itself costs */
	put(sink, FRAME_LABEL, "cost   ");
	if (isfinite(f->bpf_ns_per_s)) {
		putf(sink, FRAME_NORMAL, "BPF %.2f ms/s (%.2f%% of a CPU) in %.0f runs/s",
		     f->bpf_ns_per_s / 1e6, f->bpf_ns_per_s / 1e7, f->bpf_runs_per_s);
		if (f->bpf_runs_per_s >= 1)
			putf(sink, FRAME_NORMAL, ", %.0f ns/run",
			     f->bpf_ns_per_s / f->bpf_runs_per_s);
	} else {
		put(sink, FRAME_NORMAL, "BPF run time unknown (kernel BPF statistics off)");
	}
	fmt_bytes(a, sizeof(a), (double)f->self_rss_bytes);
	if (isfinite(f->self_cpu_frac))
		putf(sink, FRAME_NORMAL, "; leaktop CPU %.1f%%", f->self_cpu_frac * 100);
	if (f->self_rss_bytes)
		putf(sink, FRAME_NORMAL, ", RSS %s", a);
	sink->eol(sink->ctx);

	/* 6: how many rows, and how many of them look like leaks */
	put(sink, FRAME_LABEL, "stacks ");
	putf(sink, FRAME_NORMAL, "%zu listed of %zu", f->nr_listed, snap->nr_stacks);
	if (f->filter)
		putf(sink, FRAME_NORMAL, ", %zu match the filter", f->nr_rows);
	putf(sink, f->nr_suspects ? FRAME_ALERT : FRAME_NORMAL, ", %zu leak suspect%s",
	     f->nr_suspects, f->nr_suspects == 1 ? "" : "s");
	sink->eol(sink->ctx);
}

/* Which columns a width affords. */
struct layout {
	bool blocks, growth, age;
};

static struct layout layout_for(int width)
{
	struct layout l = { true, true, true };

	if (width > 0 && width < 64)
		l.blocks = l.age = false;
	if (width > 0 && width < 44)
		l.growth = false;
	return l;
}

/* Cell formats, shared by the titles and the rows so that they line up. */
#define FMT_BYTES "%10s"
#define FMT_BLOCKS " %9s"
#define FMT_GROWTH " %12s"
#define FMT_TREND "  %-6s"
#define FMT_AGE " %7s"
#define SITE_GAP "  "

void frame_render_titles(const struct frame_sink *sink, int width)
{
	struct layout l = layout_for(width);

	putf(sink, FRAME_TITLE, FMT_BYTES, "BYTES");
	if (l.blocks)
		putf(sink, FRAME_TITLE, FMT_BLOCKS, "BLOCKS");
	if (l.growth)
		putf(sink, FRAME_TITLE, FMT_GROWTH, "GROWTH");
	putf(sink, FRAME_TITLE, FMT_TREND, "TREND");
	if (l.age)
		putf(sink, FRAME_TITLE, FMT_AGE, "OLDEST");
	put(sink, FRAME_TITLE, SITE_GAP "SITE");
	sink->eol(sink->ctx);
}

static const char *trend_word(const struct history_trend *t)
{
	if (t->suspect)
		return "LEAK?";
	if (!isfinite(t->growth_bytes_per_s))
		return "-";
	if (t->growth_bytes_per_s >= 0.5)
		return "grow";
	if (t->growth_bytes_per_s <= -0.5)
		return "shrink";
	return "flat";
}

/* `function (module) file:line` of one frame, or what is known of it. */
static void put_site(const struct frame_sink *sink, enum frame_style style,
		     const struct sym_frame *fr, bool offsets)
{
	struct styled st = { sink, style };

	output_put_frame(fr, !offsets, styled_put, &st);
}

void frame_render_row(const struct frame *f, size_t row, struct symbolizer *sym,
		      const struct frame_sink *sink, int width)
{
	const struct frame_row *r = &f->rows[row];
	const struct stack_record *rec = r->rec;
	enum frame_style style = r->trend->suspect ? FRAME_SUSPECT : FRAME_NORMAL;
	struct layout l = layout_for(width);
	struct sym_frame fr[MAX_FRAMES_PER_IP];
	char a[48];

	fmt_bytes(a, sizeof(a), (double)rec->outstanding_bytes);
	putf(sink, style, FMT_BYTES, a);
	if (l.blocks) {
		snprintf(a, sizeof(a), "%" PRId64, rec->outstanding_allocs);
		putf(sink, style, FMT_BLOCKS, a);
	}
	if (l.growth) {
		put_rate(a, sizeof(a), r->trend->growth_bytes_per_s);
		putf(sink, style, FMT_GROWTH, a);
	}
	putf(sink, style, FMT_TREND, trend_word(r->trend));
	if (l.age) {
		fmt_duration(a, sizeof(a), rec->oldest_age_s);
		putf(sink, style, FMT_AGE, a);
	}
	put(sink, style, SITE_GAP);
	if (!rec->nr_ips) {
		put(sink, style, "[stack not captured: see lost_stacks, stack_table_full]");
	} else if (!sym || !symbolizer__resolve(sym, rec->pid, rec->ips[0], true, fr,
						MAX_FRAMES_PER_IP)) {
		putf(sink, style, "0x%" PRIx64, rec->ips[0]);
	} else {
		put_site(sink, style, &fr[0], false);
	}
	sink->eol(sink->ctx);
}

void frame_render_stack(const struct stack_record *rec, const struct history_trend *trend,
			struct symbolizer *sym, const struct frame_sink *sink)
{
	uint32_t nr_ips = rec->nr_ips < LT_MAX_DEPTH ? rec->nr_ips : LT_MAX_DEPTH;
	struct sym_frame fr[MAX_FRAMES_PER_IP];
	size_t depth = 0;
	char a[48], b[48];

	fmt_bytes(a, sizeof(a), (double)rec->outstanding_bytes);
	putf(sink, trend->suspect ? FRAME_SUSPECT : FRAME_LABEL,
	     "%s (%" PRId64 " bytes) in %" PRId64 " blocks, pid %d", a, rec->outstanding_bytes,
	     rec->outstanding_allocs, rec->pid);
	put_rate(a, sizeof(a), trend->growth_bytes_per_s);
	fmt_duration(b, sizeof(b), rec->oldest_age_s);
	putf(sink, trend->suspect ? FRAME_SUSPECT : FRAME_LABEL,
	     ", growth %s, trend %s, oldest %s", a, trend_word(trend), b);
	sink->eol(sink->ctx);
	fmt_bytes(a, sizeof(a), (double)rec->alloc_bytes);
	putf(sink, FRAME_NORMAL, "%" PRIu64 " allocations (%s) since attach; stack %#" PRIx64,
	     rec->allocs, a, rec->stack_id);
	sink->eol(sink->ctx);
	if (!nr_ips) {
		put(sink, FRAME_NORMAL, "[stack not captured: see lost_stacks, stack_table_full]");
		sink->eol(sink->ctx);
	}
	for (uint32_t i = 0; i < nr_ips; i++) {
		size_t n = sym ? symbolizer__resolve(sym, rec->pid, rec->ips[i], true, fr,
						     MAX_FRAMES_PER_IP)
			       : 0;

		if (!n) {
			memset(fr, 0, sizeof(fr[0]));
			fr[0].address = rec->ips[i];
			n = 1;
		}
		/* As in the reports: past a caller outside every mapping, no stack was walked. */
		if (sym && i > 0 && !fr[0].module)
			break;
		for (size_t k = 0; k < n; k++) {
			putf(sink, FRAME_NORMAL, "#%-3zu ", depth++);
			put_site(sink, FRAME_NORMAL, &fr[k], true);
			sink->eol(sink->ctx);
		}
	}
}
