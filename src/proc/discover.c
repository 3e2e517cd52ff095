/* discover.c: the processes a target names (a cgroup v2 subtree, a systemd unit, a command name),
 * found in /proc and the cgroup2 tree, now and anew. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/array.h"
#include "base/errmsg.h"
#include "proc/cgroup.h"
#include "proc/discover.h"

#define SYSTEMD_DIR "/run/systemd/system"
/* The kernel's TASK_COMM_LEN less its terminating NUL. */
#define COMM_MAX 15
/* A kernel thread (include/linux/sched.h). */
#define PF_KTHREAD 0x00200000

/* A process told apart from a later one with its pid: its start time. */
struct proc_id {
	pid_t pid;
	uint64_t start_ticks;
};

struct discover {
	enum discover_kind kind;
	char *group;			/* cgroup, unit: the group's directory, absolute */
	char comm[COMM_MAX + 1];	/* comm: the name, as the kernel truncates it */
	char *describe;
	pid_t self;
	int proc_fd;			/* /proc */
	struct proc_id *now;		/* the matches of this call, by pid */
	size_t nr_now, cap_now;
	struct proc_id *seen;		/* returned, and alive when last looked at; by pid */
	size_t nr_seen, cap_seen;
	struct proc_id *next;		/* scratch: the next seen */
	size_t cap_next;
	pid_t *out;			/* the answer */
	size_t nr_out, cap_out;
	pid_t *members;			/* scratch: the pids of the subtree's cgroup.procs */
	size_t nr_members, cap_members;
};

/* --- The pure parts. */

static int stat_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (!len)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int discover_parse_stat(const char *text, struct discover_stat *out)
{
	const char *open = strchr(text, '('), *close = strrchr(text, ')'), *p;
	size_t len;
	int field;

	/* The name may hold blanks and parentheses: it ends at the last ')'. */
	if (!open || !close || close < open || close[1] != ' ' || !close[2] || close[3] != ' ')
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	len = (size_t)(close - open - 1);
	memcpy(out->comm, open + 1, len < COMM_MAX ? len : COMM_MAX);
	out->state = close[2];
	p = close + 3;
	for (field = 4; field <= 22; field++) {
		p += strspn(p, " ");
		len = strcspn(p, " \n");
		if (!len)
			return -EINVAL;
		if (field == 9 && stat_u64(p, len, &out->flags))
			return -EINVAL;
		if (field == 22 && stat_u64(p, len, &out->start_ticks))
			return -EINVAL;
		p += len;
	}
	return 0;
}

bool discover_stat_live(const struct discover_stat *st)
{
	/* 'x' is TASK_DEAD as kernels before 4.14 wrote it. */
	if (st->state == 'Z' || st->state == 'X' || st->state == 'x')
		return false;
	return !(st->flags & PF_KTHREAD);
}

bool discover_comm_matches(const char *comm, const char *name)
{
	size_t n = strnlen(name, COMM_MAX);

	return strlen(comm) == n && !memcmp(comm, name, n);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && !strcmp(s + n - m, suffix);
}

int discover_unit_name(const char *name, char **unit)
{
	/* The unit types of systemd.unit(5): those with a cgroup of their own, then the others. */
	static const char *const with_cgroup[] = { ".service", ".scope", ".slice",
						   ".socket",  ".mount", ".swap" };
	static const char *const without[] = { ".target", ".timer", ".path", ".device",
					       ".automount" };
	size_t i;

	*unit = NULL;
	if (!name[0] || strchr(name, '/'))
		return -EINVAL;
	for (i = 0; i < sizeof(with_cgroup) / sizeof(with_cgroup[0]); i++) {
		if (ends_with(name, with_cgroup[i])) {
			*unit = strdup(name);
			return *unit ? 0 : -ENOMEM;
		}
	}
	for (i = 0; i < sizeof(without) / sizeof(without[0]); i++)
		if (ends_with(name, without[i]))
			return -EINVAL;
	/* As systemctl mangles a name without a suffix. */
	if (asprintf(unit, "%s.service", name) < 0) {
		*unit = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* --- Setting up. */

/* A vanished process: its entries in /proc fail so when it goes between two reads. */
static bool gone(int errnum)
{
	return errnum == ENOENT || errnum == ESRCH;
}

/* The cgroup2 mount point in *mount, for option opt. 0 or -errno (err says why). */
static int find_mount(const char *opt, char **mount, char *err, size_t err_len)
{
	int ret = cgroup_find_mount(mount);

	if (ret == -ENOENT)
		return errmsg(err, err_len, EINVAL,
			    "%s needs cgroup v2, which is not mounted here (no cgroup2 in "
			    "/proc/self/mounts)", opt);
	if (ret)
		return errmsg(err, err_len, -ret, "cannot read /proc/self/mounts: %s",
			    strerror(-ret));
	return 0;
}

static int setup_cgroup(struct discover *d, const char *arg, char *err, size_t err_len)
{
	char *mount, *why;
	int ret;

	ret = find_mount("--cgroup", &mount, err, err_len);
	if (ret)
		return ret;
	ret = cgroup_resolve(mount, arg, &d->group, err, err_len);
	free(mount);
	/* The reason in err, said of the option. */
	if (ret && err && err_len) {
		why = strdup(err);
		errmsg(err, err_len, -ret, "--cgroup %s: %s", arg, why ? why : "out of memory");
		free(why);
	}
	if (ret)
		return ret;
	if (asprintf(&d->describe, "cgroup %s", d->group) < 0)
		return errmsg(err, err_len, ENOMEM, "out of memory");
	return 0;
}

/* The group of unit in d->group. 0 or -errno (err says why). */
static int find_unit(struct discover *d, const char *unit, char *err, size_t err_len)
{
	char *mount, *tie = NULL;
	int ret;

	ret = find_mount("--unit", &mount, err, err_len);
	if (ret)
		return ret;
	ret = cgroup_find_named(mount, unit, &d->group, &tie);
	if (ret == -ENOENT)
		errmsg(err, err_len, EINVAL,
		     "--unit %s: no such unit running (no group of that name under %s)", unit,
		     mount);
	else if (ret == -EEXIST)
		errmsg(err, err_len, EINVAL,
		     "--unit %s: two groups have that name, %s and %s: give one with --cgroup",
		     unit, d->group, tie);
	else if (ret)
		errmsg(err, err_len, -ret, "--unit %s: cannot search %s: %s", unit, mount,
		     strerror(-ret));
	free(mount);
	free(tie);
	return ret == -ENOENT || ret == -EEXIST ? -EINVAL : ret;
}

static int setup_unit(struct discover *d, const struct discover_target *t, char *err,
		      size_t err_len)
{
	const char *sd = t->systemd_dir ? t->systemd_dir : SYSTEMD_DIR;
	struct stat st;
	char *unit;
	int ret;

	/* As sd_booted(3) tells. */
	if (stat(sd, &st) || !S_ISDIR(st.st_mode))
		return errmsg(err, err_len, EINVAL,
			    "--unit needs systemd, which is not running here (no %s); give the "
			    "unit's cgroup with --cgroup", sd);
	ret = discover_unit_name(t->arg, &unit);
	if (ret == -EINVAL && (!t->arg[0] || strchr(t->arg, '/')))
		return errmsg(err, err_len, EINVAL,
			    "--unit '%s': not a unit name (a group's path goes with --cgroup)",
			    t->arg);
	if (ret == -EINVAL)
		return errmsg(err, err_len, EINVAL,
			    "--unit %s: a unit of that type runs no process (give the unit it "
			    "starts)", t->arg);
	if (ret)
		return errmsg(err, err_len, -ret, "out of memory");
	ret = find_unit(d, unit, err, err_len);
	if (!ret && asprintf(&d->describe, "unit %s (cgroup %s)", unit, d->group) < 0)
		ret = errmsg(err, err_len, ENOMEM, "out of memory");
	free(unit);
	return ret;
}

static int setup_comm(struct discover *d, const char *arg, char *err, size_t err_len)
{
	if (!arg[0])
		return errmsg(err, err_len, EINVAL, "--comm: empty name");
	/* Compared as the kernel keeps a name: its first 15 bytes. */
	strncpy(d->comm, arg, sizeof(d->comm) - 1);
	if (asprintf(&d->describe, "processes named %s", d->comm) < 0)
		return errmsg(err, err_len, ENOMEM, "out of memory");
	return 0;
}

struct discover *discover__new(const struct discover_target *t, char *err, size_t err_len)
{
	struct discover *d = calloc(1, sizeof(*d));
	int ret;

	if (err && err_len)
		err[0] = '\0';
	if (!d) {
		errmsg(err, err_len, ENOMEM, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	d->kind = t->kind;
	d->self = getpid();
	d->proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->proc_fd < 0)
		ret = errmsg(err, err_len, errno, "cannot open /proc: %s", strerror(errno));
	else if (t->kind == DISCOVER_CGROUP)
		ret = setup_cgroup(d, t->arg, err, err_len);
	else if (t->kind == DISCOVER_UNIT)
		ret = setup_unit(d, t, err, err_len);
	else if (t->kind == DISCOVER_COMM)
		ret = setup_comm(d, t->arg, err, err_len);
	else
		ret = errmsg(err, err_len, EINVAL, "no such kind of target: %d", (int)t->kind);
	if (ret) {
		discover__free(d);
		errno = -ret;
		return NULL;
	}
	return d;
}

const char *discover__describe(const struct discover *d)
{
	return d->describe;
}

void discover__free(struct discover *d)
{
	if (!d)
		return;
	if (d->proc_fd >= 0)
		close(d->proc_fd);
	free(d->group);
	free(d->describe);
	free(d->now);
	free(d->seen);
	free(d->next);
	free(d->out);
	free(d->members);
	free(d);
}

/* --- Listing: the processes that match now, and those not returned before. */

/* /proc/PID/stat of pid in *st: 0, -ESRCH when the process has gone, or -errno. */
static int read_stat(const struct discover *d, pid_t pid, struct discover_stat *st)
{
	/* Some 60 numbers and a name: it fits. */
	char name[32], buf[2048];
	size_t len = 0;
	ssize_t n = 0;
	int fd, errnum;

	if (snprintf(name, sizeof(name), "%d/stat", (int)pid) >= (int)sizeof(name))
		return -EINVAL;
	fd = openat(d->proc_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return gone(errno) ? -ESRCH : -errno;
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	errnum = n < 0 ? errno : 0;
	close(fd);
	if (errnum)
		return gone(errnum) ? -ESRCH : -errnum;
	if (!len)
		return -ESRCH;
	buf[len] = '\0';
	return discover_parse_stat(buf, st) ? -EIO : 0;
}

static int add_now(struct discover *d, pid_t pid, uint64_t start_ticks)
{
	if (array_reserve(&d->now, &d->cap_now, d->nr_now, sizeof(*d->now), 64))
		return -ENOMEM;
	d->now[d->nr_now++] = (struct proc_id){ .pid = pid, .start_ticks = start_ticks };
	return 0;
}

/* Adds pid if it lives and is no kernel thread; name, if not NULL, must be its comm. */
static int consider(struct discover *d, pid_t pid, const char *name)
{
	struct discover_stat st;
	int ret;

	if (pid == d->self)
		return 0;
	ret = read_stat(d, pid, &st);
	if (ret)
		return ret == -ESRCH ? 0 : ret;
	if (!discover_stat_live(&st) || (name && !discover_comm_matches(st.comm, name)))
		return 0;
	return add_now(d, pid, st.start_ticks);
}

/* A decimal name of /proc: its pid; 0 for another name. */
static pid_t proc_entry_pid(const char *name)
{
	long v = 0;

	for (const char *c = name; *c; c++) {
		if (*c < '0' || *c > '9' || v > INT_MAX / 10)
			return 0;
		v = v * 10 + (*c - '0');
	}
	return v <= INT_MAX ? (pid_t)v : 0;
}

/* Every process of /proc (its entries are thread group ids) named d->comm. */
static int scan_comm(struct discover *d)
{
	struct dirent *e;
	int fd, ret = 0;
	pid_t pid;
	DIR *dir;

	fd = openat(d->proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		return ret;
	}
	for (;;) {
		errno = 0;
		e = readdir(dir);
		if (!e) {
			ret = -errno;
			break;
		}
		pid = proc_entry_pid(e->d_name);
		if (pid > 0)
			ret = consider(d, pid, d->comm);
		if (ret)
			break;
	}
	closedir(dir);
	return ret;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* Every process of d->group's subtree. A group that has gone holds none. */
static int scan_group(struct discover *d)
{
	size_t i;
	int ret;

	d->nr_members = 0;
	ret = cgroup_subtree_pids(d->group, &d->members, &d->nr_members, &d->cap_members);
	if (ret)
		return ret;
	if (d->nr_members)
		qsort(d->members, d->nr_members, sizeof(*d->members), cmp_pid);
	for (i = 0; i < d->nr_members && !ret; i++)
		if (!i || d->members[i] != d->members[i - 1])
			ret = consider(d, d->members[i], NULL);
	return ret;
}

static int cmp_proc(const void *a, const void *b)
{
	return cmp_pid(&((const struct proc_id *)a)->pid, &((const struct proc_id *)b)->pid);
}

/* The entry of d->seen with p's pid, if it is p (the same start time). */
static bool was_seen(const struct discover *d, const struct proc_id *p)
{
	const struct proc_id *s;

	if (!d->nr_seen)
		return false;
	s = bsearch(p, d->seen, d->nr_seen, sizeof(*p), cmp_proc);
	return s && s->start_ticks == p->start_ticks;
}

/* Whether the process p of d->seen that no longer matches still lives: 1, 0, or -errno. */
static int still_alive(const struct discover *d, const struct proc_id *p)
{
	struct discover_stat st;
	int ret = read_stat(d, p->pid, &st);

	if (ret)
		return ret == -ESRCH ? 0 : ret;
	return st.start_ticks == p->start_ticks && discover_stat_live(&st);
}

/* d->seen becomes d->now and what of d->seen is still alive: both sorted, merged. */
static int remember(struct discover *d)
{
	size_t i = 0, j = 0, nr = 0, want = d->nr_now + d->nr_seen;
	struct proc_id *t;
	int ret;

	if (want > d->cap_next) {
		t = reallocarray(d->next, want, sizeof(*t));
		if (!t)
			return -ENOMEM;
		d->next = t;
		d->cap_next = want;
	}
	while (i < d->nr_now || j < d->nr_seen) {
		if (j == d->nr_seen || (i < d->nr_now && d->now[i].pid <= d->seen[j].pid)) {
			/* A pid in both: now's is the process that has it now. */
			if (j < d->nr_seen && d->now[i].pid == d->seen[j].pid)
				j++;
			d->next[nr++] = d->now[i++];
			continue;
		}
		ret = still_alive(d, &d->seen[j]);
		if (ret < 0)
			return ret;
		if (ret)
			d->next[nr++] = d->seen[j];
		j++;
	}
	t = d->seen;
	d->seen = d->next;
	d->next = t;
	i = d->cap_seen;
	d->cap_seen = d->cap_next;
	d->cap_next = i;
	d->nr_seen = nr;
	return 0;
}

/* The matches now (all, or only those not returned before) into d->out, then remembered. */
static int answer(struct discover *d, bool only_new, const pid_t **pids, size_t *nr)
{
	int ret;

	*pids = NULL;
	*nr = 0;
	d->nr_now = 0;
	ret = d->kind == DISCOVER_COMM ? scan_comm(d) : scan_group(d);
	if (ret)
		return ret;
	if (d->nr_now)
		qsort(d->now, d->nr_now, sizeof(*d->now), cmp_proc);
	d->nr_out = 0;
	for (size_t i = 0; i < d->nr_now; i++) {
		if (only_new && was_seen(d, &d->now[i]))
			continue;
		if (array_reserve(&d->out, &d->cap_out, d->nr_out, sizeof(*d->out), 64))
			return -ENOMEM;
		d->out[d->nr_out++] = d->now[i].pid;
	}
	ret = remember(d);
	if (ret)
		return ret;
	*pids = d->out;
	*nr = d->nr_out;
	return 0;
}

int discover__list(struct discover *d, const pid_t **pids, size_t *nr)
{
	return answer(d, false, pids, nr);
}

int discover__poll(struct discover *d, const pid_t **pids, size_t *nr)
{
	return answer(d, true, pids, nr);
}
