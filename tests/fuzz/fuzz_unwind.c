/* fuzz_unwind.c: libFuzzer harness for the CFI-to-rows builder (unwind_table__build) on an ELF. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "proc/elf_file.h"
#include "fuzz_file.h"
#include "unwind/unwind.h"
#include "unwind/unwind_pages.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The contract the BPF unwinder relies on: rows strictly sorted by pc (its binary search), and
 * unwind_table__find() answering with the last row at or below a pc.
 */
static void check_table(const struct unwind_table *t)
{
	size_t i;

	for (i = 0; i < t->nr_rows; i++) {
		const struct lt_unwind_row *r = &t->rows[i];

		if (i && t->rows[i - 1].pc >= r->pc)
			__builtin_trap();
		if (unwind_table__find(t, r->pc) != r)
			__builtin_trap();
		if (r->pc && unwind_table__find(t, r->pc - 1) != (i ? r - 1 : NULL))
			__builtin_trap();
	}
	if (t->nr_rows && unwind_table__find(t, UINT64_MAX) != &t->rows[t->nr_rows - 1])
		__builtin_trap();
}

/* The page index's search, as the BPF side makes it, finds the rows the plain search finds. */
static void check_pages(const struct unwind_table *t)
{
	struct lt_unwind_page *pages;
	size_t nr_pages;
	uint32_t base;

	pages = unwind_pages__build(t->rows, t->nr_rows, &base, &nr_pages);
	for (size_t i = 0; i < t->nr_rows; i++) {
		uint64_t pc = t->rows[i].pc;

		for (uint64_t p = pc ? pc - 1 : pc; p <= pc + 1; p++)
			if (unwind_pages__find(t->rows, t->nr_rows, pages, base, nr_pages, p) !=
			    unwind_table__find(t, p))
				__builtin_trap();
	}
	free(pages);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct unwind_table *t;
	struct elf_file *ef;
	struct fuzz_file f;

	fuzz_file_open(&f, data, size);
	ef = elf_file__open(f.path);
	if (ef) {
		t = unwind_table__build(ef);
		if (t) {
			check_table(t);
			check_pages(t);
		}
		unwind_table__free(t);
		elf_file__free(ef);
	}
	fuzz_file_close(&f);
	return 0;
}
