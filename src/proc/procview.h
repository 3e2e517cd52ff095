/* procview.h: the traced processes as leaktop sees them: each one's code mappings, and the files behind them, opened once by one rule. */
#ifndef LT_PROCVIEW_H
#define LT_PROCVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proc/procmaps.h"

/*
 * One file that traced processes map, opened once whichever processes map it (one entry per
 * device + inode as /proc/PID/maps shows them). The attacher, the symbolizer and the unwinder all
 * read it from here, so they always agree on which file an address lies in.
 *
 * The rule, in order, while the process that maps the file lives:
 *   1. /proc/PID/map_files/START-END: the very file mapped, even deleted (an upgrade replaced it)
 *      or in another mount namespace (a container);
 *   2. /proc/PID/root + path, then the path from here: only when device and inode are still the
 *      mapped file's, since the name may now lead elsewhere (another container, an upgrade).
 * A file that none of them opens stays in the view as unreadable (ef NULL), so it is not retried
 * for every address.
 */
struct procfile {
	uint64_t dev_major, dev_minor, inode; /* as the maps show them */
	const char *path;		      /* as the process names it (the maps' path) */
	const char *root;		      /* "/proc/PID/root" when the process that first mapped it
						 lives under another root than ours, else NULL: debug
						 files are looked for under it first */
	struct elf_file *ef;		      /* NULL when it could not be read */
	uint64_t st_dev, st_ino;	      /* of the file opened here */
	char build_id[41];		      /* GNU build-id, lowercase hex; "" when none */
};

/* One process's code as last read. */
struct procimage {
	int pid;
	uint64_t generation;	      /* changes whenever a read finds other mappings than before */
	uint64_t read_ns;	      /* when the mappings were read (CLOCK_MONOTONIC) */
	bool final;		      /* gone, or given by hand: never read again */
	bool gone;		      /* it exited (or turned zombie) after its mappings were read */
	const struct procmaps *maps;  /* the executable mappings */
	struct procfile *const *files; /* parallel to maps->maps; NULL for anonymous code, the vdso */
};

struct procview;

/* An empty view. NULL and errno ENOMEM. */
struct procview *procview__new(void);

/*
 * pid's image: read from /proc/PID/maps the first time, and again when it is older than
 * max_age_ns (0: read now; UINT64_MAX: never again) unless final. When a re-read finds the
 * process gone, the last image stays and becomes final: stacks taken before it exited still
 * resolve (gone says so). NULL and errno: ESRCH (gone before it was ever read), ENOENT (no address
 * space: a kernel thread, a zombie), EACCES, ENOMEM; a pid that was gone when first asked for
 * stays so, without another read. The image stays valid until the next call for pid.
 */
const struct procimage *procview__image(struct procview *pv, int pid, uint64_t max_age_ns);

/*
 * pid ran exec (its image before was old_exec_id, task_struct.self_exec_id; at exec_ns,
 * CLOCK_MONOTONIC): its image as read before the exec is kept, final, for what was recorded in it
 * (procview__image_at()); the next procview__image() reads the new one. An image read after
 * exec_ns is the new one already and stays current (the old one was not kept).
 */
void procview__exec(struct procview *pv, int pid, uint32_t old_exec_id, uint64_t exec_ns);

/*
 * The image pid had while its self_exec_id was exec_id: one kept by procview__exec(), else the
 * current one, as procview__image() gives it.
 */
const struct procimage *procview__image_at(struct procview *pv, int pid, uint32_t exec_id,
					   uint64_t max_age_ns);

/* The mapping of img holding addr, and its file (NULL for anonymous code). NULL when unmapped. */
const struct procmap *procview__find(const struct procimage *img, uint64_t addr,
				     struct procfile **file);

/*
 * The file of img that a name the process uses (a link map entry, /proc/PID/exe) leads to,
 * judged by device and inode seen through the process's root. NULL when none of its code
 * mappings is that file.
 */
struct procfile *procview__file_named(const struct procimage *img, const char *name);

struct stat;

/* The file of img that st (a stat of some path to it) describes, or NULL. */
struct procfile *procview__file_of(const struct procimage *img, const struct stat *st);

/*
 * A path naming m's very file from here, for as long as pid maps it: "/proc/PID/map_files/S-E".
 * Uprobes attach through it, deleted files and other mount namespaces included. The caller frees
 * it; NULL and errno ENOMEM.
 */
char *procview__path(int pid, const struct procmap *m);

/*
 * Records one mapping [start, end) of path at file_offset for pid without reading /proc (unit
 * tests, replays); pid's image becomes final. 0 or -errno: -EINVAL (empty range), -EEXIST
 * (overlaps a known mapping), -ENOENT/-EACCES (cannot stat path), -ENOMEM.
 */
int procview__add_mapping(struct procview *pv, int pid, uint64_t start, uint64_t end,
			  uint64_t file_offset, const char *path);

/*
 * Records mapping m of pid as the BPF side saw it at pid's exit, when the view's last read missed
 * it (a library loaded and used moments before the exit): put in pid's image, which turns final
 * and gone, unless it overlaps a mapping known. Its file is opened by the rule above, by then
 * through the path with its device and inode checked. 0 or -errno: -EINVAL (empty range, no
 * absolute path), -EEXIST (overlaps), -ENOMEM.
 */
int procview__add_exit_mapping(struct procview *pv, int pid, const struct procmap *m);

/* Forgets pid's images (it exited and nothing will ask for them again). Files stay. */
void procview__forget(struct procview *pv, int pid);

/* Distinct files opened or tried so far. */
size_t procview__nr_files(const struct procview *pv);

/* NULL-safe. Frees every image and file. */
void procview__free(struct procview *pv);

#endif
