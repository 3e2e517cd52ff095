/* pipeline.c: the one pipeline: a reading of the maps, the report model over it, shared upkeep. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "proc/procinfo.h"
#include "ui/pipeline.h"

struct snapshot *pipeline_read(const struct pipeline *p)
{
	struct snapshot *snap = collector__read(p->col, true, p->min_age_ns);

	if (!snap)
		return NULL;
	snap->duration_s = (double)(snap->taken_ns - p->start_ns) / 1e9;
	snapshot__sort(snap, SORT_BYTES);
	return snap;
}

int pipeline_report(const struct pipeline *p, struct report *r, const struct snapshot *snap,
		    size_t top, bool symbolize)
{
	int err = symbolize ? report_build(r, snap, p->sym, top)
			    : report_init(r, snap, p->sym, top);

	if (err) {
		log_error("cannot build the report: %s", strerror(-err));
		return err;
	}
	r->version = p->version;
	r->pids = p->pids;
	r->nr_pids = p->nr_pids;
	r->sample_rate_bytes = p->sample_rate;
	r->start_time_ns = p->start_time_ns;
	return 0;
}

int pipeline_metrics(const struct pipeline *p, struct report *r)
{
	struct metrics_self self = { .cpu_ns = procinfo_self_cpu_ns() };
	struct metrics_process *procs;
	struct report sites;
	struct proc_mem mem;
	char *text = NULL;
	int err;

	if (!p->metrics)
		return 0;
	/* Sites come from the largest stacks: a bound keeps the symbolizing work bounded too. */
	sites = *r;
	if (sites.nr_stacks > PIPELINE_METRICS_STACKS)
		sites.nr_stacks = PIPELINE_METRICS_STACKS;
	err = report_symbolize(r, 0, sites.nr_stacks);
	procs = err ? NULL : calloc(p->nr_pids ? p->nr_pids : 1, sizeof(*procs));
	if (procs) {
		if (!procinfo_mem(0, &mem))
			self.rss_bytes = mem.rss_bytes;
		for (size_t i = 0; i < p->nr_pids; i++)
			procs[i] = (struct metrics_process){ .pid = p->pids[i],
							     .comm = procinfo_comm(p->pids[i]) };
		text = metrics_format(&sites, procs, p->nr_pids, &self, METRICS_DEFAULT_TOP_SITES);
		for (size_t i = 0; i < p->nr_pids; i++)
			free((char *)procs[i].comm);
		free(procs);
	}
	if (!text) {
		log_error("cannot refresh the metrics: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	metrics_server__publish(p->metrics, text);
	return 0;
}

static int refresh_unwind(void *ctx)
{
	struct pipeline *p = ctx;
	int err = unwinder__refresh(p->unwinder, UNWIND_REREAD_NS);

	if (err)
		log_error("cannot refresh the unwind tables: %s", strerror(-err));
	return err;
}

/* collector__maintain() has logged a failed reading. */
static int maintain(void *ctx)
{
	struct pipeline *p = ctx;

	return collector__maintain(p->col);
}

int pipeline_run(struct pipeline *p, struct loop *l)
{
	uint64_t now = now_ns();

	if ((p->unwinder && !loop_add(l, refresh_unwind, p, now + UNWIND_CHECK_NS,
				      UNWIND_CHECK_NS)) ||
	    !loop_add(l, maintain, p, now + COLLECT_MAINTAIN_NS, COLLECT_MAINTAIN_NS))
		return -ENOSPC;
	return loop_run(l);
}
