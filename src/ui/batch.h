/* batch.h: --batch: the live view's frames as plain text, one per interval (like top -b). */
#ifndef LT_BATCH_H
#define LT_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ui/live.h"
#include "ui/loop.h"
#include "ui/pipeline.h"

/*
 * Runs l (the caller has set its targets, stop signals and end): writes one plain-text frame per
 * interval_s to out, sorted by bytes, with `top` rows (0 = all), until `iterations` frames (0 =
 * no limit) or the end of l. Each frame is the header, a blank line, the column titles, the rows,
 * and a blank line, as the view shows them on a screen of unlimited width. What pipeline_run()
 * returns; -EIO when out fails (logged).
 */
int batch_run(struct pipeline *p, struct live *live, struct loop *l, double interval_s,
	      uint64_t iterations, size_t top, FILE *out);

#endif
