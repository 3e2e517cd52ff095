/* reachscan.c: reachability scans of traced processes: blocks, roots, the copy, the split. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "base/clock.h"
#include "base/hashtab.h"
#include "base/log.h"
#include "model/reach.h"
#include "proc/freeze.h"
#include "proc/procmem.h"
#include "trace/reachscan.h"

/* Below its stack pointer, a thread may still use this much (the x86-64 ABI's red zone). */
#define RED_ZONE 128

struct reach_entry {
	uint64_t stack_id;
	int pid;
	struct reach_split split;
};

struct reachscan {
	struct collector *c;
	struct hashtab *ix; /* stack id -> index in entries */
	struct reach_entry *entries;
	size_t nr, cap;
	unsigned int scans;
	bool live; /* a scan ran without a pause */
};

struct reachscan *reachscan__new(struct collector *c)
{
	struct reachscan *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return NULL;
	rs->c = c;
	rs->ix = hashtab__new(256);
	if (!rs->ix) {
		free(rs);
		errno = ENOMEM;
		return NULL;
	}
	return rs;
}

void reachscan__free(struct reachscan *rs)
{
	if (!rs)
		return;
	hashtab__free(rs->ix);
	free(rs->entries);
	free(rs);
}

/* A scan's roots: regions, and the threads' registers as one region of their words. */
struct roots {
	struct reach_region *r;
	size_t nr, cap;
	uint64_t *regs;
	size_t nr_regs;
};

static int add_root(struct roots *ro, uint64_t start, uint64_t len, const uint8_t *data)
{
	if (array_reserve(&ro->r, &ro->cap, ro->nr, sizeof(*ro->r), 64))
		return -ENOMEM;
	ro->r[ro->nr++] = (struct reach_region){.start = start, .len = len, .data = data};
	return 0;
}

/*
 * The roots: the registers, and each writable mapping, those holding a known stack pointer from
 * just below it (the red zone) to their end: what lies lower is dead frames.
 */
static int build_roots(struct roots *ro, const struct procmem *pm, const uint64_t *sps,
		       size_t nr_sps)
{
	int err = 0;

	if (ro->nr_regs)
		err = add_root(ro, 0, ro->nr_regs * 8, (const uint8_t *)ro->regs);
	for (size_t i = 0; i < pm->nr_maps && !err; i++) {
		const struct procmem_map *m = &pm->maps[i];
		uint64_t from = m->start;

		for (size_t k = 0; k < nr_sps; k++) {
			uint64_t sp = sps[k] - RED_ZONE;

			if (sps[k] >= m->start && sps[k] < m->end && sp > from)
				from = sp;
		}
		err = add_root(ro, from, m->end - from, m->data + (from - m->start));
	}
	return err;
}

static struct reach_entry *entry_of(struct reachscan *rs, uint64_t id, int pid)
{
	uint64_t *slot = hashtab__find(rs->ix, id);

	if (slot)
		return &rs->entries[*slot];
	if (array_reserve(&rs->entries, &rs->cap, rs->nr, sizeof(*rs->entries), 64) ||
	    hashtab__put(rs->ix, id, rs->nr))
		return NULL;
	rs->entries[rs->nr] = (struct reach_entry){.stack_id = id, .pid = pid};
	return &rs->entries[rs->nr++];
}

/* Forgets the last scan of pid: the table holds the stacks of each process's last scan only. */
static int forget(struct reachscan *rs, pid_t pid)
{
	size_t out = 0;

	hashtab__clear(rs->ix);
	for (size_t i = 0; i < rs->nr; i++) {
		if (rs->entries[i].pid == pid)
			continue;
		rs->entries[out] = rs->entries[i];
		if (hashtab__put(rs->ix, rs->entries[out].stack_id, out))
			return -ENOMEM;
		out++;
	}
	rs->nr = out;
	return 0;
}

static int tally(struct reachscan *rs, pid_t pid, const struct reach_block *b, size_t n)
{
	int err = forget(rs, pid);

	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		struct reach_entry *e = entry_of(rs, b[i].stack_id, pid);

		if (!e)
			return -ENOMEM;
		e->split.valid = true;
		e->split.bytes[b[i].state] += (int64_t)b[i].size;
		e->split.allocs[b[i].state]++;
	}
	return 0;
}

/* Whether leaktop can hold a copy of pm: at most half the memory available. 0 or -E2BIG (logged).
 */
static int fits(const struct procmem *pm)
{
	uint64_t avail = procmem_available_bytes();

	if (!avail || pm->bytes <= avail / 2)
		return 0;
	log_error(
	    "pid %d: a reachability scan copies its %.1f MiB of writable memory: more than half "
	    "of the %.1f MiB available",
	    (int)pm->pid, pm->bytes / 1048576.0, avail / 1048576.0);
	return -E2BIG;
}

/* The live blocks of a scan. */
struct blocks {
	struct reach_block *b;
	size_t n;
};

/*
 * The blocks of the process when its copy began. The allocation table is read after the copy,
 * out of the pause (reading a table of 1,000,000 blocks took 400 ms, and the pause would grow
 * with the table): a block allocated since is left out; one freed since is not in it, its memory
 * then counted with the roots. Read before the pause, a block freed in between would be scanned
 * in memory the allocator has taken back, and come out lost (a busy process frees its whole
 * working set in moments). Paused, or held by the caller, the process freed nothing meanwhile.
 */
static int read_blocks(struct reachscan *rs, pid_t pid, uint64_t copy_ns, struct blocks *bl)
{
	size_t out = 0;
	int err = collector__blocks(rs->c, pid, &bl->b, &bl->n);

	if (err)
		return err;
	for (size_t i = 0; i < bl->n; i++)
		if (bl->b[i].alloc_ns < copy_ns)
			bl->b[out++] = bl->b[i];
	bl->n = out;
	return 0;
}

/* Copies the process's blocks, registers and memory, holding it as asked. */
static int copy_process(struct reachscan *rs, pid_t pid, enum reachscan_hold hold,
			struct blocks *bl, struct procmem **pmp, struct roots *ro, uint64_t **sps,
			size_t *nr_sps, uint64_t *pause_ns)
{
	struct freeze *fz = NULL;
	struct procmem *pre = NULL;
	struct user_regs_struct regs;
	uint64_t t0;
	int err = 0;

	*pause_ns = 0;
	/* Leaktop's buffers made before the pause; it then lists the mappings again. */
	if (hold == REACHSCAN_FREEZE) {
		pre = procmem__list(pid);
		if (!pre)
			return -errno;
		err = fits(pre);
		if (!err)
			err = procmem__prepare(pre, NULL);
		if (err) {
			procmem__free(pre);
			return err;
		}
	}
	/* Blocks allocated from here on are timed exactly: read_blocks tells them by their time. */
	collector__exact_times(rs->c, true);
	t0 = now_ns();
	if (hold == REACHSCAN_FREEZE) {
		fz = freeze__new(pid);
		if (!fz) {
			err = -errno;
			goto out;
		}
		*nr_sps = fz->nr_threads;
	} else if (hold == REACHSCAN_STOPPED) {
		err = freeze_regs(pid, &regs);
		if (err)
			goto out;
		*nr_sps = 1;
	}
	*sps = calloc(*nr_sps + 1, sizeof(**sps));
	ro->regs = calloc(*nr_sps * sizeof(regs) / 8 + 1, 8);
	if (!*sps || !ro->regs) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < *nr_sps; i++) {
		const struct user_regs_struct *r = fz ? &fz->threads[i].regs : &regs;

		if (fz && !fz->threads[i].tid)
			continue; /* exited meanwhile */
		(*sps)[i] = freeze_sp(r);
		memcpy(ro->regs + ro->nr_regs, r, sizeof(*r));
		ro->nr_regs += sizeof(*r) / 8;
	}
	*pmp = procmem__list(pid);
	if (!*pmp) {
		err = -errno;
		goto out;
	}
	err = fits(*pmp);
	if (!err)
		err = procmem__prepare(*pmp, pre);
	if (!err)
		err = procmem__read(*pmp);
out:
	if (fz) {
		freeze__thaw(fz);
		*pause_ns = now_ns() - t0;
	}
	procmem__free(pre);
	if (!err)
		err = read_blocks(rs, pid, t0, bl);
	collector__exact_times(rs->c, false);
	return err;
}

int reachscan__run(struct reachscan *rs, pid_t pid, enum reachscan_hold hold)
{
	struct blocks bl = {0};
	struct reach_region *mem = NULL;
	struct procmem *pm = NULL;
	struct roots ro = {0};
	uint64_t *sps = NULL, pause_ns = 0, t0 = now_ns();
	size_t nr_sps = 0;
	int err;

	err = copy_process(rs, pid, hold, &bl, &pm, &ro, &sps, &nr_sps, &pause_ns);
	if (err)
		goto out;
	mem = calloc(pm->nr_maps + 1, sizeof(*mem));
	if (!mem) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < pm->nr_maps; i++)
		mem[i] = (struct reach_region){.start = pm->maps[i].start,
					       .len = pm->maps[i].end - pm->maps[i].start,
					       .data = pm->maps[i].data};
	err = build_roots(&ro, pm, sps, nr_sps);
	if (err)
		goto out;
	reach_sort(bl.b, bl.n);
	err = reach_mark(bl.b, bl.n, ro.r, ro.nr, mem, pm->nr_maps);
	if (!err)
		err = tally(rs, pid, bl.b, bl.n);
	if (err)
		goto out;
	rs->scans++;
	rs->live |= hold == REACHSCAN_LIVE;
	if (hold == REACHSCAN_FREEZE)
		log_info("pid %d: reachability scan of %.1f MiB and %zu blocks in %.1f ms, paused "
			 "%.1f ms",
			 (int)pid, pm->bytes / 1048576.0, bl.n, (now_ns() - t0) / 1e6,
			 pause_ns / 1e6);
	else
		log_info("pid %d: reachability scan of %.1f MiB and %zu blocks in %.1f ms%s",
			 (int)pid, pm->bytes / 1048576.0, bl.n, (now_ns() - t0) / 1e6,
			 hold == REACHSCAN_LIVE ? ", not paused: approximate"
						: " at its exit stop");
out:
	if (err)
		log_error("pid %d: reachability scan failed: %s%s", (int)pid, strerror(-err),
			  err == -EPERM && hold == REACHSCAN_FREEZE
				  ? " (another tracer, such as gdb or strace, holds it)"
				  : "");
	free(bl.b);
	free(mem);
	free(ro.r);
	free(ro.regs);
	free(sps);
	procmem__free(pm);
	return err;
}

int reachscan__apply(const struct reachscan *rs, struct snapshot *snap)
{
	size_t n = 0;

	snap->reach_scans = rs->scans;
	snap->reach_approximate = rs->live;
	if (!rs->scans || !snap->nr_stacks)
		return 0;
	free(snap->reach_splits);
	snap->reach_splits = malloc(snap->nr_stacks * sizeof(*snap->reach_splits));
	if (!snap->reach_splits)
		return -ENOMEM;
	for (size_t i = 0; i < snap->nr_stacks; i++) {
		struct stack_record *r = &snap->stacks[i];
		uint64_t *slot = hashtab__find(rs->ix, r->stack_id);

		if (slot && rs->entries[*slot].split.valid) {
			snap->reach_splits[n] = rs->entries[*slot].split;
			r->reach = &snap->reach_splits[n++];
		}
	}
	return 0;
}
