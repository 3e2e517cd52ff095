/* unwind_maps.c: the traced processes' unwind tables in BPF maps, kept current as code maps. */
#include <errno.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "base/clock.h"
#include "base/array.h"
#include "base/hashtab.h"
#include "bpf/leaktop.h"
#include "proc/elf_file.h"
#include "base/log.h"
#include "proc/procmaps.h"
#include "unwind/unwind.h"
#include "unwind/unwind_maps.h"

/* One object file, loaded once into the row table whichever processes map it. */
struct uw_object {
	uint64_t dev_major, dev_minor, inode;
	uint32_t row_first, row_count;
	uint32_t flags;	  /* LT_MAP_HAS_TABLE, LT_MAP_HAS_FP */
	GElf_Phdr *loads; /* PT_LOAD headers, to place each mapping */
	size_t nr_loads;
};

struct uw_pid {
	int pid;
	uint64_t misses;    /* the BPF side's count when the mappings were last read */
	uint64_t read_ns;   /* when the mappings were last read */
	uint64_t signature; /* of the executable mappings published */
};

struct unwinder {
	int rows_fd, procs_fd;
	struct lt_unwind_row *rows; /* the mmapped row table */
	size_t map_len;
	uint32_t max_rows, nr_rows;
	bool warned_full;
	struct uw_object *objs;
	size_t nr_objs, cap_objs;
	struct hashtab *obj_index; /* FNV-1a of (device, inode) -> index in objs */
	struct uw_pid *pids;
	size_t nr_pids, cap_pids;
	struct lt_unwind_proc *scratch; /* too large for the stack */
};

struct unwinder *unwinder__new(int rows_fd, int procs_fd, uint32_t max_rows)
{
	struct unwinder *u = calloc(1, sizeof(*u));
	long page = sysconf(_SC_PAGESIZE);

	if (!u)
		return NULL;
	u->rows_fd = rows_fd;
	u->procs_fd = procs_fd;
	u->max_rows = max_rows;
	u->map_len = ((size_t)max_rows * sizeof(struct lt_unwind_row) + (size_t)page - 1) &
		     ~((size_t)page - 1);
	u->scratch = calloc(1, sizeof(*u->scratch));
	u->obj_index = hashtab__new(32);
	if (!u->scratch || !u->obj_index)
		goto fail;
	u->rows = mmap(NULL, u->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, rows_fd, 0);
	if (u->rows == MAP_FAILED) {
		u->rows = NULL;
		goto fail;
	}
	return u;
fail : {
	int err = errno;

	unwinder__free(u);
	errno = err;
}
	return NULL;
}

/* The file behind a mapping, as the process sees it: map_files first (deleted files, namespaces).
 */
static struct elf_file *open_mapped(int pid, const struct procmap *m)
{
	struct elf_file *ef = NULL;
	char *p;

	if (asprintf(&p, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid, m->start, m->end) >= 0) {
		ef = elf_file__open(p);
		free(p);
	}
	if (!ef && asprintf(&p, "/proc/%d/root%s", pid, m->path) >= 0) {
		ef = elf_file__open(p);
		free(p);
	}
	return ef;
}

static int copy_loads(struct uw_object *o, struct elf_file *ef)
{
	Elf *elf = elf_file__elf(ef);
	size_t n;

	if (elf_getphdrnum(elf, &n))
		return 0;
	o->loads = calloc(n ? n : 1, sizeof(*o->loads));
	if (!o->loads)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD)
			o->loads[o->nr_loads++] = ph;
	}
	return 0;
}

/* Builds o's table into the row table, if it fits. */
static void object_load(struct unwinder *u, struct uw_object *o, struct elf_file *ef,
			const char *path)
{
	struct unwind_table *t = unwind_table__build(ef);

	if (!t) {
		log_debug("unwind: no CFI in %s: %s", path, strerror(errno));
		return;
	}
	if (t->has_fp)
		o->flags |= LT_MAP_HAS_FP;
	if (t->nr_rows > (1u << LT_UNWIND_ROW_STEPS) || t->nr_rows > u->max_rows - u->nr_rows) {
		if (!u->warned_full)
			log_warn(
			    "unwind row table full (--unwind-rows %u): %s and later objects get no "
			    "unwind table",
			    u->max_rows, path);
		u->warned_full = true;
		unwind_table__free(t);
		return;
	}
	memcpy(&u->rows[u->nr_rows], t->rows, t->nr_rows * sizeof(*t->rows));
	o->row_first = u->nr_rows;
	o->row_count = (uint32_t)t->nr_rows;
	o->flags |= LT_MAP_HAS_TABLE;
	u->nr_rows += (uint32_t)t->nr_rows;
	log_debug("unwind: %s: %zu rows from %zu FDEs (%zu not expressible), %s frame pointers",
		  path, t->nr_rows, t->nr_fdes, t->nr_stop_rows, t->has_fp ? "with" : "without");
	unwind_table__free(t);
}

struct obj_probe {
	const struct unwinder *u;
	const struct procmap *m;
};

static uint64_t obj_hash(const struct procmap *m)
{
	return fnv1a_u64(fnv1a_u64(fnv1a_u64(FNV1A_SEED, m->dev_major), m->dev_minor), m->inode);
}

static bool same_file(uint64_t idx, const void *ctx)
{
	const struct obj_probe *p = ctx;
	const struct uw_object *o = &p->u->objs[idx];

	return o->dev_major == p->m->dev_major && o->dev_minor == p->m->dev_minor &&
	       o->inode == p->m->inode;
}

static struct uw_object *object_get(struct unwinder *u, int pid, const struct procmap *m)
{
	struct obj_probe probe = {u, m};
	uint64_t hash = obj_hash(m), *idx;
	struct elf_file *ef;
	struct uw_object *o;

	idx = hashtab__find_match(u->obj_index, hash, same_file, &probe);
	if (idx)
		return &u->objs[*idx];
	if (array_reserve(&u->objs, &u->cap_objs, u->nr_objs, sizeof(*u->objs), 32) ||
	    hashtab__reserve(u->obj_index, u->nr_objs + 1))
		return NULL;
	o = &u->objs[u->nr_objs];
	memset(o, 0, sizeof(*o));
	o->dev_major = m->dev_major;
	o->dev_minor = m->dev_minor;
	o->inode = m->inode;
	ef = open_mapped(pid, m);
	if (ef) {
		if (copy_loads(o, ef)) {
			elf_file__free(ef);
			return NULL;
		}
		object_load(u, o, ef, m->path);
		elf_file__free(ef);
	} else {
		log_debug("unwind: cannot read %s: %s", m->path, strerror(errno));
	}
	(void)hashtab__add(u->obj_index, hash, u->nr_objs); /* the room is reserved */
	u->nr_objs++;
	return o;
}

/*
 * address in the process - ELF virtual address, for the mapping m: the kernel maps a PT_LOAD
 * from its page-aligned file offset, so the segment holding m's file offset gives the pair.
 */
static bool object_bias(const struct uw_object *o, const struct procmap *m, uint64_t *bias)
{
	for (size_t i = 0; i < o->nr_loads; i++) {
		const GElf_Phdr *ph = &o->loads[i];
		uint64_t page_off = ph->p_offset & ~(uint64_t)0xfff;

		if (m->file_offset < page_off || m->file_offset >= ph->p_offset + ph->p_filesz)
			continue;
		*bias = m->start - (m->file_offset - ph->p_offset + ph->p_vaddr);
		return true;
	}
	return false;
}

static uint64_t maps_signature(const struct procmaps *pm)
{
	uint64_t h = FNV1A_SEED;

	for (size_t i = 0; i < pm->nr_maps; i++) {
		const struct procmap *m = &pm->maps[i];
		uint64_t v[4] = {m->start, m->end, m->file_offset, m->inode};

		for (int k = 0; k < 4; k++)
			h = fnv1a_u64(h, v[k]);
	}
	return h;
}

/* Builds and publishes pid's entry from its current mappings. */
static int publish(struct unwinder *u, struct uw_pid *p, const struct procmaps *pm)
{
	struct lt_unwind_proc *proc = u->scratch;
	uint32_t key = (uint32_t)p->pid;
	bool all_fp = true;

	memset(proc, 0, sizeof(*proc));
	for (size_t i = 0; i < pm->nr_maps; i++) {
		const struct procmap *m = &pm->maps[i];
		struct lt_unwind_mapping *um;
		struct uw_object *o;
		uint64_t bias;

		/* Anonymous code (JIT) and the vdso have no file: frames there are no_mapping. */
		if (m->path[0] != '/')
			continue;
		if (proc->nr == LT_UNWIND_MAX_MAPPINGS) {
			log_warn(
			    "pid %d maps more than %d executable ranges: unwinding stops in the "
			    "rest",
			    p->pid, LT_UNWIND_MAX_MAPPINGS);
			break;
		}
		o = object_get(u, p->pid, m);
		if (!o)
			return -ENOMEM;
		if (!object_bias(o, m, &bias))
			continue;
		um = &proc->maps[proc->nr++];
		um->start = m->start;
		um->end = m->end;
		um->bias = bias;
		um->row_first = o->row_first;
		um->row_count = o->row_count;
		um->flags = o->flags;
		all_fp &= !!(o->flags & LT_MAP_HAS_FP);
	}
	proc->all_fp = proc->nr && all_fp;
	proc->misses = p->misses;
	if (bpf_map_update_elem(u->procs_fd, &key, proc, BPF_ANY))
		return -errno;
	p->signature = maps_signature(pm);
	log_info("pid %d: unwind tables for %u mappings (%u rows in use, %zu KiB)", p->pid,
		 proc->nr, u->nr_rows, (size_t)u->nr_rows * sizeof(struct lt_unwind_row) / 1024);
	return 0;
}

int unwinder__add_pid(struct unwinder *u, int pid)
{
	struct procmaps *pm = procmaps__read(pid);
	struct uw_pid *p;
	int err;

	if (!pm)
		return errno == ENOENT ? -ESRCH : -errno;
	if (array_reserve(&u->pids, &u->cap_pids, u->nr_pids, sizeof(*u->pids), 8)) {
		procmaps__free(pm);
		return -ENOMEM;
	}
	p = &u->pids[u->nr_pids];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->read_ns = now_ns();
	err = publish(u, p, pm);
	procmaps__free(pm);
	if (!err)
		u->nr_pids++;
	return err;
}

int unwinder__refresh(struct unwinder *u, uint64_t max_age_ns)
{
	uint64_t now = now_ns();

	for (size_t i = 0; i < u->nr_pids;) {
		struct uw_pid *p = &u->pids[i];
		uint32_t key = (uint32_t)p->pid;
		uint64_t misses = p->misses;
		struct procmaps *pm;
		int err = 0;

		/* misses sits at the start of the value: read the whole entry (one syscall). */
		if (!bpf_map_lookup_elem(u->procs_fd, &key, u->scratch))
			misses = u->scratch->misses;
		if (misses == p->misses && now - p->read_ns < max_age_ns) {
			i++;
			continue;
		}
		p->misses = misses;
		p->read_ns = now;
		pm = procmaps__read(p->pid);
		if (!pm) {
			/* Gone: its entry goes, and so does its slot here. */
			bpf_map_delete_elem(u->procs_fd, &key);
			u->pids[i] = u->pids[--u->nr_pids];
			continue;
		}
		if (maps_signature(pm) != p->signature)
			err = publish(u, p, pm);
		procmaps__free(pm);
		if (err == -ENOMEM)
			return err;
		i++;
	}
	return 0;
}

size_t unwinder__rows_used(const struct unwinder *u)
{
	return u->nr_rows;
}

void unwinder__free(struct unwinder *u)
{
	if (!u)
		return;
	if (u->rows)
		munmap(u->rows, u->map_len);
	for (size_t i = 0; i < u->nr_objs; i++)
		free(u->objs[i].loads);
	free(u->objs);
	hashtab__free(u->obj_index);
	free(u->pids);
	free(u->scratch);
	free(u);
}
