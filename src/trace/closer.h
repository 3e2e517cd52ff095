/*
 * closer.h: detaches probes off the event loop. Closing a uprobe link waits for the kernel's RCU
 * grace periods: 30 to 150 ms each on our machines. A service that starts and ends processes
 * often (a connection per client) would otherwise stall the loop that puts the next child's probes
 * in place, and every allocation in that stall goes untraced. Links given to the closer are
 * closed by threads of its own, as many as the work needs (closes made at the same time share
 * their grace periods); the pid filter of a link stays bound to the process it was made for (its
 * task), so a pid reused meanwhile is never traced by an old link.
 */
#ifndef LT_CLOSER_H
#define LT_CLOSER_H

struct bpf_link;
struct closer;

/* A closer with no thread yet (the first link queued starts it). NULL when out of memory. */
struct closer *closer__new(void);

/* Destroys link, or closes the link descriptor fd (-1: none), soon, on a thread of the closer; at
 * once on this one if no thread can start or the queue cannot grow. */
void closer__add(struct closer *c, struct bpf_link *link, int fd);

/* Links queued and not closed yet. */
unsigned int closer__pending(struct closer *c);

/* Returns once every link given is closed, and frees c. NULL-safe. */
void closer__free(struct closer *c);

#endif
