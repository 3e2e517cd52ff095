/* bpfcost.c: what leaktop's BPF programs cost, from the kernel's BPF run-time statistics. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "trace/bpfcost.h"
#include "base/log.h"
#include "trace/track.h"

/* More than the programs leaktop loads (the tracer's and --track's). */
#define MAX_PROGS 48

struct bpfcost {
	int stats_fd;		/* from bpf_enable_stats(); -1 when the sysctl is relied on */
	int prog_fds[MAX_PROGS];
	size_t nr_progs;
};

static bool sysctl_on(void)
{
	FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "re");
	int v = 0;

	if (!f)
		return false;
	if (fscanf(f, "%d", &v) != 1)
		v = 0;
	fclose(f);
	return v != 0;
}

static struct bpfcost *cost_new(const struct tracer *t, bool probes_only)
{
	struct bpfcost *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->nr_progs = probes_only ? tracer__probe_prog_fds(t, c->prog_fds, MAX_PROGS)
				  : tracer__prog_fds(t, c->prog_fds, MAX_PROGS);
	if (c->nr_progs > MAX_PROGS)
		c->nr_progs = MAX_PROGS;
	c->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (c->stats_fd < 0)
		log_info("cannot turn on BPF run-time statistics: %s", strerror(errno));
	return c;
}

struct bpfcost *bpfcost__new(const struct tracer *t)
{
	return cost_new(t, false);
}

struct bpfcost *bpfcost__new_probes(const struct tracer *t)
{
	return cost_new(t, true);
}

void bpfcost__add_track(struct bpfcost *c, const struct track *track)
{
	size_t n;

	if (!track)
		return;
	n = track__prog_fds(track, c->prog_fds + c->nr_progs, MAX_PROGS - c->nr_progs);
	c->nr_progs += n < MAX_PROGS - c->nr_progs ? n : MAX_PROGS - c->nr_progs;
}

int bpfcost__read(const struct bpfcost *c, uint64_t *run_time_ns, uint64_t *run_cnt)
{
	*run_time_ns = 0;
	*run_cnt = 0;
	if (c->stats_fd < 0 && !sysctl_on())
		return -ENODATA;
	for (size_t i = 0; i < c->nr_progs; i++) {
		struct bpf_prog_info info;
		uint32_t len = sizeof(info);

		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(c->prog_fds[i], &info, &len))
			return -errno;
		*run_time_ns += info.run_time_ns;
		*run_cnt += info.run_cnt;
	}
	return 0;
}

int bpfcost__set_on(struct bpfcost *c, bool on)
{
	if (!on) {
		if (c->stats_fd >= 0)
			close(c->stats_fd);
		c->stats_fd = -1;
		return 0;
	}
	if (c->stats_fd < 0)
		c->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	return c->stats_fd < 0 ? -errno : 0;
}

void bpfcost__free(struct bpfcost *c)
{
	if (!c)
		return;
	if (c->stats_fd >= 0)
		close(c->stats_fd);
	free(c);
}
