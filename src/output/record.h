/* record.h: `leaktop record`: one pprof profile per interval into a directory, atomically, rotated. */
#ifndef LT_RECORD_H
#define LT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "output/output.h"

/*
 * Writes r as a gzip'ed pprof profile into dir, named leaktop-YYYYmmddTHHMMSS.mmmZ.pb.gz after
 * now_ns (UTC, ns since the epoch). The profile is written to a hidden temporary file in the same
 * directory, flushed to disk and renamed into place, so that a reader, or a SIGTERM in the middle,
 * never leaves a torn profile. With keep > 0, only the newest keep profiles stay. Returns 0 or
 * -errno (logged, naming the file).
 */
int record_write(const char *dir, const struct report *r, uint64_t now_ns, size_t keep);

/*
 * The names of dir's profiles (leaktop-*.pb.gz), oldest first (by name, which sorts by time), in a
 * malloc'ed array of malloc'ed names: free with record_list_free(). 0 or -errno (logged).
 */
int record_list(const char *dir, char ***names, size_t *nr);

void record_list_free(char **names, size_t nr);

/* Removes all but the newest keep profiles of dir (by name, which sorts by time). 0 or -errno. */
int record_prune(const char *dir, size_t keep);

#endif
