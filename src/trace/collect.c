/* collect.c: reads the BPF maps into a snapshot (batch lookups, with a fallback). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "base/clock.h"
#include "base/array.h"
#include "base/hashtab.h"
#include "trace/collect.h"
#include "trace/evict.h"
#include "base/log.h"
#include "base/yield.h"

/*
 * A stack of the tables, as the collector knows it: its return addresses, read from the stacks map
 * once and shared with the readings, and its totals as they were when they last changed. The
 * collector re-reads only the stacks whose ids the programs put in the changed ring since the last
 * reading; every stack on the first reading, when the ring filled, and with --min-age.
 */
struct cached_stack {
	struct stack_ips *ips;	/* one reference; NULL: the stacks map had no entry for the id */
	uint64_t id;		/* its id in the tables */
	uint64_t id0;		/* its id in epoch 0, which the readings name it by */
	uint32_t tgid, exec_id, epoch;
	bool in_totals;		/* the totals map has its entry: the readings list it */
	uint64_t full_read;	/* the full read that last saw it */
	struct lt_totals t;
	uint64_t oldest_ns;	/* its oldest block's time (lt_ages_oldest); 0: none */
};

/* The evictor reads the maps itself when no other reading came for this long. */
#define MAINTAIN_READ_NS (3 * EVICT_PERIOD_NS)

struct collector {
	struct evictor *ev;
	struct tracer *t;
	int totals_fd, unknown_fd, stacks_fd, stats_fd;
	int nr_cpus;
	bool no_batch;			/* the kernel refused batch lookups once */
	struct ring_buffer *changed;	/* the ids of the stacks that changed; NULL: read them all */
	uint64_t *changed_ids;		/* drained from it, for the reading under way */
	size_t nr_changed, cap_changed;
	uint64_t full_reads;		/* readings that read every entry */
	uint64_t last_read_ns;		/* the latest reading (collector__read) */
	size_t last_nr_stacks;		/* the stacks it read */
	struct hashtab *stack_ix;	/* stack id -> index in stack_cache */
	struct cached_stack *stack_cache;
	size_t nr_cached, cap_cached;
};

static int on_changed(void *ctx, void *data, size_t size)
{
	struct collector *c = ctx;

	if (size < sizeof(uint64_t))
		return 0;
	if (array_reserve(&c->changed_ids, &c->cap_changed, c->nr_changed,
			  sizeof(*c->changed_ids), 1024))
		return -ENOMEM;
	memcpy(&c->changed_ids[c->nr_changed++], data, sizeof(uint64_t));
	return 0;
}

struct collector *collector__new(struct tracer *t, uint32_t max_stacks)
{
	struct collector *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ev = evictor__new(t, max_stacks);
	c->t = t;
	c->totals_fd = tracer__stack_totals_fd(t);
	c->unknown_fd = tracer__unknown_totals_fd(t);
	c->stacks_fd = tracer__stacks_fd(t);
	c->stats_fd = tracer__stats_fd(t);
	c->nr_cpus = libbpf_num_possible_cpus();
	c->stack_ix = hashtab__new(1024);
	if (tracer__changed_fd(t) >= 0)
		c->changed = ring_buffer__new(tracer__changed_fd(t), on_changed, c, NULL);
	if (!c->ev || c->nr_cpus <= 0 || !c->stack_ix) {
		collector__free(c);
		errno = ENOMEM;
		return NULL;
	}
	return c;
}

void collector__free(struct collector *c)
{
	if (!c)
		return;
	evictor__free(c->ev);
	ring_buffer__free(c->changed);
	free(c->changed_ids);
	hashtab__free(c->stack_ix);
	for (size_t i = 0; i < c->nr_cached; i++)
		stack_ips__put(c->stack_cache[i].ips);
	free(c->stack_cache);
	free(c);
}

typedef int (*entry_fn)(const void *key, const void *value, void *ctx);

/*
 * Calls fn for every entry of a hash map: batch lookups of `chunk` entries where the kernel has
 * them, get-next-key otherwise. Entries may come and go meanwhile: each is seen at most once.
 */
static int map_for_each(struct collector *c, int fd, size_t key_size, size_t value_size,
			entry_fn fn, void *ctx)
{
	const uint32_t chunk = 4096;
	char *keys = malloc(chunk * key_size), *values = malloc(chunk * value_size);
	char *key = NULL, *next;
	uint64_t batch_pos = 0;
	bool first = true;
	int err = 0;

	if (!keys || !values) {
		err = -ENOMEM;
		goto out;
	}
	while (!c->no_batch) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		uint32_t count = chunk;

		err = bpf_map_lookup_batch(fd, first ? NULL : &batch_pos, &batch_pos, keys, values,
					   &count, &opts);
		if (err && errno == EINVAL && first) {
			c->no_batch = true;
			break;
		}
		if (err && errno != ENOENT) {
			err = -errno;
			goto out;
		}
		first = false;
		for (uint32_t i = 0; i < count; i++) {
			int rc = fn(keys + i * key_size, values + i * value_size, ctx);

			yield_point();
			if (rc) {
				err = rc;
				goto out;
			}
		}
		if (err) { /* ENOENT: that was the last chunk */
			err = 0;
			goto out;
		}
	}
	/* Fallback: one key at a time. */
	next = keys;
	while (bpf_map_get_next_key(fd, key, next) == 0) {
		if (bpf_map_lookup_elem(fd, next, values) == 0) {
			err = fn(next, values, ctx);
			if (err)
				goto out;
		}
		key = next;
		next = next == keys ? keys + key_size : keys;
	}
	err = 0;
out:
	free(keys);
	free(values);
	return err;
}

static int64_t clamp(int64_t v, int64_t max)
{
	return v < 0 ? 0 : v < max ? v : max;
}

/* A record's figures: a stack's totals, and the age at now of its oldest block (oldest_ns). */
static void set_figures(struct stack_record *rec, const struct lt_totals *t, uint64_t oldest_ns,
			uint64_t now)
{
	rec->last_alloc_ns = t->last_alloc_ns;
	rec->outstanding_bytes = t->outstanding_bytes;
	rec->outstanding_allocs = t->outstanding_allocs;
	rec->allocs = t->allocs;
	rec->alloc_bytes = t->alloc_bytes;
	rec->oldest_age_s = oldest_ns && oldest_ns <= now ? (now - oldest_ns) / 1e9 : -1;
}

/* --min-age: the outstanding figures of the blocks at least min_age old, from the age slots. */
static void keep_min_age(struct stack_record *rec, const struct lt_ages *ages, uint64_t now,
			 uint64_t min_age)
{
	__s64 bytes, allocs;

	lt_ages_before(ages, now > min_age ? now - min_age : 0, &bytes, &allocs);
	/* Racing CPUs may leave a block in a neighbouring slot (ages.h): kept in range. */
	rec->outstanding_bytes = clamp(bytes, rec->outstanding_bytes);
	rec->outstanding_allocs = clamp(allocs, rec->outstanding_allocs);
	if (rec->outstanding_allocs <= 0)
		rec->oldest_age_s = -1;
}

/*
 * The cache's entry of id; with create, made when missing, its stack read from the stacks map (an
 * entry without one when the map has none). NULL when missing, or no memory.
 */
static struct cached_stack *cache_entry(struct collector *c, uint64_t id, bool create)
{
	uint64_t *slot = hashtab__find(c->stack_ix, id);
	struct cached_stack *cs;
	struct lt_stack st;
	uint32_t nr;

	if (slot)
		return &c->stack_cache[*slot];
	if (!create || array_reserve(&c->stack_cache, &c->cap_cached, c->nr_cached,
				     sizeof(*c->stack_cache), 256))
		return NULL;
	cs = &c->stack_cache[c->nr_cached];
	*cs = (struct cached_stack){ .id = id, .id0 = id };
	/* Stored before its first totals, deleted with its last: a missing stack stays missing. */
	if (bpf_map_lookup_elem(c->stacks_fd, &id, &st) == 0) {
		nr = st.nr_ips < LT_MAX_DEPTH ? st.nr_ips : LT_MAX_DEPTH;
		cs->ips = stack_ips__new((const uint64_t *)st.ips, nr);
		if (!cs->ips)
			return NULL;
		cs->tgid = st.tgid;
		cs->exec_id = st.exec_id;
		cs->epoch = st.epoch;
		cs->id0 = nr ? lt_stack_hash(st.tgid, st.exec_id, 0, st.ips, nr) : id;
	}
	if (hashtab__put(c->stack_ix, id, c->nr_cached)) {
		stack_ips__put(cs->ips);
		return NULL;
	}
	c->nr_cached++;
	return cs;
}

/* The stack of id with its addresses, from the cache or else the map. NULL: none, or no memory. */
static const struct cached_stack *stack_get(struct collector *c, uint64_t id)
{
	const struct cached_stack *cs = cache_entry(c, id, true);

	return cs && cs->ips ? cs : NULL;
}

static void keep_totals(struct cached_stack *cs, const struct lt_heap_totals *v)
{
	cs->t = v->t;
	cs->oldest_ns = lt_ages_oldest(&v->ages);
	cs->in_totals = true;
}

/*
 * Adds a stack's record (its figures in rec) to snap, named by its stack: under its id in epoch
 * 0 (*moved when that is another id). A stack whose entry is gone counts its allocations lost.
 */
static int add_stack(struct snapshot *snap, const struct cached_stack *cs,
		     struct stack_record *rec, bool *moved)
{
	if (!cs->ips) {
		/* Its stack retired while a block came back to it (realloc failing): unknown now. */
		snap->stats[LT_STAT_LOST_STACKS] += rec->allocs;
		return 0;
	}
	*moved |= cs->id != cs->id0;
	rec->stack_id = cs->id0;
	rec->pid = cs->tgid;
	rec->exec_id = cs->exec_id;
	rec->nr_ips = cs->ips->nr;
	rec->ips = cs->ips->ips;
	rec->shared = cs->ips;
	return snapshot__add(snap, rec);
}

struct reading {
	struct collector *c;
	struct snapshot *snap;
	uint64_t now;
	uint64_t min_age;	/* --min-age: the records are made as the entries are read */
	bool moved;		/* a record's stack id is not the one in the tables */
};

/* An entry of a full read: kept in the cache; with --min-age, its record made. */
static int take_totals(const void *key, const void *value, void *ctx)
{
	struct reading *r = ctx;
	const struct lt_heap_totals *v = value;
	struct cached_stack *cs = cache_entry(r->c, *(const uint64_t *)key, true);
	struct stack_record rec = { 0 };

	if (!cs)
		return -ENOMEM;
	keep_totals(cs, v);
	cs->full_read = r->c->full_reads;
	if (!r->min_age)
		return 0;
	set_figures(&rec, &v->t, cs->oldest_ns, r->now);
	keep_min_age(&rec, &v->ages, r->now, r->min_age);
	return add_stack(r->snap, cs, &rec, &r->moved);
}

/* Re-reads the entries of the stacks that changed, as the ring named them. */
static int read_changed(struct collector *c)
{
	struct lt_heap_totals v;
	struct cached_stack *cs;

	for (size_t i = 0; i < c->nr_changed; i++) {
		uint64_t id = c->changed_ids[i];

		if (bpf_map_lookup_elem(c->totals_fd, &id, &v) == 0) {
			cs = cache_entry(c, id, true);
			if (!cs)
				return -ENOMEM;
			keep_totals(cs, &v);
		} else if (errno == ENOENT) {
			cs = cache_entry(c, id, false);
			if (cs)
				cs->in_totals = false;
		} else {
			return -errno;
		}
		yield_point();
	}
	return 0;
}

/*
 * Brings the cache's totals up to date: the entries the changed ring names, or every entry (the
 * first reading, --min-age, a ring that filled, or none).
 */
static int update_totals(struct collector *c, struct reading *r)
{
	bool full = !c->changed || !c->full_reads || r->min_age;
	int err;

	if (c->changed) {
		/* The generation moves on first: a change from here on is in the ring again. */
		full |= tracer__changed_next(c->t);
		c->nr_changed = 0;
		if (ring_buffer__consume(c->changed) < 0)
			return -ENOMEM;
	}
	if (!full)
		return read_changed(c);
	c->full_reads++;
	err = map_for_each(c, c->totals_fd, sizeof(uint64_t), sizeof(struct lt_heap_totals),
			   take_totals, r);
	if (err)
		return err;
	for (size_t i = 0; i < c->nr_cached; i++)
		if (c->stack_cache[i].full_read != c->full_reads)
			c->stack_cache[i].in_totals = false;
	return 0;
}

/* The records of the cache's stacks that have entries (their figures as last read). */
static int add_cached(struct collector *c, struct reading *r)
{
	for (size_t i = 0; i < c->nr_cached; i++) {
		const struct cached_stack *cs = &c->stack_cache[i];
		struct stack_record rec = { 0 };
		int err;

		if (!cs->in_totals)
			continue;
		set_figures(&rec, &cs->t, cs->oldest_ns, r->now);
		err = add_stack(r->snap, cs, &rec, &r->moved);
		if (err)
			return err;
	}
	return 0;
}

/* The unknown stack's totals, when it ever had a block. */
static int add_unknown(struct collector *c, struct reading *r)
{
	struct lt_heap_totals v;
	struct stack_record rec = { 0 };
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(c->unknown_fd, &zero, &v))
		return -errno;
	if (!v.t.allocs && !v.t.outstanding_allocs)
		return 0;
	set_figures(&rec, &v.t, lt_ages_oldest(&v.ages), r->now);
	if (r->min_age)
		keep_min_age(&rec, &v.ages, r->now, r->min_age);
	return snapshot__add(r->snap, &rec);
}

static int read_stats(struct collector *c, struct snapshot *snap)
{
	uint64_t *percpu = calloc(c->nr_cpus, sizeof(*percpu));

	if (!percpu)
		return -ENOMEM;
	for (uint32_t k = 0; k < LT_STAT_MAX; k++) {
		snap->stats[k] = 0;
		if (bpf_map_lookup_elem(c->stats_fd, &k, percpu))
			continue;
		for (int cpu = 0; cpu < c->nr_cpus; cpu++)
			snap->stats[k] += percpu[cpu];
	}
	free(percpu);
	return 0;
}

/* Forgets the cached stacks of deleted ids: the cache follows the tables. */
static int uncache(struct collector *c, const uint64_t *ids, size_t n)
{
	size_t *to, out = 0, pos = 0;
	uint64_t *slot;

	if (!n)
		return 0;
	/* Where each cached stack moves to; SIZE_MAX for those that go. */
	to = calloc(c->nr_cached ? c->nr_cached : 1, sizeof(*to));
	if (!to)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		slot = hashtab__find(c->stack_ix, ids[i]);
		if (!slot)
			continue;
		to[*slot] = SIZE_MAX;
		hashtab__delete(c->stack_ix, ids[i]);
	}
	for (size_t i = 0; i < c->nr_cached; i++) {
		if (to[i] == SIZE_MAX) {
			stack_ips__put(c->stack_cache[i].ips);
			continue;
		}
		to[i] = out;
		c->stack_cache[out++] = c->stack_cache[i];
	}
	while (hashtab__next(c->stack_ix, &pos, NULL, &slot))
		*slot = to[*slot];
	c->nr_cached = out;
	free(to);
	return 0;
}

/* The eviction pass over the cache's entries, when the evictor is due. */
static int evict(struct collector *c, uint64_t now)
{
	struct stack_entry *entries = malloc((c->nr_cached + 1) * sizeof(*entries));
	uint64_t *deleted = NULL;
	size_t n = 0, nr_deleted;
	int err;

	if (!entries)
		return -ENOMEM;
	for (size_t i = 0; i < c->nr_cached; i++) {
		const struct cached_stack *cs = &c->stack_cache[i];

		if (cs->in_totals && cs->ips)
			entries[n++] = (struct stack_entry){
				.id = cs->id,
				.epoch = cs->epoch,
				.empty = cs->t.outstanding_allocs == 0 && cs->t.outstanding_bytes == 0,
				.allocs = cs->t.allocs,
				.alloc_bytes = cs->t.alloc_bytes,
			};
	}
	err = evictor__run(c->ev, entries, n, now, &deleted, &nr_deleted);
	if (!err)
		err = uncache(c, deleted, nr_deleted);
	free(deleted);
	free(entries);
	return err;
}

/*
 * One stack has an entry per epoch it allocated in: reports show it once, under its id in epoch 0
 * (the records' stack_id by now), with the entries' figures summed (the oldest block's age, the
 * latest allocation).
 */
static int merge_epochs(struct snapshot *snap)
{
	struct hashtab *seen = hashtab__new(snap->nr_stacks);
	size_t out = 0;

	if (!seen)
		return -ENOMEM;
	for (size_t i = 0; i < snap->nr_stacks; i++) {
		struct stack_record *r = &snap->stacks[i];
		uint64_t *slot;

		slot = r->stack_id ? hashtab__find(seen, r->stack_id) : NULL;
		if (slot) {
			struct stack_record *into = &snap->stacks[*slot];

			into->outstanding_bytes += r->outstanding_bytes;
			into->outstanding_allocs += r->outstanding_allocs;
			into->allocs += r->allocs;
			into->alloc_bytes += r->alloc_bytes;
			if (r->oldest_age_s > into->oldest_age_s)
				into->oldest_age_s = r->oldest_age_s;
			if (r->last_alloc_ns > into->last_alloc_ns)
				into->last_alloc_ns = r->last_alloc_ns;
			stack_ips__put(r->shared);
			continue;
		}
		if (r->stack_id && hashtab__put(seen, r->stack_id, out)) {
			hashtab__free(seen);
			return -ENOMEM;
		}
		snap->stacks[out++] = *r;
	}
	snap->nr_stacks = out;
	hashtab__free(seen);
	return 0;
}

struct snapshot *collector__read(struct collector *c, uint64_t min_age_ns)
{
	struct snapshot *snap = snapshot__new();
	struct reading r = { .c = c, .snap = snap, .min_age = min_age_ns };
	int err = -ENOMEM;

	if (!snap)
		goto fail;
	snap->taken_ns = now_ns();
	r.now = snap->taken_ns;
	c->last_read_ns = snap->taken_ns;
	/* Room for as many stacks as last time, and some: a reading grows its array only rarely. */
	err = snapshot__reserve(snap, c->last_nr_stacks + c->last_nr_stacks / 8 + 64);
	if (!err)
		err = read_stats(c, snap);
	if (!err)
		err = update_totals(c, &r);
	if (!err && !min_age_ns)
		err = add_cached(c, &r);
	if (!err)
		err = add_unknown(c, &r);
	if (!err && evictor__due(c->ev, snap->taken_ns))
		err = evict(c, snap->taken_ns);
	if (!err && r.moved)
		err = merge_epochs(snap);
	if (err)
		goto fail;
	snapshot__sum_totals(snap);
	/* What evicted stacks had allocated is still allocated since attach. */
	snap->totals.allocs += evictor__evicted_allocs(c->ev);
	snap->totals.alloc_bytes += evictor__evicted_bytes(c->ev);
	snap->totals.frees = snap->stats[LT_STAT_FREES];
	snap->stacks_evicted = evictor__nr_evicted(c->ev);
	c->last_nr_stacks = snap->nr_stacks;
	return snap;
fail:
	log_error("cannot read the BPF maps: %s", strerror(-err));
	snapshot__free(snap);
	errno = -err;
	return NULL;
}

struct blocks_ctx {
	struct collector *c;
	uint32_t pid;
	struct reach_block *b;
	size_t nr, cap;
};

static int add_block(const void *key, const void *value, void *ctx_)
{
	const struct lt_alloc_key *k = key;
	const struct lt_alloc *a = value;
	struct blocks_ctx *ctx = ctx_;
	const struct cached_stack *st;
	uint64_t id = a->stack_id;

	if (k->tgid != ctx->pid)
		return 0;
	st = id ? stack_get(ctx->c, id) : NULL;
	if (st)
		id = st->id0;
	if (array_reserve(&ctx->b, &ctx->cap, ctx->nr, sizeof(*ctx->b), 1024))
		return -ENOMEM;
	ctx->b[ctx->nr++] = (struct reach_block){
		.addr = k->addr, .size = a->size, .stack_id = id, .alloc_ns = a->ts_ns
	};
	return 0;
}

int collector__blocks(struct collector *c, int pid, struct reach_block **blocks, size_t *nr)
{
	struct blocks_ctx ctx = { .c = c, .pid = (uint32_t)pid };
	const int *fds;
	size_t nr_fds = tracer__alloc_fds(c->t, &fds);
	int err = 0;

	/* every tier of the table: a block is in one */
	for (size_t i = 0; i < nr_fds && !err; i++)
		err = map_for_each(c, fds[i], sizeof(struct lt_alloc_key), sizeof(struct lt_alloc),
				   add_block, &ctx);

	if (err) {
		free(ctx.b);
		return err;
	}
	*blocks = ctx.b;
	*nr = ctx.nr;
	return 0;
}

int collector__maintain(struct collector *c)
{
	struct snapshot *snap;
	uint64_t now = now_ns();
	int err = tracer__grow_allocs(c->t);

	if (err)
		return err;
	if (!evictor__due(c->ev, now))
		return 0;
	/*
	 * The modes' readings run the evictor when it is due: a reading of its own only for the
	 * deletions a new epoch left (the tables are filling), or where no reading came for
	 * MAINTAIN_READ_NS. Readings every second or two (the view, -i, the plain modes' trend
	 * readings) are then never doubled by one of the evictor's, which costs as much.
	 */
	if (c->last_read_ns && now - c->last_read_ns < MAINTAIN_READ_NS && !evictor__pending(c->ev))
		return 0;
	snap = collector__read(c, 0);
	if (!snap)
		return -errno;
	snapshot__free(snap);
	return 0;
}
