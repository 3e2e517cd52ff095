/* live.h: samples the traced processes into frames, for the live view and --batch. */
#ifndef LT_LIVE_H
#define LT_LIVE_H

#include <stddef.h>

#include "trace/tracer.h"
#include "ui/frame.h"
#include "ui/pipeline.h"

/* Default refresh interval of the view and of --batch, in seconds. */
#define LIVE_DEFAULT_INTERVAL_S 2.0

struct live;

/*
 * A sampler over the pipeline's reading, keeping `window` samples per stack (HISTORY_WINDOW).
 * Turns the kernel's BPF run-time statistics on while it lives (see bpfcost.h). p and t must
 * outlive it. NULL and errno on no memory.
 */
struct live *live__new(const struct pipeline *p, const struct tracer *t, size_t window);

/*
 * Takes a reading now, adds it to the history, and returns a new frame with every figure of the
 * header, a trend per stack and the report over the reading, but no rows yet (frame_select()).
 * With --metrics, publishes the metrics of the same report. interval_s is only shown. The caller
 * frees the frame (frame_free()). NULL and errno on failure (logged).
 */
struct frame *live__sample(struct live *l, double interval_s);

void live__free(struct live *l);

#endif
