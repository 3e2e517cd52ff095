/* debugfile.c: the debug-file search: build-id paths, debuglink directories, CRC checks. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/log.h"
#include "base/yield.h"
#include "proc/elf_file.h"
#include "symbol/debugfile.h"

#define DEBUG_ROOT "/usr/lib/debug"

static int file_crc32(const char *path, uint32_t *crc)
{
	size_t bufsz = 1 << 16;
	uLong c = crc32(0L, Z_NULL, 0);
	unsigned char *buf;
	ssize_t r;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(bufsz);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while ((r = read(fd, buf, bufsz)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		c = crc32(c, buf, (uInt)r);
		yield_point();
	}
	free(buf);
	close(fd);
	*crc = (uint32_t)c;
	return err;
}

/* Opens path as the debug file of o if it is one: same build-id, or the debuglink's CRC. */
static struct elf_file *try_file(const struct debugfile_owner *o, const char *path, bool check_crc)
{
	const uint8_t *id, *did;
	size_t id_len, did_len;
	struct elf_file *d;
	struct stat st;
	uint32_t crc = 0;

	if (stat(path, &st) || (st.st_dev == o->st_dev && st.st_ino == o->st_ino))
		return NULL;
	d = elf_file__open(path);
	if (!d)
		return NULL;
	id_len = elf_file__build_id(o->ef, &id);
	did_len = elf_file__build_id(d, &did);
	if (id_len && did_len) {
		if (id_len == did_len && !memcmp(id, did, id_len))
			return d;
	} else if (!check_crc ||
		   (!file_crc32(path, &crc) && crc == elf_file__debuglink_crc(o->ef))) {
		return d;
	}
	log_debug("%s: ignoring %s: it belongs to another build", o->path, path);
	elf_file__free(d);
	return NULL;
}

/* Tries rel (an absolute path) inside the process's root first, then as seen from here. */
static struct elf_file *try_path(const struct debugfile_owner *o, const char *rel, bool check_crc)
{
	struct elf_file *d = NULL;
	char *p;

	if (o->root && asprintf(&p, "%s%s", o->root, rel) >= 0) {
		d = try_file(o, p, check_crc);
		free(p);
	}
	return d ? d : try_file(o, rel, check_crc);
}

/* /usr/lib/debug/.build-id/xx/yyyy.debug, named by the build-id's first byte and the rest. */
static struct elf_file *find_by_build_id(const struct debugfile_owner *o)
{
	const uint8_t *id;
	size_t id_len = elf_file__build_id(o->ef, &id), k = 0;
	struct elf_file *d = NULL;
	char *hex, *p;

	if (id_len < 2)
		return NULL;
	hex = malloc(id_len * 2 + 2);
	if (!hex)
		return NULL;
	for (size_t i = 0; i < id_len; i++) {
		k += (size_t)sprintf(hex + k, "%02x", id[i]);
		if (i == 0)
			hex[k++] = '/';
	}
	if (asprintf(&p, DEBUG_ROOT "/.build-id/%s.debug", hex) >= 0) {
		d = try_path(o, p, false);
		free(p);
	}
	free(hex);
	return d;
}

/* The debuglink name beside the object, in its .debug/, and under /usr/lib/debug. */
static struct elf_file *find_by_debuglink(const struct debugfile_owner *o)
{
	static const char *const places[][2] = {{"", "/"}, {"", "/.debug/"}, {DEBUG_ROOT, "/"}};
	const char *link = elf_file__debuglink(o->ef), *slash = strrchr(o->path, '/');
	struct elf_file *d = NULL;
	char *dir, *p;

	if (!link || !slash)
		return NULL;
	dir = strndup(o->path, (size_t)(slash - o->path));
	if (!dir)
		return NULL;
	for (size_t i = 0; !d && i < sizeof(places) / sizeof(places[0]); i++) {
		if (asprintf(&p, "%s%s%s%s", places[i][0], dir, places[i][1], link) < 0)
			continue;
		d = try_path(o, p, true);
		free(p);
	}
	free(dir);
	return d;
}

struct elf_file *debugfile_find(const struct debugfile_owner *o)
{
	struct elf_file *d = find_by_build_id(o);

	return d ? d : find_by_debuglink(o);
}
