/* cgroup.h: the cgroup v2 hierarchy: where it is mounted, a group named by its path or by its
 * name, and the processes of a group's subtree. */
#ifndef LT_CGROUP_H
#define LT_CGROUP_H

#include <stddef.h>
#include <sys/types.h>

/*
 * The mount point of the cgroup2 hierarchy: the first cgroup2 line of /proc/self/mounts
 * (/sys/fs/cgroup on a pure v2 machine, /sys/fs/cgroup/unified on a hybrid one), malloc'ed in
 * *mount. 0; -ENOENT when none is mounted; -EIO for a line that is no mount line; -errno.
 */
int cgroup_find_mount(char **mount);

/*
 * The group path names, canonical (realpath), malloc'ed in *dir. path is absolute in the mount
 * (/sys/fs/cgroup/system.slice/x.service), or absolute in the hierarchy as /proc/PID/cgroup and
 * `systemctl status` write it (/system.slice/x.service), or relative to the mount. It must be a
 * directory of the cgroup2 filesystem with a cgroup.procs.
 * 0; -EINVAL when it names no such group, with why in err (err_len bytes; NULL with 0 is allowed):
 * "no such group (no directory /sys/fs/cgroup/x)", "/tmp is outside the cgroup2 hierarchy
 * (mounted at /sys/fs/cgroup)", "/sys/fs/cgroup/x is not a cgroup2 group"; another -errno (err
 * says why, naming the file).
 */
int cgroup_resolve(const char *mount, const char *path, char **dir, char *err, size_t err_len);

/*
 * The shallowest group under mount whose directory is called name (a systemd unit's group:
 * system.slice/x.service, or deeper in a user's slice), absolute, malloc'ed in *dir.
 * 0; -ENOENT when there is none; -EEXIST when two are as shallow: then *dir is one and *tie
 * (malloc'ed) the other; -errno. Reads the whole tree: for start-up, not for a loop.
 */
int cgroup_find_named(const char *mount, const char *name, char **dir, char **tie);

/*
 * Appends the pids in the cgroup.procs of group dir and of every group below it to *pids (*nr
 * used, *cap allocated, grown with realloc), in the order read, duplicates possible (a process
 * moved from one group to another while they are read). A group that vanishes meanwhile, dir
 * included, holds none. 0, -ENOMEM, -EIO (a cgroup.procs that is no list of pids), -errno.
 * Cost: one directory read and one cgroup.procs read per group of the subtree.
 */
int cgroup_subtree_pids(const char *dir, pid_t **pids, size_t *nr, size_t *cap);

/* --- The pure parts, for the unit tests. */

/*
 * One line of /proc/self/mounts: if its filesystem type is cgroup2, its mount point with the
 * octal escapes (\040 for a blank...) undone, malloc'ed, in *mount_point, and 1; 0 for another
 * type; -EINVAL for a line that is not a mount line; -ENOMEM.
 */
int cgroup_parse_mount_line(const char *line, char **mount_point);

/*
 * Appends the pids of a cgroup.procs text (one decimal pid a line; 0, a process of another pid
 * namespace, is left out) to *pids, as cgroup_subtree_pids() does. 0, -EINVAL for a line that is
 * no pid, -ENOMEM.
 */
int cgroup_parse_procs(const char *text, pid_t **pids, size_t *nr, size_t *cap);

#endif
