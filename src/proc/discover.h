/* discover.h: the processes a target names: a cgroup v2 subtree, a systemd unit, a command name. */
#ifndef LT_DISCOVER_H
#define LT_DISCOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum discover_kind {
	DISCOVER_CGROUP,	/* --cgroup PATH */
	DISCOVER_UNIT,		/* --unit NAME */
	DISCOVER_COMM,		/* --comm NAME */
};

struct discover_target {
	enum discover_kind kind;
	const char *arg;	/* the option's argument, as given */
	/* Where systemd says it runs; NULL: /run/systemd/system. (The tests point it elsewhere.) */
	const char *systemd_dir;
};

struct discover;

/*
 * Checks target t and makes a source of its pids. A cgroup PATH is absolute in the cgroup2 mount
 * (/sys/fs/cgroup/unified/system.slice/x.service), or a path inside the hierarchy as
 * /proc/PID/cgroup and `systemctl status` write it (/system.slice/x.service), or relative to the
 * mount; the mount is the first cgroup2 line of /proc/self/mounts. A unit NAME without a unit
 * suffix gets ".service"; its group is the shallowest directory of that name in the cgroup2 tree,
 * found once, here. A comm NAME needs no check: nothing running may match it yet.
 * Returns NULL and errno: EINVAL when the target is bad input (no such cgroup2 group, no cgroup2
 * mount, systemd not running for --unit, no such unit running): err holds a one-line message
 * without a trailing period, and the caller exits with code 2; ENOMEM or another errno for a
 * runtime failure, err also says why. err (err_len bytes) may be NULL with 0.
 */
struct discover *discover__new(const struct discover_target *t, char *err, size_t err_len);

/*
 * The processes (thread group ids) that match now, in increasing order without duplicates:
 * every process of the group and its descendant groups, or every process whose comm equals NAME
 * (as the kernel truncates it: its first 15 bytes). Zombies (state Z or X), kernel threads and
 * leaktop itself are left out. *pids points into d, valid until the next call on d.
 * A group that has gone (the unit stopped) gives none, and is read again at the next call (a unit
 * restarted gets the same group). Also records each pid as returned (see discover__poll()).
 * 0 or -errno (-ENOMEM; an error reading /proc or the group other than its entries vanishing).
 * Cost: for a cgroup, one directory read and one cgroup.procs read per group of the subtree, and
 * one read of /proc/PID/stat per process in it; for --comm, a scan of /proc: one read of
 * /proc/PID/stat per process of the machine: about 4 us each, so 4.4 ms a call with 1000
 * processes (measured on 2 CPUs), under 1% of a CPU per 1000 processes when polled every 500 ms.
 */
int discover__list(struct discover *d, const pid_t **pids, size_t *nr);

/*
 * The processes that match now and that neither call has returned before, as discover__list()
 * gives them (sorted, same lifetime), then records them: so a loop that calls it every half
 * second and attaches what it gets sees each process once in its life. A process is told by its
 * pid and start time, so a pid reused by a new process is returned again; one that leaves the
 * target (moved out of the group, renamed) and comes back while alive is not. The same cost as
 * discover__list(), plus one /proc/PID/stat read per process that left the target but lived on.
 */
int discover__poll(struct discover *d, const pid_t **pids, size_t *nr);

/*
 * What d watches, for messages: "cgroup /sys/fs/cgroup/system.slice/x.service",
 * "unit x.service (cgroup /sys/fs/cgroup/system.slice/x.service)", "processes named postgres".
 * Owned by d.
 */
const char *discover__describe(const struct discover *d);

/* NULL-safe. */
void discover__free(struct discover *d);

/* --- The pure parts, for the unit tests. */

/* What discover reads of /proc/PID/stat. */
struct discover_stat {
	char comm[16];		/* field 2, from the first '(' to the last ')'; 15 bytes at most */
	char state;		/* field 3: R, S, D, Z, X... */
	uint64_t flags;		/* field 9: PF_* */
	uint64_t start_ticks;	/* field 22: start time after boot, in clock ticks */
};

/* The text of /proc/PID/stat into *out. 0, or -EINVAL when it is not such a text. */
int discover_parse_stat(const char *text, struct discover_stat *out);

/* Whether a process in state st is one leaktop can trace: not a zombie, not a kernel thread. */
bool discover_stat_live(const struct discover_stat *st);

/* Whether a process with comm equals name as the kernel stores a name: its first 15 bytes. */
bool discover_comm_matches(const char *comm, const char *name);

/*
 * The unit name of --unit's argument: name itself if it ends in the suffix of a unit type that
 * has a cgroup (.service, .scope, .slice, .socket, .mount, .swap), else name + ".service", in
 * *unit (malloc'ed). 0; -EINVAL for no unit name (empty, or with '/': a path) or the name of a
 * unit that runs no process of its own (.target, .timer, .path, .device, .automount); -ENOMEM.
 */
int discover_unit_name(const char *name, char **unit);

#endif
