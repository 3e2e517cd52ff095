/* reachscan.h: reachability scans of traced processes: their live blocks from the allocation
 * table, their roots and memory copied (threads paused meanwhile), marked (model/reach.h), and the
 * split per stack kept for the reports. */
#ifndef LT_REACHSCAN_H
#define LT_REACHSCAN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/snapshot.h"
#include "trace/collect.h"

/* How a scan holds the process still while it copies it. */
enum reachscan_hold {
	REACHSCAN_FREEZE,  /* pause its threads (freeze.h): the answer is exact */
	REACHSCAN_STOPPED, /* the caller holds it in a ptrace stop (command mode's exit stop) */
	REACHSCAN_LIVE,	   /* no pause: the process runs while it is copied (approximate) */
};

struct reachscan;

/* Scans over c's tables. NULL and errno (ENOMEM). */
struct reachscan *reachscan__new(struct collector *c);

/*
 * Scans process pid and keeps its split per stack (replacing the last scan's of pid). With
 * REACHSCAN_STOPPED, pid's thread pid is in a ptrace stop of the caller's; the stacks of its other
 * threads are then roots whole (their stack pointers are not known). The process is let go
 * before this returns, whatever happens. 0 or -errno (logged, naming the process).
 */
int reachscan__run(struct reachscan *rs, pid_t pid, enum reachscan_hold hold);

/* Sets the split of every stack of snap that a scan has seen, and snap's scan fields. */
int reachscan__apply(const struct reachscan *rs, struct snapshot *snap);

void reachscan__free(struct reachscan *rs);

#endif
