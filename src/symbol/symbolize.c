/* symbolize.c: addresses -> frames via per-pid map snapshots and a per-file cache of call sites. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "base/hashtab.h"
#include "base/log.h"
#include "base/yield.h"
#include "base/strpool.h"
#include "proc/elf_file.h"
#include "proc/procview.h"
#include "symbol/debugfile.h"
#include "symbol/dwarf_lines.h"
#include "symbol/ksyms.h"
#include "symbol/symbolize.h"
#include "symbol/symtab.h"

/* What the symbolizer reads from one file of the process view, on first use. */
struct object {
	struct procfile *file;
	bool loaded;		   /* symbols and debug info looked up */
	struct elf_file *debug;	   /* separate debug file, or NULL */
	struct symtab *symtab;	   /* NULL when the symbols could not be read */
	struct dwarf_lines *lines; /* from the file or its debug file, or NULL */
	struct hashtab *sites;	   /* call sites resolved so far: pc -> struct call_site * */
};

struct symbolizer {
	struct procview *pv;
	bool own_pv;
	struct hashtab *objs; /* struct procfile * -> struct object * */
	struct strpool *pool;
	struct ksyms *ksyms;	/* /proc/kallsyms, read at the first kernel address */
	bool ksyms_tried;
};

/* Symbols and debug info, on first use: most mapped files never appear in a stack. */
static void object_load(struct object *o)
{
	struct procfile *f = o->file;
	struct debugfile_owner owner = {f->ef, f->path, f->root, f->st_dev, f->st_ino};

	if (o->loaded || !f->ef)
		return;
	o->loaded = true;
	o->lines = dwarf_lines__new(elf_file__elf(f->ef));
	if (!o->lines || !elf_file__has_symtab(f->ef)) {
		o->debug = debugfile_find(&owner);
		if (o->debug && !o->lines)
			o->lines = dwarf_lines__new(elf_file__elf(o->debug));
	}
	if (!o->lines)
		log_debug("%s: no debug info: no source lines", f->path);
	o->symtab = symtab__new(f->ef, o->debug);
	if (!o->symtab)
		log_warn("cannot read the symbols of %s: %s", f->path, strerror(errno));
}

/* ---- objects ---- */

static void object_free(struct object *o)
{
	uint64_t *site;
	size_t pos = 0;

	if (!o)
		return;
	dwarf_lines__free(o->lines);
	symtab__free(o->symtab);
	elf_file__free(o->debug);
	while (o->sites && hashtab__next(o->sites, &pos, NULL, &site))
		free((struct call_site *)(uintptr_t)*site);
	hashtab__free(o->sites);
	free(o);
}

/* The symbolizer's side of file f, made on first use. NULL when out of memory. */
static struct object *object_of(struct symbolizer *s, struct procfile *f)
{
	uint64_t *have = hashtab__find(s->objs, (uintptr_t)f);
	struct object *o;

	if (have)
		return (struct object *)(uintptr_t)*have;
	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->file = f;
	if (hashtab__put(s->objs, (uintptr_t)f, (uintptr_t)o)) {
		free(o);
		return NULL;
	}
	return o;
}

/* ---- public ---- */

struct symbolizer *symbolizer__new(struct procview *pv)
{
	struct symbolizer *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->pv = pv;
	if (!pv) {
		s->pv = procview__new();
		s->own_pv = true;
	}
	s->objs = hashtab__new(32);
	s->pool = strpool__new();
	if (!s->pv || !s->objs || !s->pool) {
		symbolizer__free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

int symbolizer__add_pid(struct symbolizer *s, int pid)
{
	const struct procimage *img = procview__image(s->pv, pid, 0);

	if (!img)
		return errno == ENOENT ? -ESRCH : -errno;
	return img->gone ? -ESRCH : 0;
}

int symbolizer__add_mapping(struct symbolizer *s, int pid, uint64_t start, uint64_t end,
			    uint64_t file_offset, const char *path)
{
	return procview__add_mapping(s->pv, pid, start, end, file_offset, path);
}

size_t symbolizer__nr_objects(const struct symbolizer *s)
{
	return procview__nr_files(s->pv);
}

/*
 * The mapping of addr in pid, as last read; read again once when addr is in none of them (a
 * dlopen since). NULL when unmapped.
 */
static const struct procmap *lookup_map(struct symbolizer *s, int pid, uint32_t exec_id,
					uint64_t addr, struct procfile **file)
{
	const struct procimage *img = procview__image_at(s->pv, pid, exec_id, UINT64_MAX);
	const struct procmap *m = img ? procview__find(img, addr, file) : NULL;

	if (!m && img && !img->final) {
		img = procview__image(s->pv, pid, 0);
		m = img ? procview__find(img, addr, file) : NULL;
	}
	return m;
}

/*
 * The call site at pc in o, computed once: reports resolve the same call sites at every refresh,
 * and a DWARF scope walk costs far more than a hash lookup. NULL when out of memory.
 */
static const struct call_site *object_call_site(struct symbolizer *s, struct object *o, uint64_t pc)
{
	struct call_frame outer = {0};
	struct call_site *site;
	uint64_t start, *have;

	if (!o->sites) {
		o->sites = hashtab__new(32);
		if (!o->sites)
			return NULL;
	}
	have = hashtab__find(o->sites, pc);
	if (have)
		return (const struct call_site *)(uintptr_t)*have;
	if (symtab__find(o->symtab, pc, s->pool, &outer.function, &start))
		outer.offset = pc + 1 - start;
	if (dwarf_lines__call_site(o->lines, pc, s->pool, &outer, &site))
		return NULL;
	if (hashtab__put(o->sites, pc, (uintptr_t)site)) {
		free(site);
		return NULL;
	}
	return site;
}

static void put_frame(struct sym_frame *f, const struct sym_frame *base,
		      const struct call_frame *cf)
{
	*f = *base;
	f->function = cf->function;
	f->offset = cf->function ? cf->offset : 0;
	f->file = cf->file;
	f->line = cf->line;
	f->inlined = cf->inlined;
}

/*
 * A kernel address (--track kernel): its function and module ("[kernel]", "[MODULE]") from
 * /proc/kallsyms, read once. Return addresses as the user ones: the call is at addr - 1.
 */
static size_t resolve_kernel(struct symbolizer *s, uint64_t addr, struct sym_frame *frame)
{
	const char *module = NULL;
	uint64_t offset = 0;

	if (!s->ksyms_tried) {
		FILE *f = fopen("/proc/kallsyms", "re");

		s->ksyms_tried = true;
		s->ksyms = f ? ksyms__load(f) : NULL;
		if (f)
			fclose(f);
		if (!s->ksyms)
			log_warn("cannot read /proc/kallsyms: kernel frames stay addresses");
	}
	frame->function = ksyms__find(s->ksyms, addr - 1, &offset, &module);
	if (!frame->function)
		return 1;
	frame->offset = offset + 1;
	frame->module = module;
	return 1;
}

size_t symbolizer__resolve(struct symbolizer *s, int pid, uint32_t exec_id, uint64_t addr,
			   bool want_inlines,
			   struct sym_frame *frames, size_t max_frames)
{
	struct sym_frame base = {.address = addr};
	const struct procmap *m;
	const struct call_site *site;

	yield_point();
	struct procfile *file = NULL;
	struct object *o;
	uint64_t pc;
	size_t keep, i;

	if (!max_frames)
		return 0;
	frames[0] = base;
	if (ksyms_is_kernel(addr))
		return resolve_kernel(s, addr, frames);
	m = lookup_map(s, pid, exec_id, addr, &file);
	if (!m || !file)
		return 1;
	base.module = file->path;
	base.module_offset = addr - m->start + m->file_offset;
	frames[0] = base;
	if (!file->ef || !base.module_offset ||
	    elf_file__offset_to_vaddr(file->ef, base.module_offset - 1, &pc))
		return 1;
	o = object_of(s, file);
	if (!o)
		return 1;
	object_load(o);
	site = object_call_site(s, o, pc);
	if (!site)
		return 1;

	/*
	 * The last frame is the real function, with the line of the call it makes (or of the
	 * outermost inlined call in it); it is kept even when inlined frames must be dropped for
	 * room.
	 */
	keep = want_inlines ? site->nr - 1 : 0;
	if (keep > max_frames - 1)
		keep = max_frames - 1;
	for (i = 0; i < keep; i++)
		put_frame(&frames[i], &base, &site->frames[i]);
	put_frame(&frames[keep], &base, &site->frames[site->nr - 1]);
	return keep + 1;
}

int symbolizer__mapping(struct symbolizer *s, int pid, uint32_t exec_id, uint64_t addr,
			struct sym_mapping *out)
{
	const struct procimage *img = procview__image_at(s->pv, pid, exec_id, UINT64_MAX);
	struct procfile *file = NULL;
	const struct procmap *m = img ? procview__find(img, addr, &file) : NULL;

	if (!m || !file)
		return -ENOENT;
	out->start = m->start;
	out->end = m->end;
	out->file_offset = m->file_offset;
	out->module = file->path;
	out->build_id = file->build_id[0] ? file->build_id : NULL;
	return 0;
}

void symbolizer__free(struct symbolizer *s)
{
	uint64_t *v;
	size_t pos;

	if (!s)
		return;
	for (pos = 0; s->objs && hashtab__next(s->objs, &pos, NULL, &v);)
		object_free((struct object *)(uintptr_t)*v);
	hashtab__free(s->objs);
	strpool__free(s->pool);
	ksyms__free(s->ksyms);
	if (s->own_pv)
		procview__free(s->pv);
	free(s);
}
