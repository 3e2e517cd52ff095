/* pprof_tables.c: a pprof profile's strings, Functions, Mappings and Locations, each kept once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "base/hashtab.h"
#include "output/pprof_tables.h"

typedef Perftools__Profiles__Profile pb_profile;
typedef Perftools__Profiles__Mapping pb_mapping;
typedef Perftools__Profiles__Location pb_location;
typedef Perftools__Profiles__Line pb_line;
typedef Perftools__Profiles__Function pb_function;

/* What a stack with no frames (its stack was lost) is shown as, as in the folded format. */
#define UNKNOWN_STACK "[unknown]"

enum key_kind {
	KEY_FUNCTION = 1,
	KEY_MAPPING,
	KEY_LOCATION,
};

/* What makes two Functions, Mappings or Locations one: kind plus up to four numbers. */
struct key {
	uint64_t kind, a, b, c, d;
};

struct keyed {
	struct key key;
	uint64_t id; /* of the Function, Mapping or Location */
};

struct map_entry {
	pb_mapping pb;
	bool derived; /* no recorded range: memory_limit grows with the addresses seen */
};

struct pprof_tables {
	const struct report *r;
	char **strs; /* the string table; strs[0] is "" */
	size_t nr_strs, cap_strs;
	struct hashtab *str_index; /* FNV-1a of a string -> its index in strs */
	struct keyed *keys;	   /* every Function, Mapping and Location, by its key */
	size_t nr_keys, cap_keys;
	struct hashtab *key_index; /* FNV-1a of a key -> its index in keys */
	pb_function *funcs;
	size_t nr_funcs, cap_funcs;
	struct map_entry *maps;
	size_t nr_maps, cap_maps;
	pb_location *locs;
	size_t nr_locs, cap_locs;
	void **blocks; /* every other allocation, freed at the end */
	size_t nr_blocks, cap_blocks;
};

struct pprof_tables *pprof_tables__new(const struct report *r)
{
	struct pprof_tables *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->r = r;
	t->str_index = hashtab__new(128);
	t->key_index = hashtab__new(128);
	if (!t->str_index || !t->key_index || pprof_tables__string(t, "") != 0) {
		pprof_tables__free(t);
		errno = ENOMEM;
		return NULL;
	}
	return t;
}

void pprof_tables__free(struct pprof_tables *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nr_strs; i++)
		free(t->strs[i]);
	free(t->strs);
	hashtab__free(t->str_index);
	free(t->keys);
	hashtab__free(t->key_index);
	free(t->funcs);
	free(t->maps);
	free(t->locs);
	for (size_t i = 0; i < t->nr_blocks; i++)
		free(t->blocks[i]);
	free(t->blocks);
	free(t);
}

void *pprof_tables__alloc(struct pprof_tables *t, size_t n, size_t size)
{
	void *p;

	if (array_reserve(&t->blocks, &t->cap_blocks, t->nr_blocks, sizeof(*t->blocks), 16))
		return NULL;
	p = calloc(n ? n : 1, size);
	if (p)
		t->blocks[t->nr_blocks++] = p;
	return p;
}

void **pprof_tables__pointers(struct pprof_tables *t, void *arr, size_t n, size_t size)
{
	void **ptrs = pprof_tables__alloc(t, n, sizeof(*ptrs));

	for (size_t i = 0; ptrs && i < n; i++)
		ptrs[i] = (char *)arr + i * size;
	return ptrs;
}

struct str_probe {
	const struct pprof_tables *t;
	const char *s;
};

static bool same_string(uint64_t idx, const void *ctx)
{
	const struct str_probe *p = ctx;

	return !strcmp(p->t->strs[idx], p->s);
}

int64_t pprof_tables__string(struct pprof_tables *t, const char *s)
{
	struct str_probe probe = {t, s ? s : ""};
	uint64_t hash = fnv1a_bytes(FNV1A_SEED, probe.s, strlen(probe.s)), *have;

	have = hashtab__find_match(t->str_index, hash, same_string, &probe);
	if (have)
		return (int64_t)*have;
	if (array_reserve(&t->strs, &t->cap_strs, t->nr_strs, sizeof(*t->strs), 16))
		return -ENOMEM;
	t->strs[t->nr_strs] = strdup(probe.s);
	if (!t->strs[t->nr_strs] || hashtab__add(t->str_index, hash, t->nr_strs)) {
		free(t->strs[t->nr_strs]);
		return -ENOMEM;
	}
	return (int64_t)t->nr_strs++;
}

static uint64_t key_hash(const struct key *k)
{
	const uint64_t words[] = {k->kind, k->a, k->b, k->c, k->d};
	uint64_t h = FNV1A_SEED;

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		h = fnv1a_u64(h, words[i]);
	return h;
}

struct key_probe {
	const struct pprof_tables *t;
	const struct key *k;
};

static bool same_key(uint64_t idx, const void *ctx)
{
	const struct key_probe *p = ctx;
	const struct key *x = &p->t->keys[idx].key, *y = p->k;

	return x->kind == y->kind && x->a == y->a && x->b == y->b && x->c == y->c && x->d == y->d;
}

/* The id kept under k, or 0 when k is new. */
static uint64_t key_find(const struct pprof_tables *t, const struct key *k)
{
	struct key_probe probe = {t, k};
	uint64_t *idx = hashtab__find_match(t->key_index, key_hash(k), same_key, &probe);

	return idx ? t->keys[*idx].id : 0;
}

/* Keeps id under k (new). 0 or -ENOMEM. */
static int key_add(struct pprof_tables *t, const struct key *k, uint64_t id)
{
	if (array_reserve(&t->keys, &t->cap_keys, t->nr_keys, sizeof(*t->keys), 256) ||
	    hashtab__add(t->key_index, key_hash(k), t->nr_keys))
		return -ENOMEM;
	t->keys[t->nr_keys++] = (struct keyed){*k, id};
	return 0;
}

/* The Function of (name, file): one per distinct pair, as pprof merges by them. 0 on no memory. */
static uint64_t function_id(struct pprof_tables *t, const char *name, const char *file)
{
	int64_t name_ix = pprof_tables__string(t, name), file_ix = pprof_tables__string(t, file);
	struct key k = {KEY_FUNCTION, (uint64_t)name_ix, (uint64_t)file_ix, 0, 0};
	pb_function *f;
	uint64_t id;

	if (name_ix < 0 || file_ix < 0)
		return 0;
	id = key_find(t, &k);
	if (id)
		return id;
	if (array_reserve(&t->funcs, &t->cap_funcs, t->nr_funcs, sizeof(*t->funcs), 16))
		return 0;
	f = &t->funcs[t->nr_funcs];
	*f = (pb_function)PERFTOOLS__PROFILES__FUNCTION__INIT;
	f->id = t->nr_funcs + 1;
	f->name = name_ix;
	/* leaktop keeps only the demangled name; the mangled one is not carried in the report. */
	f->system_name = name_ix;
	f->filename = file_ix;
	if (key_add(t, &k, f->id))
		return 0;
	t->nr_funcs++;
	return f->id;
}

/* The recorded mapping of pid that holds addr and belongs to module, or NULL. */
static const struct report_mapping *find_mapping(const struct report *r, int pid, uint64_t addr,
						 const char *module)
{
	size_t lo = 0, hi = r->nr_mappings;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct report_mapping *m = &r->mappings[mid];

		if (m->pid < pid || (m->pid == pid && m->map.end <= addr)) {
			lo = mid + 1;
		} else if (m->pid > pid || addr < m->map.start) {
			hi = mid;
		} else {
			if (m->map.module == module ||
			    (m->map.module && module && !strcmp(m->map.module, module)))
				return m;
			return NULL;
		}
	}
	return NULL;
}

/*
 * The Mapping of a frame in module. With the range the process showed, it is that mapping: two
 * processes that map a file at the same place share it. Without one (a report built without a
 * symbolizer), it is derived from the frame: address - module_offset (= start - file offset of
 * the frame's maps entry) is where file offset 0 would lie, for PIE, non-PIE and shared objects
 * alike. Frames of segments with the same vaddr - offset (all the code, on x86-64) share it, and
 * [that, highest address seen + 1) at file offset 0 gives pprof every file offset right; only
 * the limit is a guess. Returns the id, or 0 on no memory.
 */
static uint64_t mapping_id(struct pprof_tables *t, int pid, const struct sym_frame *f)
{
	const struct report_mapping *rm = find_mapping(t->r, pid, f->address, f->module);
	int64_t file_ix = pprof_tables__string(t, f->module), build_ix;
	struct key k = {KEY_MAPPING, (uint64_t)file_ix, 0, 0, 0};
	struct map_entry *e;
	uint64_t id;

	if (file_ix < 0)
		return 0;
	if (rm) {
		k.b = rm->map.start;
		k.c = rm->map.end;
		k.d = rm->map.file_offset;
	} else {
		/* c = 0 (an empty range) tells a derived mapping from every recorded one */
		k.b = f->address - f->module_offset;
	}
	id = key_find(t, &k);
	if (id) {
		e = &t->maps[id - 1];
		if (e->derived && f->address >= e->pb.memory_limit)
			e->pb.memory_limit = f->address + 1;
		return id;
	}
	build_ix = pprof_tables__string(t, rm ? rm->map.build_id : NULL);
	if (build_ix < 0 || array_reserve(&t->maps, &t->cap_maps, t->nr_maps, sizeof(*t->maps), 16))
		return 0;
	e = &t->maps[t->nr_maps];
	e->pb = (pb_mapping)PERFTOOLS__PROFILES__MAPPING__INIT;
	e->pb.id = t->nr_maps + 1;
	e->pb.memory_start = k.b;
	e->pb.memory_limit = rm ? rm->map.end : f->address + 1;
	e->pb.file_offset = rm ? rm->map.file_offset : 0;
	e->pb.filename = file_ix;
	e->pb.build_id = build_ix;
	e->derived = !rm;
	if (key_add(t, &k, e->pb.id))
		return 0;
	t->nr_maps++;
	return e->pb.id;
}

/* The Lines of a Location: one per frame that has a function. -ENOMEM or 0. */
static int add_lines(struct pprof_tables *t, pb_location *loc, const struct sym_frame *frames,
		     size_t n)
{
	pb_line *lines;
	size_t nl = 0;

	for (size_t i = 0; i < n; i++)
		nl += frames[i].function != NULL;
	lines = pprof_tables__alloc(t, nl, sizeof(*lines));
	loc->line = pprof_tables__alloc(t, nl, sizeof(*loc->line));
	if (!lines || !loc->line)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		uint64_t fid;

		if (!frames[i].function)
			continue;
		fid = function_id(t, frames[i].function, frames[i].file);
		if (!fid)
			return -ENOMEM;
		lines[loc->n_line] = (pb_line)PERFTOOLS__PROFILES__LINE__INIT;
		lines[loc->n_line].function_id = fid;
		lines[loc->n_line].line = frames[i].line;
		loc->line[loc->n_line] = &lines[loc->n_line];
		loc->n_line++;
	}
	return 0;
}

/*
 * A frame without a function gives no Line (pprof shows the address). An address outside every
 * mapping is keyed by its pid too, since nothing says two processes meant the same code by it.
 */
uint64_t pprof_tables__location(struct pprof_tables *t, int pid, const struct sym_frame *frames,
				size_t n)
{
	const struct sym_frame *f = &frames[n - 1];
	uint64_t map_id = 0, id;
	pb_location *loc;
	struct key k;

	if (f->module) {
		map_id = mapping_id(t, pid, f);
		if (!map_id)
			return 0;
	}
	k = (struct key){KEY_LOCATION, map_id, f->address, map_id ? 0 : (uint64_t)pid + 1, 0};
	id = key_find(t, &k);
	if (id)
		return id;
	if (array_reserve(&t->locs, &t->cap_locs, t->nr_locs, sizeof(*t->locs), 16))
		return 0;
	loc = &t->locs[t->nr_locs];
	*loc = (pb_location)PERFTOOLS__PROFILES__LOCATION__INIT;
	if (add_lines(t, loc, frames, n))
		return 0;
	loc->id = t->nr_locs + 1;
	loc->mapping_id = map_id;
	loc->address = f->address;
	if (key_add(t, &k, loc->id))
		return 0;
	t->nr_locs++;
	return loc->id;
}

/* Its key (no mapping, address 0, c = pid + 1 = 0) is no real frame's: pids are positive. */
uint64_t pprof_tables__unknown_location(struct pprof_tables *t)
{
	static const struct sym_frame unknown = {.function = UNKNOWN_STACK};

	return pprof_tables__location(t, -1, &unknown, 1);
}

static int mapping_ptr_cmp(const void *pa, const void *pb)
{
	const pb_mapping *a = *(const pb_mapping *const *)pa, *b = *(const pb_mapping *const *)pb;

	if (a->memory_start != b->memory_start)
		return a->memory_start < b->memory_start ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

/*
 * Each Mapping says how far its locations were symbolized, so that pprof symbolizes only the
 * rest itself (from the binary, found by build-id or path). Inline expansion comes with line
 * numbers: both are DWARF's.
 */
static void set_mapping_flags(struct pprof_tables *t)
{
	for (size_t i = 0; i < t->nr_maps; i++) {
		t->maps[i].pb.has_functions = true;
		t->maps[i].pb.has_filenames = true;
		t->maps[i].pb.has_line_numbers = true;
	}
	for (size_t i = 0; i < t->nr_locs; i++) {
		const pb_location *loc = &t->locs[i];
		pb_mapping *m;

		if (!loc->mapping_id)
			continue;
		m = &t->maps[loc->mapping_id - 1].pb;
		if (!loc->n_line)
			m->has_functions = m->has_filenames = m->has_line_numbers = false;
		for (size_t j = 0; j < loc->n_line; j++) {
			if (!t->funcs[loc->line[j]->function_id - 1].filename)
				m->has_filenames = false;
			if (!loc->line[j]->line)
				m->has_line_numbers = false;
		}
	}
	for (size_t i = 0; i < t->nr_maps; i++)
		t->maps[i].pb.has_inline_frames = t->maps[i].pb.has_line_numbers;
}

int pprof_tables__fill(struct pprof_tables *t, pb_profile *p)
{
	set_mapping_flags(t);
	p->n_mapping = t->nr_maps;
	p->mapping =
	    (pb_mapping **)pprof_tables__pointers(t, t->maps, t->nr_maps, sizeof(*t->maps));
	p->n_location = t->nr_locs;
	p->location =
	    (pb_location **)pprof_tables__pointers(t, t->locs, t->nr_locs, sizeof(*t->locs));
	p->n_function = t->nr_funcs;
	p->function =
	    (pb_function **)pprof_tables__pointers(t, t->funcs, t->nr_funcs, sizeof(*t->funcs));
	if (!p->mapping || !p->location || !p->function)
		return -ENOMEM;
	/* pprof takes the first mapping for the main binary, which lies lowest in a process. */
	qsort(p->mapping, p->n_mapping, sizeof(*p->mapping), mapping_ptr_cmp);
	p->n_string_table = t->nr_strs;
	p->string_table = t->strs;
	return 0;
}
