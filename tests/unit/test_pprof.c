/* test_pprof.c: the pprof writer, read back through gunzip and protobuf-c's own decoder. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "proc/elf_file.h"
#include "output/output.h"
#include "output/profile_read.h"
#include "profile.pb-c.h"
#include "fixtures/fixture_path.h"
#include "elfsrc/fx_lines.h"

typedef Perftools__Profiles__Profile pb_profile;
typedef Perftools__Profiles__Sample pb_sample;
typedef Perftools__Profiles__Mapping pb_mapping;
typedef Perftools__Profiles__Location pb_location;
typedef Perftools__Profiles__Function pb_function;

enum { ALLOC_OBJECTS, ALLOC_SPACE, INUSE_OBJECTS, INUSE_SPACE };

/* ---- reading a profile back */

/* What out_pprof_write() wrote, gunzipped: checks the gzip wrapper on the way. */
static uint8_t *gunzip(const uint8_t *gz, size_t len, size_t *out_len)
{
	z_stream zs = { 0 };
	size_t cap = 4096, n = 0;
	uint8_t *out = malloc(cap);
	int ret;

	assert_non_null(out);
	assert_true(len >= 18);
	/* gzip magic, deflate: what pprof and every consumer look for */
	assert_int_equal(gz[0], 0x1f);
	assert_int_equal(gz[1], 0x8b);
	assert_int_equal(gz[2], 8);
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = (Bytef *)gz;
	zs.avail_in = (uInt)len;
	do {
		if (n == cap) {
			cap *= 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		zs.next_out = out + n;
		zs.avail_out = (uInt)(cap - n);
		ret = inflate(&zs, Z_NO_FLUSH);
		assert_true(ret == Z_OK || ret == Z_STREAM_END);
		n = cap - zs.avail_out;
	} while (ret != Z_STREAM_END);
	/* one gzip member and nothing after it */
	assert_int_equal(zs.avail_in, 0);
	inflateEnd(&zs);
	*out_len = n;
	return out;
}

static pb_profile *decode(const struct report *r)
{
	char *gz = NULL;
	size_t gz_len = 0, len;
	FILE *f = open_memstream(&gz, &gz_len);
	uint8_t *raw;
	pb_profile *p;

	assert_non_null(f);
	assert_int_equal(out_pprof_write(r, f), 0);
	assert_int_equal(fclose(f), 0);
	raw = gunzip((const uint8_t *)gz, gz_len, &len);
	p = perftools__profiles__profile__unpack(NULL, len, raw);
	assert_non_null(p);
	free(raw);
	free(gz);
	return p;
}

static const char *str(const pb_profile *p, int64_t ix)
{
	assert_true(ix >= 0 && (size_t)ix < p->n_string_table);
	return p->string_table[ix];
}

static const pb_location *location(const pb_profile *p, uint64_t id)
{
	size_t i;

	for (i = 0; i < p->n_location; i++) {
		if (p->location[i]->id == id)
			return p->location[i];
	}
	fail_msg("no location %" PRIu64, id);
	return NULL;
}

static const pb_function *function(const pb_profile *p, uint64_t id)
{
	size_t i;

	for (i = 0; i < p->n_function; i++) {
		if (p->function[i]->id == id)
			return p->function[i];
	}
	fail_msg("no function %" PRIu64, id);
	return NULL;
}

static const pb_mapping *mapping(const pb_profile *p, uint64_t id)
{
	size_t i;

	for (i = 0; i < p->n_mapping; i++) {
		if (p->mapping[i]->id == id)
			return p->mapping[i];
	}
	fail_msg("no mapping %" PRIu64, id);
	return NULL;
}

/* Line i of a location: "function file:line". */
static void assert_line(const pb_profile *p, const pb_location *loc, size_t i, const char *fn,
			const char *file, int64_t line)
{
	const pb_function *f;

	assert_true(i < loc->n_line);
	f = function(p, loc->line[i]->function_id);
	assert_string_equal(str(p, f->name), fn);
	assert_string_equal(str(p, f->system_name), fn);
	assert_string_equal(str(p, f->filename), file ? file : "");
	assert_int_equal(loc->line[i]->line, line);
}

static bool has_comment(const pb_profile *p, const char *text)
{
	size_t i;

	for (i = 0; i < p->n_comment; i++) {
		if (!strcmp(str(p, p->comment[i]), text))
			return true;
	}
	return false;
}

/* ---- hand-built reports */

static const int two_pids[] = { 1234, 5678 };

/* helper inlined into leak_small (one address), a caller, a symbol-less frame, an unmapped one */
static const struct sym_frame frames_a[] = {
	{ 0x55d1c0a01234, "helper", 5, "/abs/path/basic", 0x1234, "util.h", 3, true },
	{ 0x55d1c0a01234, "leak_small", 23, "/abs/path/basic", 0x1234, "basic.c", 14, false },
	{ 0x55d1c0a01300, "main", 40, "/abs/path/basic", 0x1300, "basic.c", 30, false },
	{ 0x7f0000001234, NULL, 0, "/usr/lib/libfoo.so", 0x1234, NULL, 0, false },
	{ 0xdeadbeef, NULL, 0, NULL, 0, NULL, 0, false },
};

/* Shares main's return address with frames_a; leak_small again, but another file's. */
static const struct sym_frame frames_b[] = {
	{ 0x55d1c0a01400, "leak_small", 9, "/abs/path/basic", 0x1400, "other.c", 7, false },
	{ 0x55d1c0a01300, "main", 40, "/abs/path/basic", 0x1300, "basic.c", 30, false },
};

struct fixture {
	struct snapshot snap;
	struct stack_record recs[3];
	struct report_stack stacks[3];
	struct report r;
};

static struct fixture fx;

/* Three stacks shown of 5: two symbolized, one whose stack was lost. */
static struct report *fixture(void)
{
	memset(&fx, 0, sizeof(fx));
	fx.snap.stats[LT_STAT_DROPPED_ALLOCS] = 3;
	fx.snap.stats[LT_STAT_ALLOCS] = 99;
	fx.recs[0] = (struct stack_record){ .stack_id = 11,
					    .pid = 1234,
					    .outstanding_bytes = 1048576,
					    .outstanding_allocs = 2,
					    .allocs = 4,
					    .alloc_bytes = 2097152 };
	fx.recs[1] = (struct stack_record){ .stack_id = 12,
					    .pid = 5678,
					    .outstanding_bytes = 4000,
					    .outstanding_allocs = 40,
					    .allocs = 100,
					    .alloc_bytes = 10000 };
	fx.recs[2] = (struct stack_record){ .stack_id = 0,
					    .pid = 1234,
					    .outstanding_bytes = 100,
					    .outstanding_allocs = 1,
					    .allocs = 5,
					    .alloc_bytes = 500 };
	fx.stacks[0] = (struct report_stack){ .rec = &fx.recs[0], .frames = frames_a,
					      .nr_frames = 5 };
	fx.stacks[1] = (struct report_stack){ .rec = &fx.recs[1], .frames = frames_b,
					      .nr_frames = 2 };
	fx.stacks[2] = (struct report_stack){ .rec = &fx.recs[2], .frames = NULL, .nr_frames = 0 };
	fx.r = (struct report){ .version = "1.2.3",
				.pids = two_pids,
				.nr_pids = 2,
				.duration_s = 5.02,
				.start_time_ns = 1700000000123456789ull,
				.snap = &fx.snap,
				.stacks = fx.stacks,
				.nr_stacks = 3,
				.nr_stacks_total = 5 };
	return &fx.r;
}

static void test_header(void **state)
{
	static const char *const types[][2] = {
		{ "alloc_objects", "count" },
		{ "alloc_space", "bytes" },
		{ "inuse_objects", "count" },
		{ "inuse_space", "bytes" },
	};
	struct report *r = fixture();
	pb_profile *p = decode(r);
	size_t i, j;

	assert_true(p->n_string_table > 0);
	assert_string_equal(p->string_table[0], "");
	/* a string table without repeats */
	for (i = 0; i < p->n_string_table; i++) {
		for (j = i + 1; j < p->n_string_table; j++)
			assert_string_not_equal(p->string_table[i], p->string_table[j]);
	}
	assert_int_equal(p->n_sample_type, 4);
	for (i = 0; i < 4; i++) {
		assert_string_equal(str(p, p->sample_type[i]->type), types[i][0]);
		assert_string_equal(str(p, p->sample_type[i]->unit), types[i][1]);
	}
	assert_string_equal(str(p, p->default_sample_type), "inuse_space");
	assert_non_null(p->period_type);
	assert_string_equal(str(p, p->period_type->type), "space");
	assert_string_equal(str(p, p->period_type->unit), "bytes");
	assert_int_equal(p->period, 1);
	assert_int_equal(p->time_nanos, 1700000000123456789ll);
	assert_int_equal(p->duration_nanos, 5020000000ll);
	assert_int_equal(p->drop_frames, 0);
	assert_int_equal(p->keep_frames, 0);
	/* what the samples cannot say: the tool, the cut, the losses (not the events) */
	assert_true(has_comment(p, "leaktop 1.2.3"));
	assert_true(has_comment(p, "stacks: 3 of 5 (the rest cut by --top)"));
	assert_true(has_comment(p, "dropped_allocs: 3"));
	assert_true(has_comment(p, "totals: outstanding_bytes 0, outstanding_allocs 0, allocs 0, "
				   "frees 0, alloc_bytes 0"));
	assert_int_equal(p->n_comment, 4);
	perftools__profiles__profile__free_unpacked(p, NULL);

	/* sampling: values stay as they are, the period says the rate */
	r->sample_rate_bytes = 524288;
	r->nr_stacks_total = 3;
	r->duration_s = NAN;
	p = decode(r);
	assert_int_equal(p->period, 524288);
	assert_int_equal(p->duration_nanos, 0);
	assert_false(has_comment(p, "stacks: 3 of 3 (the rest cut by --top)"));
	assert_int_equal(p->sample[0]->value[INUSE_SPACE], 1048576);
	perftools__profiles__profile__free_unpacked(p, NULL);
}

static void test_samples(void **state)
{
	pb_profile *p = decode(fixture());
	static const int64_t want[3][4] = {
		{ 4, 2097152, 2, 1048576 },
		{ 100, 10000, 40, 4000 },
		{ 5, 500, 1, 100 },
	};
	const pb_sample *s;
	size_t i, j;

	assert_int_equal(p->n_sample, 3);
	for (i = 0; i < 3; i++) {
		s = p->sample[i];
		assert_int_equal(s->n_value, 4);
		for (j = 0; j < 4; j++)
			assert_int_equal(s->value[j], want[i][j]);
		assert_int_equal(s->n_label, 2);
		assert_string_equal(str(p, s->label[0]->key), "pid");
		assert_int_equal(s->label[0]->str, 0);
		assert_int_equal(s->label[0]->num, fx.recs[i].pid);
		assert_string_equal(str(p, s->label[1]->key), "kind");
		assert_string_equal(str(p, s->label[1]->str), "heap");
	}
	/* one location per address: the inlined helper and leak_small share one */
	assert_int_equal(p->sample[0]->n_location_id, 4);
	assert_int_equal(p->sample[1]->n_location_id, 2);
	/* main's return address is one location in both stacks */
	assert_int_equal(p->sample[0]->location_id[1], p->sample[1]->location_id[1]);
	/* a lost stack is one [unknown] frame, as in the folded format */
	assert_int_equal(p->sample[2]->n_location_id, 1);
	assert_line(p, location(p, p->sample[2]->location_id[0]), 0, "[unknown]", NULL, 0);
	assert_int_equal(location(p, p->sample[2]->location_id[0])->mapping_id, 0);
	/* 4 + 1 (leak_small in other.c) + 1 [unknown] */
	assert_int_equal(p->n_location, 6);
	perftools__profiles__profile__free_unpacked(p, NULL);
}

static void test_locations_and_functions(void **state)
{
	pb_profile *p = decode(fixture());
	const pb_sample *a, *b;
	const pb_location *l;
	const pb_mapping *m;
	size_t i;

	a = p->sample[0];
	b = p->sample[1];
	/* inlined frames: innermost first, the function they were inlined into last */
	l = location(p, a->location_id[0]);
	assert_int_equal(l->address, 0x55d1c0a01234);
	assert_int_equal(l->n_line, 2);
	assert_line(p, l, 0, "helper", "util.h", 3);
	assert_line(p, l, 1, "leak_small", "basic.c", 14);
	l = location(p, a->location_id[1]);
	assert_int_equal(l->address, 0x55d1c0a01300);
	assert_int_equal(l->n_line, 1);
	assert_line(p, l, 0, "main", "basic.c", 30);
	/* no symbol: no line, pprof shows the address; the mapping says so */
	l = location(p, a->location_id[2]);
	assert_int_equal(l->address, 0x7f0000001234);
	assert_int_equal(l->n_line, 0);
	m = mapping(p, l->mapping_id);
	assert_string_equal(str(p, m->filename), "/usr/lib/libfoo.so");
	assert_false(m->has_functions);
	/* outside every mapping */
	l = location(p, a->location_id[3]);
	assert_int_equal(l->address, 0xdeadbeef);
	assert_int_equal(l->mapping_id, 0);
	assert_int_equal(l->n_line, 0);
	/* functions by (name, file): leak_small of basic.c and of other.c are two */
	l = location(p, b->location_id[0]);
	assert_line(p, l, 0, "leak_small", "other.c", 7);
	assert_int_not_equal(l->line[0]->function_id,
			     location(p, a->location_id[0])->line[1]->function_id);
	/* helper, leak_small x2, main, [unknown] */
	assert_int_equal(p->n_function, 5);
	for (i = 0; i < p->n_function; i++)
		assert_int_equal(p->function[i]->start_line, 0);
	perftools__profiles__profile__free_unpacked(p, NULL);
}

/* Without the process's mappings, each is derived so that address - start is the file offset. */
static void test_derived_mappings(void **state)
{
	pb_profile *p = decode(fixture());
	const pb_location *l = location(p, p->sample[0]->location_id[0]);
	const pb_mapping *m = mapping(p, l->mapping_id);
	size_t i;

	assert_int_equal(p->n_mapping, 2);
	assert_string_equal(str(p, m->filename), "/abs/path/basic");
	assert_int_equal(m->memory_start, 0x55d1c0a00000);
	assert_int_equal(m->file_offset, 0);
	/* covers every address seen in it: 0x...1400 is the highest */
	assert_int_equal(m->memory_limit, 0x55d1c0a01401);
	assert_string_equal(str(p, m->build_id), "");
	assert_true(m->has_functions);
	assert_true(m->has_filenames);
	assert_true(m->has_line_numbers);
	assert_true(m->has_inline_frames);
	for (i = 0; i < p->n_location; i++) {
		l = p->location[i];
		if (!l->mapping_id)
			continue;
		m = mapping(p, l->mapping_id);
		assert_true(l->address >= m->memory_start && l->address < m->memory_limit);
	}
	/* the main binary, lowest, first: pprof names the profile after it */
	assert_string_equal(str(p, p->mapping[0]->filename), "/abs/path/basic");
	perftools__profiles__profile__free_unpacked(p, NULL);
}

/* With the process's mappings: their ranges and build-ids, one per place a file is mapped. */
static void test_recorded_mappings(void **state)
{
	static const struct report_mapping maps[] = {
		{ 1234, { 0x55d1c0a01000, 0x55d1c0a02000, 0x1000, "/abs/path/basic", "0123abcd" } },
		{ 1234, { 0x7f0000001000, 0x7f0000009000, 0x1000, "/usr/lib/libfoo.so", NULL } },
		/* pid 5678 maps basic at the same place (a fork): the same Mapping */
		{ 5678, { 0x55d1c0a01000, 0x55d1c0a02000, 0x1000, "/abs/path/basic", "0123abcd" } },
	};
	struct report *r = fixture();
	const pb_location *l;
	const pb_mapping *m;
	pb_profile *p;

	r->mappings = maps;
	r->nr_mappings = 3;
	p = decode(r);
	assert_int_equal(p->n_mapping, 2);
	l = location(p, p->sample[0]->location_id[0]);
	m = mapping(p, l->mapping_id);
	assert_int_equal(m->memory_start, 0x55d1c0a01000);
	assert_int_equal(m->memory_limit, 0x55d1c0a02000);
	assert_int_equal(m->file_offset, 0x1000);
	assert_string_equal(str(p, m->build_id), "0123abcd");
	assert_int_equal(location(p, p->sample[1]->location_id[0])->mapping_id, m->id);
	m = mapping(p, location(p, p->sample[0]->location_id[2])->mapping_id);
	assert_int_equal(m->memory_start, 0x7f0000001000);
	assert_int_equal(m->memory_limit, 0x7f0000009000);
	assert_string_equal(str(p, m->build_id), "");
	assert_int_equal(p->mapping[0]->memory_start, 0x55d1c0a01000);
	assert_int_equal(p->mapping[1]->memory_start, 0x7f0000001000);
	perftools__profiles__profile__free_unpacked(p, NULL);
}

static void test_empty_and_errors(void **state)
{
	struct report r = { .version = "9" };
	FILE *ro;
	pb_profile *p;

	/* nothing traced still makes a valid profile */
	p = decode(&r);
	assert_int_equal(p->n_sample, 0);
	assert_int_equal(p->n_sample_type, 4);
	assert_int_equal(p->time_nanos, 0);
	assert_true(has_comment(p, "leaktop 9"));
	perftools__profiles__profile__free_unpacked(p, NULL);

	ro = fopen("/dev/null", "r");
	assert_non_null(ro);
	assert_int_equal(out_pprof_write(fixture(), ro), -EIO);
	fclose(ro);
}

/* ---- end to end: a real ELF file through the symbolizer and report_build */

#define FAKE_PID 90002
#define BASE	 0x555555554000ULL
#define MAP_LEN	 0x100000ULL

struct find_ctx {
	const char *name;
	struct elf_sym sym;
	bool found;
};

static int find_cb(const struct elf_sym *sym, void *ctx)
{
	struct find_ctx *c = ctx;

	if (strcmp(sym->name, c->name))
		return 0;
	c->sym = *sym;
	c->found = true;
	return 1;
}

static struct elf_sym func(struct elf_file *ef, const char *name)
{
	struct find_ctx c = { .name = name };

	elf_file__for_each_func(ef, find_cb, &c);
	if (!c.found)
		fail_msg("no function %s", name);
	return c.sym;
}

/* The file offset of the return address of caller's direct call to callee. */
static uint64_t call_return(struct elf_file *ef, const char *caller, const char *callee)
{
	struct elf_sym c = func(ef, caller), t = func(ef, callee);
	const uint8_t *code = elf_file__code(ef, c.vaddr, c.size);
	uint64_t off;
	int32_t rel;
	size_t i;

	assert_non_null(code);
	for (i = 0; i + 5 <= c.size; i++) {
		if (code[i] != 0xe8)
			continue;
		memcpy(&rel, code + i + 1, sizeof(rel));
		if (c.vaddr + i + 5 + (uint64_t)(int64_t)rel != t.vaddr)
			continue;
		assert_int_equal(elf_file__vaddr_to_offset(ef, c.vaddr + i + 5, &off), 0);
		return off;
	}
	fail_msg("no call from %s to %s", caller, callee);
	return 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* ---- read back: what `leaktop report` takes from a profile */

static void assert_frame(const struct sym_frame *f, const struct sym_frame *want)
{
	assert_int_equal(f->address, want->address);
	if (want->function)
		assert_string_equal(f->function, want->function);
	else
		assert_null(f->function);
	if (want->file)
		assert_string_equal(f->file, want->file);
	else
		assert_null(f->file);
	assert_int_equal(f->line, want->line);
	assert_int_equal(f->inlined, want->inlined);
	if (want->module) {
		assert_string_equal(f->module, want->module);
		assert_int_equal(f->module_offset, want->module_offset);
	}
}

static void test_read_back(void **state)
{
	char path[] = "/tmp/leaktop-test-XXXXXX", err[256];
	struct report *r = fixture();
	struct profile *p;
	FILE *f;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	fx.snap.totals = (struct snapshot_totals){ 1052676, 43, 120, 77, 2108152 };
	fx.snap.stats[LT_STAT_LOST_STACKS] = 9;
	f = fdopen(fd, "w");
	assert_int_equal(out_pprof_write(r, f), 0);
	assert_int_equal(fclose(f), 0);
	p = profile_read(path, err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(p->start_time_ns, 1700000000123456789ull);
	assert_int_equal(p->taken_ns, 1700000000123456789ull + 5020000000ull);
	assert_true(p->duration_s == 5.02);
	assert_int_equal(p->totals.outstanding_bytes, 1052676);
	assert_int_equal(p->totals.frees, 77);
	assert_int_equal(p->totals.alloc_bytes, 2108152);
	assert_int_equal(p->stats[LT_STAT_DROPPED_ALLOCS], 3);
	assert_int_equal(p->stats[LT_STAT_LOST_STACKS], 9);
	assert_int_equal(p->stats[LT_STAT_MISSED_RETURNS], 0);
	assert_int_equal(p->nr_stacks, 3);
	/* every figure and frame as written; the function offsets alone are not in a profile */
	assert_int_equal(p->stacks[0].rec.pid, 1234);
	assert_int_equal(p->stacks[0].rec.outstanding_bytes, 1048576);
	assert_int_equal(p->stacks[0].rec.outstanding_allocs, 2);
	assert_int_equal(p->stacks[0].rec.allocs, 4);
	assert_int_equal(p->stacks[0].rec.alloc_bytes, 2097152);
	assert_int_equal(p->stacks[0].nr_frames, 5);
	for (size_t i = 0; i < 5; i++)
		assert_frame(&p->stacks[0].frames[i], &frames_a[i]);
	assert_int_equal(p->stacks[1].rec.pid, 5678);
	assert_int_equal(p->stacks[1].nr_frames, 2);
	assert_frame(&p->stacks[1].frames[0], &frames_b[0]);
	/* the same addresses in another process are another stack; the unknown stack is 0 */
	assert_int_not_equal(p->stacks[0].rec.stack_id, 0);
	assert_int_not_equal(p->stacks[0].rec.stack_id, p->stacks[1].rec.stack_id);
	assert_int_equal(p->stacks[2].rec.stack_id, 0);
	assert_int_equal(p->stacks[2].nr_frames, 0);
	assert_int_equal(p->stacks[2].rec.outstanding_bytes, 100);
	profile_free(p);

	/* not a profile: a clear reason, EINVAL */
	f = fopen(path, "w");
	fputs("leaktop", f);
	fclose(f);
	assert_null(profile_read(path, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, ": not a profile"));
	unlink(path);
	assert_null(profile_read(path, err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "No such file or directory"));
}

static void test_symbolized_fixture(void **state)
{
	char *path = fixture_path("prog"), hex[128];
	struct elf_file *ef = elf_file__open(path);
	struct symbolizer *sym = symbolizer__new(NULL);
	uint64_t ips[2];
	struct stack_record rec = { .stack_id = 1, .pid = FAKE_PID, .outstanding_bytes = 4096,
				    .outstanding_allocs = 1, .allocs = 3, .alloc_bytes = 12288,
				    .ips = ips };
	struct snapshot snap = { .stacks = &rec, .nr_stacks = 1, .duration_s = 2 };
	const uint8_t *id;
	size_t id_len, i;
	struct report r;
	const pb_location *l;
	const pb_mapping *m;
	pb_profile *p;

	assert_non_null(ef);
	assert_non_null(sym);
	id_len = elf_file__build_id(ef, &id);
	assert_true(id_len > 0 && id_len * 2 < sizeof(hex));
	for (i = 0; i < id_len; i++)
		sprintf(hex + 2 * i, "%02x", id[i]);
	assert_int_equal(symbolizer__add_mapping(sym, FAKE_PID, BASE, BASE + MAP_LEN, 0, path), 0);
	/* fx_inl_deep and fx_inl_mid inlined into fx_deep_caller; then fx_outer */
	ips[0] = BASE + call_return(ef, "fx_deep_caller", "fx_sink");
	ips[1] = BASE + call_return(ef, "fx_outer", "fx_sink");
	rec.nr_ips = 2;

	assert_int_equal(report_build(&r, &snap, sym, 0, NULL), 0);
	r.version = "t";
	r.pids = &rec.pid;
	r.nr_pids = 1;
	r.sample_rate_bytes = 0;
	r.start_time_ns = 0;
	assert_int_equal(r.nr_mappings, 1);
	assert_string_equal(r.mappings[0].map.build_id, hex);
	p = decode(&r);

	assert_int_equal(p->n_sample, 1);
	assert_int_equal(p->sample[0]->value[ALLOC_OBJECTS], 3);
	assert_int_equal(p->sample[0]->value[ALLOC_SPACE], 12288);
	assert_int_equal(p->sample[0]->value[INUSE_OBJECTS], 1);
	assert_int_equal(p->sample[0]->value[INUSE_SPACE], 4096);
	assert_int_equal(p->sample[0]->n_location_id, 2);
	l = location(p, p->sample[0]->location_id[0]);
	assert_int_equal(l->address, rec.ips[0]);
	assert_int_equal(l->n_line, 3);
	assert_string_equal(str(p, function(p, l->line[0]->function_id)->name), "fx_inl_deep");
	assert_string_equal(base_name(str(p, function(p, l->line[0]->function_id)->filename)),
			    "prog.c");
	assert_int_equal(l->line[0]->line, FX_LINE_DEEP_CALL);
	assert_string_equal(str(p, function(p, l->line[1]->function_id)->name), "fx_inl_mid");
	assert_int_equal(l->line[1]->line, FX_LINE_MID_SITE);
	assert_string_equal(str(p, function(p, l->line[2]->function_id)->name), "fx_deep_caller");
	assert_int_equal(l->line[2]->line, FX_LINE_DEEP_SITE);
	l = location(p, p->sample[0]->location_id[1]);
	assert_int_equal(l->n_line, 1);
	assert_string_equal(str(p, function(p, l->line[0]->function_id)->name), "fx_outer");
	assert_int_equal(l->line[0]->line, FX_LINE_OUTER_CALL);

	assert_int_equal(p->n_mapping, 1);
	m = p->mapping[0];
	assert_int_equal(l->mapping_id, m->id);
	assert_string_equal(str(p, m->filename), path);
	assert_string_equal(str(p, m->build_id), hex);
	assert_int_equal(m->memory_start, BASE);
	assert_int_equal(m->memory_limit, BASE + MAP_LEN);
	assert_int_equal(m->file_offset, 0);
	assert_true(m->has_functions && m->has_filenames && m->has_line_numbers);
	assert_true(m->has_inline_frames);
	assert_int_equal(p->duration_nanos, 2000000000ll);

	perftools__profiles__profile__free_unpacked(p, NULL);
	report_fini(&r);
	assert_null(r.mappings);
	symbolizer__free(sym);
	elf_file__free(ef);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_locations_and_functions),
		cmocka_unit_test(test_derived_mappings),
		cmocka_unit_test(test_recorded_mappings),
		cmocka_unit_test(test_empty_and_errors),
		cmocka_unit_test(test_symbolized_fixture),
		cmocka_unit_test(test_read_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
