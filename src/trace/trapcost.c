/* trapcost.c: what the kernel spends per uprobe hit beside the BPF program, measured at start. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "base/clock.h"
#include "base/log.h"
#include "proc/procmaps.h"
#include "trace/tracer.h"
#include "trace/trapcost.h"

#include "probecost.skel.h"

/*
 * The function probed: its first instruction is a push, which the kernel emulates, as it does at
 * the probe points leaktop chooses (probepoint.c); a return probe there is a return probe
 * anywhere. Its twin is never probed: the reference of the paced measurement. Both are called
 * through volatile pointers so that every call happens.
 */
/* clang-format off */
__asm__(".text\n.globl lt_trapcost_fn\n.type lt_trapcost_fn,@function\n.p2align 4\n"
	"lt_trapcost_fn:\npush %rbp\npop %rbp\nret\n.size lt_trapcost_fn, .-lt_trapcost_fn\n"
	".globl lt_trapcost_ref\n.type lt_trapcost_ref,@function\n.p2align 4\n"
	"lt_trapcost_ref:\npush %rbp\npop %rbp\nret\n.size lt_trapcost_ref, .-lt_trapcost_ref\n");
/* clang-format on */
void lt_trapcost_fn(void);
void lt_trapcost_ref(void);
static void (*volatile trapcost_fn)(void) = lt_trapcost_fn;
static void (*volatile trapcost_ref)(void) = lt_trapcost_ref;

#define CALLS 4000
#define ROUNDS 9
/* Paced: calls of each function, and the work before and after each, in ns. */
#define PACED_CALLS 400
#define PACED_GAP_NS TRAPCOST_SPARSE_NS

/* ns per call, the best of ROUNDS rounds. */
static double time_calls(void)
{
	double best = 0;

	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now_ns(), t;

		for (int i = 0; i < CALLS; i++)
			trapcost_fn();
		t = (now_ns() - t0) / CALLS;
		if (!r || t < best)
			best = t;
	}
	return best;
}

static volatile uint64_t sink;

/* Work that touches no memory: iters steps of a linear congruential generator. */
static void spin(uint64_t iters)
{
	uint64_t x = sink;

	for (uint64_t i = 0; i < iters; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	sink = x;
}

/* spin()'s steps for ns nanoseconds: the fastest of 5 timings. */
static uint64_t spin_steps(double ns)
{
	double best = 0;

	for (int r = 0; r < 5; r++) {
		double t0 = now_ns(), t;

		spin(1 << 16);
		t = now_ns() - t0;
		if (!r || t < best)
			best = t;
	}
	return (uint64_t)(ns * (1 << 16) / (best > 0 ? best : 1));
}

static double nonneg(double v)
{
	return v > 0 ? v : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * What a call of the probed function costs beyond its unprobed twin when calls are sparse: the
 * two alternate, each after and before PACED_GAP_NS of work, each call timed with the work after
 * it (what the trap left cold slows that work too); the difference of the medians, which a
 * preemption here and there does not move.
 */
static double paced_ns(uint64_t gap)
{
	static double with[PACED_CALLS], without[PACED_CALLS];

	for (int i = 0; i < 2 * PACED_CALLS; i++) {
		double t0;

		spin(gap);
		t0 = now_ns();
		if (i & 1)
			trapcost_fn();
		else
			trapcost_ref();
		spin(gap);
		*(i & 1 ? &with[i / 2] : &without[i / 2]) = now_ns() - t0;
	}
	qsort(with, PACED_CALLS, sizeof(double), cmp_double);
	qsort(without, PACED_CALLS, sizeof(double), cmp_double);
	return with[PACED_CALLS / 2] - without[PACED_CALLS / 2];
}

/* The empty program's own run time per run, from the kernel's statistics (0 when they are off). */
static double prog_ns_per_run(const struct bpf_program *prog)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) || !info.run_cnt)
		return 0;
	return (double)info.run_time_ns / (double)info.run_cnt;
}

/* A probe on the function, of the kind leaktop's entry points get; an fd (closed by the caller). */
static int attach(struct bpf_program *prog, const char *path, uint64_t offset, bool sessions,
		  bool retprobe)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = retprobe);
	struct bpf_link *link;
	uint64_t cookie = 0;
	int fd;

	if (sessions)
		return uprobe_multi_link_create(bpf_program__fd(prog), true, getpid(), path,
						&offset, &cookie, 1);
	link = bpf_program__attach_uprobe_opts(prog, getpid(), path, offset, &uo);
	if (!link)
		return -errno;
	/* The link's own fd, kept past the link's handle: closing it detaches the probe. */
	fd = dup(bpf_link__fd(link));
	bpf_link__destroy(link);
	return fd < 0 ? -errno : fd;
}

int trapcost_measure(struct trapcost *out, bool sessions)
{
	struct probecost_bpf *skel = NULL;
	struct procmaps *pm = procmaps__read(getpid());
	const struct procmap *map = NULL;
	double base, with_entry, with_both, entry_sparse;
	uint64_t gap = spin_steps(PACED_GAP_NS);
	int stats_fd = -1, entry = -1, both = -1, err;
	uint64_t offset;

	memset(out, 0, sizeof(*out));
	if (!pm || !procmaps__file_offset(pm, (uint64_t)(uintptr_t)lt_trapcost_fn, &map, &offset)) {
		err = pm ? -ENOENT : -errno;
		goto out;
	}
	skel = probecost_bpf__open();
	if (!skel) {
		err = -errno;
		goto out;
	}
	if (sessions) {
		uprobe_prog_set_session(skel->progs.probecost);
		uprobe_prog_set_session(skel->progs.probecost_entry);
	}
	err = probecost_bpf__load(skel);
	if (err)
		goto out;
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	base = time_calls();
	/* An entry alone: a session program that declines the return, or a classic uprobe. */
	entry = attach(skel->progs.probecost_entry, map->path, offset, sessions, false);
	if (entry < 0) {
		err = entry;
		goto out;
	}
	with_entry = time_calls();
	entry_sparse = paced_ns(gap);
	/* And its return: a session program that asks for it, or a uretprobe beside the uprobe. */
	if (sessions) {
		close(entry);
		entry = -1;
	}
	both = attach(skel->progs.probecost, map->path, offset, sessions, !sessions);
	if (both < 0) {
		err = both;
		goto out;
	}
	with_both = time_calls();
	out->entry_ns = with_entry - base - prog_ns_per_run(skel->progs.probecost_entry);
	/* With sessions both runs of a call are probecost's; without, one is probecost_entry's. */
	out->return_ns = with_both - with_entry - prog_ns_per_run(skel->progs.probecost);
	if (sessions)
		out->return_ns = with_both - base - 2 * prog_ns_per_run(skel->progs.probecost) -
				 out->entry_ns;
	out->entry_sparse_ns = entry_sparse - prog_ns_per_run(skel->progs.probecost_entry);
	out->entry_ns = nonneg(out->entry_ns);
	out->return_ns = nonneg(out->return_ns);
	out->entry_sparse_ns = nonneg(out->entry_sparse_ns);
	err = 0;
out:
	if (err)
		log_error("cannot measure what a probe costs: %s", strerror(-err));
	/* Each probe takes a grace period or two to go: tens of ms, once. */
	if (both >= 0)
		close(both);
	if (entry >= 0)
		close(entry);
	probecost_bpf__destroy(skel);
	if (stats_fd >= 0)
		close(stats_fd);
	procmaps__free(pm);
	return err;
}
