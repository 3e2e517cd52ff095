/* attach.c: which allocator entry points a process uses, in which mapped object, and attaching them. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/array.h"
#include "bpf/leaktop.h"
#include "trace/attach.h"
#include "proc/elf_file.h"
#include "trace/exitpoint.h"
#include "base/log.h"
#include "trace/probepoint.h"
#include "proc/procmaps.h"
#include "proc/rdebug.h"
#include "unwind/unwind.h"

/*
 * The attach table: every allocator entry point leaktop knows, and how its arguments read. An
 * operator new may throw, and an exception unwinding through a replaced return address aborts the
 * process: no return probe or session link ever sits on one (see attach_process).
 */
static const struct entry_point {
	const char *name;
	enum lt_kind kind;
	bool outer; /* calls another entry point for the same block (operator delete -> free) */
	bool is_new; /* an operator new: outer when it calls a malloc of another object */
} entry_points[] = {
	{ "malloc", LT_MALLOC, false, false },
	{ "calloc", LT_CALLOC, false, false },
	{ "realloc", LT_REALLOC, false, false },
	{ "reallocarray", LT_REALLOCARRAY, false, false },
	{ "posix_memalign", LT_POSIX_MEMALIGN, false, false },
	{ "aligned_alloc", LT_MEMALIGN, false, false },
	{ "memalign", LT_MEMALIGN, false, false },
	{ "valloc", LT_MALLOC, false, false },
	{ "pvalloc", LT_PVALLOC, false, false },
	{ "free", LT_FREE, false, false },
	/* C++ operator new / new[]: plain, nothrow, aligned, aligned nothrow (size is argument 1) */
	{ "_Znwm", LT_MALLOC, false, true },
	{ "_Znam", LT_MALLOC, false, true },
	{ "_ZnwmRKSt9nothrow_t", LT_MALLOC, false, true },
	{ "_ZnamRKSt9nothrow_t", LT_MALLOC, false, true },
	{ "_ZnwmSt11align_val_t", LT_MALLOC, false, true },
	{ "_ZnamSt11align_val_t", LT_MALLOC, false, true },
	{ "_ZnwmSt11align_val_tRKSt9nothrow_t", LT_MALLOC, false, true },
	{ "_ZnamSt11align_val_tRKSt9nothrow_t", LT_MALLOC, false, true },
	/* operator delete / delete[]: plain, sized, nothrow, aligned, and their combinations */
	{ "_ZdlPv", LT_FREE, true, false },
	{ "_ZdaPv", LT_FREE, true, false },
	{ "_ZdlPvm", LT_FREE, true, false },
	{ "_ZdaPvm", LT_FREE, true, false },
	{ "_ZdlPvRKSt9nothrow_t", LT_FREE, true, false },
	{ "_ZdaPvRKSt9nothrow_t", LT_FREE, true, false },
	{ "_ZdlPvSt11align_val_t", LT_FREE, true, false },
	{ "_ZdaPvSt11align_val_t", LT_FREE, true, false },
	{ "_ZdlPvmSt11align_val_t", LT_FREE, true, false },
	{ "_ZdaPvmSt11align_val_t", LT_FREE, true, false },
	{ "_ZdlPvSt11align_val_tRKSt9nothrow_t", LT_FREE, true, false },
	{ "_ZdaPvSt11align_val_tRKSt9nothrow_t", LT_FREE, true, false },
	/*
	 * Where an exception or a longjmp starts: frames below may never return, so an allocator
	 * call in flight there ends without its return probe (counted as unwound_calls, not lost).
	 */
	{ "_Unwind_RaiseException", LT_UNWIND, false, false },
	{ "_Unwind_ForcedUnwind", LT_UNWIND, false, false },
	{ "longjmp", LT_UNWIND, false, false },
	{ "_longjmp", LT_UNWIND, false, false },
	{ "siglongjmp", LT_UNWIND, false, false },
	{ "__longjmp_chk", LT_UNWIND, false, false },
};

#define NR_ENTRY_POINTS (sizeof(entry_points) / sizeof(entry_points[0]))

/* How many leading integer arguments the BPF program reads for each kind: the probe may move past
 * instructions that clobber any other register. */
static const unsigned int args_read[LT_KIND_MAX] = {
	[LT_MALLOC] = 1,     [LT_CALLOC] = 2,	      [LT_REALLOC] = 2, [LT_REALLOCARRAY] = 3,
	[LT_MEMALIGN] = 2,   [LT_POSIX_MEMALIGN] = 3, [LT_PVALLOC] = 1, [LT_FREE] = 1,
	[LT_UNWIND] = 0,
};

struct object {
	char *path;		/* as the process maps it */
	char *open_path;	/* the same file seen from here (/proc/PID/root/...) */
	bool is_exe;
	struct elf_file *elf;	/* opened lazily */
	bool unreadable;
};

struct object_list {
	struct object *objs;
	size_t nr, cap;
};

static int objects_add(struct object_list *l, const char *path, int pid, bool is_exe)
{
	struct object *o;
	char *open_path;

	for (size_t i = 0; i < l->nr; i++)
		if (!strcmp(l->objs[i].path, path))
			return 0;
	if (array_reserve(&l->objs, &l->cap, l->nr, sizeof(*l->objs), 16))
		return -ENOMEM;
	if (asprintf(&open_path, "/proc/%d/root%s", pid, path) < 0)
		return -ENOMEM;
	o = &l->objs[l->nr];
	memset(o, 0, sizeof(*o));
	o->path = strdup(path);
	if (!o->path) {
		free(open_path);
		return -ENOMEM;
	}
	o->open_path = open_path;
	o->is_exe = is_exe;
	l->nr++;
	return 0;
}

static void objects_free(struct object_list *l)
{
	for (size_t i = 0; i < l->nr; i++) {
		free(l->objs[i].path);
		free(l->objs[i].open_path);
		elf_file__free(l->objs[i].elf);
	}
	free(l->objs);
}

struct link_map_ctx {
	struct object_list *l;
	int pid;
};

/* Only absolute names: the vdso's "linux-vdso.so.1" is no file. */
static int add_link_map_object(const char *path, void *ctx_)
{
	struct link_map_ctx *ctx = ctx_;

	return path[0] == '/' ? objects_add(ctx->l, path, ctx->pid, false) : 0;
}

/*
 * Says why pid's /proc files could not be read (err, -errno): -ESRCH when it is gone (the caller
 * says so), -ENOENT for a process with no program of its own (a kernel thread, a zombie), or err
 * itself (no permission, say); the last two are logged here.
 */
static int process_unreadable(int pid, int err)
{
	char dir[32];

	snprintf(dir, sizeof(dir), "/proc/%d", pid);
	if (err == -ENOENT && access(dir, F_OK))
		return -ESRCH;
	if (err == -ENOENT)
		log_error("pid %d runs no program of its own (a kernel thread or a zombie): nothing "
			  "to trace",
			  pid);
	else
		log_error("cannot read the mappings of pid %d (/proc/%d): %s", pid, pid,
			  strerror(-err));
	return err;
}

/* Objects of pid: the executable first, then the link map, then anything else mapped executable. */
static int objects_of(struct object_list *l, int pid, const struct procmaps *pm)
{
	char link[64], *exe;
	ssize_t n;
	int err;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	exe = malloc(4096);
	if (!exe)
		return -ENOMEM;
	n = readlink(link, exe, 4095);
	if (n < 0) {
		err = -errno;
		free(exe);
		return process_unreadable(pid, err);
	}
	exe[n] = '\0';
	if (n > 10 && !strcmp(exe + n - 10, " (deleted)"))
		exe[n - 10] = '\0';
	err = objects_add(l, exe, pid, true);
	free(exe);
	if (err)
		return err;
	/*
	 * The dynamic linker's link map gives the load order (preloaded objects, then needed
	 * libraries breadth-first, then dlopen'ed ones); a static binary has none.
	 */
	err = rdebug_for_each_object(pid, add_link_map_object,
				     &(struct link_map_ctx){ .l = l, .pid = pid });
	if (err && err != -ENOENT && err != -EIO)
		return err;
	for (size_t i = 0; i < pm->nr_maps; i++) {
		const struct procmap *m = &pm->maps[i];

		if (m->perms[2] != 'x' || m->path[0] != '/' || m->deleted)
			continue;
		err = objects_add(l, m->path, pid, false);
		if (err)
			return err;
	}
	return 0;
}

/* The first object (in binding order) that defines name: 0 and *obj, *sym, or -ENOENT. */
static int resolve(struct object_list *l, const char *name, struct object **obj, struct elf_sym *sym)
{
	for (size_t i = 0; i < l->nr; i++) {
		struct object *o = &l->objs[i];

		if (o->unreadable)
			continue;
		if (!o->elf) {
			o->elf = elf_file__open(o->open_path);
			if (!o->elf) {
				log_debug("cannot read %s: %s", o->path, strerror(errno));
				o->unreadable = true;
				continue;
			}
		}
		/* The executable's own calls bind to its local definition too (static binaries). */
		if (!elf_file__find_func(o->elf, name, !o->is_exe, sym)) {
			*obj = o;
			return 0;
		}
	}
	return -ENOENT;
}

/* One entry point as it will be attached. */
struct probe {
	const struct entry_point *ep;
	struct object *o;
	uint64_t vaddr;		/* the symbol's address (aliases share one probe) */
	uint64_t start;		/* file offset of the function's first instruction */
	uint64_t probe;		/* file offset of the entry probe */
	uint32_t sp_adj;
	uint32_t fn;		/* LT_COOKIE_FN: the entry point's index in the table, + 1 */
	bool outer;
	bool exits;		/* ends at exit probes on its `ret`s (an allocator's own operator new) */
	bool needs_return;
	bool session_ok;	/* nothing unwinds through it: it may sit on a session link */
};

static uint64_t probe_cookie(const struct probe *pr, uint32_t sp_adj)
{
	return LT_COOKIE(pr->ep->kind, sp_adj, pr->fn,
			 (pr->outer ? LT_COOKIE_OUTER_BIT : 0) | (pr->exits ? LT_COOKIE_EXITS_BIT : 0));
}

/* Decides where the probe of one entry point goes. 0 or -ENOENT. */
static int plan_probe(struct probe *pr, const struct entry_point *ep, struct object *o,
		      const struct elf_sym *sym, const struct attach_opts *opts)
{
	struct probe_point pp = { 0 };
	struct elf_sym malloc_sym;
	const uint8_t *code;

	memset(pr, 0, sizeof(*pr));
	pr->ep = ep;
	pr->o = o;
	pr->vaddr = sym->vaddr;
	pr->fn = (uint32_t)(ep - entry_points) + 1;
	pr->outer = ep->outer;
	/*
	 * libstdc++'s operator new calls malloc in another object: it is recorded at that malloc's
	 * return. An allocator library's own operator new (jemalloc, tcmalloc, mimalloc) allocates
	 * internally: it is recorded at its exits, since its return address must stay its own.
	 */
	if (ep->is_new) {
		if (elf_file__find_func(o->elf, "malloc", true, &malloc_sym))
			pr->outer = true;
		else
			pr->exits = true;
	}
	if (elf_file__vaddr_to_offset(o->elf, sym->vaddr, &pr->start))
		return -ENOENT;
	code = sym->size ? elf_file__code(o->elf, sym->vaddr, sym->size) : NULL;
	if (!opts->no_probe_shift && code &&
	    probepoint_choose(code, sym->size, sym->vaddr, args_read[ep->kind], &pp))
		memset(&pp, 0, sizeof(pp));
	pr->probe = pr->start + pp.offset;
	pr->sp_adj = pp.sp_adj;
	pr->needs_return = ep->kind != LT_FREE && ep->kind != LT_UNWIND && !pr->outer && !pr->exits;
	pr->session_ok = !ep->is_new && ep->kind != LT_UNWIND;
	log_info("%s at %s+0x%llx (probe +%llu%s%s)", ep->name, o->path,
		 (unsigned long long)pr->start, (unsigned long long)pp.offset,
		 pp.insn[0] ? ": " : "", pp.insn);
	return 0;
}

/*
 * The return probe replaces the return address at the stack pointer, so it needs a point where
 * that is still true: the entry probe's own point when nothing was pushed before it (one
 * breakpoint then serves both), else the function's first instruction.
 */
static uint64_t return_offset(const struct probe *pr)
{
	return pr->sp_adj ? pr->start : pr->probe;
}

static int attach_classic(struct tracer *t, int pid, const struct probe *pr)
{
	int err;

	err = tracer__attach(t, pid, pr->o->open_path, pr->probe, probe_cookie(pr, pr->sp_adj),
			     false);
	if (!err && pr->needs_return)
		err = tracer__attach(t, pid, pr->o->open_path, return_offset(pr), 0, true);
	if (err)
		log_error("cannot attach %s in %s: %s", pr->ep->name, pr->o->path, strerror(-err));
	return err;
}

/*
 * Probes bound for one multi-probe link of one object: a session link, or a uprobe_multi link of
 * entry-type probes (entry points that need no return, and exit probes).
 */
struct link_plan {
	struct object *o;
	uint64_t *offsets, *cookies;
	size_t n, cap;
	bool session;
};

struct link_plans {
	struct link_plan *plans;
	size_t n, cap;
};

static int plan_add(struct link_plans *lp, struct object *o, bool session, uint64_t offset,
		    uint64_t cookie)
{
	struct link_plan *p = NULL;

	for (size_t i = 0; i < lp->n && !p; i++)
		if (lp->plans[i].o == o && lp->plans[i].session == session)
			p = &lp->plans[i];
	if (!p) {
		if (array_reserve(&lp->plans, &lp->cap, lp->n, sizeof(*lp->plans), 8))
			return -ENOMEM;
		p = &lp->plans[lp->n++];
		memset(p, 0, sizeof(*p));
		p->o = o;
		p->session = session;
	}
	for (size_t i = 0; i < p->n; i++)
		if (p->offsets[i] == offset)
			return 0; /* an exit two entry points share */
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 16;
		uint64_t *off = realloc(p->offsets, cap * sizeof(*off));

		if (!off)
			return -ENOMEM;
		p->offsets = off;
		off = realloc(p->cookies, cap * sizeof(*off));
		if (!off)
			return -ENOMEM;
		p->cookies = off;
		p->cap = cap;
	}
	p->offsets[p->n] = offset;
	p->cookies[p->n++] = cookie;
	return 0;
}

static void plans_free(struct link_plans *lp)
{
	for (size_t i = 0; i < lp->n; i++) {
		free(lp->plans[i].offsets);
		free(lp->plans[i].cookies);
	}
	free(lp->plans);
}

/*
 * Places one entry point: in its object's session link (a session catches the return where it
 * caught the entry, so an entry point that needs its return is probed where the return address is
 * still at the stack pointer); else, needing no return, in its object's uprobe_multi link; else in
 * classic probes, attached now.
 */
static int place_probe(struct tracer *t, int pid, struct link_plans *lp, const struct probe *pr)
{
	bool moved = pr->needs_return && pr->sp_adj;

	if (tracer__sessions(t) && pr->session_ok)
		return plan_add(lp, pr->o, true, moved ? pr->start : pr->probe,
				probe_cookie(pr, moved ? 0 : pr->sp_adj));
	if (!pr->needs_return && tracer__multi(t))
		return plan_add(lp, pr->o, false, pr->probe, probe_cookie(pr, pr->sp_adj));
	return attach_classic(t, pid, pr);
}

/* Creates the planned links; a kind of link the kernel refuses falls back to classic probes. */
static int attach_plans(struct tracer *t, int pid, struct link_plans *lp, const struct probe *probes,
			size_t nr_probes)
{
	int err;

	for (size_t i = 0; i < lp->n; i++) {
		struct link_plan *p = &lp->plans[i];

		if (p->session)
			err = tracer__attach_session(t, pid, p->o->open_path, p->offsets, p->cookies,
						     p->n);
		else
			err = tracer__attach_multi(t, pid, p->o->open_path, p->offsets, p->cookies,
						   p->n);
		if (err == -EOPNOTSUPP) {
			/* Classic probes at the same offsets (the pairs' returns added by kind). */
			err = 0;
			for (size_t k = 0; !err && k < p->n; k++)
				err = tracer__attach(t, pid, p->o->open_path, p->offsets[k],
						     p->cookies[k], false);
			for (size_t k = 0; !err && p->session && k < nr_probes; k++)
				if (probes[k].o == p->o && probes[k].needs_return)
					err = tracer__attach(t, pid, p->o->open_path,
							     return_offset(&probes[k]), 0, true);
			err = err == -EOPNOTSUPP ? 0 : err;
		}
		if (err) {
			log_error("cannot attach the probes in %s: %s", p->o->path, strerror(-err));
			return err;
		}
	}
	return 0;
}

/* What the exit search needs to know about the process: its objects and the probes planned. */
struct exit_ctx {
	struct object_list *objs;
	const struct probe *probes;
	size_t nr_probes;
};

struct sym_range_ctx {
	uint64_t vaddr, lo, hi;
};

static int sym_covers(const struct elf_sym *sym, void *ctx_)
{
	struct sym_range_ctx *ctx = ctx_;

	if (!sym->size || ctx->vaddr < sym->vaddr || ctx->vaddr - sym->vaddr >= sym->size)
		return 0;
	ctx->lo = sym->vaddr;
	ctx->hi = sym->vaddr + sym->size;
	return 1;
}

static int exit_range(void *ctx, void *obj, uint64_t vaddr, uint64_t *lo, uint64_t *hi)
{
	struct object *o = obj;
	struct sym_range_ctx sc = { .vaddr = vaddr };

	(void)ctx;
	if (elf_file__for_each_func(o->elf, sym_covers, &sc) == 1) {
		*lo = sc.lo;
		*hi = sc.hi;
		return 0;
	}
	return unwind_fde_range(o->elf, vaddr, lo, hi);
}

static const uint8_t *exit_code(void *ctx, void *obj, uint64_t vaddr, size_t size)
{
	(void)ctx;
	return elf_file__code(((struct object *)obj)->elf, vaddr, size);
}

static int exit_slot_target(void *ctx_, void *obj, uint64_t slot, void **tobj, uint64_t *tvaddr)
{
	struct exit_ctx *ctx = ctx_;
	const char *name = elf_file__slot_symbol(((struct object *)obj)->elf, slot);
	struct object *o;
	struct elf_sym sym;

	if (!name || resolve(ctx->objs, name, &o, &sym))
		return -ENOENT;
	*tobj = o;
	*tvaddr = sym.vaddr;
	return 0;
}

static bool exit_is_entry(void *ctx_, void *obj, uint64_t vaddr)
{
	struct exit_ctx *ctx = ctx_;

	for (size_t i = 0; i < ctx->nr_probes; i++)
		if (ctx->probes[i].o == obj && ctx->probes[i].vaddr == vaddr)
			return true;
	return false;
}

static const struct exit_code_ops exit_ops = {
	.range = exit_range,
	.code = exit_code,
	.slot_target = exit_slot_target,
	.is_entry = exit_is_entry,
};

/* Most exit probes one entry point gets. */
#define MAX_EXITS 64

/*
 * Plans the exit probes of an entry point whose return address is never replaced: one on each
 * `ret` through which its calls return. Exits that cannot be found are logged: calls that leave
 * through them end unseen and are counted as missed returns. 0 or -errno.
 */
static int place_exits(struct tracer *t, int pid, struct link_plans *lp, struct exit_ctx *ctx,
		       const struct probe *pr)
{
	struct exit_site sites[MAX_EXITS];
	uint64_t cookie = LT_COOKIE(LT_MALLOC, 0, pr->fn, LT_COOKIE_AT_EXIT_BIT);
	size_t n, placed = 0;
	bool complete;
	int err;

	err = exitpoint_find(&exit_ops, ctx, pr->o, pr->vaddr, sites, MAX_EXITS, &n, &complete);
	if (err == -ENOMEM)
		return err;
	for (size_t i = 0; i < n; i++) {
		struct object *o = sites[i].obj;
		uint64_t off;

		if (elf_file__vaddr_to_offset(o->elf, sites[i].vaddr, &off)) {
			complete = false;
			continue;
		}
		if (tracer__multi(t))
			err = plan_add(lp, o, false, off, cookie);
		else
			err = tracer__attach(t, pid, o->open_path, off, cookie, false);
		if (err == -ENOMEM)
			return err;
		if (err) {
			log_warn("cannot attach the exit at %s+0x%llx of %s: %s", o->path,
				 (unsigned long long)sites[i].vaddr, pr->ep->name, strerror(-err));
			complete = false;
			continue;
		}
		placed++;
	}
	if (!placed && !complete)
		log_warn("cannot find where %s in %s returns: its allocations are not recorded",
			 pr->ep->name, pr->o->path);
	else
		log_info("%s in %s: %zu exit probes%s", pr->ep->name, pr->o->path, placed,
			 complete ? ""
				  : " (some exits not probed: calls leaving through them are counted "
				    "in missed_returns)");
	return 0;
}

/*
 * Tells the programs where free()'s object has its code in pid (the executable mapping of that
 * file that holds free): frees the allocator makes itself are told apart from the program's.
 */
static void note_allocator_code(struct tracer *t, int pid, const struct procmaps *pm,
				const struct probe *pr)
{
	struct stat st;

	if (stat(pr->o->open_path, &st))
		return;
	for (size_t i = 0; i < pm->nr_maps; i++) {
		const struct procmap *m = &pm->maps[i];

		if (m->perms[2] != 'x' || m->inode != st.st_ino ||
		    m->dev_major != major(st.st_dev) || m->dev_minor != minor(st.st_dev) ||
		    pr->start < m->file_offset || pr->start - m->file_offset >= m->end - m->start)
			continue;
		if (tracer__set_allocator_range(t, pid, m->start, m->end))
			log_debug("pid %d: allocator code range not set", pid);
		return;
	}
}

/* Says which objects were searched when none had an allocator entry point. */
static void log_no_entry_points(int pid, const struct object_list *objs)
{
	size_t len = 0;
	char *list;

	for (size_t i = 0; i < objs->nr; i++)
		len += strlen(objs->objs[i].path) + 2;
	list = calloc(1, len + 1);
	for (size_t i = 0; list && i < objs->nr; i++) {
		strcat(list, objs->objs[i].path);
		if (i + 1 < objs->nr)
			strcat(list, ", ");
	}
	log_error("no allocator entry point (malloc, free, operator new, ...) found in pid %d; "
		  "searched: %s",
		  pid, list ? list : "(no memory)");
	free(list);
}

int attach_process(struct tracer *t, int pid, const struct attach_opts *opts)
{
	struct object_list objs = { 0 };
	struct probe probes[NR_ENTRY_POINTS];
	size_t nr_probes = 0, nr_allocator = 0;
	struct link_plans plans = { 0 };
	struct exit_ctx ectx;
	struct procmaps *pm;
	int err;

	pm = procmaps__read(pid);
	if (!pm)
		return process_unreadable(pid, -errno);
	err = objects_of(&objs, pid, pm);
	if (err)
		goto out;

	for (size_t i = 0; i < NR_ENTRY_POINTS; i++) {
		const struct entry_point *ep = &entry_points[i];
		struct object *o;
		struct elf_sym sym;
		bool dup = false;

		if (resolve(&objs, ep->name, &o, &sym))
			continue;
		/* Aliases (glibc's aligned_alloc is memalign) get one probe. */
		for (size_t j = 0; j < nr_probes; j++)
			dup |= probes[j].o == o && probes[j].vaddr == sym.vaddr;
		if (dup || plan_probe(&probes[nr_probes], ep, o, &sym, opts))
			continue;
		nr_allocator += ep->kind != LT_UNWIND;
		nr_probes++;
	}
	if (!nr_allocator) {
		log_no_entry_points(pid, &objs);
		err = -ENOENT;
		goto out;
	}
	ectx = (struct exit_ctx){ .objs = &objs, .probes = probes, .nr_probes = nr_probes };
	for (size_t i = 0; !err && i < nr_probes; i++)
		err = place_probe(t, pid, &plans, &probes[i]);
	for (size_t i = 0; !err && i < nr_probes; i++)
		if (probes[i].exits)
			err = place_exits(t, pid, &plans, &ectx, &probes[i]);
	for (size_t i = 0; !err && i < nr_probes; i++)
		if (probes[i].ep->kind == LT_FREE && !probes[i].outer)
			note_allocator_code(t, pid, pm, &probes[i]);
	if (!err)
		err = attach_plans(t, pid, &plans, probes, nr_probes);
	if (!err) {
		log_info("pid %d: %zu entry points attached (%s)", pid, nr_probes,
			 tracer__sessions(t) ? "session links" : "uprobe + uretprobe pairs");
		err = (int)nr_allocator;
	}
out:
	plans_free(&plans);
	objects_free(&objs);
	procmaps__free(pm);
	return err;
}
