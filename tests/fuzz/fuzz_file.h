/* fuzz_file.h: a fuzz input as a file with a path, for the harnesses whose API opens one. */
#ifndef LT_FUZZ_FILE_H
#define LT_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

struct fuzz_file {
	int fd;
	char *path; /* "/proc/self/fd/N" */
};

/*
 * Puts data in a new memfd and names it by its /proc/self/fd path. A memfd rather than a temporary
 * file: a run that ends in a crash (libFuzzer then exits at once) leaves nothing behind. The path's
 * directory is /proc/self/fd, so a .gnu_debuglink the symbolizer looks for beside the file names
 * one of this process's descriptors: the standard streams are no regular files (elf_file refuses
 * them), and the input itself is recognised by its inode. Aborts on failure: a harness that cannot
 * write its input tests nothing.
 */
static void fuzz_file_open(struct fuzz_file *f, const uint8_t *data, size_t size)
{
	size_t done = 0;

	f->fd = memfd_create("leaktop-fuzz", MFD_CLOEXEC);
	if (f->fd < 0) {
		perror("memfd_create");
		abort();
	}
	while (done < size) {
		ssize_t n = write(f->fd, data + done, size - done);

		if (n <= 0) {
			perror("fuzz input");
			abort();
		}
		done += (size_t)n;
	}
	if (asprintf(&f->path, "/proc/self/fd/%d", f->fd) < 0) {
		perror("fuzz input path");
		abort();
	}
}

/* Every mapping of the input must be gone first (elf_file__free, symbolizer__free). */
static void fuzz_file_close(struct fuzz_file *f)
{
	close(f->fd);
	free(f->path);
}

#endif
