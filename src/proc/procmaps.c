/* procmaps.c: parses /proc/PID/maps into executable mappings; address -> mapping, file offset. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc/procmaps.h"

#define DELETED_SUFFIX " (deleted)"

struct cursor {
	const char *p;
	const char *end;
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_num(struct cursor *c, unsigned int base, uint64_t *out)
{
	uint64_t v = 0;
	const char *start = c->p;
	int d;

	while (c->p < c->end && (d = hexval(*c->p)) >= 0 && (unsigned int)d < base) {
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			return -EINVAL;
		v = v * base + (uint64_t)d;
		c->p++;
	}
	if (c->p == start)
		return -EINVAL;
	*out = v;
	return 0;
}

static int expect(struct cursor *c, char ch)
{
	if (c->p >= c->end || *c->p != ch)
		return -EINVAL;
	c->p++;
	return 0;
}

/* The kernel pads the inode column with spaces; a single separator is the minimum. */
static int skip_spaces(struct cursor *c, bool required)
{
	const char *start = c->p;

	while (c->p < c->end && *c->p == ' ')
		c->p++;
	return required && c->p == start ? -EINVAL : 0;
}

static int parse_line(const char *line, size_t len, struct procmap *m)
{
	struct cursor c = {line, line + len};
	uint64_t v;
	size_t plen;
	int i;

	memset(m, 0, sizeof(*m));
	if (parse_num(&c, 16, &m->start) || expect(&c, '-') || parse_num(&c, 16, &m->end) ||
	    m->end <= m->start || skip_spaces(&c, true))
		return -EINVAL;

	if (c.end - c.p < 4)
		return -EINVAL;
	for (i = 0; i < 4; i++) {
		static const char allowed[4][3] = {"r-", "w-", "x-", "ps"};
		char ch = c.p[i];

		if (ch != allowed[i][0] && ch != allowed[i][1])
			return -EINVAL;
		m->perms[i] = ch;
	}
	m->perms[4] = '\0';
	c.p += 4;

	if (skip_spaces(&c, true) || parse_num(&c, 16, &m->file_offset) || skip_spaces(&c, true) ||
	    parse_num(&c, 16, &m->dev_major) || expect(&c, ':') || parse_num(&c, 16, &m->dev_minor))
		return -EINVAL;
	if (skip_spaces(&c, true) || parse_num(&c, 10, &v))
		return -EINVAL;
	m->inode = v;
	if (c.p < c.end && skip_spaces(&c, true))
		return -EINVAL;

	plen = (size_t)(c.end - c.p);
	if (plen >= sizeof(DELETED_SUFFIX) - 1 &&
	    !memcmp(c.end - (sizeof(DELETED_SUFFIX) - 1), DELETED_SUFFIX,
		    sizeof(DELETED_SUFFIX) - 1)) {
		m->deleted = true;
		plen -= sizeof(DELETED_SUFFIX) - 1;
	}
	m->path = strndup(c.p, plen);
	return m->path ? 0 : -ENOMEM;
}

static int cmp_start(const void *a, const void *b)
{
	const struct procmap *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

struct procmaps *procmaps__parse(const char *text, size_t len, int pid)
{
	const char *p = text, *end = text + len;
	struct procmaps *pm;
	size_t cap = 0;
	bool sorted = true;
	int err = 0;

	pm = calloc(1, sizeof(*pm));
	if (!pm)
		return NULL;
	pm->pid = pid;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t llen = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct procmap m;

		if (llen == 0) {
			p += 1;
			continue;
		}
		/* Every line is validated, even those dropped below, so a garbled file is reported.
		 */
		err = parse_line(p, llen, &m);
		if (err)
			goto err_out;
		p += llen + (nl ? 1 : 0);

		if (m.perms[2] != 'x') {
			free(m.path);
			continue;
		}
		if (pm->nr_maps == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			struct procmap *n = realloc(pm->maps, ncap * sizeof(*n));

			if (!n) {
				free(m.path);
				err = -ENOMEM;
				goto err_out;
			}
			pm->maps = n;
			cap = ncap;
		}
		if (pm->nr_maps && pm->maps[pm->nr_maps - 1].start > m.start)
			sorted = false;
		pm->maps[pm->nr_maps++] = m;
	}
	/* The kernel lists mappings in order; hand-written texts (tests, tools) need not. */
	if (!sorted)
		qsort(pm->maps, pm->nr_maps, sizeof(*pm->maps), cmp_start);
	return pm;

err_out:
	procmaps__free(pm);
	errno = -err;
	return NULL;
}

static char *read_all(int fd, size_t *len)
{
	size_t cap = 16384, n = 0;
	char *buf = malloc(cap);

	if (!buf)
		return NULL;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return buf;
}

struct procmaps *procmaps__read(int pid)
{
	struct procmaps *pm;
	char *path, *text;
	size_t len;
	int fd, err;

	if (asprintf(&path, "/proc/%d/maps", pid) < 0)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	err = errno;
	free(path);
	if (fd < 0) {
		errno = err;
		return NULL;
	}
	text = read_all(fd, &len);
	err = errno;
	close(fd);
	if (!text) {
		/* The process can exit between open and read. */
		errno = err == ESRCH ? ENOENT : err;
		return NULL;
	}
	/* A zombie or kernel thread has no address space left to describe. */
	if (len == 0) {
		free(text);
		errno = ENOENT;
		return NULL;
	}
	pm = procmaps__parse(text, len, pid);
	err = errno;
	free(text);
	errno = err;
	return pm;
}

const struct procmap *procmaps__find(const struct procmaps *pm, uint64_t addr)
{
	size_t lo = 0, hi;

	if (!pm)
		return NULL;
	hi = pm->nr_maps;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct procmap *m = &pm->maps[mid];

		if (addr < m->start)
			hi = mid;
		else if (addr >= m->end)
			lo = mid + 1;
		else
			return m;
	}
	return NULL;
}

bool procmaps__file_offset(const struct procmaps *pm, uint64_t addr, const struct procmap **map,
			   uint64_t *file_offset)
{
	const struct procmap *m = procmaps__find(pm, addr);

	if (!m)
		return false;
	if (map)
		*map = m;
	if (file_offset)
		*file_offset = addr - m->start + m->file_offset;
	return true;
}

void procmaps__free(struct procmaps *pm)
{
	size_t i;

	if (!pm)
		return;
	for (i = 0; i < pm->nr_maps; i++)
		free(pm->maps[i].path);
	free(pm->maps);
	free(pm);
}
