/* test_metrics.c: the Prometheus exposition of a hand-built report, exact; and record's rotation. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "output/metrics.h"
#include "output/record.h"

static const struct sym_frame frame_leak = {
	.address = 0x401234, .function = "leak_here", .offset = 4,
	.module = "/opt/app/bin/server", .module_offset = 0x1234,
};
static const struct sym_frame frame_quote = {
	.address = 0x402000, .function = "odd\"name\\x", .offset = 0,
	.module = "/opt/app/bin/server", .module_offset = 0x2000,
};
static const struct sym_frame frame_nosym = {
	.address = 0x7f0000001000, .module = "/lib/libz.so.1", .module_offset = 0xbeef,
};

struct fixture {
	struct snapshot snap;
	struct stack_record recs[4];
	struct report_stack stacks[4];
	struct report r;
};

static const int pids[] = { 100, 200 };

static void build(struct fixture *fx)
{
	memset(fx, 0, sizeof(*fx));
	fx->snap.stats[LT_STAT_DROPPED_ALLOCS] = 3;
	fx->snap.stats[LT_STAT_UNMATCHED_FREES] = 9;
	/* Two stacks of pid 100 with the same site, summed into one series. */
	fx->recs[0] = (struct stack_record){ .stack_id = 1, .pid = 100, .outstanding_bytes = 1000,
					     .outstanding_allocs = 10, .allocs = 15 };
	fx->recs[1] = (struct stack_record){ .stack_id = 2, .pid = 100, .outstanding_bytes = 500,
					     .outstanding_allocs = 5, .allocs = 5 };
	fx->recs[2] = (struct stack_record){ .stack_id = 3, .pid = 100, .outstanding_bytes = 64,
					     .outstanding_allocs = 1, .allocs = 4 };
	fx->recs[3] = (struct stack_record){ .stack_id = 4, .pid = 200, .outstanding_bytes = 7,
					     .outstanding_allocs = 7, .allocs = 7 };
	fx->snap.stacks = fx->recs;
	fx->snap.nr_stacks = 4;
	fx->stacks[0] = (struct report_stack){ .rec = &fx->recs[0], .frames = &frame_leak,
					       .nr_frames = 1 };
	fx->stacks[1] = (struct report_stack){ .rec = &fx->recs[1], .frames = &frame_leak,
					       .nr_frames = 1 };
	fx->stacks[2] = (struct report_stack){ .rec = &fx->recs[2], .frames = &frame_quote,
					       .nr_frames = 1 };
	fx->stacks[3] = (struct report_stack){ .rec = &fx->recs[3], .frames = &frame_nosym,
					       .nr_frames = 1 };
	/* leak_here's second stack is a suspect: the site is one, its growth the sum. */
	fx->stacks[0].trend = (struct history_trend){ .growth_bytes_per_s = 10 };
	fx->stacks[1].trend = (struct history_trend){ .growth_bytes_per_s = 5.5, .suspect = true };
	fx->stacks[2].trend = (struct history_trend){ .growth_bytes_per_s = NAN };
	fx->stacks[3].trend = (struct history_trend){ .growth_bytes_per_s = -0.25 };
	fx->r = (struct report){ .version = "9", .pids = pids, .nr_pids = 2, .snap = &fx->snap,
				 .stacks = fx->stacks, .nr_stacks = 4, .nr_stacks_total = 4,
				 .sample_rate_bytes = 524288, .window_s = 62.5, .nr_readings = 32,
				 .judged = true, .nr_suspects = 1 };
}

static const char expected[] =
	"# HELP leaktop_outstanding_bytes Bytes allocated since attach and not freed (an estimate "
	"when sampling).\n"
	"# TYPE leaktop_outstanding_bytes gauge\n"
	"leaktop_outstanding_bytes{pid=\"100\",comm=\"srv \\\"x\\\"\"} 1564\n"
	"leaktop_outstanding_bytes{pid=\"200\",comm=\"\"} 7\n"
	"# HELP leaktop_outstanding_blocks Blocks allocated since attach and not freed (an estimate "
	"when sampling).\n"
	"# TYPE leaktop_outstanding_blocks gauge\n"
	"leaktop_outstanding_blocks{pid=\"100\",comm=\"srv \\\"x\\\"\"} 16\n"
	"leaktop_outstanding_blocks{pid=\"200\",comm=\"\"} 7\n"
	"# HELP leaktop_allocations_total Allocations recorded since attach.\n"
	"# TYPE leaktop_allocations_total counter\n"
	"leaktop_allocations_total{pid=\"100\",comm=\"srv \\\"x\\\"\"} 24\n"
	"leaktop_allocations_total{pid=\"200\",comm=\"\"} 7\n"
	"# HELP leaktop_frees_total Frees of recorded allocations since attach.\n"
	"# TYPE leaktop_frees_total counter\n"
	"leaktop_frees_total{pid=\"100\",comm=\"srv \\\"x\\\"\"} 8\n"
	"leaktop_frees_total{pid=\"200\",comm=\"\"} 0\n"
	"# HELP leaktop_leak_suspects Stacks of the process whose bytes grew steadily over the "
	"window (LEAK? in reports).\n"
	"# TYPE leaktop_leak_suspects gauge\n"
	"leaktop_leak_suspects{pid=\"100\",comm=\"srv \\\"x\\\"\"} 1\n"
	"leaktop_leak_suspects{pid=\"200\",comm=\"\"} 0\n"
	"# HELP leaktop_site_outstanding_bytes Outstanding bytes of the largest allocation sites of "
	"each process (its leak suspects first).\n"
	"# TYPE leaktop_site_outstanding_bytes gauge\n"
	"leaktop_site_outstanding_bytes{pid=\"100\",comm=\"srv \\\"x\\\"\",site=\"leak_here (server)\",kind=\"heap\"} "
	"1500\n"
	"leaktop_site_outstanding_bytes{pid=\"200\",comm=\"\",site=\"libz.so.1+0xbeef (libz.so.1)\",kind=\"heap\"} 7\n"
	"# HELP leaktop_site_outstanding_blocks Outstanding blocks of the largest allocation sites of "
	"each process (its leak suspects first).\n"
	"# TYPE leaktop_site_outstanding_blocks gauge\n"
	"leaktop_site_outstanding_blocks{pid=\"100\",comm=\"srv \\\"x\\\"\",site=\"leak_here (server)\",kind=\"heap\"} "
	"15\n"
	"leaktop_site_outstanding_blocks{pid=\"200\",comm=\"\",site=\"libz.so.1+0xbeef (libz.so.1)\",kind=\"heap\"} 7\n"
	"# HELP leaktop_site_growth_bytes_per_second Change of a site's outstanding bytes per "
	"second over the window (leaktop_growth_window_seconds); absent while the run is too "
	"short.\n"
	"# TYPE leaktop_site_growth_bytes_per_second gauge\n"
	"leaktop_site_growth_bytes_per_second{pid=\"100\",comm=\"srv \\\"x\\\"\",site=\"leak_here "
	"(server)\",kind=\"heap\"} 15.500\n"
	"leaktop_site_growth_bytes_per_second{pid=\"200\",comm=\"\",site=\"libz.so.1+0xbeef "
	"(libz.so.1)\",kind=\"heap\"} -0.250\n"
	"# HELP leaktop_site_leak_suspect 1 when a stack of the site grew steadily over the window "
	"(LEAK? in reports), else 0.\n"
	"# TYPE leaktop_site_leak_suspect gauge\n"
	"leaktop_site_leak_suspect{pid=\"100\",comm=\"srv \\\"x\\\"\",site=\"leak_here "
	"(server)\",kind=\"heap\"} 1\n"
	"leaktop_site_leak_suspect{pid=\"200\",comm=\"\",site=\"libz.so.1+0xbeef (libz.so.1)\",kind=\"heap\"} 0\n"
	"# HELP leaktop_losses_total Events leaktop could not account for, by kind (see the README).\n"
	"# TYPE leaktop_losses_total counter\n"
	"leaktop_losses_total{kind=\"dropped_allocs\"} 3\n"
	"leaktop_losses_total{kind=\"lost_stacks\"} 0\n"
	"leaktop_losses_total{kind=\"stack_table_full\"} 0\n"
	"leaktop_losses_total{kind=\"thread_state_full\"} 0\n"
	"leaktop_losses_total{kind=\"missed_returns\"} 0\n"
	"leaktop_losses_total{kind=\"unwind_no_mapping\"} 0\n"
	"leaktop_losses_total{kind=\"unwind_no_table\"} 0\n"
	"leaktop_losses_total{kind=\"unwind_no_cfi\"} 0\n"
	"leaktop_losses_total{kind=\"unwind_stop_row\"} 0\n"
	"leaktop_losses_total{kind=\"unwind_read_failed\"} 0\n"
	"leaktop_losses_total{kind=\"truncated_stacks\"} 0\n"
	"leaktop_losses_total{kind=\"unwind_not_ready\"} 0\n"
	"leaktop_losses_total{kind=\"lost_events\"} 0\n"
	"leaktop_losses_total{kind=\"track_lost_stacks\"} 0\n"
	"leaktop_losses_total{kind=\"track_stack_full\"} 0\n"
	"leaktop_losses_total{kind=\"track_table_full\"} 0\n"
	"leaktop_losses_total{kind=\"track_vma_busy\"} 0\n"
	"leaktop_losses_total{kind=\"track_exits_lost\"} 0\n"
	"leaktop_losses_total{kind=\"track_moves_cut\"} 0\n"
	"leaktop_losses_total{kind=\"track_calls_lost\"} 0\n"
	"# HELP leaktop_events_total Events that lose nothing, by kind: frees of blocks allocated "
	"before attach, by the allocator itself or of a parent's copy, calls left by an exception, "
	"blocks of exited processes released (see the README).\n"
	"# TYPE leaktop_events_total counter\n"
	"leaktop_events_total{kind=\"unmatched_frees\"} 9\n"
	"leaktop_events_total{kind=\"unwound_calls\"} 0\n"
	"leaktop_events_total{kind=\"allocator_frees\"} 0\n"
	"leaktop_events_total{kind=\"inherited_frees\"} 0\n"
	"leaktop_events_total{kind=\"exited_released\"} 0\n"
	"# HELP leaktop_growth_window_seconds The window of the growth and suspect series: the run "
	"so far, read every refresh interval.\n"
	"# TYPE leaktop_growth_window_seconds gauge\n"
	"leaktop_growth_window_seconds 62.500\n"
	"# HELP leaktop_sample_rate_bytes Mean bytes between sampled allocations; 0 when every "
	"allocation is recorded.\n"
	"# TYPE leaktop_sample_rate_bytes gauge\n"
	"leaktop_sample_rate_bytes 524288\n"
	"# HELP leaktop_suppressed_stacks Stacks holding memory that suppressions leave out of every "
	"other series.\n"
	"# TYPE leaktop_suppressed_stacks gauge\n"
	"leaktop_suppressed_stacks 0\n"
	"# HELP leaktop_suppressed_bytes Outstanding bytes of those stacks.\n"
	"# TYPE leaktop_suppressed_bytes gauge\n"
	"leaktop_suppressed_bytes 0\n"
	"# HELP leaktop_cpu_seconds_total CPU time leaktop itself has used.\n"
	"# TYPE leaktop_cpu_seconds_total counter\n"
	"leaktop_cpu_seconds_total 1.500000\n"
	"# HELP leaktop_resident_memory_bytes leaktop's own resident memory.\n"
	"# TYPE leaktop_resident_memory_bytes gauge\n"
	"leaktop_resident_memory_bytes 4096\n";

static void test_format_exact(void **state)
{
	struct fixture fx;
	struct metrics_process procs[] = { { 100, "srv \"x\"", 1 }, { 200, NULL, 0 } };
	struct metrics_self self = { .cpu_ns = 1500000000, .rss_bytes = 4096 };
	char *text;

	build(&fx);
	/* top 1 site per process: odd"name (64 bytes) is cut, leak_here (two stacks) stays */
	text = metrics_format(&fx.r, procs, 2, &self, 1);
	assert_non_null(text);
	assert_string_equal(text, expected);
	free(text);
}

static void test_format_escapes_sites(void **state)
{
	struct fixture fx;
	struct metrics_process procs[] = { { .pid = 100, .comm = "srv" } };
	char *text;

	build(&fx);
	text = metrics_format(&fx.r, procs, 1, NULL, 10);
	assert_non_null(text);
	assert_non_null(strstr(text, "site=\"odd\\\"name\\\\x (server)\",kind=\"heap\"} 64\n"));
	/* pid 200 is not listed: none of its series appear */
	assert_null(strstr(text, "pid=\"200\""));
	free(text);
}

/* A suspect site is shown before larger ones that are not; an unknown growth has no series. */
static void test_format_suspects_first(void **state)
{
	struct fixture fx;
	struct metrics_process procs[] = { { .pid = 100, .comm = "srv", .leak_suspects = 1 } };
	char *text;

	build(&fx);
	fx.stacks[1].trend.suspect = false;
	fx.stacks[2].trend.suspect = true;
	text = metrics_format(&fx.r, procs, 1, NULL, 1);
	assert_non_null(text);
	assert_non_null(strstr(text, "leaktop_site_outstanding_bytes{pid=\"100\",comm=\"srv\","
				     "site=\"odd\\\"name\\\\x (server)\",kind=\"heap\"} 64\n"));
	assert_non_null(strstr(text, "leaktop_site_leak_suspect{pid=\"100\",comm=\"srv\","
				     "site=\"odd\\\"name\\\\x (server)\",kind=\"heap\"} 1\n"));
	assert_null(strstr(text, "site=\"leak_here"));
	assert_null(strstr(text, "leaktop_site_growth_bytes_per_second{"));
	free(text);

	/* Too short a run: no growth series, no suspects, the window still said. */
	build(&fx);
	for (int i = 0; i < 4; i++)
		fx.stacks[i].trend = (struct history_trend){ .growth_bytes_per_s = NAN };
	fx.r.judged = false;
	fx.r.nr_readings = 2;
	fx.r.window_s = 2;
	procs[0].leak_suspects = 0;
	text = metrics_format(&fx.r, procs, 1, NULL, 10);
	assert_non_null(text);
	assert_null(strstr(text, "leaktop_site_growth_bytes_per_second{"));
	assert_non_null(strstr(text, "site=\"leak_here (server)\",kind=\"heap\"} 0\n"));
	assert_non_null(strstr(text, "leaktop_leak_suspects{pid=\"100\",comm=\"srv\"} 0\n"));
	assert_non_null(strstr(text, "leaktop_growth_window_seconds 2.000\n"));
	free(text);
}

static int count_profiles(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += !strncmp(de->d_name, "leaktop-", 8);
	closedir(d);
	return n;
}

static void test_record_rotation(void **state)
{
	char dir[] = "/tmp/leaktop-record-XXXXXX", path[128];
	struct fixture fx;
	struct stat st;

	assert_non_null(mkdtemp(dir));
	build(&fx);
	/* 2026-11-26T01:00:00Z + k seconds; keep 3 */
	for (int k = 0; k < 5; k++)
		assert_int_equal(record_write(dir, &fx.r, (1795654800ULL + k) * 1000000000ULL + 7000000,
					      3), 0);
	assert_int_equal(count_profiles(dir), 3);
	snprintf(path, sizeof(path), "%s/leaktop-20261126T010004.007Z.pb.gz", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size > 20);
	snprintf(path, sizeof(path), "%s/leaktop-20261126T010001.007Z.pb.gz", dir);
	assert_int_not_equal(stat(path, &st), 0);
	/* keep 0 keeps everything */
	assert_int_equal(record_prune(dir, 0), 0);
	assert_int_equal(count_profiles(dir), 3);
	assert_int_equal(record_prune(dir, 1), 0);
	assert_int_equal(count_profiles(dir), 1);
	assert_int_equal(record_prune(dir, 1), 0);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_exact),
		cmocka_unit_test(test_format_suspects_first),
		cmocka_unit_test(test_format_escapes_sites),
		cmocka_unit_test(test_record_rotation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
