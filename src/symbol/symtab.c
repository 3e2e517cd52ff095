/* symtab.c: an object's function symbols sorted by address, with the choice of name per address. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/array.h"
#include "base/strpool.h"
#include "proc/elf_file.h"
#include "symbol/symtab.h"

/* libstdc++'s demangler; declared here because this is C. */
char *__cxa_demangle(const char *mangled, char *out, size_t *len, int *status);

struct sym_entry {
	uint64_t start, end; /* [start, end); for a zero-size symbol, end is its section's end */
	const char *raw;     /* name in the symbol table */
	const char *display; /* version-stripped, demangled; NULL until first needed */
	int32_t parent;	     /* nearest earlier sized symbol whose range holds start, or -1 */
	bool sized;
};

struct symtab {
	struct sym_entry *syms; /* sorted by start */
	size_t nr;
};

char *symtab_demangle(const char *name)
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

const char *symtab_display_name(struct strpool *pool, const char *raw)
{
	size_t len = strcspn(raw, "@");
	const char *out = NULL;

	if (!strncmp(raw, "_Z", 2)) {
		char *plain = strndup(raw, len);
		char *dem = plain ? symtab_demangle(plain) : NULL;

		if (dem)
			out = strpool__intern(pool, dem, strlen(dem));
		free(dem);
		free(plain);
	}
	if (!out && raw[len] == '@')
		out = strpool__intern(pool, raw, len);
	return out ? out : raw;
}

/* Every function symbol as read, before one name is chosen per address. */
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
	if (array_reserve(&cv->v, &cv->cap, cv->nr, sizeof(*cv->v), 256))
		return -ENOMEM;
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

/* One entry per address: the preferred name, covering the widest extent given there. */
static size_t merge_cands(const struct cand_vec *cv, struct sym_entry *e)
{
	size_t i, j, n = 0;

	for (i = 0; i < cv->nr; i = j) {
		struct sym_entry *cur = &e[n++];

		cur->start = cv->v[i].start;
		cur->end = cv->v[i].end;
		cur->raw = cv->v[i].name;
		cur->sized = cv->v[i].sized;
		for (j = i + 1; j < cv->nr && cv->v[j].start == cv->v[i].start; j++)
			if (cv->v[j].sized && cv->v[j].end > cur->end)
				cur->end = cv->v[j].end;
	}
	return n;
}

/* Parent links let a lookup step out of a small symbol nested in a larger one. */
static int link_parents(struct sym_entry *e, size_t n)
{
	int32_t *stack = calloc(n ? n : 1, sizeof(*stack));
	size_t depth = 0;

	if (!stack)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		while (depth && e[stack[depth - 1]].end <= e[i].start)
			depth--;
		e[i].parent = depth ? stack[depth - 1] : -1;
		if (e[i].sized)
			stack[depth++] = (int32_t)i;
	}
	free(stack);
	return 0;
}

static int read_symbols(struct symtab *t, struct elf_file *ef, struct elf_file *debug)
{
	struct cand_vec cv = {.ef = ef};
	int err;

	err = elf_file__for_each_func(ef, collect_cb, &cv);
	/* A file stripped down to .dynsym takes the full table from its debug file. */
	if (!err && debug && !elf_file__has_symtab(ef)) {
		cv.ef = debug;
		cv.symtab_only = true;
		err = elf_file__for_each_func(debug, collect_cb, &cv);
	}
	if (err || !cv.nr)
		goto out;
	qsort(cv.v, cv.nr, sizeof(*cv.v), cand_cmp);
	t->syms = calloc(cv.nr, sizeof(*t->syms));
	if (!t->syms) {
		err = -ENOMEM;
		goto out;
	}
	t->nr = merge_cands(&cv, t->syms);
	err = link_parents(t->syms, t->nr);
out:
	free(cv.v);
	return err;
}

struct symtab *symtab__new(struct elf_file *ef, struct elf_file *debug)
{
	struct symtab *t = calloc(1, sizeof(*t));
	int err;

	if (!t)
		return NULL;
	err = read_symbols(t, ef, debug);
	if (err) {
		symtab__free(t);
		errno = -err;
		return NULL;
	}
	return t;
}

static struct sym_entry *find_entry(const struct symtab *t, uint64_t pc)
{
	size_t lo = 0, hi = t->nr;
	int32_t i;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->syms[mid].start <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	for (i = (int32_t)(lo - 1); i >= 0; i = t->syms[i].parent)
		if (t->syms[i].sized && pc < t->syms[i].end)
			return &t->syms[i];
	/* A label without a size extends to the next symbol, but never past its own section. */
	if (!t->syms[lo - 1].sized && pc < t->syms[lo - 1].end)
		return &t->syms[lo - 1];
	return NULL;
}

bool symtab__find(struct symtab *t, uint64_t vaddr, struct strpool *pool, const char **name,
		  uint64_t *start)
{
	struct sym_entry *e = t ? find_entry(t, vaddr) : NULL;

	if (!e)
		return false;
	if (!e->display)
		e->display = symtab_display_name(pool, e->raw);
	*name = e->display;
	*start = e->start;
	return true;
}

void symtab__free(struct symtab *t)
{
	if (!t)
		return;
	free(t->syms);
	free(t);
}
