/* out_text.c: the report for humans: totals and losses first, then the stacks holding memory. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "base/fmt.h"
#include "output/output.h"

/* A size, a rate or a duration, through a formatter of base/fmt.h. */
static void put_fmt(FILE *out, void (*fmt)(char *, size_t, double), double v)
{
	char buf[FMT_LEN];

	fmt(buf, sizeof(buf), v);
	fputs(buf, out);
}

static void file_put(void *ctx, const char *text, size_t len)
{
	fwrite(text, 1, len, ctx);
}

/* Most pids the first line names; more are counted. */
#define HEADER_PIDS 8

/*
 * What was traced: "processes: 3 traced (1 given, 2 followed), 1 exited; not traced: pid 7
 * (exited before it could be traced)". Only when there is more to say than the one pid given.
 */
static void write_processes(const struct report *r, FILE *out)
{
	struct report_proc_counts c = report_count_procs(r);

	if (r->nr_procs <= 1 && !c.execs)
		return;
	fprintf(out, "processes: %u traced (%u given, %u followed), %u exited", c.traced, c.given,
		c.followed, c.exited);
	if (c.execs)
		fprintf(out, ", %u exec%s", c.execs, c.execs == 1 ? "" : "s");
	if (c.gap_s > 0)
		fprintf(out, "; followed ones ran untraced for %.1f ms in all before their probes "
			     "were in place", c.gap_s * 1e3);
	for (size_t i = 0, n = 0; i < r->nr_procs; i++) {
		const struct report_proc *p = &r->procs[i];

		if (p->reason[0])
			fprintf(out, "%s pid %d (%s)", n++ ? "," : "; not traced:", p->pid, p->reason);
	}
	fputc('\n', out);
}

/* --max-overhead: the rates the budget led to, and what the probes cost at the last decision. */
static void write_budget(const struct report *r, const struct report_budget *b, FILE *out)
{
	fprintf(out, "overhead budget %.3g%% of the traced processes' CPU: ",
		b->max_overhead * 100);
	if (b->measured)
		fprintf(out, "the probes cost %.2f%% (entry probes alone %.2f%%)",
			b->overhead * 100, b->entry_probes * 100);
	else
		fputs("not measured yet", out);
	if (r->sample_rate_bytes)
		fprintf(out, "; one allocation sampled per %" PRIu64 " bytes now",
			r->sample_rate_bytes);
	else
		fputs("; every allocation recorded now", out);
	fprintf(out, "; rates %" PRIu64 " to %" PRIu64 " bytes%s, %" PRIu64 " change%s; "
		     "figures are estimates\n",
		b->min_rate_bytes, b->max_rate_bytes, b->full_tracking ? " and full tracking" : "",
		b->rate_changes, b->rate_changes == 1 ? "" : "s");
	if (b->entry_probes_ever_over)
		fputs("over budget: the entry probes alone cost more than the budget; no sample "
		      "rate can meet it\n",
		      out);
}

static void write_header(const struct report *r, const struct snapshot *snap, FILE *out)
{
	const struct snapshot_totals *t = &snap->totals;
	size_t i;

	fprintf(out, "leaktop %s:", r->version ? r->version : "");
	for (i = 0; i < r->nr_pids && i < HEADER_PIDS; i++)
		fprintf(out, "%s%d", i ? ", " : r->nr_pids > 1 ? " pids " : " pid ", r->pids[i]);
	if (r->nr_pids > HEADER_PIDS)
		fprintf(out, " and %zu more", r->nr_pids - HEADER_PIDS);
	fputs(" traced for ", out);
	put_fmt(out, fmt_duration, r->duration_s);
	fputc('\n', out);
	if (r->command_exit) {
		char how[128];

		fprintf(out, "command: %s\n", output_command_exit(r->command_exit, how, sizeof(how)));
	}
	write_processes(r, out);
	if (r->source) {
		fputs("from ", out);
		output_put_clean(r->source, file_put, out);
		fputc('\n', out);
	}

	fputs("outstanding: ", out);
	put_fmt(out, fmt_bytes, (double)t->outstanding_bytes);
	fprintf(out, " (%" PRId64 " bytes) in %" PRId64 " block%s, %zu stack%s\n",
		t->outstanding_bytes, t->outstanding_allocs, t->outstanding_allocs == 1 ? "" : "s",
		r->nr_stacks_total, r->nr_stacks_total == 1 ? "" : "s");
	if (snap->suppressed.stacks) {
		fprintf(out, "suppressed: %" PRIu64 " stack%s, ", snap->suppressed.stacks,
			snap->suppressed.stacks == 1 ? "" : "s");
		put_fmt(out, fmt_bytes, (double)snap->suppressed.bytes);
		fprintf(out, " (%" PRId64 " bytes) in %" PRId64 " block%s, not shown\n",
			snap->suppressed.bytes, snap->suppressed.allocs,
			snap->suppressed.allocs == 1 ? "" : "s");
	}
	if (snap->reach_scans)
		fprintf(out, "reachability: %u scan%s%s\n", snap->reach_scans,
			snap->reach_scans == 1 ? "" : "s",
			snap->reach_approximate ? ", approximate (the process ran while scanned)" : "");
	fprintf(out, "since attach: %" PRIu64 " allocs (", t->allocs);
	put_fmt(out, fmt_bytes, (double)t->alloc_bytes);
	fprintf(out, "), %" PRIu64 " frees", t->frees);
	if (snap->stats[LT_STAT_UNMATCHED_FREES])
		fprintf(out, ", %" PRIu64 " frees of blocks allocated before attach",
			snap->stats[LT_STAT_UNMATCHED_FREES]);
	if (snap->stats[LT_STAT_ALLOCATOR_FREES])
		fprintf(out, ", %" PRIu64 " frees by the allocator of blocks it keeps for itself",
			snap->stats[LT_STAT_ALLOCATOR_FREES]);
	if (snap->stats[LT_STAT_INHERITED_FREES])
		fprintf(out, ", %" PRIu64 " frees in forked children of their parent's blocks",
			snap->stats[LT_STAT_INHERITED_FREES]);
	if (snap->stats[LT_STAT_EXITED_RELEASED])
		fprintf(out, ", %" PRIu64 " blocks of exited processes released to make room",
			snap->stats[LT_STAT_EXITED_RELEASED]);
	fputc('\n', out);
	if (r->budget)
		write_budget(r, r->budget, out);
	else if (r->sample_rate_bytes)
		fprintf(out, "sampled: one allocation per %" PRIu64 " bytes; %s\n",
			r->sample_rate_bytes, "figures are estimates");
}

static void write_losses(const struct snapshot *snap, FILE *out)
{
	int s, nonzero = 0;

	for (s = 0; s < LT_STAT_MAX; s++)
		nonzero += snapshot_stat_loss((enum lt_stat)s) && snap->stats[s];
	if (!nonzero) {
		fputs("no losses\n", out);
		return;
	}
	fprintf(out, "LOSSES: %d counter%s non-zero, the figures below are incomplete:\n", nonzero,
		nonzero > 1 ? "s" : "");
	for (s = 0; s < LT_STAT_MAX; s++) {
		const char *loss = snapshot_stat_loss((enum lt_stat)s);

		if (!loss || !snap->stats[s])
			continue;
		fprintf(out, "  %-18s %10" PRIu64 "  %s\n", snapshot_stat_name((enum lt_stat)s),
			snap->stats[s], loss);
	}
}

/*
 * The trends' window: how many suspects it shows, or that the run was too short to judge one (the
 * suspect rule needs HISTORY_MIN_SAMPLES readings; the first is at the start).
 */
static void write_window(const struct report *r, FILE *out)
{
	if (!r->nr_readings)
		return;
	if (!r->judged) {
		fprintf(out, "growth: not judged, the run was too short: %zu reading%s over ",
			r->nr_readings, r->nr_readings == 1 ? "" : "s");
		put_fmt(out, fmt_duration, r->window_s);
		fprintf(out, ", and the leak-suspect rule needs %d\n", HISTORY_MIN_SAMPLES);
		return;
	}
	fputs("growth over ", out);
	put_fmt(out, fmt_duration, r->window_s);
	fprintf(out, " (%zu readings): ", r->nr_readings);
	if (r->nr_suspects)
		fprintf(out, "%zu leak suspect%s, marked LEAK? and listed first\n", r->nr_suspects,
			r->nr_suspects == 1 ? "" : "s");
	else
		fputs("no leak suspects\n", out);
}

static void write_stack(const struct report_stack *rs, size_t rank, FILE *out)
{
	const struct stack_record *rec = rs->rec;
	size_t i;

	fprintf(out, "\n#%zu %s%" PRId64 " bytes in %" PRId64 " block%s (", rank,
		rs->trend.suspect ? "LEAK? " : "", rec->outstanding_bytes, rec->outstanding_allocs,
		rec->outstanding_allocs == 1 ? "" : "s");
	put_fmt(out, fmt_bytes, (double)rec->outstanding_bytes);
	fprintf(out, "), pid %d", rec->pid);
	if (rec->oldest_age_s >= 0) {
		fputs(", oldest ", out);
		put_fmt(out, fmt_duration, rec->oldest_age_s);
	}
	if (isfinite(rs->trend.growth_bytes_per_s)) {
		fputs(", growth ", out);
		put_fmt(out, fmt_rate, rs->trend.growth_bytes_per_s);
	}
	fputc('\n', out);
	if (rec->reach)
		fprintf(out,
			"    lost %" PRId64 " bytes in %" PRId64 " blocks, possibly lost %" PRId64
			" in %" PRId64 ", reachable %" PRId64 " in %" PRId64 "\n",
			rec->reach->bytes[REACH_LOST], rec->reach->allocs[REACH_LOST],
			rec->reach->bytes[REACH_POSSIBLY], rec->reach->allocs[REACH_POSSIBLY],
			rec->reach->bytes[REACH_REACHABLE], rec->reach->allocs[REACH_REACHABLE]);
	if (!rs->nr_frames)
		fputs("    [stack not captured: see lost_stacks and stack_table_full]\n", out);
	for (i = 0; i < rs->nr_frames; i++) {
		fputs("    ", out);
		output_put_frame(&rs->frames[i], false, file_put, out);
		fputc('\n', out);
	}
}

/*
 * Stack i's bytes at each reading since it first held memory (a 0 before), oldest first: for
 * `leaktop report`, whose readings are the profiles, few enough to list.
 */
static void write_timeline(const struct report *r, size_t i, FILE *out)
{
	double t_s[HISTORY_MAX_WINDOW];
	int64_t bytes[HISTORY_MAX_WINDOW];
	size_t n = report_stack_timeline(r, i, t_s, bytes);

	fputs("    bytes at each reading:", out);
	for (size_t j = 0; j < n; j++)
		fprintf(out, " %" PRId64, bytes[j]);
	fputc('\n', out);
}

int out_text_write(const struct report *r, FILE *out)
{
	static const struct snapshot empty;
	const struct snapshot *snap = r->snap ? r->snap : &empty;
	uint64_t shown = 0;
	int64_t rest;
	size_t i, more, rank = 0;

	write_header(r, snap, out);
	write_losses(snap, out);
	write_window(r, out);
	if (!r->nr_stacks_total && !r->nr_stacks)
		fputs("\nno outstanding allocations\n", out);
	/* The suspects first, then the others; each in the report's order (bytes). */
	for (int pass = 0; pass < 2; pass++) {
		for (i = 0; i < r->nr_stacks; i++) {
			if (r->stacks[i].trend.suspect != !pass)
				continue;
			write_stack(&r->stacks[i], ++rank, out);
			if (r->source && r->history)
				write_timeline(r, i, out);
			/* Unsigned: wraps instead of overflowing; the difference below is exact. */
			shown += (uint64_t)r->stacks[i].rec->outstanding_bytes;
		}
	}
	if (r->nr_stacks_total > r->nr_stacks) {
		more = r->nr_stacks_total - r->nr_stacks;
		rest = (int64_t)((uint64_t)snap->totals.outstanding_bytes - shown);
		fprintf(out, "\n... %zu more stack%s", more, more > 1 ? "s" : "");
		if (rest > 0) {
			fputs(", ", out);
			put_fmt(out, fmt_bytes, (double)rest);
			fprintf(out, " (%" PRId64 " bytes)", rest);
		}
		fputs("; -n 0 shows all\n", out);
	}
	if (fflush(out) || ferror(out))
		return -EIO;
	return 0;
}
