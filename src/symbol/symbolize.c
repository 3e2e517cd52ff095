/* symbolize.c: addresses -> frames via per-pid map snapshots and a per-file symbol/DWARF cache. */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <zlib.h>

#include "proc/elf_file.h"
#include "base/log.h"
#include "base/strpool.h"
#include "proc/procmaps.h"
#include "symbol/symbolize.h"

/* libstdc++'s demangler; declared here because this is C. */
char *__cxa_demangle(const char *mangled, char *out, size_t *len, int *status);

#define DEBUG_ROOT "/usr/lib/debug"

struct sym_entry {
	uint64_t start, end; /* [start, end); for a zero-size symbol, end is its section's end */
	const char *raw;     /* name in the symbol table */
	const char *display; /* version-stripped, demangled; NULL until first needed */
	int32_t parent;	     /* nearest earlier sized symbol whose range holds start, or -1 */
	bool sized;
};

/* One frame of a call site as cached; address and module are added per resolve. */
struct cframe {
	const char *function, *file;
	uint64_t offset;
	uint32_t line;
	bool inlined;
};

struct pc_entry {
	uint64_t pc;	       /* link-time address of the call instruction's last byte */
	struct cframe *frames; /* innermost first; NULL marks a free slot */
	uint32_t nr;
};

struct cu_range {
	uint64_t lo, hi;
	Dwarf_Die cudie;
};

struct object {
	/* cache key: device and inode, or the path when the inode is unknown (0) */
	uint64_t dev_major, dev_minor, inode;
	char *path;   /* as mapped; debuglink directories are relative to it */
	char *root;   /* "/proc/PID/root" when opened through a foreign root, else NULL */
	dev_t st_dev; /* of the file opened, to tell a debug file from the object itself */
	ino_t st_ino;
	struct elf_file *ef;	/* NULL when it could not be opened */
	const char *build_id;	/* hex, interned; valid once build_id_done */
	bool build_id_done;
	bool loaded;		/* symbols and debug info looked up */
	struct elf_file *debug; /* separate debug file, or NULL */
	Dwarf *dw;		/* from ef or debug, or NULL */
	struct sym_entry *syms;
	size_t nr_syms;
	struct cu_range *cus; /* built only when .debug_aranges does not answer */
	size_t nr_cus;
	bool cus_built;
	struct pc_entry *pcs; /* call sites resolved so far (open addressing) */
	size_t pc_cap, pc_nr;
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
	struct pid_entry *pids; /* sorted by pid */
	size_t nr_pids, cap_pids;
	struct object **objs; /* sorted by key */
	size_t nr_objs, cap_objs;
	struct strpool *pool;
};

char *sym_demangle(const char *name)
{
	int status = 0;
	char *out;

	if (!name || strncmp(name, "_Z", 2))
		return NULL;
	out = __cxa_demangle(name, NULL, NULL, &status);
	if (status) {
		free(out);
		return NULL;
	}
	return out;
}

/*
 * The name to show for a raw symbol or linkage name: without a symbol version
 * ("memcpy@GLIBC_2.2.5") and demangled. Falls back to the raw name when memory runs out, which is
 * still a true answer.
 */
static const char *display_name(struct symbolizer *s, const char *raw)
{
	size_t len = strcspn(raw, "@");
	const char *out = NULL;

	if (!strncmp(raw, "_Z", 2)) {
		char *plain = strndup(raw, len);
		char *dem = plain ? sym_demangle(plain) : NULL;

		if (dem)
			out = strpool__intern(s->pool, dem, strlen(dem));
		free(dem);
		free(plain);
	}
	if (!out && raw[len] == '@')
		out = strpool__intern(s->pool, raw, len);
	return out ? out : raw;
}

/* ---- symbol tables ---- */

struct sym_cand {
	uint64_t start, end;
	const char *name;
	bool sized, global, compat, dynamic;
};

struct cand_vec {
	struct sym_cand *v;
	size_t nr, cap;
	const struct elf_file *ef;
	bool symtab_only;
};

static int collect_cb(const struct elf_sym *sym, void *ctx)
{
	struct cand_vec *cv = ctx;
	struct sym_cand *c;
	uint64_t sec_start, sec_end;

	if (cv->symtab_only && sym->dynamic)
		return 0;
	if (cv->nr == cv->cap) {
		size_t ncap = cv->cap ? cv->cap * 2 : 256;
		struct sym_cand *n = realloc(cv->v, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		cv->v = n;
		cv->cap = ncap;
	}
	c = &cv->v[cv->nr];
	c->start = sym->vaddr;
	c->sized = sym->size > 0;
	if (c->sized) {
		c->end = sym->vaddr + sym->size;
	} else if (!elf_file__section_range(cv->ef, sym->shndx, &sec_start, &sec_end) &&
		   sym->vaddr >= sec_start && sym->vaddr < sec_end) {
		c->end = sec_end;
	} else {
		/* Without a known section a zero-size symbol can claim nothing. */
		c->end = sym->vaddr;
	}
	c->name = sym->name;
	c->global = sym->global;
	c->compat = sym->compat_version;
	c->dynamic = sym->dynamic;
	cv->nr++;
	return 0;
}

static size_t leading_underscores(const char *s)
{
	size_t n = 0;

	while (s[n] == '_')
		n++;
	return n;
}

/*
 * Which of several names for one address to show, best first: a symbol with a size (it states its
 * extent) over a bare label; global over local; the default symbol version over a compat one
 * ("free" over "cfree@GLIBC_2.2.5"); fewer leading underscores ("malloc" over "__libc_malloc");
 * the shorter name ("fx" over "fx_impl"); .symtab over .dynsym; then byte order, for stable output.
 */
static int cand_pref(const struct sym_cand *a, const struct sym_cand *b)
{
	size_t ua, ub, la, lb;

	if (a->sized != b->sized)
		return a->sized ? -1 : 1;
	if (a->global != b->global)
		return a->global ? -1 : 1;
	if (a->compat != b->compat)
		return a->compat ? 1 : -1;
	ua = leading_underscores(a->name);
	ub = leading_underscores(b->name);
	if (ua != ub)
		return ua < ub ? -1 : 1;
	la = strcspn(a->name, "@");
	lb = strcspn(b->name, "@");
	if (la != lb)
		return la < lb ? -1 : 1;
	if (a->dynamic != b->dynamic)
		return a->dynamic ? 1 : -1;
	return strcmp(a->name, b->name);
}

static int cand_cmp(const void *pa, const void *pb)
{
	const struct sym_cand *a = pa, *b = pb;

	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	return cand_pref(a, b);
}

static int build_symbols(struct object *o)
{
	struct cand_vec cv = {.ef = o->ef};
	struct sym_entry *e;
	int32_t *stack = NULL;
	size_t i, j, n = 0, depth = 0;
	int err;

	err = elf_file__for_each_func(o->ef, collect_cb, &cv);
	/* A file stripped down to .dynsym takes the full table from its debug file. */
	if (!err && o->debug && !elf_file__has_symtab(o->ef)) {
		cv.ef = o->debug;
		cv.symtab_only = true;
		err = elf_file__for_each_func(o->debug, collect_cb, &cv);
	}
	if (err || !cv.nr)
		goto out;
	qsort(cv.v, cv.nr, sizeof(*cv.v), cand_cmp);

	e = calloc(cv.nr, sizeof(*e));
	stack = calloc(cv.nr, sizeof(*stack));
	if (!e || !stack) {
		free(e);
		err = -ENOMEM;
		goto out;
	}
	/* One entry per address: the preferred name, covering the widest extent given there. */
	for (i = 0; i < cv.nr; i = j) {
		struct sym_entry *cur = &e[n++];

		cur->start = cv.v[i].start;
		cur->end = cv.v[i].end;
		cur->raw = cv.v[i].name;
		cur->sized = cv.v[i].sized;
		for (j = i + 1; j < cv.nr && cv.v[j].start == cv.v[i].start; j++)
			if (cv.v[j].sized && cv.v[j].end > cur->end)
				cur->end = cv.v[j].end;
	}
	/* parent links let a lookup step out of a small symbol nested in a larger one */
	for (i = 0; i < n; i++) {
		while (depth && e[stack[depth - 1]].end <= e[i].start)
			depth--;
		e[i].parent = depth ? stack[depth - 1] : -1;
		if (e[i].sized)
			stack[depth++] = (int32_t)i;
	}
	o->syms = e;
	o->nr_syms = n;
out:
	free(stack);
	free(cv.v);
	return err;
}

static struct sym_entry *find_symbol(const struct object *o, uint64_t pc)
{
	size_t lo = 0, hi = o->nr_syms;
	int32_t i;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->syms[mid].start <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	for (i = (int32_t)(lo - 1); i >= 0; i = o->syms[i].parent)
		if (o->syms[i].sized && pc < o->syms[i].end)
			return &o->syms[i];
	/* A label without a size extends to the next symbol, but never past its own section. */
	if (!o->syms[lo - 1].sized && pc < o->syms[lo - 1].end)
		return &o->syms[lo - 1];
	return NULL;
}

/* ---- debug files ---- */

static int file_crc32(const char *path, uint32_t *crc)
{
	size_t bufsz = 1 << 16;
	uLong c = crc32(0L, Z_NULL, 0);
	unsigned char *buf;
	ssize_t r;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(bufsz);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while ((r = read(fd, buf, bufsz)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		c = crc32(c, buf, (uInt)r);
	}
	free(buf);
	close(fd);
	*crc = (uint32_t)c;
	return err;
}

/* Opens path as the debug file of o if it is one: same build-id, or the debuglink's CRC. */
static struct elf_file *try_debug_file(struct object *o, const char *path, bool check_crc)
{
	const uint8_t *id, *did;
	size_t id_len, did_len;
	struct elf_file *d;
	struct stat st;
	uint32_t crc = 0;

	if (stat(path, &st) || (st.st_dev == o->st_dev && st.st_ino == o->st_ino))
		return NULL;
	d = elf_file__open(path);
	if (!d)
		return NULL;
	id_len = elf_file__build_id(o->ef, &id);
	did_len = elf_file__build_id(d, &did);
	if (id_len && did_len) {
		if (id_len == did_len && !memcmp(id, did, id_len))
			return d;
	} else if (!check_crc ||
		   (!file_crc32(path, &crc) && crc == elf_file__debuglink_crc(o->ef))) {
		return d;
	}
	log_debug("%s: ignoring %s: it belongs to another build", o->path, path);
	elf_file__free(d);
	return NULL;
}

/* Tries rel (an absolute path) inside the process's root first, then as seen from here. */
static struct elf_file *try_debug_path(struct object *o, const char *rel, bool check_crc)
{
	struct elf_file *d = NULL;
	char *p;

	if (o->root && asprintf(&p, "%s%s", o->root, rel) >= 0) {
		d = try_debug_file(o, p, check_crc);
		free(p);
	}
	return d ? d : try_debug_file(o, rel, check_crc);
}

/*
 * Search order: the build-id under /usr/lib/debug/.build-id/, then the .gnu_debuglink name in the
 * object's directory, its .debug/ subdirectory, and /usr/lib/debug/<directory>/.
 */
static struct elf_file *find_debug_file(struct object *o)
{
	const uint8_t *id;
	size_t id_len = elf_file__build_id(o->ef, &id), i;
	const char *link = elf_file__debuglink(o->ef), *slash;
	struct elf_file *d = NULL;
	char *p, *hex, *dir;

	if (id_len >= 2) {
		hex = malloc(id_len * 2 + 2);
		if (hex) {
			size_t k = 0;

			for (i = 0; i < id_len; i++) {
				k += (size_t)sprintf(hex + k, "%02x", id[i]);
				if (i == 0)
					hex[k++] = '/';
			}
			if (asprintf(&p, DEBUG_ROOT "/.build-id/%s.debug", hex) >= 0) {
				d = try_debug_path(o, p, false);
				free(p);
			}
			free(hex);
		}
		if (d)
			return d;
	}
	slash = strrchr(o->path, '/');
	if (!link || !slash)
		return NULL;
	dir = strndup(o->path, (size_t)(slash - o->path));
	if (!dir)
		return NULL;
	if (asprintf(&p, "%s/%s", dir, link) >= 0) {
		d = try_debug_path(o, p, true);
		free(p);
	}
	if (!d && asprintf(&p, "%s/.debug/%s", dir, link) >= 0) {
		d = try_debug_path(o, p, true);
		free(p);
	}
	if (!d && asprintf(&p, DEBUG_ROOT "%s/%s", dir, link) >= 0) {
		d = try_debug_path(o, p, true);
		free(p);
	}
	free(dir);
	return d;
}

/* Symbols and debug info, on first use: most mapped files never appear in a stack. */
static void object_load(struct object *o)
{
	int err;

	if (o->loaded || !o->ef)
		return;
	o->loaded = true;
	o->dw = dwarf_begin_elf(elf_file__elf(o->ef), DWARF_C_READ, NULL);
	if (!o->dw || !elf_file__has_symtab(o->ef)) {
		o->debug = find_debug_file(o);
		if (o->debug && !o->dw)
			o->dw = dwarf_begin_elf(elf_file__elf(o->debug), DWARF_C_READ, NULL);
	}
	if (!o->dw)
		log_debug("%s: no debug info: no source lines", o->path);
	err = build_symbols(o);
	if (err)
		log_warn("cannot read the symbols of %s: %s", o->path, strerror(-err));
}

/* ---- DWARF ---- */

static int cu_cmp(const void *pa, const void *pb)
{
	const struct cu_range *a = pa, *b = pb;

	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* Producers that omit .debug_aranges (clang by default) still give each CU its ranges. */
static void build_cu_table(struct object *o)
{
	Dwarf_CU *cu = NULL;
	Dwarf_Die cudie;
	Dwarf_Half version;
	uint8_t unit_type;
	size_t cap = 0;

	o->cus_built = true;
	while (!dwarf_get_units(o->dw, cu, &cu, &version, &unit_type, &cudie, NULL)) {
		Dwarf_Addr base, lo, hi;
		ptrdiff_t off = 0;

		if (unit_type == DW_UT_type || unit_type == DW_UT_split_type)
			continue;
		while ((off = dwarf_ranges(&cudie, off, &base, &lo, &hi)) > 0) {
			if (hi <= lo)
				continue;
			if (o->nr_cus == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				struct cu_range *n = realloc(o->cus, ncap * sizeof(*n));

				if (!n)
					goto out;
				o->cus = n;
				cap = ncap;
			}
			o->cus[o->nr_cus++] = (struct cu_range){lo, hi, cudie};
		}
	}
out:
	/* Units without code leave no range and cus NULL, which qsort's nonnull array forbids. */
	if (o->nr_cus)
		qsort(o->cus, o->nr_cus, sizeof(*o->cus), cu_cmp);
}

static bool find_cu(struct object *o, uint64_t pc, Dwarf_Die *cudie)
{
	size_t lo = 0, hi;

	if (dwarf_addrdie(o->dw, pc, cudie))
		return true;
	if (!o->cus_built)
		build_cu_table(o);
	hi = o->nr_cus;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->cus[mid].lo <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || pc >= o->cus[lo - 1].hi)
		return false;
	*cudie = o->cus[lo - 1].cudie;
	return true;
}

static const char *die_name(struct symbolizer *s, Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *name = NULL;

	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
		name = dwarf_formstring(&attr);
	if (!name && dwarf_attr_integrate(die, DW_AT_name, &attr))
		name = dwarf_formstring(&attr);
	return name ? display_name(s, name) : NULL;
}

static void call_site(Dwarf_Die *inl, Dwarf_Die *cudie, const char **file, uint32_t *line)
{
	Dwarf_Attribute attr;
	Dwarf_Word v;
	Dwarf_Files *files;
	size_t nfiles;

	*file = NULL;
	*line = 0;
	if (!dwarf_formudata(dwarf_attr(inl, DW_AT_call_line, &attr), &v))
		*line = (uint32_t)v;
	if (!dwarf_formudata(dwarf_attr(inl, DW_AT_call_file, &attr), &v) &&
	    !dwarf_getsrcfiles(cudie, &files, &nfiles) && v < nfiles)
		*file = dwarf_filesrc(files, v, NULL, NULL);
}

/*
 * The innermost scope that holds pc, found as dwarf_getscopes() finds it, which leaktop no longer
 * calls: that function leaks its scope array (32 bytes per DIE in it) whenever it fails after
 * finding the innermost scope, and the caller cannot free what it never receives. It fails so
 * when an inlined copy's DW_AT_abstract_origin does not resolve (malformed DWARF), and also on
 * valid DWARF: libdw 0.188 looks for the abstract origin in the copy's own unit only, and link-time
 * optimisation puts it in another. Each call site cached would leak once, and lose its inlined
 * frames besides. Only the innermost DIE is needed here: dwarf_getscopes_die() (which frees on
 * every path) gives its chain of concrete parents.
 */
struct scope_search {
	uint64_t pc;
	Dwarf_Die found;
	bool any;      /* found is set */
	size_t budget; /* DIEs left to look at: imported units can make the walk a large DAG */
};

/* Deeper nesting is malformed; the bound also ends a cycle of imported units. */
#define MAX_SCOPE_DEPTH	 256
#define MAX_SCOPE_VISITS (1u << 20)

/* The tags whose children may hold pc (libdw's may_have_scopes(), which dwarf_getscopes uses). */
static bool may_have_scopes(int tag)
{
	switch (tag) {
	case DW_TAG_compile_unit:
	case DW_TAG_module:
	case DW_TAG_lexical_block:
	case DW_TAG_with_stmt:
	case DW_TAG_catch_block:
	case DW_TAG_try_block:
	case DW_TAG_entry_point:
	case DW_TAG_inlined_subroutine:
	case DW_TAG_subprogram:
	case DW_TAG_namespace:
	case DW_TAG_class_type:
	case DW_TAG_structure_type:
		return true;
	default:
		return false;
	}
}

static int scope_search_children(Dwarf_Die *parent, struct scope_search *ss, unsigned int depth);

/*
 * 1 when die holds pc (ss->found is then the innermost DIE under it that does), 0 when it does
 * not, -1 when the search must stop (too deep or too long): what was found so far stands.
 */
static int scope_search_die(Dwarf_Die *die, struct scope_search *ss, unsigned int depth)
{
	int tag = dwarf_tag(die);

	if (!ss->budget)
		return -1;
	ss->budget--;
	if (tag == DW_TAG_imported_unit) {
		Dwarf_Attribute attr;
		Dwarf_Die unit;

		/* A partial unit's children count as the importer's own, as libdw walks them. */
		if (!dwarf_formref_die(dwarf_attr(die, DW_AT_import, &attr), &unit) ||
		    dwarf_tag(&unit) == DW_TAG_compile_unit)
			return 0;
		return scope_search_children(&unit, ss, depth + 1);
	}
	/* A DIE whose ranges cannot be read holds nothing, as in dwarf_getscopes(). */
	if (dwarf_haspc(die, ss->pc) <= 0)
		return 0;
	ss->found = *die;
	ss->any = true;
	/* The first child that holds pc is the way down, as dwarf_getscopes() goes. */
	if (may_have_scopes(tag) && dwarf_haschildren(die) > 0)
		(void)scope_search_children(die, ss, depth + 1);
	return 1;
}

static int scope_search_children(Dwarf_Die *parent, struct scope_search *ss, unsigned int depth)
{
	Dwarf_Die child;
	int ret;

	if (depth > MAX_SCOPE_DEPTH)
		return -1;
	if (dwarf_child(parent, &child))
		return 0;
	do {
		ret = scope_search_die(&child, ss, depth);
		if (ret)
			return ret;
	} while (!dwarf_siblingof(&child, &child));
	return 0;
}

static bool innermost_scope(Dwarf_Die *cudie, uint64_t pc, Dwarf_Die *out)
{
	struct scope_search ss = {.pc = pc, .budget = MAX_SCOPE_VISITS};

	(void)scope_search_children(cudie, &ss, 0);
	if (ss.any)
		*out = ss.found;
	return ss.any;
}

/* ---- pids and objects ---- */

static struct pid_entry *pid_find(struct symbolizer *s, int pid, size_t *pos)
{
	size_t lo = 0, hi = s->nr_pids;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->pids[mid].pid == pid)
			return &s->pids[mid];
		if (s->pids[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pos)
		*pos = lo;
	return NULL;
}

static struct pid_entry *pid_get(struct symbolizer *s, int pid)
{
	struct pid_entry *pe;
	size_t pos;

	pe = pid_find(s, pid, &pos);
	if (pe)
		return pe;
	if (s->nr_pids == s->cap_pids) {
		size_t ncap = s->cap_pids ? s->cap_pids * 2 : 16;
		struct pid_entry *n = realloc(s->pids, ncap * sizeof(*n));

		if (!n)
			return NULL;
		s->pids = n;
		s->cap_pids = ncap;
	}
	memmove(&s->pids[pos + 1], &s->pids[pos], (s->nr_pids - pos) * sizeof(*s->pids));
	s->nr_pids++;
	pe = &s->pids[pos];
	memset(pe, 0, sizeof(*pe));
	pe->pid = pid;
	return pe;
}

struct obj_key {
	uint64_t dev_major, dev_minor, inode;
	const char *path;
};

static int key_cmp(const struct obj_key *k, const struct object *o)
{
	if ((k->inode != 0) != (o->inode != 0))
		return k->inode ? 1 : -1;
	if (!k->inode)
		return strcmp(k->path, o->path);
	if (k->inode != o->inode)
		return k->inode < o->inode ? -1 : 1;
	if (k->dev_major != o->dev_major)
		return k->dev_major < o->dev_major ? -1 : 1;
	if (k->dev_minor != o->dev_minor)
		return k->dev_minor < o->dev_minor ? -1 : 1;
	return 0;
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

static struct object *object_get(struct symbolizer *s, int pid, const char *root, bool foreign_root,
				 const struct procmap *m)
{
	struct obj_key key = {m->dev_major, m->dev_minor, m->inode, m->path};
	size_t lo = 0, hi = s->nr_objs;
	struct object *o;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = key_cmp(&key, s->objs[mid]);

		if (!c)
			return s->objs[mid];
		if (c > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (s->nr_objs == s->cap_objs) {
		size_t ncap = s->cap_objs ? s->cap_objs * 2 : 32;
		struct object **n = realloc(s->objs, ncap * sizeof(*n));

		if (!n)
			return NULL;
		s->objs = n;
		s->cap_objs = ncap;
	}
	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->path = strdup(m->path);
	if (!o->path) {
		free(o);
		return NULL;
	}
	o->dev_major = m->dev_major;
	o->dev_minor = m->dev_minor;
	o->inode = m->inode;
	/* A file that cannot be opened stays cached as such, so it is not retried for every frame.
	 */
	object_open(o, pid, root, foreign_root, m);
	memmove(&s->objs[lo + 1], &s->objs[lo], (s->nr_objs - lo) * sizeof(*s->objs));
	s->objs[lo] = o;
	s->nr_objs++;
	return o;
}

static void object_free(struct object *o)
{
	size_t i;

	if (!o)
		return;
	if (o->dw)
		dwarf_end(o->dw);
	elf_file__free(o->debug);
	elf_file__free(o->ef);
	for (i = 0; i < o->pc_cap; i++)
		free(o->pcs[i].frames);
	free(o->pcs);
	free(o->syms);
	free(o->cus);
	free(o->root);
	free(o->path);
	free(o);
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
	s->pool = strpool__new();
	if (!s->pool) {
		free(s);
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
	return s->nr_objs;
}

/* The mapping of addr in pid's snapshot, re-reading the maps once when addr is not in it (dlopen).
 */
static const struct procmap *lookup_map(struct symbolizer *s, int pid, uint64_t addr,
					struct map_info **info)
{
	struct pid_entry *pe = pid_find(s, pid, NULL);
	const struct procmap *m;
	struct procmaps *pm;

	if (!pe) {
		if (symbolizer__add_pid(s, pid)) {
			pe = pid_get(s, pid);
			if (pe)
				pe->no_refresh = true;
			return NULL;
		}
		pe = pid_find(s, pid, NULL);
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

/* The frames of one call site, innermost first, as inserted into o's cache. */
static int compute_frames(struct symbolizer *s, struct object *o, uint64_t pc, struct pc_entry *out)
{
	struct cframe outer = {0}, *cf;
	struct sym_entry *sym;
	Dwarf_Die cudie, innermost, *scopes = NULL, *inl = NULL;
	Dwarf_Line *line;
	int nscopes, ninl = 0, i, k;

	sym = find_symbol(o, pc);
	if (sym) {
		if (!sym->display)
			sym->display = display_name(s, sym->raw);
		outer.function = sym->display;
		outer.offset = pc + 1 - sym->start;
	}
	if (o->dw && find_cu(o, pc, &cudie)) {
		line = dwarf_getsrc_die(&cudie, pc);
		if (line) {
			int ln = 0;

			outer.file = dwarf_linesrc(line, NULL, NULL);
			if (!dwarf_lineno(line, &ln) && ln > 0)
				outer.line = (uint32_t)ln;
		}
		/*
		 * The inlined copies around pc, innermost first, up to the real function: the
		 * innermost scope's parents in the DIE tree are the chain of concrete callers.
		 */
		nscopes = 0;
		if (innermost_scope(&cudie, pc, &innermost))
			nscopes = dwarf_getscopes_die(&innermost, &scopes);
		if (nscopes > 0)
			inl = calloc((size_t)nscopes, sizeof(*inl));
		for (i = 0; inl && i < nscopes; i++) {
			int tag = dwarf_tag(&scopes[i]);
			Dwarf_Addr low;

			if (tag == DW_TAG_inlined_subroutine) {
				inl[ninl++] = scopes[i];
			} else if (tag == DW_TAG_subprogram) {
				if (!outer.function) {
					outer.function = die_name(s, &scopes[i]);
					if (outer.function && !dwarf_entrypc(&scopes[i], &low) &&
					    low <= pc)
						outer.offset = pc + 1 - low;
				}
				break;
			}
		}
	}
	cf = calloc((size_t)ninl + 1, sizeof(*cf));
	if (!cf) {
		free(inl);
		free(scopes);
		return -ENOMEM;
	}
	for (k = 0; k < ninl; k++) {
		Dwarf_Addr low;

		cf[k].function = die_name(s, &inl[k]);
		/* An inlined copy has no symbol: its offset counts from the copy's entry. */
		if (cf[k].function && !dwarf_entrypc(&inl[k], &low) && low <= pc)
			cf[k].offset = pc + 1 - low;
		cf[k].file = outer.file;
		cf[k].line = outer.line;
		cf[k].inlined = true;
		call_site(&inl[k], &cudie, &outer.file, &outer.line);
	}
	cf[ninl] = outer;
	out->pc = pc;
	out->frames = cf;
	out->nr = (uint32_t)ninl + 1;
	free(inl);
	free(scopes);
	return 0;
}

static size_t pc_hash(uint64_t pc, size_t cap)
{
	return (size_t)((pc * 0x9e3779b97f4a7c15ULL) >> 20) & (cap - 1);
}

/*
 * The frames of pc in o, computed once: reports resolve the same call sites at every refresh,
 * and a DWARF scope walk costs far more than a hash lookup. NULL when out of memory.
 */
static const struct pc_entry *pc_frames(struct symbolizer *s, struct object *o, uint64_t pc)
{
	struct pc_entry e;
	size_t h, i;

	if (o->pc_cap) {
		for (h = pc_hash(pc, o->pc_cap); o->pcs[h].frames; h = (h + 1) & (o->pc_cap - 1))
			if (o->pcs[h].pc == pc)
				return &o->pcs[h];
	}
	if ((o->pc_nr + 1) * 2 > o->pc_cap) {
		size_t ncap = o->pc_cap ? o->pc_cap * 2 : 64;
		struct pc_entry *n = calloc(ncap, sizeof(*n));

		if (!n)
			return NULL;
		for (i = 0; i < o->pc_cap; i++) {
			if (!o->pcs[i].frames)
				continue;
			for (h = pc_hash(o->pcs[i].pc, ncap); n[h].frames; h = (h + 1) & (ncap - 1))
				;
			n[h] = o->pcs[i];
		}
		free(o->pcs);
		o->pcs = n;
		o->pc_cap = ncap;
	}
	if (compute_frames(s, o, pc, &e))
		return NULL;
	for (h = pc_hash(pc, o->pc_cap); o->pcs[h].frames; h = (h + 1) & (o->pc_cap - 1))
		;
	o->pcs[h] = e;
	o->pc_nr++;
	return &o->pcs[h];
}

static void put_frame(struct sym_frame *f, const struct sym_frame *base, const struct cframe *cf)
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
	const struct pc_entry *e;
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
	e = pc_frames(s, o, pc);
	if (!e)
		return 1;

	/*
	 * The last frame is the real function, with the line of the call it makes (or of the
	 * outermost inlined call in it); it is kept even when inlined frames must be dropped for
	 * room.
	 */
	keep = want_inlines ? e->nr - 1 : 0;
	if (keep > max_frames - 1)
		keep = max_frames - 1;
	for (i = 0; i < keep; i++)
		put_frame(&frames[i], &base, &e->frames[i]);
	put_frame(&frames[keep], &base, &e->frames[e->nr - 1]);
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
	struct pid_entry *pe = pid_find(s, pid, NULL);
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
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->nr_pids; i++) {
		procmaps__free(s->pids[i].pm);
		free(s->pids[i].info);
	}
	free(s->pids);
	for (i = 0; i < s->nr_objs; i++)
		object_free(s->objs[i]);
	free(s->objs);
	strpool__free(s->pool);
	free(s);
}
