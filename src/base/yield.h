/*
 * yield.h: lets long work on the main loop give way, every few milliseconds, to the one thing that
 * cannot wait for it: the probes of a process a traced one has just forked. Its allocations go
 * unseen until they are in, and a reading, a report or an unwind table can keep the loop for a
 * hundred milliseconds and more.
 */
#ifndef LT_YIELD_H
#define LT_YIELD_H

#include <stdint.h>

/*
 * From now on, yield_point() on this thread calls fn(ctx) when period_ns has passed since its
 * last call. fn must not start long work itself (the calls do not nest). fn NULL: no more calls.
 */
void yield_set(void (*fn)(void *ctx), void *ctx, uint64_t period_ns);

/* The work starts now (the loop has just looked at everything): the period counts from here. */
void yield_restart(void);

/* Called between the steps of long work (a stack, a map chunk, an object): cheap when not due. */
void yield_point(void);

#endif
