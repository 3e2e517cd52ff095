/* test_frame.c: the live view's frames without a terminal: rows, order, text. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "elfsrc/fx_lines.h"
#include "fixtures/fixture_path.h"
#include "proc/elf_file.h"
#include "ui/frame.h"

/* A sink that keeps the text, and the text written in the alert and suspect styles apart. */
struct mem_sink {
	char text[8192];
	char alert[1024];
	size_t len, alert_len;
	int lines;
};

static void append(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
	assert_true(*len + n < cap);
	memcpy(buf + *len, s, n);
	*len += n;
	buf[*len] = '\0';
}

static void mem_put(void *ctx, const char *text, size_t len, enum frame_style style)
{
	struct mem_sink *m = ctx;

	for (size_t i = 0; i < len; i++)
		assert_true((unsigned char)text[i] >= 0x20 && text[i] != 0x7f);
	append(m->text, sizeof(m->text), &m->len, text, len);
	if (style == FRAME_ALERT || style == FRAME_SUSPECT)
		append(m->alert, sizeof(m->alert), &m->alert_len, text, len);
}

static void mem_eol(void *ctx)
{
	struct mem_sink *m = ctx;

	append(m->text, sizeof(m->text), &m->len, "\n", 1);
	m->lines++;
}

#define SINK(m) ((struct frame_sink){ .put = mem_put, .eol = mem_eol, .ctx = (m) })

/* Four stacks of pid 42: a leak, a churning stack at 0, an idle one at 0, a flat cache. */
static struct frame *make_frame(void)
{
	struct frame *f = calloc(1, sizeof(*f));
	/* The records point at their addresses, which must outlive the frame. */
	static const uint64_t ips[] = { 0x1000, 0x2000, 0x3000 };
	struct stack_record recs[] = {
		{ .stack_id = 1, .pid = 42, .outstanding_bytes = 6400, .outstanding_allocs = 100,
		  .allocs = 100, .oldest_age_s = 4, .nr_ips = 1, .ips = &ips[0] },
		{ .stack_id = 2, .pid = 42, .outstanding_bytes = 0, .outstanding_allocs = 0,
		  .allocs = 90000, .oldest_age_s = -1, .nr_ips = 1, .ips = &ips[1] },
		{ .stack_id = 3, .pid = 42, .outstanding_bytes = 0, .outstanding_allocs = 0,
		  .allocs = 7, .oldest_age_s = -1, .nr_ips = 1, .ips = &ips[2] },
		{ .stack_id = 4, .pid = 42, .outstanding_bytes = 2097152, .outstanding_allocs = 512,
		  .allocs = 512, .oldest_age_s = 65, .nr_ips = 0 },
	};
	struct history_trend trends[] = {
		{ .nr_samples = 10, .window_s = 9, .growth_bytes_per_s = 3200, .suspect = true,
		  .active = true },
		{ .nr_samples = 10, .window_s = 9, .growth_bytes_per_s = 0, .active = true },
		{ .nr_samples = 10, .window_s = 9, .growth_bytes_per_s = 0, .active = false },
		{ .nr_samples = 10, .window_s = 9, .growth_bytes_per_s = 0, .active = false },
	};
	static struct frame_proc proc = { .pid = 42, .comm = "mix\033[2J", .have_mem = true,
					  .mem = { .rss_bytes = 4 << 20, .anon_bytes = 3 << 20 },
					  .accounted_bytes = 2103552 };

	assert_non_null(f);
	f->snap = snapshot__new();
	assert_non_null(f->snap);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(snapshot__add(f->snap, &recs[i]), 0);
	snapshot__sum_totals(f->snap);
	assert_int_equal(report_init(&f->report, f->snap, NULL, 0, NULL), 0);
	f->snap->stats[LT_STAT_MISSED_RETURNS] = 3;
	f->snap->stats[LT_STAT_UNMATCHED_FREES] = 11;
	f->trends = malloc(sizeof(trends));
	assert_non_null(f->trends);
	memcpy(f->trends, trends, sizeof(trends));
	f->procs = malloc(sizeof(proc));
	assert_non_null(f->procs);
	f->procs[0] = proc;
	f->nr_procs = 1;
	f->version = "9.9.9";
	f->traced_s = 62;
	f->interval_s = 1;
	f->window_s = 9;
	f->bytes_per_s = 3200;
	f->blocks_per_s = 50;
	f->allocs_per_s = 10050;
	f->frees_per_s = 10000;
	f->bpf_ns_per_s = 4.5e6;
	f->bpf_runs_per_s = 30000;
	f->self_cpu_frac = 0.004;
	f->self_rss_bytes = 10 << 20;
	f->map_bytes = 14 << 20;
	return f;
}

static void test_rows_listed_and_sorted(void **state)
{
	struct frame *f = make_frame();

	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, NULL, false), 0);
	/* The idle stack at 0 is not listed; the churning one is. */
	assert_int_equal(f->nr_rows, 3);
	assert_int_equal(f->nr_listed, 3);
	assert_int_equal(f->nr_suspects, 1);
	assert_int_equal(f->rows[0].rec->stack_id, 4);
	assert_int_equal(f->rows[1].rec->stack_id, 1);
	assert_int_equal(f->rows[2].rec->stack_id, 2);
	assert_int_equal(frame_find_row(f, 42, 2), 2);
	assert_int_equal(frame_find_row(f, 42, 3), -1);
	assert_int_equal(frame_find_stack(f, 42, 3), 2);
	assert_int_equal(frame_find_stack(f, 43, 3), -1);

	assert_int_equal(frame_select(f, FRAME_SORT_GROWTH, NULL, false), 0);
	assert_int_equal(f->rows[0].rec->stack_id, 1);
	assert_int_equal(f->rows[1].rec->stack_id, 4);
	assert_int_equal(frame_select(f, FRAME_SORT_BLOCKS, NULL, false), 0);
	assert_int_equal(f->rows[0].rec->stack_id, 4);
	assert_int_equal(f->rows[1].rec->stack_id, 1);
	assert_int_equal(frame_select(f, FRAME_SORT_AGE, NULL, false), 0);
	assert_int_equal(f->rows[0].rec->stack_id, 4);
	assert_int_equal(f->rows[2].rec->stack_id, 2); /* no live block: last */
	assert_string_equal(frame_sort_name(f->sort), "age");

	/* A filter needs the symbolizer to name frames: without one, nothing matches. */
	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, "leak", false), 0);
	assert_int_equal(f->nr_rows, 0);
	assert_int_equal(f->nr_listed, 3);
	assert_string_equal(f->filter, "leak");
	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, "", false), 0);
	assert_null(f->filter);
	assert_int_equal(f->nr_rows, 3);
	assert_false(f->show_pid);
	/* Merged, without a symbolizer: unnamed frames differ by address, so nothing merges. */
	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, NULL, true), 0);
	assert_int_equal(f->nr_rows, 3);
	assert_int_equal(f->rows[1].rec->outstanding_bytes, 6400);
	assert_int_equal(f->rows[1].nr_procs, 1);
	frame_free(f);
	frame_free(NULL);
}

/* -a with --track: stacks of two processes and two kinds, no process list. */
static void test_kinds_and_processes(void **state)
{
	struct frame *f = calloc(1, sizeof(*f));
	struct stack_record recs[] = {
		{ .stack_id = 11, .pid = 7, .kind = LT_TRACK_FAULTS, .outstanding_bytes = 1000,
		  .outstanding_allocs = 1, .allocs = 1, .oldest_age_s = -1, .nr_ips = 1,
		  .ips = (const uint64_t[]){ 0x1000 } },
		{ .stack_id = 12, .pid = 8, .kind = LT_TRACK_HEAP, .outstanding_bytes = 900,
		  .outstanding_allocs = 9, .allocs = 9, .oldest_age_s = 2, .nr_ips = 1,
		  .ips = (const uint64_t[]){ 0x2000 } },
		{ .stack_id = 13, .pid = 7, .kind = LT_TRACK_FAULTS, .outstanding_bytes = 100,
		  .outstanding_allocs = 1, .allocs = 1, .oldest_age_s = -1, .nr_ips = 1,
		  .ips = (const uint64_t[]){ 0x3000 } },
	};
	struct history_trend trend = { .nr_samples = 2, .window_s = 1, .growth_bytes_per_s = 0,
				       .active = true };
	struct mem_sink m = { 0 };
	struct frame_sink sink = SINK(&m);

	assert_non_null(f);
	f->snap = snapshot__new();
	assert_non_null(f->snap);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(snapshot__add(f->snap, &recs[i]), 0);
	snapshot__sum_totals(f->snap);
	assert_int_equal(report_init(&f->report, f->snap, NULL, 0, NULL), 0);
	f->trends = calloc(3, sizeof(*f->trends));
	assert_non_null(f->trends);
	for (size_t i = 0; i < 3; i++)
		f->trends[i] = trend;

	/* By bytes: 1000 (pid 7), 900 (pid 8), 100 (pid 7). */
	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, NULL, false), 0);
	assert_true(f->show_pid && f->show_kind);
	assert_int_equal(f->rows[1].rec->stack_id, 12);
	/* -a: pid 7 (1100 bytes) first with its stacks, then pid 8. */
	f->all = true;
	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, NULL, false), 0);
	assert_int_equal(f->rows[0].rec->stack_id, 11);
	assert_int_equal(f->rows[1].rec->stack_id, 13);
	assert_int_equal(f->rows[2].rec->stack_id, 12);
	assert_int_equal(f->rows[0].proc_bytes, 1100);
	frame_render_titles(f, &sink, 0);
	frame_render_row(f, 0, &sink, 0);
	frame_render_row(f, 2, &sink, 0);
	assert_non_null(strstr(m.text, "    PID    KIND     BYTES"));
	assert_non_null(strstr(m.text, "      7  faults    1000 B"));
	assert_non_null(strstr(m.text, "      8    heap     900 B"));
	frame_render_header(f, &sink);
	assert_non_null(strstr(m.text, "all processes"));
	assert_non_null(strstr(m.text, "kinds  heap 900 B in 9 blocks; faults 1.1 KiB in 2 pages, all "));
	frame_free(f);
}

static void test_header(void **state)
{
	struct frame *f = make_frame();
	struct mem_sink m = { 0 };
	struct frame_sink sink = SINK(&m);

	assert_int_equal(frame_select(f, FRAME_SORT_GROWTH, NULL, false), 0);
	frame_render_header(f, &sink);
	assert_int_equal(m.lines, FRAME_HEADER_LINES);
	assert_string_equal(
		m.text,
		"leaktop 9.9.9  pid 42 (mix?[2J)  traced 1m02s  refresh 1.0s  window 9.0s  "
		"sort growth\n"
		"heap   2.0 MiB (2103552 bytes) in 612 blocks, +3.1 KiB/s, +50.0 blocks/s; 10050 "
		"allocs/s, 10000 frees/s\n"
		"losses missed_returns 3, dropped_allocs 0, lost_stacks 0, stack_table_full 0, "
		"thread_state_full 0, unwind_no_mapping 0, unwind_no_table 0, "
		"unwind_no_cfi 0, unwind_stop_row 0, unwind_read_failed 0, truncated_stacks 0, "
		"unwind_not_ready 0, lost_events 0; pre-attach frees 11\n"
		"rss    pid 42 4.0 MiB (anon 3.0 MiB), leaktop accounts for 2.0 MiB\n"
		"cost   BPF 4.50 ms/s (0.45% of a CPU) in 30000 runs/s, 150 ns/run; "
		"leaktop CPU 0.4%, RSS 10.0 MiB, BPF maps 14.0 MiB\n"
		"stacks 3 listed of 4, 1 leak suspect\n");
	/* Only what is not zero is highlighted: the loss counter and the suspect count. */
	assert_string_equal(m.alert, "missed_returns 3, 1 leak suspect");
	frame_free(f);
}

static void test_rows_text_by_width(void **state)
{
	struct frame *f = make_frame();
	struct mem_sink m = { 0 };
	struct frame_sink sink = SINK(&m);

	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, NULL, false), 0);
	frame_render_titles(f, &sink, 0);
	for (size_t i = 0; i < f->nr_rows; i++)
		frame_render_row(f, i, &sink, 0);
	assert_string_equal(m.text,
			    "     BYTES    BLOCKS       GROWTH  TREND   OLDEST  SITE\n"
			    "   2.0 MiB       512        0 B/s  flat     1m05s  "
			    "[stack not captured: see lost_stacks, stack_table_full]\n"
			    "   6.2 KiB       100   +3.1 KiB/s  LEAK?     4.0s  0x1000\n"
			    "       0 B         0        0 B/s  flat         -  0x2000\n");
	assert_string_equal(m.alert, "   6.2 KiB       100   +3.1 KiB/s  LEAK?     4.0s  0x1000");

	/* Narrower: blocks and age go first, then growth. */
	memset(&m, 0, sizeof(m));
	frame_render_titles(f, &sink, 50);
	frame_render_row(f, 1, &sink, 50);
	frame_render_titles(f, &sink, 30);
	frame_render_row(f, 1, &sink, 30);
	assert_string_equal(m.text, "     BYTES       GROWTH  TREND   SITE\n"
				    "   6.2 KiB   +3.1 KiB/s  LEAK?   0x1000\n"
				    "     BYTES  TREND   SITE\n"
				    "   6.2 KiB  LEAK?   0x1000\n");
	frame_free(f);
}

static void test_stack_text(void **state)
{
	struct frame *f = make_frame();
	struct mem_sink m = { 0 };
	struct frame_sink sink = SINK(&m);
	ssize_t i = frame_find_stack(f, 42, 1);

	assert_int_equal(i, 0);
	assert_int_equal(frame_render_stack(f, (size_t)i, &sink), 0);
	assert_string_equal(m.text,
			    "6.2 KiB (6400 bytes) in 100 blocks, pid 42, growth +3.1 KiB/s, trend "
			    "LEAK?, oldest 4.0s\n"
			    "100 allocations (0 B) since attach; stack 0x1\n"
			    "#0   0x1000\n");
	frame_free(f);
}

/* Two functions of this very test, named by the real symbolizer through /proc/self/maps. */
static __attribute__((noinline, used)) int filter_site_fn(int x)
{
	return x * 5 + 2;
}

static __attribute__((noinline, used)) int filter_needle_fn(int x)
{
	return x * 7 + 3;
}

/*
 * The filter reads the stacks as the reports do: past a caller outside every mapping, the
 * frame-pointer walk ran into code without frame pointers, and what follows is no stack. A
 * function named there must not make the stack match.
 */
static void test_filter_stops_past_unmapped_caller(void **state)
{
	struct symbolizer *sym = symbolizer__new(NULL);
	struct frame *f = calloc(1, sizeof(*f));
	struct history_trend trend = { .nr_samples = 2, .active = true };
	uint64_t ips[3];
	struct stack_record rec = { .stack_id = 1, .pid = getpid(), .outstanding_bytes = 64,
				    .outstanding_allocs = 1, .allocs = 1, .nr_ips = 3, .ips = ips };
	struct mem_sink m = { 0 };
	struct frame_sink sink = SINK(&m);

	assert_non_null(sym);
	assert_non_null(f);
	assert_int_equal(filter_site_fn(1) + filter_needle_fn(1), 17);
	assert_int_equal(symbolizer__add_pid(sym, getpid()), 0);
	/* Return addresses: one byte past a call still names its caller. */
	ips[0] = (uint64_t)(uintptr_t)filter_site_fn + 1;
	ips[1] = 0x10; /* never mapped */
	ips[2] = (uint64_t)(uintptr_t)filter_needle_fn + 1;
	f->snap = snapshot__new();
	assert_non_null(f->snap);
	assert_int_equal(snapshot__add(f->snap, &rec), 0);
	assert_int_equal(report_init(&f->report, f->snap, sym, 0, NULL), 0);
	f->trends = malloc(sizeof(trend));
	assert_non_null(f->trends);
	f->trends[0] = trend;

	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, "filter_site", false), 0);
	assert_int_equal(f->nr_rows, 1);
	/* The stack screen shows the frames the filter read: one, the site. */
	assert_int_equal(frame_render_stack(f, 0, &sink), 0);
	assert_int_equal(m.lines, 3);
	assert_non_null(strstr(m.text, "\n#0   filter_site_fn+0x1 (test_frame) "));
	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, "needle", false), 0);
	assert_int_equal(f->nr_listed, 1);
	assert_int_equal(f->nr_rows, 0);
	frame_free(f);
	symbolizer__free(sym);
}


/* --- several processes: the fixture `prog` mapped at a different address in each (ASLR) */

#define NR_MULTI 6

static const uint64_t multi_base[] = { 0x555555554000ULL, 0x5600aa000000ULL, 0x7f0012340000ULL };
#define MULTI_PID(k) (101 + (k))
#define MAP_LEN 0x100000ULL

/* The file offset of the return address of caller's direct call of callee in the fixture. */
static uint64_t call_return(struct elf_file *ef, const char *caller, const char *callee)
{
	struct elf_sym c, t;
	const uint8_t *code;
	uint64_t off;

	assert_int_equal(elf_file__find_func(ef, caller, false, &c), 0);
	assert_int_equal(elf_file__find_func(ef, callee, false, &t), 0);
	code = elf_file__code(ef, c.vaddr, c.size);
	assert_non_null(code);
	for (size_t i = 0; i + 5 <= c.size; i++) {
		int32_t rel;

		memcpy(&rel, code + i + 1, sizeof(rel));
		if (code[i] != 0xe8 || c.vaddr + i + 5 + (uint64_t)(int64_t)rel != t.vaddr)
			continue;
		assert_int_equal(elf_file__vaddr_to_offset(ef, c.vaddr + i + 5, &off), 0);
		return off;
	}
	fail_msg("no call from %s to %s", caller, callee);
	return 0;
}

/*
 * Three sites in three processes (pids 101..103), each process's `prog` at another address:
 *   outer: fx_outer <- main (its call of fx_outer), in 101, 102, 103 (6000 + 3000 + 1500 bytes)
 *   other: fx_outer <- main (its call of fx_inl_caller): the same first frame, a caller apart;
 *          in 102 only (4000 bytes)
 *   deep:  fx_deep_caller's inlined call of fx_sink, in 101 and 103 (700 + 100 bytes)
 * Only 103's outer stack is a suspect. The stacks come in the reading's order, by bytes.
 */
static struct frame *make_multi(struct symbolizer **sym, size_t nr_procs)
{
	char *path = fixture_path("prog");
	struct elf_file *ef = elf_file__open(path);
	struct frame *f = calloc(1, sizeof(*f));
	uint64_t outer, main_outer, main_inl, deep;
	static const struct {
		int proc;
		uint64_t id;
		int site; /* 0 outer, 1 other, 2 deep */
		int64_t bytes, blocks;
		double growth, age;
		bool suspect;
	} st[NR_MULTI] = {
		{ 0, 0x11, 0, 6000, 4, 100, 9, false }, { 1, 0x22, 1, 4000, 8, 0, 7, false },
		{ 1, 0x21, 0, 3000, 2, 50, 8, false },	{ 2, 0x31, 0, 1500, 1, 30, 20, true },
		{ 0, 0x12, 2, 700, 7, -10, 3, false },	{ 2, 0x32, 2, 100, 1, 0, 1, false },
	};

	assert_non_null(ef);
	assert_non_null(f);
	*sym = symbolizer__new(NULL);
	assert_non_null(*sym);
	for (size_t k = 0; k < 3; k++)
		assert_int_equal(symbolizer__add_mapping(*sym, MULTI_PID(k), multi_base[k],
							 multi_base[k] + MAP_LEN, 0, path),
				 0);
	outer = call_return(ef, "fx_outer", "fx_sink");
	main_outer = call_return(ef, "main", "fx_outer");
	main_inl = call_return(ef, "main", "fx_inl_caller");
	deep = call_return(ef, "fx_deep_caller", "fx_sink");
	f->snap = snapshot__new();
	f->trends = calloc(NR_MULTI, sizeof(*f->trends));
	f->procs = calloc(3, sizeof(*f->procs));
	assert_true(f->snap && f->trends && f->procs);
	/* The records point at their addresses: kept as long as the frame. */
	static uint64_t ips[NR_MULTI][2];

	for (size_t i = 0; i < NR_MULTI; i++) {
		uint64_t base = multi_base[st[i].proc];
		struct stack_record rec = {
			.stack_id = st[i].id, .pid = MULTI_PID(st[i].proc),
			.outstanding_bytes = st[i].bytes, .outstanding_allocs = st[i].blocks,
			.allocs = (uint64_t)st[i].blocks + 1,
			.alloc_bytes = (uint64_t)st[i].bytes + 10,
			.oldest_age_s = st[i].age, .nr_ips = st[i].site == 2 ? 1 : 2,
			.ips = ips[i],
		};

		ips[i][0] = base + (st[i].site == 2 ? deep : outer);
		ips[i][1] = base + (st[i].site == 1 ? main_inl : main_outer);

		assert_int_equal(snapshot__add(f->snap, &rec), 0);
		f->trends[i] = (struct history_trend){ .nr_samples = 10, .window_s = 9,
						       .growth_bytes_per_s = st[i].growth,
						       .suspect = st[i].suspect, .active = true };
	}
	snapshot__sum_totals(f->snap);
	assert_int_equal(report_init(&f->report, f->snap, *sym, 0, NULL), 0);
	for (size_t k = 0; k < nr_procs; k++)
		f->procs[k] = (struct frame_proc){ .pid = MULTI_PID(k), .comm = "prog" };
	f->nr_procs = nr_procs;
	f->version = "9.9.9";
	elf_file__free(ef);
	free(path);
	return f;
}

static void render_rows(const struct frame *f, struct mem_sink *m, int width)
{
	struct frame_sink sink = SINK(m);

	memset(m, 0, sizeof(*m));
	frame_render_titles(f, &sink, width);
	for (size_t i = 0; i < f->nr_rows; i++)
		frame_render_row(f, i, &sink, width);
}

#define SITE_OUTER "fx_outer (prog) prog.c:" STR(FX_LINE_OUTER_CALL)
#define SITE_DEEP "fx_inl_deep (prog) prog.c:" STR(FX_LINE_DEEP_CALL) " [inlined]"
#define STR(x) STR2(x)
#define STR2(x) #x

/*
 * More than one process: the first line names four and counts the others; the fourth says which
 * were followed, exited and exec'd, the untraced gap, and what the live ones hold.
 */
static void test_header_procs(void **state)
{
	static const struct report_proc rp[5] = {
		{ .pid = 101, .comm = "prog", .state = "traced" },
		{ .pid = 102, .ppid = 101, .comm = "prog", .state = "traced", .followed = true,
		  .gap_s = 0.0015 },
		{ .pid = 103, .ppid = 101, .comm = "prog", .state = "exited", .followed = true,
		  .execs = 2, .gap_s = 0.001 },
		{ .pid = 104, .comm = "prog", .state = "exited" },
		{ .pid = 105, .comm = "prog", .state = "not traced", .reason = "exited before it "
									 "could be traced" },
	};
	struct symbolizer *sym;
	struct frame *f = make_multi(&sym, 3);
	struct mem_sink m = { 0 };
	struct frame_sink sink = SINK(&m);
	char *procs_line;

	f->report.procs = (struct report_proc *)rp;
	f->report.nr_procs = 5;
	f->procs = realloc(f->procs, 5 * sizeof(*f->procs));
	assert_non_null(f->procs);
	f->procs[3] = (struct frame_proc){ .pid = 104, .comm = "prog", .exited = true };
	f->procs[4] = (struct frame_proc){ .pid = 106, .comm = "prog", .exited = true };
	f->nr_procs = 5;
	f->procs[0].accounted_bytes = 6700;
	f->procs[1].accounted_bytes = 7000;
	f->procs[2].accounted_bytes = 1600;
	f->procs[0].have_mem = f->procs[1].have_mem = true;
	f->procs[0].mem = (struct proc_mem){ .rss_bytes = 3 << 20, .anon_bytes = 1 << 20 };
	f->procs[1].mem = (struct proc_mem){ .rss_bytes = 1 << 20, .anon_bytes = 1 << 20 };
	f->snap->stats[LT_STAT_INHERITED_FREES] = 7;
	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, NULL, false), 0);
	frame_render_header(f, &sink);
	assert_int_equal(m.lines, FRAME_HEADER_LINES);
	assert_non_null(strstr(m.text, "leaktop 9.9.9  pids 101 (prog), 102 (prog), 103 (prog), "
				       "104 (prog, exited) and 1 more  traced "));
	assert_non_null(strstr(m.text, "; pre-attach frees 0; inherited frees 7\n"));
	assert_null(strstr(m.text, "\nrss "));
	procs_line = strstr(m.text, "\nprocs  ");
	assert_non_null(procs_line);
	*strchr(procs_line + 1, '\n') = '\0';
	assert_string_equal(procs_line + 1,
			    "procs  2 traced (2 given, 2 followed), 2 exited, 2 execs, untraced "
			    "2.5 ms; rss 4.0 MiB (anon 2.0 MiB) in 2 live, leaktop accounts for "
			    "14.9 KiB");
	frame_free(f);
	symbolizer__free(sym);
}

/* A PID column with more than one process; none with one (test_rows_text_by_width). */
static void test_pid_column(void **state)
{
	struct symbolizer *sym;
	struct frame *f = make_multi(&sym, 3);
	struct mem_sink m;

	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, NULL, false), 0);
	assert_true(f->show_pid);
	assert_int_equal(f->nr_rows, NR_MULTI);
	assert_int_equal(frame_symbolize_rows(f, 0, f->nr_rows), 0);
	render_rows(f, &m, 0);
	assert_string_equal(
		m.text,
		"    PID      BYTES    BLOCKS       GROWTH  TREND   OLDEST  SITE\n"
		"    101    5.9 KiB         4     +100 B/s  grow      9.0s  " SITE_OUTER "\n"
		"    102    3.9 KiB         8        0 B/s  flat      7.0s  " SITE_OUTER "\n"
		"    102    2.9 KiB         2      +50 B/s  grow      8.0s  " SITE_OUTER "\n"
		"    103    1.5 KiB         1      +30 B/s  LEAK?    20.0s  " SITE_OUTER "\n"
		"    101      700 B         7      -10 B/s  shrink    3.0s  " SITE_DEEP "\n"
		"    103      100 B         1        0 B/s  flat      1.0s  " SITE_DEEP "\n");
	/* Narrow: the PID stays; the other columns go as without it, 8 columns sooner. */
	render_rows(f, &m, 58);
	assert_non_null(strstr(m.text, "    PID      BYTES       GROWTH  TREND   SITE\n"
				       "    101    5.9 KiB     +100 B/s  grow    " SITE_OUTER));

	/* One process traced, but stacks of two listed (a child not in the header yet): a PID. */
	frame_free(f);
	symbolizer__free(sym);
	f = make_multi(&sym, 1);
	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, NULL, false), 0);
	assert_true(f->show_pid);
	/* Two traced, but merged: the PROCS column instead. */
	f->nr_procs = 2;
	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, NULL, true), 0);
	assert_false(f->show_pid);
	render_rows(f, &m, 0);
	assert_non_null(strstr(m.text, "  PROCS      BYTES    BLOCKS"));
	frame_free(f);
	symbolizer__free(sym);
}

/* Equal symbolized stacks of three processes at three addresses: one row, with their sums. */
static void test_merged_rows(void **state)
{
	struct symbolizer *sym;
	struct frame *f = make_multi(&sym, 3);
	struct mem_sink m;
	ssize_t a = frame_find_stack(f, 101, 0x11), b = frame_find_stack(f, 102, 0x21);

	/* The same site at other addresses in each process. */
	assert_true(a >= 0 && b >= 0);
	assert_int_not_equal(f->snap->stacks[a].ips[0], f->snap->stacks[b].ips[0]);

	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, NULL, true), 0);
	assert_true(f->merged);
	assert_false(f->show_pid);
	assert_int_equal(f->nr_listed, NR_MULTI);
	assert_int_equal(f->nr_matched, NR_MULTI);
	assert_int_equal(f->nr_rows, 3);
	assert_int_equal(f->nr_suspects, 1);
	/* outer: 101, 102, 103; other (a caller apart from outer): 102; deep: 101, 103. */
	assert_int_equal(f->rows[0].rec->outstanding_bytes, 6000 + 3000 + 1500);
	assert_int_equal(f->rows[0].rec->outstanding_allocs, 4 + 2 + 1);
	assert_int_equal(f->rows[0].rec->allocs, 5 + 3 + 2);
	assert_int_equal(f->rows[0].rec->alloc_bytes, 6010 + 3010 + 1510);
	assert_int_equal(f->rows[0].nr_procs, 3);
	assert_int_equal(f->rows[0].nr_members, 3);
	assert_true(f->rows[0].trend->suspect);
	assert_true(f->rows[0].trend->growth_bytes_per_s == 180);
	assert_true(f->rows[0].rec->oldest_age_s == 20);
	assert_int_equal(f->rows[1].rec->outstanding_bytes, 4000);
	assert_int_equal(f->rows[1].nr_procs, 1);
	assert_int_equal(f->rows[2].rec->outstanding_bytes, 800);
	assert_int_equal(f->rows[2].rec->outstanding_allocs, 8);
	assert_int_equal(f->rows[2].nr_procs, 2);
	assert_false(f->rows[2].trend->suspect);
	/* Every stack finds its row. */
	assert_int_equal(frame_find_row(f, 102, 0x21), 0);
	assert_int_equal(frame_find_row(f, 103, 0x31), 0);
	assert_int_equal(frame_find_row(f, 102, 0x22), 1);
	assert_int_equal(frame_find_row(f, 103, 0x32), 2);
	assert_int_equal(frame_find_row(f, 103, 0x22), -1);

	render_rows(f, &m, 0);
	assert_string_equal(
		m.text,
		"  PROCS      BYTES    BLOCKS       GROWTH  TREND   OLDEST  SITE\n"
		"      3   10.3 KiB         7     +180 B/s  LEAK?    20.0s  " SITE_OUTER "\n"
		"      1    3.9 KiB         8        0 B/s  flat      7.0s  " SITE_OUTER "\n"
		"      2      800 B         8      -10 B/s  shrink    3.0s  " SITE_DEEP "\n");

	/* Sorting sorts the merged rows: by blocks, 8 and 8 (more bytes first), then 7. */
	assert_int_equal(frame_select(f, FRAME_SORT_BLOCKS, NULL, true), 0);
	assert_int_equal(f->rows[0].rec->outstanding_bytes, 4000);
	assert_int_equal(f->rows[1].rec->outstanding_bytes, 800);
	assert_int_equal(f->rows[2].rec->outstanding_bytes, 10500);
	assert_int_equal(frame_select(f, FRAME_SORT_GROWTH, NULL, true), 0);
	assert_int_equal(f->rows[0].rec->outstanding_bytes, 10500);
	assert_int_equal(f->rows[2].rec->outstanding_bytes, 800);

	/* Back to one row per stack. */
	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, NULL, false), 0);
	assert_int_equal(f->nr_rows, NR_MULTI);
	assert_int_equal(f->rows[0].nr_members, 1);
	frame_free(f);
	symbolizer__free(sym);
}

/* The filter keeps the stacks it matches, then they merge; the header counts both. */
static void test_merged_filter(void **state)
{
	struct symbolizer *sym;
	struct frame *f = make_multi(&sym, 3);
	struct mem_sink m = { 0 };
	struct frame_sink sink = SINK(&m);

	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, "fx_deep", true), 0);
	assert_int_equal(f->nr_listed, NR_MULTI);
	assert_int_equal(f->nr_matched, 2);
	assert_int_equal(f->nr_rows, 1);
	assert_int_equal(f->rows[0].rec->outstanding_bytes, 800);
	assert_int_equal(f->rows[0].nr_procs, 2);
	frame_render_header(f, &sink);
	assert_non_null(strstr(m.text, "sort bytes  sites merged  filter \"fx_deep\"\n"));
	assert_non_null(strstr(m.text, "\nstacks 6 listed of 6, 2 match the filter, "
				       "1 row of merged sites, 0 leak suspects\n"));

	/* main is a caller in the outer and other stacks, not in deep. */
	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, "main", true), 0);
	assert_int_equal(f->nr_matched, 4);
	assert_int_equal(f->nr_rows, 2);
	assert_int_equal(f->rows[0].rec->outstanding_bytes, 10500);
	assert_int_equal(f->rows[0].nr_procs, 3);
	assert_int_equal(f->rows[1].rec->outstanding_bytes, 4000);
	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, "nothing-such", true), 0);
	assert_int_equal(f->nr_rows, 0);
	assert_int_equal(f->nr_listed, NR_MULTI);
	frame_free(f);
	symbolizer__free(sym);
}

/* A merged row's stack: its sums, the frames, then each process's stack, most bytes first. */
static void test_merged_stack_text(void **state)
{
	struct symbolizer *sym;
	struct frame *f = make_multi(&sym, 3);
	struct mem_sink m = { 0 };
	struct frame_sink sink = SINK(&m);

	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, NULL, true), 0);
	assert_int_equal(frame_render_row_stack(f, 0, &sink), 0);
	assert_non_null(strstr(m.text, "10.3 KiB (10500 bytes) in 7 blocks, 3 processes, growth "
				       "+180 B/s, trend LEAK?, oldest 20.0s\n"
				       "10 allocations (10.3 KiB) since attach; 3 stacks merged\n"
				       "#0   fx_outer+0x"));
	assert_non_null(strstr(m.text, "\n#1   main+0x"));
	assert_non_null(strstr(m.text,
			       "\nthe stacks merged, most bytes first:\n"
			       "  pid 101     5.9 KiB (6000 bytes) in 4 blocks, growth +100 B/s, "
			       "trend grow; stack 0x11\n"
			       "  pid 102     2.9 KiB (3000 bytes) in 2 blocks, growth +50 B/s, "
			       "trend grow; stack 0x21\n"
			       "  pid 103     1.5 KiB (1500 bytes) in 1 blocks, growth +30 B/s, "
			       "trend LEAK?; stack 0x31\n"));
	assert_int_equal(m.lines, 2 + 2 + 1 + 3);
	/* The suspect's own line is marked. */
	assert_non_null(strstr(m.alert, "trend LEAK?; stack 0x31"));

	/* A row of one stack: the stack's own screen. */
	memset(&m, 0, sizeof(m));
	assert_int_equal(f->rows[1].nr_members, 1);
	assert_int_equal(frame_render_row_stack(f, 1, &sink), 0);
	assert_non_null(strstr(m.text, "3.9 KiB (4000 bytes) in 8 blocks, pid 102, growth 0 B/s"));
	frame_free(f);
	symbolizer__free(sym);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_listed_and_sorted),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_kinds_and_processes),
		cmocka_unit_test(test_rows_text_by_width),
		cmocka_unit_test(test_stack_text),
		cmocka_unit_test(test_filter_stops_past_unmapped_caller),
		cmocka_unit_test(test_pid_column),
		cmocka_unit_test(test_header_procs),
		cmocka_unit_test(test_merged_rows),
		cmocka_unit_test(test_merged_filter),
		cmocka_unit_test(test_merged_stack_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
