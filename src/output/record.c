/* record.c: `leaktop record`: one pprof profile per interval into a directory, atomically, rotated. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/array.h"
#include "base/log.h"
#include "output/record.h"

#define PREFIX "leaktop-"
#define SUFFIX ".pb.gz"

static int is_profile(const char *name)
{
	size_t n = strlen(name), p = strlen(PREFIX), s = strlen(SUFFIX);

	return n > p + s && !strncmp(name, PREFIX, p) && !strcmp(name + n - s, SUFFIX);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int record_list(const char *dir, char ***names_out, size_t *nr_out)
{
	char **names = NULL;
	size_t nr = 0, cap = 0;
	struct dirent *de;
	int err = 0;
	DIR *d;

	d = opendir(dir);
	if (!d) {
		err = -errno;
		log_error("cannot read the directory %s: %s", dir, strerror(-err));
		return err;
	}
	while ((de = readdir(d))) {
		if (!is_profile(de->d_name))
			continue;
		err = array_reserve(&names, &cap, nr, sizeof(*names), 64);
		if (err)
			break;
		if (!(names[nr] = strdup(de->d_name))) {
			err = -ENOMEM;
			break;
		}
		nr++;
	}
	closedir(d);
	if (err) {
		record_list_free(names, nr);
		return err;
	}
	if (nr)
		qsort(names, nr, sizeof(*names), cmp_names);
	*names_out = names;
	*nr_out = nr;
	return 0;
}

void record_list_free(char **names, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		free(names[i]);
	free(names);
}

int record_prune(const char *dir, size_t keep)
{
	char **names = NULL, *path;
	size_t nr = 0;
	int err;

	if (!keep)
		return 0;
	err = record_list(dir, &names, &nr);
	if (err)
		return err;
	for (size_t i = 0; i + keep < nr; i++) {
		if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
			err = -ENOMEM;
			break;
		}
		/* Fatal, as the caller sees it: --keep is there to bound the disk space used. */
		if (unlink(path) && errno != ENOENT) {
			err = -errno;
			log_error("cannot remove the old profile %s: %s", path, strerror(-err));
		}
		free(path);
	}
	record_list_free(names, nr);
	return err;
}

int record_write(const char *dir, const struct report *r, uint64_t now_ns, size_t keep)
{
	time_t secs = now_ns / 1000000000ULL;
	char stamp[32], *tmp = NULL, *final = NULL;
	struct tm tm;
	FILE *out;
	int fd, err = 0;

	gmtime_r(&secs, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	if (asprintf(&final, "%s/" PREFIX "%s.%03uZ" SUFFIX, dir, stamp,
		     (unsigned int)(now_ns / 1000000 % 1000)) < 0 ||
	    asprintf(&tmp, "%s/.leaktop-%s.%d.tmp", dir, stamp, (int)getpid()) < 0) {
		err = -ENOMEM;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		log_error("cannot create the profile %s: %s", tmp, strerror(-err));
		goto out;
	}
	out = fdopen(fd, "w");
	if (!out) {
		err = -errno;
		log_error("cannot write the profile to %s: %s", tmp, strerror(-err));
		close(fd);
		goto discard;
	}
	/* The writer flushes; the data is on disk only after fsync, and some file systems report a
	 * failed write only at close. */
	err = output_error(out, out_pprof_write(r, out));
	if (!err && fsync(fileno(out)))
		err = -errno;
	if (fclose(out) && !err)
		err = -errno;
	if (err) {
		log_error("cannot write the profile to %s: %s", tmp, strerror(-err));
		goto discard;
	}
	if (rename(tmp, final)) {
		err = -errno;
		log_error("cannot rename %s to %s: %s", tmp, final, strerror(-err));
		goto discard;
	}
	err = record_prune(dir, keep);
	goto out;
discard:
	unlink(tmp);
out:
	free(tmp);
	free(final);
	return err;
}
