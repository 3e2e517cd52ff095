/* periodic.c: the plain modes: reports (or record's profiles) per interval and at the end, metrics. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "ui/periodic.h"
#include "proc/procinfo.h"
#include "output/record.h"

int periodic_init(struct periodic *p)
{
	p->prev = snapshot__new();
	if (!p->prev)
		return -ENOMEM;
	p->prev->taken_ns = p->start_ns;
	return 0;
}

void periodic_fini(struct periodic *p)
{
	snapshot__free(p->prev);
	p->prev = NULL;
}

/*
 * Reads a snapshot, ready to report: growth from prev_for_growth, sorted; stacks that hold nothing
 * dropped unless keep_empty (the metrics' totals count what they allocated and freed).
 */
static struct snapshot *read_snapshot(struct periodic *p, const struct snapshot *prev_for_growth,
				      bool keep_empty)
{
	struct snapshot *snap = collector__read(p->col, true,
						(uint64_t)(p->opts.min_age_s * 1e9));

	if (!snap)
		return NULL;
	snap->duration_s = (snap->taken_ns - p->start_ns) / 1e9;
	snapshot__set_growth(snap, prev_for_growth);
	if (!keep_empty)
		snapshot__drop_empty(snap);
	snapshot__sort(snap, SORT_BYTES);
	return snap;
}

static int build(struct periodic *p, struct report *r, const struct snapshot *snap, size_t top)
{
	int err = report_build(r, snap, p->sym, top);

	if (err)
		return err;
	r->version = p->version;
	r->pids = p->pids;
	r->nr_pids = p->nr_pids;
	r->duration_s = snap->duration_s;
	r->sample_rate_bytes = p->opts.sample_rate;
	r->start_time_ns = p->start_time_ns;
	return 0;
}

int periodic_report(struct periodic *p)
{
	struct snapshot *snap = read_snapshot(p, p->prev, false);
	struct timespec wall;
	struct report r;
	int err;

	if (!snap)
		return -errno;
	err = build(p, &r, snap, p->opts.record ? 0 : p->opts.top);
	if (!err) {
		if (p->opts.record) {
			clock_gettime(CLOCK_REALTIME, &wall);
			err = record_write(p->opts.record_dir, &r,
					   (uint64_t)wall.tv_sec * 1000000000ULL + wall.tv_nsec,
					   p->opts.keep);
		} else {
			/* Writers flush before they return: a full disk shows here, not at exit. */
			err = output_error(p->out, p->fmt->write(&r, p->out));
			if (err)
				log_error("cannot write the report to %s: %s", p->out_name,
					  strerror(-err));
		}
		report_fini(&r);
	}
	snapshot__free(p->prev);
	p->prev = snap;
	return err;
}

int periodic_metrics(struct periodic *p)
{
	struct metrics_process *procs;
	struct metrics_self self = { .cpu_ns = procinfo_self_cpu_ns() };
	struct proc_mem mem;
	struct snapshot *snap;
	struct report r;
	char *text = NULL;
	int err;

	if (!p->metrics)
		return 0;
	procs = calloc(p->nr_pids, sizeof(*procs));
	snap = procs ? read_snapshot(p, NULL, true) : NULL;
	if (!snap) {
		free(procs);
		return -ENOMEM;
	}
	if (!procinfo_mem(0, &mem))
		self.rss_bytes = mem.rss_bytes;
	for (size_t i = 0; i < p->nr_pids; i++) {
		procs[i].pid = p->pids[i];
		procs[i].comm = procinfo_comm(p->pids[i]);
	}
	/* Sites come from the symbolized stacks; a bound keeps the symbolizing work bounded too. */
	err = build(p, &r, snap, 20 * METRICS_DEFAULT_TOP_SITES);
	if (!err) {
		text = metrics_format(&r, procs, p->nr_pids, &self, METRICS_DEFAULT_TOP_SITES);
		err = text ? 0 : -ENOMEM;
		report_fini(&r);
	}
	if (text)
		metrics_server__publish(p->metrics, text);
	for (size_t i = 0; i < p->nr_pids; i++)
		free((char *)procs[i].comm);
	free(procs);
	snapshot__free(snap);
	return err;
}

int periodic_run(struct periodic *p, struct loop_target *targets, size_t nr_targets,
		 const volatile sig_atomic_t *stop, const sigset_t *stop_signals)
{
	const struct periodic_opts *opts = &p->opts;
	uint64_t end_ns = opts->duration_s > 0 ? p->start_ns + opts->duration_s * 1e9 : 0;
	uint64_t report_ns = opts->interval_s > 0 ? opts->interval_s * 1e9 : 0;
	uint64_t metrics_ns = (report_ns ? opts->interval_s : PERIODIC_METRICS_S) * 1e9;
	uint64_t next_report_ns = report_ns ? p->start_ns + report_ns : 0;
	uint64_t next_metrics_ns = p->metrics ? p->start_ns : 0;
	uint64_t next_unwind_ns = p->unwinder ? p->start_ns + UNWIND_CHECK_NS : 0;
	uint64_t next_evict_ns = p->start_ns + COLLECT_MAINTAIN_NS;
	int ev, err;

	for (;;) {
		uint64_t now = now_ns(), wake = end_ns;

		if (end_ns && now >= end_ns)
			return 0;
		if (next_report_ns && now >= next_report_ns) {
			err = periodic_report(p);
			if (err)
				return err;
			next_report_ns += report_ns;
			continue;
		}
		if (next_metrics_ns && now >= next_metrics_ns) {
			err = periodic_metrics(p);
			if (err)
				return err;
			next_metrics_ns += metrics_ns;
			continue;
		}
		if (next_unwind_ns && now >= next_unwind_ns) {
			err = unwinder__refresh(p->unwinder, UNWIND_REREAD_NS);
			if (err)
				return err;
			next_unwind_ns = now + UNWIND_CHECK_NS;
			continue;
		}
		if (now >= next_evict_ns) {
			err = collector__maintain(p->col);
			if (err)
				return err;
			next_evict_ns = now + COLLECT_MAINTAIN_NS;
			continue;
		}
		if (!wake || next_evict_ns < wake)
			wake = next_evict_ns;
		if (next_report_ns && (!wake || next_report_ns < wake))
			wake = next_report_ns;
		if (next_unwind_ns && (!wake || next_unwind_ns < wake))
			wake = next_unwind_ns;
		if (next_metrics_ns && (!wake || next_metrics_ns < wake))
			wake = next_metrics_ns;
		ev = loop_wait(targets, nr_targets, -1, wake, stop, stop_signals);
		if (ev < 0)
			return ev;
		if (ev == LOOP_STOP || ev == LOOP_EXITED)
			return 0;
	}
}
