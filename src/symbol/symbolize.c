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
#include "base/strpool.h"
#include "proc/elf_file.h"
#include "proc/procmaps.h"
#include "symbol/debugfile.h"
#include "symbol/dwarf_lines.h"
#include "symbol/symbolize.h"
#include "symbol/symtab.h"

struct object {
	/* cache key: device and inode, or the path when the inode is unknown (0) */
	uint64_t dev_major, dev_minor, inode;
	char *path;   /* as mapped; debuglink directories are relative to it */
	char *root;   /* "/proc/PID/root" when opened through a foreign root, else NULL */
	dev_t st_dev; /* of the file opened, to tell a debug file from the object itself */
	ino_t st_ino;
	struct elf_file *ef;  /* NULL when it could not be opened */
	const char *build_id; /* hex, interned; valid once build_id_done */
	bool build_id_done;
	bool loaded;		   /* symbols and debug info looked up */
	struct elf_file *debug;	   /* separate debug file, or NULL */
	struct symtab *symtab;	   /* NULL when the symbols could not be read */
	struct dwarf_lines *lines; /* from ef or debug, or NULL */
	struct hashtab *sites;	   /* call sites resolved so far: pc -> struct call_site * */
};

struct map_info {
	struct object *obj; /* NULL for anonymous or pseudo mappings */
	const char *module; /* interned path, or NULL */
};

struct pid_entry {
	int pid;
	bool no_refresh; /* gone, unreadable, or given its mappings by hand */
	struct procmaps *pm;
	struct map_info *info; /* parallel to pm->maps */
};

struct symbolizer {
	struct hashtab *pids; /* pid -> struct pid_entry * */
	struct hashtab *objs; /* hash of the key -> struct object * */
	struct strpool *pool;
};

/* Symbols and debug info, on first use: most mapped files never appear in a stack. */
static void object_load(struct object *o)
{
	struct debugfile_owner owner = {o->ef, o->path, o->root, o->st_dev, o->st_ino};

	if (o->loaded || !o->ef)
		return;
	o->loaded = true;
	o->lines = dwarf_lines__new(elf_file__elf(o->ef));
	if (!o->lines || !elf_file__has_symtab(o->ef)) {
		o->debug = debugfile_find(&owner);
		if (o->debug && !o->lines)
			o->lines = dwarf_lines__new(elf_file__elf(o->debug));
	}
	if (!o->lines)
		log_debug("%s: no debug info: no source lines", o->path);
	o->symtab = symtab__new(o->ef, o->debug);
	if (!o->symtab)
		log_warn("cannot read the symbols of %s: %s", o->path, strerror(errno));
}

/* ---- pids and objects ---- */

static struct pid_entry *pid_find(struct symbolizer *s, int pid)
{
	uint64_t *v = hashtab__find(s->pids, (uint32_t)pid);

	return v ? (struct pid_entry *)(uintptr_t)*v : NULL;
}

static struct pid_entry *pid_get(struct symbolizer *s, int pid)
{
	struct pid_entry *pe = pid_find(s, pid);

	if (pe)
		return pe;
	pe = calloc(1, sizeof(*pe));
	if (!pe)
		return NULL;
	pe->pid = pid;
	if (hashtab__put(s->pids, (uint32_t)pid, (uintptr_t)pe)) {
		free(pe);
		return NULL;
	}
	return pe;
}

struct obj_key {
	uint64_t dev_major, dev_minor, inode;
	const char *path;
};

static uint64_t key_hash(const struct obj_key *k)
{
	uint64_t h = FNV1A_SEED;

	if (!k->inode)
		return fnv1a_bytes(h, k->path, strlen(k->path));
	h = fnv1a_u64(h, k->dev_major);
	h = fnv1a_u64(h, k->dev_minor);
	return fnv1a_u64(h, k->inode);
}

static bool key_match(uint64_t value, const void *ctx)
{
	const struct object *o = (const struct object *)(uintptr_t)value;
	const struct obj_key *k = ctx;

	if (!k->inode || !o->inode)
		return !k->inode && !o->inode && !strcmp(k->path, o->path);
	return k->inode == o->inode && k->dev_major == o->dev_major && k->dev_minor == o->dev_minor;
}

/* Opens path for o; with check_inode, only when it is still the file the process mapped. */
static bool object_try_open(struct object *o, const char *path, bool check_inode)
{
	struct stat st;

	if (stat(path, &st))
		return false;
	if (check_inode && o->inode && st.st_ino != o->inode)
		return false;
	o->ef = elf_file__open(path);
	if (!o->ef) {
		log_debug("cannot read %s: %s", path, strerror(errno));
		return false;
	}
	o->st_dev = st.st_dev;
	o->st_ino = st.st_ino;
	return true;
}

/*
 * The file a mapping shows, reached the way the process reaches it: a deleted file only through
 * map_files (while the process lives), a file in another mount namespace through /proc/PID/root.
 * A path opened from here may name a different file than the process mapped (another container,
 * an upgrade), so then the inode must match.
 */
static void object_open(struct object *o, int pid, const char *root, bool foreign_root,
			const struct procmap *m)
{
	char *p;

	if (m->deleted && pid > 0 &&
	    asprintf(&p, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid, m->start, m->end) >= 0) {
		bool ok = object_try_open(o, p, false);

		free(p);
		if (ok)
			return;
	}
	if (root && asprintf(&p, "%s%s", root, m->path) >= 0) {
		bool ok = object_try_open(o, p, m->deleted);

		free(p);
		if (ok) {
			o->root = strdup(root);
			return;
		}
	}
	if (object_try_open(o, m->path, m->deleted || foreign_root))
		return;
	log_debug("pid %d: cannot open %s: frames in it show module+offset only", pid, m->path);
}

static void object_free(struct object *o)
{
	uint64_t *site;
	size_t pos = 0;

	if (!o)
		return;
	dwarf_lines__free(o->lines);
	symtab__free(o->symtab);
	elf_file__free(o->debug);
	elf_file__free(o->ef);
	while (o->sites && hashtab__next(o->sites, &pos, NULL, &site))
		free((struct call_site *)(uintptr_t)*site);
	hashtab__free(o->sites);
	free(o->root);
	free(o->path);
	free(o);
}

static struct object *object_get(struct symbolizer *s, int pid, const char *root, bool foreign_root,
				 const struct procmap *m)
{
	struct obj_key key = {m->dev_major, m->dev_minor, m->inode, m->path};
	uint64_t hash = key_hash(&key), *have;
	struct object *o;

	have = hashtab__find_match(s->objs, hash, key_match, &key);
	if (have)
		return (struct object *)(uintptr_t)*have;
	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->dev_major = m->dev_major;
	o->dev_minor = m->dev_minor;
	o->inode = m->inode;
	o->path = strdup(m->path);
	if (!o->path || hashtab__add(s->objs, hash, (uintptr_t)o)) {
		object_free(o);
		return NULL;
	}
	/* A file that cannot be opened stays cached as such, so it is not retried for every frame.
	 */
	object_open(o, pid, root, foreign_root, m);
	return o;
}

/*
 * "/proc/PID/root" when pid lives under another root than ours; NULL when it is the same root.
 * *foreign says whether paths seen from here may differ from the process's view.
 */
static char *pid_root(int pid, bool *foreign)
{
	struct stat ours, theirs;
	char *root;

	*foreign = true;
	if (asprintf(&root, "/proc/%d/root", pid) < 0)
		return NULL;
	if (stat("/", &ours) || stat(root, &theirs)) {
		free(root);
		return NULL;
	}
	if (ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino) {
		*foreign = false;
		free(root);
		return NULL;
	}
	return root;
}

/* Takes pm over (freeing it on error) and makes it pe's current snapshot. */
static int install_maps(struct symbolizer *s, struct pid_entry *pe, struct procmaps *pm)
{
	struct map_info *info;
	bool foreign = false, root_known = false;
	char *root = NULL;
	size_t i;

	info = calloc(pm->nr_maps ? pm->nr_maps : 1, sizeof(*info));
	if (!info) {
		procmaps__free(pm);
		return -ENOMEM;
	}
	for (i = 0; i < pm->nr_maps; i++) {
		const struct procmap *m = &pm->maps[i];

		if (m->path[0] != '/')
			continue;
		if (!root_known) {
			root = pid_root(pe->pid, &foreign);
			root_known = true;
		}
		info[i].module = strpool__intern(s->pool, m->path, strlen(m->path));
		info[i].obj = object_get(s, pe->pid, root, foreign, m);
		if (!info[i].module || !info[i].obj) {
			free(root);
			free(info);
			procmaps__free(pm);
			return -ENOMEM;
		}
	}
	free(root);
	procmaps__free(pe->pm);
	free(pe->info);
	pe->pm = pm;
	pe->info = info;
	return 0;
}

/* ---- public ---- */

struct symbolizer *symbolizer__new(void)
{
	struct symbolizer *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->pids = hashtab__new(16);
	s->objs = hashtab__new(32);
	s->pool = strpool__new();
	if (!s->pids || !s->objs || !s->pool) {
		symbolizer__free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

int symbolizer__add_pid(struct symbolizer *s, int pid)
{
	struct procmaps *pm;
	struct pid_entry *pe;
	int err;

	pm = procmaps__read(pid);
	if (!pm)
		return errno == ENOENT ? -ESRCH : -errno;
	pe = pid_get(s, pid);
	if (!pe) {
		procmaps__free(pm);
		return -ENOMEM;
	}
	err = install_maps(s, pe, pm);
	if (!err)
		pe->no_refresh = false;
	return err;
}

static int maps_insert(struct pid_entry *pe, size_t pos, const struct procmap *m,
		       const struct map_info *mi)
{
	struct procmaps *pm = pe->pm;
	struct procmap *nm;
	struct map_info *ni;

	nm = realloc(pm->maps, (pm->nr_maps + 1) * sizeof(*nm));
	if (!nm)
		return -ENOMEM;
	pm->maps = nm;
	ni = realloc(pe->info, (pm->nr_maps + 1) * sizeof(*ni));
	if (!ni)
		return -ENOMEM;
	pe->info = ni;
	memmove(&pm->maps[pos + 1], &pm->maps[pos], (pm->nr_maps - pos) * sizeof(*pm->maps));
	memmove(&pe->info[pos + 1], &pe->info[pos], (pm->nr_maps - pos) * sizeof(*pe->info));
	pm->maps[pos] = *m;
	pe->info[pos] = *mi;
	pm->nr_maps++;
	return 0;
}

int symbolizer__add_mapping(struct symbolizer *s, int pid, uint64_t start, uint64_t end,
			    uint64_t file_offset, const char *path)
{
	struct procmap m = {.start = start, .end = end, .file_offset = file_offset};
	struct pid_entry *pe;
	struct map_info mi;
	struct stat st;
	size_t pos;
	int err;

	if (end <= start)
		return -EINVAL;
	if (stat(path, &st))
		return -errno;
	pe = pid_get(s, pid);
	if (!pe)
		return -ENOMEM;
	pe->no_refresh = true;
	if (!pe->pm) {
		pe->pm = calloc(1, sizeof(*pe->pm));
		if (!pe->pm)
			return -ENOMEM;
		pe->pm->pid = pid;
	}
	for (pos = 0; pos < pe->pm->nr_maps && pe->pm->maps[pos].start < start; pos++)
		;
	if ((pos > 0 && pe->pm->maps[pos - 1].end > start) ||
	    (pos < pe->pm->nr_maps && pe->pm->maps[pos].start < end))
		return -EEXIST;

	strcpy(m.perms, "r-xp");
	m.dev_major = major(st.st_dev);
	m.dev_minor = minor(st.st_dev);
	m.inode = st.st_ino;
	m.path = strdup(path);
	if (!m.path)
		return -ENOMEM;
	mi.module = strpool__intern(s->pool, path, strlen(path));
	mi.obj = object_get(s, 0, NULL, false, &m);
	err = mi.module && mi.obj ? maps_insert(pe, pos, &m, &mi) : -ENOMEM;
	if (err)
		free(m.path);
	return err;
}

size_t symbolizer__nr_objects(const struct symbolizer *s)
{
	return hashtab__count(s->objs);
}

/* The mapping of addr in pid's snapshot, re-reading the maps once when addr is not in it (dlopen).
 */
static const struct procmap *lookup_map(struct symbolizer *s, int pid, uint64_t addr,
					struct map_info **info)
{
	struct pid_entry *pe = pid_find(s, pid);
	const struct procmap *m;
	struct procmaps *pm;

	if (!pe) {
		if (symbolizer__add_pid(s, pid)) {
			pe = pid_get(s, pid);
			if (pe)
				pe->no_refresh = true;
			return NULL;
		}
		pe = pid_find(s, pid);
		if (!pe)
			return NULL;
	}
	m = procmaps__find(pe->pm, addr);
	if (!m && !pe->no_refresh) {
		pm = procmaps__read(pid);
		if (!pm) {
			/* Gone: the snapshot taken at attach time is the best there will be. */
			if (errno == ENOENT)
				pe->no_refresh = true;
		} else if (!install_maps(s, pe, pm)) {
			m = procmaps__find(pe->pm, addr);
		}
	}
	if (m)
		*info = &pe->info[m - pe->pm->maps];
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

size_t symbolizer__resolve(struct symbolizer *s, int pid, uint64_t addr, bool want_inlines,
			   struct sym_frame *frames, size_t max_frames)
{
	struct sym_frame base = {.address = addr};
	const struct procmap *m;
	const struct call_site *site;
	struct map_info *info = NULL;
	struct object *o;
	uint64_t pc;
	size_t keep, i;

	if (!max_frames)
		return 0;
	frames[0] = base;
	m = lookup_map(s, pid, addr, &info);
	if (!m || !info->module)
		return 1;
	base.module = info->module;
	base.module_offset = addr - m->start + m->file_offset;
	frames[0] = base;
	o = info->obj;
	if (!o || !o->ef || !base.module_offset ||
	    elf_file__offset_to_vaddr(o->ef, base.module_offset - 1, &pc))
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

/*
 * The build-id of the file actually opened (not of whatever the path names now), as hex. NULL
 * when it has none; also when memory ran short, which costs pprof's matching, not the report.
 */
static const char *object_build_id(struct symbolizer *s, struct object *o)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *id;
	size_t len, i;
	char *hex;

	if (o->build_id_done)
		return o->build_id;
	len = o->ef ? elf_file__build_id(o->ef, &id) : 0;
	if (!len) {
		o->build_id_done = true;
		return NULL;
	}
	hex = malloc(2 * len + 1);
	if (!hex)
		return NULL;
	for (i = 0; i < len; i++) {
		hex[2 * i] = digits[id[i] >> 4];
		hex[2 * i + 1] = digits[id[i] & 0xf];
	}
	hex[2 * len] = '\0';
	o->build_id = strpool__intern(s->pool, hex, 2 * len);
	o->build_id_done = o->build_id != NULL;
	free(hex);
	return o->build_id;
}

int symbolizer__mapping(struct symbolizer *s, int pid, uint64_t addr, struct sym_mapping *out)
{
	struct pid_entry *pe = pid_find(s, pid);
	const struct procmap *m = pe && pe->pm ? procmaps__find(pe->pm, addr) : NULL;
	struct map_info *info;

	if (!m)
		return -ENOENT;
	info = &pe->info[m - pe->pm->maps];
	if (!info->module)
		return -ENOENT;
	out->start = m->start;
	out->end = m->end;
	out->file_offset = m->file_offset;
	out->module = info->module;
	out->build_id = info->obj ? object_build_id(s, info->obj) : NULL;
	return 0;
}

void symbolizer__free(struct symbolizer *s)
{
	uint64_t *v;
	size_t pos;

	if (!s)
		return;
	for (pos = 0; s->pids && hashtab__next(s->pids, &pos, NULL, &v);) {
		struct pid_entry *pe = (struct pid_entry *)(uintptr_t)*v;

		procmaps__free(pe->pm);
		free(pe->info);
		free(pe);
	}
	hashtab__free(s->pids);
	for (pos = 0; s->objs && hashtab__next(s->objs, &pos, NULL, &v);)
		object_free((struct object *)(uintptr_t)*v);
	hashtab__free(s->objs);
	strpool__free(s->pool);
	free(s);
}
