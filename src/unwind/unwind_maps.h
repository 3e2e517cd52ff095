/* unwind_maps.h: the traced processes' unwind tables in BPF maps, kept current as code maps. */
#ifndef LT_UNWIND_MAPS_H
#define LT_UNWIND_MAPS_H

#include <stddef.h>
#include <stdint.h>

struct unwinder;

/*
 * How often the main loop looks for code mapped since (dlopen): a quick check of each process's
 * miss counter, and a full re-read of its mappings at most this often when nothing was missed.
 */
#define UNWIND_CHECK_NS 250000000ull
#define UNWIND_REREAD_NS 2000000000ull
/*
 * The longest one refresh may keep the main loop: a fork's probes wait for the loop, so the
 * re-reads of many processes are spread over several checks.
 */
#define UNWIND_REFRESH_BUDGET_NS 5000000ull

struct procview;

/*
 * Reads the processes' code through the view pv (borrowed: it must outlive the unwinder). Takes
 * the BPF maps `unwind_rows` (an mmapable array of max_rows struct lt_unwind_row) and
 * `unwind_procs` (tgid -> struct lt_unwind_proc) by file descriptor; neither is closed by it.
 * NULL and errno: ENOMEM, or the error of mmap.
 */
struct unwinder *unwinder__new(struct procview *pv, int rows_fd, int procs_fd, uint32_t max_rows);

/*
 * Builds the table of every object pid has mapped executable (once per file, shared by the
 * processes that map it), and publishes pid's mappings to the BPF unwinder. An object whose table
 * cannot be built or does not fit is published without one (the BPF side counts
 * unwind_no_table). 0 or -errno: -ESRCH when the process is gone, -ENOMEM.
 */
int unwinder__add_pid(struct unwinder *u, int pid);

/*
 * Re-reads the mappings of each added process whose stacks met code outside its known mappings
 * (dlopen), or that the view last read more than max_age_ns ago, and republishes those whose
 * mappings changed (whoever read them).
 * Processes that have exited are dropped. Once budget_ns has passed, it stops after the process
 * it is at, and the next call goes on from the next one. 0 or -ENOMEM.
 */
int unwinder__refresh(struct unwinder *u, uint64_t max_age_ns, uint64_t budget_ns);

/* Rows written so far, of max_rows. */
size_t unwinder__rows_used(const struct unwinder *u);

/* NULL-safe. */
void unwinder__free(struct unwinder *u);

#endif
