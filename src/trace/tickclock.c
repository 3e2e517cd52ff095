/* tickclock.c: the kernel's tick, measured against CLOCK_MONOTONIC: the clock of a block's time. */
#include <errno.h>
#include <bpf/bpf.h>

#include "base/clock.h"
#include "bpf/leaktop.h"
#include "trace/tickclock.h"

/* The kernel's HZ choices (kernel/Kconfig.hz); another HZ keeps bpf_ktime_get_ns(). */
static const unsigned int hz_choices[] = { 100, 250, 300, 1000 };

/* A tick count read between two readings of CLOCK_MONOTONIC. */
struct jiffies_read {
	uint64_t before, after, jiffies;
};

static int read_jiffies(int prog_fd, struct jiffies_read *r)
{
	/* A syscall program's context is copied back to ctx_in. */
	struct lt_jiffies ctx = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));

	r->before = now_ns();
	if (bpf_prog_test_run_opts(prog_fd, &opts))
		return -errno;
	r->after = now_ns();
	r->jiffies = ctx.jiffies;
	return 0;
}

/*
 * A tick is taken only when the reads on either side of it lie this close: the time taken for it
 * is then early by at most this much (a read takes 1 to 2 us; leaktop preempted between them, the
 * watch goes on to the next tick).
 */
#define EDGE_SLACK_NS 50000

/*
 * The next tick: reads the count until it moves on by one. *at is the time just before the last
 * read that saw the old count, never after the tick; *jiffies the new count. A count that moves by
 * more (leaktop was not running), or reads too far apart, start the watch again.
 */
static int next_tick(int prog_fd, uint64_t deadline, uint64_t *at, uint64_t *jiffies)
{
	struct jiffies_read prev, cur;
	int err = read_jiffies(prog_fd, &prev);

	while (!err) {
		err = read_jiffies(prog_fd, &cur);
		if (err)
			break;
		if (cur.jiffies == prev.jiffies + 1 && cur.after - prev.before <= EDGE_SLACK_NS) {
			*at = prev.before;
			*jiffies = cur.jiffies;
			return 0;
		}
		if (cur.after > deadline)
			return -ETIME;
		prev = cur;
	}
	return err;
}

int tickclock_fit(uint64_t at1, uint64_t j1, uint64_t at2, uint64_t j2, struct tickclock *out)
{
	uint64_t step, tick, at;

	if (j2 <= j1 || at2 <= at1)
		return -EINVAL;
	step = (at2 - at1) / (j2 - j1);
	for (size_t i = 0; i < sizeof(hz_choices) / sizeof(hz_choices[0]); i++) {
		/* the kernel's TICK_NSEC */
		tick = (1000000000ull + hz_choices[i] / 2) / hz_choices[i];
		if (step < tick - tick / 20 || step > tick + tick / 20)
			continue;
		/* The earlier of the two: a tick seen late puts every time after it late. */
		at = at1 + (j2 - j1) * tick < at2 ? at1 + (j2 - j1) * tick : at2;
		*out = (struct tickclock){ .hz = hz_choices[i], .tick_ns = tick,
					   .base = j2 * tick - at };
		return 0;
	}
	return -ETIME;
}

int tickclock_measure(int prog_fd, struct tickclock *out)
{
	uint64_t deadline = now_ns() + 200000000, at1, at2, j1, j2;
	int err = next_tick(prog_fd, deadline, &at1, &j1);

	if (!err)
		err = next_tick(prog_fd, deadline, &at2, &j2);
	return err ? err : tickclock_fit(at1, j1, at2, j2, out);
}
