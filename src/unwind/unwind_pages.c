/* unwind_pages.c: the page index of an unwind table: a pc's row search narrowed to a few rows. */
#include <errno.h>
#include <stdlib.h>

#include "unwind/unwind_pages.h"

struct lt_unwind_page *unwind_pages__build(const struct lt_unwind_row *rows, size_t nr,
					   uint32_t *base, size_t *nr_pages)
{
	struct lt_unwind_page *pages;
	size_t n, r = 0;

	*nr_pages = 0;
	*base = 0;
	if (!nr) {
		errno = ENOENT;
		return NULL;
	}
	*base = rows[0].pc >> LT_UNWIND_PAGE_SHIFT;
	n = (size_t)(rows[nr - 1].pc >> LT_UNWIND_PAGE_SHIFT) - *base + 1;
	if (n > nr * UNWIND_PAGES_PER_ROW) {
		errno = E2BIG;
		return NULL;
	}
	pages = calloc(n, sizeof(*pages));
	if (!pages) {
		errno = ENOMEM;
		return NULL;
	}
	/* r walks the rows once: the last row at or below each page's start, then below its end. */
	for (size_t p = 0; p < n; p++) {
		uint64_t start = ((uint64_t)*base + p) << LT_UNWIND_PAGE_SHIFT;
		uint64_t end = start + (1ull << LT_UNWIND_PAGE_SHIFT);

		while (r + 1 < nr && rows[r + 1].pc <= start)
			r++;
		pages[p].lo = (uint32_t)r;
		while (r + 1 < nr && rows[r + 1].pc < end)
			r++;
		pages[p].hi = (uint32_t)r + 1;
	}
	*nr_pages = n;
	return pages;
}

/* The first of rows[lo..hi) whose pc lies above pc; hi when none does. */
static uint64_t first_above(const struct lt_unwind_row *rows, uint64_t lo, uint64_t hi,
			    uint64_t pc)
{
	uint64_t mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (rows[mid].pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct lt_unwind_row *unwind_pages__find(const struct lt_unwind_row *rows, size_t nr,
					       const struct lt_unwind_page *pages, uint32_t base,
					       size_t nr_pages, uint64_t pc)
{
	uint64_t page = pc >> LT_UNWIND_PAGE_SHIFT, lo;

	if (!nr || page < base)
		return NULL;
	if (!nr_pages) {
		/* No index: the whole table. */
		lo = first_above(rows, 0, nr, pc);
		return lo ? &rows[lo - 1] : NULL;
	}
	if (page - base >= nr_pages)
		return &rows[nr - 1];
	/* rows[pages.lo].pc <= pc unless pc lies below the first row: checked at the end. */
	lo = first_above(rows, pages[page - base].lo + 1, pages[page - base].hi, pc);
	return rows[lo - 1].pc <= pc ? &rows[lo - 1] : NULL;
}
