/* profile_read.c: reads back the gzip'ed pprof profiles leaktop writes (record, -f pprof). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/hashtab.h"
#include "output/profile_read.h"
#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile pb_profile;
typedef Perftools__Profiles__Location pb_location;

/* Larger files are refused: leaktop's profiles hold at most a few MiB. */
#define MAX_PROFILE_BYTES (1024ull << 20)
#define UNKNOWN_STACK	  "[unknown]" /* pprof_tables.c's name for a stack not captured */

struct owned {
	pb_profile *pb;
	struct sym_frame *frames;
};

static void say(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !err_len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

/* The whole file, malloc'ed. 0 or -errno. */
static int read_all(const char *path, uint8_t **out, size_t *len_out)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, *nb;
	size_t len = 0, cap = 0, n;
	int err = 0;

	if (!f)
		return -errno;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 64 * 1024;
			if (cap > MAX_PROFILE_BYTES + 1 || !(nb = realloc(buf, cap))) {
				err = cap > MAX_PROFILE_BYTES + 1 ? -EFBIG : -ENOMEM;
				break;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f))
				err = -EIO;
			break;
		}
	}
	fclose(f);
	if (err) {
		free(buf);
		return err;
	}
	*out = buf;
	*len_out = len;
	return 0;
}

/* gunzip; -EINVAL when the data is no whole gzip stream. */
static int gunzip(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	z_stream zs = {0};
	uint8_t *buf = NULL, *nb;
	size_t cap = 0, len = 0;
	int zret = Z_OK;

	if (in_len > UINT32_MAX || inflateInit2(&zs, 15 + 16) != Z_OK)
		return -EINVAL;
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)in_len;
	while (zret == Z_OK) {
		if (len == cap) {
			cap = cap ? cap * 2 : in_len * 4 + 4096;
			if (cap > MAX_PROFILE_BYTES || !(nb = realloc(buf, cap))) {
				zret = Z_MEM_ERROR;
				break;
			}
			buf = nb;
		}
		zs.next_out = buf + len;
		zs.avail_out = (uInt)(cap - len > UINT32_MAX ? UINT32_MAX : cap - len);
		zret = inflate(&zs, Z_NO_FLUSH);
		len = (size_t)(zs.next_out - buf);
		if (zret == Z_BUF_ERROR && zs.avail_out)
			break; /* the input ended before the stream did */
		if (zret == Z_BUF_ERROR)
			zret = Z_OK;
	}
	inflateEnd(&zs);
	if (zret != Z_STREAM_END) {
		free(buf);
		return zret == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

static const char *str_at(const pb_profile *pb, int64_t ix)
{
	return ix > 0 && (uint64_t)ix < pb->n_string_table ? pb->string_table[ix] : NULL;
}

/* The index of the sample type named `type`, or -1. */
static int value_index(const pb_profile *pb, const char *type)
{
	for (size_t i = 0; i < pb->n_sample_type; i++) {
		const char *t = str_at(pb, pb->sample_type[i]->type);

		if (t && !strcmp(t, type))
			return (int)i;
	}
	return -1;
}

/*
 * leaktop writes ids 1..N in table order; anything else is no profile of its own, and checking
 * so here makes every id below a plain index.
 */
static const char *check_ids(const pb_profile *pb)
{
	for (size_t i = 0; i < pb->n_mapping; i++)
		if (pb->mapping[i]->id != i + 1)
			return "its mapping ids are not 1..N";
	for (size_t i = 0; i < pb->n_function; i++)
		if (pb->function[i]->id != i + 1)
			return "its function ids are not 1..N";
	for (size_t i = 0; i < pb->n_location; i++) {
		const pb_location *loc = pb->location[i];

		if (loc->id != i + 1)
			return "its location ids are not 1..N";
		if (loc->mapping_id > pb->n_mapping)
			return "a location names no mapping of the profile";
		for (size_t j = 0; j < loc->n_line; j++)
			if (!loc->line[j]->function_id ||
			    loc->line[j]->function_id > pb->n_function)
				return "a line names no function of the profile";
	}
	for (size_t i = 0; i < pb->n_sample; i++)
		for (size_t j = 0; j < pb->sample[i]->n_location_id; j++)
			if (!pb->sample[i]->location_id[j] ||
			    pb->sample[i]->location_id[j] > pb->n_location)
				return "a sample names no location of the profile";
	return NULL;
}

static size_t frames_of_location(const pb_location *loc)
{
	return loc->n_line ? loc->n_line : 1;
}

/* The frames of one location, innermost (an inlined callee) first, as the symbolizer gives them. */
static size_t fill_frames(const pb_profile *pb, const pb_location *loc, struct sym_frame *out)
{
	const Perftools__Profiles__Mapping *m =
	    loc->mapping_id ? pb->mapping[loc->mapping_id - 1] : NULL;
	struct sym_frame base = {.address = loc->address};
	size_t n = frames_of_location(loc);

	if (m) {
		base.module = str_at(pb, m->filename);
		base.module_offset = loc->address - m->memory_start + m->file_offset;
	}
	if (!loc->n_line) {
		out[0] = base;
		return 1;
	}
	for (size_t k = 0; k < n; k++) {
		const Perftools__Profiles__Function *fn =
		    pb->function[loc->line[k]->function_id - 1];

		out[k] = base;
		out[k].function = str_at(pb, fn->name);
		out[k].file = str_at(pb, fn->filename);
		out[k].line = loc->line[k]->line > 0 && loc->line[k]->line <= UINT32_MAX
				  ? (uint32_t)loc->line[k]->line
				  : 0;
		out[k].inlined = k + 1 < n;
	}
	return n;
}

/* The stack not captured is one location at address 0 with no mapping, named UNKNOWN_STACK. */
static bool is_unknown(const pb_profile *pb, const Perftools__Profiles__Sample *s)
{
	const pb_location *loc;
	const char *name;

	if (s->n_location_id != 1)
		return false;
	loc = pb->location[s->location_id[0] - 1];
	if (loc->address || loc->mapping_id || loc->n_line != 1)
		return false;
	name = str_at(pb, pb->function[loc->line[0]->function_id - 1]->name);
	return name && !strcmp(name, UNKNOWN_STACK);
}

/* FNV-1a over the pid and the addresses: the stack's identity across the profiles of a run. */
static uint64_t stack_identity(int pid, const uint64_t *ips, size_t n)
{
	uint64_t h = fnv1a_u64(FNV1A_SEED, (uint32_t)pid);

	for (size_t i = 0; i < n; i++)
		h = fnv1a_u64(h, ips[i]);
	return h ? h : 1; /* 0 is the unknown stack's */
}

/* Losses and totals, from the comments out_pprof.c writes. */
static void read_comments(const pb_profile *pb, struct profile *p)
{
	bool totals = false;

	for (size_t i = 0; i < pb->n_comment; i++) {
		const char *c = str_at(pb, pb->comment[i]);
		struct snapshot_totals t;
		char name[40];
		uint64_t v;
		int end = 0;

		if (!c)
			continue;
		if (sscanf(c,
			   "totals: outstanding_bytes %" SCNd64 ", outstanding_allocs %" SCNd64
			   ", allocs %" SCNu64 ", frees %" SCNu64 ", alloc_bytes %" SCNu64 "%n",
			   &t.outstanding_bytes, &t.outstanding_allocs, &t.allocs, &t.frees,
			   &t.alloc_bytes, &end) == 5 &&
		    !c[end]) {
			p->totals = t;
			totals = true;
			continue;
		}
		if (sscanf(c, "%39[a-z_]: %" SCNu64 "%n", name, &v, &end) != 2 || c[end])
			continue;
		for (int s = 0; s < LT_STAT_MAX; s++)
			if (snapshot_stat_name((enum lt_stat)s) &&
			    !strcmp(name, snapshot_stat_name((enum lt_stat)s)))
				p->stats[s] = v;
	}
	if (totals)
		return;
	for (size_t i = 0; i < p->nr_stacks; i++) {
		const struct stack_record *r = &p->stacks[i].rec;

		p->totals.outstanding_bytes += r->outstanding_bytes;
		p->totals.outstanding_allocs += r->outstanding_allocs;
		p->totals.allocs += r->allocs;
		p->totals.alloc_bytes += r->alloc_bytes;
	}
}

/* Builds p's stacks from pb. 0, -ENOMEM, or -EINVAL with err set. */
static int build(const pb_profile *pb, struct profile *p, struct owned *own, char *err,
		 size_t err_len)
{
	int vi[4] = {value_index(pb, "inuse_space"), value_index(pb, "inuse_objects"),
		     value_index(pb, "alloc_space"), value_index(pb, "alloc_objects")};
	int64_t vals[4];
	uint64_t ips[LT_MAX_DEPTH];
	size_t total = 0, used = 0;
	const char *bad = check_ids(pb);

	if (bad) {
		say(err, err_len, "%s", bad);
		return -EINVAL;
	}
	if (vi[0] < 0) {
		say(err, err_len, "it has no inuse_space values: not a heap profile of leaktop's");
		return -EINVAL;
	}
	for (size_t i = 0; i < pb->n_sample; i++)
		for (size_t j = 0; j < pb->sample[i]->n_location_id; j++)
			total +=
			    frames_of_location(pb->location[pb->sample[i]->location_id[j] - 1]);
	p->stacks = calloc(pb->n_sample ? pb->n_sample : 1, sizeof(*p->stacks));
	own->frames = calloc(total ? total : 1, sizeof(*own->frames));
	if (!p->stacks || !own->frames)
		return -ENOMEM;
	for (size_t i = 0; i < pb->n_sample; i++) {
		const Perftools__Profiles__Sample *s = pb->sample[i];
		struct profile_stack *ps = &p->stacks[p->nr_stacks++];
		struct stack_record *rec = &ps->rec;

		for (int k = 0; k < 4; k++)
			vals[k] = vi[k] >= 0 && (size_t)vi[k] < s->n_value ? s->value[vi[k]] : 0;
		rec->outstanding_bytes = vals[0];
		rec->outstanding_allocs = vals[1];
		rec->alloc_bytes = vals[2] > 0 ? (uint64_t)vals[2] : 0;
		rec->allocs = vals[3] > 0 ? (uint64_t)vals[3] : 0;
		rec->oldest_age_s = -1;
		for (size_t l = 0; l < s->n_label; l++) {
			const char *key = str_at(pb, s->label[l]->key);

			if (key && !strcmp(key, "pid"))
				rec->pid = (int)s->label[l]->num;
		}
		if (is_unknown(pb, s))
			continue; /* stack_id 0, no frames: the unknown stack */
		ps->frames = own->frames + used;
		for (size_t j = 0; j < s->n_location_id; j++) {
			const pb_location *loc = pb->location[s->location_id[j] - 1];

			if (rec->nr_ips < LT_MAX_DEPTH)
				ips[rec->nr_ips++] = loc->address;
			ps->nr_frames += fill_frames(pb, loc, ps->frames + ps->nr_frames);
		}
		used += ps->nr_frames;
		rec->shared = stack_ips__new(ips, rec->nr_ips);
		if (!rec->shared)
			return -ENOMEM;
		rec->ips = rec->shared->ips;
		rec->stack_id = stack_identity(rec->pid, rec->ips, rec->nr_ips);
	}
	read_comments(pb, p);
	p->start_time_ns = pb->time_nanos > 0 ? (uint64_t)pb->time_nanos : 0;
	p->duration_s = pb->duration_nanos > 0 ? (double)pb->duration_nanos / 1e9 : 0;
	p->taken_ns =
	    p->start_time_ns + (pb->duration_nanos > 0 ? (uint64_t)pb->duration_nanos : 0);
	p->sample_rate_bytes = pb->period > 1 ? (uint64_t)pb->period : 0;
	return 0;
}

struct profile *profile_read(const char *path, char *err, size_t err_len)
{
	uint8_t *raw = NULL, *data = NULL;
	size_t raw_len = 0, data_len = 0;
	struct profile *p = NULL;
	struct owned *own = NULL;
	pb_profile *pb = NULL;
	int ret;

	ret = read_all(path, &raw, &raw_len);
	if (ret) {
		say(err, err_len, "cannot read %s: %s", path, strerror(-ret));
		goto fail;
	}
	if (raw_len >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) {
		ret = gunzip(raw, raw_len, &data, &data_len);
		if (ret) {
			say(err, err_len, "%s: %s", path,
			    ret == -EINVAL ? "not a profile (a broken gzip stream)"
					   : strerror(-ret));
			goto fail;
		}
	} else {
		data = raw;
		data_len = raw_len;
		raw = NULL;
	}
	/* Protobuf takes almost any bytes for some message: an empty file is "valid" too. */
	pb = data_len ? perftools__profiles__profile__unpack(NULL, data_len, data) : NULL;
	if (!pb || !pb->n_sample_type) {
		say(err, err_len, "%s: not a profile (no pprof profile.proto in it)", path);
		ret = -EINVAL;
		goto fail;
	}
	p = calloc(1, sizeof(*p));
	own = calloc(1, sizeof(*own));
	if (!p || !own) {
		ret = -ENOMEM;
		goto fail;
	}
	own->pb = pb;
	p->owned = own;
	own = NULL;
	pb = NULL;
	ret = build(((struct owned *)p->owned)->pb, p, p->owned, err, err_len);
	if (ret == -EINVAL) {
		char why[160];

		snprintf(why, sizeof(why), "%s", err);
		say(err, err_len, "%s: %s", path, why);
	}
	if (ret)
		goto fail;
	free(raw);
	free(data);
	return p;
fail:
	if (ret == -ENOMEM)
		say(err, err_len, "cannot read %s: %s", path, strerror(ENOMEM));
	if (pb)
		perftools__profiles__profile__free_unpacked(pb, NULL);
	if (p)
		profile_free(p); /* and own, once it is p's */
	else
		free(own);
	free(raw);
	free(data);
	errno = -ret;
	return NULL;
}

void profile_free(struct profile *p)
{
	struct owned *own;

	if (!p)
		return;
	own = p->owned;
	if (own) {
		if (own->pb)
			perftools__profiles__profile__free_unpacked(own->pb, NULL);
		free(own->frames);
		free(own);
	}
	for (size_t i = 0; p->stacks && i < p->nr_stacks; i++)
		stack_ips__put(p->stacks[i].rec.shared);
	free(p->stacks);
	free(p);
}
