/* fuzz_file.h: a fuzz input as a file on disk, for the harnesses whose API opens a path. */
#ifndef LT_FUZZ_FILE_H
#define LT_FUZZ_FILE_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * One private directory per process, holding one file. A directory of its own, not a memfd:
 * the symbolizer looks for a .gnu_debuglink file beside the object and in its .debug/
 * subdirectory, and under /proc/self/fd/ that name would reach whatever descriptor it names.
 */
static char *fuzz_dir, *fuzz_path;

static void fuzz_file_cleanup(void)
{
	if (fuzz_path)
		unlink(fuzz_path);
	if (fuzz_dir)
		rmdir(fuzz_dir);
}

/*
 * Writes data to the harness's file and returns its path. A new file every time (unlink, then
 * create): libelf maps the file, and a mapping of the previous input must never see new bytes.
 * Aborts on failure: a harness that cannot write its input tests nothing.
 */
static const char *fuzz_file_write(const uint8_t *data, size_t size)
{
	size_t done = 0;
	int fd;

	if (!fuzz_dir) {
		const char *tmp = getenv("TMPDIR");

		if (asprintf(&fuzz_dir, "%s/leaktop-fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0 ||
		    !mkdtemp(fuzz_dir) || asprintf(&fuzz_path, "%s/input", fuzz_dir) < 0) {
			perror("fuzz: temporary directory");
			abort();
		}
		atexit(fuzz_file_cleanup);
	}
	unlink(fuzz_path);
	fd = open(fuzz_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(fuzz_path);
		abort();
	}
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);

		if (n <= 0) {
			perror(fuzz_path);
			abort();
		}
		done += (size_t)n;
	}
	close(fd);
	return fuzz_path;
}

#endif
