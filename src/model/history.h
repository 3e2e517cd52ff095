/* history.h: a bounded ring of samples per stack; growth over the window; the suspect rule. */
#ifndef LT_HISTORY_H
#define LT_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/snapshot.h"

/* Samples kept per stack by default: the window is this many refresh intervals, less one. */
#define HISTORY_WINDOW 10
/* Fewer samples than this never make a suspect: four steps are the least that show a trend. */
#define HISTORY_MIN_SAMPLES 5

struct history_sample {
	uint64_t t_ns;		/* CLOCK_MONOTONIC time of the snapshot */
	int64_t bytes;		/* outstanding bytes of the stack then */
	uint64_t allocs;	/* allocations since attach then */
};

struct history_trend {
	size_t nr_samples;
	double window_s;		/* first to last sample; 0 with one sample */
	double growth_bytes_per_s;	/* (last - first) / window_s; NAN below 2 samples */
	bool suspect;			/* near-monotonic growth: see history_trend_of() */
	bool active;			/* the stack allocated within the window */
};

/*
 * The trend of one series of samples, oldest first. The leak-suspect rule, all of:
 *   - at least HISTORY_MIN_SAMPLES samples;
 *   - at least 80% of the steps between samples do not decrease (near-monotonic: a stack that
 *     churns goes up and down);
 *   - at least 3 steps increase (not one jump or two);
 *   - both halves of the window end higher than they start (sustained: a cache that filled and
 *     stopped is flat in the second half; a single jump lands in one half only).
 * A cache filled once therefore shows growth while the fill is inside the window, but is never a
 * suspect; a site that gains a little at every step is one after HISTORY_MIN_SAMPLES samples.
 */
void history_trend_of(const struct history_sample *samples, size_t n, struct history_trend *out);

struct history;

/* Most samples a stack can keep. */
#define HISTORY_MAX_WINDOW 64

/* An empty history keeping `window` samples per stack (2..HISTORY_MAX_WINDOW): the last ones, a
 * sliding window (the live view's). NULL and errno (EINVAL, ENOMEM). */
struct history *history__new(size_t window);

/* Samples per stack of a history that covers a whole run (the reports'): 256 bytes a stack. */
#define HISTORY_RUN_WINDOW 16

/*
 * An empty history whose window covers every update since the stack's first, with at most
 * `window` samples per stack (4..HISTORY_MAX_WINDOW, even). A stack keeps every update until its
 * samples fill the window; then every other one is dropped and from then on it keeps one update
 * in 2 (then 4, 8, ...: the stride doubles at each fill), plus always the newest. So its samples
 * stay evenly spaced over its whole life, window / 2 + 1 of them at least once the window has
 * filled, and the newest is the last update's. NULL and errno (EINVAL, ENOMEM).
 */
struct history *history__new_covering(size_t window);

/*
 * Adds a sample at snap->taken_ns for every stack of snap (keyed by pid and stack_id). A stack that
 * is new since the previous update first gets a sample of 0 bytes at that update's time: nothing
 * allocated before attach is seen, so it held nothing then. Stacks absent from snap have vanished
 * and are evicted, so memory stays bounded by the stacks traced at once times the window. Feed a
 * snapshot with no stacks taken when tracing began as the first update. 0, -EINVAL (snap not taken
 * after the previous update) or -ENOMEM; on error the history is unchanged.
 */
int history__update(struct history *h, const struct snapshot *snap);

/*
 * history__update(), and the trend of each stack of snap after it into trends[i] (room for
 * snap->nr_stacks; NULL: none), without looking the stacks up again.
 */
int history__update_trends(struct history *h, const struct snapshot *snap,
			   struct history_trend *trends);

/* The trend of one stack over the window. false when the stack is not in the history. */
bool history__trend(const struct history *h, int pid, uint64_t stack_id, struct history_trend *out);

/*
 * The trend of each stack of snap into trends[i] (room for snap->nr_stacks), as history__trend()
 * gives it: quicker when snap lists its stacks as the last update's snapshot did.
 */
void history__trends(const struct history *h, const struct snapshot *snap,
		     struct history_trend *trends);

/*
 * The samples of one stack over the window, oldest first, into out (room for HISTORY_MAX_WINDOW):
 * what its trend is computed from, for a timeline. t_ns is CLOCK_MONOTONIC, as a snapshot's
 * taken_ns. How many; 0 when the stack is not in the history.
 */
size_t history__samples(const struct history *h, int pid, uint64_t stack_id,
			struct history_sample *out);

/* What the updates so far span: the first update's time, the last's, and how many there were. */
struct history_span {
	uint64_t first_ns, last_ns;
	uint64_t nr_updates;
};
void history__span(const struct history *h, struct history_span *out);

/* Stacks kept. */
size_t history__nr_stacks(const struct history *h);

/* Bytes the history holds (for the tests of its bound). */
size_t history__mem_bytes(const struct history *h);

void history__free(struct history *h);

#endif
