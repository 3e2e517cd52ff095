/* objects.c: the objects a process maps, in the order the dynamic linker binds names, and which of
 * them defines a name first. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/array.h"
#include "base/log.h"
#include "proc/rdebug.h"
#include "trace/objects.h"

struct objects {
	int pid;
	struct procmaps *pm;
	struct object *objs;
	size_t nr, cap;
};

static int add_object(struct objects *l, const char *path, bool is_exe)
{
	struct object *o;
	char *open_path;

	for (size_t i = 0; i < l->nr; i++)
		if (!strcmp(l->objs[i].path, path))
			return 0;
	if (array_reserve(&l->objs, &l->cap, l->nr, sizeof(*l->objs), 16))
		return -ENOMEM;
	if (asprintf(&open_path, "/proc/%d/root%s", l->pid, path) < 0)
		return -ENOMEM;
	o = &l->objs[l->nr];
	memset(o, 0, sizeof(*o));
	o->path = strdup(path);
	if (!o->path) {
		free(open_path);
		return -ENOMEM;
	}
	o->open_path = open_path;
	o->is_exe = is_exe;
	l->nr++;
	return 0;
}

/* Only absolute names: the vdso's "linux-vdso.so.1" is no file. */
static int add_link_map_object(const char *path, void *ctx)
{
	return path[0] == '/' ? add_object(ctx, path, false) : 0;
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
	if (err == -ENOENT && access(dir, F_OK))
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

/* The executable, as /proc/PID/exe names it (without " (deleted)"). */
static int add_exe(struct objects *l)
{
	char link[64], *exe;
	ssize_t n;
	int err;

	snprintf(link, sizeof(link), "/proc/%d/exe", l->pid);
	exe = malloc(4096);
	if (!exe)
		return -ENOMEM;
	n = readlink(link, exe, 4095);
	if (n < 0) {
		err = -errno;
		free(exe);
		return process_unreadable(l->pid, err);
	}
	exe[n] = '\0';
	if (n > 10 && !strcmp(exe + n - 10, " (deleted)"))
		exe[n - 10] = '\0';
	err = add_object(l, exe, true);
	free(exe);
	return err;
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
	for (size_t i = 0; i < l->pm->nr_maps; i++) {
		const struct procmap *m = &l->pm->maps[i];

		if (m->perms[2] != 'x' || m->path[0] != '/' || m->deleted)
			continue;
		err = add_object(l, m->path, false);
		if (err)
			return err;
	}
	return 0;
}

struct objects *objects__new(int pid)
{
	struct objects *l = calloc(1, sizeof(*l));
	int err;

	if (!l)
		return NULL;
	l->pid = pid;
	l->pm = procmaps__read(pid);
	err = l->pm ? add_all(l) : process_unreadable(pid, -errno);
	if (err) {
		objects__free(l);
		errno = -err;
		return NULL;
	}
	return l;
}

const struct procmaps *objects__maps(const struct objects *objs)
{
	return objs->pm;
}

int objects__resolve(struct objects *objs, const char *name, struct object **obj,
		     struct elf_sym *sym)
{
	for (size_t i = 0; i < objs->nr; i++) {
		struct object *o = &objs->objs[i];

		if (o->unreadable)
			continue;
		if (!o->elf) {
			o->elf = elf_file__open(o->open_path);
			if (!o->elf) {
				log_debug("cannot read %s: %s", o->path, strerror(errno));
				o->unreadable = true;
				continue;
			}
		}
		if (!elf_file__find_func(o->elf, name, !o->is_exe, sym)) {
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
	for (size_t i = 0; i < objs->nr; i++) {
		free(objs->objs[i].path);
		free(objs->objs[i].open_path);
		elf_file__free(objs->objs[i].elf);
	}
	free(objs->objs);
	procmaps__free(objs->pm);
	free(objs);
}
