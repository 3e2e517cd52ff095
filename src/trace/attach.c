/* attach.c: attaching a process: its objects, the probes of the entry points it binds to, their
 * links, and the allocator's code range. */
#include <errno.h>
#include <stdlib.h>

#include "base/log.h"
#include "trace/attach.h"
#include "trace/entrypoint.h"
#include "trace/exitplan.h"
#include "trace/linkplan.h"
#include "trace/objects.h"

/*
 * Tells the programs where free()'s object has its code in pid (the executable mapping of that
 * file that holds free): frees the allocator makes itself are told apart from the program's.
 */
static void note_allocator_code(struct tracer *t, int pid, const struct procimage *img,
				const struct probe *pr)
{
	for (size_t i = 0; i < img->maps->nr_maps; i++) {
		const struct procmap *m = &img->maps->maps[i];

		if (img->files[i] != pr->o->file || pr->start < m->file_offset ||
		    pr->start - m->file_offset >= m->end - m->start)
			continue;
		if (tracer__set_allocator_range(t, pid, m->start, m->end))
			log_debug("pid %d: allocator code range not set", pid);
		return;
	}
}

/* Says which objects were searched when none had an allocator entry point. */
static void log_no_entry_points(int pid, const struct objects *objs)
{
	char *list = objects__paths(objs);

	log_error("no allocator entry point (malloc, free, operator new, ...) found in pid %d; "
		  "searched: %s",
		  pid, list ? list : "(no memory)");
	free(list);
}

/* Whether the probes of pr's object are in place already (kept across an exec). */
static bool kept(const struct attach_opts *opts, const struct probe *pr)
{
	return opts->kept && opts->kept(opts->ctx, pr->o->file);
}

/*
 * Places every planned probe, the exits of those that need them, and creates the links; tells
 * opts which files got probes.
 */
static int attach_probes(struct tracer *t, int pid, struct objects *objs,
			 const struct probe *probes, size_t nr_probes,
			 const struct attach_opts *opts)
{
	struct link_plans *plans = link_plans__new();
	int err = plans ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < nr_probes; i++)
		if (!kept(opts, &probes[i]))
			err = link_plans__place(plans, t, pid, &probes[i]);
	for (size_t i = 0; !err && i < nr_probes; i++)
		if (probes[i].exits && !kept(opts, &probes[i]))
			err = exitplan_place(t, pid, plans, objs, probes, nr_probes, &probes[i]);
	for (size_t i = 0; !err && i < nr_probes; i++)
		if (probes[i].kind == LT_FREE && !probes[i].outer)
			note_allocator_code(t, pid, objects__image(objs), &probes[i]);
	if (!err)
		err = link_plans__attach(plans, t, pid, probes, nr_probes);
	for (size_t i = 0; !err && opts->probed && i < nr_probes; i++)
		if (!kept(opts, &probes[i]))
			err = opts->probed(opts->ctx, probes[i].o->file);
	link_plans__free(plans);
	return err;
}

int attach_process(struct tracer *t, struct procview *pv, int pid, const struct attach_opts *opts)
{
	struct probe probes[ENTRYPOINT_MAX];
	size_t nr_probes, nr_allocator;
	struct objects *objs;
	int err;

	objs = objects__new(pv, pid);
	if (!objs)
		return -errno;
	nr_probes = entrypoint_plan(objs, opts->no_probe_shift, probes, &nr_allocator);
	if (!nr_allocator) {
		log_no_entry_points(pid, objs);
		err = -ENOENT;
	} else {
		err = attach_probes(t, pid, objs, probes, nr_probes, opts);
	}
	if (!err) {
		log_info("pid %d: %zu entry points attached (%s)", pid, nr_probes,
			 tracer__sessions(t) ? "session links" : "uprobe + uretprobe pairs");
		err = (int)nr_allocator;
	}
	objects__free(objs);
	return err;
}
