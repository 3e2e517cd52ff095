/* procset.c: the processes a run traces: those given, those they fork, their execs and exits. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "base/array.h"
#include "base/clock.h"
#include "base/hashtab.h"
#include "base/log.h"
#include "bpf/leaktop.h"
#include "proc/procinfo.h"
#include "proc/procview.h"
#include "trace/procset.h"
#include "trace/tracer.h"
#include "unwind/unwind_maps.h"

/* How long an exec'd image may take to map an allocator before it counts as having none. */
#define EXEC_WAIT_NS 2000000000ull
/* How often the processes thought alive are checked (an exit whose event was lost). */
#define SWEEP_NS 1000000000ull

struct proc {
	struct procset_proc pub;
	struct procfile **probed;	/* the files its probes are in */
	size_t nr_probed, cap_probed;
	uint64_t exec_ns;		/* an exec whose image has no probes yet (not held); 0: none */
	bool released;			/* exited, and its blocks released from the tables */
};

struct procset {
	struct procset_opts o;
	struct ring_buffer *rb;
	int procs_fd;			/* the BPF side's traced processes */
	struct proc *procs;
	size_t nr, cap;
	struct hashtab *index;		/* pid -> index in procs, of its latest entry */
	unsigned int nr_alive;
	unsigned int nr_pending;	/* execs waiting for their libraries */
	unsigned int nr_unreleased;	/* exited, blocks not released (not held) */
	uint64_t swept_ns;
	int err;			/* out of memory in an event handler */
	/* Read ahead by procset__urgent(): the events, each a uint64_t size and its bytes padded
	 * to 8, for the next procset__service(); and the children whose probes it put in. */
	unsigned char *ahead;
	size_t ahead_len, ahead_cap;
	struct early { int pid; uint64_t gap_ns; } *early;
	size_t nr_early, cap_early;
	int ahead_fd;			/* an eventfd, readable while events wait in ahead */
	int epoll_fd;			/* the ring's and ahead_fd: procset__fd() */
	bool urgent;			/* on_event reads ahead */
	unsigned int busy;		/* inside service or add: procset__urgent() waits */
};

static struct proc *find(const struct procset *ps, int pid)
{
	uint64_t *i = hashtab__find(ps->index, (uint32_t)pid);

	return i ? &ps->procs[*i] : NULL;
}

static bool kept(void *ctx, const struct procfile *f)
{
	const struct proc *p = ctx;

	for (size_t i = 0; i < p->nr_probed; i++)
		if (p->probed[i] == f)
			return true;
	return false;
}

static int probed(void *ctx, struct procfile *f)
{
	struct proc *p = ctx;

	if (kept(p, f))
		return 0;
	if (array_reserve(&p->probed, &p->cap_probed, p->nr_probed, sizeof(*p->probed), 8))
		return -ENOMEM;
	p->probed[p->nr_probed++] = f;
	return 0;
}

/* The name and the in-namespace pid from /proc, as of now. */
static void read_identity(struct proc *p)
{
	char *comm = procinfo_comm(p->pub.pid);

	if (comm) {
		snprintf(p->pub.comm, sizeof(p->pub.comm), "%s", comm);
		free(comm);
	}
	p->pub.nspid = procinfo_nspid(p->pub.pid);
	if (p->pub.nspid <= 0)
		p->pub.nspid = p->pub.pid;
}

/* Probes and unwind tables of p's current image. 0 or -errno. */
static int attach_image(struct procset *ps, struct proc *p)
{
	struct attach_opts ao = { .no_probe_shift = ps->o.no_probe_shift, .kept = kept,
				  .probed = probed, .ctx = p };
	int pid = p->pub.pid, err, uerr;

	/* The tables first: a stack taken before them follows frame pointers only. */
	if (ps->o.no_probes)
		return 0;
	uerr = ps->o.unwinder ? unwinder__add_pid(ps->o.unwinder, pid) : 0;
	err = attach_process(ps->o.tracer, ps->o.pv, pid, &ao);
	if (err < 0)
		return err;
	if (uerr && uerr != -ESRCH)
		log_warn("no unwind tables for pid %d (%s): its stacks follow frame pointers", pid,
			 strerror(-uerr));
	return 0;
}

static void set_state(struct procset *ps, struct proc *p, enum procset_state state, int err)
{
	if (p->pub.state == PROCSET_TRACED && state != PROCSET_TRACED)
		ps->nr_alive--;
	if (p->exec_ns)
		ps->nr_pending--;
	p->exec_ns = 0;
	p->pub.state = state;
	p->pub.err = err;
}

/* A new entry for pid (a pid used again gets a new one; the index points to the latest). */
static struct proc *proc_new(struct procset *ps, int pid)
{
	struct proc *p;

	if (array_reserve(&ps->procs, &ps->cap, ps->nr, sizeof(*ps->procs), 16) ||
	    hashtab__put(ps->index, (uint32_t)pid, ps->nr))
		return NULL;
	p = &ps->procs[ps->nr++];
	memset(p, 0, sizeof(*p));
	p->pub.pid = pid;
	p->pub.state = PROCSET_REFUSED;
	return p;
}

/*
 * A child of a traced parent runs its parent's image: the parent's probes are its probes, made
 * again for its pid without a plan (which takes milliseconds). 0 or -errno: then it gets its own.
 */
/* Whether parent's probes are its children's: traced, and not between an exec and its probes. */
static bool probes_for_children(const struct proc *parent)
{
	return parent && parent->pub.state == PROCSET_TRACED && !parent->exec_ns;
}

static int clone_parent(struct procset *ps, struct proc *child, const struct proc *parent,
			bool cloned)
{
	int pid = child->pub.pid, err;

	if (!probes_for_children(parent))
		return -ENOENT;
	err = cloned ? 0 : tracer__clone_pid(ps->o.tracer, parent->pub.pid, pid);
	for (size_t i = 0; !err && i < parent->nr_probed; i++)
		err = probed(child, parent->probed[i]);
	if (err)
		return err;
	err = ps->o.unwinder ? unwinder__add_pid(ps->o.unwinder, pid) : 0;
	if (err && err != -ESRCH)
		log_warn("no unwind tables for pid %d (%s): its stacks follow frame pointers", pid,
			 strerror(-err));
	return 0;
}

/* Whether procset__urgent() put pid's probes in (then forgotten there), and its gap then. */
static struct early *find_early(struct procset *ps, int pid)
{
	for (size_t i = 0; i < ps->nr_early; i++)
		if (ps->early[i].pid == pid)
			return &ps->early[i];
	return NULL;
}

static bool take_early(struct procset *ps, int pid, uint64_t *gap_ns)
{
	struct early *e = find_early(ps, pid);

	if (!e)
		return false;
	*gap_ns = e->gap_ns;
	*e = ps->early[--ps->nr_early];
	return true;
}

static int add(struct procset *ps, int pid, int ppid, uint64_t fork_ns);

int procset__add(struct procset *ps, int pid, int ppid, uint64_t fork_ns)
{
	int err;

	ps->busy++;
	err = add(ps, pid, ppid, fork_ns);
	ps->busy--;
	return err;
}

static int add(struct procset *ps, int pid, int ppid, uint64_t fork_ns)
{
	struct lt_proc bp = { .since_ns = fork_ns, .parent = (uint32_t)ppid,
			      .flags = (ppid ? LT_PROC_FOLLOWED : 0) |
				       (ps->o.held ? 0 : LT_PROC_EXIT_MAPS) };
	uint32_t key = (uint32_t)pid;
	struct proc *p = find(ps, pid);
	uint64_t early_gap_ns = 0;
	bool early = take_early(ps, pid, &early_gap_ns);
	int err;

	if (p && p->pub.state == PROCSET_TRACED)
		return 0;
	/* A pid seen before is another process now: what the view knew of it is stale. */
	if (p)
		procview__forget(ps->o.pv, pid);
	p = proc_new(ps, pid);
	if (!p)
		return -ENOMEM;
	p->pub.ppid = ppid;
	p->pub.followed = ppid != 0;
	read_identity(p);
	/* Told first, so that its forks, execs and exit from now on are told back. */
	if (bpf_map_update_elem(ps->procs_fd, &key, &bp, BPF_ANY)) {
		err = -errno;
		log_error("pid %d: cannot add it to the traced processes: %s", pid, strerror(-err));
		p->pub.err = err;
		return err;
	}
	p->pub.state = PROCSET_TRACED;
	ps->nr_alive++;
	err = ppid ? clone_parent(ps, p, find(ps, ppid), early) : -ENOENT;
	if (ppid && !ps->o.held && fork_ns)
		p->pub.gap_ns = early ? early_gap_ns : now_ns() - fork_ns;
	if (err == -ESRCH) {
		/* Gone while its parent's probes went in for it: what they saw until then stays. */
		procset__exited(ps, pid);
		return 0;
	}
	if (err) {
		if (early)
			tracer__detach_pid(ps->o.tracer, pid);
		err = attach_image(ps, p);
	}
	if (err) {
		bpf_map_delete_elem(ps->procs_fd, &key);
		set_state(ps, p, PROCSET_REFUSED, err);
		tracer__detach_pid(ps->o.tracer, pid);
		return err;
	}
	log_info("pid %d (%s) traced%s", pid, p->pub.comm, ppid ? ", forked by a traced one" : "");
	return 0;
}

/* An exec'd image not held: probed once its allocator is mapped, which its loader does next. */
static void exec_try(struct procset *ps, struct proc *p)
{
	int err = attach_image(ps, p);

	if (err == -ENOENT && now_ns() - p->exec_ns < EXEC_WAIT_NS)
		return;
	ps->nr_pending--;
	p->exec_ns = 0;
	if (err == -ESRCH)
		procset__exited(ps, p->pub.pid);
	else if (err)
		log_warn("pid %d runs its new image (%s) untraced: %s", p->pub.pid, p->pub.comm,
			 strerror(-err));
}

static void on_exec(struct procset *ps, const struct lt_event *e)
{
	struct proc *p = find(ps, (int)e->pid);

	if (!p || p->pub.state != PROCSET_TRACED)
		return;
	/* What was recorded before the exec keeps the old image's names. */
	procview__exec(ps->o.pv, p->pub.pid, e->exec_id - 1, e->ts_ns);
	p->pub.execs++;
	read_identity(p);
	if (ps->o.held)
		return; /* procset__exec_ready() comes once its libraries are mapped */
	if (!p->exec_ns)
		ps->nr_pending++;
	p->exec_ns = e->ts_ns;
	exec_try(ps, p);
}

int procset__exec_ready(struct procset *ps, int pid)
{
	struct proc *p = find(ps, pid);

	if (!p || p->pub.state != PROCSET_TRACED)
		return 0;
	return attach_image(ps, p);
}

void procset__exited(struct procset *ps, int pid)
{
	struct proc *p = find(ps, pid);

	if (!p || p->pub.state != PROCSET_TRACED)
		return;
	set_state(ps, p, PROCSET_EXITED, 0);
	ps->nr_unreleased += !ps->o.held;
	tracer__detach_pid(ps->o.tracer, pid);
	log_info("pid %d (%s) exited", pid, p->pub.comm);
}

/*
 * A code mapping the process had at its exit: into the view when its last read missed it. The
 * path is joined from its components (outermost last in the event).
 */
static void on_exit_map(struct procset *ps, const struct lt_map_event *e)
{
	char path[LT_MAP_NAMES * LT_MAP_NAME_LEN + 1];
	struct procmap m = { .start = e->start, .end = e->end, .file_offset = e->pgoff,
			     .dev_major = e->dev >> 20, .dev_minor = e->dev & 0xfffff,
			     .inode = e->ino, .perms = "r-xp", .path = path };
	size_t len = 0;

	if (!e->nr_names || e->nr_names > LT_MAP_NAMES)
		return;
	for (uint32_t i = e->nr_names; i-- > 0;)
		len += (size_t)snprintf(path + len, sizeof(path) - len, "/%.*s", LT_MAP_NAME_LEN - 1,
					e->names[i]);
	if (procview__add_exit_mapping(ps->o.pv, (int)e->pid, &m) == 0)
		log_debug("pid %d: %s mapped at its exit, not before", (int)e->pid, path);
}

/*
 * procset__urgent(): a fork's probes put in at once, as procset__add() would from its parent's;
 * the rest of its tracing (and every other event) waits for procset__service().
 */
static void early_clone(struct procset *ps, int pid, int ppid, uint64_t fork_ns)
{
	const struct proc *parent = find(ps, ppid), *p = find(ps, pid);

	if (!probes_for_children(parent) || (p && p->pub.state == PROCSET_TRACED) ||
	    find_early(ps, pid))
		return;
	if (array_reserve(&ps->early, &ps->cap_early, ps->nr_early, sizeof(*ps->early), 8) ||
	    tracer__clone_pid(ps->o.tracer, ppid, pid))
		return;
	ps->early[ps->nr_early++] = (struct early){ .pid = pid, .gap_ns = now_ns() - fork_ns };
}

/* The room an event of size bytes takes in ahead: its size, then its bytes padded to 8. */
static size_t ahead_room(size_t size)
{
	return sizeof(uint64_t) + ((size + 7) & ~(size_t)7);
}

static int read_ahead(struct procset *ps, const void *data, size_t size)
{
	size_t need = ahead_room(size);
	const struct lt_event *e = data;

	while (ps->ahead_cap < ps->ahead_len + need) {
		/* nr = cap: grows it (doubling) */
		if (array_reserve(&ps->ahead, &ps->ahead_cap, ps->ahead_cap, 1, 4096))
			return -ENOMEM; /* stops the read: the rest stays in the ring */
	}
	/* The loop waits for the ring, which is read now: it waits for this too. */
	if (!ps->ahead_len && write(ps->ahead_fd, &(uint64_t){ 1 }, sizeof(uint64_t)) < 0)
		log_debug("cannot wake the loop: %s", strerror(errno));
	memcpy(ps->ahead + ps->ahead_len, &(uint64_t){ size }, sizeof(uint64_t));
	memcpy(ps->ahead + ps->ahead_len + sizeof(uint64_t), data, size);
	ps->ahead_len += need;
	if (size >= sizeof(*e) && e->type == LT_EV_FORK)
		early_clone(ps, (int)e->pid, (int)e->ppid, e->ts_ns);
	return 0;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct procset *ps = ctx;
	const struct lt_event *e = data;
	int err;

	if (ps->urgent)
		return read_ahead(ps, data, size);
	if (size < sizeof(*e))
		return 0;
	switch (e->type) {
	case LT_EV_FORK:
		err = procset__add(ps, (int)e->pid, (int)e->ppid, e->ts_ns);
		if (err == -ENOMEM)
			ps->err = err;
		break;
	case LT_EV_EXEC:
		on_exec(ps, e);
		break;
	case LT_EV_EXIT:
		procset__exited(ps, (int)e->pid);
		break;
	case LT_EV_MAP:
		if (size >= sizeof(struct lt_map_event))
			on_exit_map(ps, data);
		break;
	}
	return 0;
}

static int service(struct procset *ps);

/* Processes thought alive that are gone or zombies: their exit's event was lost. */
static void sweep(struct procset *ps)
{
	for (size_t i = 0; i < ps->nr; i++) {
		struct proc *p = &ps->procs[i];

		if (p->pub.state == PROCSET_TRACED && !procinfo_alive(p->pub.pid))
			procset__exited(ps, p->pub.pid);
	}
}

void procset__urgent(struct procset *ps)
{
	if (ps->busy || ps->o.held)
		return;
	ps->urgent = true;
	if (ring_buffer__consume(ps->rb) < 0 && errno != EINTR && errno != ENOMEM)
		log_debug("cannot read the processes' events: %s", strerror(errno));
	ps->urgent = false;
}

/* The events procset__urgent() read ahead, in their order. */
static void replay_ahead(struct procset *ps)
{
	uint64_t n;

	if (!ps->ahead_len)
		return;
	if (read(ps->ahead_fd, &n, sizeof(n)) < 0)
		log_debug("cannot read the loop's wake-up: %s", strerror(errno));
	for (size_t pos = 0; pos < ps->ahead_len;) {
		uint64_t size;

		memcpy(&size, ps->ahead + pos, sizeof(size));
		on_event(ps, ps->ahead + pos + sizeof(size), size);
		pos += ahead_room(size);
	}
	ps->ahead_len = 0;
}

int procset__service(struct procset *ps)
{
	int err;

	ps->busy++;
	err = service(ps);
	ps->busy--;
	return err;
}

static int service(struct procset *ps)
{
	uint64_t now = now_ns();

	replay_ahead(ps);
	if (ring_buffer__consume(ps->rb) < 0 && errno != EINTR)
		log_debug("cannot read the processes' events: %s", strerror(errno));
	for (size_t i = 0; ps->nr_pending && i < ps->nr; i++)
		if (ps->procs[i].exec_ns)
			exec_try(ps, &ps->procs[i]);
	if (now - ps->swept_ns >= SWEEP_NS) {
		ps->swept_ns = now;
		sweep(ps);
	}
	return ps->err;
}

bool procset__releasable(const struct procset *ps)
{
	return ps->nr_unreleased > 0;
}

int procset__release_exited(struct procset *ps, uint64_t outstanding_allocs, uint32_t max_allocs)
{
	int pids[PROCSET_RELEASE_MAX];
	size_t n = 0, i;
	int err;

	if (!ps->nr_unreleased || outstanding_allocs <= max_allocs / 2)
		return 0;
	for (i = 0; i < ps->nr && n < PROCSET_RELEASE_MAX; i++) {
		struct proc *p = &ps->procs[i];

		if (p->pub.state != PROCSET_EXITED || p->released)
			continue;
		p->released = true;
		ps->nr_unreleased--;
		/* A pid traced again since, by another process: the blocks under it are not told
		 * apart, and the live one keeps them. */
		if (find(ps, p->pub.pid) == p)
			pids[n++] = p->pub.pid;
	}
	if (!n)
		return 0;
	err = tracer__release_exited(ps->o.tracer, pids, n);
	if (err) {
		log_warn("cannot release the blocks of processes that exited: %s", strerror(-err));
		ps->nr_unreleased = 0;
		return err;
	}
	log_info("the allocation table is half full: the blocks of %zu processes that exited were "
		 "released", n);
	return (int)n;
}

int procset__settle(struct procset *ps)
{
	ps->swept_ns = 0;
	return procset__service(ps);
}

struct procset *procset__new(const struct procset_opts *o)
{
	struct procset *ps = calloc(1, sizeof(*ps));

	if (!ps)
		return NULL;
	ps->o = *o;
	ps->procs_fd = tracer__procs_fd(o->tracer);
	ps->index = hashtab__new(16);
	ps->ahead_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ps->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	ps->rb = ring_buffer__new(tracer__events_fd(o->tracer), on_event, ps, NULL);
	if (!ps->index || !ps->rb || ps->ahead_fd < 0 || ps->epoll_fd < 0 ||
	    epoll_ctl(ps->epoll_fd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(ps->rb),
		      &(struct epoll_event){ .events = EPOLLIN }) ||
	    epoll_ctl(ps->epoll_fd, EPOLL_CTL_ADD, ps->ahead_fd,
		      &(struct epoll_event){ .events = EPOLLIN })) {
		int err = errno ? errno : ENOMEM;

		procset__free(ps);
		errno = err;
		return NULL;
	}
	ps->swept_ns = now_ns();
	return ps;
}

int procset__fd(const struct procset *ps)
{
	return ps->epoll_fd;
}

unsigned int procset__nr_alive(const struct procset *ps)
{
	return ps->nr_alive;
}

size_t procset__nr(const struct procset *ps)
{
	return ps->nr;
}

const struct procset_proc *procset__proc(const struct procset *ps, size_t i)
{
	return &ps->procs[i].pub;
}

const char *procset_reason(int err)
{
	switch (err) {
	case -ESRCH:
		return "exited before it could be traced";
	case -ENOENT:
		return "no allocator entry point, or no program of its own";
	case -EACCES:
	case -EPERM:
		return "no permission";
	default:
		return strerror(-err);
	}
}

void procset__counts(const struct procset *ps, struct procset_counts *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < ps->nr; i++) {
		const struct procset_proc *p = &ps->procs[i].pub;

		c->traced += p->state == PROCSET_TRACED;
		c->exited += p->state == PROCSET_EXITED;
		c->refused += p->state == PROCSET_REFUSED;
		if (p->state == PROCSET_REFUSED)
			continue;
		c->followed += p->followed;
		c->given += !p->followed;
		c->gap_ns += p->gap_ns;
		if (p->gap_ns > c->max_gap_ns)
			c->max_gap_ns = p->gap_ns;
	}
}

void procset__free(struct procset *ps)
{
	if (!ps)
		return;
	ring_buffer__free(ps->rb);
	if (ps->epoll_fd >= 0)
		close(ps->epoll_fd);
	if (ps->ahead_fd >= 0)
		close(ps->ahead_fd);
	for (size_t i = 0; i < ps->nr; i++)
		free(ps->procs[i].probed);
	free(ps->procs);
	free(ps->ahead);
	free(ps->early);
	hashtab__free(ps->index);
	free(ps);
}
