/* bpfcost.h: what leaktop's BPF programs cost, from the kernel's BPF run-time statistics. */
#ifndef LT_BPFCOST_H
#define LT_BPFCOST_H

#include <stdbool.h>
#include <stdint.h>

#include "trace/tracer.h"

struct bpfcost;

/*
 * Turns the kernel's BPF run-time statistics on for as long as the handle lives (BPF_ENABLE_STATS:
 * the kernel turns them off again when its fd closes, however leaktop exits). Where that is refused
 * (an old kernel), the kernel.bpf_stats_enabled sysctl may already have them on. Never fails for
 * lack of statistics: bpfcost__read() says so. NULL and errno on no memory.
 */
struct bpfcost *bpfcost__new(const struct tracer *t);

/* The same, counting only the programs that run at the traced processes' probes (the uprobes). */
struct bpfcost *bpfcost__new_probes(const struct tracer *t);

struct track;

/* Counts the --track programs (track: NULL-safe) with the tracer's from now on. */
void bpfcost__add_track(struct bpfcost *c, const struct track *track);

/*
 * Run time and runs of the tracer's programs since they were loaded, summed (the kernel counts
 * only while statistics are on). 0, -ENODATA when the statistics are off, or -errno.
 */
int bpfcost__read(const struct bpfcost *c, uint64_t *run_time_ns, uint64_t *run_cnt);

/*
 * Turns the statistics off (closes the handle's hold on them) or on again. They cost each run of
 * every BPF program two clock reads (about 40 ns on a virtual machine), in the traced processes:
 * a figure that is not needed all the time is better measured in turns. The counters keep their
 * values while off. 0, or -errno when they cannot be turned on.
 */
int bpfcost__set_on(struct bpfcost *c, bool on);

void bpfcost__free(struct bpfcost *c);

#endif
