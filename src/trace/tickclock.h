/* tickclock.h: the kernel's tick, measured against CLOCK_MONOTONIC: the clock of a block's time. */
#ifndef LT_TICKCLOCK_H
#define LT_TICKCLOCK_H

#include <stdint.h>

/*
 * The programs time a block by the kernel's tick count (jiffies) instead of reading the clock,
 * which costs about 30 ns per allocation in a VM: jiffies * tick_ns - base is CLOCK_MONOTONIC at
 * the last tick. The kernel moves jiffies on at exact steps of TICK_NSEC of that clock, so a
 * block's time is early by less than a tick. It is never late but by the microseconds the kernel
 * took to count the tick measured, should a later tick be counted sooner.
 */
struct tickclock {
	unsigned int hz;	/* the kernel's HZ */
	uint64_t tick_ns;	/* its TICK_NSEC */
	uint64_t base;		/* jiffies * tick_ns - base = CLOCK_MONOTONIC of that tick */
};

/*
 * Measures it with prog_fd (lt_jiffies: the tick count, run through BPF_PROG_TEST_RUN): watches
 * two ticks go by (2 to 3 ticks' time, up to 30 ms at HZ=100) and takes the HZ among the kernel's
 * choices whose tick fits the time between them. 0, or -errno: -ETIME when no HZ fits (a VM
 * paused between the ticks, say) or no two ticks were seen cleanly within 200 ms; then the
 * programs keep bpf_ktime_get_ns().
 */
int tickclock_measure(int prog_fd, struct tickclock *out);

/*
 * The clock from two ticks seen: the count became j1 at at1 or after, and j2 at at2 or after
 * (at2 > at1). 0; -ETIME when no HZ of the kernel's choices fits, -EINVAL when they go backwards.
 */
int tickclock_fit(uint64_t at1, uint64_t j1, uint64_t at2, uint64_t j2, struct tickclock *out);

#endif
