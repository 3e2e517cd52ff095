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

/* A stack's verdict, kept across readings: the rule that matched it, or -1. */
struct verdict {
	int pid;
	uint32_t exec_id;
	uint64_t stack_id;
	int rule;
	uint64_t gen;		/* the last reading that had the stack */
};

struct suppressions {
	char **rules;		/* the patterns, owned */
	size_t nr_rules, cap_rules;
	struct verdict *verdicts;
	size_t nr_verdicts, cap_verdicts;
	struct hashtab *index;	/* hash of (pid, exec_id, stack_id) -> index into verdicts */
	uint64_t gen;
	struct sym_frame *scratch;	/* one stack's frames (REPORT_MAX_FRAMES) */
};

struct suppressions *suppressions__new(void)
{
	struct suppressions *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->index = hashtab__new(1024);
	if (!s->index) {
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
	free(s->scratch);
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
	if (mem) {
		char buf[4096];
		size_t got;

		while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
			fwrite(buf, 1, got, mem);
	}
	ret = ferror(f) ? -EIO : 0;
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
	const struct stack_record *rec;
};

static uint64_t verdict_hash(const struct stack_record *rec)
{
	uint64_t h = fnv1a_u64(FNV1A_SEED, (uint64_t)(uint32_t)rec->pid);

	h = fnv1a_u64(h, rec->exec_id);
	return fnv1a_u64(h, rec->stack_id);
}

static bool verdict_is(uint64_t value, const void *ctx)
{
	const struct verdict_key *k = ctx;
	const struct verdict *v = &k->s->verdicts[value];

	return v->pid == k->rec->pid && v->exec_id == k->rec->exec_id &&
	       v->stack_id == k->rec->stack_id;
}

/* The rule that matches rec (or -1), named once and then kept. 0 or -ENOMEM. */
static int verdict_of(struct suppressions *s, const struct stack_record *rec,
		      struct symbolizer *sym, int *rule)
{
	struct verdict_key key = { s, rec };
	uint64_t h = verdict_hash(rec), *ix = hashtab__find_match(s->index, h, verdict_is, &key);
	size_t n;

	if (ix) {
		s->verdicts[*ix].gen = s->gen;
		*rule = s->verdicts[*ix].rule;
		return 0;
	}
	if (!s->scratch && !(s->scratch = malloc(REPORT_MAX_FRAMES * sizeof(*s->scratch))))
		return -ENOMEM;
	n = report_stack_frames(sym, rec, s->scratch);
	*rule = suppressions__match(s, s->scratch, n);
	if (array_reserve(&s->verdicts, &s->cap_verdicts, s->nr_verdicts, sizeof(*s->verdicts),
			  256) ||
	    hashtab__add(s->index, h, s->nr_verdicts))
		return -ENOMEM;
	s->verdicts[s->nr_verdicts++] = (struct verdict){ .pid = rec->pid, .exec_id = rec->exec_id,
							  .stack_id = rec->stack_id,
							  .rule = *rule, .gen = s->gen };
	return 0;
}

/* Forgets the verdicts of stacks that the last reading did not have, once they are many. */
static void forget_gone(struct suppressions *s, size_t nr_stacks)
{
	size_t out = 0;

	if (s->nr_verdicts <= 2 * nr_stacks + 4096)
		return;
	hashtab__clear(s->index);
	for (size_t i = 0; i < s->nr_verdicts; i++) {
		if (s->verdicts[i].gen != s->gen)
			continue;
		s->verdicts[out] = s->verdicts[i];
		/* Cannot fail: the table keeps the room it had for more entries. */
		hashtab__add(s->index,
			     verdict_hash(&(struct stack_record){ .pid = s->verdicts[out].pid,
								  .exec_id = s->verdicts[out].exec_id,
								  .stack_id = s->verdicts[out].stack_id }),
			     out);
		out++;
	}
	s->nr_verdicts = out;
}

int suppressions__apply(struct suppressions *s, struct snapshot *snap, struct symbolizer *sym)
{
	struct snapshot_suppressed add = { 0 };
	bool *drop;
	size_t out = 0;
	int err = 0;

	if (!s || !s->nr_rules || !snap->nr_stacks)
		return 0;
	drop = calloc(snap->nr_stacks, sizeof(*drop));
	if (!drop)
		return -ENOMEM;
	s->gen++;
	for (size_t i = 0; i < snap->nr_stacks && !err; i++) {
		const struct stack_record *rec = &snap->stacks[i];
		int rule = -1;

		/* The unknown stack has no frames to match. */
		if (!rec->nr_ips)
			continue;
		err = verdict_of(s, rec, sym, &rule);
		drop[i] = rule >= 0;
	}
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
	}
	snap->nr_stacks = out;
	snap->totals.outstanding_bytes -= add.bytes;
	snap->totals.outstanding_allocs -= add.allocs;
	snap->suppressed.stacks += add.stacks;
	snap->suppressed.bytes += add.bytes;
	snap->suppressed.allocs += add.allocs;
	free(drop);
	forget_gone(s, snap->nr_stacks);
	return 0;
}
