/* entrypoint.c: the attach table, and where each entry point a process binds to is probed. */
#include <errno.h>
#include <string.h>

#include "base/log.h"
#include "trace/entrypoint.h"
#include "trace/probepoint.h"

/*
 * The attach table: every allocator entry point leaktop knows, and how its arguments read. An
 * operator new may throw, and an exception unwinding through a replaced return address aborts the
 * process: no return probe or session link ever sits on one (see plan_probe()).
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
_Static_assert(NR_ENTRY_POINTS <= ENTRYPOINT_MAX, "ENTRYPOINT_MAX holds every entry point");

/* How many leading integer arguments the BPF program reads for each kind: the probe may move past
 * instructions that clobber any other register. */
static const unsigned int args_read[LT_KIND_MAX] = {
	[LT_MALLOC] = 1,     [LT_CALLOC] = 2,	      [LT_REALLOC] = 2, [LT_REALLOCARRAY] = 3,
	[LT_MEMALIGN] = 2,   [LT_POSIX_MEMALIGN] = 3, [LT_PVALLOC] = 1, [LT_FREE] = 1,
	[LT_UNWIND] = 0,
};

uint64_t entrypoint_cookie(const struct probe *pr, uint32_t sp_adj)
{
	return LT_COOKIE(pr->kind, sp_adj, pr->fn,
			 (pr->outer ? LT_COOKIE_OUTER_BIT : 0) | (pr->exits ? LT_COOKIE_EXITS_BIT : 0));
}

uint64_t entrypoint_return_offset(const struct probe *pr)
{
	return pr->sp_adj ? pr->start : pr->probe;
}

/* Decides where the probe of one entry point goes. 0 or -ENOENT. */
static int plan_probe(struct probe *pr, const struct entry_point *ep, struct object *o,
		      const struct elf_sym *sym, bool no_probe_shift)
{
	struct probe_point pp = { 0 };
	struct elf_sym malloc_sym;
	const uint8_t *code;

	memset(pr, 0, sizeof(*pr));
	pr->name = ep->name;
	pr->kind = ep->kind;
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
	if (!no_probe_shift && code &&
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

size_t entrypoint_plan(struct objects *objs, bool no_probe_shift, struct probe *probes,
		       size_t *nr_allocator)
{
	size_t nr = 0;

	*nr_allocator = 0;
	for (size_t i = 0; i < NR_ENTRY_POINTS; i++) {
		const struct entry_point *ep = &entry_points[i];
		struct object *o;
		struct elf_sym sym;
		bool dup = false;

		if (objects__resolve(objs, ep->name, &o, &sym))
			continue;
		/* Aliases (glibc's aligned_alloc is memalign) get one probe. */
		for (size_t j = 0; j < nr; j++)
			dup |= probes[j].o == o && probes[j].vaddr == sym.vaddr;
		if (dup || plan_probe(&probes[nr], ep, o, &sym, no_probe_shift))
			continue;
		*nr_allocator += ep->kind != LT_UNWIND;
		nr++;
	}
	return nr;
}
