/* rdebug.c: the dynamic linker's view of a process: auxv entries, r_debug and the link map. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "proc/rdebug.h"

static int open_mem(int pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	return open(path, O_RDONLY | O_CLOEXEC);
}

static int read_mem(int fd, uint64_t addr, void *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len, (off_t)addr);

	return n == (ssize_t)len ? 0 : -EIO;
}

uint64_t rdebug_auxv(int pid, uint64_t type)
{
	char path[64];
	Elf64_auxv_t av;
	uint64_t value = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	while (read(fd, &av, sizeof(av)) == sizeof(av) && av.a_type != AT_NULL) {
		if (av.a_type == type) {
			value = av.a_un.a_val;
			break;
		}
	}
	close(fd);
	return value;
}

/* Follows AT_PHDR to the executable's PT_DYNAMIC in memory, then DT_DEBUG. */
static int find_in(int fd, int pid, uint64_t *r_debug)
{
	uint64_t phdr = rdebug_auxv(pid, AT_PHDR), phnum = rdebug_auxv(pid, AT_PHNUM);
	uint64_t bias = 0, dyn = 0;

	if (!phdr || !phnum)
		return -ENOENT;
	for (uint64_t i = 0; i < phnum && i < 64; i++) {
		Elf64_Phdr ph;

		if (read_mem(fd, phdr + i * sizeof(ph), &ph, sizeof(ph)))
			return -EIO;
		if (ph.p_type == PT_PHDR)
			bias = phdr - ph.p_vaddr;
		else if (ph.p_type == PT_DYNAMIC)
			dyn = ph.p_vaddr;
	}
	if (!dyn)
		return -ENOENT;
	for (int i = 0; i < 512; i++) {
		Elf64_Dyn d;

		if (read_mem(fd, dyn + bias + i * sizeof(d), &d, sizeof(d)) || d.d_tag == DT_NULL)
			break;
		if (d.d_tag == DT_DEBUG) {
			*r_debug = d.d_un.d_ptr;
			return *r_debug ? 0 : -ENOENT;
		}
	}
	return -ENOENT;
}

int rdebug_find(int pid, uint64_t *r_debug)
{
	int fd = open_mem(pid), err;

	if (fd < 0)
		return -errno;
	err = find_in(fd, pid, r_debug);
	close(fd);
	return err;
}

int rdebug_state(int pid, uint64_t r_debug)
{
	/* struct r_debug { int r_version; struct link_map *r_map; ElfW(Addr) r_brk; r_state; ... } */
	int fd = open_mem(pid), state = 0, err;

	if (fd < 0)
		return -errno;
	err = read_mem(fd, r_debug + 24, &state, sizeof(state));
	close(fd);
	return err ? err : state;
}

int rdebug_for_each_object(int pid, int (*fn)(const char *path, void *ctx), void *ctx)
{
	uint64_t r_debug, lm;
	int fd = open_mem(pid), err;

	if (fd < 0)
		return -errno;
	err = find_in(fd, pid, &r_debug);
	if (err)
		goto out;
	err = -ENOENT;
	if (read_mem(fd, r_debug + 8, &lm, sizeof(lm)) || !lm)
		goto out;
	err = 0;
	for (int n = 0; lm && n < 4096 && !err; n++) {
		/* struct link_map { l_addr; char *l_name; l_ld; l_next; l_prev; } */
		uint64_t link[4];
		char name[4096];
		ssize_t got;

		if (read_mem(fd, lm, link, sizeof(link)))
			break;
		got = link[1] ? pread(fd, name, sizeof(name) - 1, (off_t)link[1]) : 0;
		name[got > 0 ? got : 0] = '\0';
		if (name[0])
			err = fn(name, ctx);
		lm = link[3];
	}
out:
	close(fd);
	return err;
}
