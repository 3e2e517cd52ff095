/* pipeline.c: the one pipeline: a reading of the maps, the report model over it, shared upkeep. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "proc/procinfo.h"
#include "ui/pipeline.h"

struct snapshot *pipeline_read(const struct pipeline *p)
{
	struct snapshot *snap = collector__read(p->col, p->min_age_ns);
	int err;

	if (!snap)
		return NULL;
	if (p->track) {
		err = track__read(p->track, snap);
		if (err) {
			snapshot__free(snap);
			errno = -err;
			return NULL;
		}
	}
	/* Here, so that every output (reports, metrics, the view) agrees on what was dropped. */
	err = suppressions__apply(p->sup, snap, p->sym);
	if (err) {
		log_error("cannot apply the suppressions: %s", strerror(-err));
		snapshot__free(snap);
		errno = -err;
		return NULL;
	}
	snap->duration_s = (double)(snap->taken_ns - p->start_ns) / 1e9;
	err = p->reach ? reachscan__apply(p->reach, snap) : 0;
	if (err) {
		log_error("cannot apply the reachability scan: %s", strerror(-err));
		snapshot__free(snap);
		errno = -err;
		return NULL;
	}
	snapshot__sort(snap, SORT_BYTES);
	return snap;
}

void pipeline_scan(const struct pipeline *p)
{
	size_t n = p->procs ? procset__nr(p->procs) : 0;

	for (size_t i = 0; p->reach && i < n; i++) {
		const struct procset_proc *pp = procset__proc(p->procs, i);

		if (pp->state == PROCSET_TRACED)
			reachscan__run(p->reach, pp->pid, p->reach_hold);
	}
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static const char *const state_names[] = {
	[PROCSET_TRACED] = "traced", [PROCSET_EXITED] = "exited", [PROCSET_REFUSED] = "not traced",
};

/* The run's processes as they are now, in a block r owns: all of them, and the traced pids. */
static int report_processes(const struct pipeline *p, struct report *r)
{
	size_t n = p->procs ? procset__nr(p->procs) : 0, np = 0;
	struct report_proc *rp = calloc(1, n * (sizeof(*rp) + sizeof(int)) + 1);
	int *pids = (int *)(rp + n);

	if (!rp)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct procset_proc *q = procset__proc(p->procs, i);

		rp[i] = (struct report_proc){ .pid = q->pid, .nspid = q->nspid, .ppid = q->ppid,
					      .state = state_names[q->state],
					      .followed = q->followed, .execs = q->execs,
					      .gap_s = (double)q->gap_ns / 1e9 };
		memcpy(rp[i].comm, q->comm, sizeof(rp[i].comm));
		if (q->state == PROCSET_REFUSED)
			snprintf(rp[i].reason, sizeof(rp[i].reason), "%s", procset_reason(q->err));
		else
			pids[np++] = q->pid;
	}
	qsort(pids, np, sizeof(*pids), cmp_int);
	r->owned = rp;
	r->procs = rp;
	r->nr_procs = n;
	r->pids = pids;
	r->nr_pids = np;
	return 0;
}

int pipeline_sample(const struct pipeline *p, const struct snapshot *snap)
{
	int err = p->history ? history__update(p->history, snap) : 0;

	if (err)
		log_error("cannot keep the history of %zu stacks: %s", snap->nr_stacks,
			  strerror(-err));
	return err;
}

int pipeline_report(const struct pipeline *p, struct report *r, const struct snapshot *snap,
		    size_t top, bool symbolize, bool judged)
{
	const struct history *hist = judged ? p->history : NULL;
	struct proc_mem mem;
	int err = symbolize ? report_build(r, snap, p->sym, top, hist)
			    : report_init(r, snap, p->sym, top, hist);

	if (err) {
		log_error("cannot build the report: %s", strerror(-err));
		return err;
	}
	r->version = p->version;
	r->sample_rate_bytes = p->sample_rate;
	if (p->overhead) {
		r->sample_rate_bytes = overhead__rate(p->overhead);
		r->budget = overhead__report(p->overhead);
	}
	r->start_time_ns = p->start_time_ns;
	r->self_cpu_s = (double)procinfo_self_cpu_ns() / 1e9;
	if (!procinfo_mem(0, &mem))
		r->self_rss_bytes = mem.rss_bytes;
	r->command_exit = p->command_exit;
	err = report_processes(p, r);
	if (err) {
		log_error("cannot build the report: %s", strerror(-err));
		report_fini(r);
	}
	return err;
}

/*
 * The stacks whose sites the metrics name: the largest PIPELINE_METRICS_STACKS, and as many
 * suspects beyond them, symbolized; a bound keeps the symbolizing work bounded too. NULL on no
 * memory or a failed symbolization.
 */
static struct report_stack *site_stacks(struct report *r, size_t *nr)
{
	size_t n = r->nr_stacks < PIPELINE_METRICS_STACKS ? r->nr_stacks : PIPELINE_METRICS_STACKS;
	size_t extra = 0;
	struct report_stack *stacks;

	if (report_symbolize(r, 0, n))
		return NULL;
	stacks = malloc((2 * n + 1) * sizeof(*stacks));
	if (!stacks)
		return NULL;
	for (size_t i = 0; i < n; i++)
		stacks[i] = r->stacks[i];
	for (size_t i = n; i < r->nr_stacks && extra < n; i++) {
		if (!r->stacks[i].trend.suspect)
			continue;
		if (report_symbolize(r, i, 1)) {
			free(stacks);
			return NULL;
		}
		stacks[n + extra++] = r->stacks[i];
	}
	*nr = n + extra;
	return stacks;
}

int pipeline_metrics(const struct pipeline *p, struct report *r)
{
	struct metrics_self self = { .cpu_ns = procinfo_self_cpu_ns() };
	struct metrics_process *procs = NULL;
	struct report_stack *stacks;
	struct report sites;
	struct proc_mem mem;
	char *text = NULL;

	if (!p->metrics)
		return 0;
	sites = *r;
	stacks = site_stacks(r, &sites.nr_stacks);
	sites.stacks = stacks;
	if (stacks)
		procs = calloc(r->nr_procs ? r->nr_procs : 1, sizeof(*procs));
	if (procs) {
		size_t n = 0;

		if (!procinfo_mem(0, &mem))
			self.rss_bytes = mem.rss_bytes;
		self.bpf_map_bytes = procinfo_bpf_map_bytes(0);
		/* The processes traced now: those gone have no memory to show. */
		for (size_t i = 0; i < r->nr_procs; i++)
			if (!strcmp(r->procs[i].state, "traced"))
				procs[n++] = (struct metrics_process){ .pid = r->procs[i].pid,
								       .comm = r->procs[i].comm };
		for (size_t i = 0; i < r->nr_stacks; i++) {
			for (size_t k = 0; r->stacks[i].trend.suspect && k < n; k++)
				procs[k].leak_suspects += procs[k].pid == r->stacks[i].rec->pid;
		}
		text = metrics_format(&sites, procs, n, &self, METRICS_DEFAULT_TOP_SITES);
		free(procs);
	}
	free(stacks);
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
	int err = unwinder__refresh(p->unwinder, UNWIND_REREAD_NS,
				    UNWIND_REFRESH_BUDGET_NS);

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

/*
 * Room for the live processes: when processes have exited (-p, discovery), a reading of the
 * totals tells whether the table is half full, and their blocks go.
 * Only a failed reading fails the run; a failed release is logged and not tried again.
 */
static int release_exited(void *ctx)
{
	struct pipeline *p = ctx;
	struct snapshot *snap;

	if (!procset__releasable(p->procs))
		return 0;
	snap = collector__read(p->col, 0);
	if (!snap)
		return -errno;
	procset__release_exited(p->procs, (uint64_t)snap->totals.outstanding_allocs, p->max_allocs);
	snapshot__free(snap);
	return 0;
}

/* overhead__poll() has logged a failure. */
static int poll_overhead(void *ctx)
{
	struct pipeline *p = ctx;

	return overhead__poll(p->overhead);
}

int pipeline_run(struct pipeline *p, struct loop *l)
{
	uint64_t now = now_ns();

	if ((p->unwinder && !loop_add(l, refresh_unwind, p, now + UNWIND_CHECK_NS,
				      UNWIND_CHECK_NS)) ||
	    !loop_add(l, maintain, p, now + COLLECT_MAINTAIN_NS, COLLECT_MAINTAIN_NS) ||
	    (p->procs && p->max_allocs &&
	     !loop_add(l, release_exited, p, now + RELEASE_CHECK_NS, RELEASE_CHECK_NS)) ||
	    (p->overhead &&
	     !loop_add(l, poll_overhead, p, now + OVERHEAD_POLL_NS, OVERHEAD_POLL_NS)))
		return -ENOSPC;
	return loop_run(l);
}
