/* suppress.c: LeakSanitizer-style suppressions: rules parsed, stacks matched, readings filtered. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "base/hashtab.h"
#include "model/default_supp.h"
#include "model/report.h"
#include "model/suppress.h"

/*
 * The verdict on one return address of a process image, kept across readings: the first rule that
 * matches one of the frames it names (inlined ones too), or -1, and whether it lies in a mapped
 * object. Stacks share their return addresses, so a stack new to a reading costs a lookup per
 * frame, not a symbolization and every pattern against every frame.
 */
struct verdict {
	int pid;
	uint32_t exec_id;
	uint64_t pc;
	int rule;
	bool mapped;
	uint64_t gen;		/* the last reading that met the address */
};

/*
 * The verdict on a whole stack, which its addresses' verdicts decide once for all: a reading
 * looks each stack up once instead of each of its addresses.
 */
struct stack_verdict {
	int pid;
	uint64_t stack_id;
	int rule;
	uint64_t gen;		/* the last reading that met the stack */
};

struct suppressions {
	char **rules;		/* the patterns, owned */
	size_t nr_rules, cap_rules;
	struct verdict *verdicts;
	size_t nr_verdicts, cap_verdicts;
	struct hashtab *index;	/* hash of (pid, exec_id, pc) -> index into verdicts */
	struct stack_verdict *stacks;
	size_t nr_stacks, cap_stacks;
	struct hashtab *stack_index;	/* hash of (pid, stack id) -> index into stacks */
	/*
	 * The verdict of each stack of the last reading, by its position: a reading lists its stacks
	 * as the last one did unless they moved, so most are found here without a look-up.
	 */
	uint32_t *order;
	size_t nr_order, cap_order;
	uint64_t gen;
	struct sym_frame scratch[REPORT_FRAMES_PER_IP];	/* one address's frames */
};

struct suppressions *suppressions__new(void)
{
	struct suppressions *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->index = hashtab__new(1024);
	s->stack_index = hashtab__new(1024);
	if (!s->index || !s->stack_index) {
		hashtab__free(s->index);
		hashtab__free(s->stack_index);
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

void suppressions__free(struct suppressions *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nr_rules; i++)
		free(s->rules[i]);
	free(s->rules);
	free(s->verdicts);
	hashtab__free(s->index);
	free(s->stacks);
	free(s->order);
	hashtab__free(s->stack_index);
	free(s);
}

size_t suppressions__count(const struct suppressions *s)
{
	return s ? s->nr_rules : 0;
}

__attribute__((format(printf, 3, 4))) static int parse_error(char *err, size_t err_len,
							      const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Drops the rules from `keep` on: a text that failed leaves the list as it was. */
static void truncate_rules(struct suppressions *s, size_t keep)
{
	while (s->nr_rules > keep)
		free(s->rules[--s->nr_rules]);
}

int suppressions__parse(struct suppressions *s, const char *text, const char *origin, char *err,
			size_t err_len)
{
	static const char type[] = "leak:";
	size_t before = s->nr_rules;
	unsigned int line_no = 0;
	const char *line = text;

	while (*line) {
		const char *end = strchr(line, '\n'), *next;

		next = end ? end + 1 : line + strlen(line);
		if (!end)
			end = next;
		line_no++;
		while (line < end && isspace((unsigned char)*line))
			line++;
		while (end > line && isspace((unsigned char)end[-1]))
			end--;
		if (line < end && *line != '#') {
			size_t len = (size_t)(end - line), tl = sizeof(type) - 1;
			int shown = len > 60 ? 60 : (int)len;

			if (len < tl || memcmp(line, type, tl)) {
				truncate_rules(s, before);
				return parse_error(err, err_len,
						   "%s:%u: '%.*s' is not a leak suppression "
						   "(expected leak:PATTERN)",
						   origin, line_no, shown, line);
			}
			if (len == tl) {
				truncate_rules(s, before);
				return parse_error(err, err_len, "%s:%u: empty pattern after leak:",
						   origin, line_no);
			}
			if (array_reserve(&s->rules, &s->cap_rules, s->nr_rules, sizeof(*s->rules),
					  16) ||
			    !(s->rules[s->nr_rules] = strndup(line + tl, len - tl))) {
				truncate_rules(s, before);
				parse_error(err, err_len, "out of memory");
				return -ENOMEM;
			}
			s->nr_rules++;
		}
		line = next;
	}
	return 0;
}

int suppressions__add_defaults(struct suppressions *s)
{
	char err[256];

	/* The text is ours and checked by the unit tests: only memory can fail here. */
	return suppressions__parse(s, suppress_default_text, "default.supp", err, sizeof(err));
}

int suppressions__load(struct suppressions *s, const char *path, char *err, size_t err_len)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;
	FILE *mem;
	int ret;

	if (!f) {
		ret = -errno;
		parse_error(err, err_len, "cannot read the suppressions %s: %s", path,
			    strerror(-ret));
		return ret;
	}
	/* The whole file as one string; a file of patterns is small. */
	mem = open_memstream(&text, &len);
	errno = 0;
	if (mem) {
		char buf[4096];
		size_t got;

		while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
			fwrite(buf, 1, got, mem);
	}
	/* A directory opens, and fails at the first read (EISDIR). */
	ret = ferror(f) ? (errno ? -errno : -EIO) : 0;
	if (ret)
		parse_error(err, err_len, "cannot read the suppressions %s: %s", path,
			    strerror(-ret));
	fclose(f);
	if (!mem || fclose(mem)) {
		free(text);
		parse_error(err, err_len, "out of memory");
		return -ENOMEM;
	}
	if (!ret && memchr(text, '\0', len))
		ret = parse_error(err, err_len, "%s: not a text file", path);
	if (!ret)
		ret = suppressions__parse(s, text, path, err, err_len);
	free(text);
	return ret;
}

/* The first place in str where the len bytes at piece occur, or NULL. */
static const char *find_piece(const char *str, const char *piece, size_t len)
{
	for (; *str; str++)
		if (!strncmp(str, piece, len))
			return str;
	return NULL;
}

bool suppress_pattern_match(const char *pattern, const char *str)
{
	bool anchored = false, after_star = false;
	const char *p = pattern;

	if (!str || !*str)
		return false;
	if (*p == '^') {
		anchored = true;
		p++;
	}
	while (*p) {
		const char *found;
		size_t len;

		if (*p == '*') {
			p++;
			anchored = false;
			after_star = true;
			continue;
		}
		if (*p == '$')
			return !*str || after_star;
		if (!*str)
			return false;
		/* The piece up to the next `*` or `$`, found anywhere in what is left of str. */
		len = strcspn(p, "*$");
		found = find_piece(str, p, len);
		if (!found || (anchored && found != str))
			return false;
		str = found + len;
		p += len;
		anchored = false;
		after_star = false;
	}
	return true;
}

int suppressions__match(const struct suppressions *s, const struct sym_frame *frames, size_t n)
{
	/* LSan's order at each frame: its module, then its function and its file. */
	for (size_t i = 0; i < n; i++) {
		const struct sym_frame *f = &frames[i];

		for (size_t r = 0; r < s->nr_rules; r++)
			if (suppress_pattern_match(s->rules[r], f->module) ||
			    suppress_pattern_match(s->rules[r], f->function) ||
			    suppress_pattern_match(s->rules[r], f->file))
				return (int)r;
	}
	return -1;
}

struct verdict_key {
	const struct suppressions *s;
	int pid;
	uint32_t exec_id;
	uint64_t pc;
};

static uint64_t verdict_hash(int pid, uint32_t exec_id, uint64_t pc)
{
	return fnv1a_u64(fnv1a_u64(fnv1a_u64(FNV1A_SEED, (uint32_t)pid), exec_id), pc);
}

static bool verdict_is(uint64_t value, const void *ctx)
{
	const struct verdict_key *k = ctx;
	const struct verdict *v = &k->s->verdicts[value];

	return v->pid == k->pid && v->exec_id == k->exec_id && v->pc == k->pc;
}

/* The verdict on return address pc of rec's process image, named once and then kept. NULL:
 * ENOMEM. The pointer is good until the next call. */
static const struct verdict *verdict_of(struct suppressions *s, const struct stack_record *rec,
					uint64_t pc, struct symbolizer *sym)
{
	struct verdict_key key = { s, rec->pid, rec->exec_id, pc };
	uint64_t h = verdict_hash(rec->pid, rec->exec_id, pc);
	uint64_t *ix = hashtab__find_match(s->index, h, verdict_is, &key);
	struct verdict *v;
	size_t n;

	if (ix) {
		v = &s->verdicts[*ix];
		v->gen = s->gen;
		return v;
	}
	if (array_reserve(&s->verdicts, &s->cap_verdicts, s->nr_verdicts, sizeof(*s->verdicts),
			  256) ||
	    hashtab__add(s->index, h, s->nr_verdicts))
		return NULL;
	n = symbolizer__resolve(sym, rec->pid, rec->exec_id, pc, true, s->scratch,
				REPORT_FRAMES_PER_IP);
	if (n > REPORT_FRAMES_PER_IP)
		n = REPORT_FRAMES_PER_IP;
	v = &s->verdicts[s->nr_verdicts++];
	*v = (struct verdict){ .pid = rec->pid, .exec_id = rec->exec_id, .pc = pc,
			       .rule = n ? suppressions__match(s, s->scratch, n) : -1,
			       .mapped = n && s->scratch[0].module, .gen = s->gen };
	return v;
}

/*
 * The first rule that matches a frame of rec, or -1: the frames the reports show, address by
 * address. 0 or -ENOMEM.
 */
static int stack_rule(struct suppressions *s, const struct stack_record *rec,
		      struct symbolizer *sym, int *rule)
{
	uint32_t nr_ips = rec->nr_ips < LT_MAX_DEPTH ? rec->nr_ips : LT_MAX_DEPTH;

	*rule = -1;
	for (uint32_t i = 0; i < nr_ips; i++) {
		const struct verdict *v = verdict_of(s, rec, rec->ips[i], sym);

		if (!v)
			return -ENOMEM;
		if (report_ends_stack(i, v->mapped))
			return 0;
		if (v->rule >= 0) {
			*rule = v->rule;
			return 0;
		}
	}
	return 0;
}

struct stack_key {
	const struct suppressions *s;
	int pid;
	uint64_t stack_id;
};

static uint64_t stack_hash(int pid, uint64_t stack_id)
{
	return fnv1a_u64(fnv1a_u64(FNV1A_SEED, (uint32_t)pid), stack_id);
}

static bool stack_is(uint64_t value, const void *ctx)
{
	const struct stack_key *k = ctx;
	const struct stack_verdict *v = &k->s->stacks[value];

	return v->pid == k->pid && v->stack_id == k->stack_id;
}

/*
 * stack_rule() of rec, kept by (pid, stack id) for the next readings: a stack id is a hash of
 * the process, its image and the addresses (the unknown stack, 0, has none). 0 or -ENOMEM.
 */
static int stack_verdict(struct suppressions *s, size_t pos, const struct stack_record *rec,
			 struct symbolizer *sym, int *rule)
{
	struct stack_key key = { s, rec->pid, rec->stack_id };
	uint64_t h, *ix;
	uint32_t at = pos < s->nr_order ? s->order[pos] : UINT32_MAX;
	int err;

	if (at < s->nr_stacks && stack_is(at, &key)) {
		s->stacks[at].gen = s->gen;
		*rule = s->stacks[at].rule;
		return 0;
	}
	h = stack_hash(rec->pid, rec->stack_id);
	ix = hashtab__find_match(s->stack_index, h, stack_is, &key);
	if (ix) {
		s->stacks[*ix].gen = s->gen;
		*rule = s->stacks[*ix].rule;
		s->order[pos] = (uint32_t)*ix;
		return 0;
	}
	err = stack_rule(s, rec, sym, rule);
	if (err)
		return err;
	if (s->nr_stacks >= UINT32_MAX ||
	    array_reserve(&s->stacks, &s->cap_stacks, s->nr_stacks, sizeof(*s->stacks), 256) ||
	    hashtab__add(s->stack_index, h, s->nr_stacks))
		return -ENOMEM;
	s->order[pos] = (uint32_t)s->nr_stacks;
	s->stacks[s->nr_stacks++] = (struct stack_verdict){
		.pid = rec->pid, .stack_id = rec->stack_id, .rule = *rule, .gen = s->gen
	};
	return 0;
}

/* Forgets the verdicts on stacks that the last reading did not meet, once they are many. */
static void forget_gone_stacks(struct suppressions *s, size_t nr_met)
{
	size_t out = 0;

	if (s->nr_stacks <= 2 * nr_met + 4096)
		return;
	s->nr_order = 0;	/* the verdicts move */
	hashtab__clear(s->stack_index);
	for (size_t i = 0; i < s->nr_stacks; i++) {
		const struct stack_verdict *v = &s->stacks[i];

		if (v->gen != s->gen)
			continue;
		s->stacks[out] = *v;
		/* Cannot fail: the table keeps the room it had for more entries. */
		hashtab__add(s->stack_index, stack_hash(v->pid, v->stack_id), out);
		out++;
	}
	s->nr_stacks = out;
}

/* Forgets the verdicts on addresses that the last reading did not meet, once they are many. */
static void forget_gone(struct suppressions *s, size_t nr_met)
{
	size_t out = 0;

	if (s->nr_verdicts <= 2 * nr_met + 4096)
		return;
	hashtab__clear(s->index);
	for (size_t i = 0; i < s->nr_verdicts; i++) {
		const struct verdict *v = &s->verdicts[i];

		if (v->gen != s->gen)
			continue;
		s->verdicts[out] = *v;
		/* Cannot fail: the table keeps the room it had for more entries. */
		hashtab__add(s->index, verdict_hash(v->pid, v->exec_id, v->pc), out);
		out++;
	}
	s->nr_verdicts = out;
}

int suppressions__apply(struct suppressions *s, struct snapshot *snap, struct symbolizer *sym)
{
	struct snapshot_suppressed add = { 0 };
	size_t out = 0, met = 0;
	bool *drop;
	int err = 0;

	/* Without a symbolizer no frame has a name: nothing can match. */
	if (!s || !s->nr_rules || !snap->nr_stacks || !sym)
		return 0;
	drop = calloc(snap->nr_stacks, sizeof(*drop));
	if (!drop)
		return -ENOMEM;
	if (snap->nr_stacks > s->cap_order) {
		uint32_t *order = realloc(s->order, snap->nr_stacks * sizeof(*order));

		if (!order) {
			free(drop);
			return -ENOMEM;
		}
		s->order = order;
		s->cap_order = snap->nr_stacks;
	}
	/* Positions past the last reading's hold nothing yet. */
	for (size_t i = s->nr_order; i < snap->nr_stacks; i++)
		s->order[i] = UINT32_MAX;
	s->gen++;
	for (size_t i = 0; i < snap->nr_stacks && !err; i++) {
		const struct stack_record *rec = &snap->stacks[i];
		int rule;

		err = stack_verdict(s, i, rec, sym, &rule);
		drop[i] = rule >= 0;
		met += rec->nr_ips;
	}
	s->nr_order = err ? 0 : snap->nr_stacks;
	if (err) {
		free(drop);
		return err;
	}
	for (size_t i = 0; i < snap->nr_stacks; i++) {
		const struct stack_record *rec = &snap->stacks[i];

		if (!drop[i]) {
			if (out != i)
				snap->stacks[out] = *rec;
			out++;
			continue;
		}
		if (rec->outstanding_allocs > 0) {
			add.stacks++;
			add.bytes += rec->outstanding_bytes;
			add.allocs += rec->outstanding_allocs;
		}
		stack_ips__put(rec->shared);
	}
	snap->nr_stacks = out;
	snap->totals.outstanding_bytes -= add.bytes;
	snap->totals.outstanding_allocs -= add.allocs;
	snap->suppressed.stacks += add.stacks;
	snap->suppressed.bytes += add.bytes;
	snap->suppressed.allocs += add.allocs;
	free(drop);
	forget_gone(s, met);
	forget_gone_stacks(s, snap->nr_stacks + add.stacks);
	return 0;
}
