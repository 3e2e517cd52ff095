/* objects.c: the objects a process maps, in the order the dynamic linker binds names, and which of
 * them defines a name first. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/array.h"
#include "base/log.h"
#include "proc/rdebug.h"
#include "trace/objects.h"

struct objects {
	int pid;
	const struct procimage *img;
	struct object *objs;
	size_t nr, cap;
};

/* Adds f (once), with the first of its mappings as the probes' path. */
static int add_object(struct objects *l, struct procfile *f, bool is_exe)
{
	const struct procmaps *pm = l->img->maps;
	struct object *o;
	size_t i;

	for (i = 0; i < l->nr; i++)
		if (l->objs[i].file == f)
			return 0;
	for (i = 0; i < pm->nr_maps && l->img->files[i] != f; i++)
		;
	if (i == pm->nr_maps)
		return 0;
	if (array_reserve(&l->objs, &l->cap, l->nr, sizeof(*l->objs), 16))
		return -ENOMEM;
	o = &l->objs[l->nr];
	memset(o, 0, sizeof(*o));
	o->attach_path = procview__path(l->pid, &pm->maps[i]);
	if (!o->attach_path)
		return -ENOMEM;
	o->file = f;
	o->path = f->path;
	o->elf = f->ef;
	o->is_exe = is_exe;
	if (!o->elf)
		log_debug("pid %d: cannot read %s: not searched for entry points", l->pid, f->path);
	l->nr++;
	return 0;
}

/* Only absolute names: the vdso's "linux-vdso.so.1" is no file. A name that leads elsewhere now
 * (the file was replaced) is found among the mappings below. */
static int add_link_map_object(const char *path, void *ctx)
{
	struct objects *l = ctx;
	struct procfile *f = path[0] == '/' ? procview__file_named(l->img, path) : NULL;

	return f ? add_object(l, f, false) : 0;
}

/*
 * Says why pid's /proc files could not be read (err, -errno): -ESRCH when it is gone (the caller
 * says so), -ENOENT for a process with no program of its own (a kernel thread, a zombie), or err
 * itself (no permission, say); the last two are logged here.
 */
static int process_unreadable(int pid, int err)
{
	char dir[32];

	snprintf(dir, sizeof(dir), "/proc/%d", pid);
	if (err == -ESRCH || (err == -ENOENT && access(dir, F_OK)))
		return -ESRCH;
	if (err == -ENOENT)
		log_error("pid %d runs no program of its own (a kernel thread or a zombie): nothing "
			  "to trace",
			  pid);
	else
		log_error("cannot read the mappings of pid %d (/proc/%d): %s", pid, pid,
			  strerror(-err));
	return err;
}

/* The executable: the file /proc/PID/exe leads to, deleted or not. */
static int add_exe(struct objects *l)
{
	char link[64];
	struct procfile *f;
	struct stat st;

	snprintf(link, sizeof(link), "/proc/%d/exe", l->pid);
	if (stat(link, &st))
		return process_unreadable(l->pid, -errno);
	f = procview__file_of(l->img, &st);
	return f ? add_object(l, f, true) : 0;
}

/* The executable first, then the link map, then anything else mapped executable. */
static int add_all(struct objects *l)
{
	int err = add_exe(l);

	if (err)
		return err;
	/* A static binary has no link map. */
	err = rdebug_for_each_object(l->pid, add_link_map_object, l);
	if (err && err != -ENOENT && err != -EIO)
		return err;
	for (size_t i = 0; i < l->img->maps->nr_maps; i++) {
		err = l->img->files[i] ? add_object(l, l->img->files[i], false) : 0;
		if (err)
			return err;
	}
	return 0;
}

struct objects *objects__new(struct procview *pv, int pid)
{
	struct objects *l = calloc(1, sizeof(*l));
	int err;

	if (!l)
		return NULL;
	l->pid = pid;
	l->img = procview__image(pv, pid, 0);
	if (!l->img)
		err = process_unreadable(pid, -errno);
	else
		err = l->img->gone ? -ESRCH : add_all(l);
	if (err) {
		objects__free(l);
		errno = -err;
		return NULL;
	}
	return l;
}

const struct procimage *objects__image(const struct objects *objs)
{
	return objs->img;
}

int objects__resolve(struct objects *objs, const char *name, struct object **obj,
		     struct elf_sym *sym)
{
	for (size_t i = 0; i < objs->nr; i++) {
		struct object *o = &objs->objs[i];

		if (o->elf && !elf_file__find_func(o->elf, name, !o->is_exe, sym)) {
			*obj = o;
			return 0;
		}
	}
	return -ENOENT;
}
char *objects__paths(const struct objects *objs)
{
	size_t len = 0;
	char *list;

	for (size_t i = 0; i < objs->nr; i++)
		len += strlen(objs->objs[i].path) + 2;
	list = calloc(1, len + 1);
	for (size_t i = 0; list && i < objs->nr; i++) {
		strcat(list, objs->objs[i].path);
		if (i + 1 < objs->nr)
			strcat(list, ", ");
	}
	return list;
}

void objects__free(struct objects *objs)
{
	if (!objs)
		return;
	for (size_t i = 0; i < objs->nr; i++)
		free(objs->objs[i].attach_path);
	free(objs->objs);
	free(objs);
}
