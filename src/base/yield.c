/* yield.c: the main loop's urgent work, run from inside long work (see yield.h). */
#include <stdbool.h>
#include <stddef.h>

#include "base/clock.h"
#include "base/yield.h"

/* The clock is read once every this many points: a point costs an increment otherwise. */
#define YIELD_CLOCK_EVERY 16

static struct {
	void (*fn)(void *ctx);
	void *ctx;
	uint64_t period_ns, next_ns;
	unsigned int points;
	bool busy;
} y;
static __thread bool set_here; /* the thread that set fn: the only one that calls it */

void yield_set(void (*fn)(void *ctx), void *ctx, uint64_t period_ns)
{
	y.fn = fn;
	y.ctx = ctx;
	y.period_ns = period_ns;
	y.next_ns = now_ns() + period_ns;
	set_here = fn != NULL;
}

void yield_restart(void)
{
	y.next_ns = now_ns() + y.period_ns;
}

void yield_point(void)
{
	uint64_t now;

	if (!set_here || y.busy || ++y.points % YIELD_CLOCK_EVERY)
		return;
	now = now_ns();
	if (now < y.next_ns)
		return;
	y.busy = true;
	y.fn(y.ctx);
	y.busy = false;
	y.next_ns = now_ns() + y.period_ns;
}
