/* series.h: `leaktop report`: stored profiles as one report: growth per stack, or a diff. */
#ifndef LT_SERIES_H
#define LT_SERIES_H

#include <stddef.h>
#include <stdio.h>

#include "output/output.h"

struct series_opts {
	const char *dir;  /* a directory of `leaktop record`'s profiles, or one profile */
	const char *base; /* NULL; or the profile to subtract from the newest */
	const struct output_format *fmt;
	FILE *out;
	const char *out_name; /* for messages: "standard output" or the path */
	size_t top;	      /* stacks shown; 0 = all */
	const char *version;
};

/*
 * Reads the profiles and writes one report with fmt:
 *   - without base: the newest profile's stacks, with the trends of a run's report: the
 *     profiles are fed to a covering history as the run's readings (tracing's start, then each
 *     profile), so growth, suspects and timelines come from the same code as a run's;
 *   - with base: the newest profile minus base, stack by stack (as pprof's -diff_base): what grew
 *     first, what shrank (negative) last, stacks that did not change left out.
 * Stacks are the same stack in two profiles when their pid and addresses are (profile_read.h).
 * Returns 0; -EINVAL for bad input (no profile in dir, a file that is no profile: logged, exit
 * status 2); -ENOMEM or the writer's error (logged, exit status 1).
 */
int series_report(const struct series_opts *o);

#endif
