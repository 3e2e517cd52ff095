/* tracer.c: the BPF skeleton's life: open, size the maps, load, attach probes, detach. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "leaktop.skel.h"
#include "log.h"
#include "tracer.h"

struct tracer {
	struct leaktop_bpf *skel;
	bool empty_programs;
	struct bpf_link **links;
	unsigned int nr_links, cap_links;
};

struct tracer *tracer__new(const struct tracer_opts *opts)
{
	struct tracer *t = calloc(1, sizeof(*t));
	int err;

	if (!t)
		return NULL;
	t->empty_programs = opts->empty_programs;
	t->skel = leaktop_bpf__open();
	if (!t->skel) {
		err = -errno;
		log_error("cannot open the BPF object: %s", strerror(-err));
		goto fail;
	}
	t->skel->rodata->min_size = opts->min_size;
	t->skel->rodata->max_size = opts->max_size ? opts->max_size : ~0ULL;
	bpf_map__set_max_entries(t->skel->maps.allocs, opts->max_allocs);
	bpf_map__set_max_entries(t->skel->maps.stack_totals, opts->max_stacks);
	bpf_map__set_max_entries(t->skel->maps.stacks, opts->max_stacks);
	bpf_program__set_autoload(t->skel->progs.lt_empty, opts->empty_programs);
	bpf_program__set_autoload(t->skel->progs.lt_entry, !opts->empty_programs);
	bpf_program__set_autoload(t->skel->progs.lt_return, !opts->empty_programs);

	err = leaktop_bpf__load(t->skel);
	if (err) {
		if (err == -EPERM || err == -EACCES)
			log_error("cannot load the BPF programs: %s (leaktop needs root, or "
				  "CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE)",
				  strerror(-err));
		else
			log_error("cannot load the BPF programs: %s (-v shows libbpf's log)",
				  strerror(-err));
		goto fail;
	}
	return t;
fail:
	tracer__free(t);
	errno = -err;
	return NULL;
}

int tracer__attach(struct tracer *t, int pid, const char *path, uint64_t offset, uint64_t cookie,
		   bool retprobe)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = retprobe, .bpf_cookie = cookie);
	struct bpf_program *prog;
	struct bpf_link *link;

	if (t->empty_programs)
		prog = t->skel->progs.lt_empty;
	else
		prog = retprobe ? t->skel->progs.lt_return : t->skel->progs.lt_entry;

	if (t->nr_links == t->cap_links) {
		unsigned int cap = t->cap_links ? 2 * t->cap_links : 64;
		struct bpf_link **links = realloc(t->links, cap * sizeof(*links));

		if (!links)
			return -ENOMEM;
		t->links = links;
		t->cap_links = cap;
	}
	link = bpf_program__attach_uprobe_opts(prog, pid, path, offset, &uo);
	if (!link)
		return -errno;
	t->links[t->nr_links++] = link;
	return 0;
}

unsigned int tracer__nr_links(const struct tracer *t)
{
	return t->nr_links;
}

int tracer__allocs_fd(const struct tracer *t)
{
	return bpf_map__fd(t->skel->maps.allocs);
}

int tracer__stack_totals_fd(const struct tracer *t)
{
	return bpf_map__fd(t->skel->maps.stack_totals);
}

int tracer__stacks_fd(const struct tracer *t)
{
	return bpf_map__fd(t->skel->maps.stacks);
}

int tracer__stats_fd(const struct tracer *t)
{
	return bpf_map__fd(t->skel->maps.stats);
}

size_t tracer__prog_fds(const struct tracer *t, int *fds, size_t max)
{
	struct bpf_program *prog;
	size_t n = 0;

	bpf_object__for_each_program(prog, t->skel->obj) {
		int fd = bpf_program__fd(prog);

		if (fd < 0)
			continue;
		if (n < max)
			fds[n] = fd;
		n++;
	}
	return n;
}

void tracer__free(struct tracer *t)
{
	if (!t)
		return;
	for (unsigned int i = 0; i < t->nr_links; i++)
		bpf_link__destroy(t->links[i]);
	free(t->links);
	leaktop_bpf__destroy(t->skel);
	free(t);
}
