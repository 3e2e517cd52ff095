/* frame_text.c: the text of a frame (header, rows, a stack), written through a sink. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/fmt.h"
#include "output/output.h"
#include "ui/frame.h"

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

static void eol(const struct frame_sink *sink)
{
	sink->eol(sink->ctx);
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

/* `function (module) file:line` of one frame; with offsets, `function+0xoff` and the whole path. */
static void put_site(const struct frame_sink *sink, enum frame_style style,
		     const struct sym_frame *fr, bool offsets)
{
	struct styled st = { sink, style };

	output_put_frame(fr, !offsets, styled_put, &st);
}

/*
 * "+1.5 KiB/s", "0 B/s", "-12 B/s"; "-" when unknown. Below half a byte a second the sign says
 * nothing: such a rate is 0, as trend_word() calls it flat.
 */
static void put_rate(char *buf, size_t len, double v)
{
	fmt_rate(buf, len, fabs(v) < 0.5 ? 0 : v);
}

static void put_rate_figure(const struct frame_sink *sink, enum frame_style style, double v,
			    const char *unit)
{
	if (isfinite(v))
		putf(sink, style, "%s%.1f %s", v > 0 ? "+" : "", v, unit);
	else
		putf(sink, style, "- %s", unit);
}

/* --- the header, one function per line */

/* Most pids the first line names; more are counted. */
#define HEADER_PIDS 4

/* 1: who, for how long, how the view is set */
static void header_who(const struct frame *f, const struct frame_sink *sink)
{
	char a[FMT_LEN];

	putf(sink, FRAME_LABEL, "leaktop %s", f->version ? f->version : "");
	/* -a: no process list; the rows say whose each stack is */
	put(sink, FRAME_NORMAL, f->all ? "  all processes" : f->nr_procs > 1 ? "  pids" : "  pid");
	for (size_t i = 0; i < f->nr_procs && i < HEADER_PIDS; i++) {
		putf(sink, FRAME_NORMAL, "%s %d (", i ? "," : "", f->procs[i].pid);
		put_clean(sink, FRAME_NORMAL, f->procs[i].comm ? f->procs[i].comm : "?");
		put(sink, FRAME_NORMAL, f->procs[i].exited ? ", exited)" : ")");
	}
	if (f->nr_procs > HEADER_PIDS)
		putf(sink, FRAME_NORMAL, " and %zu more", f->nr_procs - HEADER_PIDS);
	fmt_duration(a, sizeof(a), f->traced_s);
	putf(sink, FRAME_NORMAL, "  traced %s  refresh %.1fs  window %.1fs  sort %s", a,
	     f->interval_s, f->window_s, frame_sort_name(f->sort));
	if (f->merged)
		put(sink, FRAME_NORMAL, "  sites merged");
	if (f->filter) {
		put(sink, FRAME_NORMAL, "  filter \"");
		put_clean(sink, FRAME_ALERT, f->filter);
		put(sink, FRAME_NORMAL, "\"");
	}
	eol(sink);
}

/* 2 (--track): each kind's outstanding figures, in place of the heap's */
static void header_kinds(const struct snapshot *snap, const struct frame_sink *sink)
{
	int64_t bytes[LT_TRACK_MAX] = { 0 }, blocks[LT_TRACK_MAX] = { 0 };
	bool seen[LT_TRACK_MAX] = { false };
	char a[FMT_LEN];
	size_t k = 0;

	for (size_t i = 0; i < snap->nr_stacks; i++) {
		const struct stack_record *r = &snap->stacks[i];

		if (r->kind >= LT_TRACK_MAX)
			continue;
		seen[r->kind] = true;
		bytes[r->kind] += r->outstanding_bytes;
		blocks[r->kind] += r->outstanding_allocs;
	}
	put(sink, FRAME_LABEL, "kinds  ");
	for (uint32_t kind = 0; kind < LT_TRACK_MAX; kind++) {
		if (!seen[kind])
			continue;
		fmt_bytes(a, sizeof(a), (double)bytes[kind]);
		putf(sink, FRAME_NORMAL, "%s%s %s in %" PRId64 " %s", k++ ? "; " : "",
		     snapshot_kind_name(kind), a, blocks[kind],
		     kind == LT_TRACK_FAULTS ? "pages" : "blocks");
	}
	put(sink, FRAME_NORMAL, ", all ");
}

/* 2: the heap leaktop accounts for, and how fast it moves */
static void header_heap(const struct frame *f, const struct snapshot *snap,
			const struct frame_sink *sink)
{
	char a[FMT_LEN];

	/* With other kinds (--track): each kind's figures, then their sum's. */
	if (f->show_kind)
		header_kinds(snap, sink);
	else
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
	if (snap->suppressed.stacks) {
		fmt_bytes(a, sizeof(a), (double)snap->suppressed.bytes);
		putf(sink, FRAME_NORMAL, "; suppressed %" PRIu64 " stack%s, %s",
		     snap->suppressed.stacks, snap->suppressed.stacks == 1 ? "" : "s", a);
	}
	eol(sink);
}

/* 3: every loss counter; the ones not zero first, so that a narrow screen keeps them */
static void header_losses(const struct snapshot *snap, const struct frame_sink *sink)
{
	size_t k = 0;

	put(sink, FRAME_LABEL, "losses ");
	for (int pass = 0; pass < 2; pass++) {
		for (int s = 0; s < LT_STAT_MAX; s++) {
			uint64_t v = snap->stats[s];

			if (!snapshot_stat_loss((enum lt_stat)s) || (pass == 0) != (v != 0))
				continue;
			/* --track's counters and scratch_busy (after them) are named once they count. */
			if (!v && s >= LT_STAT_TRACK_LOST_STACKS)
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
	if (snap->stats[LT_STAT_INHERITED_FREES])
		putf(sink, FRAME_NORMAL, "; inherited frees %" PRIu64,
		     snap->stats[LT_STAT_INHERITED_FREES]);
	if (snap->stats[LT_STAT_EXITED_RELEASED])
		putf(sink, FRAME_NORMAL, "; exited released %" PRIu64,
		     snap->stats[LT_STAT_EXITED_RELEASED]);
	eol(sink);
}

/*
 * 4, for more than one process: which were traced, followed, exited; what the live ones hold
 * beside what leaktop accounts for
 */
static void header_procs(const struct frame *f, const struct frame_sink *sink)
{
	struct report_proc_counts c = report_count_procs(&f->report);
	char a[FMT_LEN], b[FMT_LEN];
	uint64_t rss = 0, anon = 0;
	int64_t accounted = 0;
	unsigned int live = 0;

	for (size_t i = 0; i < f->nr_procs; i++) {
		const struct frame_proc *p = &f->procs[i];

		accounted += p->accounted_bytes;
		if (!p->have_mem)
			continue;
		live++;
		rss += p->mem.rss_bytes;
		anon += p->mem.anon_bytes;
	}
	put(sink, FRAME_LABEL, "procs  ");
	putf(sink, FRAME_NORMAL, "%u traced (%u given, %u followed), %u exited", c.traced, c.given,
	     c.followed, c.exited);
	if (c.execs)
		putf(sink, FRAME_NORMAL, ", %u exec%s", c.execs, c.execs == 1 ? "" : "s");
	if (c.gap_s > 0)
		putf(sink, FRAME_ALERT, ", untraced %.1f ms", c.gap_s * 1e3);
	fmt_bytes(a, sizeof(a), (double)rss);
	fmt_bytes(b, sizeof(b), (double)anon);
	putf(sink, FRAME_NORMAL, "; rss %s (anon %s) in %u live, ", a, b, live);
	fmt_bytes(a, sizeof(a), (double)accounted);
	putf(sink, FRAME_NORMAL, "leaktop accounts for %s", a);
	eol(sink);
}

/* 4: what the kernel says the process holds, beside what leaktop accounts for */
static void header_rss(const struct frame *f, const struct frame_sink *sink)
{
	char a[FMT_LEN], b[FMT_LEN];

	if (f->nr_procs > 1) {
		header_procs(f, sink);
		return;
	}
	put(sink, FRAME_LABEL, "rss    ");
	for (size_t i = 0; i < f->nr_procs; i++) {
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
	eol(sink);
}

/* --max-overhead, on the cost line: the probes' cost against the budget, the rate it led to. */
static void header_budget(const struct report *r, const struct frame_sink *sink)
{
	const struct report_budget *b = r->budget;
	char a[FMT_LEN];

	if (!b)
		return;
	putf(sink, FRAME_NORMAL, "; budget %.3g%%: ", b->max_overhead * 100);
	if (b->entry_probes_over)
		putf(sink, FRAME_ALERT, "OVER, entry probes alone %.1f%%", b->entry_probes * 100);
	else if (b->measured)
		putf(sink, FRAME_NORMAL, "probes %.2f%%", b->overhead * 100);
	else
		put(sink, FRAME_NORMAL, "not measured yet");
	fmt_bytes(a, sizeof(a), (double)r->sample_rate_bytes);
	if (r->sample_rate_bytes)
		putf(sink, FRAME_NORMAL, ", sampling 1 per %s", a);
	else
		put(sink, FRAME_NORMAL, ", every block");
}

/* 5: what leaktop itself costs */
static void header_cost(const struct frame *f, const struct frame_sink *sink)
{
	char a[FMT_LEN];

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
	if (f->map_bytes) {
		fmt_bytes(a, sizeof(a), (double)f->map_bytes);
		putf(sink, FRAME_NORMAL, ", BPF maps %s", a);
	}
	header_budget(&f->report, sink);
	eol(sink);
}

/* 6: how many rows, and how many of them look like leaks */
static void header_stacks(const struct frame *f, const struct snapshot *snap,
			  const struct frame_sink *sink)
{
	put(sink, FRAME_LABEL, "stacks ");
	putf(sink, FRAME_NORMAL, "%zu listed of %zu", f->nr_listed, snap->nr_stacks);
	if (f->filter)
		putf(sink, FRAME_NORMAL, ", %zu match the filter", f->nr_matched);
	if (f->merged)
		putf(sink, FRAME_NORMAL, ", %zu row%s of merged sites", f->nr_rows,
		     f->nr_rows == 1 ? "" : "s");
	putf(sink, f->nr_suspects ? FRAME_ALERT : FRAME_NORMAL, ", %zu leak suspect%s",
	     f->nr_suspects, f->nr_suspects == 1 ? "" : "s");
	eol(sink);
}

void frame_render_header(const struct frame *f, const struct frame_sink *sink)
{
	static const struct snapshot empty;
	const struct snapshot *snap = f->snap ? f->snap : &empty;

	header_who(f, sink);
	header_heap(f, snap, sink);
	header_losses(snap, sink);
	header_rss(f, sink);
	header_cost(f, sink);
	header_stacks(f, snap, sink);
}

/* --- rows */

/* Which columns a width affords. */
struct layout {
	bool pid, procs, kind, blocks, growth, age, lost;
};

/* Cell formats, shared by the titles and the rows so that they line up. */
#define FMT_LEAD "%7s "	/* PID or PROCS */
#define LEAD_WIDTH 8
#define FMT_KIND "%7s"	/* heap, mmap, faults, kernel */
#define KIND_WIDTH 7
#define FMT_BYTES "%10s"
#define FMT_LOST " %10s"
#define LOST_WIDTH 11
#define FMT_BLOCKS " %9s"
#define FMT_GROWTH " %12s"
#define FMT_TREND "  %-6s"
#define FMT_AGE " %7s"
#define SITE_GAP "  "
#define NOT_CAPTURED "[stack not captured: see lost_stacks, stack_table_full]"

/* The leading column stays, whatever the width: it says whose stack a row is. */
static struct layout layout_for(const struct frame *f, int width)
{
	struct layout l = { f->show_pid && !f->merged, f->merged, f->show_kind, true, true, true,
			    f->snap->reach_scans > 0 };

	if (width > 0 && (l.pid || l.procs))
		width = width > LEAD_WIDTH ? width - LEAD_WIDTH : 1;
	if (width > 0 && l.kind)
		width = width > KIND_WIDTH ? width - KIND_WIDTH : 1;
	/* LOST, after a scan, stays where BLOCKS, OLDEST and GROWTH go */
	if (width > 0 && l.lost)
		width = width > LOST_WIDTH ? width - LOST_WIDTH : 1;
	if (width > 0 && width < 64)
		l.blocks = l.age = false;
	if (width > 0 && width < 44)
		l.growth = false;
	return l;
}

void frame_render_titles(const struct frame *f, const struct frame_sink *sink, int width)
{
	struct layout l = layout_for(f, width);

	if (l.pid)
		putf(sink, FRAME_TITLE, FMT_LEAD, "PID");
	if (l.procs)
		putf(sink, FRAME_TITLE, FMT_LEAD, "PROCS");
	if (l.kind)
		putf(sink, FRAME_TITLE, FMT_KIND, "KIND");
	putf(sink, FRAME_TITLE, FMT_BYTES, "BYTES");
	if (l.blocks)
		putf(sink, FRAME_TITLE, FMT_BLOCKS, "BLOCKS");
	if (l.lost)
		putf(sink, FRAME_TITLE, FMT_LOST, "LOST");
	if (l.growth)
		putf(sink, FRAME_TITLE, FMT_GROWTH, "GROWTH");
	putf(sink, FRAME_TITLE, FMT_TREND, "TREND");
	if (l.age)
		putf(sink, FRAME_TITLE, FMT_AGE, "OLDEST");
	put(sink, FRAME_TITLE, SITE_GAP "SITE");
	eol(sink);
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

void frame_render_row(const struct frame *f, size_t row, const struct frame_sink *sink, int width)
{
	const struct frame_row *r = &f->rows[row];
	const struct stack_record *rec = r->rec;
	const struct report_stack *rs = &f->report.stacks[r->stack];
	enum frame_style style = r->trend->suspect ? FRAME_SUSPECT : FRAME_NORMAL;
	struct layout l = layout_for(f, width);
	char a[FMT_LEN];

	if (l.pid) {
		snprintf(a, sizeof(a), "%d", rec->pid);
		putf(sink, style, FMT_LEAD, a);
	}
	if (l.procs) {
		snprintf(a, sizeof(a), "%zu", r->nr_procs);
		putf(sink, style, FMT_LEAD, a);
	}
	if (l.kind)
		putf(sink, style, FMT_KIND, snapshot_kind_name(rec->kind));
	fmt_bytes(a, sizeof(a), (double)rec->outstanding_bytes);
	putf(sink, style, FMT_BYTES, a);
	if (l.blocks) {
		snprintf(a, sizeof(a), "%" PRId64, rec->outstanding_allocs);
		putf(sink, style, FMT_BLOCKS, a);
	}
	if (l.lost) {
		/* a stack the scan did not see (allocated since, or its process not scanned) */
		if (rec->reach)
			fmt_bytes(a, sizeof(a), (double)rec->reach->bytes[REACH_LOST]);
		else
			snprintf(a, sizeof(a), "-");
		putf(sink, style, FMT_LOST, a);
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
	if (!rec->nr_ips)
		put(sink, style, NOT_CAPTURED);
	else if (!rs->nr_frames)
		putf(sink, style, "0x%" PRIx64, rec->ips[0]);
	else
		put_site(sink, style, &rs->frames[0], false);
	eol(sink);
}

/* --- a stack */

static void stack_summary(const struct stack_record *rec, const struct history_trend *trend,
			  const struct frame_sink *sink)
{
	enum frame_style style = trend->suspect ? FRAME_SUSPECT : FRAME_LABEL;
	char a[FMT_LEN], b[FMT_LEN];

	fmt_bytes(a, sizeof(a), (double)rec->outstanding_bytes);
	putf(sink, style, "%s (%" PRId64 " bytes) in %" PRId64 " blocks, pid %d", a,
	     rec->outstanding_bytes, rec->outstanding_allocs, rec->pid);
	put_rate(a, sizeof(a), trend->growth_bytes_per_s);
	fmt_duration(b, sizeof(b), rec->oldest_age_s);
	putf(sink, style, ", growth %s, trend %s, oldest %s", a, trend_word(trend), b);
	eol(sink);
	fmt_bytes(a, sizeof(a), (double)rec->alloc_bytes);
	putf(sink, FRAME_NORMAL, "%" PRIu64 " allocations (%s) since attach; stack %#" PRIx64,
	     rec->allocs, a, rec->stack_id);
	eol(sink);
	if (rec->reach) {
		putf(sink, FRAME_NORMAL,
		     "last scan: lost %" PRId64 " bytes in %" PRId64 " blocks, possibly lost %" PRId64
		     " in %" PRId64 ", reachable %" PRId64 " in %" PRId64,
		     rec->reach->bytes[REACH_LOST], rec->reach->allocs[REACH_LOST],
		     rec->reach->bytes[REACH_POSSIBLY], rec->reach->allocs[REACH_POSSIBLY],
		     rec->reach->bytes[REACH_REACHABLE], rec->reach->allocs[REACH_REACHABLE]);
		eol(sink);
	}
}

static void stack_frames(const struct report_stack *rs, const struct frame_sink *sink)
{
	if (!rs->rec->nr_ips) {
		put(sink, FRAME_NORMAL, NOT_CAPTURED);
		eol(sink);
	}
	for (size_t k = 0; k < rs->nr_frames; k++) {
		putf(sink, FRAME_NORMAL, "#%-3zu ", k);
		put_site(sink, FRAME_NORMAL, &rs->frames[k], true);
		eol(sink);
	}
}

int frame_render_stack(struct frame *f, size_t stack, const struct frame_sink *sink)
{
	const struct report_stack *rs;
	int err = report_symbolize(&f->report, stack, 1);

	if (err)
		return err;
	rs = &f->report.stacks[stack];
	stack_summary(rs->rec, &f->trends[stack], sink);
	stack_frames(rs, sink);
	return 0;
}

/* A merged row's figures: its sums, then how many processes and stacks. */
static void merged_summary(const struct frame_row *r, const struct frame_sink *sink)
{
	enum frame_style style = r->trend->suspect ? FRAME_SUSPECT : FRAME_LABEL;
	char a[FMT_LEN], b[FMT_LEN];

	fmt_bytes(a, sizeof(a), (double)r->rec->outstanding_bytes);
	putf(sink, style, "%s (%" PRId64 " bytes) in %" PRId64 " blocks, %zu process%s", a,
	     r->rec->outstanding_bytes, r->rec->outstanding_allocs, r->nr_procs,
	     r->nr_procs == 1 ? "" : "es");
	put_rate(a, sizeof(a), r->trend->growth_bytes_per_s);
	fmt_duration(b, sizeof(b), r->rec->oldest_age_s);
	putf(sink, style, ", growth %s, trend %s, oldest %s", a, trend_word(r->trend), b);
	eol(sink);
	fmt_bytes(a, sizeof(a), (double)r->rec->alloc_bytes);
	putf(sink, FRAME_NORMAL, "%" PRIu64 " allocations (%s) since attach; %zu stacks merged",
	     r->rec->allocs, a, r->nr_members);
	eol(sink);
}

/* Each stack of a merged row: its process and its own figures. */
static void merged_members(const struct frame *f, const struct frame_row *r,
			   const struct frame_sink *sink)
{
	char a[FMT_LEN], b[FMT_LEN];

	put(sink, FRAME_LABEL, "the stacks merged, most bytes first:");
	eol(sink);
	for (size_t k = 0; k < r->nr_members; k++) {
		size_t i = r->members[k];
		const struct stack_record *rec = &f->snap->stacks[i];
		const struct history_trend *t = &f->trends[i];

		fmt_bytes(a, sizeof(a), (double)rec->outstanding_bytes);
		put_rate(b, sizeof(b), t->growth_bytes_per_s);
		putf(sink, t->suspect ? FRAME_SUSPECT : FRAME_NORMAL,
		     "  pid %-7d %s (%" PRId64 " bytes) in %" PRId64
		     " blocks, growth %s, trend %s; stack %#" PRIx64,
		     rec->pid, a, rec->outstanding_bytes, rec->outstanding_allocs, b, trend_word(t),
		     rec->stack_id);
		eol(sink);
	}
}

int frame_render_row_stack(struct frame *f, size_t row, const struct frame_sink *sink)
{
	const struct frame_row *r = &f->rows[row];

	if (r->nr_members == 1)
		return frame_render_stack(f, r->stack, sink);
	/* frame_select() named every stack of a merged row. */
	merged_summary(r, sink);
	stack_frames(&f->report.stacks[r->stack], sink);
	merged_members(f, r, sink);
	return 0;
}
