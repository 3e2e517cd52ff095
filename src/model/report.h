/* report.h: the report model that every writer and view reads: a sorted snapshot, symbolized. */
#ifndef LT_REPORT_H
#define LT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/history.h"
#include "model/snapshot.h"
#include "symbol/symbolize.h"

/*
 * One stack of a report with its symbolized frames (innermost first, inlined frames expanded).
 * frames is NULL while the stack is not symbolized (report_symbolize()), and for a stack that was
 * not captured (rec->nr_ips == 0).
 */
struct report_stack {
	const struct stack_record *rec;
	const struct sym_frame *frames;
	size_t nr_frames;
	/*
	 * Over the report's window, from the run's history: its growth, and whether it is a leak
	 * suspect (history_trend_of()'s rule). Without a history, or while the run is too short to
	 * judge (report.judged false), nr_samples is 0, growth NAN and suspect false.
	 */
	struct history_trend trend;
};

/* A mapping of an object file in which frames of the report lie (pprof's Mapping). */
struct report_mapping {
	int pid;
	struct sym_mapping map;
};

/* A process of the run, as the reports show it. */
struct report_proc {
	int pid;		/* in leaktop's (the host's) pid namespace */
	int nspid;		/* in its own (a container's); = pid when the same */
	int ppid;		/* the traced process that forked it; 0 for one given */
	char comm[16];
	const char *state;	/* "traced", "exited", "not traced" */
	char reason[64];	/* "not traced": why; else "" */
	bool followed;		/* forked by a traced process after the run began */
	uint32_t execs;		/* execs it ran while traced */
	double gap_s;		/* followed while running: from its fork until its probes were in */
};

/* What a report's processes add up to: for the one-line summaries of the text report and view. */
struct report_proc_counts {
	unsigned int traced, given, followed, exited, execs;
	double gap_s;		/* the followed ones' gaps, summed */
};

/* How the command of a command-mode run ended. */
struct report_exit {
	bool ended;		/* false: it was still running when tracing ended */
	int code;		/* its exit code, when it exited */
	int signal;		/* the signal that killed it; 0 when it exited */
};

/*
 * --max-overhead: the budget, the rate in force, and what the controller measured at its last
 * decision (fractions of the traced processes' own CPU time).
 */
struct report_budget {
	double max_overhead;
	bool measured;			/* a decision was made: the figures below are set */
	double overhead;		/* the probes' cost */
	double entry_probes;		/* the entry probes' traps alone */
	bool entry_probes_over;		/* entry_probes > max_overhead, at the last decision */
	bool entry_probes_ever_over;	/* ... at any decision of the run */
	double trap_entry_ns, trap_return_ns;	/* measured at start-up, hits close together */
	double trap_entry_sparse_ns;		/* an entry's, hits far apart */
	uint64_t min_rate_bytes, max_rate_bytes;	/* the rates in force while sampling */
	bool full_tracking;		/* rate 0 (every block) was in force at some point */
	uint64_t decisions, rate_changes;
};

/* Everything a writer needs. Writers are pure functions of a report and a FILE*. */
struct report {
	const char *version;
	const int *pids;		/* every process traced in the run, sorted */
	size_t nr_pids;
	const struct report_proc *procs; /* every process of the run, traced or not */
	size_t nr_procs;
	void *owned;			/* freed by report_fini(): what the caller put there */
	double duration_s;
	uint64_t sample_rate_bytes;	/* in force now (--max-overhead moves it) */
	const struct report_budget *budget; /* --max-overhead; NULL without */
	const struct snapshot *snap;	/* totals and stats */
	const struct report_stack *stacks; /* already sorted and limited to --top */
	size_t nr_stacks;
	size_t nr_stacks_total;		/* stacks before --top cut the list */
	uint64_t start_time_ns;		/* tracing began, ns since the epoch (0 = unknown) */
	double self_cpu_s;		/* leaktop's own CPU time so far (the HTML report's cost) */
	uint64_t self_rss_bytes;	/* leaktop's own RSS then; 0 = unknown */
	const char *source;		/* what the report was read from, when not a run (`leaktop
					 * report`): one line; NULL for a run's */
	const struct report_mapping *mappings; /* where frames lie, sorted by (pid, start) */
	size_t nr_mappings;
	struct symbolizer *sym;		/* names the frames; NULL: addresses only */
	/*
	 * The trends: the run's readings, taken every refresh interval, and what they span. A
	 * stack's samples (history__samples()) make its growth timeline. NULL: no trends;
	 * writers go by nr_readings (0: no trends), so that a report can be made by hand.
	 */
	const struct history *history;
	double window_s;		/* the window: the run's first reading to its last */
	uint64_t window_start_ns;	/* CLOCK_MONOTONIC of its first reading (tracing began) */
	size_t nr_readings;		/* readings in the window, the first (at start) included */
	bool judged;			/* nr_readings >= HISTORY_MIN_SAMPLES: trends are set */
	size_t nr_suspects;		/* suspects among all the reading's stacks, listed or not */
	const struct report_exit *command_exit;	/* command mode: how it ended; else NULL */
	struct sym_frame *scratch;	/* report.c's own: one stack's worth of frames (a report
					 * with stacks has it from report_init()) */
};

/*
 * Starts a report over `top` stacks (0 = all) of snap, in snap's order (the caller has sorted
 * it), none of them symbolized yet: sets snap, duration_s (from snap), stacks, nr_stacks,
 * nr_stacks_total and sym, and the trends from hist; no cost or source. version, pids, sample_rate_bytes and
 * start_time_ns are the caller's to set. sym may be NULL: every frame is then an unknown one with
 * only its address.
 *
 * hist is the run's history (history__new_covering()), fed with snap's reading last; NULL: no
 * trends. With it, each stack gets its trend, and the stacks listed under top are the suspects
 * first (the largest, when there are more than top), then the largest of the others: a suspect
 * is never cut for a bigger stack that is not one. They stay in snap's order.
 *
 * r refers to snap, hist and sym's strings: keep them alive until report_fini(). 0 or -ENOMEM (r
 * then holds no stacks); report_fini() frees what it allocated, in every case.
 */
int report_init(struct report *r, const struct snapshot *snap, struct symbolizer *sym, size_t top,
		const struct history *hist);

/* Inlined frames one return address can expand to; deeper inline chains keep their innermost. */
#define REPORT_FRAMES_PER_IP 8

/*
 * Whether the stack ends before its return address i, whose first frame lies in a mapped object
 * or not: a caller's return address outside every mapped object means the frame-pointer walk ran
 * into code built without frame pointers, and what follows is not a stack.
 */
static inline bool report_ends_stack(uint32_t i, bool mapped)
{
	return i > 0 && !mapped;
}

/*
 * Symbolizes the stacks first .. first + n - 1 of r (those that are not yet; n is cut at the
 * report's end), for the consumers that show only some of them (the live view's rows). Frames
 * stop past a caller outside every mapping: the frame-pointer walk ran into code built without
 * frame pointers there, and what follows is no stack. 0 or -ENOMEM.
 */
int report_symbolize(struct report *r, size_t first, size_t n);

/* Whether report_symbolize() has named stack rs (a stack not captured has nothing to name). */
static inline bool report_stack_symbolized(const struct report_stack *rs)
{
	return rs->frames || !rs->rec->nr_ips;
}

/*
 * The frames of stack i: its own when symbolized, else named now into r's scratch, which the next
 * call overwrites. So a writer of a report of many stacks from report_init() holds one stack's
 * frames at a time. How many (0 for a stack not captured).
 */
size_t report_frames(const struct report *r, size_t i, const struct sym_frame **frames);

/*
 * report_init(), every stack symbolized, and the mappings the frames lie in (with sym): what the
 * writers take. 0 or -ENOMEM (r then holds no stacks).
 */
int report_build(struct report *r, const struct snapshot *snap, struct symbolizer *sym, size_t top,
		 const struct history *hist);

void report_fini(struct report *r);

/*
 * Stack i's timeline: the time (seconds from the window's start) and the outstanding bytes of
 * each of its samples in r's history, oldest first, into t_s and bytes (room for
 * HISTORY_MAX_WINDOW each). How many; 0 without a history.
 */
size_t report_stack_timeline(const struct report *r, size_t i, double *t_s, int64_t *bytes);

/* The sums of r's processes: those "not traced" count in none of them. */
struct report_proc_counts report_count_procs(const struct report *r);

#endif
