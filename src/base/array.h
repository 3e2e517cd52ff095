/* array.h: room for one more element in a malloc'ed array that grows by doubling. */
#ifndef LT_ARRAY_H
#define LT_ARRAY_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/*
 * Makes sure *items (of *cap elements of elem_size bytes, nr in use) has room for one more,
 * doubling it (first_cap at first). On failure *items is untouched. 0 or -ENOMEM.
 */
static inline int array_reserve(void *items, size_t *cap, size_t nr, size_t elem_size,
				size_t first_cap)
{
	void **p = items, *grown;
	size_t want;

	if (nr < *cap)
		return 0;
	want = *cap ? 2 * *cap : first_cap;
	if (want > SIZE_MAX / elem_size)
		return -ENOMEM;
	grown = realloc(*p, want * elem_size);
	if (!grown)
		return -ENOMEM;
	*p = grown;
	*cap = want;
	return 0;
}

/* Whether the n elements of elem_size bytes at items are in cmp's order already. */
static inline bool array_sorted(const void *items, size_t n, size_t elem_size,
				int (*cmp)(const void *, const void *))
{
	const char *p = items;

	for (size_t i = 1; i < n; i++)
		if (cmp(p + (i - 1) * elem_size, p + i * elem_size) > 0)
			return false;
	return true;
}

#endif
