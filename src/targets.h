/* targets.h: what a run traces: the pids given or the command started, and what they fork and exec. */
#ifndef LT_TARGETS_H
#define LT_TARGETS_H

#include <stdbool.h>

#include "model/report.h"
#include "options.h"
#include "trace/procset.h"
#include "trace/reachscan.h"
#include "ui/loop.h"

struct targets;

/*
 * Checks the pids given before anything is loaded: those gone or zombies already are skipped
 * (named); a list with none left alive is bad input. NULL and errno: ESRCH (none alive, logged),
 * ENOMEM.
 */
struct targets *targets__new(const struct options *opts);

/*
 * Starts tracing over o (the tracer, view and unwinder loaded): the command is started, stopped
 * before any of its code; every given process, or the command, gets its probes. -1 to go on, else
 * the exit code: 2 when nothing could be traced (bad input: logged), 1 on another failure.
 */
int targets__start(struct targets *t, const struct procset_opts *o);

/* The command, which starts now, traced from its first instruction; its tree followed. -1 or 1. */
int targets__resume(struct targets *t);

/*
 * Puts the targets' upkeep in l: the traced processes' events, ptrace's stops in command mode, and
 * the end of the run once nothing traced is left alive. 0 or -ENOSPC.
 */
int targets__watch(struct targets *t, struct loop *l);

/*
 * How the command ended, kept up to date as its exit is seen (the reports point to it); NULL
 * when the run has no command.
 */
const struct report_exit *targets__command_exit(const struct targets *t);

/* The processes of the run, for the reports. */
struct procset *targets__procs(const struct targets *t);

/* With rs, a command's process is scanned for reachability at its exit stop, its memory still
 * there (rs outlives t). */
void targets__scan_at_exit(struct targets *t, struct reachscan *rs);

/*
 * Lets every process go on untraced (a command still running goes on, and says so) and frees t.
 * NULL-safe. Call after the probes are detached.
 */
void targets__free(struct targets *t);

#endif
