/* profile_read.h: reads back the gzip'ed pprof profiles leaktop writes (record, -f pprof). */
#ifndef LT_PROFILE_READ_H
#define LT_PROFILE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "model/snapshot.h"
#include "symbol/symbolize.h"

/* One sample of a profile: a stack with its figures and its frames. */
struct profile_stack {
	/*
	 * pid, the figures (oldest_age_s < 0 and growth NAN: a profile has neither), and as
	 * stack_id a hash of the pid and the locations' addresses: the same stack has the same
	 * stack_id in every profile of one run. ips are the addresses, outermost cut past
	 * LT_MAX_DEPTH.
	 */
	struct stack_record rec;
	struct sym_frame *frames; /* innermost first; NULL for the unknown stack */
	size_t nr_frames;
};

struct profile {
	uint64_t taken_ns;	    /* when it was taken: tracing's start + its duration, ns since
				     * the epoch */
	uint64_t start_time_ns;	    /* tracing began (the profile's time_nanos) */
	double duration_s;	    /* tracing had run so long */
	uint64_t sample_rate_bytes; /* the profile's period when it is not 1 */
	struct snapshot_totals totals; /* from the "totals:" comment; else the samples' sums */
	uint64_t stats[LT_STAT_MAX];   /* the losses its comments name; the rest 0 */
	struct profile_stack *stacks;  /* in the profile's order */
	size_t nr_stacks;
	void *owned; /* the strings and frames: profile_free()'s */
};

/*
 * Reads the profile at path (gzip'ed or not). NULL and errno: EINVAL when the file is no profile
 * of leaktop's (not gzip, not a profile.proto, no inuse_space values, no pid label; err says
 * which), ENOMEM, or the errno of opening or reading it (err says so too).
 */
struct profile *profile_read(const char *path, char *err, size_t err_len);

void profile_free(struct profile *p);

#endif
