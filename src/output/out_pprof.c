/* out_pprof.c: writes a report as a gzip'ed pprof profile (profile.proto) for pprof and its kin. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "output/output.h"
#include "profile.pb-c.h"

/* The generated names are long; these keep the code under 100 columns. */
typedef Perftools__Profiles__Profile pb_profile;
typedef Perftools__Profiles__ValueType pb_value_type;
typedef Perftools__Profiles__Sample pb_sample;
typedef Perftools__Profiles__Label pb_label;
typedef Perftools__Profiles__Mapping pb_mapping;
typedef Perftools__Profiles__Location pb_location;
typedef Perftools__Profiles__Line pb_line;
typedef Perftools__Profiles__Function pb_function;

/*
 * The value order of Go's heap profiles, alloc before inuse, so that pprof's -sample_index names
 * and the habits of its users carry over unchanged.
 */
static const char *const sample_types[][2] = {
	{ "alloc_objects", "count" },
	{ "alloc_space", "bytes" },
	{ "inuse_objects", "count" },
	{ "inuse_space", "bytes" },
};

#define NR_VALUES (sizeof(sample_types) / sizeof(sample_types[0]))
#define DEFAULT_SAMPLE_TYPE "inuse_space"
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

struct slot {
	struct key key;
	uint64_t id; /* 0: empty slot */
};

struct map_entry {
	pb_mapping pb;
	bool derived; /* no recorded range: memory_limit grows with the addresses seen */
};

struct builder {
	const struct report *r;
	char **strs; /* the string table; strs[0] is "" */
	size_t nr_strs, cap_strs;
	size_t *str_slots; /* open addressing: string index + 1, 0 = empty */
	size_t str_cap;
	struct slot *slots; /* open addressing over every struct key */
	size_t slot_cap, nr_slots;
	pb_function *funcs;
	size_t nr_funcs, cap_funcs;
	struct map_entry *maps;
	size_t nr_maps, cap_maps;
	pb_location *locs;
	size_t nr_locs, cap_locs;
	void **blocks; /* every other allocation, freed at the end */
	size_t nr_blocks, cap_blocks;
};

static uint64_t hash_mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdULL;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 0x100000001b3ULL;
	return h;
}

static int grow(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 16;
	void *n;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	n = realloc(*arr, ncap * size);
	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = ncap;
	return 0;
}

/* Zeroed memory that lives until builder_free(). */
static void *b_alloc(struct builder *b, size_t n, size_t size)
{
	void *p;

	if (grow((void **)&b->blocks, &b->cap_blocks, b->nr_blocks + 1, sizeof(*b->blocks)))
		return NULL;
	p = calloc(n ? n : 1, size);
	if (p)
		b->blocks[b->nr_blocks++] = p;
	return p;
}

static int str_rehash(struct builder *b)
{
	size_t ncap = b->str_cap ? b->str_cap * 2 : 256, i, h;
	size_t *slots = calloc(ncap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < b->nr_strs; i++) {
		h = hash_str(b->strs[i]) & (ncap - 1);
		while (slots[h])
			h = (h + 1) & (ncap - 1);
		slots[h] = i + 1;
	}
	free(b->str_slots);
	b->str_slots = slots;
	b->str_cap = ncap;
	return 0;
}

/* The string table index of s (NULL counts as ""), adding it when new; -ENOMEM when full. */
static int64_t str_index(struct builder *b, const char *s)
{
	size_t h;

	if (!s)
		s = "";
	if ((b->nr_strs + 1) * 2 > b->str_cap && str_rehash(b))
		return -ENOMEM;
	h = hash_str(s) & (b->str_cap - 1);
	while (b->str_slots[h]) {
		if (!strcmp(b->strs[b->str_slots[h] - 1], s))
			return (int64_t)b->str_slots[h] - 1;
		h = (h + 1) & (b->str_cap - 1);
	}
	if (grow((void **)&b->strs, &b->cap_strs, b->nr_strs + 1, sizeof(*b->strs)))
		return -ENOMEM;
	b->strs[b->nr_strs] = strdup(s);
	if (!b->strs[b->nr_strs])
		return -ENOMEM;
	b->str_slots[h] = ++b->nr_strs;
	return (int64_t)b->nr_strs - 1;
}

static uint64_t key_hash(const struct key *k)
{
	return hash_mix(hash_mix(hash_mix(hash_mix(hash_mix(0, k->kind), k->a), k->b), k->c), k->d);
}

static bool key_eq(const struct key *x, const struct key *y)
{
	return x->kind == y->kind && x->a == y->a && x->b == y->b && x->c == y->c && x->d == y->d;
}

static int slots_rehash(struct builder *b)
{
	size_t ncap = b->slot_cap ? b->slot_cap * 2 : 256, i, h;
	struct slot *slots = calloc(ncap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < b->slot_cap; i++) {
		if (!b->slots[i].id)
			continue;
		h = key_hash(&b->slots[i].key) & (ncap - 1);
		while (slots[h].id)
			h = (h + 1) & (ncap - 1);
		slots[h] = b->slots[i];
	}
	free(b->slots);
	b->slots = slots;
	b->slot_cap = ncap;
	return 0;
}

/* The slot of k: holding its id, or empty (id 0) for the caller to fill. NULL on no memory. */
static struct slot *slot_find(struct builder *b, const struct key *k)
{
	size_t h;

	if ((b->nr_slots + 1) * 2 > b->slot_cap && slots_rehash(b))
		return NULL;
	h = key_hash(k) & (b->slot_cap - 1);
	while (b->slots[h].id && !key_eq(&b->slots[h].key, k))
		h = (h + 1) & (b->slot_cap - 1);
	return &b->slots[h];
}

static void slot_fill(struct builder *b, struct slot *s, const struct key *k, uint64_t id)
{
	s->key = *k;
	s->id = id;
	b->nr_slots++;
}

/* The Function of (name, file): one per distinct pair, as pprof merges by them. 0 on no memory. */
static uint64_t function_id(struct builder *b, const char *name, const char *file)
{
	int64_t name_ix = str_index(b, name), file_ix = str_index(b, file);
	struct key k = { KEY_FUNCTION, (uint64_t)name_ix, (uint64_t)file_ix, 0, 0 };
	pb_function *f;
	struct slot *s;

	if (name_ix < 0 || file_ix < 0)
		return 0;
	s = slot_find(b, &k);
	if (!s)
		return 0;
	if (s->id)
		return s->id;
	if (grow((void **)&b->funcs, &b->cap_funcs, b->nr_funcs + 1, sizeof(*b->funcs)))
		return 0;
	f = &b->funcs[b->nr_funcs];
	*f = (pb_function)PERFTOOLS__PROFILES__FUNCTION__INIT;
	f->id = ++b->nr_funcs;
	f->name = name_ix;
	/* leaktop keeps only the demangled name; the mangled one is not carried in the report. */
	f->system_name = name_ix;
	f->filename = file_ix;
	slot_fill(b, s, &k, f->id);
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
static uint64_t mapping_id(struct builder *b, int pid, const struct sym_frame *f)
{
	const struct report_mapping *rm = find_mapping(b->r, pid, f->address, f->module);
	int64_t file_ix = str_index(b, f->module), build_ix;
	struct key k = { KEY_MAPPING, (uint64_t)file_ix, 0, 0, 0 };
	struct map_entry *e;
	struct slot *s;

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
	s = slot_find(b, &k);
	if (!s)
		return 0;
	if (s->id) {
		e = &b->maps[s->id - 1];
		if (e->derived && f->address >= e->pb.memory_limit)
			e->pb.memory_limit = f->address + 1;
		return s->id;
	}
	build_ix = str_index(b, rm ? rm->map.build_id : NULL);
	if (build_ix < 0 || grow((void **)&b->maps, &b->cap_maps, b->nr_maps + 1, sizeof(*b->maps)))
		return 0;
	e = &b->maps[b->nr_maps];
	e->pb = (pb_mapping)PERFTOOLS__PROFILES__MAPPING__INIT;
	e->pb.id = ++b->nr_maps;
	e->pb.memory_start = k.b;
	e->pb.memory_limit = rm ? rm->map.end : f->address + 1;
	e->pb.file_offset = rm ? rm->map.file_offset : 0;
	e->pb.filename = file_ix;
	e->pb.build_id = build_ix;
	e->derived = !rm;
	slot_fill(b, s, &k, e->pb.id);
	return e->pb.id;
}

/*
 * The Location of one return address: frames[0..n) are its inlined frames, innermost first, then
 * the real function; they become its Lines in that order, which is pprof's. A frame without a
 * function gives no Line (pprof shows the address). An address outside every mapping is keyed by
 * its pid too, since nothing says two processes meant the same code by it. 0 on no memory.
 */
static uint64_t location_id(struct builder *b, int pid, const struct sym_frame *frames, size_t n)
{
	const struct sym_frame *f = &frames[n - 1];
	uint64_t map_id = 0, fid;
	pb_location *loc;
	pb_line *lines;
	struct slot *s;
	struct key k;
	size_t i, nl = 0;

	if (f->module) {
		map_id = mapping_id(b, pid, f);
		if (!map_id)
			return 0;
	}
	k = (struct key){ KEY_LOCATION, map_id, f->address, map_id ? 0 : (uint64_t)pid + 1, 0 };
	s = slot_find(b, &k);
	if (!s)
		return 0;
	if (s->id)
		return s->id;
	for (i = 0; i < n; i++)
		nl += frames[i].function != NULL;
	lines = b_alloc(b, nl, sizeof(*lines));
	if (grow((void **)&b->locs, &b->cap_locs, b->nr_locs + 1, sizeof(*b->locs)) || !lines)
		return 0;
	loc = &b->locs[b->nr_locs];
	*loc = (pb_location)PERFTOOLS__PROFILES__LOCATION__INIT;
	loc->line = b_alloc(b, nl, sizeof(*loc->line));
	if (!loc->line)
		return 0;
	for (i = 0; i < n; i++) {
		if (!frames[i].function)
			continue;
		fid = function_id(b, frames[i].function, frames[i].file);
		if (!fid)
			return 0;
		lines[loc->n_line] = (pb_line)PERFTOOLS__PROFILES__LINE__INIT;
		lines[loc->n_line].function_id = fid;
		lines[loc->n_line].line = frames[i].line;
		loc->line[loc->n_line] = &lines[loc->n_line];
		loc->n_line++;
	}
	loc->id = ++b->nr_locs;
	loc->mapping_id = map_id;
	loc->address = f->address;
	/* function_id() may have moved the slots */
	s = slot_find(b, &k);
	if (!s)
		return 0;
	slot_fill(b, s, &k, loc->id);
	return loc->id;
}

/*
 * The one Location of every stack whose frames were lost, named as the folded format names it.
 * Its key (no mapping, address 0, c = pid + 1 = 0) is no real frame's: pids are positive.
 */
static uint64_t unknown_location(struct builder *b)
{
	static const struct sym_frame unknown = { .function = UNKNOWN_STACK };

	return location_id(b, -1, &unknown, 1);
}

static int add_sample(struct builder *b, const struct report_stack *rs, pb_sample *smp,
		      int64_t pid_key)
{
	const struct stack_record *rec = rs->rec;
	pb_label *label;
	uint64_t id;
	size_t i, j;

	*smp = (pb_sample)PERFTOOLS__PROFILES__SAMPLE__INIT;
	smp->location_id = b_alloc(b, rs->nr_frames, sizeof(*smp->location_id));
	smp->value = b_alloc(b, NR_VALUES, sizeof(*smp->value));
	smp->label = b_alloc(b, 1, sizeof(*smp->label));
	label = b_alloc(b, 1, sizeof(*label));
	if (!smp->location_id || !smp->value || !smp->label || !label)
		return -ENOMEM;
	/* A run of inlined frames and the frame they were inlined into share one address. */
	for (i = 0; i < rs->nr_frames; i = j) {
		for (j = i; j + 1 < rs->nr_frames && rs->frames[j].inlined &&
			    rs->frames[j + 1].address == rs->frames[i].address;
		     j++)
			;
		j++;
		id = location_id(b, rec->pid, &rs->frames[i], j - i);
		if (!id)
			return -ENOMEM;
		smp->location_id[smp->n_location_id++] = id;
	}
	if (!rs->nr_frames) {
		smp->location_id[0] = unknown_location(b);
		if (!smp->location_id[smp->n_location_id++])
			return -ENOMEM;
	}
	/* Estimates already when sampling, as the JSON's: pprof shows values as they are. */
	smp->value[0] = (int64_t)rec->allocs;
	smp->value[1] = (int64_t)rec->alloc_bytes;
	smp->value[2] = rec->outstanding_allocs;
	smp->value[3] = rec->outstanding_bytes;
	smp->n_value = NR_VALUES;
	*label = (pb_label)PERFTOOLS__PROFILES__LABEL__INIT;
	label->key = pid_key;
	label->num = rec->pid;
	smp->label[0] = label;
	smp->n_label = 1;
	return 0;
}

/* A note for `pprof -comments`; -ENOMEM or 0. */
static int add_comment(struct builder *b, pb_profile *p, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int add_comment(struct builder *b, pb_profile *p, size_t cap, const char *fmt, ...)
{
	char *text = NULL;
	int64_t ix;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	ix = str_index(b, text);
	free(text);
	if (ix < 0 || p->n_comment >= cap)
		return -ENOMEM;
	p->comment[p->n_comment++] = ix;
	return 0;
}

/* Says what the samples do not: what wrote them, what --top left out, and every loss. */
static int add_comments(struct builder *b, pb_profile *p)
{
	const struct report *r = b->r;
	size_t cap = 2 + LT_STAT_MAX;
	int s, err;

	p->comment = b_alloc(b, cap, sizeof(*p->comment));
	if (!p->comment)
		return -ENOMEM;
	err = add_comment(b, p, cap, "leaktop %s", r->version ? r->version : "");
	if (!err && r->nr_stacks < r->nr_stacks_total)
		err = add_comment(b, p, cap, "stacks: %zu of %zu (the rest cut by --top)",
				  r->nr_stacks, r->nr_stacks_total);
	for (s = 0; !err && r->snap && s < LT_STAT_MAX; s++) {
		if (s == LT_STAT_ALLOCS || s == LT_STAT_FREES || !r->snap->stats[s])
			continue;
		err = add_comment(b, p, cap, "%s: %" PRIu64, snapshot_stat_name((enum lt_stat)s),
				  r->snap->stats[s]);
	}
	return err;
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
static void set_mapping_flags(struct builder *b)
{
	size_t i, j;

	for (i = 0; i < b->nr_maps; i++) {
		b->maps[i].pb.has_functions = true;
		b->maps[i].pb.has_filenames = true;
		b->maps[i].pb.has_line_numbers = true;
	}
	for (i = 0; i < b->nr_locs; i++) {
		const pb_location *loc = &b->locs[i];
		pb_mapping *m;

		if (!loc->mapping_id)
			continue;
		m = &b->maps[loc->mapping_id - 1].pb;
		if (!loc->n_line)
			m->has_functions = m->has_filenames = m->has_line_numbers = false;
		for (j = 0; j < loc->n_line; j++) {
			if (!b->funcs[loc->line[j]->function_id - 1].filename)
				m->has_filenames = false;
			if (!loc->line[j]->line)
				m->has_line_numbers = false;
		}
	}
	for (i = 0; i < b->nr_maps; i++)
		b->maps[i].pb.has_inline_frames = b->maps[i].pb.has_line_numbers;
}

/* Pointers to the elements of an array, as protobuf-c's repeated message fields want them. */
static void **pointers(struct builder *b, void *arr, size_t n, size_t size)
{
	void **ptrs = b_alloc(b, n, sizeof(*ptrs));
	size_t i;

	for (i = 0; ptrs && i < n; i++)
		ptrs[i] = (char *)arr + i * size;
	return ptrs;
}

static int build_profile(struct builder *b, pb_profile *p)
{
	const struct report *r = b->r;
	pb_value_type *types, *period_type;
	pb_sample *samples;
	int64_t pid_key, default_ix;
	size_t i;
	int err;

	*p = (pb_profile)PERFTOOLS__PROFILES__PROFILE__INIT;
	if (str_index(b, "") != 0)
		return -ENOMEM;
	types = b_alloc(b, NR_VALUES, sizeof(*types));
	period_type = b_alloc(b, 1, sizeof(*period_type));
	samples = b_alloc(b, r->nr_stacks, sizeof(*samples));
	if (!types || !period_type || !samples)
		return -ENOMEM;
	for (i = 0; i < NR_VALUES; i++) {
		types[i] = (pb_value_type)PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
		types[i].type = str_index(b, sample_types[i][0]);
		types[i].unit = str_index(b, sample_types[i][1]);
		if (types[i].type < 0 || types[i].unit < 0)
			return -ENOMEM;
	}
	*period_type = (pb_value_type)PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	period_type->type = str_index(b, "space");
	period_type->unit = str_index(b, "bytes");
	pid_key = str_index(b, "pid");
	default_ix = str_index(b, DEFAULT_SAMPLE_TYPE);
	if (period_type->type < 0 || period_type->unit < 0 || pid_key < 0 || default_ix < 0)
		return -ENOMEM;

	for (i = 0; i < r->nr_stacks; i++) {
		err = add_sample(b, &r->stacks[i], &samples[i], pid_key);
		if (err)
			return err;
	}
	err = add_comments(b, p);
	if (err)
		return err;
	set_mapping_flags(b);

	p->n_sample_type = NR_VALUES;
	p->sample_type = (pb_value_type **)pointers(b, types, NR_VALUES, sizeof(*types));
	p->n_sample = r->nr_stacks;
	p->sample = (pb_sample **)pointers(b, samples, r->nr_stacks, sizeof(*samples));
	p->n_mapping = b->nr_maps;
	p->mapping = (pb_mapping **)pointers(b, b->maps, b->nr_maps, sizeof(*b->maps));
	p->n_location = b->nr_locs;
	p->location = (pb_location **)pointers(b, b->locs, b->nr_locs, sizeof(*b->locs));
	p->n_function = b->nr_funcs;
	p->function = (pb_function **)pointers(b, b->funcs, b->nr_funcs, sizeof(*b->funcs));
	if (!p->sample_type || !p->sample || !p->mapping || !p->location || !p->function)
		return -ENOMEM;
	/* pprof takes the first mapping for the main binary, which lies lowest in a process. */
	qsort(p->mapping, p->n_mapping, sizeof(*p->mapping), mapping_ptr_cmp);
	p->n_string_table = b->nr_strs;
	p->string_table = b->strs;
	p->period_type = period_type;
	p->period = r->sample_rate_bytes ? (int64_t)r->sample_rate_bytes : 1;
	p->default_sample_type = default_ix;
	p->time_nanos = (int64_t)r->start_time_ns;
	if (isfinite(r->duration_s) && r->duration_s > 0)
		p->duration_nanos = (int64_t)(r->duration_s * 1e9 + 0.5);
	return 0;
}

static void builder_free(struct builder *b)
{
	size_t i;

	for (i = 0; i < b->nr_strs; i++)
		free(b->strs[i]);
	free(b->strs);
	free(b->str_slots);
	free(b->slots);
	free(b->funcs);
	free(b->maps);
	free(b->locs);
	for (i = 0; i < b->nr_blocks; i++)
		free(b->blocks[i]);
	free(b->blocks);
}

/* gzip (deflate with the gzip wrapper: windowBits 15 + 16), as pprof files are stored. */
static int write_gzip(const uint8_t *buf, size_t len, FILE *out)
{
	enum { CHUNK = 64 * 1024 };
	z_stream zs = { 0 };
	uint8_t *chunk = malloc(CHUNK);
	int zret = Z_OK, err = 0;
	size_t have;

	if (!chunk)
		return -ENOMEM;
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY)) {
		free(chunk);
		return -ENOMEM;
	}
	zs.next_in = (Bytef *)buf;
	while (zret != Z_STREAM_END) {
		/* avail_in is a uInt: a profile over 4 GiB goes in in pieces. */
		if (!zs.avail_in && len) {
			zs.avail_in = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
			len -= zs.avail_in;
		}
		zs.next_out = chunk;
		zs.avail_out = CHUNK;
		zret = deflate(&zs, len || zs.avail_in ? Z_NO_FLUSH : Z_FINISH);
		if (zret == Z_STREAM_ERROR) {
			err = -EIO;
			break;
		}
		have = CHUNK - zs.avail_out;
		if (have && fwrite(chunk, 1, have, out) != have) {
			err = -EIO;
			break;
		}
	}
	deflateEnd(&zs);
	free(chunk);
	return err;
}

int out_pprof_write(const struct report *r, FILE *out)
{
	struct builder b = { .r = r };
	pb_profile profile;
	uint8_t *buf = NULL;
	size_t len;
	int err;

	err = build_profile(&b, &profile);
	if (!err) {
		len = perftools__profiles__profile__get_packed_size(&profile);
		buf = malloc(len ? len : 1);
		if (!buf)
			err = -ENOMEM;
	}
	if (!err) {
		perftools__profiles__profile__pack(&profile, buf);
		err = write_gzip(buf, len, out);
	}
	free(buf);
	builder_free(&b);
	if (err)
		return err;
	if (fflush(out) || ferror(out))
		return -EIO;
	return 0;
}
