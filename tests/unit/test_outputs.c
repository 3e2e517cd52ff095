/* test_outputs.c: the writers on hand-built reports, the format table, and report_build. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "output/output.h"

/* ---- a strict JSON checker (RFC 8259, UTF-8 only), so validity does not rest on python alone */

struct jp {
	const unsigned char *p, *end;
	int depth;
};

static bool j_value(struct jp *j);

static void j_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static bool j_lit(struct jp *j, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n))
		return false;
	j->p += n;
	return true;
}

static bool j_digits(struct jp *j)
{
	const unsigned char *start = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > start;
}

static bool j_number(struct jp *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (!(j->p < j->end && *j->p >= '1' && *j->p <= '9') || !j_digits(j))
		return false;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (!j_digits(j))
			return false;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!j_digits(j))
			return false;
	}
	return true;
}

static bool j_utf8(struct jp *j)
{
	unsigned char c = *j->p, lo, hi;
	size_t len, i;

	len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 && c <= 0xef ? 3 : 0;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;

	if (!len || (size_t)(j->end - j->p) < len)
		return false;
	lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
	hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
	if (j->p[1] < lo || j->p[1] > hi)
		return false;
	for (i = 2; i < len; i++) {
		if (j->p[i] < 0x80 || j->p[i] > 0xbf)
			return false;
	}
	j->p += len;
	return true;
}

static bool j_string(struct jp *j)
{
	int i;

	if (j->p >= j->end || *j->p != '"')
		return false;
	j->p++;
	while (j->p < j->end) {
		unsigned char c = *j->p;

		if (c == '"') {
			j->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c >= 0x80) {
			if (!j_utf8(j))
				return false;
			continue;
		}
		j->p++;
		if (c != '\\')
			continue;
		if (j->p >= j->end)
			return false;
		c = *j->p++;
		if (c == 'u') {
			for (i = 0; i < 4; i++, j->p++) {
				if (j->p >= j->end || !*j->p || !strchr("0123456789abcdefABCDEF",
									  *j->p))
					return false;
			}
		} else if (!strchr("\"\\/bfnrt", c) || !c) {
			return false;
		}
	}
	return false;
}

static bool j_container(struct jp *j, char close, bool object)
{
	j->p++;
	if (++j->depth > 64)
		return false;
	j_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		j->depth--;
		return true;
	}
	for (;;) {
		j_ws(j);
		if (object) {
			if (!j_string(j))
				return false;
			j_ws(j);
			if (j->p >= j->end || *j->p++ != ':')
				return false;
		}
		if (!j_value(j))
			return false;
		j_ws(j);
		if (j->p >= j->end)
			return false;
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		if (*j->p++ != close)
			return false;
		j->depth--;
		return true;
	}
}

static bool j_value(struct jp *j)
{
	j_ws(j);
	if (j->p >= j->end)
		return false;
	switch (*j->p) {
	case '{':
		return j_container(j, '}', true);
	case '[':
		return j_container(j, ']', false);
	case '"':
		return j_string(j);
	case 't':
		return j_lit(j, "true");
	case 'f':
		return j_lit(j, "false");
	case 'n':
		return j_lit(j, "null");
	default:
		return j_number(j);
	}
}

static bool json_valid(const char *text, size_t len)
{
	struct jp j = { (const unsigned char *)text, (const unsigned char *)text + len, 0 };

	if (!j_value(&j))
		return false;
	j_ws(&j);
	return j.p == j.end;
}

static void test_checker_itself(void **state)
{
	static const char *const good[] = {
		"{}", "[]", "{\"a\": [1, -0.5e+3, true, false, null, \"x\\u00e9\\n\"]}",
		"\"\xc3\xa9\"", "0",
	};
	static const char *const bad[] = {
		"{", "[1,]", "{\"a\" 1}", "nan", "NaN", "-", "01", "1.", "\"\x01\"", "\"\xff\"",
		"\"\xed\xa0\x80\"", "\"\xc0\xaf\"", "\"\\x\"", "{} {}", "inf", "[1 2]",
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(json_valid(good[i], strlen(good[i])));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(json_valid(bad[i], strlen(bad[i])));
}

/* ---- python's json module as a second opinion, with checks on decoded values */

/* Returns false only when python ran and rejected the document; a missing python skips. */
static bool python_accepts(const char *json, const char *checks)
{
	char script_path[] = "/tmp/leaktop-test-XXXXXX.py";
	char cmd[sizeof(script_path) + 16];
	FILE *f, *p;
	int fd, status;

	if (system("command -v python3 >/dev/null 2>&1") != 0) {
		fprintf(stderr, "python3 not found: skipping the second JSON check\n");
		return true;
	}
	fd = mkstemps(script_path, 3);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	/* NaN and Infinity are python extensions, not JSON: reject them. */
	fprintf(f,
		"import json, sys\n"
		"def bad(c):\n"
		"    sys.exit('not JSON: ' + c)\n"
		"d = json.loads(sys.stdin.buffer.read().decode('utf-8'), parse_constant=bad)\n"
		"%s\n",
		checks);
	assert_int_equal(fclose(f), 0);
	assert_true(snprintf(cmd, sizeof(cmd), "python3 %s", script_path) < (int)sizeof(cmd));
	p = popen(cmd, "w");
	assert_non_null(p);
	fputs(json, p);
	status = pclose(p);
	unlink(script_path);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* ---- fixtures */

static const int two_pids[] = { 1234, 5678 };
static const int one_pid[] = { 42 };

static const struct sym_frame frames_a[] = {
	{ 0x55d1c0a01234, "leak_small", 23, "/abs/path/basic", 0x1234, "basic.c", 14, false },
	{ 0x55d1c0a01300, "helper", 5, "/abs/path/basic", 0x1300, "util.h", 3, true },
	{ 0x7f0000001234, NULL, 99, "/usr/lib/libfoo.so", 0x1234, NULL, 0, false },
	{ 0xdeadbeef, NULL, 0, NULL, 0, NULL, 0, false },
};

struct fixture {
	struct snapshot snap;
	struct stack_record recs[4];
	struct report_stack stacks[4];
	struct report r;
};

static struct fixture fx;

/* Two stacks shown of 5: one symbolized, one never captured; 3 more hold 1258291 bytes. */
/* The run's processes: one given, one it forked (exited since), one that could not be traced. */
static const struct report_proc three_procs[] = {
	{ .pid = 1234, .nspid = 1234, .comm = "basic", .state = "traced" },
	{ .pid = 5678, .nspid = 7, .ppid = 1234, .comm = "basic", .state = "exited",
	  .followed = true, .execs = 1, .gap_s = 0.0125 },
	{ .pid = 9999, .nspid = 9999, .comm = "", .state = "not traced",
	  .reason = "exited before it could be traced" },
};

static struct report *fixture(bool losses)
{
	int s;

	memset(&fx, 0, sizeof(fx));
	fx.snap.totals = (struct snapshot_totals){ 2306967, 9, 10, 7, 2000000 };
	for (s = 0; losses && s < LT_STAT_MAX; s++)
		fx.snap.stats[s] = (uint64_t)s - 1;
	fx.snap.stats[LT_STAT_ALLOCS] = 10;
	fx.snap.stats[LT_STAT_FREES] = 7;
	fx.recs[0] = (struct stack_record){ .stack_id = 11,
					    .pid = 1234,
					    .outstanding_bytes = 1048576,
					    .outstanding_allocs = 2,
					    .allocs = 4,
					    .alloc_bytes = 2097152,
					    .oldest_age_s = 4.25 };
	fx.recs[1] = (struct stack_record){ .stack_id = 0,
					    .pid = 5678,
					    .outstanding_bytes = 100,
					    .outstanding_allocs = 1,
					    .allocs = 5,
					    .alloc_bytes = 500,
					    .oldest_age_s = -1 };
	fx.stacks[0] = (struct report_stack){ .rec = &fx.recs[0], .frames = frames_a,
					      .nr_frames = 4 };
	fx.stacks[1] = (struct report_stack){ .rec = &fx.recs[1], .frames = NULL, .nr_frames = 0 };
	/* The big one grew in a jump, the small one steadily: the suspect. */
	fx.stacks[0].trend = (struct history_trend){ .nr_samples = 6, .window_s = 5.0,
						     .growth_bytes_per_s = 2048 };
	fx.stacks[1].trend = (struct history_trend){ .nr_samples = 6, .window_s = 5.0,
						     .growth_bytes_per_s = 20, .suspect = true };
	fx.r = (struct report){ .version = "1.2.3",
				.window_s = 5.0,
				.nr_readings = 6,
				.judged = true,
				.nr_suspects = 1,
				.pids = two_pids,
				.nr_pids = 2,
				.procs = three_procs,
				.nr_procs = 3,
				.duration_s = 5.02,
				.snap = &fx.snap,
				.stacks = fx.stacks,
				.nr_stacks = 2,
				.nr_stacks_total = 5 };
	return &fx.r;
}

/* The text a writer produces, NUL-terminated and malloc'ed. */
static char *render(report_writer_fn write, const struct report *r, size_t *len_out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(write(r, f), 0);
	assert_int_equal(fclose(f), 0);
	if (len_out)
		*len_out = len;
	return buf;
}

/* ---- json */

static const char expected_json[] =
	"{\n"
	"  \"tool\": \"leaktop\",\n"
	"  \"version\": \"1.2.3\",\n"
	"  \"pids\": [1234, 5678],\n"
	"  \"processes\": [\n"
	"    {\"pid\": 1234, \"nspid\": 1234, \"ppid\": 0, \"comm\": \"basic\", \"state\": "
	"\"traced\", \"followed\": false, \"execs\": 0, \"gap_s\": 0},\n"
	"    {\"pid\": 5678, \"nspid\": 7, \"ppid\": 1234, \"comm\": \"basic\", \"state\": "
	"\"exited\", \"followed\": true, \"execs\": 1, \"gap_s\": 0.0125},\n"
	"    {\"pid\": 9999, \"nspid\": 9999, \"ppid\": 0, \"comm\": \"\", \"state\": "
	"\"not traced\", \"followed\": false, \"execs\": 0, \"gap_s\": 0, \"reason\": "
	"\"exited before it could be traced\"}\n"
	"  ],\n"
	"  \"duration_s\": 5.02,\n"
	"  \"sample_rate_bytes\": 0,\n"
	"  \"window_s\": 5, \"window_samples\": 6, \"too_few_samples\": false, \"suspects\": 1,\n"
	"  \"suppressed\": {\"stacks\": 0, \"bytes\": 0, \"allocs\": 0},\n"
	"  \"totals\": {\"outstanding_bytes\": 2306967, \"outstanding_allocs\": 9, \"allocs\": 10, "
	"\"frees\": 7, \"alloc_bytes\": 2000000},\n"
	"  \"stats\": {\"dropped_allocs\": 1, \"unmatched_frees\": 2, \"lost_stacks\": 3, "
	"\"stack_table_full\": 4, \"thread_state_full\": 5, \"missed_returns\": 6, "
	"\"unwind_no_mapping\": 7, \"unwind_no_table\": 8, \"unwind_no_cfi\": 9, "
	"\"unwind_stop_row\": 10, \"unwind_read_failed\": 11, \"truncated_stacks\": 12, "
	"\"unwind_not_ready\": 13, \"unwound_calls\": 14, \"allocator_frees\": 15, "
	"\"lost_events\": 16, \"inherited_frees\": 17, \"exited_released\": 18, "
	"\"track_lost_stacks\": 19, \"track_stack_full\": 20, \"track_table_full\": 21, "
	"\"track_vma_busy\": 22, \"track_exits_lost\": 23, \"track_moves_cut\": 24, "
	"\"track_calls_lost\": 25, \"scratch_busy\": 26},\n"
	"  \"stacks_total\": 5,\n"
	"  \"stacks\": [\n"
	"    {\"pid\": 1234, \"outstanding_bytes\": 1048576, \"outstanding_allocs\": 2, "
	"\"allocs\": 4, \"alloc_bytes\": 2097152,\n"
	"     \"oldest_age_s\": 4.25, \"growth_bytes_per_s\": 2048, \"kind\": \"heap\", \"suspect\": false, "
	"\"frames\": [\n"
	"  {\"address\":\"0x55d1c0a01234\",\"function\":\"leak_small\",\"offset\":23,"
	"\"module\":\"/abs/path/basic\",\"module_offset\":\"0x1234\",\"file\":\"basic.c\","
	"\"line\":14,\"inlined\":false},\n"
	"  {\"address\":\"0x55d1c0a01300\",\"function\":\"helper\",\"offset\":5,"
	"\"module\":\"/abs/path/basic\",\"module_offset\":\"0x1300\",\"file\":\"util.h\","
	"\"line\":3,\"inlined\":true},\n"
	"  {\"address\":\"0x7f0000001234\",\"function\":null,\"offset\":0,"
	"\"module\":\"/usr/lib/libfoo.so\",\"module_offset\":\"0x1234\",\"file\":null,"
	"\"line\":null,\"inlined\":false},\n"
	"  {\"address\":\"0xdeadbeef\",\"function\":null,\"offset\":0,\"module\":null,"
	"\"module_offset\":null,\"file\":null,\"line\":null,\"inlined\":false}\n"
	"    ]},\n"
	"    {\"pid\": 5678, \"outstanding_bytes\": 100, \"outstanding_allocs\": 1, \"allocs\": 5, "
	"\"alloc_bytes\": 500,\n"
	"     \"oldest_age_s\": null, \"growth_bytes_per_s\": 20, \"kind\": \"heap\", \"suspect\": true, "
	"\"frames\": []}\n"
	"  ]\n"
	"}\n";

static void test_json_exact(void **state)
{
	size_t len;
	char *out = render(out_json_write, fixture(true), &len);

	assert_string_equal(out, expected_json);
	assert_true(json_valid(out, len));
	assert_true(python_accepts(
		out, "assert d['tool'] == 'leaktop' and d['pids'] == [1234, 5678]\n"
		     "assert d['duration_s'] == 5.02 and d['stacks_total'] == 5\n"
		     "assert d['totals'] == {'outstanding_bytes': 2306967, 'outstanding_allocs': 9,"
		     " 'allocs': 10, 'frees': 7, 'alloc_bytes': 2000000}\n"
		     "assert sorted(d['stats']) == sorted(['dropped_allocs', 'unmatched_frees',"
		     " 'lost_stacks', 'stack_table_full', 'thread_state_full',"
		     " 'missed_returns', 'unwind_no_mapping', 'unwind_no_table', 'unwind_no_cfi',"
		     " 'unwind_stop_row', 'unwind_read_failed', 'truncated_stacks',"
		     " 'unwind_not_ready', 'unwound_calls', 'allocator_frees', 'lost_events',"
		     " 'inherited_frees', 'exited_released', 'track_lost_stacks',"
		     " 'track_stack_full', 'track_table_full', 'track_vma_busy',"
		     " 'track_exits_lost', 'track_moves_cut', 'track_calls_lost',"
		     " 'scratch_busy'])\n"
		     "p = d['processes']\n"
		     "assert [(x['pid'], x['state']) for x in p] == [(1234, 'traced'), (5678, 'exited'),"
		     " (9999, 'not traced')]\n"
		     "assert p[1]['nspid'] == 7 and p[1]['followed'] and 'reason' not in p[1]\n"
		     "s = d['stacks']\n"
		     "assert [x['outstanding_bytes'] for x in s] == [1048576, 100]\n"
		     "f = s[0]['frames']\n"
		     "assert f[0]['function'] == 'leak_small' and f[0]['line'] == 14\n"
		     "assert int(f[0]['address'], 16) == 0x55d1c0a01234\n"
		     "assert f[1]['inlined'] is True and f[2]['function'] is None\n"
		     "assert f[2]['offset'] == 0 and f[3]['module'] is None\n"
		     "assert s[1]['frames'] == [] and s[1]['oldest_age_s'] is None\n"
		     "assert s[1]['growth_bytes_per_s'] == 20 and s[1]['suspect'] is True\n"
		     "assert s[0]['suspect'] is False\n"));
	free(out);
}

static void test_json_empty(void **state)
{
	struct report r = { 0 };
	size_t len;
	char *out = render(out_json_write, &r, &len);

	assert_string_equal(out,
			    "{\n"
			    "  \"tool\": \"leaktop\",\n"
			    "  \"version\": null,\n"
			    "  \"pids\": [],\n"
			    "  \"processes\": [],\n"
			    "  \"duration_s\": 0,\n"
			    "  \"sample_rate_bytes\": 0,\n"
			    "  \"window_s\": null, \"window_samples\": 0, "
			    "\"too_few_samples\": true, \"suspects\": 0,\n"
			    "  \"suppressed\": {\"stacks\": 0, \"bytes\": 0, \"allocs\": 0},\n"
			    "  \"totals\": {\"outstanding_bytes\": 0, \"outstanding_allocs\": 0, "
			    "\"allocs\": 0, \"frees\": 0, \"alloc_bytes\": 0},\n"
			    "  \"stats\": {\"dropped_allocs\": 0, \"unmatched_frees\": 0, "
			    "\"lost_stacks\": 0, \"stack_table_full\": 0, "
			    "\"thread_state_full\": 0, "
			    "\"missed_returns\": 0, \"unwind_no_mapping\": 0, "
			    "\"unwind_no_table\": 0, \"unwind_no_cfi\": 0, "
			    "\"unwind_stop_row\": 0, \"unwind_read_failed\": 0, "
			    "\"truncated_stacks\": 0, \"unwind_not_ready\": 0, "
			    "\"unwound_calls\": 0, "
			    "\"allocator_frees\": 0, \"lost_events\": 0, "
			    "\"inherited_frees\": 0, \"exited_released\": 0, "
			    "\"track_lost_stacks\": 0, \"track_stack_full\": 0, "
			    "\"track_table_full\": 0, \"track_vma_busy\": 0, "
			    "\"track_exits_lost\": 0, \"track_moves_cut\": 0, "
			    "\"track_calls_lost\": 0, \"scratch_busy\": 0},\n"
			    "  \"stacks_total\": 0,\n"
			    "  \"stacks\": []\n"
			    "}\n");
	assert_true(json_valid(out, len));
	assert_true(python_accepts(out, "assert d['stacks'] == [] and d['pids'] == []"));
	free(out);
}

static void test_json_doubles(void **state)
{
	static const struct {
		double v;
		const char *text;
	} cases[] = {
		{ 5.02, "5.02" },
		{ 0.1 + 0.2, "0.30000000000000004" },
		{ 1.0 / 3, "0.3333333333333333" },
		{ 1e300, "1e+300" },
		{ 1e-7, "1e-07" },
		{ 123456789012345678.0, "1.2345678901234568e+17" },
		{ -2.5, "-2.5" },
		{ 0.0, "0" },
		/* whole nanoseconds, written without printf: as %.15g writes them */
		{ 5526475212 / 1e9, "5.526475212" },
		{ 2000243474 / 1e9, "2.000243474" },
		{ 123456000000001 / 1e9, "123456.000000001" },
		{ 0.000123, "0.000123" },
		{ -7.000000005, "-7.000000005" },
		{ 2048.0, "2048" },
		{ 8999999999999998 / 1e9, "8999999.999999998" },
		/* beyond them: printf's */
		{ 1e-5, "1e-05" },
		{ 9000000.5, "9000000.5" },
		{ 0.1234567891, "0.1234567891" },
		{ NAN, "null" },
		{ INFINITY, "null" },
		{ -INFINITY, "null" },
	};
	struct report *r;
	char want[128], *out;
	size_t i, len;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = fixture(false);
		r->duration_s = cases[i].v;
		fx.stacks[0].trend.growth_bytes_per_s = cases[i].v;
		fx.recs[0].oldest_age_s = cases[i].v;
		out = render(out_json_write, r, &len);
		assert_true(json_valid(out, len));
		assert_true(snprintf(want, sizeof(want), "\"duration_s\": %s,\n", cases[i].text) <
			    (int)sizeof(want));
		assert_non_null(strstr(out, want));
		assert_true(snprintf(want, sizeof(want), "\"growth_bytes_per_s\": %s,",
				     cases[i].text) < (int)sizeof(want));
		assert_non_null(strstr(out, want));
		if (cases[i].v >= 0) {
			assert_true(snprintf(want, sizeof(want), "\"oldest_age_s\": %s,",
					     cases[i].text) < (int)sizeof(want));
			assert_non_null(strstr(out, want));
		}
		free(out);
	}
	/* Only known ages are numbers: a negative age is "unknown". */
	r = fixture(false);
	fx.recs[0].oldest_age_s = -0.001;
	out = render(out_json_write, r, NULL);
	assert_non_null(strstr(out, "\"oldest_age_s\": null, \"growth_bytes_per_s\": 2048,"));
	free(out);
}

/* After a reachability scan: the split of the stacks it saw, in JSON and text; none elsewhere. */
static void test_reach_split(void **state)
{
	struct report *r = fixture(false);
	static const struct reach_split split = { .bytes = { 1000, 48576, 1000000 },
						  .allocs = { 1, 0, 1 },
						  .valid = true };
	char *out;
	size_t len;

	fx.snap.reach_scans = 1;
	fx.recs[0].reach = &split;
	out = render(out_json_write, r, &len);
	assert_true(json_valid(out, len));
	assert_non_null(strstr(out, "\"growth_bytes_per_s\": 2048, \"kind\": \"heap\", \"suspect\": false,\n"
				    "     \"lost_bytes\": 1000, \"lost_allocs\": 1, "
				    "\"possibly_lost_bytes\": 48576, \"possibly_lost_allocs\": 0, "
				    "\"reachable_bytes\": 1000000, "
				    "\"reachable_allocs\": 1, \"frames\": ["));
	assert_true(python_accepts(out, "s = d['stacks']\n"
					"assert s[0]['lost_bytes'] == 1000\n"
					"assert 'lost_bytes' not in s[1]\n"));
	free(out);
	out = render(out_text_write, r, &len);
	assert_non_null(strstr(out, "reachability: 1 scan\n"));
	assert_non_null(strstr(out, "\n    lost 1000 bytes in 1 blocks, possibly lost 48576 in 0, "
				    "reachable 1000000 in 1\n"));
	free(out);
	fx.snap.reach_approximate = true;
	out = render(out_text_write, r, &len);
	assert_non_null(strstr(out, "reachability: 1 scan, approximate (the process ran while "
				    "scanned)\n"));
	free(out);
}

/* Names are bytes from the traced program's files: any of them must still give valid JSON. */
static const struct sym_frame nasty_frame = {
	0x401000,
	"a\"b\\c\n\t\x01\x1f/\x7f \xc3\xa9 \xff \xc0\xaf \xed\xa0\x80 "
	"\xf0\x9f\x98\x80 \xe2\x82 ;end",
	1,
	"/tmp/my dir/lib x;y.so",
	0x1000,
	"src/\xe2\x82\xac.c",
	0,
	false,
};

static struct report *nasty_fixture(void)
{
	struct report *r = fixture(false);

	fx.stacks[0].frames = &nasty_frame;
	fx.stacks[0].nr_frames = 1;
	r->nr_stacks = 1;
	r->version = "0.1\"-dev\n";
	return r;
}

static void test_json_escaping(void **state)
{
	size_t len;
	char *out = render(out_json_write, nasty_fixture(), &len);

	assert_non_null(strstr(out, "\"version\": \"0.1\\\"-dev\\n\",\n"));
	/* Invalid sequences become U+FFFD byte by byte; valid UTF-8 passes through. */
	assert_non_null(strstr(out, "\"function\":\"a\\\"b\\\\c\\n\\t\\u0001\\u001f/\x7f "
				    "\xc3\xa9 \\ufffd \\ufffd\\ufffd \\ufffd\\ufffd\\ufffd "
				    "\xf0\x9f\x98\x80 \\ufffd\\ufffd ;end\",\"offset\":1,"));
	assert_non_null(strstr(out, "\"module\":\"/tmp/my dir/lib x;y.so\","));
	assert_non_null(strstr(out, "\"file\":\"src/\xe2\x82\xac.c\",\"line\":null,"));
	assert_true(json_valid(out, len));
	assert_true(python_accepts(
		out, "f = d['stacks'][0]['frames'][0]['function']\n"
		     "want = 'a\"b\\\\c\\n\\t\\x01\\x1f/\\x7f \\u00e9 \\ufffd \\ufffd\\ufffd "
		     "\\ufffd\\ufffd\\ufffd \\U0001f600 \\ufffd\\ufffd ;end'\n"
		     "assert f == want, repr(f)\n"
		     "assert d['version'] == '0.1\"-dev\\n'\n"
		     "assert d['stacks'][0]['frames'][0]['file'] == 'src/\\u20ac.c'\n"));
	free(out);
}

/* ---- html */

/* A name that would end the page's script element, open a comment, or start markup. */
static const struct sym_frame script_frame = {
	0x401000, "f</script><script>alert(1)</SCRIPT><!-- & -->", 1, "/tmp/<b>lib.so", 0x1000,
	"x.c", 7, false,
};

/* The page's data element: its text, malloc'ed. */
static char *html_data(const char *page)
{
	static const char open_tag[] = "<script id=\"leaktop-data\" type=\"application/json\">";
	const char *start = strstr(page, open_tag), *end;

	assert_non_null(start);
	start += strlen(open_tag);
	end = strstr(start, "</script>");
	assert_non_null(end);
	return strndup(start, (size_t)(end - start));
}

static void test_html(void **state)
{
	struct report *r = fixture(false);
	char *page, *data, *p;
	size_t len, closes = 0;

	fx.stacks[0].frames = &script_frame;
	fx.stacks[0].nr_frames = 1;
	r->self_cpu_s = 1.5;
	r->self_rss_bytes = 4096;
	page = render(out_html_write, r, &len);
	assert_int_equal(strlen(page), len);
	assert_int_equal(strncmp(page, "<!DOCTYPE html>", 15), 0);
	assert_null(strstr(page, "/*LEAKTOP_DATA*/"));
	/* The template's own two script elements close, and nothing else does. */
	for (p = page; (p = strcasestr(p, "</script")); p++)
		closes++;
	assert_int_equal(closes, 2);
	assert_null(strstr(page, "<!--  &"));
	data = html_data(page);
	assert_null(strchr(data, '<'));
	assert_true(python_accepts(
		data, "s = d['report']['stacks'][0]\n"
		      "assert s['frames'][0]['function'] == "
		      "'f</script><script>alert(1)</SCRIPT><!-- & -->', s\n"
		      "assert s['frames'][0]['module'] == '/tmp/<b>lib.so'\n"
		      "assert s['outstanding_bytes'] == 1048576\n"
		      "assert d['report']['totals']['outstanding_bytes'] == 2306967\n"
		      "assert d['cost'] == {'cpu_s': 1.5, 'rss_bytes': 4096}, d['cost']\n"));
	free(data);
	free(page);
}

/* ---- folded */

static void test_folded(void **state)
{
	static const struct sym_frame cxx[] = {
		{ 0x10, "operator new(unsigned long)", 4, "/lib/libstdc++.so.6", 0x10, NULL, 0, 0 },
		{ 0x20, "ns::f<a; b>(int)", 8, "/bin/app", 0x20, "f.cc", 3, true },
		{ 0x30, "main", 9, "/bin/app", 0x30, "main.cc", 1, false },
	};
	static const struct sym_frame odd[] = {
		{ 0x40, NULL, 0, "/opt/my lib/lib y;z.so", 0xabc, NULL, 0, false },
		{ 0x50, "tab\there\nnl", 1, NULL, 0, NULL, 0, false },
		{ 0x60, "", 0, "/x/", 0x5, NULL, 0, false },
	};
	struct report *r = fixture(false);
	char *out;

	out = render(out_folded_write, r, NULL);
	assert_string_equal(out, "0xdeadbeef;libfoo.so+0x1234;helper;leak_small 1048576\n"
				 "[unknown] 100\n");
	free(out);

	fx.recs[2] = fx.recs[0];
	fx.recs[3] = fx.recs[0];
	fx.recs[2].outstanding_bytes = 0; /* holds nothing: not a line */
	fx.recs[3].outstanding_bytes = -8;
	fx.stacks[0] = (struct report_stack){ .rec = &fx.recs[0], .frames = cxx, .nr_frames = 3 };
	fx.stacks[1] = (struct report_stack){ .rec = &fx.recs[1], .frames = odd, .nr_frames = 3 };
	fx.stacks[2] = (struct report_stack){ .rec = &fx.recs[2], .frames = cxx, .nr_frames = 3 };
	fx.stacks[3] = (struct report_stack){ .rec = &fx.recs[3], .frames = cxx, .nr_frames = 3 };
	r->nr_stacks = 4;
	out = render(out_folded_write, r, NULL);
	assert_string_equal(out, "main;ns::f<a:_b>(int);operator_new(unsigned_long) 1048576\n"
				 "/x/+0x5;tab_here_nl;lib_y:z.so+0xabc 100\n");
	free(out);

	r->nr_stacks = 0;
	out = render(out_folded_write, r, NULL);
	assert_string_equal(out, "");
	free(out);
}

/* ---- text */

static const char expected_text[] =
	"leaktop 1.2.3: pids 1234, 5678 traced for 5.0s\n"
	"processes: 1 traced (1 given, 1 followed), 1 exited, 1 exec; followed ones ran untraced "
	"for 12.5 ms in all before their probes were in place; not traced: pid 9999 (exited before "
	"it could be traced)\n"
	"outstanding: 2.2 MiB (2306967 bytes) in 9 blocks, 5 stacks\n"
	"since attach: 10 allocs (1.9 MiB), 7 frees\n"
	"no losses\n"
	"growth over 5.0s (6 readings): 1 leak suspect, marked LEAK? and listed first\n"
	"\n"
	"#1 LEAK? 100 bytes in 1 block (100 B), pid 5678, growth +20 B/s\n"
	"    [stack not captured: see lost_stacks and stack_table_full]\n"
	"\n"
	"#2 1048576 bytes in 2 blocks (1.0 MiB), pid 1234, oldest 4.2s, growth +2.0 KiB/s\n"
	"    leak_small+0x17 (basic) basic.c:14\n"
	"    helper+0x5 (basic) util.h:3 [inlined]\n"
	"    0x7f0000001234 (libfoo.so+0x1234)\n"
	"    0xdeadbeef\n"
	"\n"
	"... 3 more stacks, 1.2 MiB (1258291 bytes); -n 0 shows all\n";

static void test_text_exact(void **state)
{
	char *out = render(out_text_write, fixture(false), NULL);

	assert_string_equal(out, expected_text);
	free(out);
}

static void test_text_losses(void **state)
{
	struct report *r = fixture(false);
	char *out;

	fx.snap.stats[LT_STAT_DROPPED_ALLOCS] = 12;
	fx.snap.stats[LT_STAT_MISSED_RETURNS] = 3;
	out = render(out_text_write, r, NULL);
	assert_null(strstr(out, "no losses"));
	assert_non_null(strstr(
		out, "7 frees\n"
		     "LOSSES: 2 counters non-zero, the figures below are incomplete:\n"
		     "  dropped_allocs             12  allocation table full: allocations not "
		     "recorded (raise --max-allocs)\n"
		     "  missed_returns              3  allocator returns not seen: allocations not "
		     "recorded\ngrowth over "));
	free(out);

	memset(fx.snap.stats, 0, sizeof(fx.snap.stats));
	fx.snap.stats[LT_STAT_LOST_STACKS] = 1;
	out = render(out_text_write, r, NULL);
	assert_non_null(strstr(out, "LOSSES: 1 counter non-zero, the figures below are "
				    "incomplete:\n"
				    "  lost_stacks                 1  allocations recorded under an "
				    "unknown stack\n"));
	free(out);

	/* Frees of blocks allocated before attach are normal with -p: shown, but no loss. */
	memset(fx.snap.stats, 0, sizeof(fx.snap.stats));
	fx.snap.stats[LT_STAT_UNMATCHED_FREES] = 5;
	out = render(out_text_write, r, NULL);
	assert_non_null(strstr(out, "7 frees, 5 frees of blocks allocated before attach\n"
				    "no losses\n"));
	free(out);

	/* allocs and frees are events, not losses. */
	memset(fx.snap.stats, 0, sizeof(fx.snap.stats));
	fx.snap.stats[LT_STAT_ALLOCS] = 1000;
	fx.snap.stats[LT_STAT_FREES] = 999;
	out = render(out_text_write, r, NULL);
	assert_non_null(strstr(out, "\nno losses\n"));
	free(out);
}

static void test_text_variants(void **state)
{
	static const char head[] =
		"leaktop 1.2.3: pid 42 traced for 1h02m\n"
		"outstanding: 2.2 MiB (2306967 bytes) in 9 blocks, 2 stacks\n"
		"since attach: 10 allocs (1.9 MiB), 7 frees\n"
		"sampled: one allocation per 524288 bytes; figures are estimates\n"
		"no losses\n"
		"growth over 5.0s (6 readings): no leak suspects\n\n";
	struct report *r = fixture(false);
	char *out;

	/* One pid (no processes line), sampling, every stack shown, long durations, a shrinking
	 * stack. */
	r->pids = one_pid;
	r->nr_pids = 1;
	r->nr_procs = 1;
	r->duration_s = 3725;
	r->sample_rate_bytes = 524288;
	r->nr_stacks_total = 2;
	r->nr_suspects = 0;
	fx.recs[0].oldest_age_s = 125.5;
	fx.stacks[0].trend.growth_bytes_per_s = -1536;
	fx.stacks[1].trend.suspect = false;
	fx.recs[1].outstanding_allocs = 3;
	out = render(out_text_write, r, NULL);
	assert_true(strncmp(out, head, strlen(head)) == 0);
	assert_non_null(strstr(out, "#1 1048576 bytes in 2 blocks (1.0 MiB), pid 1234, oldest "
				    "2m05s, growth -1.5 KiB/s\n"));
	assert_non_null(
		strstr(out, "#2 100 bytes in 3 blocks (100 B), pid 5678, growth +20 B/s\n"));
	assert_null(strstr(out, "more stack"));
	free(out);

	/* One more stack holding nothing counted in totals: no byte figure for it. */
	r->nr_stacks_total = 3;
	fx.snap.totals.outstanding_bytes = 1048676;
	out = render(out_text_write, r, NULL);
	assert_non_null(strstr(out, "\n... 1 more stack; -n 0 shows all\n"));
	free(out);

	/* Nothing outstanding at all. */
	memset(&fx.snap.totals, 0, sizeof(fx.snap.totals));
	r->nr_stacks = 0;
	r->nr_stacks_total = 0;
	out = render(out_text_write, r, NULL);
	assert_non_null(strstr(out, "outstanding: 0 B (0 bytes) in 0 blocks, 0 stacks\n"));
	assert_non_null(strstr(out, "no leak suspects\n\nno outstanding allocations\n"));
	free(out);

	/* Too few readings to judge: said, and no growth figure. */
	r = fixture(false);
	r->judged = false;
	r->nr_readings = 3;
	r->window_s = 4.0;
	r->nr_suspects = 0;
	fx.stacks[0].trend = (struct history_trend){ .growth_bytes_per_s = NAN };
	fx.stacks[1].trend = fx.stacks[0].trend;
	out = render(out_text_write, r, NULL);
	assert_non_null(strstr(out, "no losses\ngrowth: not judged, the run was too short: 3 "
				    "readings over 4.0s, and the leak-suspect rule needs 5\n\n#1 "
				    "1048576 bytes in 2 blocks (1.0 MiB), pid 1234, "
				    "oldest 4.2s\n"));
	assert_non_null(strstr(out, "#2 100 bytes in 1 block (100 B), pid 5678\n"));
	free(out);
	out = render(out_json_write, r, NULL);
	assert_non_null(strstr(out, "\"window_s\": 4, \"window_samples\": 3, "
				    "\"too_few_samples\": true, \"suspects\": 0,\n"));
	assert_non_null(strstr(out, "\"growth_bytes_per_s\": null, \"kind\": \"heap\", \"suspect\": false, "
				    "\"frames\": [\n"));
	free(out);

	/* Control bytes in names cannot break lines or reach the terminal. */
	r = nasty_fixture();
	out = render(out_text_write, r, NULL);
	assert_non_null(strstr(out, "pid 1234, oldest 4.2s, growth +2.0 KiB/s\n"
				    "    a\"b\\c????" "/? \xc3\xa9 \xff \xc0\xaf \xed\xa0\x80 "
				    "\xf0\x9f\x98\x80 \xe2\x82 ;end+0x1 (lib x;y.so) "
				    "src/\xe2\x82\xac.c\n\n"));
	free(out);
}

/* --max-overhead: the budget's line in text, its object in JSON, the rate in force in both. */
static void test_budget(void **state)
{
	struct report_budget b = { .max_overhead = 0.03,
				   .measured = true,
				   .overhead = 0.025,
				   .entry_probes = 0.0125,
				   .trap_entry_ns = 560,
				   .trap_return_ns = 310.5,
				   .trap_entry_sparse_ns = 900,
				   .min_rate_bytes = 600,
				   .max_rate_bytes = 65536,
				   .full_tracking = true,
				   .decisions = 12,
				   .rate_changes = 3 };
	struct report *r = fixture(false);
	char *out;

	r->budget = &b;
	r->sample_rate_bytes = 600;
	out = render(out_text_write, r, NULL);
	assert_non_null(strstr(out, "overhead budget 3% of the traced processes' CPU: the probes "
				    "cost 2.50% (entry probes alone 1.25%); one allocation sampled "
				    "per 600 bytes now; rates 600 to 65536 bytes and full tracking, "
				    "3 changes; figures are estimates\nno losses\n"));
	assert_null(strstr(out, "sampled:"));
	assert_null(strstr(out, "over budget"));
	free(out);
	out = render(out_json_write, r, NULL);
	assert_non_null(strstr(out, "  \"sample_rate_bytes\": 600,\n"
				    "  \"overhead_budget\": {\"max_overhead_pct\": 3, "
				    "\"overhead_pct\": 2.5, \"entry_probes_pct\": 1.25, "
				    "\"entry_probes_over_budget\": false, "
				    "\"entry_probes_ever_over_budget\": false,\n"
				    "    \"trap_entry_ns\": 560, \"trap_return_ns\": 310.5, "
				    "\"trap_entry_sparse_ns\": 900, "
				    "\"min_sample_rate_bytes\": 600, \"max_sample_rate_bytes\": 65536, "
				    "\"full_tracking\": true, \"decisions\": 12, \"rate_changes\": 3},\n"));
	free(out);

	/* Before the first decision, no figure; over the budget by the entry probes alone: said. */
	b.measured = false;
	r->sample_rate_bytes = 0;
	out = render(out_json_write, r, NULL);
	assert_non_null(strstr(out, "\"overhead_pct\": null, \"entry_probes_pct\": null,"));
	free(out);
	out = render(out_text_write, r, NULL);
	assert_non_null(strstr(out, "CPU: not measured yet; every allocation recorded now;"));
	free(out);
	b.measured = true;
	b.entry_probes = 0.5;
	b.entry_probes_over = b.entry_probes_ever_over = true;
	out = render(out_text_write, r, NULL);
	assert_non_null(strstr(out, "\nover budget: the entry probes alone cost more than the "
				    "budget; no sample rate can meet it\n"));
	free(out);
	out = render(out_json_write, r, NULL);
	assert_non_null(strstr(out, "\"entry_probes_over_budget\": true, "
				    "\"entry_probes_ever_over_budget\": true,"));
	free(out);
}

/* How the command ended, and what suppressions dropped: a line each in text, a field in JSON. */
static void test_command_and_suppressed(void **state)
{
	struct report_exit e = { .ended = true, .code = 3 };
	struct report *r = fixture(false);
	char *out;

	r->command_exit = &e;
	fx.snap.suppressed = (struct snapshot_suppressed){ .stacks = 2, .bytes = 8096, .allocs = 2 };
	out = render(out_text_write, r, NULL);
	assert_non_null(strstr(out, " traced for 5.0s\ncommand: exited with status 3\n"));
	assert_non_null(strstr(out, " stacks\nsuppressed: 2 stacks, 7.9 KiB (8096 bytes) in 2 "
				    "blocks, not shown\nsince attach: "));
	free(out);
	out = render(out_json_write, r, NULL);
	assert_non_null(strstr(out, "\n  \"command_exit\": {\"code\": 3},\n  \"suppressed\": "
				    "{\"stacks\": 2, \"bytes\": 8096, \"allocs\": 2},\n"));
	free(out);

	e = (struct report_exit){ .ended = true, .signal = 11 };
	out = render(out_text_write, r, NULL);
	assert_non_null(strstr(out, "\ncommand: killed by SIGSEGV (Segmentation fault)\n"));
	free(out);
	out = render(out_json_write, r, NULL);
	assert_non_null(strstr(out, "\"command_exit\": {\"signal\": \"SIGSEGV\", \"signo\": 11},"));
	free(out);

	e = (struct report_exit){ .ended = false };
	out = render(out_text_write, r, NULL);
	assert_non_null(strstr(out, "\ncommand: still running when tracing ended\n"));
	free(out);
	out = render(out_json_write, r, NULL);
	assert_non_null(strstr(out, "\"command_exit\": null,"));
	free(out);

	/* -p mode: no command line, no field. */
	r->command_exit = NULL;
	memset(&fx.snap.suppressed, 0, sizeof(fx.snap.suppressed));
	out = render(out_text_write, r, NULL);
	assert_null(strstr(out, "command:"));
	assert_null(strstr(out, "suppressed:"));
	free(out);
	out = render(out_json_write, r, NULL);
	assert_null(strstr(out, "command_exit"));
	free(out);
}

static void test_human_units(void **state)
{
	static const struct {
		int64_t bytes;
		const char *text;
	} cases[] = {
		{ 0, "(0 B)" },
		{ 1023, "(1023 B)" },
		{ 1024, "(1.0 KiB)" },
		{ 1536, "(1.5 KiB)" },
		{ 1048524, "(1023.9 KiB)" },
		{ 1048575, "(1.0 MiB)" },
		{ 5ll << 30, "(5.0 GiB)" },
		{ 3ll << 40, "(3.0 TiB)" },
		{ INT64_MAX, "(8.0 EiB)" },
		{ -2048, "(-2.0 KiB)" },
	};
	struct report *r;
	char *out;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = fixture(false);
		fx.recs[0].outstanding_bytes = cases[i].bytes;
		out = render(out_text_write, r, NULL);
		assert_non_null(strstr(out, cases[i].text));
		free(out);
	}
}

/* ---- errors, table, report_build */

static void test_stream_errors(void **state)
{
	static const report_writer_fn writers[] = { out_json_write, out_text_write,
						    out_folded_write };
	FILE *f;
	size_t i;

	for (i = 0; i < 3; i++) {
		f = fopen("/dev/full", "w");
		if (!f) {
			fprintf(stderr, "no /dev/full: skipping\n");
			return;
		}
		assert_int_equal(writers[i](fixture(true), f), -EIO);
		fclose(f);
	}

	/* For the caller's message: why the stream failed, which -EIO does not say. */
	f = fopen("/dev/full", "w");
	assert_non_null(f);
	assert_int_equal(output_error(f, out_text_write(fixture(true), f)), -ENOSPC);
	fclose(f);
	/* A stream that did not fail: err as it is, whatever errno holds. */
	f = tmpfile();
	assert_non_null(f);
	errno = ENOSPC;
	assert_int_equal(output_error(f, -EIO), -EIO);
	assert_int_equal(output_error(f, -ENOMEM), -ENOMEM);
	assert_int_equal(output_error(f, 0), 0);
	fclose(f);
}

static void test_format_table(void **state)
{
	assert_ptr_equal(output_format_find("text")->write, out_text_write);
	assert_ptr_equal(output_format_find("json")->write, out_json_write);
	assert_ptr_equal(output_format_find("folded")->write, out_folded_write);
	assert_ptr_equal(output_format_find("pprof")->write, out_pprof_write);
	assert_string_equal(output_format_find("json")->name, "json");
	assert_null(output_format_find("xml"));
	assert_null(output_format_find(""));
	assert_null(output_format_find("Text"));
	assert_null(output_format_find(NULL));
	assert_ptr_equal(output_format_find("html")->write, out_html_write);
	assert_string_equal(output_format_names(), "text|json|folded|pprof|html");
	assert_string_equal(output_format_names(), "text|json|folded|pprof|html");

	assert_string_equal(output_basename("/usr/lib/libc.so.6"), "libc.so.6");
	assert_string_equal(output_basename("libc.so.6"), "libc.so.6");
	assert_string_equal(output_basename("/x/"), "/x/");
	assert_string_equal(output_basename(""), "");
	assert_null(output_basename(NULL));
}

static void test_report_build(void **state)
{
	struct snapshot *snap = snapshot__new();
	struct stack_record rec;
	uint64_t ips[3][2];
	struct report r = { .version = "9", .pids = one_pid, .nr_pids = 1, .sample_rate_bytes = 7 };
	size_t i;
	char *out;

	assert_non_null(snap);
	snap->duration_s = 2.5;
	for (i = 0; i < 3; i++) {
		memset(&rec, 0, sizeof(rec));
		rec.pid = 42;
		rec.stack_id = i + 1;
		rec.outstanding_bytes = 300 - (int64_t)i * 100;
		rec.outstanding_allocs = 1;
		rec.oldest_age_s = -1;
		rec.nr_ips = (uint32_t)i; /* 0, 1 and 2 frames */
		ips[i][0] = 0x1000 + i;
		ips[i][1] = 0x2000 + i;
		rec.ips = ips[i];
		assert_int_equal(snapshot__add(snap, &rec), 0);
	}
	snapshot__sum_totals(snap);

	/* Without a symbolizer every frame is an unknown one that keeps its address. */
	assert_int_equal(report_build(&r, snap, NULL, 2, NULL), 0);
	assert_ptr_equal(r.snap, snap);
	assert_true(r.duration_s == 2.5);
	assert_string_equal(r.version, "9");
	assert_int_equal(r.nr_pids, 1);
	assert_int_equal(r.sample_rate_bytes, 7);
	assert_int_equal(r.nr_stacks, 2);
	assert_int_equal(r.nr_stacks_total, 3);
	assert_ptr_equal(r.stacks[0].rec, &snap->stacks[0]);
	assert_int_equal(r.stacks[0].nr_frames, 0);
	assert_int_equal(r.stacks[1].nr_frames, 1);
	assert_int_equal(r.stacks[1].frames[0].address, 0x1001);
	assert_null(r.stacks[1].frames[0].function);
	assert_null(r.stacks[1].frames[0].module);
	out = render(out_folded_write, &r, NULL);
	assert_string_equal(out, "[unknown] 300\n0x1001 200\n");
	free(out);
	report_fini(&r);
	assert_null(r.stacks);
	assert_int_equal(r.nr_stacks, 0);
	report_fini(&r);

	assert_int_equal(report_build(&r, snap, NULL, 0, NULL), 0);
	assert_int_equal(r.nr_stacks, 3);
	assert_int_equal(r.stacks[2].nr_frames, 2);
	assert_int_equal(r.stacks[2].frames[1].address, 0x2002);
	out = render(out_folded_write, &r, NULL);
	assert_string_equal(out, "[unknown] 300\n0x1001 200\n0x2002;0x1002 100\n");
	free(out);
	report_fini(&r);

	assert_int_equal(report_build(&r, snap, NULL, 100, NULL), 0);
	assert_int_equal(r.nr_stacks, 3);
	report_fini(&r);

	snap->nr_stacks = 0;
	assert_int_equal(report_build(&r, snap, NULL, 5, NULL), 0);
	assert_int_equal(r.nr_stacks, 0);
	assert_int_equal(r.nr_stacks_total, 0);
	out = render(out_json_write, &r, NULL);
	assert_non_null(strstr(out, "\"stacks\": []\n}\n"));
	free(out);
	report_fini(&r);
	snapshot__free(snap);
}

/* A function of this very test, resolved by the real symbolizer through /proc/self/maps. */
static __attribute__((noinline, used)) int report_probe_target(int x)
{
	return x * 3 + 1;
}

/* A reading at t seconds of stacks 1..n of pid 42, bytes[i] each, sorted by bytes. */
static struct snapshot *reading(double t_s, const int64_t *bytes, size_t n)
{
	struct snapshot *snap = snapshot__new();

	assert_non_null(snap);
	snap->taken_ns = (uint64_t)(t_s * 1e9);
	snap->duration_s = t_s;
	for (size_t i = 0; i < n; i++) {
		struct stack_record rec = { .pid = 42, .stack_id = i + 1,
					    .outstanding_bytes = bytes[i], .outstanding_allocs = 1,
					    .allocs = (uint64_t)bytes[i], .oldest_age_s = -1 };

		assert_int_equal(snapshot__add(snap, &rec), 0);
	}
	snapshot__sort(snap, SORT_BYTES);
	return snap;
}

/* The trends of a run's history: the suspects are listed first under --top, in bytes order. */
static void test_report_trends(void **state)
{
	struct history *h = history__new_covering(HISTORY_RUN_WINDOW);
	struct snapshot *snap = reading(0, NULL, 0);
	struct report r = { 0 };
	int64_t bytes[5];

	assert_non_null(h);
	assert_int_equal(history__update(h, snap), 0);
	for (int t = 1; t <= 6; t++) {
		/* 1: a cache of 9000 bytes; 2: flat; 3, 4: slow leaks; 5: churn */
		bytes[0] = 9000;
		bytes[1] = 5000;
		bytes[2] = 100 * t;
		bytes[3] = 10 * t;
		bytes[4] = t % 2 ? 700 : 0;
		snapshot__free(snap);
		snap = reading(t, bytes, 5);
		assert_int_equal(history__update(h, snap), 0);
		assert_int_equal(report_init(&r, snap, NULL, 2, h), 0);
		assert_int_equal(r.nr_readings, t + 1);
		assert_true(r.window_s == t);
		assert_int_equal(r.judged, t + 1 >= HISTORY_MIN_SAMPLES);
		if (!r.judged) {
			/* Too short: no trend, and the largest listed as without one. */
			assert_int_equal(r.nr_suspects, 0);
			assert_int_equal(r.stacks[0].rec->stack_id, 1);
			assert_int_equal(r.stacks[1].rec->stack_id, 2);
			assert_true(isnan(r.stacks[0].trend.growth_bytes_per_s));
			assert_false(r.stacks[0].trend.suspect);
		}
		report_fini(&r);
	}
	/* Both leaks are listed, though two bigger stacks are not suspects; bytes order stays. */
	assert_int_equal(report_init(&r, snap, NULL, 2, h), 0);
	assert_int_equal(r.nr_suspects, 2);
	assert_int_equal(r.nr_stacks, 2);
	assert_int_equal(r.nr_stacks_total, 5);
	assert_int_equal(r.stacks[0].rec->stack_id, 3);
	assert_int_equal(r.stacks[1].rec->stack_id, 4);
	assert_true(r.stacks[0].trend.suspect && r.stacks[1].trend.suspect);
	assert_true(r.stacks[0].trend.growth_bytes_per_s == 100.0);
	assert_true(r.stacks[1].trend.growth_bytes_per_s == 10.0);
	report_fini(&r);
	/* One place: the larger suspect. Three: the suspects, then the largest other. */
	assert_int_equal(report_init(&r, snap, NULL, 1, h), 0);
	assert_int_equal(r.nr_stacks, 1);
	assert_int_equal(r.stacks[0].rec->stack_id, 3);
	report_fini(&r);
	assert_int_equal(report_init(&r, snap, NULL, 3, h), 0);
	assert_int_equal(r.nr_stacks, 3);
	assert_int_equal(r.stacks[0].rec->stack_id, 1);
	assert_false(r.stacks[0].trend.suspect);
	assert_true(r.stacks[0].trend.growth_bytes_per_s == 1500.0);
	assert_int_equal(r.stacks[1].rec->stack_id, 3);
	assert_int_equal(r.stacks[2].rec->stack_id, 4);
	report_fini(&r);
	/* All: every stack in bytes order, with its trend; the text lists the suspects first. */
	assert_int_equal(report_build(&r, snap, NULL, 0, h), 0);
	assert_int_equal(r.nr_stacks, 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(r.stacks[i].trend.suspect,
				 r.stacks[i].rec->stack_id == 3 || r.stacks[i].rec->stack_id == 4);
	report_fini(&r);
	snapshot__free(snap);
	history__free(h);
}

static void test_report_build_symbolized(void **state)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct snapshot *snap = snapshot__new();
	struct report r = { 0 };
	struct stack_record rec;
	uint64_t ips[2];
	const struct sym_frame *f;
	char *out;

	assert_non_null(sym);
	assert_non_null(snap);
	assert_int_equal(report_probe_target(1), 4);
	assert_int_equal(symbolizer__add_pid(sym, getpid()), 0);
	memset(&rec, 0, sizeof(rec));
	rec.pid = getpid();
	rec.stack_id = 1;
	rec.outstanding_bytes = 64;
	rec.outstanding_allocs = 1;
	rec.nr_ips = 2;
	rec.ips = ips;
	/* Captured addresses are return addresses: one byte past a call still names its caller. */
	ips[0] = (uint64_t)(uintptr_t)report_probe_target + 1;
	ips[1] = 0x10; /* never mapped */
	assert_int_equal(snapshot__add(snap, &rec), 0);

	assert_int_equal(report_build(&r, snap, sym, 20, NULL), 0);
	assert_int_equal(r.nr_stacks, 1);
	/* The caller 0x10 lies outside every mapping: the stack ends before it. */
	assert_int_equal(r.stacks[0].nr_frames, 1);
	f = &r.stacks[0].frames[0];
	assert_int_equal(f->address, rec.ips[0]);
	assert_string_equal(f->function, "report_probe_target");
	assert_int_equal(f->offset, 1);
	assert_non_null(f->module);
	assert_string_equal(output_basename(f->module), "test_outputs");
	out = render(out_folded_write, &r, NULL);
	assert_string_equal(out, "report_probe_target 64\n");
	free(out);
	report_fini(&r);
	snapshot__free(snap);
	symbolizer__free(sym);
}

/* JSON names each stack as it writes it: a report left unnamed writes the same document. */
static void test_json_names_as_it_writes(void **state)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct snapshot *snap = snapshot__new();
	struct report built = { 0 }, lazy = { 0 };
	uint64_t ips[2][2] = { { (uint64_t)(uintptr_t)report_probe_target + 1, 0x10 },
			       { 0x20, (uint64_t)(uintptr_t)report_probe_target + 1 } };
	const struct sym_frame *frames;
	char *want, *got;

	assert_non_null(sym);
	assert_non_null(snap);
	assert_int_equal(symbolizer__add_pid(sym, getpid()), 0);
	for (int i = 0; i < 2; i++) {
		struct stack_record rec = { .pid = getpid(), .stack_id = 1 + i,
					    .outstanding_bytes = 64 - i, .outstanding_allocs = 1,
					    .oldest_age_s = -1,
					    .nr_ips = 2, .ips = ips[i] };

		assert_int_equal(snapshot__add(snap, &rec), 0);
	}
	snapshot__sum_totals(snap);
	assert_int_equal(report_build(&built, snap, sym, 0, NULL), 0);
	assert_int_equal(report_init(&lazy, snap, sym, 0, NULL), 0);
	want = render(out_json_write, &built, NULL);
	got = render(out_json_write, &lazy, NULL);
	assert_string_equal(got, want);
	assert_non_null(strstr(got, "\"function\":\"report_probe_target\""));
	/* Named into the report's scratch, not kept: the stacks are still unnamed. */
	assert_null(lazy.stacks[0].frames);
	assert_int_equal(report_frames(&lazy, 1, &frames), 2);
	assert_int_equal(frames[0].address, 0x20);
	assert_string_equal(frames[1].function, "report_probe_target");
	free(want);
	free(got);
	report_fini(&built);
	report_fini(&lazy);
	snapshot__free(snap);
	symbolizer__free(sym);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checker_itself), cmocka_unit_test(test_json_exact),
		cmocka_unit_test(test_json_empty),     cmocka_unit_test(test_json_doubles), cmocka_unit_test(test_reach_split),
		cmocka_unit_test(test_json_escaping),  cmocka_unit_test(test_folded),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_text_exact),     cmocka_unit_test(test_text_losses),
		cmocka_unit_test(test_text_variants),  cmocka_unit_test(test_command_and_suppressed),
		cmocka_unit_test(test_human_units),    cmocka_unit_test(test_budget),
		cmocka_unit_test(test_stream_errors),  cmocka_unit_test(test_format_table),
		cmocka_unit_test(test_report_build),   cmocka_unit_test(test_report_build_symbolized),
		cmocka_unit_test(test_json_names_as_it_writes),
		cmocka_unit_test(test_report_trends),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
