/* trapcost.h: what the kernel spends per uprobe hit beside the BPF program, measured at start. */
#ifndef LT_TRAPCOST_H
#define LT_TRAPCOST_H

#include <stdbool.h>

/*
 * A trap costs more when the previous one is long past: the kernel's path (and what it leaves
 * cold for the code after it) is no longer in the caches. Measured here (Linux 6.18, KVM): about
 * 570 ns per entry with calls back to back or 2.5 us apart, 870 to 1240 ns with 10 us or more
 * between them. Hits closer than TRAPCOST_DENSE_NS pay the first, hits TRAPCOST_SPARSE_NS apart or
 * more the second.
 */
#define TRAPCOST_DENSE_NS 2500.0
#define TRAPCOST_SPARSE_NS 20000.0

struct trapcost {
	double entry_ns;	/* an entry's hit at an emulated instruction (a push), dense */
	double return_ns;	/* a return probe's hit, dense */
	double entry_sparse_ns;	/* an entry's, TRAPCOST_SPARSE_NS apart (a return follows its entry
				 * closely: its trap finds the path warm) */
};

/*
 * Measures them on a function of leaktop's own, with the kind of link leaktop's entry points get
 * (sessions: a session link, else a classic uprobe and uretprobe): calls timed without probes,
 * with an empty entry probe, then with its return as well (dense: best of 9 rounds of 4000 calls
 * back to back; sparse, an entry alone: the medians of 400 calls between stretches of work,
 * against an unprobed twin), less the empty programs' own run time. The calls take about 100 ms,
 * and the probes' removal grace periods: leaktop starts 0.3 to 0.5 s later with --max-overhead. The kernel's path is the same for every process, so the
 * figures are the traced processes' too, for probes the kernel emulates (leaktop puts its entry
 * probes on such instructions; an exit probe on a `ret` is single-stepped, and costs 30 times
 * more). 0 or -errno (logged).
 */
int trapcost_measure(struct trapcost *out, bool sessions);

#endif
