/* debugfile.h: finds the separate debug file of an object: by build-id, or by .gnu_debuglink. */
#ifndef LT_DEBUGFILE_H
#define LT_DEBUGFILE_H

#include <sys/types.h>

struct elf_file;

/* The object whose debug file is wanted, as the symbolizer opened it. */
struct debugfile_owner {
	struct elf_file *ef; /* its build-id and debuglink say what to look for */
	const char *path; /* as the process mapped it: debuglink directories are relative to it */
	const char *root; /* "/proc/PID/root" when the process lives under another root, or NULL */
	dev_t st_dev;	  /* of the file opened, so that the object is never its own debug file */
	ino_t st_ino;
};

/*
 * Search order: the build-id under /usr/lib/debug/.build-id/, then the .gnu_debuglink name in the
 * object's directory, its .debug/ subdirectory, and /usr/lib/debug/<directory>/; each path first
 * inside the process's root, then as seen from here. A file found by build-id must carry the same
 * build-id; one found by debuglink the same build-id too when both have one, else the CRC-32 the
 * debuglink states. Returns the opened debug file (the caller frees it with elf_file__free()), or
 * NULL when there is none: finding none is no error.
 */
struct elf_file *debugfile_find(const struct debugfile_owner *o);

#endif
