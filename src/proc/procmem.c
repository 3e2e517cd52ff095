/* procmem.c: a process's writable memory: its mappings, and copies of them read with
 * process_vm_readv in large chunks. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/array.h"
#include "proc/procmem.h"

/* Whether reading a mapping of path could act on a device. */
static bool is_device(const char *path)
{
	return !strncmp(path, "/dev/", 5) && strcmp(path, "/dev/zero") &&
	       strncmp(path, "/dev/shm/", 9);
}

struct procmem *procmem__list(pid_t pid)
{
	struct procmem *pm = calloc(1, sizeof(*pm));
	char fname[64], *line = NULL, perms[8];
	size_t cap = 0, cap_line = 0;
	uint64_t start, end;
	int err = 0, pos;
	FILE *fp;

	if (!pm)
		return NULL;
	pm->pid = pid;
	snprintf(fname, sizeof(fname), "/proc/%d/maps", (int)pid);
	fp = fopen(fname, "re");
	if (!fp) {
		err = errno;
		free(pm);
		errno = err;
		return NULL;
	}
	while (getline(&line, &cap_line, fp) > 0) {
		const char *path;

		line[strcspn(line, "\n")] = '\0';
		pos = 0;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %*s %*s %*s%n", &start, &end, perms,
			   &pos) < 3 ||
		    !pos)
			continue;
		path = line + pos;
		path += strspn(path, " ");
		if (perms[0] != 'r' || perms[1] != 'w' || is_device(path) || end <= start)
			continue;
		if (array_reserve(&pm->maps, &cap, pm->nr_maps, sizeof(*pm->maps), 64)) {
			err = ENOMEM;
			break;
		}
		pm->maps[pm->nr_maps++] = (struct procmem_map){.start = start, .end = end};
		pm->bytes += end - start;
	}
	free(line);
	fclose(fp);
	if (err) {
		procmem__free(pm);
		errno = err;
		return NULL;
	}
	return pm;
}

/* Copies [addr, addr + len) of the process into buf; pages that fail read as zeros. */
static int read_range(pid_t pid, uint64_t addr, uint8_t *buf, uint64_t len)
{
	const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t done = 0;

	while (done < len) {
		uint64_t n = len - done < PROCMEM_CHUNK ? len - done : PROCMEM_CHUNK;
		struct iovec local = {.iov_base = buf + done, .iov_len = n};
		struct iovec remote = {.iov_base = (void *)(uintptr_t)(addr + done), .iov_len = n};
		ssize_t r = process_vm_readv(pid, &local, 1, &remote, 1, 0);

		if (r < 0 && errno == ESRCH)
			return -ESRCH;
		if (r < 0 && errno == ENOMEM)
			return -ENOMEM;
		if (r <= 0) {
			/* the page at addr + done is unreadable: skip it (the copy is zeros) */
			r = (ssize_t)(page - ((addr + done) & (page - 1)));
			if ((uint64_t)r > len - done)
				r = (ssize_t)(len - done);
		}
		done += (uint64_t)r;
	}
	return 0;
}

int procmem__prepare(struct procmem *pm, struct procmem *from)
{
	size_t k = 0;

	for (size_t i = 0; i < pm->nr_maps; i++) {
		struct procmem_map *m = &pm->maps[i];
		void *p;

		/* both lists are sorted */
		while (from && k < from->nr_maps && from->maps[k].start < m->start)
			k++;
		if (from && k < from->nr_maps && from->maps[k].start == m->start &&
		    from->maps[k].end == m->end && from->maps[k].data) {
			m->data = from->maps[k].data;
			from->maps[k].data = NULL;
			continue;
		}
		if (m->data)
			continue;
		p = mmap(NULL, m->end - m->start, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (p == MAP_FAILED)
			return -ENOMEM;
		m->data = p;
	}
	return 0;
}

int procmem__read(struct procmem *pm)
{
	int err = procmem__prepare(pm, NULL);

	for (size_t i = 0; !err && i < pm->nr_maps; i++)
		err = read_range(pm->pid, pm->maps[i].start, pm->maps[i].data,
				 pm->maps[i].end - pm->maps[i].start);
	return err;
}

uint64_t procmem_available_bytes(void)
{
	unsigned long long kib = 0;
	char *line = NULL;
	size_t cap = 0;
	FILE *fp = fopen("/proc/meminfo", "re");

	if (!fp)
		return 0;
	while (getline(&line, &cap, fp) > 0)
		if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1)
			break;
	free(line);
	fclose(fp);
	return (uint64_t)kib * 1024;
}

void procmem__free(struct procmem *pm)
{
	if (!pm)
		return;
	for (size_t i = 0; i < pm->nr_maps; i++)
		if (pm->maps[i].data)
			munmap(pm->maps[i].data, pm->maps[i].end - pm->maps[i].start);
	free(pm->maps);
	free(pm);
}
