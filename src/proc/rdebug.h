/* rdebug.h: the dynamic linker's view of a process: auxv entries, r_debug and the link map. */
#ifndef LT_RDEBUG_H
#define LT_RDEBUG_H

#include <stdint.h>

/* r_debug.r_state values (glibc's <link.h>). */
enum { RDEBUG_CONSISTENT = 0, RDEBUG_ADD = 1, RDEBUG_DELETE = 2 };

/* The value of auxv entry `type` (AT_ENTRY, AT_BASE, ...) of pid; 0 when absent or unreadable. */
uint64_t rdebug_auxv(int pid, uint64_t type);

/*
 * Address of the dynamic linker's struct r_debug in pid, found through the executable's DT_DEBUG
 * entry. 0 or -errno: -ENOENT when there is none (a static binary, or the dynamic linker has not
 * set it up yet).
 */
int rdebug_find(int pid, uint64_t *r_debug);

/* r_debug.r_state of pid, or -errno. */
int rdebug_state(int pid, uint64_t r_debug);

/*
 * Calls fn with the path of every object in pid's link map, in load order (the executable, whose
 * name is empty, is skipped). Stops when fn returns non-zero and returns that. 0 or -errno.
 */
int rdebug_for_each_object(int pid, int (*fn)(const char *path, void *ctx), void *ctx);

#endif
