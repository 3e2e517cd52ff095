/* test_unwind.c: unwind tables built from fixtures' CFI, row by row against readelf's reading. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <cmocka.h>

#include "proc/elf_file.h"
#include "fixtures/fixture_path.h"
#include "unwind/unwind.h"
#include "unwind/unwind_pages.h"

struct fixture {
	struct elf_file *ef;
	struct unwind_table *t;
	char *path;
};

static void open_fixture(struct fixture *fx, const char *name)
{
	fx->path = fixture_path(name);
	assert_non_null(fx->path);
	fx->ef = elf_file__open(fx->path);
	if (!fx->ef)
		fail_msg("cannot open %s: %s", fx->path, strerror(errno));
	fx->t = unwind_table__build(fx->ef);
	if (!fx->t)
		fail_msg("no unwind table for %s: %s", fx->path, strerror(errno));
}

static void close_fixture(struct fixture *fx)
{
	unwind_table__free(fx->t);
	elf_file__free(fx->ef);
	free(fx->path);
}

static uint64_t func_addr(struct fixture *fx, const char *name)
{
	struct elf_sym sym;

	if (elf_file__find_func(fx->ef, name, false, &sym))
		fail_msg("%s not in %s", name, fx->path);
	return sym.vaddr;
}

/* One row as readelf --debug-dump=frames-interp prints it. */
struct readelf_row {
	uint64_t loc;
	char cfa[32]; /* "rsp+16", "rbp+16", "exp" */
	char rbp[32]; /* "c-16", "u", or "" when the table has no rbp column */
	char ra[32];
};

/*
 * The rows of the FDE that covers addr, in the section named (".eh_frame" or ".debug_frame"),
 * read from readelf: an independent reading of the same CFI. Returns how many.
 */
static size_t readelf_rows(const char *path, const char *section, uint64_t addr,
			   struct readelf_row *rows, size_t max)
{
	char *cmd, line[512], cols[16][32];
	size_t n = 0, nr_cols = 0;
	bool in_section = false, in_fde = false;
	int rbp_col = -1, ra_col = -1;
	FILE *p;

	assert_true(asprintf(&cmd, "readelf --debug-dump=frames-interp '%s' 2>/dev/null", path) >
		    0);
	p = popen(cmd, "r");
	free(cmd);
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		unsigned long long lo, hi;
		const char *fde;

		if (!strncmp(line, "Contents of the ", 16)) {
			in_section = !strncmp(line + 16, section, strlen(section)) &&
				     line[16 + strlen(section)] == ' ';
			in_fde = false;
			continue;
		}
		if (!in_section)
			continue;
		fde = strstr(line, " FDE cie=");
		if (fde) {
			in_fde = sscanf(strstr(fde, "pc="), "pc=%llx..%llx", &lo, &hi) == 2 &&
				 addr >= lo && addr < hi;
			nr_cols = 0;
			continue;
		}
		if (!in_fde)
			continue;
		if (strstr(line, "   LOC ")) {
			char *save = NULL, *tok = strtok_r(line, " \n", &save);

			rbp_col = ra_col = -1;
			for (nr_cols = 0; tok && nr_cols < 16; tok = strtok_r(NULL, " \n", &save)) {
				if (!strcmp(tok, "rbp"))
					rbp_col = (int)nr_cols;
				if (!strcmp(tok, "ra"))
					ra_col = (int)nr_cols;
				nr_cols++;
			}
			continue;
		}
		if (nr_cols && line[0] >= '0' && line[0] <= 'f' && n < max) {
			char *save = NULL, *tok = strtok_r(line, " \n", &save);
			size_t c = 0;

			for (; tok && c < 16; tok = strtok_r(NULL, " \n", &save))
				snprintf(cols[c++], sizeof(cols[0]), "%s", tok);
			if (c != nr_cols)
				continue;
			rows[n].loc = strtoull(cols[0], NULL, 16);
			snprintf(rows[n].cfa, sizeof(rows[n].cfa), "%s", cols[1]);
			snprintf(rows[n].rbp, sizeof(rows[n].rbp), "%s",
				 rbp_col >= 0 ? cols[rbp_col] : "");
			snprintf(rows[n].ra, sizeof(rows[n].ra), "%s",
				 ra_col >= 0 ? cols[ra_col] : "");
			n++;
		}
	}
	pclose(p);
	return n;
}

/* The row readelf reads must be the one the table holds at the same address. */
static void assert_row_matches(const struct unwind_table *t, const struct readelf_row *e)
{
	const struct lt_unwind_row *r = unwind_table__find(t, e->loc);
	long off;

	if (!r)
		fail_msg("no row at 0x%llx", (unsigned long long)e->loc);
	print_message("0x%llx: readelf %s rbp=%s ra=%s; table kind %d off %d rbp kind %d off %d\n",
		      (unsigned long long)e->loc, e->cfa, e->rbp, e->ra, LT_ROW_CFA_KIND(r),
		      r->cfa_off * 8, LT_ROW_RBP_KIND(r), r->rbp_off * 8);
	assert_string_equal(e->ra, "c-8");
	if (sscanf(e->cfa, "rsp+%ld", &off) == 1) {
		assert_int_equal(LT_ROW_CFA_KIND(r), LT_CFA_SP);
		assert_int_equal(r->cfa_off * 8, off);
	} else if (sscanf(e->cfa, "rbp+%ld", &off) == 1) {
		assert_int_equal(LT_ROW_CFA_KIND(r), LT_CFA_FP);
		assert_int_equal(r->cfa_off * 8, off);
	} else {
		fail_msg("unexpected CFA rule %s", e->cfa);
	}
	if (sscanf(e->rbp, "c%ld", &off) == 1) {
		assert_int_equal(LT_ROW_RBP_KIND(r), LT_RBP_AT_CFA);
		assert_int_equal(r->rbp_off * 8, off);
	} else {
		/* "u" or no column: the frame leaves rbp as it was */
		assert_int_equal(LT_ROW_RBP_KIND(r), LT_RBP_SAME);
	}
}

/* Every row readelf shows for function name's FDE; returns how many were compared. */
static size_t compare_function(struct fixture *fx, const char *section, const char *name)
{
	struct readelf_row rows[64];
	size_t n = readelf_rows(fx->path, section, func_addr(fx, name), rows, 64);

	if (!n)
		fail_msg("readelf shows no rows for %s in %s of %s", name, section, fx->path);
	for (size_t i = 0; i < n; i++)
		assert_row_matches(fx->t, &rows[i]);
	return n;
}

static void test_nofp_rows_match_readelf(void **state)
{
	struct fixture fx;

	open_fixture(&fx, "frames_nofp");
	/* push rbx; push rbp (or the like): three rows at least, the CFA moving 8 at a time */
	assert_true(compare_function(&fx, ".eh_frame", "fx_pushes") >= 3);
	assert_true(compare_function(&fx, ".eh_frame", "fx_big_frame") >= 3);
	compare_function(&fx, ".eh_frame", "fx_vla");
	compare_function(&fx, ".eh_frame", "main");
	/* The 4 KiB frame: the CFA lies more than 4096 bytes above rsp in the body. */
	{
		uint64_t f = func_addr(&fx, "fx_big_frame");
		bool big = false;

		for (uint64_t pc = f; pc < f + 64; pc++) {
			const struct lt_unwind_row *r = unwind_table__find(fx.t, pc);

			big |= LT_ROW_CFA_KIND(r) == LT_CFA_SP && r->cfa_off * 8 > 4096;
		}
		assert_true(big);
	}
	assert_false(fx.t->has_fp);
	assert_int_equal(fx.t->nr_stop_rows, 0);
	close_fixture(&fx);
}

static void test_fp_rows_match_readelf(void **state)
{
	struct fixture fx;
	const struct lt_unwind_row *r;

	open_fixture(&fx, "frames_fp");
	compare_function(&fx, ".eh_frame", "fx_pushes");
	compare_function(&fx, ".eh_frame", "fx_big_frame");
	compare_function(&fx, ".eh_frame", "main");
	/* In the body of a frame-pointer function: CFA = rbp + 16, rbp saved at CFA - 16. */
	r = unwind_table__find(fx.t, func_addr(&fx, "fx_big_frame") + 16);
	assert_int_equal(LT_ROW_CFA_KIND(r), LT_CFA_FP);
	assert_int_equal(r->cfa_off * 8, 16);
	assert_int_equal(LT_ROW_RBP_KIND(r), LT_RBP_AT_CFA);
	assert_int_equal(r->rbp_off * 8, -16);
	assert_true(fx.t->has_fp);
	assert_true(fx.t->fp_bytes * 10 >= fx.t->code_bytes * 7);
	close_fixture(&fx);
}

/* Only .debug_frame describes the program's own functions; .eh_frame has the PLT and _start. */
static void test_debug_frame(void **state)
{
	struct fixture fx;

	open_fixture(&fx, "frames_dbgframe");
	assert_true(compare_function(&fx, ".debug_frame", "fx_pushes") >= 2);
	compare_function(&fx, ".debug_frame", "fx_big_frame");
	compare_function(&fx, ".debug_frame", "fx_vla");
	compare_function(&fx, ".debug_frame", "main");
	close_fixture(&fx);
}

/* The rows nothing else covers: the PLT's expression, _start's end, gaps between functions. */
static void test_special_rows(void **state)
{
	struct fixture fx;
	const struct lt_unwind_row *r;
	uint64_t start, end;
	bool plt = false;

	open_fixture(&fx, "frames_nofp");
	r = unwind_table__find(fx.t, func_addr(&fx, "_start"));
	assert_int_equal(LT_ROW_CFA_KIND(r), LT_CFA_END);
	/* The PLT's entries (after its first 16 bytes): rsp + 8, and + 8 more from offset 11 on. */
	for (size_t i = 0; i < fx.t->nr_rows; i++) {
		if (LT_ROW_CFA_KIND(&fx.t->rows[i]) != LT_CFA_PLT)
			continue;
		assert_int_equal(fx.t->rows[i].cfa_off, 11);
		plt = true;
	}
	assert_true(plt);
	/* Past the last function's end and below the first row: no rule. */
	assert_null(unwind_table__find(fx.t, 0x10));
	end = 0;
	for (size_t i = 0; i < fx.t->nr_rows; i++)
		end = fx.t->rows[i].pc;
	r = unwind_table__find(fx.t, end + 100);
	assert_int_equal(LT_ROW_CFA_KIND(r), LT_CFA_NONE);
	/* Rows are sorted, and no row repeats its predecessor's rule. */
	for (size_t i = 1; i < fx.t->nr_rows; i++) {
		const struct lt_unwind_row *a = &fx.t->rows[i - 1], *b = &fx.t->rows[i];

		assert_true(a->pc < b->pc);
		assert_false(a->kinds == b->kinds && a->cfa_off == b->cfa_off &&
			     a->rbp_off == b->rbp_off);
	}
	start = func_addr(&fx, "fx_pushes");
	assert_int_equal(LT_ROW_CFA_KIND(unwind_table__find(fx.t, start)), LT_CFA_SP);
	assert_int_equal(unwind_table__find(fx.t, start)->cfa_off * 8, 8);
	close_fixture(&fx);
}

static void test_no_cfi(void **state)
{
	char *path = fixture_path("pie.maps");
	struct elf_file *ef;

	/* Not an ELF file at all: refused before any table. */
	assert_non_null(path);
	ef = elf_file__open(path);
	assert_null(ef);
	free(path);
	unwind_table__free(NULL);
}

/* CFI sections that hold no FDE at all: no table, and no sorting of an empty (NULL) row array. */
static void test_no_fde(void **state)
{
	char *path = fixture_path("frames_nofde");
	struct elf_file *ef;

	assert_non_null(path);
	ef = elf_file__open(path);
	assert_non_null(ef);
	errno = 0;
	assert_null(unwind_table__build(ef));
	assert_int_equal(errno, ENOENT);
	elf_file__free(ef);
	free(path);
}

/* Peak RSS of this process so far, KiB. */
static long peak_rss_kib(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

/*
 * CFI whose programs libdw would run with gigabytes of frame state (a register numbered near
 * 2^28, remembered states nested deep) is refused whole, before libdw runs any of it.
 */
static void test_unbounded_cfi_refused(void **state)
{
	static const char *const names[] = {"cfi_highreg", "cfi_deepstate"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *path = fixture_path(names[i]);
		long before = peak_rss_kib();
		struct elf_file *ef;

		assert_non_null(path);
		ef = elf_file__open(path);
		assert_non_null(ef);
		errno = 0;
		assert_null(unwind_table__build(ef));
		assert_int_equal(errno, ENOENT);
		/* libdw's frame for the high register alone would be 2 GiB. */
		assert_true(peak_rss_kib() - before < 64 * 1024);
		elf_file__free(ef);
		free(path);
	}
}

/* The page index's search finds, for every pc around t's rows, the row the plain search finds. */
static void assert_pages_agree(const struct unwind_table *t)
{
	const uint64_t page = 1u << LT_UNWIND_PAGE_SHIFT;
	struct lt_unwind_page *pages;
	uint64_t lo, hi;
	size_t nr_pages;
	uint32_t base;

	pages = unwind_pages__build(t->rows, t->nr_rows, &base, &nr_pages);
	assert_non_null(pages);
	assert_int_equal(base, t->rows[0].pc >> LT_UNWIND_PAGE_SHIFT);
	assert_int_equal(nr_pages, (t->rows[t->nr_rows - 1].pc >> LT_UNWIND_PAGE_SHIFT) - base + 1);
	lo = t->rows[0].pc > 3 * page ? t->rows[0].pc - 3 * page : 0;
	hi = (uint64_t)t->rows[t->nr_rows - 1].pc + 3 * page;
	for (uint64_t pc = lo; pc < hi; pc++) {
		const struct lt_unwind_row *want = unwind_table__find(t, pc);
		const struct lt_unwind_row *got =
		    unwind_pages__find(t->rows, t->nr_rows, pages, base, nr_pages, pc);

		if (got != want)
			fail_msg("pc 0x%llx: row %td by the index, %td by the plain search",
				 (unsigned long long)pc, got ? got - t->rows : -1,
				 want ? want - t->rows : -1);
	}
	free(pages);
}

static void test_page_index_fixtures(void **state)
{
	static const char *const names[] = {"frames_nofp", "frames_fp", "frames_dbgframe"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct fixture fx;

		open_fixture(&fx, names[i]);
		assert_pages_agree(fx.t);
		close_fixture(&fx);
	}
}

/* libc: thousands of functions, pages dense with rows. */
static void test_page_index_libc(void **state)
{
	struct elf_file *ef = elf_file__open("/lib/x86_64-linux-gnu/libc.so.6");
	struct unwind_table *t;

	if (!ef)
		fail_msg("cannot open libc.so.6: %s", strerror(errno));
	t = unwind_table__build(ef);
	assert_non_null(t);
	assert_true(t->nr_rows > 10000);
	assert_pages_agree(t);
	unwind_table__free(t);
	elf_file__free(ef);
}

/* Each page's window by hand: the last row at or below its start, to the last row below its end. */
static void test_page_index_windows(void **state)
{
	const struct lt_unwind_row rows[] = {
	    {.pc = 0x100}, {.pc = 0x105}, {.pc = 0x1ff}, {.pc = 0x200}, {.pc = 0x450},
	};
	const struct lt_unwind_page want[] = {{0, 3}, {3, 4}, {3, 4}, {3, 5}};
	struct lt_unwind_page *pages;
	size_t nr_pages;
	uint32_t base;

	_Static_assert(LT_UNWIND_PAGE_SHIFT == 8, "the windows below are for pages of 256 bytes");
	pages = unwind_pages__build(rows, 5, &base, &nr_pages);
	assert_non_null(pages);
	assert_int_equal(base, 1);
	assert_int_equal(nr_pages, 4);
	for (size_t p = 0; p < 4; p++) {
		assert_int_equal(pages[p].lo, want[p].lo);
		assert_int_equal(pages[p].hi, want[p].hi);
	}
	assert_null(unwind_pages__find(rows, 5, pages, base, nr_pages, 0xff));
	assert_null(unwind_pages__find(rows, 5, pages, base, nr_pages, 0x10));
	assert_ptr_equal(unwind_pages__find(rows, 5, pages, base, nr_pages, 0x100), &rows[0]);
	assert_ptr_equal(unwind_pages__find(rows, 5, pages, base, nr_pages, 0x1fe), &rows[1]);
	assert_ptr_equal(unwind_pages__find(rows, 5, pages, base, nr_pages, 0x1ff), &rows[2]);
	assert_ptr_equal(unwind_pages__find(rows, 5, pages, base, nr_pages, 0x3ff), &rows[3]);
	assert_ptr_equal(unwind_pages__find(rows, 5, pages, base, nr_pages, 0x44f), &rows[3]);
	assert_ptr_equal(unwind_pages__find(rows, 5, pages, base, nr_pages, 0x450), &rows[4]);
	assert_ptr_equal(unwind_pages__find(rows, 5, pages, base, nr_pages, 0x100000), &rows[4]);
	free(pages);
	errno = 0;
	assert_null(unwind_pages__build(rows, 0, &base, &nr_pages));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(nr_pages, 0);
}

/* Code spread over a gigabyte: no index (the search takes the whole table), and the same rows. */
static void test_page_index_sparse(void **state)
{
	const struct lt_unwind_row rows[] = {{.pc = 0x100}, {.pc = 0x180}, {.pc = 0x40000000}};
	size_t nr_pages;
	uint32_t base;

	errno = 0;
	assert_null(unwind_pages__build(rows, 3, &base, &nr_pages));
	assert_int_equal(errno, E2BIG);
	assert_int_equal(nr_pages, 0);
	assert_null(unwind_pages__find(rows, 3, NULL, base, 0, 0xff));
	assert_ptr_equal(unwind_pages__find(rows, 3, NULL, base, 0, 0x100), &rows[0]);
	assert_ptr_equal(unwind_pages__find(rows, 3, NULL, base, 0, 0x3fffffff), &rows[1]);
	assert_ptr_equal(unwind_pages__find(rows, 3, NULL, base, 0, 0x40000000), &rows[2]);
	assert_ptr_equal(unwind_pages__find(rows, 3, NULL, base, 0, UINT64_MAX), &rows[2]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nofp_rows_match_readelf),
	    cmocka_unit_test(test_fp_rows_match_readelf),
	    cmocka_unit_test(test_debug_frame),
	    cmocka_unit_test(test_special_rows),
	    cmocka_unit_test(test_no_cfi),
	    cmocka_unit_test(test_no_fde),
	    cmocka_unit_test(test_unbounded_cfi_refused),
	    cmocka_unit_test(test_page_index_windows),
	    cmocka_unit_test(test_page_index_sparse),
	    cmocka_unit_test(test_page_index_fixtures),
	    cmocka_unit_test(test_page_index_libc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
