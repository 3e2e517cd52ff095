/* procview.c: each traced process's code mappings, read on demand, and the files behind them, opened once. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/hashtab.h"
#include "base/log.h"
#include "proc/elf_file.h"
#include "proc/procview.h"

struct image {
	struct procimage pub;
	struct procmaps *pm;
	struct procfile **files;
	uint64_t signature; /* of pm, to tell a re-read that changed nothing */
};

struct procview {
	struct hashtab *images; /* pid -> struct image * */
	struct hashtab *retired; /* pid | exec_id << 32 -> struct image * (before an exec) */
	struct hashtab *files;	/* hash of (dev, inode) or of the path -> struct procfile * */
	uint64_t next_generation;
};

struct file_key {
	uint64_t dev_major, dev_minor, inode;
	const char *path;
};

static uint64_t file_hash(const struct file_key *k)
{
	uint64_t h = FNV1A_SEED;

	/* No inode: a pseudo file system, or a mapping given by hand. The path is all there is. */
	if (!k->inode)
		return fnv1a_bytes(h, k->path, strlen(k->path));
	h = fnv1a_u64(h, k->dev_major);
	h = fnv1a_u64(h, k->dev_minor);
	return fnv1a_u64(h, k->inode);
}

static bool file_match(uint64_t value, const void *ctx)
{
	const struct procfile *f = (const struct procfile *)(uintptr_t)value;
	const struct file_key *k = ctx;

	if (!k->inode || !f->inode)
		return !k->inode && !f->inode && !strcmp(k->path, f->path);
	return k->inode == f->inode && k->dev_major == f->dev_major && k->dev_minor == f->dev_minor;
}

static bool same_file(const struct stat *st, const struct procfile *f)
{
	return st->st_ino == f->inode && major(st->st_dev) == f->dev_major &&
	       minor(st->st_dev) == f->dev_minor;
}

/* Opens path for f; with check, only when it is still the file that the maps show. */
static bool file_try_open(struct procfile *f, const char *path, bool check)
{
	struct stat st;

	if (stat(path, &st) || (check && f->inode && !same_file(&st, f)))
		return false;
	f->ef = elf_file__open(path);
	if (!f->ef) {
		log_debug("cannot read %s: %s", path, strerror(errno));
		return false;
	}
	f->st_dev = st.st_dev;
	f->st_ino = st.st_ino;
	return true;
}

/* "/proc/PID/root" when pid lives under another root than ours, else NULL. */
static char *foreign_root(int pid)
{
	struct stat ours, theirs;
	char *root;

	if (asprintf(&root, "/proc/%d/root", pid) < 0)
		return NULL;
	if (stat("/", &ours) || stat(root, &theirs) ||
	    (ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino)) {
		free(root);
		return NULL;
	}
	return root;
}

/* The rule of procview.h. pid 0: a mapping given by hand, opened by its path alone. */
static void file_open(struct procfile *f, int pid, const struct procmap *m)
{
	char *root = pid > 0 ? foreign_root(pid) : NULL;
	char *p = NULL;
	bool ok = false;

	if (pid > 0 && (p = procview__path(pid, m)))
		ok = file_try_open(f, p, false);
	free(p);
	p = NULL;
	if (!ok && root && asprintf(&p, "%s%s", root, m->path) >= 0)
		ok = file_try_open(f, p, true);
	free(p);
	if (!ok)
		ok = file_try_open(f, m->path, pid > 0);
	if (!ok)
		log_debug("pid %d: cannot open %s: frames in it show module+offset only", pid,
			  m->path);
	f->root = root;
	if (f->ef) {
		const uint8_t *id;
		size_t n = elf_file__build_id(f->ef, &id);

		for (size_t i = 0; i < n && i < (sizeof(f->build_id) - 1) / 2; i++)
			snprintf(&f->build_id[2 * i], 3, "%02x", id[i]);
	}
}

static void file_free(struct procfile *f)
{
	if (!f)
		return;
	elf_file__free(f->ef);
	free((char *)f->root);
	free((char *)f->path);
	free(f);
}

static struct procfile *file_get(struct procview *pv, int pid, const struct procmap *m)
{
	struct file_key key = {m->dev_major, m->dev_minor, m->inode, m->path};
	uint64_t hash = file_hash(&key), *have;
	struct procfile *f;

	have = hashtab__find_match(pv->files, hash, file_match, &key);
	if (have)
		return (struct procfile *)(uintptr_t)*have;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->dev_major = m->dev_major;
	f->dev_minor = m->dev_minor;
	f->inode = m->inode;
	f->path = strdup(m->path);
	if (!f->path || hashtab__add(pv->files, hash, (uintptr_t)f)) {
		file_free(f);
		return NULL;
	}
	file_open(f, pid, m);
	return f;
}

static uint64_t maps_signature(const struct procmaps *pm)
{
	uint64_t h = FNV1A_SEED;

	for (size_t i = 0; i < pm->nr_maps; i++) {
		const struct procmap *m = &pm->maps[i];

		h = fnv1a_u64(h, m->start);
		h = fnv1a_u64(h, m->end);
		h = fnv1a_u64(h, m->file_offset);
		h = fnv1a_u64(h, m->inode);
	}
	return h;
}

static void image_publish(struct image *img)
{
	img->pub.maps = img->pm;
	img->pub.files = img->files;
}

static void image_free(struct image *img)
{
	if (!img)
		return;
	procmaps__free(img->pm);
	free(img->files);
	free(img);
}

/* Takes pm over (freeing it on error) and makes it img's mappings. */
static int image_install(struct procview *pv, struct image *img, struct procmaps *pm)
{
	struct procfile **files = calloc(pm->nr_maps ? pm->nr_maps : 1, sizeof(*files));

	if (!files) {
		procmaps__free(pm);
		return -ENOMEM;
	}
	for (size_t i = 0; i < pm->nr_maps; i++) {
		if (pm->maps[i].path[0] != '/')
			continue;
		files[i] = file_get(pv, img->pub.pid, &pm->maps[i]);
		if (!files[i]) {
			free(files);
			procmaps__free(pm);
			return -ENOMEM;
		}
	}
	procmaps__free(img->pm);
	free(img->files);
	img->pm = pm;
	img->files = files;
	img->signature = maps_signature(pm);
	img->pub.generation = ++pv->next_generation;
	image_publish(img);
	return 0;
}

static struct image *image_find(const struct procview *pv, int pid)
{
	uint64_t *v = hashtab__find(pv->images, (uint32_t)pid);

	return v ? (struct image *)(uintptr_t)*v : NULL;
}

static struct image *image_new(struct procview *pv, int pid)
{
	struct image *img = calloc(1, sizeof(*img));

	if (!img)
		return NULL;
	img->pub.pid = pid;
	if (hashtab__put(pv->images, (uint32_t)pid, (uintptr_t)img)) {
		free(img);
		return NULL;
	}
	return img;
}

static bool pid_gone(int pid)
{
	char dir[32];

	snprintf(dir, sizeof(dir), "/proc/%d", pid);
	return access(dir, F_OK) != 0;
}

/*
 * Reads pid's mappings into *imgp (made when NULL). 0 or -errno. An image already known whose
 * process is gone (or a zombie) keeps its last mappings and turns final.
 */
static int image_read(struct procview *pv, int pid, struct image **imgp)
{
	struct procmaps *pm = procmaps__read(pid);
	struct image *img = *imgp;

	if (!pm) {
		int err = -errno;

		if (img && err == -ENOENT) {
			img->pub.final = img->pub.gone = true;
			return 0;
		}
		if (err == -ENOENT && pid_gone(pid))
			err = -ESRCH;
		/* Never read and gone: remembered as such (no maps), so no one reads again. */
		if (err == -ESRCH && !img && (img = image_new(pv, pid)))
			img->pub.final = img->pub.gone = true;
		return err;
	}
	if (!img) {
		img = image_new(pv, pid);
		if (!img) {
			procmaps__free(pm);
			return -ENOMEM;
		}
		*imgp = img;
	}
	img->pub.read_ns = now_ns();
	if (img->pm && maps_signature(pm) == img->signature) {
		procmaps__free(pm);
		return 0;
	}
	return image_install(pv, img, pm);
}

struct procview *procview__new(void)
{
	struct procview *pv = calloc(1, sizeof(*pv));

	if (!pv)
		return NULL;
	pv->images = hashtab__new(16);
	pv->retired = hashtab__new(16);
	pv->files = hashtab__new(64);
	if (!pv->images || !pv->retired || !pv->files) {
		procview__free(pv);
		errno = ENOMEM;
		return NULL;
	}
	return pv;
}

const struct procimage *procview__image(struct procview *pv, int pid, uint64_t max_age_ns)
{
	struct image *img = image_find(pv, pid);
	int err;

	if (img && !img->pm) {
		errno = ESRCH;
		return NULL;
	}
	if (img && (img->pub.final || now_ns() - img->pub.read_ns < max_age_ns))
		return &img->pub;
	err = image_read(pv, pid, &img);
	if (err) {
		errno = -err;
		return NULL;
	}
	return &img->pub;
}

static uint64_t retired_key(int pid, uint32_t exec_id)
{
	return (uint32_t)pid | (uint64_t)exec_id << 32;
}

void procview__exec(struct procview *pv, int pid, uint32_t old_exec_id, uint64_t exec_ns)
{
	struct image *img = image_find(pv, pid);
	uint64_t key = retired_key(pid, old_exec_id), *have;

	if (!img || !img->pm || img->pub.read_ns > exec_ns)
		return;
	have = hashtab__find(pv->retired, key);
	if (have) {
		image_free((struct image *)(uintptr_t)*have);
		hashtab__delete(pv->retired, key);
	}
	if (hashtab__put(pv->retired, key, (uintptr_t)img))
		return; /* no memory: the old image is dropped below, old frames go unnamed */
	hashtab__delete(pv->images, (uint32_t)pid);
	img->pub.final = true;
}

const struct procimage *procview__image_at(struct procview *pv, int pid, uint32_t exec_id,
					   uint64_t max_age_ns)
{
	uint64_t *have = hashtab__find(pv->retired, retired_key(pid, exec_id));

	if (have)
		return &((struct image *)(uintptr_t)*have)->pub;
	return procview__image(pv, pid, max_age_ns);
}

const struct procmap *procview__find(const struct procimage *img, uint64_t addr,
				     struct procfile **file)
{
	const struct procmap *m = img->maps ? procmaps__find(img->maps, addr) : NULL;

	if (m && file)
		*file = img->files[m - img->maps->maps];
	return m;
}

struct procfile *procview__file_named(const struct procimage *img, const char *name)
{
	struct stat st;
	char *p;
	int err;

	if (name[0] != '/' || asprintf(&p, "/proc/%d/root%s", img->pid, name) < 0)
		return NULL;
	err = stat(p, &st);
	free(p);
	return err ? NULL : procview__file_of(img, &st);
}

struct procfile *procview__file_of(const struct procimage *img, const struct stat *st)
{
	for (size_t i = 0; img->maps && i < img->maps->nr_maps; i++)
		if (img->files[i] && same_file(st, img->files[i]))
			return img->files[i];
	return NULL;
}

char *procview__path(int pid, const struct procmap *m)
{
	char *p;

	if (asprintf(&p, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid, m->start, m->end) < 0) {
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

/* Puts m (taken over) and its file at pos in img's mappings. 0 or -ENOMEM. */
static int maps_insert(struct image *img, size_t pos, const struct procmap *m, struct procfile *f)
{
	struct procmaps *pm = img->pm;
	struct procmap *nm = realloc(pm->maps, (pm->nr_maps + 1) * sizeof(*nm));
	struct procfile **nf;

	if (!nm)
		return -ENOMEM;
	pm->maps = nm;
	nf = realloc(img->files, (pm->nr_maps + 1) * sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	img->files = nf;
	memmove(&pm->maps[pos + 1], &pm->maps[pos], (pm->nr_maps - pos) * sizeof(*pm->maps));
	memmove(&nf[pos + 1], &nf[pos], (pm->nr_maps - pos) * sizeof(*nf));
	pm->maps[pos] = *m;
	nf[pos] = f;
	pm->nr_maps++;
	return 0;
}

/*
 * Puts mapping m (its path not owned) in pid's image, made final, unless it overlaps one known; its
 * file opened by the rule for pid (0: by its path alone). 0 or -errno (-EEXIST, -ENOMEM).
 */
static int image_add(struct procview *pv, int pid, int open_pid, struct procmap m)
{
	struct image *img = image_find(pv, pid);
	struct procmaps *pm;
	struct procfile *f;
	size_t pos;

	if (!img && !(img = image_new(pv, pid)))
		return -ENOMEM;
	img->pub.final = true;
	if (!img->pm) {
		img->pm = calloc(1, sizeof(*img->pm));
		if (!img->pm)
			return -ENOMEM;
		img->pm->pid = pid;
	}
	pm = img->pm;
	for (pos = 0; pos < pm->nr_maps && pm->maps[pos].start < m.start; pos++)
		;
	if ((pos > 0 && pm->maps[pos - 1].end > m.start) ||
	    (pos < pm->nr_maps && pm->maps[pos].start < m.end))
		return -EEXIST;
	f = file_get(pv, open_pid, &m);
	if (!f)
		return -ENOMEM;
	m.path = strdup(m.path);
	if (!m.path)
		return -ENOMEM;
	if (maps_insert(img, pos, &m, f)) {
		free(m.path);
		return -ENOMEM;
	}
	img->pub.generation = ++pv->next_generation;
	image_publish(img);
	return 0;
}

int procview__add_mapping(struct procview *pv, int pid, uint64_t start, uint64_t end,
			  uint64_t file_offset, const char *path)
{
	struct procmap m = { .start = start, .end = end, .file_offset = file_offset,
			     .perms = "r-xp", .path = (char *)path };
	struct stat st;

	if (end <= start)
		return -EINVAL;
	if (stat(path, &st))
		return -errno;
	m.dev_major = major(st.st_dev);
	m.dev_minor = minor(st.st_dev);
	m.inode = st.st_ino;
	return image_add(pv, pid, 0, m);
}

int procview__add_exit_mapping(struct procview *pv, int pid, const struct procmap *m)
{
	struct image *img;
	int err;

	if (m->end <= m->start || m->path[0] != '/')
		return -EINVAL;
	err = image_add(pv, pid, pid, *m);
	img = image_find(pv, pid);
	if (img)
		img->pub.gone = true;
	return err;
}

void procview__forget(struct procview *pv, int pid)
{
	struct image *img = image_find(pv, pid);
	uint64_t key, *v;
	size_t pos = 0;

	if (img) {
		hashtab__delete(pv->images, (uint32_t)pid);
		image_free(img);
	}
	/* Its images before execs: rare, so a scan of the few there are. */
	while (hashtab__next(pv->retired, &pos, &key, &v)) {
		if ((uint32_t)key != (uint32_t)pid)
			continue;
		image_free((struct image *)(uintptr_t)*v);
		hashtab__delete(pv->retired, key);
		pos = 0;
	}
}

size_t procview__nr_files(const struct procview *pv)
{
	return hashtab__count(pv->files);
}

void procview__free(struct procview *pv)
{
	uint64_t *v;
	size_t pos = 0;

	if (!pv)
		return;
	while (pv->images && hashtab__next(pv->images, &pos, NULL, &v))
		image_free((struct image *)(uintptr_t)*v);
	pos = 0;
	while (pv->retired && hashtab__next(pv->retired, &pos, NULL, &v))
		image_free((struct image *)(uintptr_t)*v);
	pos = 0;
	while (pv->files && hashtab__next(pv->files, &pos, NULL, &v))
		file_free((struct procfile *)(uintptr_t)*v);
	hashtab__free(pv->images);
	hashtab__free(pv->retired);
	hashtab__free(pv->files);
	free(pv);
}
