/* cgroup.c: the cgroup v2 hierarchy: where it is mounted, a group named by its path or by its
 * name, and the processes of a group's subtree. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "base/array.h"
#include "base/errmsg.h"
#include "proc/cgroup.h"

#define MOUNTS "/proc/self/mounts"

/* The next blank-separated field of a mount line from *p: its start and length; 0 when none. */
static size_t mount_field(const char **p, const char **start)
{
	size_t len;

	*p += strspn(*p, " \t");
	*start = *p;
	len = strcspn(*p, " \t\n");
	*p += len;
	return len;
}

/* The mount point as the kernel escapes it (\040 blank, \011 tab, \012 newline, \134 backslash). */
static char *unescape_mount_point(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' &&
		    s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			*o++ = (char)((s[i + 1] - '0') << 6 | (s[i + 2] - '0') << 3 |
				      (s[i + 3] - '0'));
			i += 3;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

int cgroup_parse_mount_line(const char *line, char **mount_point)
{
	const char *p = line, *dev, *dir, *type;
	size_t dev_len = mount_field(&p, &dev);
	size_t dir_len = mount_field(&p, &dir);
	size_t type_len = mount_field(&p, &type);

	*mount_point = NULL;
	if (!dev_len || !dir_len || !type_len)
		return -EINVAL;
	if (type_len != strlen("cgroup2") || memcmp(type, "cgroup2", type_len))
		return 0;
	*mount_point = unescape_mount_point(dir, dir_len);
	return *mount_point ? 1 : -ENOMEM;
}

int cgroup_parse_procs(const char *text, pid_t **pids, size_t *nr, size_t *cap)
{
	const char *p = text;
	size_t len, i;
	long long v;

	for (; *p; p += len + (p[len] == '\n')) {
		len = strcspn(p, "\n");
		if (!len)
			continue;
		for (i = 0, v = 0; i < len; i++) {
			if (p[i] < '0' || p[i] > '9' || v > INT32_MAX / 10)
				return -EINVAL;
			v = v * 10 + (p[i] - '0');
		}
		if (v > INT32_MAX)
			return -EINVAL;
		if (!v)
			continue;
		if (array_reserve(pids, cap, *nr, sizeof(**pids), 64))
			return -ENOMEM;
		(*pids)[(*nr)++] = (pid_t)v;
	}
	return 0;
}

int cgroup_find_mount(char **mount)
{
	FILE *f = fopen(MOUNTS, "re");
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;

	*mount = NULL;
	if (!f)
		return -errno;
	while (!ret && getline(&line, &cap, f) > 0)
		ret = cgroup_parse_mount_line(line, mount);
	free(line);
	fclose(f);
	if (ret == 1)
		return 0;
	if (ret == -EINVAL)
		return -EIO;
	return ret ? ret : -ENOENT;
}

/* A group removed meanwhile: its entries fail so. */
static bool gone(int errnum)
{
	return errnum == ENOENT || errnum == ENODEV;
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && (path[n] == '/' || !path[n]);
}

/* a + "/" + b (b's own leading '/' kept alone), malloc'ed; NULL when out of memory. */
static char *join(const char *a, const char *b)
{
	char *s;

	if (asprintf(&s, "%s%s%s", a, b[0] == '/' ? "" : "/", b) < 0)
		return NULL;
	return s;
}

/* Whether the canonical path dir is a group of the cgroup2 hierarchy. 0 or -errno. */
static int check_group(const char *dir, char *err, size_t err_len)
{
	struct statfs fs;
	struct stat st;
	char *procs;
	int errnum;

	if (statfs(dir, &fs) || stat(dir, &st)) {
		errnum = errno;
		return errmsg(err, err_len, errnum, "cannot read %s: %s", dir, strerror(errnum));
	}
	if (fs.f_type != CGROUP2_SUPER_MAGIC || !S_ISDIR(st.st_mode))
		return errmsg(err, err_len, EINVAL, "%s is not a cgroup2 group", dir);
	procs = join(dir, "cgroup.procs");
	if (!procs)
		return errmsg(err, err_len, ENOMEM, "out of memory");
	errnum = access(procs, R_OK) ? errno : 0;
	if (gone(errnum))
		errnum = errmsg(err, err_len, EINVAL, "%s is not a cgroup2 group (no cgroup.procs)",
			     dir);
	else if (errnum)
		errnum = errmsg(err, err_len, errnum, "cannot read %s: %s", procs, strerror(errnum));
	free(procs);
	return errnum;
}

/* The group path names inside the mount, in *dir (the caller frees it, even on error); abs: path
 * made canonical if it exists outside the mount, for the message. 0 or -errno. */
static int resolve_in_mount(const char *mount, const char *path, const char *abs, char **dir,
			    char *err, size_t err_len)
{
	char *full = join(mount, path);
	int errnum, ret;

	if (!full)
		return errmsg(err, err_len, ENOMEM, "out of memory");
	*dir = realpath(full, NULL);
	errnum = errno;
	if (*dir && under(*dir, mount))
		ret = check_group(*dir, err, err_len);
	else if (*dir || abs)
		ret = errmsg(err, err_len, EINVAL, "%s is outside the cgroup2 hierarchy (mounted at %s)",
			  *dir ? *dir : abs, mount);
	else if (errnum == ENOENT || errnum == ENOTDIR)
		ret = errmsg(err, err_len, EINVAL, "no such group (no directory %s)", full);
	else
		ret = errmsg(err, err_len, errnum, "cannot read %s: %s", full, strerror(errnum));
	free(full);
	return ret;
}

int cgroup_resolve(const char *mount, const char *path, char **dir, char *err, size_t err_len)
{
	char *abs = NULL;
	int ret;

	*dir = NULL;
	if (!path[0])
		return errmsg(err, err_len, EINVAL, "empty path");
	/* An absolute path that exists may be the group's directory itself. */
	if (path[0] == '/')
		abs = realpath(path, NULL);
	if (abs && under(abs, mount)) {
		*dir = abs;
		ret = check_group(*dir, err, err_len);
	} else {
		ret = resolve_in_mount(mount, path, abs, dir, err, err_len);
		free(abs);
	}
	if (ret) {
		free(*dir);
		*dir = NULL;
	}
	return ret;
}

/*
 * Calls fn with each subdirectory of dirfd, opened (fd, closed after), and its name; stops at the
 * first error fn returns. Entries that vanish meanwhile (a group removed) are skipped. 0 or -errno.
 */
static int for_each_subdir(int dirfd, int (*fn)(void *ctx, int fd, const char *name), void *ctx)
{
	struct dirent *e;
	struct stat st;
	int fd, ret = 0;
	DIR *dir;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		ret = gone(errno) ? 0 : -errno;
		if (fd >= 0)
			close(fd);
		return ret;
	}
	for (;;) {
		errno = 0;
		e = readdir(dir);
		if (!e) {
			ret = gone(errno) ? 0 : -errno;
			break;
		}
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (e->d_type != DT_DIR &&
		    (e->d_type != DT_UNKNOWN ||
		     fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode)))
			continue;
		fd = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && gone(errno))
			continue;
		if (fd < 0) {
			ret = -errno;
			break;
		}
		ret = fn(ctx, fd, e->d_name);
		close(fd);
		if (ret)
			break;
	}
	closedir(dir);
	return ret;
}

/* The search for the shallowest group of a name. */
struct name_search {
	const char *name;
	char *rel;		/* the group searched, relative to the mount; NULL: the mount */
	int depth;		/* of its subgroups: 1 for the mount's */
	char *found;		/* relative to the mount */
	char *tie;		/* another as shallow as found */
	int found_depth;
};

static void note_found(struct name_search *s, char *rel)
{
	if (!s->found || s->depth < s->found_depth) {
		free(s->found);
		free(s->tie);
		s->found = rel;
		s->tie = NULL;
		s->found_depth = s->depth;
	} else if (s->depth == s->found_depth && !s->tie) {
		s->tie = rel;
	} else {
		free(rel);
	}
}

static int search_name(void *ctx, int fd, const char *name)
{
	struct name_search *s = ctx;
	char *parent = s->rel, *rel = parent ? join(parent, name) : strdup(name);
	int ret = 0;

	if (!rel)
		return -ENOMEM;
	if (!strcmp(name, s->name)) {
		note_found(s, rel);
		return 0;
	}
	/* Below the depth of a group found already, none can be as shallow. */
	if (!s->found || s->depth < s->found_depth) {
		s->rel = rel;
		s->depth++;
		ret = for_each_subdir(fd, search_name, s);
		s->depth--;
		s->rel = parent;
	}
	free(rel);
	return ret;
}

int cgroup_find_named(const char *mount, const char *name, char **dir, char **tie)
{
	struct name_search s = { .name = name, .depth = 1 };
	int fd, ret;

	*dir = NULL;
	*tie = NULL;
	fd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = for_each_subdir(fd, search_name, &s);
	close(fd);
	if (!ret && !s.found)
		ret = -ENOENT;
	if (!ret) {
		*dir = join(mount, s.found);
		*tie = s.tie ? join(mount, s.tie) : NULL;
		if (!*dir || (s.tie && !*tie)) {
			free(*dir);
			free(*tie);
			*dir = *tie = NULL;
			ret = -ENOMEM;
		} else if (s.tie) {
			ret = -EEXIST;
		}
	}
	free(s.found);
	free(s.tie);
	return ret;
}

/* The walk of a subtree: where its pids go, and a buffer for each cgroup.procs. */
struct subtree_walk {
	pid_t **pids;
	size_t *nr, *cap;
	char *text;
	size_t text_cap;
};

/* The pids of group fd and of its descendants. */
static int walk_group(void *ctx, int fd, const char *name)
{
	struct subtree_walk *w = ctx;
	size_t len = 0;
	ssize_t n = 0;
	int procs, ret;

	procs = openat(fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	if (procs < 0)
		return gone(errno) ? 0 : -errno;
	for (;;) {
		if (array_reserve(&w->text, &w->text_cap, len + 1, 1, 4096)) {
			close(procs);
			return -ENOMEM;
		}
		n = read(procs, w->text + len, w->text_cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	ret = n < 0 ? -errno : 0;
	close(procs);
	if (ret)
		return gone(-ret) ? 0 : ret;
	w->text[len] = '\0';
	ret = cgroup_parse_procs(w->text, w->pids, w->nr, w->cap);
	if (ret)
		return ret == -ENOMEM ? ret : -EIO;
	return for_each_subdir(fd, walk_group, w);
}

int cgroup_subtree_pids(const char *dir, pid_t **pids, size_t *nr, size_t *cap)
{
	struct subtree_walk w = { .pids = pids, .nr = nr, .cap = cap };
	int fd, ret;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return gone(errno) ? 0 : -errno;
	ret = walk_group(&w, fd, NULL);
	close(fd);
	free(w.text);
	return ret;
}
