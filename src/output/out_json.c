/* out_json.c: writes a report as the one JSON object of the output contract in DESIGN.md. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "output/output.h"

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates), or 0. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	/* Stops at the terminating NUL, which is no continuation byte. */
	for (i = 2; i < len; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	}
	return len;
}

static void json_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len;

	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	while (*p) {
		if (*p >= 0x80) {
			len = utf8_len(p);
			/* Symbol and file names are bytes, not text: a stray byte must not make the
			 * whole document invalid, so it becomes U+FFFD. */
			if (len) {
				fwrite(p, 1, len, out);
				p += len;
			} else {
				fputs("\\ufffd", out);
				p++;
			}
			continue;
		}
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
			break;
		}
		p++;
	}
	fputc('"', out);
}

/*
 * v written without printf when it is a whole number of nanoseconds (an age or a time from the
 * clock, in seconds) between 1e-4 and 9e6: the decimal of those nanoseconds reads back as v (v is
 * their quotient by 1e9, rounded once), and it is what %.15g writes (v lies within half an ulp of
 * a decimal of at most 15 digits). false otherwise, buf untouched.
 */
static bool format_whole_ns(char *buf, double v)
{
	double a = fabs(v);
	char digits[20];
	uint64_t ns, whole, frac;
	int n = 0;

	if (!(a >= 1e-4 && a < 9e6))
		return false;
	ns = (uint64_t)llround(a * 1e9);
	if ((double)ns / 1e9 != a)
		return false;
	whole = ns / 1000000000;
	frac = ns % 1000000000;
	if (v < 0)
		*buf++ = '-';
	do {
		digits[n++] = (char)('0' + whole % 10);
		whole /= 10;
	} while (whole);
	while (n)
		*buf++ = digits[--n];
	if (frac) {
		/* Nine digits, less the zeros that end them. */
		for (n = 9; frac % 10 == 0; n--)
			frac /= 10;
		*buf++ = '.';
		for (int i = n - 1; i >= 0; i--, frac /= 10)
			buf[i] = (char)('0' + frac % 10);
		buf += n;
	}
	*buf = '\0';
	return true;
}

/*
 * The shortest of %.15g..%.17g that reads back as v, so 5.02 stays "5.02", into buf (64 bytes).
 * JSON has no NaN or infinity: those become null.
 */
static void format_double(char *buf, double v)
{
	char tmp[64];
	int prec, n = -1;
	const char *p;
	bool in_point = false;

	strcpy(buf, "null");
	if (!isfinite(v) || format_whole_ns(buf, v))
		return;
	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (n < 0 || (size_t)n >= sizeof(tmp) || strtod(tmp, NULL) == v)
			break;
	}
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return;
	/* Under a locale such as de_DE (set for the TUI) printf writes "5,02": any decimal point,
	 * whatever its bytes, becomes one '.'. */
	for (p = tmp; *p; p++) {
		if (strchr("0123456789+-eE", *p)) {
			*buf++ = *p;
			in_point = false;
		} else if (!in_point) {
			*buf++ = '.';
			in_point = true;
		}
	}
	*buf = '\0';
}

static void json_double(FILE *out, double v)
{
	char buf[64];

	format_double(buf, v);
	fputs(buf, out);
}

/* --max-overhead: the budget and what the controller measured (percentages: null before). */
static void write_budget(const struct report_budget *b, FILE *out)
{
	const char *yes[] = { "false", "true" };

	fputs("  \"overhead_budget\": {\"max_overhead_pct\": ", out);
	json_double(out, b->max_overhead * 100);
	fputs(", \"overhead_pct\": ", out);
	json_double(out, b->measured ? b->overhead * 100 : NAN);
	fputs(", \"entry_probes_pct\": ", out);
	json_double(out, b->measured ? b->entry_probes * 100 : NAN);
	fprintf(out, ", \"entry_probes_over_budget\": %s, \"entry_probes_ever_over_budget\": %s",
		yes[b->entry_probes_over], yes[b->entry_probes_ever_over]);
	fputs(",\n    \"trap_entry_ns\": ", out);
	json_double(out, b->trap_entry_ns);
	fputs(", \"trap_return_ns\": ", out);
	json_double(out, b->trap_return_ns);
	fputs(", \"trap_entry_sparse_ns\": ", out);
	json_double(out, b->trap_entry_sparse_ns);
	fprintf(out,
		", \"min_sample_rate_bytes\": %" PRIu64 ", \"max_sample_rate_bytes\": %" PRIu64
		", \"full_tracking\": %s, \"decisions\": %" PRIu64 ", \"rate_changes\": %" PRIu64
		"},\n",
		b->min_rate_bytes, b->max_rate_bytes, yes[b->full_tracking], b->decisions,
		b->rate_changes);
}

/*
 * What a report repeats, made once per report: the timelines' times (every stack's samples fall
 * on the run's readings, so the same times come back stack after stack), and the strings that
 * need no escaping among the frames' names (interned: the same pointer each time). Both
 * direct-mapped, by the value's bits and by the pointer.
 */
#define JSON_CACHE_SIZE 256
struct json_cache {
	uint64_t bits[JSON_CACHE_SIZE];
	bool used[JSON_CACHE_SIZE];
	char text[JSON_CACHE_SIZE][64];
	const char *plain[JSON_CACHE_SIZE];	/* a string with nothing to escape */
	size_t plain_len[JSON_CACHE_SIZE];
};

static const char *cached_double(struct json_cache *c, double v)
{
	uint64_t bits;
	size_t slot;

	memcpy(&bits, &v, sizeof(bits));
	slot = (bits ^ bits >> 29 ^ bits >> 47) % JSON_CACHE_SIZE;
	if (!c->used[slot] || c->bits[slot] != bits) {
		format_double(c->text[slot], v);
		c->bits[slot] = bits;
		c->used[slot] = true;
	}
	return c->text[slot];
}

/* A frame's text is made in a buffer and written at once: reports hold millions of frames. */
struct frame_buf {
	FILE *out;
	struct json_cache *cache;
	char *p;
	char buf[4096];
};

/* Writes out what the buffer holds; p starts over. */
static void frame_flush(struct frame_buf *b)
{
	fwrite_unlocked(b->buf, 1, (size_t)(b->p - b->buf), b->out);
	b->p = b->buf;
}

/* Room for len more bytes (less than the buffer). */
static void frame_room(struct frame_buf *b, size_t len)
{
	if ((size_t)(b->buf + sizeof(b->buf) - b->p) < len)
		frame_flush(b);
}

static void frame_put(struct frame_buf *b, const char *s, size_t len)
{
	frame_room(b, len);
	memcpy(b->p, s, len);
	b->p += len;
}

#define FRAME_PUT(b, lit) frame_put(b, lit, sizeof(lit) - 1)

static void frame_u64(struct frame_buf *b, uint64_t v)
{
	char digits[20];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	frame_room(b, n);
	while (n)
		*b->p++ = digits[--n];
}

static void frame_hex(struct frame_buf *b, uint64_t v)
{
	static const char hex[] = "0123456789abcdef";
	char digits[16];
	size_t n = 0;

	do {
		digits[n++] = hex[v & 15];
		v >>= 4;
	} while (v);
	frame_room(b, n + 4);
	*b->p++ = '"';
	*b->p++ = '0';
	*b->p++ = 'x';
	while (n)
		*b->p++ = digits[--n];
	*b->p++ = '"';
}

/* json_string(), copied whole when nothing in s needs escaping (the common case). */
static void frame_string(struct frame_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t slot = ((uintptr_t)s >> 3 ^ (uintptr_t)s >> 11) % JSON_CACHE_SIZE;

	if (!s) {
		FRAME_PUT(b, "null");
		return;
	}
	if (b->cache->plain[slot] == s) {
		frame_room(b, b->cache->plain_len[slot] + 2);
		*b->p++ = '"';
		memcpy(b->p, s, b->cache->plain_len[slot]);
		b->p += b->cache->plain_len[slot];
		*b->p++ = '"';
		return;
	}
	while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
		p++;
	if (*p || (size_t)(p - (const unsigned char *)s) + 2 > sizeof(b->buf)) {
		frame_flush(b);
		json_string(b->out, s);
		return;
	}
	b->cache->plain[slot] = s;
	b->cache->plain_len[slot] = (size_t)(p - (const unsigned char *)s);
	frame_room(b, (size_t)(p - (const unsigned char *)s) + 2);
	*b->p++ = '"';
	memcpy(b->p, s, (size_t)(p - (const unsigned char *)s));
	b->p += p - (const unsigned char *)s;
	*b->p++ = '"';
}

/* A frame: one line, without spaces (most of a report's bytes are its frames). */
static void write_frame(struct frame_buf *b, const struct sym_frame *f)
{
	FRAME_PUT(b, "{\"address\":");
	frame_hex(b, f->address);
	FRAME_PUT(b, ",\"function\":");
	frame_string(b, f->function);
	FRAME_PUT(b, ",\"offset\":");
	frame_u64(b, f->function ? f->offset : 0);
	FRAME_PUT(b, ",\"module\":");
	frame_string(b, f->module);
	FRAME_PUT(b, ",\"module_offset\":");
	if (f->module)
		frame_hex(b, f->module_offset);
	else
		FRAME_PUT(b, "null");
	FRAME_PUT(b, ",\"file\":");
	frame_string(b, f->file);
	FRAME_PUT(b, ",\"line\":");
	if (f->line)
		frame_u64(b, f->line);
	else
		FRAME_PUT(b, "null");
	if (f->inlined)
		FRAME_PUT(b, ",\"inlined\":true}");
	else
		FRAME_PUT(b, ",\"inlined\":false}");
}

/* Stack i's samples in the run's history, for a timeline: times and bytes. Nothing without one. */
static void write_timeline(FILE *out, const struct report *r, size_t i, struct json_cache *cache)
{
	double t_s[HISTORY_MAX_WINDOW];
	int64_t bytes[HISTORY_MAX_WINDOW];
	size_t n = report_stack_timeline(r, i, t_s, bytes);

	if (!r->history)
		return;
	fputs(",\n     \"timeline_s\": [", out);
	for (size_t j = 0; j < n; j++) {
		fputs(j ? ", " : "", out);
		fputs(cached_double(cache, t_s[j]), out);
	}
	fputs("], \"timeline_bytes\": [", out);
	for (size_t j = 0; j < n; j++)
		fprintf(out, "%s%" PRId64, j ? ", " : "", bytes[j]);
	fputc(']', out);
}

static void write_stack(FILE *out, const struct report *r, size_t i_stack, struct json_cache *cache)
{
	const struct report_stack *rs = &r->stacks[i_stack];
	const struct stack_record *rec = rs->rec;
	const struct sym_frame *frames;
	struct frame_buf fb;
	size_t i, n;

	fprintf(out,
		"{\"pid\": %d, \"outstanding_bytes\": %" PRId64 ", \"outstanding_allocs\": %" PRId64
		", \"allocs\": %" PRIu64 ", \"alloc_bytes\": %" PRIu64 ",\n     \"oldest_age_s\": ",
		rec->pid, rec->outstanding_bytes, rec->outstanding_allocs, rec->allocs,
		rec->alloc_bytes);
	if (rec->oldest_age_s >= 0)
		json_double(out, rec->oldest_age_s);
	else
		fputs("null", out);
	fputs(", \"growth_bytes_per_s\": ", out);
	/* The same growth comes back stack after stack where sites grow alike. */
	fputs(cached_double(cache, rs->trend.growth_bytes_per_s), out);
	fprintf(out, ", \"kind\": \"%s\"", snapshot_kind_name(rec->kind));
	fprintf(out, ", \"suspect\": %s", rs->trend.suspect ? "true" : "false");
	write_timeline(out, r, i_stack, cache);
	if (rec->reach)
		fprintf(out,
			",\n     \"lost_bytes\": %" PRId64 ", \"lost_allocs\": %" PRId64
			", \"possibly_lost_bytes\": %" PRId64 ", \"possibly_lost_allocs\": %" PRId64
			", \"reachable_bytes\": %" PRId64 ", \"reachable_allocs\": %" PRId64,
			rec->reach->bytes[REACH_LOST], rec->reach->allocs[REACH_LOST],
			rec->reach->bytes[REACH_POSSIBLY], rec->reach->allocs[REACH_POSSIBLY],
			rec->reach->bytes[REACH_REACHABLE], rec->reach->allocs[REACH_REACHABLE]);
	fputs(", \"frames\": [", out);
	/* Named as written when the report was not: one stack's frames in memory at a time. */
	n = report_frames(r, i_stack, &frames);
	fb.out = out;
	fb.cache = cache;
	fb.p = fb.buf;
	for (i = 0; i < n; i++) {
		if (i)
			FRAME_PUT(&fb, ",");
		FRAME_PUT(&fb, "\n  ");
		write_frame(&fb, &frames[i]);
	}
	frame_flush(&fb);
	fputs(n ? "\n    ]}" : "]}", out);
}

/* Every process of the run: its pids (here and in its own namespace), origin and fate. */
static void write_processes(const struct report *r, FILE *out)
{
	fputs("  \"processes\": [", out);
	for (size_t i = 0; i < r->nr_procs; i++) {
		const struct report_proc *p = &r->procs[i];

		fprintf(out, "%s{\"pid\": %d, \"nspid\": %d, \"ppid\": %d, \"comm\": ",
			i ? ",\n    " : "\n    ", p->pid, p->nspid, p->ppid);
		json_string(out, p->comm);
		fputs(", \"state\": ", out);
		json_string(out, p->state);
		fprintf(out, ", \"followed\": %s, \"execs\": %" PRIu32 ", \"gap_s\": ",
			p->followed ? "true" : "false", p->execs);
		json_double(out, p->gap_s);
		if (p->reason[0]) {
			fputs(", \"reason\": ", out);
			json_string(out, p->reason);
		}
		fputc('}', out);
	}
	fputs(r->nr_procs ? "\n  ],\n" : "],\n", out);
}

/* "command_exit": {"code": N}, {"signal": "SIGSEGV"}, or null while the command runs on. */
static void write_command_exit(const struct report_exit *e, FILE *out)
{
	char sig[32];

	fputs("  \"command_exit\": ", out);
	if (!e->ended) {
		fputs("null,\n", out);
	} else if (e->signal) {
		output_signal_name(e->signal, sig, sizeof(sig));
		fprintf(out, "{\"signal\": \"%s\", \"signo\": %d},\n", sig, e->signal);
	} else {
		fprintf(out, "{\"code\": %d},\n", e->code);
	}
}

int out_json_write(const struct report *r, FILE *out)
{
	static const struct snapshot empty;
	const struct snapshot *snap = r->snap ? r->snap : &empty;
	const struct snapshot_totals *t = &snap->totals;
	struct json_cache *cache;
	bool first = true;
	size_t i;
	int s;

	fputs("{\n  \"tool\": \"leaktop\",\n  \"version\": ", out);
	json_string(out, r->version);
	fputs(",\n  \"pids\": [", out);
	for (i = 0; i < r->nr_pids; i++)
		fprintf(out, "%s%d", i ? ", " : "", r->pids[i]);
	fputs("],\n", out);
	write_processes(r, out);
	if (r->source) {
		fputs("  \"source\": ", out);
		json_string(out, r->source);
		fputs(",\n", out);
	}
	fputs("  \"duration_s\": ", out);
	json_double(out, r->duration_s);
	fprintf(out, ",\n  \"sample_rate_bytes\": %" PRIu64 ",\n", r->sample_rate_bytes);
	if (r->budget)
		write_budget(r->budget, out);
	/* The window of growth and suspects; too few samples: every growth is null. */
	fputs("  \"window_s\": ", out);
	json_double(out, r->nr_readings ? r->window_s : NAN);
	fprintf(out, ", \"window_samples\": %zu, \"too_few_samples\": %s, \"suspects\": %zu,\n",
		r->nr_readings, r->judged ? "false" : "true", r->nr_suspects);
	if (r->command_exit)
		write_command_exit(r->command_exit, out);
	fprintf(out,
		"  \"suppressed\": {\"stacks\": %" PRIu64 ", \"bytes\": %" PRId64
		", \"allocs\": %" PRId64 "},\n",
		snap->suppressed.stacks, snap->suppressed.bytes, snap->suppressed.allocs);
	fprintf(out,
		"  \"totals\": {\"outstanding_bytes\": %" PRId64
		", \"outstanding_allocs\": %" PRId64 ", \"allocs\": %" PRIu64
		", \"frees\": %" PRIu64 ", \"alloc_bytes\": %" PRIu64 "},\n",
		t->outstanding_bytes, t->outstanding_allocs, t->allocs, t->frees, t->alloc_bytes);
	fputs("  \"stats\": {", out);
	/* allocs and frees are events, not losses: they are in totals. */
	for (s = 0; s < LT_STAT_MAX; s++) {
		if (s == LT_STAT_ALLOCS || s == LT_STAT_FREES)
			continue;
		fprintf(out, "%s\"%s\": %" PRIu64, first ? "" : ", ",
			snapshot_stat_name((enum lt_stat)s), snap->stats[s]);
		first = false;
	}
	fprintf(out, "},\n  \"stacks_total\": %zu,\n  \"stacks\": [", r->nr_stacks_total);
	cache = r->nr_stacks ? calloc(1, sizeof(*cache)) : NULL;
	if (r->nr_stacks && !cache)
		return -ENOMEM;
	for (i = 0; i < r->nr_stacks; i++) {
		fputs(i ? ",\n    " : "\n    ", out);
		write_stack(out, r, i, cache);
	}
	free(cache);
	fputs(r->nr_stacks ? "\n  ]\n}\n" : "]\n}\n", out);
	if (fflush(out) || ferror(out))
		return -EIO;
	return 0;
}
