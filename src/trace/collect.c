/* collect.c: reads the BPF maps into a snapshot: the stacks that changed, or all of them. */
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

/* How far ahead a walk of the entries in the bytes order asks for them. */
#define PREFETCH_AHEAD 16

/* No entry: the end of a group's chain. */
#define NONE UINT32_MAX

/*
 * An entry of the stack tables, as the collector knows it: its stack's return addresses, read from
 * the stacks map once and shared with the readings, and its totals as they were when they last
 * changed. The collector re-reads only the entries the programs put in the changed ring since the
 * last reading; every entry on the first reading, with --min-age, or when the ring filled.
 * A stack has an entry per epoch it allocated in (evict.h): the entries of one stack (one id in
 * epoch 0) make a group, chained from its head (the first of them in the cache), which the
 * readings list once, with the entries' figures summed.
 */
struct cached_stack {
	struct stack_ips *ips;	/* one reference; NULL: the stacks map had no entry for the id */
	uint64_t id;		/* its id in the tables */
	uint64_t id0;		/* its id in epoch 0, which the readings name it by */
	uint32_t tgid, exec_id, epoch;
	uint32_t head;		/* the head of its group (itself for a head); NONE: not linked yet */
	uint32_t next;		/* the next entry of its group, NONE */
	bool in_totals;		/* the totals map has the entry */
	bool queued;		/* a head whose group changed in the reading under way */
	uint32_t full_read;	/* the full read that last saw it */
	struct lt_totals t;
	uint64_t oldest_ns;	/* its oldest block's time (lt_ages_oldest); 0: none */
	int64_t group_bytes;	/* a listed head's: its group's bytes when it was placed */
};

/* The evictor reads the maps itself when no other reading came for this long. */
#define MAINTAIN_READ_NS (3 * EVICT_PERIOD_NS)

struct collector {
	struct evictor *ev;
	struct tracer *t;
	int totals_fd, unknown_fd, stacks_fd, stats_fd;
	int nr_cpus;
	bool no_batch;			/* the kernel refused batch lookups once */
	struct ring_buffer *changed;	/* the entries that changed; NULL: read them all */
	uint64_t gen;			/* the generation the reading under way moved to */
	/*
	 * The ids to look up in the reading under way: those drained from the ring, then those of
	 * them that carry the new generation (told in it, they are not told again when they change
	 * in it), which the next reading looks up too.
	 */
	uint64_t *changed_ids, *carried;
	size_t nr_changed, cap_changed, nr_carried, cap_carried;
	uint32_t full_reads;		/* readings that read every entry */
	uint64_t last_read_ns;		/* the latest reading (collector__read) */
	size_t last_nr_stacks;		/* the stacks it read */
	struct hashtab *stack_ix;	/* stack id -> index in stack_cache */
	/*
	 * Id in epoch 0 -> index of the group's head, for the heads that are not their stack's
	 * entry of epoch 0 (stack_ix finds those); few.
	 */
	struct hashtab *groups;
	struct cached_stack *stack_cache;
	size_t nr_cached, cap_cached;
	/*
	 * The listed groups (with addresses, an entry in the totals), as their heads' indexes, in
	 * the bytes order (snapshot__sort's): a reading lists them so, and only the groups that
	 * changed move. The heads of the groups changed in the reading under way, to be placed again.
	 */
	uint32_t *order, *requeue;
	size_t nr_order, cap_order, nr_requeue, cap_requeue;
};

static int add_id(uint64_t **ids, size_t *nr, size_t *cap, uint64_t id)
{
	if (array_reserve(ids, cap, *nr, sizeof(**ids), 1024))
		return -ENOMEM;
	(*ids)[(*nr)++] = id;
	return 0;
}

static int on_changed(void *ctx, void *data, size_t size)
{
	struct collector *c = ctx;
	struct lt_changed rec;

	if (size < sizeof(rec))
		return 0;
	memcpy(&rec, data, sizeof(rec));
	if (rec.gen == c->gen &&
	    add_id(&c->carried, &c->nr_carried, &c->cap_carried, rec.stack_id))
		return -ENOMEM;
	return add_id(&c->changed_ids, &c->nr_changed, &c->cap_changed, rec.stack_id);
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
	c->groups = hashtab__new(1024);
	if (tracer__changed_fd(t) >= 0)
		c->changed = ring_buffer__new(tracer__changed_fd(t), on_changed, c, NULL);
	if (!c->ev || c->nr_cpus <= 0 || !c->stack_ix || !c->groups) {
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
	free(c->carried);
	hashtab__free(c->stack_ix);
	hashtab__free(c->groups);
	for (size_t i = 0; i < c->nr_cached; i++)
		stack_ips__put(c->stack_cache[i].ips);
	free(c->stack_cache);
	free(c->order);
	free(c->requeue);
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
 * Puts entry idx in its group: the head of a new one, or the second of its group's chain. The
 * group's head is its stack's entry of epoch 0 when that is linked already, else the groups
 * table says.
 */
static int link_entry(struct collector *c, uint32_t idx)
{
	struct cached_stack *cs = &c->stack_cache[idx];
	uint64_t *slot;
	uint32_t head;

	cs->head = idx;
	cs->next = NONE;
	if (!cs->ips)
		return 0;
	slot = hashtab__find(c->stack_ix, cs->id0);
	if (slot && *slot != idx && c->stack_cache[*slot].ips &&
	    c->stack_cache[*slot].head != NONE) {
		head = c->stack_cache[*slot].head;
	} else if ((slot = hashtab__find(c->groups, cs->id0))) {
		head = (uint32_t)*slot;
	} else {
		/* A head; one of another epoch is found through the groups table. */
		return cs->id != cs->id0 && hashtab__put(c->groups, cs->id0, idx) ? -ENOMEM : 0;
	}
	cs->head = head;
	cs->next = c->stack_cache[head].next;
	c->stack_cache[head].next = idx;
	return 0;
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
	if (!create || c->nr_cached >= NONE ||
	    array_reserve(&c->stack_cache, &c->cap_cached, c->nr_cached, sizeof(*c->stack_cache),
			  256))
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
	if (link_entry(c, (uint32_t)c->nr_cached)) {
		hashtab__delete(c->stack_ix, id);
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
 * A group's figures, its entries' in the totals summed (its oldest block's time, its latest
 * allocation); false when none of them is in the totals.
 */
static bool group_figures(const struct collector *c, uint32_t head, struct lt_totals *t,
			  uint64_t *oldest_ns)
{
	bool any = false;

	*t = (struct lt_totals){ 0 };
	*oldest_ns = 0;
	for (uint32_t i = head; i != NONE; i = c->stack_cache[i].next) {
		const struct cached_stack *cs = &c->stack_cache[i];

		if (!cs->in_totals)
			continue;
		any = true;
		t->outstanding_bytes += cs->t.outstanding_bytes;
		t->outstanding_allocs += cs->t.outstanding_allocs;
		t->allocs += cs->t.allocs;
		t->alloc_bytes += cs->t.alloc_bytes;
		if (cs->t.last_alloc_ns > t->last_alloc_ns)
			t->last_alloc_ns = cs->t.last_alloc_ns;
		if (cs->oldest_ns && (!*oldest_ns || cs->oldest_ns < *oldest_ns))
			*oldest_ns = cs->oldest_ns;
	}
	return any;
}

/* A stack retired while a block came back to it (realloc failing): its allocations are lost. */
static void snap_lost(struct snapshot *snap, uint64_t allocs)
{
	snap->stats[LT_STAT_LOST_STACKS] += allocs;
}

/*
 * Adds a stack's record (its figures in rec) to snap, named by its stack: under its id in epoch
 * 0 (*moved when that is another id). A stack whose entry is gone counts its allocations lost.
 */
static int add_stack(struct snapshot *snap, const struct cached_stack *cs,
		     struct stack_record *rec, bool *moved)
{
	if (!cs->ips) {
		snap_lost(snap, rec->allocs);
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
	uint64_t min_age;	/* --min-age: a record per entry, made as the entries are read */
	bool moved;		/* a record's stack id is not its entry's */
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

/* The group of entry idx is to be placed again in the order. */
static int requeue(struct collector *c, uint32_t idx)
{
	struct cached_stack *head = &c->stack_cache[c->stack_cache[idx].head];

	if (head->queued)
		return 0;
	if (array_reserve(&c->requeue, &c->cap_requeue, c->nr_requeue, sizeof(*c->requeue), 256))
		return -ENOMEM;
	head->queued = true;
	c->requeue[c->nr_requeue++] = c->stack_cache[idx].head;
	return 0;
}

/* Re-reads the entries the ring named, and queues their groups. */
static int read_changed(struct collector *c)
{
	struct lt_heap_totals v;
	struct cached_stack *cs;

	c->nr_requeue = 0;
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
		if (cs && requeue(c, (uint32_t)(cs - c->stack_cache)))
			return -ENOMEM;
		yield_point();
	}
	return 0;
}

/* snapshot__sort's bytes order (largest first; then pid, then the stack's id in epoch 0). */
static int cmp_order(const void *pa, const void *pb, void *ctx)
{
	const struct cached_stack *cache = ctx;
	const struct cached_stack *a = &cache[*(const uint32_t *)pa];
	const struct cached_stack *b = &cache[*(const uint32_t *)pb];

	if (a->group_bytes != b->group_bytes)
		return a->group_bytes > b->group_bytes ? -1 : 1;
	if (a->tgid != b->tgid)
		return a->tgid < b->tgid ? -1 : 1;
	if (a->id0 != b->id0)
		return a->id0 < b->id0 ? -1 : 1;
	return 0;
}

/* Whether head's group is listed; its bytes kept in the head then. */
static bool listed(struct collector *c, uint32_t head)
{
	struct cached_stack *cs = &c->stack_cache[head];
	struct lt_totals t;
	uint64_t oldest;

	if (!cs->ips || cs->head != head || !group_figures(c, head, &t, &oldest))
		return false;
	cs->group_bytes = t.outstanding_bytes;
	return true;
}

/* Room for n in the order. */
static int reserve_order(struct collector *c, size_t n)
{
	while (c->cap_order < n)
		if (array_reserve(&c->order, &c->cap_order, c->cap_order, sizeof(*c->order), 1024))
			return -ENOMEM;
	return 0;
}

/* The order made anew: every listed group, sorted. */
static int order_all(struct collector *c)
{
	int err = reserve_order(c, c->nr_cached);

	if (err)
		return err;
	c->nr_order = 0;
	for (size_t i = 0; i < c->nr_cached; i++)
		if (listed(c, (uint32_t)i))
			c->order[c->nr_order++] = (uint32_t)i;
	/* qsort's array is declared nonnull even for no elements. */
	if (c->nr_order > 1)
		qsort_r(c->order, c->nr_order, sizeof(*c->order), cmp_order, c->stack_cache);
	return 0;
}

/*
 * The queued groups placed again: taken out of the order, sorted among themselves (those still
 * listed), and merged back in. The others kept their figures, so they keep their order.
 */
static int order_changed(struct collector *c)
{
	size_t kept = 0, k = 0, i, j, out;
	int err;

	if (!c->nr_requeue)
		return 0;
	for (i = 0; i < c->nr_order; i++)
		if (!c->stack_cache[c->order[i]].queued)
			c->order[kept++] = c->order[i];
	for (i = 0; i < c->nr_requeue; i++) {
		c->stack_cache[c->requeue[i]].queued = false;
		if (listed(c, c->requeue[i]))
			c->requeue[k++] = c->requeue[i];
	}
	err = reserve_order(c, kept + k);
	if (err)
		return err;
	if (k > 1)
		qsort_r(c->requeue, k, sizeof(*c->requeue), cmp_order, c->stack_cache);
	/* Merged from the back, into the room past the kept ones. */
	i = kept;
	j = k;
	out = kept + k;
	while (j > 0) {
		if (i > 0 && cmp_order(&c->order[i - 1], &c->requeue[j - 1], c->stack_cache) > 0)
			c->order[--out] = c->order[--i];
		else
			c->order[--out] = c->requeue[--j];
	}
	c->nr_order = kept + k;
	return 0;
}

/*
 * Brings the cache's totals and order up to date: the entries the changed ring names, or every
 * entry (the first reading, --min-age, a ring that filled, or no ring).
 */
static int update_totals(struct collector *c, struct reading *r)
{
	bool full = !c->changed || !c->full_reads || r->min_age, lost;
	int err;

	if (c->changed) {
		/* Those the last reading carried, then the ring's. */
		c->nr_changed = 0;
		for (size_t i = 0; i < c->nr_carried; i++)
			if (add_id(&c->changed_ids, &c->nr_changed, &c->cap_changed, c->carried[i]))
				return -ENOMEM;
		c->nr_carried = 0;
		/* The generation moves on first: a change from here on is in the ring again. */
		lost = tracer__changed_next(c->t, &c->gen);
		if (lost && !full)
			log_debug("the changed ring filled: reading every stack");
		full |= lost;
		if (ring_buffer__consume(c->changed) < 0)
			return -ENOMEM;
	}
	if (!full) {
		err = read_changed(c);
		return err ? err : order_changed(c);
	}
	c->full_reads++;
	err = map_for_each(c, c->totals_fd, sizeof(uint64_t), sizeof(struct lt_heap_totals),
			   take_totals, r);
	if (err)
		return err;
	for (size_t i = 0; i < c->nr_cached; i++)
		if (c->stack_cache[i].full_read != c->full_reads)
			c->stack_cache[i].in_totals = false;
	return order_all(c);
}

/* The unknown stack's record into *rec; *has is false when it never had a block. 0 or -errno. */
static int read_unknown(struct collector *c, struct reading *r, struct stack_record *rec,
			bool *has)
{
	struct lt_heap_totals v;
	uint32_t zero = 0;

	*has = false;
	if (bpf_map_lookup_elem(c->unknown_fd, &zero, &v))
		return -errno;
	if (!v.t.allocs && !v.t.outstanding_allocs)
		return 0;
	*rec = (struct stack_record){ 0 };
	set_figures(rec, &v.t, lt_ages_oldest(&v.ages), r->now);
	if (r->min_age)
		keep_min_age(rec, &v.ages, r->now, r->min_age);
	*has = true;
	return 0;
}

/*
 * The records of the listed groups (their figures as last read), in the bytes order, the unknown
 * stack's in its place (first among equal bytes: pid 0, stack 0); the allocations of the entries
 * in the totals whose addresses are gone, counted lost. With --min-age, where the records were
 * made as the entries were read, the unknown stack's last.
 */
static int add_records(struct collector *c, struct reading *r)
{
	struct stack_record rec, unknown;
	struct lt_totals t;
	uint64_t oldest;
	bool has_unknown, merged = false;
	int err = read_unknown(c, r, &unknown, &has_unknown);

	for (size_t i = 0; i < c->nr_order && !err && !r->min_age; i++) {
		const struct cached_stack *cs = &c->stack_cache[c->order[i]];

		/* The entries lie apart in the cache: ask for them ahead (and their addresses). */
		if (i + PREFETCH_AHEAD < c->nr_order)
			__builtin_prefetch(&c->stack_cache[c->order[i + PREFETCH_AHEAD]]);
		if (i + PREFETCH_AHEAD / 2 < c->nr_order)
			__builtin_prefetch(c->stack_cache[c->order[i + PREFETCH_AHEAD / 2]].ips, 1);

		if (has_unknown && unknown.outstanding_bytes >= cs->group_bytes) {
			err = snapshot__add(r->snap, &unknown);
			has_unknown = false;
			if (err)
				break;
		}
		rec = (struct stack_record){ 0 };
		if (cs->next == NONE)
			set_figures(&rec, &cs->t, cs->oldest_ns, r->now);
		else if (group_figures(c, c->order[i], &t, &oldest))
			set_figures(&rec, &t, oldest, r->now);
		/* Its group is one record already. */
		err = add_stack(r->snap, cs, &rec, &merged);
	}
	if (!err && has_unknown)
		err = snapshot__add(r->snap, &unknown);
	for (size_t i = 0; i < c->nr_cached && !err && !r->min_age; i++) {
		const struct cached_stack *cs = &c->stack_cache[i];

		if (cs->in_totals && !cs->ips)
			snap_lost(r->snap, cs->t.allocs);
	}
	return err;
}

/*
 * Adds the programs' counters to snap's (which the reading may have counted losses in already).
 * Read after the stacks' figures, they count at least every event those reflect: a free of an
 * unseen block made before an allocation the reading shows is in them.
 */
static int read_stats(struct collector *c, struct snapshot *snap)
{
	uint64_t *percpu = calloc(c->nr_cpus, sizeof(*percpu));

	if (!percpu)
		return -ENOMEM;
	for (uint32_t k = 0; k < LT_STAT_MAX; k++) {
		if (bpf_map_lookup_elem(c->stats_fd, &k, percpu))
			continue;
		for (int cpu = 0; cpu < c->nr_cpus; cpu++)
			snap->stats[k] += percpu[cpu];
	}
	free(percpu);
	return 0;
}

/*
 * Forgets the deleted entries (ids): the cache follows the tables. The entries left keep their
 * order in the cache, and a group's head is always its first entry there, so a group whose head
 * went is listed under its next entry; the deleted entries held nothing, so the order stands.
 */
static int uncache(struct collector *c, const uint64_t *ids, size_t n)
{
	size_t *to, out = 0, pos = 0, kept = 0;
	uint64_t *slot;
	int err = 0;

	if (!n)
		return 0;
	/* Where each cached entry moves to; SIZE_MAX for those that go. */
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
	for (size_t i = 0; i < c->nr_cached; i++)
		if (to[i] != SIZE_MAX)
			to[i] = out++;
	/* Through the chains as they are, before the entries move: each group's first one left. */
	for (size_t i = 0; i < c->nr_order; i++) {
		size_t head = SIZE_MAX;

		for (uint32_t m = c->order[i]; m != NONE; m = c->stack_cache[m].next)
			if (to[m] < head)
				head = to[m];
		if (head != SIZE_MAX)
			c->order[kept++] = (uint32_t)head;
	}
	c->nr_order = kept;
	out = 0;
	for (size_t i = 0; i < c->nr_cached; i++) {
		if (to[i] == SIZE_MAX)
			stack_ips__put(c->stack_cache[i].ips);
		else
			c->stack_cache[out++] = c->stack_cache[i];
	}
	while (hashtab__next(c->stack_ix, &pos, NULL, &slot))
		*slot = to[*slot];
	c->nr_cached = out;
	free(to);
	hashtab__clear(c->groups);
	for (size_t i = 0; i < c->nr_cached; i++)
		c->stack_cache[i].head = NONE;
	for (size_t i = 0; i < c->nr_cached && !err; i++)
		err = link_entry(c, (uint32_t)i);
	return err;
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
		err = update_totals(c, &r);
	if (!err)
		err = add_records(c, &r);
	if (!err)
		err = read_stats(c, snap);
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

void collector__exact_times(struct collector *c, bool exact)
{
	tracer__exact_block_times(c->t, exact);
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
