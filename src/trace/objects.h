/* objects.h: the objects a process maps, in the order the dynamic linker binds names, and which of
 * them defines a name first. */
#ifndef LT_OBJECTS_H
#define LT_OBJECTS_H

#include <stdbool.h>

#include "proc/elf_file.h"
#include "proc/procview.h"

/* One object the process maps. Owned by its struct objects; read-only outside objects.c. */
struct object {
	struct procfile *file;	/* the view's file: opened once for every user */
	const char *path;	/* as the process maps it */
	struct elf_file *elf;	/* NULL when the file could not be read: never searched */
	char *attach_path;	/* the probes' path to the very file mapped (map_files) */
	bool is_exe;
};

struct objects;

/*
 * The objects of pid, read now through the view pv, in binding order: the executable, then the
 * link map in load order (preloaded objects, needed libraries breadth-first, dlopen'ed ones), then
 * any other file it maps executable. NULL and errno: ESRCH when pid is gone (not logged: the
 * caller says so), ENOENT for a process with no program of its own (a kernel thread, a zombie),
 * EACCES or another errno when its /proc files cannot be read (these two logged), ENOMEM.
 */
struct objects *objects__new(struct procview *pv, int pid);

/* The process's code as objects__new() read it. */
const struct procimage *objects__image(const struct objects *objs);

/*
 * The first object, in binding order, that defines the function name, as the dynamic linker would
 * bind it: exported symbols only, except in the executable, whose own calls bind to its local
 * definitions too (static binaries). An object that could not be read is skipped. 0 with *obj and
 * *sym, or -ENOENT.
 */
int objects__resolve(struct objects *objs, const char *name, struct object **obj,
		     struct elf_sym *sym);

/* The objects' paths, ", "-separated, in binding order: malloc'ed, or NULL (no memory). */
char *objects__paths(const struct objects *objs);

void objects__free(struct objects *objs);

#endif
