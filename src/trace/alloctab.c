/* alloctab.c: the live-allocation table's tiers: their sizes, their creation as they fill. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "base/log.h"
#include "bpf/leaktop.h"
#include "trace/alloctab.h"

struct alloctab {
	int outer_fd;
	uint32_t max_allocs;
	int fds[LT_ALLOC_TIERS];
	size_t nr;
};

uint32_t alloctab_tier_entries(uint32_t max_allocs, unsigned int n)
{
	uint64_t size = LT_ALLOC_TIER0, before = 0;

	for (unsigned int i = 0; i < n; i++) {
		before += size;
		if (before >= max_allocs)
			return 0;
		size *= LT_ALLOC_TIER_GROWTH;
	}
	if (n >= LT_ALLOC_TIERS - 1 || before + size > max_allocs)
		size = max_allocs - before;
	return (uint32_t)size;
}

/* Creates tier n and puts it in the array the BPF programs read. */
static int add_tier(struct alloctab *a)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	uint32_t n = (uint32_t)a->nr, entries = alloctab_tier_entries(a->max_allocs, n);
	int fd, err;

	if (!entries)
		return 0;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "allocs_tier", sizeof(struct lt_alloc_key),
			    sizeof(struct lt_alloc), entries, &opts);
	if (fd < 0) {
		err = -errno;
		log_error("cannot create tier %u of the allocation table (%u entries): %s", n,
			  entries, strerror(-err));
		return err;
	}
	if (bpf_map_update_elem(a->outer_fd, &n, &fd, BPF_ANY)) {
		err = -errno;
		log_error("cannot add tier %u to the allocation table: %s", n, strerror(-err));
		close(fd);
		return err;
	}
	a->fds[a->nr++] = fd;
	log_debug("allocation table: tier %u of %u entries", n, entries);
	return 0;
}

struct alloctab *alloctab__new(int outer_fd, uint32_t max_allocs)
{
	struct alloctab *a = calloc(1, sizeof(*a));
	int err;

	if (!a)
		return NULL;
	a->outer_fd = outer_fd;
	a->max_allocs = max_allocs;
	err = alloctab__grow(a, 0);
	if (err) {
		alloctab__free(a);
		errno = -err;
		return NULL;
	}
	return a;
}

int alloctab__grow(struct alloctab *a, uint32_t in_use)
{
	int err;

	while (a->nr < LT_ALLOC_TIERS && a->nr <= in_use + 1 &&
	       alloctab_tier_entries(a->max_allocs, (unsigned int)a->nr)) {
		err = add_tier(a);
		if (err)
			return err;
	}
	return 0;
}

size_t alloctab__fds(const struct alloctab *a, const int **fds)
{
	*fds = a->fds;
	return a->nr;
}

void alloctab__free(struct alloctab *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->nr; i++)
		close(a->fds[i]);
	free(a);
}
