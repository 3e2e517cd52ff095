/* ksyms.c: kernel addresses -> function and module, through /proc/kallsyms (modules included). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/strpool.h"
#include "symbol/ksyms.h"

struct ksym {
	uint64_t addr;
	const char *name;
	const char *module;
};

struct ksyms {
	struct ksym *syms;
	size_t nr, cap;
	struct strpool *pool;
};

static int cmp_ksym(const void *pa, const void *pb)
{
	const struct ksym *a = pa, *b = pb;

	return (a->addr > b->addr) - (a->addr < b->addr);
}

/* One line: 0 (a text symbol added, or a line skipped) or -ENOMEM. */
static int add_line(struct ksyms *k, char *line)
{
	const char *module = "[kernel]";
	size_t name_len, mod_len = strlen(module);
	char type, *name, *rest;
	uint64_t addr;
	int pos = 0;

	if (sscanf(line, "%" SCNx64 " %c %n", &addr, &type, &pos) != 2 || !pos || !addr)
		return 0;
	if (type != 't' && type != 'T' && type != 'w' && type != 'W')
		return 0;
	name = line + pos;
	name_len = strcspn(name, " \t\n");
	rest = name + name_len;
	rest += strspn(rest, " \t");
	if (*rest == '[' && strchr(rest, ']')) {
		module = rest;
		mod_len = (size_t)(strchr(rest, ']') - rest) + 1;
	}
	if (k->nr == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 65536;
		struct ksym *syms = realloc(k->syms, cap * sizeof(*syms));

		if (!syms)
			return -ENOMEM;
		k->syms = syms;
		k->cap = cap;
	}
	k->syms[k->nr].addr = addr;
	k->syms[k->nr].name = strpool__intern(k->pool, name, name_len);
	k->syms[k->nr].module = strpool__intern(k->pool, module, mod_len);
	if (!k->syms[k->nr].name || !k->syms[k->nr].module)
		return -ENOMEM;
	k->nr++;
	return 0;
}

struct ksyms *ksyms__load(FILE *f)
{
	struct ksyms *k = calloc(1, sizeof(*k));
	char *line = NULL;
	size_t len = 0;
	int err = 0;

	if (k)
		k->pool = strpool__new();
	if (!k || !k->pool) {
		ksyms__free(k);
		errno = ENOMEM;
		return NULL;
	}
	while (!err && getline(&line, &len, f) > 0)
		err = add_line(k, line);
	free(line);
	if (err) {
		ksyms__free(k);
		errno = -err;
		return NULL;
	}
	if (k->nr)
		qsort(k->syms, k->nr, sizeof(*k->syms), cmp_ksym);
	return k;
}

const char *ksyms__find(const struct ksyms *k, uint64_t addr, uint64_t *offset,
			const char **module)
{
	size_t lo = 0, hi = k ? k->nr : 0;

	/* the last symbol at or below addr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (k->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	*offset = addr - k->syms[lo - 1].addr;
	*module = k->syms[lo - 1].module;
	return k->syms[lo - 1].name;
}

void ksyms__free(struct ksyms *k)
{
	if (!k)
		return;
	free(k->syms);
	strpool__free(k->pool);
	free(k);
}
