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
	struct stack_record recs[] = {
		{ .stack_id = 1, .pid = 42, .outstanding_bytes = 6400, .outstanding_allocs = 100,
		  .allocs = 100, .oldest_age_s = 4, .nr_ips = 1, .ips = { 0x1000 } },
		{ .stack_id = 2, .pid = 42, .outstanding_bytes = 0, .outstanding_allocs = 0,
		  .allocs = 90000, .oldest_age_s = -1, .nr_ips = 1, .ips = { 0x2000 } },
		{ .stack_id = 3, .pid = 42, .outstanding_bytes = 0, .outstanding_allocs = 0,
		  .allocs = 7, .oldest_age_s = -1, .nr_ips = 1, .ips = { 0x3000 } },
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
	assert_int_equal(report_init(&f->report, f->snap, NULL, 0), 0);
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
	return f;
}

static void test_rows_listed_and_sorted(void **state)
{
	struct frame *f = make_frame();

	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, NULL), 0);
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

	assert_int_equal(frame_select(f, FRAME_SORT_GROWTH, NULL), 0);
	assert_int_equal(f->rows[0].rec->stack_id, 1);
	assert_int_equal(f->rows[1].rec->stack_id, 4);
	assert_int_equal(frame_select(f, FRAME_SORT_BLOCKS, NULL), 0);
	assert_int_equal(f->rows[0].rec->stack_id, 4);
	assert_int_equal(f->rows[1].rec->stack_id, 1);
	assert_int_equal(frame_select(f, FRAME_SORT_AGE, NULL), 0);
	assert_int_equal(f->rows[0].rec->stack_id, 4);
	assert_int_equal(f->rows[2].rec->stack_id, 2); /* no live block: last */
	assert_string_equal(frame_sort_name(f->sort), "age");

	/* A filter needs the symbolizer to name frames: without one, nothing matches. */
	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, "leak"), 0);
	assert_int_equal(f->nr_rows, 0);
	assert_int_equal(f->nr_listed, 3);
	assert_string_equal(f->filter, "leak");
	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, ""), 0);
	assert_null(f->filter);
	assert_int_equal(f->nr_rows, 3);
	frame_free(f);
	frame_free(NULL);
}

static void test_header(void **state)
{
	struct frame *f = make_frame();
	struct mem_sink m = { 0 };
	struct frame_sink sink = SINK(&m);

	assert_int_equal(frame_select(f, FRAME_SORT_GROWTH, NULL), 0);
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
		"leaktop CPU 0.4%, RSS 10.0 MiB\n"
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

	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, NULL), 0);
	frame_render_titles(&sink, 0);
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
	frame_render_titles(&sink, 50);
	frame_render_row(f, 1, &sink, 50);
	frame_render_titles(&sink, 30);
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
	struct stack_record rec = { .stack_id = 1, .pid = getpid(), .outstanding_bytes = 64,
				    .outstanding_allocs = 1, .allocs = 1, .nr_ips = 3 };
	struct mem_sink m = { 0 };
	struct frame_sink sink = SINK(&m);

	assert_non_null(sym);
	assert_non_null(f);
	assert_int_equal(filter_site_fn(1) + filter_needle_fn(1), 17);
	assert_int_equal(symbolizer__add_pid(sym, getpid()), 0);
	/* Return addresses: one byte past a call still names its caller. */
	rec.ips[0] = (uint64_t)(uintptr_t)filter_site_fn + 1;
	rec.ips[1] = 0x10; /* never mapped */
	rec.ips[2] = (uint64_t)(uintptr_t)filter_needle_fn + 1;
	f->snap = snapshot__new();
	assert_non_null(f->snap);
	assert_int_equal(snapshot__add(f->snap, &rec), 0);
	assert_int_equal(report_init(&f->report, f->snap, sym, 0), 0);
	f->trends = malloc(sizeof(trend));
	assert_non_null(f->trends);
	f->trends[0] = trend;

	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, "filter_site"), 0);
	assert_int_equal(f->nr_rows, 1);
	/* The stack screen shows the frames the filter read: one, the site. */
	assert_int_equal(frame_render_stack(f, 0, &sink), 0);
	assert_int_equal(m.lines, 3);
	assert_non_null(strstr(m.text, "\n#0   filter_site_fn+0x1 (test_frame) "));
	assert_int_equal(frame_select(f, FRAME_SORT_BYTES, "needle"), 0);
	assert_int_equal(f->nr_listed, 1);
	assert_int_equal(f->nr_rows, 0);
	frame_free(f);
	symbolizer__free(sym);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_listed_and_sorted),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_rows_text_by_width),
		cmocka_unit_test(test_stack_text),
		cmocka_unit_test(test_filter_stops_past_unmapped_caller),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
