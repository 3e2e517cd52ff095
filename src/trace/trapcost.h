/* trapcost.h: what the kernel spends per uprobe hit beside the BPF program, measured at start. */
#ifndef LT_TRAPCOST_H
#define LT_TRAPCOST_H

#include <stdbool.h>

struct trapcost {
	double entry_ns;	/* an entry probe's hit at an emulated instruction (a push) */
	double return_ns;	/* a return probe's hit */
};

/*
 * Measures both on a function of leaktop's own, with the kind of link leaktop's entry points get
 * (sessions: a session link, else a classic uprobe and uretprobe): calls timed without probes,
 * with an empty entry probe, then with its return as well (best of 9 rounds of 4000 calls each),
 * less the empty programs' own run time. Costs about 30 ms, and the probes' removal a grace
 * period or two. The kernel's path is the same for every process, so the figures are the traced
 * processes' too, for probes the kernel emulates (leaktop puts its entry probes on such instructions; an exit
 * probe on a `ret` is single-stepped, and costs 30 times more). 0 or -errno (logged).
 */
int trapcost_measure(struct trapcost *out, bool sessions);

#endif
