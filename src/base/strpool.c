/* strpool.c: interned strings, found by their FNV-1a hash in the one hash table. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/hashtab.h"
#include "base/strpool.h"

struct strpool {
	struct hashtab *index; /* FNV-1a of the string -> the copy (a char *), which it owns */
};

struct probe {
	const char *str;
	size_t len;
};

static bool same_string(uint64_t value, const void *ctx)
{
	const char *have = (const char *)(uintptr_t)value;
	const struct probe *want = ctx;

	return !strncmp(have, want->str, want->len) && have[want->len] == '\0';
}

struct strpool *strpool__new(void)
{
	struct strpool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->index = hashtab__new(256);
	if (!p->index) {
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

const char *strpool__intern(struct strpool *p, const char *str, size_t len)
{
	struct probe want = {str, len};
	uint64_t hash = fnv1a_bytes(FNV1A_SEED, str, len);
	uint64_t *have = hashtab__find_match(p->index, hash, same_string, &want);
	char *copy;

	if (have)
		return (const char *)(uintptr_t)*have;
	copy = strndup(str, len);
	if (!copy)
		return NULL;
	if (hashtab__add(p->index, hash, (uintptr_t)copy)) {
		free(copy);
		return NULL;
	}
	return copy;
}

void strpool__free(struct strpool *p)
{
	uint64_t *copy;
	size_t pos = 0;

	if (!p)
		return;
	while (hashtab__next(p->index, &pos, NULL, &copy))
		free((char *)(uintptr_t)*copy);
	hashtab__free(p->index);
	free(p);
}
