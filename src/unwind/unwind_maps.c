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
#include "proc/procview.h"
#include "unwind/unwind.h"
#include "unwind/unwind_maps.h"
#include "unwind/unwind_pages.h"

/* One object file, loaded once into the row table whichever processes map it. */
struct uw_object {
	const struct procfile *file;
	uint32_t row_first, row_count;
	uint32_t page_base, page_first, page_count; /* its page index, after its rows */
	uint32_t flags;	  /* LT_MAP_HAS_TABLE, LT_MAP_HAS_FP */
	GElf_Phdr *loads; /* PT_LOAD headers, to place each mapping */
	size_t nr_loads;
};

struct uw_pid {
	int pid;
	uint64_t misses;     /* the BPF side's count when the mappings were last read */
	uint64_t generation; /* of the process image published */
};

struct unwinder {
	struct procview *pv;
	int rows_fd, procs_fd;
	struct lt_unwind_row *rows; /* the mmapped row table */
	size_t map_len;
	uint32_t max_rows, nr_rows;
	uint64_t generation; /* of the last entry published, whichever process's */
	bool warned_full;
	struct uw_object *objs;
	size_t nr_objs, cap_objs;
	struct hashtab *obj_index; /* struct procfile * -> index in objs */
	struct uw_pid *pids;
	size_t nr_pids, cap_pids;
	size_t refresh_pos;	/* where the last refresh stopped, in pids */
	struct lt_unwind_proc *scratch; /* too large for the stack */
};

struct unwinder *unwinder__new(struct procview *pv, int rows_fd, int procs_fd, uint32_t max_rows)
{
	struct unwinder *u = calloc(1, sizeof(*u));
	long page = sysconf(_SC_PAGESIZE);

	if (!u)
		return NULL;
	u->pv = pv;
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

/* Builds o's table and its page index into the row table, if they fit. */
static void object_load(struct unwinder *u, struct uw_object *o, struct elf_file *ef,
			const char *path)
{
	struct unwind_table *t = unwind_table__build(ef);
	struct lt_unwind_page *pages;
	size_t nr_pages;
	uint32_t base;

	if (!t) {
		log_debug("unwind: no CFI in %s: %s", path, strerror(errno));
		return;
	}
	if (t->has_fp)
		o->flags |= LT_MAP_HAS_FP;
	pages = unwind_pages__build(t->rows, t->nr_rows, &base, &nr_pages);
	if (!pages && errno != E2BIG) {
		log_debug("unwind: no page index for %s: %s", path, strerror(errno));
		unwind_table__free(t);
		return;
	}
	/*
	 * E2BIG: code spread too thin for an index; the BPF side searches the whole table. A page
	 * entry takes a row's slot.
	 */
	if (t->nr_rows > (1u << LT_UNWIND_ROW_STEPS) ||
	    t->nr_rows + nr_pages > u->max_rows - u->nr_rows) {
		if (!u->warned_full)
			log_warn(
			    "unwind row table full (--unwind-rows %u): %s and later objects get no "
			    "unwind table",
			    u->max_rows, path);
		u->warned_full = true;
		free(pages);
		unwind_table__free(t);
		return;
	}
	memcpy(&u->rows[u->nr_rows], t->rows, t->nr_rows * sizeof(*t->rows));
	o->row_first = u->nr_rows;
	o->row_count = (uint32_t)t->nr_rows;
	u->nr_rows += (uint32_t)t->nr_rows;
	if (nr_pages)
		memcpy(&u->rows[u->nr_rows], pages, nr_pages * sizeof(*pages));
	o->page_base = base;
	o->page_first = u->nr_rows;
	o->page_count = (uint32_t)nr_pages;
	u->nr_rows += (uint32_t)nr_pages;
	o->flags |= LT_MAP_HAS_TABLE;
	log_debug("unwind: %s: %zu rows from %zu FDEs (%zu not expressible), %zu index pages, %s "
		  "frame pointers",
		  path, t->nr_rows, t->nr_fdes, t->nr_stop_rows, nr_pages,
		  t->has_fp ? "with" : "without");
	free(pages);
	unwind_table__free(t);
}

static struct uw_object *object_get(struct unwinder *u, const struct procfile *f)
{
	uint64_t *idx = hashtab__find(u->obj_index, (uintptr_t)f);
	struct uw_object *o;

	if (idx)
		return &u->objs[*idx];
	if (array_reserve(&u->objs, &u->cap_objs, u->nr_objs, sizeof(*u->objs), 32) ||
	    hashtab__reserve(u->obj_index, u->nr_objs + 1))
		return NULL;
	o = &u->objs[u->nr_objs];
	memset(o, 0, sizeof(*o));
	o->file = f;
	if (f->ef) {
		if (copy_loads(o, f->ef))
			return NULL;
		object_load(u, o, f->ef, f->path);
	} else {
		log_debug("unwind: cannot read %s", f->path);
	}
	hashtab__put(u->obj_index, (uintptr_t)f, u->nr_objs);
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

/* Builds and publishes pid's entry from its image. */
static int publish(struct unwinder *u, struct uw_pid *p, const struct procimage *img)
{
	const struct procmaps *pm = img->maps;
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
		if (!img->files[i])
			continue;
		if (proc->nr == LT_UNWIND_MAX_MAPPINGS) {
			log_warn(
			    "pid %d maps more than %d executable ranges: unwinding stops in the "
			    "rest",
			    p->pid, LT_UNWIND_MAX_MAPPINGS);
			break;
		}
		o = object_get(u, img->files[i]);
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
		um->page_base = o->page_base;
		um->page_first = o->page_first;
		um->page_count = o->page_count;
		um->flags = o->flags;
		all_fp &= !!(o->flags & LT_MAP_HAS_FP);
	}
	proc->all_fp = proc->nr && all_fp;
	proc->misses = p->misses;
	proc->generation = ++u->generation;
	if (bpf_map_update_elem(u->procs_fd, &key, proc, BPF_ANY))
		return -errno;
	p->generation = img->generation;
	log_info("pid %d: unwind tables for %u mappings (%u rows in use, %zu KiB)", p->pid,
		 proc->nr, u->nr_rows, (size_t)u->nr_rows * sizeof(struct lt_unwind_row) / 1024);
	return 0;
}

int unwinder__add_pid(struct unwinder *u, int pid)
{
	const struct procimage *img = procview__image(u->pv, pid, 0);
	struct uw_pid *p;
	int err;

	if (!img || img->gone)
		return !img && errno != ENOENT ? -errno : -ESRCH;
	if (array_reserve(&u->pids, &u->cap_pids, u->nr_pids, sizeof(*u->pids), 8))
		return -ENOMEM;
	p = &u->pids[u->nr_pids];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	err = publish(u, p, img);
	if (!err)
		u->nr_pids++;
	return err;
}

int unwinder__refresh(struct unwinder *u, uint64_t max_age_ns, uint64_t budget_ns)
{
	uint64_t start = now_ns();
	size_t i = u->refresh_pos < u->nr_pids ? u->refresh_pos : 0;

	/* Each process once at most, from where the last call stopped. */
	for (size_t todo = u->nr_pids; todo > 0 && u->nr_pids; todo--) {
		struct uw_pid *p = &u->pids[i];
		uint32_t key = (uint32_t)p->pid;
		uint64_t misses = p->misses;
		const struct procimage *img;
		int err = 0;

		/* misses sits at the start of the value: read the whole entry (one syscall). */
		if (!bpf_map_lookup_elem(u->procs_fd, &key, u->scratch))
			misses = u->scratch->misses;
		/* A miss means code mapped since: read now. Else the view's image, if recent. */
		img = procview__image(u->pv, p->pid, misses != p->misses ? 0 : max_age_ns);
		p->misses = misses;
		if (!img || img->gone) {
			/* Gone: its entry goes, and its slot takes the last process (looked at next). */
			bpf_map_delete_elem(u->procs_fd, &key);
			u->pids[i] = u->pids[--u->nr_pids];
		} else {
			if (img->generation != p->generation)
				err = publish(u, p, img);
			if (err == -ENOMEM)
				return err;
			i++;
		}
		if (i >= u->nr_pids)
			i = 0;
		if (now_ns() - start >= budget_ns)
			break;
	}
	u->refresh_pos = i;
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
