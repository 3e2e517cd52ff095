/* tracer.c: the BPF skeleton's life: open, size the maps, load, attach probes, detach. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "base/array.h"
#include "bpf/leaktop.h"
#include "leaktop.skel.h"
#include "base/log.h"
#include "trace/alloctab.h"
#include "trace/closer.h"
#include "trace/tickclock.h"
#include "trace/tracer.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524 /* the kernel's own, not in the uapi errno.h */
#endif

/*
 * Newer than the uapi headers and libbpf 1.1.2 of Debian 12: uprobe_multi links (Linux 6.6) and
 * uprobe session links (Linux 6.13), created with a raw bpf(BPF_LINK_CREATE) whose attr tail is the
 * uprobe_multi layout.
 */
#define LT_BPF_TRACE_UPROBE_MULTI 48
#define LT_BPF_TRACE_UPROBE_SESSION 57

struct link_create_uprobe_multi {
	uint32_t prog_fd;
	uint32_t target_fd;
	uint32_t attach_type;
	uint32_t flags;
	uint64_t path;
	uint64_t offsets;
	uint64_t ref_ctr_offsets;
	uint64_t cookies;
	uint32_t cnt;
	uint32_t multi_flags;
	uint32_t pid;
	uint32_t pad;
};

/* A classic uprobe, as attached for pid (and to attach again for another). */
struct classic_link {
	struct bpf_link *link;
	int pid;
	char *path;
	uint64_t offset, cookie;
	bool retprobe;
};

/* A session or uprobe_multi link, as created for pid. */
struct multi_link {
	int fd;
	int pid;
	struct bpf_program *prog;
	uint32_t attach_type;
	char *path;
	uint64_t *offsets, *cookies;
	size_t n;
};

struct tracer {
	struct leaktop_bpf *skel;
	bool empty_programs;
	bool sessions;
	bool multi;
	bool task_work;			/* the kernel has BPF task work (for --track) */
	struct classic_link *links;	/* classic uprobes */
	size_t nr_links, cap_links;
	struct multi_link *link_fds;	/* session and uprobe_multi links */
	size_t nr_link_fds, cap_link_fds;
	unsigned int nr_multi_probes;	/* probes in session and uprobe_multi links */
	struct bpf_link *life_links[3];	/* forks, execs, exits */
	size_t nr_life_links;
	struct closer *closer;		/* detaches a process's probes off the loop */
	struct alloctab *allocs;	/* the live-allocation table's tiers */
	uint64_t tick_ns;		/* the tick a block's time steps by; 0: bpf_ktime_get_ns() */
};

/* The sampling tables of bpf/leaktop.bpf.c, computed here where there is floating point. */
static void fill_sampling_tables(struct leaktop_bpf *skel)
{
	for (unsigned int i = 0; i < LT_G_ENTRIES; i++) {
		double x = (double)i / LT_G_STEPS;
		double g = x == 0 ? 1.0 : x / -expm1(-x);

		skel->rodata->g_table[i] = (uint32_t)llround(g * (1 << 20));
	}
	for (unsigned int i = 0; i < LT_LOG2_ENTRIES; i++)
		skel->rodata->log2_table[i] =
			(uint32_t)llround(log2(1.0 + (double)i / LT_LOG2_STEPS) * (1 << 24));
}

/* Attaches the programs that follow the traced processes' forks, execs and exits. 0 or -errno. */
static int attach_life(struct tracer *t)
{
	struct bpf_program *progs[] = { t->skel->progs.lt_fork, t->skel->progs.lt_exec,
					t->skel->progs.lt_exit };

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct bpf_link *link;

		if (bpf_program__fd(progs[i]) < 0)
			continue;
		link = bpf_program__attach(progs[i]);
		if (!link) {
			int err = -errno;

			log_error("cannot attach %s: %s", bpf_program__name(progs[i]),
				  strerror(-err));
			return err;
		}
		t->life_links[t->nr_life_links++] = link;
	}
	return 0;
}

/* Blocks are timed by the kernel's tick once it is measured (tickclock.h), before by the clock. */
static void use_tick_clock(struct tracer *t)
{
	struct tickclock tc;
	int err;

	if (!t->skel->bss)
		return;
	err = tickclock_measure(bpf_program__fd(t->skel->progs.lt_jiffies), &tc);
	if (err) {
		log_info("block times from bpf_ktime_get_ns(): the kernel's tick was not measured: %s",
			 strerror(-err));
		return;
	}
	t->skel->bss->tick_base = tc.base;
	t->skel->bss->tick_ns = tc.tick_ns;
	t->tick_ns = tc.tick_ns;
	log_info("block times from the kernel's tick: HZ %u, %.1f ms", tc.hz, tc.tick_ns / 1e6);
}

struct tracer *tracer__new(const struct tracer_opts *opts)
{
	struct tracer *t = calloc(1, sizeof(*t));
	__typeof__(t->skel->progs) *p;
	struct btf *vmlinux;
	int err;

	if (!t)
		return NULL;
	t->closer = closer__new();
	if (!t->closer) {
		free(t);
		return NULL;
	}
	t->empty_programs = opts->empty_programs;
	t->skel = leaktop_bpf__open();
	if (!t->skel) {
		err = -errno;
		log_error("cannot open the BPF object: %s", strerror(-err));
		goto fail;
	}
	p = &t->skel->progs;
	t->skel->rodata->min_size = opts->min_size;
	t->skel->rodata->max_size = opts->max_size ? opts->max_size : ~0ULL;
	t->skel->bss->sample_rate = opts->sample_rate;
	t->skel->rodata->sampling = opts->sample_rate || opts->budget;
	t->skel->rodata->budget = opts->budget;
	t->skel->rodata->fault = opts->fault;
	t->skel->rodata->follow = opts->follow;
	fill_sampling_tables(t->skel);
	bpf_map__set_max_entries(t->skel->maps.stack_totals, opts->max_stacks);
	bpf_map__set_max_entries(t->skel->maps.stacks, opts->max_stacks);
	t->skel->rodata->unwind_mode = opts->unwind_mode;
	/* Frame pointers need no tables: one row keeps the map valid and costs nothing. */
	bpf_map__set_max_entries(t->skel->maps.unwind_rows,
				 opts->unwind_mode == LT_UNWIND_FP ? 1 : opts->unwind_rows);

	/* One read of the kernel's BTF for its three features (about 10 ms a read). */
	vmlinux = btf__load_vmlinux_btf();
	t->sessions = !opts->no_session && vmlinux &&
		      btf__find_by_name_kind(vmlinux, "bpf_session_is_return", BTF_KIND_FUNC) > 0;
	t->multi = !opts->empty_programs && vmlinux &&
		   btf__find_by_name_kind(vmlinux, "bpf_uprobe_multi_link", BTF_KIND_STRUCT) > 0;
	t->task_work = vmlinux && btf__find_by_name_kind(vmlinux, "bpf_task_work_schedule_resume_impl",
							  BTF_KIND_FUNC) > 0;
	btf__free(vmlinux);
	if (!opts->no_session && !t->sessions)
		log_warn("this kernel has no uprobe session links: using uprobe + uretprobe pairs");
	/* The classic programs always load: they are the fallback should a session link fail. */
	bpf_program__set_autoload(p->lt_entry, !opts->empty_programs);
	bpf_program__set_autoload(p->lt_return, !opts->empty_programs);
	bpf_program__set_autoload(p->lt_empty, opts->empty_programs);
	bpf_program__set_autoload(p->lt_multi, t->multi);
	bpf_program__set_autoload(p->lt_session, t->sessions && !opts->empty_programs);
	bpf_program__set_autoload(p->lt_empty_session, t->sessions && opts->empty_programs);
	bpf_program__set_expected_attach_type(p->lt_multi, LT_BPF_TRACE_UPROBE_MULTI);
	bpf_program__set_expected_attach_type(p->lt_session, LT_BPF_TRACE_UPROBE_SESSION);
	bpf_program__set_expected_attach_type(p->lt_empty_session, LT_BPF_TRACE_UPROBE_SESSION);
	/* Execs and exits are told whether forks are followed or not. */
	bpf_program__set_autoload(p->lt_fork, opts->follow && !opts->empty_programs);
	bpf_program__set_autoload(p->lt_exec, !opts->empty_programs);
	bpf_program__set_autoload(p->lt_exit, !opts->empty_programs);
	bpf_program__set_autoload(p->lt_release, !opts->empty_programs);
	/* The tick count, for use_tick_clock(); the no-op programs time nothing. */
	bpf_program__set_autoload(p->lt_jiffies, !opts->empty_programs);

	err = leaktop_bpf__load(t->skel);
	if (!err) {
		t->allocs = alloctab__new(bpf_map__fd(t->skel->maps.allocs), opts->max_allocs);
		err = t->allocs ? attach_life(t) : -errno;
	}
	if (!err && !opts->empty_programs)
		use_tick_clock(t);
	if (err) {
		if (err == -EPERM || err == -EACCES)
			log_error("cannot load the BPF programs: %s (leaktop needs root, or "
				  "CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE)",
				  strerror(-err));
		else
			log_error("cannot load the BPF programs: %s (-v shows libbpf's log)",
				  strerror(-err));
		goto fail;
	}
	return t;
fail:
	tracer__free(t);
	errno = -err;
	return NULL;
}

bool tracer__sessions(const struct tracer *t)
{
	return t->sessions;
}

bool tracer__task_work(const struct tracer *t)
{
	return t->task_work;
}

int tracer__set_allocator_range(struct tracer *t, int pid, uint64_t start, uint64_t end)
{
	struct lt_range range = { .start = start, .end = end };
	uint32_t key = (uint32_t)pid;

	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.allocator_code), &key, &range, BPF_ANY))
		return -errno;
	return 0;
}

int tracer__set_stack_epoch(struct tracer *t, uint32_t epoch)
{
	if (!t->skel->bss)
		return -ENOTSUP;
	t->skel->bss->stack_epoch = epoch;
	return 0;
}

bool tracer__multi(const struct tracer *t)
{
	return t->multi;
}

int tracer__attach(struct tracer *t, int pid, const char *path, uint64_t offset, uint64_t cookie,
		   bool retprobe)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = retprobe, .bpf_cookie = cookie);
	struct bpf_program *prog;
	struct bpf_link *link;

	if (t->empty_programs)
		prog = t->skel->progs.lt_empty;
	else
		prog = retprobe ? t->skel->progs.lt_return : t->skel->progs.lt_entry;

	if (array_reserve(&t->links, &t->cap_links, t->nr_links, sizeof(*t->links), 64))
		return -ENOMEM;
	link = bpf_program__attach_uprobe_opts(prog, pid, path, offset, &uo);
	if (!link)
		return -errno;
	t->links[t->nr_links] = (struct classic_link){ .link = link, .pid = pid,
						       .path = strdup(path), .offset = offset,
						       .cookie = cookie, .retprobe = retprobe };
	if (!t->links[t->nr_links].path) {
		bpf_link__destroy(link);
		return -ENOMEM;
	}
	t->nr_links++;
	return 0;
}

static void multi_link_free(struct multi_link *l)
{
	free(l->path);
	free(l->offsets);
	free(l->cookies);
}

int uprobe_multi_link_create(int prog_fd, bool session, int pid, const char *path,
			     const uint64_t *offsets, const uint64_t *cookies, size_t n)
{
	struct link_create_uprobe_multi attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_fd = prog_fd;
	attr.attach_type = session ? LT_BPF_TRACE_UPROBE_SESSION : LT_BPF_TRACE_UPROBE_MULTI;
	attr.path = (uint64_t)(uintptr_t)path;
	attr.offsets = (uint64_t)(uintptr_t)offsets;
	attr.cookies = (uint64_t)(uintptr_t)cookies;
	attr.cnt = n;
	attr.pid = pid;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : fd;
}

void uprobe_prog_set_session(struct bpf_program *prog)
{
	bpf_program__set_expected_attach_type(prog, LT_BPF_TRACE_UPROBE_SESSION);
}

/* One uprobe_multi or session link (attach_type) of prog over n offsets of one object. */
static int link_multi(struct tracer *t, struct bpf_program *prog, uint32_t attach_type, int pid,
		      const char *path, const uint64_t *offsets, const uint64_t *cookies, size_t n)
{
	struct multi_link l = { .pid = pid, .prog = prog, .attach_type = attach_type, .n = n };
	int fd;

	if (array_reserve(&t->link_fds, &t->cap_link_fds, t->nr_link_fds, sizeof(*t->link_fds), 16))
		return -ENOMEM;
	l.path = strdup(path);
	l.offsets = malloc(n * sizeof(*offsets));
	l.cookies = malloc(n * sizeof(*cookies));
	if (!l.path || !l.offsets || !l.cookies) {
		multi_link_free(&l);
		return -ENOMEM;
	}
	memcpy(l.offsets, offsets, n * sizeof(*offsets));
	memcpy(l.cookies, cookies, n * sizeof(*cookies));
	fd = uprobe_multi_link_create(bpf_program__fd(prog),
				      attach_type == LT_BPF_TRACE_UPROBE_SESSION, pid, path, offsets,
				      cookies, n);
	if (fd < 0) {
		multi_link_free(&l);
		return fd;
	}
	l.fd = fd;
	t->link_fds[t->nr_link_fds++] = l;
	t->nr_multi_probes += n;
	return 0;
}

/* Refused outright (not a bad path or offset): the kernel will not take this kind of link. */
static bool refused(int err)
{
	return err == -EINVAL || err == -EOPNOTSUPP || err == -ENOTSUPP || err == -E2BIG;
}

int tracer__attach_session(struct tracer *t, int pid, const char *path, const uint64_t *offsets,
			   const uint64_t *cookies, size_t n)
{
	struct bpf_program *prog = t->empty_programs ? t->skel->progs.lt_empty_session
						     : t->skel->progs.lt_session;
	int err;

	if (!t->sessions)
		return -EOPNOTSUPP;
	err = link_multi(t, prog, LT_BPF_TRACE_UPROBE_SESSION, pid, path, offsets, cookies, n);
	if (refused(err)) {
		log_warn("uprobe session link refused (%s): using uprobe + uretprobe pairs",
			 strerror(-err));
		t->sessions = false;
		return -EOPNOTSUPP;
	}
	return err;
}

int tracer__attach_multi(struct tracer *t, int pid, const char *path, const uint64_t *offsets,
			 const uint64_t *cookies, size_t n)
{
	int err;

	if (!t->multi)
		return -EOPNOTSUPP;
	err = link_multi(t, t->skel->progs.lt_multi, LT_BPF_TRACE_UPROBE_MULTI, pid, path, offsets,
			 cookies, n);
	if (refused(err)) {
		log_info("uprobe_multi link refused (%s): using one uprobe per entry point",
			 strerror(-err));
		t->multi = false;
		return -EOPNOTSUPP;
	}
	return err;
}

void tracer__detach_pid(struct tracer *t, int pid)
{
	uint32_t key = (uint32_t)pid;

	for (size_t i = 0; i < t->nr_links;) {
		if (t->links[i].pid == pid) {
			closer__add(t->closer, t->links[i].link, -1);
			free(t->links[i].path);
			t->links[i] = t->links[--t->nr_links];
		} else {
			i++;
		}
	}
	for (size_t i = 0; i < t->nr_link_fds;) {
		if (t->link_fds[i].pid == pid) {
			closer__add(t->closer, NULL, t->link_fds[i].fd);
			t->nr_multi_probes -= t->link_fds[i].n;
			multi_link_free(&t->link_fds[i]);
			t->link_fds[i] = t->link_fds[--t->nr_link_fds];
		} else {
			i++;
		}
	}
	bpf_map_delete_elem(bpf_map__fd(t->skel->maps.allocator_code), &key);
}

/*
 * A path of the parent's, "/proc/PARENT/map_files/S-E", as the child sees the same mapping: a
 * fork copies the mappings. Other paths stay as they are. NULL when out of memory.
 */
static char *child_path(const char *path, int parent, int child)
{
	char prefix[32], *p;
	int n = snprintf(prefix, sizeof(prefix), "/proc/%d/", parent);

	if (strncmp(path, prefix, (size_t)n))
		return strdup(path);
	if (asprintf(&p, "/proc/%d/%s", child, path + n) < 0)
		return NULL;
	return p;
}

int tracer__clone_pid(struct tracer *t, int parent, int child)
{
	size_t nr_links = t->nr_links, nr_multi = t->nr_link_fds;
	int err = 0;

	for (size_t i = 0; !err && i < nr_links; i++) {
		struct classic_link l = t->links[i];
		char *path;

		if (l.pid != parent)
			continue;
		path = child_path(l.path, parent, child);
		err = path ? tracer__attach(t, child, path, l.offset, l.cookie, l.retprobe) : -ENOMEM;
		free(path);
	}
	for (size_t i = 0; !err && i < nr_multi; i++) {
		struct multi_link l = t->link_fds[i];
		char *path;

		if (l.pid != parent)
			continue;
		path = child_path(l.path, parent, child);
		err = path ? link_multi(t, l.prog, l.attach_type, child, path, l.offsets, l.cookies,
					l.n)
			   : -ENOMEM;
		free(path);
	}
	if (err)
		tracer__detach_pid(t, child);
	return err;
}

int tracer__release_exited(struct tracer *t, const int *pids, size_t n)
{
	LIBBPF_OPTS(bpf_test_run_opts, run);
	int map = bpf_map__fd(t->skel->maps.released_procs), err = 0;
	uint8_t one = 1;
	size_t i;

	if (bpf_program__fd(t->skel->progs.lt_release) < 0)
		return -ENOTSUP;
	for (i = 0; i < n && !err; i++)
		if (bpf_map_update_elem(map, &(uint32_t){ (uint32_t)pids[i] }, &one, BPF_ANY))
			err = -errno;
	if (!err && bpf_prog_test_run_opts(bpf_program__fd(t->skel->progs.lt_release), &run))
		err = -errno;
	/* Cleared at once: a pid reused by a process traced later is not released with them. */
	while (i-- > 0)
		bpf_map_delete_elem(map, &(uint32_t){ (uint32_t)pids[i] });
	return err;
}

unsigned int tracer__nr_links(const struct tracer *t)
{
	return (unsigned int)t->nr_links + t->nr_multi_probes;
}

size_t tracer__alloc_fds(const struct tracer *t, const int **fds)
{
	return alloctab__fds(t->allocs, fds);
}

int tracer__grow_allocs(struct tracer *t)
{
	if (!t->skel->bss)
		return -ENOTSUP;
	return alloctab__grow(t->allocs, (uint32_t)t->skel->bss->alloc_tier);
}

int tracer__stack_totals_fd(const struct tracer *t)
{
	return bpf_map__fd(t->skel->maps.stack_totals);
}

int tracer__unknown_totals_fd(const struct tracer *t)
{
	return bpf_map__fd(t->skel->maps.unknown_totals);
}

int tracer__changed_fd(const struct tracer *t)
{
	return t->skel->bss ? bpf_map__fd(t->skel->maps.changed) : -ENOTSUP;
}

bool tracer__changed_next(struct tracer *t, uint64_t *gen)
{
	/*
	 * A full barrier between the store and the reads that follow: a program that read the old
	 * generation made its change before (its atomics are barriers too), so the reads see it.
	 */
	*gen = __atomic_add_fetch(&t->skel->bss->changed_gen, 1, __ATOMIC_SEQ_CST);
	return __atomic_exchange_n(&t->skel->bss->changed_lost, 0, __ATOMIC_SEQ_CST);
}

int tracer__procs_fd(const struct tracer *t)
{
	return bpf_map__fd(t->skel->maps.procs);
}

int tracer__events_fd(const struct tracer *t)
{
	return bpf_map__fd(t->skel->maps.events);
}

int tracer__stacks_fd(const struct tracer *t)
{
	return bpf_map__fd(t->skel->maps.stacks);
}

void tracer__exact_block_times(struct tracer *t, bool exact)
{
	if (t->tick_ns)
		__atomic_store_n(&t->skel->bss->tick_ns, exact ? 0 : t->tick_ns, __ATOMIC_SEQ_CST);
}

int tracer__stats_fd(const struct tracer *t)
{
	return bpf_map__fd(t->skel->maps.stats);
}

int tracer__unwind_rows_fd(const struct tracer *t)
{
	return bpf_map__fd(t->skel->maps.unwind_rows);
}

int tracer__unwind_procs_fd(const struct tracer *t)
{
	return bpf_map__fd(t->skel->maps.unwind_procs);
}

size_t bpf_object_prog_fds(const struct bpf_object *obj, int *fds, size_t max)
{
	struct bpf_program *prog;
	size_t n = 0;

	bpf_object__for_each_program(prog, obj) {
		int fd = bpf_program__fd(prog);

		if (fd < 0)
			continue;
		if (n < max)
			fds[n] = fd;
		n++;
	}
	return n;
}

size_t tracer__prog_fds(const struct tracer *t, int *fds, size_t max)
{
	return bpf_object_prog_fds(t->skel->obj, fds, max);
}

size_t tracer__probe_prog_fds(const struct tracer *t, int *fds, size_t max)
{
	struct bpf_program *prog;
	size_t n = 0;

	bpf_object__for_each_program(prog, t->skel->obj) {
		int fd = bpf_program__fd(prog);

		/* uprobes are of the kprobe type; the life tracepoints and lt_release are not */
		if (fd < 0 || bpf_program__type(prog) != BPF_PROG_TYPE_KPROBE)
			continue;
		if (n < max)
			fds[n] = fd;
		n++;
	}
	return n;
}

int tracer__set_sample_rate(struct tracer *t, uint64_t rate)
{
	if (!t->skel->bss)
		return -ENOTSUP;
	/* One aligned 8-byte store: a program reads the old rate or the new one, never a mix. */
	__atomic_store_n(&t->skel->bss->sample_rate, rate, __ATOMIC_RELAXED);
	return 0;
}

int tracer__budget_counts(const struct tracer *t, uint64_t counts[LT_BUDGET_MAX])
{
	int fd = bpf_map__fd(t->skel->maps.budget_counts), ncpu = libbpf_num_possible_cpus();
	uint64_t *v;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint32_t k = 0; k < LT_BUDGET_MAX; k++) {
		counts[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, v)) {
			int err = -errno;

			free(v);
			return err;
		}
		for (int c = 0; c < ncpu; c++)
			counts[k] += v[c];
	}
	free(v);
	return 0;
}

void tracer__free(struct tracer *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nr_life_links; i++)
		closer__add(t->closer, t->life_links[i], -1);
	for (size_t i = 0; i < t->nr_links; i++) {
		closer__add(t->closer, t->links[i].link, -1);
		free(t->links[i].path);
	}
	for (size_t i = 0; i < t->nr_link_fds; i++) {
		closer__add(t->closer, NULL, t->link_fds[i].fd);
		multi_link_free(&t->link_fds[i]);
	}
	closer__free(t->closer);
	alloctab__free(t->allocs);
	free(t->links);
	free(t->link_fds);
	leaktop_bpf__destroy(t->skel);
	free(t);
}
