/* exitplan.c: the exit probes of an allocator's own operator new: exitpoint's search, told about
 * the process's objects through callbacks, and the links the probes go into. */
#include <errno.h>
#include <string.h>

#include "base/log.h"
#include "trace/exitplan.h"
#include "trace/exitpoint.h"
#include "unwind/unwind.h"

/* Most exit probes one entry point gets. */
#define MAX_EXITS 64

/* What the exit search needs to know about the process: its objects and the probes planned. */
struct exit_ctx {
	struct objects *objs;
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

	if (!name || objects__resolve(ctx->objs, name, &o, &sym))
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

int exitplan_place(struct tracer *t, int pid, struct link_plans *lp, struct objects *objs,
		   const struct probe *probes, size_t nr_probes, const struct probe *pr)
{
	struct exit_ctx ctx = { .objs = objs, .probes = probes, .nr_probes = nr_probes };
	struct exit_site sites[MAX_EXITS];
	uint64_t cookie = LT_COOKIE(LT_MALLOC, 0, pr->fn, LT_COOKIE_AT_EXIT_BIT);
	size_t n, placed = 0;
	bool complete;
	int err;

	err = exitpoint_find(&exit_ops, &ctx, pr->o, pr->vaddr, sites, MAX_EXITS, &n, &complete);
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
			err = link_plans__add(lp, o, false, off, cookie);
		else
			err = tracer__attach(t, pid, o->attach_path, off, cookie, false);
		if (err == -ENOMEM)
			return err;
		if (err) {
			log_warn("cannot attach the exit at %s+0x%llx of %s: %s", o->path,
				 (unsigned long long)sites[i].vaddr, pr->name, strerror(-err));
			complete = false;
			continue;
		}
		placed++;
	}
	if (!placed && !complete)
		log_warn("cannot find where %s in %s returns: its allocations are not recorded",
			 pr->name, pr->o->path);
	else
		log_info("%s in %s: %zu exit probes%s", pr->name, pr->o->path, placed,
			 complete ? ""
				  : " (some exits not probed: calls leaving through them are counted "
				    "in missed_returns)");
	return 0;
}
