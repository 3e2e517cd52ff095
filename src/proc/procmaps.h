/* procmaps.h: a process's executable mappings from /proc/PID/maps, and address -> (module, file offset). */
#ifndef LT_PROCMAPS_H
#define LT_PROCMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct procmap {
	uint64_t start, end;	/* [start, end) virtual addresses */
	uint64_t file_offset;	/* file offset that `start` maps */
	uint64_t dev_major, dev_minor, inode;
	char perms[5];		/* "r-xp" */
	char *path;		/* absolute path as the kernel shows it (owned; "" for anonymous) */
	bool deleted;		/* path ended in " (deleted)" (stripped from `path`) */
};

struct procmaps {
	int pid;
	struct procmap *maps;	/* sorted by start, as the kernel lists them */
	size_t nr_maps;
};

/*
 * Parses the text of a maps file (the format of /proc/PID/maps). Pure: used by the unit tests with
 * fixtures. Keeps only the executable mappings, but validates every line. Returns NULL and sets
 * errno on a malformed line (EINVAL) or no memory.
 */
struct procmaps *procmaps__parse(const char *text, size_t len, int pid);

/*
 * Reads and parses /proc/PID/maps. NULL and errno: ENOENT for a process that is gone or has no
 * address space (zombie, kernel thread).
 */
struct procmaps *procmaps__read(int pid);

/* The mapping containing addr, or NULL. O(log n). */
const struct procmap *procmaps__find(const struct procmaps *pm, uint64_t addr);

/* Translates addr into the file offset in its mapping's file. Returns false when unmapped. */
bool procmaps__file_offset(const struct procmaps *pm, uint64_t addr, const struct procmap **map,
			   uint64_t *file_offset);

void procmaps__free(struct procmaps *pm);

#endif
