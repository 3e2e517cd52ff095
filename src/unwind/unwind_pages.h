/* unwind_pages.h: the page index of an unwind table: a pc's row search narrowed to a few rows. */
#ifndef LT_UNWIND_PAGES_H
#define LT_UNWIND_PAGES_H

#include <stddef.h>
#include <stdint.h>

#include "bpf/leaktop.h"

/*
 * The index of rows[0..nr) (sorted by pc, as struct unwind_table holds them), one entry per page
 * of 2^LT_UNWIND_PAGE_SHIFT bytes from the page of rows[0] to the page of the last row (see struct
 * lt_unwind_page). *base is rows[0].pc >> LT_UNWIND_PAGE_SHIFT. The caller frees it. NULL and
 * errno: ENOENT for no rows, E2BIG for rows so sparse that the index would hold more than
 * UNWIND_PAGES_PER_ROW entries per row (code spread over gigabytes: the BPF side then searches
 * the whole table), ENOMEM.
 */
#define UNWIND_PAGES_PER_ROW 16
struct lt_unwind_page *unwind_pages__build(const struct lt_unwind_row *rows, size_t nr,
					   uint32_t *base, size_t *nr_pages);

/*
 * The row that holds at pc, found as the BPF unwinder finds it: through the index, then a binary
 * search among the page's rows. NULL below the first row.
 */
const struct lt_unwind_row *unwind_pages__find(const struct lt_unwind_row *rows, size_t nr,
					       const struct lt_unwind_page *pages, uint32_t base,
					       size_t nr_pages, uint64_t pc);

#endif
