/* track.c: --track's kinds beyond heap (bpf/track.bpf.c): load, attach, read into a snapshot. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "base/log.h"
#include "bpf/leaktop.h"
#include "trace/tracer.h"
#include "trace/track.h"
#include "track.skel.h"

struct track {
	struct track_bpf *skel;
	int nr_cpus;
	uint64_t *percpu;	/* one stats slot per CPU */
};

struct track *track__new(const struct track_opts *o)
{
	struct track *t = calloc(1, sizeof(*t));
	struct track_bpf *s;
	bool faults = o->kinds & LT_TRACK_BIT(LT_TRACK_FAULTS);
	bool mmaps = o->kinds & LT_TRACK_BIT(LT_TRACK_MMAP);
	bool kernel = o->kinds & LT_TRACK_BIT(LT_TRACK_KERNEL);
	int err;

	if (!t)
		return NULL;
	t->nr_cpus = libbpf_num_possible_cpus();
	t->percpu = t->nr_cpus > 0 ? calloc((size_t)t->nr_cpus, sizeof(*t->percpu)) : NULL;
	s = t->skel = track_bpf__open();
	if (!t->percpu || !s) {
		err = -errno;
		log_error("cannot open the --track programs: %s", strerror(-err));
		goto fail;
	}
	s->rodata->all_procs = o->all;
	s->rodata->self_tgid = (uint32_t)getpid();
	s->rodata->page_size = (uint64_t)sysconf(_SC_PAGESIZE);
	s->rodata->kinds = o->kinds;
	s->rodata->fault = o->fault;
	bpf_map__set_max_entries(s->maps.track_pages, faults ? o->max_entries : 1);
	bpf_map__set_max_entries(s->maps.track_maps, mmaps ? o->max_entries : 1);
	bpf_map__set_max_entries(s->maps.track_totals, o->max_stacks);
	bpf_map__set_max_entries(s->maps.track_stacks, o->max_stacks);
	/*
	 * Preallocated for the kernel kind only: an insert that allocates at kmalloc's tracepoint
	 * would be the traced task's allocation in turn, again and again.
	 */
	if (!kernel) {
		bpf_map__set_map_flags(s->maps.track_totals, BPF_F_NO_PREALLOC);
		bpf_map__set_map_flags(s->maps.track_stacks, BPF_F_NO_PREALLOC);
	}
	/* The traced processes are the tracer's: it adds the children it follows there. */
	err = o->all ? 0 : bpf_map__reuse_fd(s->maps.procs, o->procs_fd);
	bpf_map__set_max_entries(s->maps.track_kallocs, kernel ? o->max_entries : 1);
	bpf_program__set_autoload(s->progs.lt_fault_user, faults);
	bpf_program__set_autoload(s->progs.lt_fault_kernel, faults);
	/*
	 * The ends of the calls that map and unmap memory: through a task work scheduled from inside
	 * those calls where the kernel has BPF task work (6.18), else at every syscall's exit.
	 */
	{
		bool calls = faults || mmaps;
		bool task_work = o->task_work;

		bpf_program__set_autoload(s->progs.lt_track_sys_exit, calls && !task_work);
		bpf_program__set_autoload(s->progs.lt_track_mmap_lock, calls && task_work);
		/* madvise's, which only faults' pages care for */
		bpf_program__set_autoload(s->progs.lt_track_rss, faults && task_work);
		bpf_program__set_autoload(s->progs.lt_track_tlb, faults && task_work);
		log_debug("--track: the ends of mapping calls seen %s",
			  task_work ? "by task work" : "at every syscall's exit");
	}
	{
		struct bpf_program *kprogs[] = {
			s->progs.lt_kmalloc,	     s->progs.lt_kfree,
			s->progs.lt_kmem_cache_alloc, s->progs.lt_kmem_cache_free,
			s->progs.lt_page_alloc,	     s->progs.lt_page_free,
			s->progs.lt_percpu_alloc,    s->progs.lt_percpu_free,
		};

		for (size_t i = 0; i < sizeof(kprogs) / sizeof(kprogs[0]); i++)
			bpf_program__set_autoload(kprogs[i], kernel);
	}
	if (!err)
		err = track_bpf__load(s);
	if (!err)
		err = track_bpf__attach(s);
	if (err) {
		log_error("cannot load the --track programs: %s%s", strerror(-err),
			  err == -EPERM || err == -EACCES ? " (leaktop needs root)"
							  : " (-v shows libbpf's log)");
		goto fail;
	}
	return t;
fail:
	track__free(t);
	errno = -err;
	return NULL;
}

/*
 * Processes in track_exits: their pages and stacks leave the tables (lt_track_sweep), then the
 * entries seen before the sweep go. 0 or -errno.
 */
static int sweep_exits(struct track *t)
{
	LIBBPF_OPTS(bpf_test_run_opts, run);
	int fd = bpf_map__fd(t->skel->maps.track_exits);
	uint64_t key, next, *keys = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	for (int ret = bpf_map_get_next_key(fd, NULL, &next); !ret;
	     ret = bpf_map_get_next_key(fd, &key, &next)) {
		if (n == cap) {
			uint64_t *k = realloc(keys, (cap = cap ? 2 * cap : 64) * sizeof(*keys));

			if (!k) {
				free(keys);
				return -ENOMEM;
			}
			keys = k;
		}
		keys[n++] = key = next;
	}
	if (n && bpf_prog_test_run_opts(bpf_program__fd(t->skel->progs.lt_track_sweep), &run))
		err = -errno;
	for (size_t i = 0; !err && i < n; i++)
		bpf_map_delete_elem(fd, &keys[i]);
	free(keys);
	return err;
}

static void add_figures(struct snapshot *snap, struct stack_record *rec, const struct lt_totals *v)
{
	rec->outstanding_bytes = v->outstanding_bytes;
	rec->outstanding_allocs = v->outstanding_allocs;
	rec->allocs = v->allocs;
	rec->alloc_bytes = v->alloc_bytes;
	rec->last_alloc_ns = v->last_alloc_ns;
	rec->oldest_age_s = -1;
	snap->totals.outstanding_bytes += v->outstanding_bytes;
	snap->totals.outstanding_allocs += v->outstanding_allocs;
	snap->totals.allocs += v->allocs;
	snap->totals.alloc_bytes += v->alloc_bytes;
}

/* Every stack of the tables, and the unknown stack of each kind that counted something. */
static int read_stacks(struct track *t, struct snapshot *snap)
{
	int tfd = bpf_map__fd(t->skel->maps.track_totals);
	int sfd = bpf_map__fd(t->skel->maps.track_stacks);
	int ufd = bpf_map__fd(t->skel->maps.track_unknown);
	struct stack_record rec;
	struct lt_track_stack st;
	struct lt_totals v;
	uint64_t key, next;
	int err;

	for (int ret = bpf_map_get_next_key(tfd, NULL, &next); !ret;
	     ret = bpf_map_get_next_key(tfd, &key, &next)) {
		key = next;
		if (bpf_map_lookup_elem(tfd, &key, &v) || bpf_map_lookup_elem(sfd, &key, &st))
			continue; /* swept meanwhile */
		memset(&rec, 0, sizeof(rec));
		rec.stack_id = key;
		rec.pid = (int)st.tgid;
		rec.exec_id = st.exec_id;
		rec.kind = st.kind;
		rec.nr_ips = st.nr_ips < LT_MAX_DEPTH ? st.nr_ips : LT_MAX_DEPTH;
		rec.shared = stack_ips__new((const uint64_t *)st.ips, rec.nr_ips);
		if (!rec.shared)
			return -ENOMEM;
		rec.ips = rec.shared->ips;
		add_figures(snap, &rec, &v);
		err = snapshot__add(snap, &rec);
		stack_ips__put(rec.shared);
		if (err)
			return err;
	}
	for (uint32_t k = LT_TRACK_MMAP; k < LT_TRACK_MAX; k++) {
		if (bpf_map_lookup_elem(ufd, &k, &v))
			return -errno;
		if (!v.allocs)
			continue;
		memset(&rec, 0, sizeof(rec));
		rec.stack_id = k;
		rec.kind = k;
		add_figures(snap, &rec, &v);
		err = snapshot__add(snap, &rec);
		if (err)
			return err;
	}
	return 0;
}

static int read_stats(struct track *t, struct snapshot *snap)
{
	int fd = bpf_map__fd(t->skel->maps.track_stats);

	for (uint32_t k = LT_STAT_TRACK_LOST_STACKS; k < LT_STAT_MAX; k++) {
		if (bpf_map_lookup_elem(fd, &k, t->percpu))
			return -errno;
		for (int c = 0; c < t->nr_cpus; c++)
			snap->stats[k] += t->percpu[c];
	}
	return 0;
}

int track__read(struct track *t, struct snapshot *snap)
{
	int err = sweep_exits(t);

	if (!err)
		err = read_stacks(t, snap);
	if (!err)
		err = read_stats(t, snap);
	if (err)
		log_error("cannot read the --track maps: %s", strerror(-err));
	return err;
}

size_t track__prog_fds(const struct track *t, int *fds, size_t max)
{
	return bpf_object_prog_fds(t->skel->obj, fds, max);
}

void track__free(struct track *t)
{
	if (!t)
		return;
	track_bpf__destroy(t->skel);
	free(t->percpu);
	free(t);
}
