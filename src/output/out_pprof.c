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
#include "output/pprof_tables.h"
#include "profile.pb-c.h"

/* The generated names are long; these keep the code under 100 columns. */
typedef Perftools__Profiles__Profile pb_profile;
typedef Perftools__Profiles__ValueType pb_value_type;
typedef Perftools__Profiles__Sample pb_sample;
typedef Perftools__Profiles__Label pb_label;

/*
 * The value order of Go's heap profiles, alloc before inuse, so that pprof's -sample_index names
 * and the habits of its users carry over unchanged.
 */
static const char *const sample_types[][2] = {
	{ "alloc_objects", "count" },
	{ "alloc_space", "bytes" },
	{ "inuse_objects", "count" },
	{ "inuse_space", "bytes" },
	/* after a reachability scan: inuse split (model/reach.h's order) */
	{ "lost_objects", "count" },
	{ "lost_space", "bytes" },
	{ "possibly_lost_objects", "count" },
	{ "possibly_lost_space", "bytes" },
	{ "reachable_objects", "count" },
	{ "reachable_space", "bytes" },
};

#define NR_VALUES (sizeof(sample_types) / sizeof(sample_types[0]))
#define NR_PLAIN_VALUES 4

/* The values of r's samples: the reachability split's too after a scan. */
static size_t nr_values(const struct report *r)
{
	return r->snap && r->snap->reach_scans ? NR_VALUES : NR_PLAIN_VALUES;
}
#define DEFAULT_SAMPLE_TYPE "inuse_space"

static int add_sample(struct pprof_tables *t, const struct report_stack *rs, pb_sample *smp,
		      int64_t pid_key, int64_t kind_key, size_t n_values)
{
	const struct stack_record *rec = rs->rec;
	int64_t kind = pprof_tables__string(t, snapshot_kind_name(rec->kind));
	pb_label *label;
	uint64_t id;
	size_t i, j;

	*smp = (pb_sample)PERFTOOLS__PROFILES__SAMPLE__INIT;
	smp->location_id = pprof_tables__alloc(t, rs->nr_frames, sizeof(*smp->location_id));
	smp->value = pprof_tables__alloc(t, n_values, sizeof(*smp->value));
	smp->label = pprof_tables__alloc(t, 2, sizeof(*smp->label));
	label = pprof_tables__alloc(t, 2, sizeof(*label));
	if (!smp->location_id || !smp->value || !smp->label || !label || kind < 0)
		return -ENOMEM;
	/* A run of inlined frames and the frame they were inlined into share one address. */
	for (i = 0; i < rs->nr_frames; i = j) {
		for (j = i; j + 1 < rs->nr_frames && rs->frames[j].inlined &&
			    rs->frames[j + 1].address == rs->frames[i].address;
		     j++)
			;
		j++;
		id = pprof_tables__location(t, rec->pid, &rs->frames[i], j - i);
		if (!id)
			return -ENOMEM;
		smp->location_id[smp->n_location_id++] = id;
	}
	if (!rs->nr_frames) {
		smp->location_id[0] = pprof_tables__unknown_location(t);
		if (!smp->location_id[smp->n_location_id++])
			return -ENOMEM;
	}
	/* Estimates already when sampling, as the JSON's: pprof shows values as they are. */
	smp->value[0] = (int64_t)rec->allocs;
	smp->value[1] = (int64_t)rec->alloc_bytes;
	smp->value[2] = rec->outstanding_allocs;
	smp->value[3] = rec->outstanding_bytes;
	for (int k = 0; n_values > NR_PLAIN_VALUES && k < REACH_NR; k++) {
		smp->value[NR_PLAIN_VALUES + 2 * k] = rec->reach ? rec->reach->allocs[k] : 0;
		smp->value[NR_PLAIN_VALUES + 2 * k + 1] = rec->reach ? rec->reach->bytes[k] : 0;
	}
	smp->n_value = n_values;
	*label = (pb_label)PERFTOOLS__PROFILES__LABEL__INIT;
	label->key = pid_key;
	label->num = rec->pid;
	smp->label[0] = label;
	/* The kind: pprof -tagfocus=kind=faults keeps one kind's samples. */
	label[1] = (pb_label)PERFTOOLS__PROFILES__LABEL__INIT;
	label[1].key = kind_key;
	label[1].str = kind;
	smp->label[1] = &label[1];
	smp->n_label = 2;
	return 0;
}

/* A note for `pprof -comments`; -ENOMEM or 0. */
static int add_comment(struct pprof_tables *t, pb_profile *p, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int add_comment(struct pprof_tables *t, pb_profile *p, size_t cap, const char *fmt, ...)
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
	ix = pprof_tables__string(t, text);
	free(text);
	if (ix < 0 || p->n_comment >= cap)
		return -ENOMEM;
	p->comment[p->n_comment++] = ix;
	return 0;
}

/* Says what the samples do not: what wrote them, what --top left out, and every loss. */
static int add_comments(struct pprof_tables *t, const struct report *r, pb_profile *p)
{
	size_t cap = 5 + LT_STAT_MAX;
	char how[128];
	int s, err;

	p->comment = pprof_tables__alloc(t, cap, sizeof(*p->comment));
	if (!p->comment)
		return -ENOMEM;
	err = add_comment(t, p, cap, "leaktop %s", r->version ? r->version : "");
	/* The run's totals, which the samples do not add up to (stacks that hold nothing are left
	 * out, and frees are no sample's): `leaktop report` reads them back. */
	if (!err && r->snap)
		err = add_comment(t, p, cap,
				  "totals: outstanding_bytes %" PRId64 ", outstanding_allocs %" PRId64
				  ", allocs %" PRIu64 ", frees %" PRIu64 ", alloc_bytes %" PRIu64,
				  r->snap->totals.outstanding_bytes, r->snap->totals.outstanding_allocs,
				  r->snap->totals.allocs, r->snap->totals.frees,
				  r->snap->totals.alloc_bytes);
	if (!err && r->nr_stacks < r->nr_stacks_total)
		err = add_comment(t, p, cap, "stacks: %zu of %zu (the rest cut by --top)",
				  r->nr_stacks, r->nr_stacks_total);
	if (!err && r->snap && r->snap->suppressed.stacks)
		err = add_comment(t, p, cap,
				  "suppressed: %" PRIu64 " stacks, %" PRId64 " bytes in %" PRId64
				  " blocks",
				  r->snap->suppressed.stacks, r->snap->suppressed.bytes,
				  r->snap->suppressed.allocs);
	if (!err && r->command_exit)
		err = add_comment(t, p, cap, "command: %s",
				  output_command_exit(r->command_exit, how, sizeof(how)));
	for (s = 0; !err && r->snap && s < LT_STAT_MAX; s++) {
		if (s == LT_STAT_ALLOCS || s == LT_STAT_FREES || !r->snap->stats[s])
			continue;
		err = add_comment(t, p, cap, "%s: %" PRIu64, snapshot_stat_name((enum lt_stat)s),
				  r->snap->stats[s]);
	}
	return err;
}

/* The sample types, the period's type and the default sample type. -ENOMEM or 0. */
static int add_types(struct pprof_tables *t, pb_profile *p, size_t n_values)
{
	pb_value_type *types = pprof_tables__alloc(t, n_values, sizeof(*types));
	pb_value_type *period_type = pprof_tables__alloc(t, 1, sizeof(*period_type));

	if (!types || !period_type)
		return -ENOMEM;
	for (size_t i = 0; i < n_values; i++) {
		types[i] = (pb_value_type)PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
		types[i].type = pprof_tables__string(t, sample_types[i][0]);
		types[i].unit = pprof_tables__string(t, sample_types[i][1]);
		if (types[i].type < 0 || types[i].unit < 0)
			return -ENOMEM;
	}
	*period_type = (pb_value_type)PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	period_type->type = pprof_tables__string(t, "space");
	period_type->unit = pprof_tables__string(t, "bytes");
	if (period_type->type < 0 || period_type->unit < 0)
		return -ENOMEM;
	p->n_sample_type = n_values;
	p->sample_type = (pb_value_type **)pprof_tables__pointers(t, types, n_values,
								  sizeof(*types));
	p->period_type = period_type;
	return p->sample_type ? 0 : -ENOMEM;
}

static int build_profile(struct pprof_tables *t, const struct report *r, pb_profile *p)
{
	pb_sample *samples = pprof_tables__alloc(t, r->nr_stacks, sizeof(*samples));
	int64_t pid_key, kind_key, default_ix;
	int err;

	*p = (pb_profile)PERFTOOLS__PROFILES__PROFILE__INIT;
	err = add_types(t, p, nr_values(r));
	if (err)
		return err;
	pid_key = pprof_tables__string(t, "pid");
	kind_key = pprof_tables__string(t, "kind");
	default_ix = pprof_tables__string(t, DEFAULT_SAMPLE_TYPE);
	if (!samples || pid_key < 0 || kind_key < 0 || default_ix < 0)
		return -ENOMEM;
	for (size_t i = 0; i < r->nr_stacks; i++) {
		err = add_sample(t, &r->stacks[i], &samples[i], pid_key, kind_key, nr_values(r));
		if (err)
			return err;
	}
	err = add_comments(t, r, p);
	if (err)
		return err;
	p->n_sample = r->nr_stacks;
	p->sample = (pb_sample **)pprof_tables__pointers(t, samples, r->nr_stacks,
							 sizeof(*samples));
	if (!p->sample || pprof_tables__fill(t, p))
		return -ENOMEM;
	p->period = r->sample_rate_bytes ? (int64_t)r->sample_rate_bytes : 1;
	p->default_sample_type = default_ix;
	p->time_nanos = (int64_t)r->start_time_ns;
	if (isfinite(r->duration_s) && r->duration_s > 0)
		p->duration_nanos = (int64_t)(r->duration_s * 1e9 + 0.5);
	return 0;
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
	struct pprof_tables *t = pprof_tables__new(r);
	pb_profile profile;
	uint8_t *buf = NULL;
	size_t len;
	int err;

	err = t ? build_profile(t, r, &profile) : -ENOMEM;
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
	pprof_tables__free(t);
	if (err)
		return err;
	if (fflush(out) || ferror(out))
		return -EIO;
	return 0;
}
