/* test_procview.c: the process view on this process, a library deleted and replaced under it, and a dead child. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "fixtures/fixture_path.h"
#include "proc/elf_file.h"
#include "proc/procview.h"

int view_marker(int x);

__attribute__((noinline)) int view_marker(int x)
{
	volatile int v = x;

	return v * 7;
}

/* The GNU build-id as readelf prints it: a reader other than the one under test. */
static char *readelf_build_id(const char *path)
{
	char *cmd, line[512], *id = NULL;
	FILE *p;

	assert_true(asprintf(&cmd, "readelf -n '%s'", path) > 0);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		char *at = strstr(line, "Build ID: ");

		if (at && !id) {
			id = strdup(at + strlen("Build ID: "));
			id[strcspn(id, "\n")] = '\0';
		}
	}
	pclose(p);
	free(cmd);
	assert_non_null(id);
	return id;
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

static void test_self(void **state)
{
	struct procview *pv = procview__new();
	char *exe = realpath("/proc/self/exe", NULL), *id = readelf_build_id(exe);
	const struct procimage *img;
	const struct procmap *m;
	struct procfile *f = NULL;
	uint64_t gen;

	img = procview__image(pv, getpid(), 0);
	assert_non_null(img);
	assert_int_equal(img->pid, getpid());
	assert_false(img->final);
	assert_false(img->gone);
	m = procview__find(img, (uint64_t)(uintptr_t)&view_marker, &f);
	assert_non_null(m);
	assert_non_null(f);
	assert_string_equal(f->path, exe);
	assert_non_null(f->ef);
	assert_null(f->root);
	assert_string_equal(f->build_id, id);
	assert_ptr_equal(procview__file_named(img, exe), f);
	assert_null(procview__file_named(img, "/nonexistent/lib.so"));
	/* No address of this program is in the vdso or the heap: unmapped is NULL. */
	assert_null(procview__find(img, 0x10, &f));

	/* Read again with nothing mapped since: the same generation, from cache or from /proc. */
	gen = img->generation;
	img = procview__image(pv, getpid(), UINT64_MAX);
	assert_int_equal(img->generation, gen);
	img = procview__image(pv, getpid(), 0);
	assert_int_equal(img->generation, gen);
	procview__free(pv);
	free(id);
	free(exe);
}

/*
 * A library loaded, then deleted, and its name given to another file, as a package upgrade does:
 * the view opens the file mapped (through map_files), never the one the name now leads to.
 */
static void test_deleted_and_replaced(void **state)
{
	char dir[] = "/tmp/lt-procview-XXXXXX", *lib, *orig = fixture_path("libfx.so"),
	     *other = fixture_path("libdataonly.so"), *id = readelf_build_id(orig), *mp;
	struct procview *pv = procview__new();
	const struct procimage *img;
	const struct procmap *m;
	struct procfile *f = NULL;
	struct elf_sym sym;
	struct stat st;
	uint64_t gen;
	void *h, *marker;

	assert_non_null(mkdtemp(dir));
	assert_true(asprintf(&lib, "%s/libfx.so", dir) > 0);
	copy_file(orig, lib);
	gen = procview__image(pv, getpid(), 0)->generation;
	h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(h);
	marker = dlsym(h, "fx_code_marker");
	assert_non_null(marker);
	assert_int_equal(unlink(lib), 0);
	copy_file(other, lib);

	img = procview__image(pv, getpid(), 0);
	assert_true(img->generation != gen);
	m = procview__find(img, (uint64_t)(uintptr_t)marker, &f);
	assert_non_null(m);
	assert_true(m->deleted);
	assert_string_equal(f->path, lib);
	assert_non_null(f->ef);
	assert_int_equal(elf_file__find_func(f->ef, "fx_code_marker", true, &sym), 0);
	assert_string_equal(f->build_id, id);
	/* The name leads to the new file now, which the process does not map. */
	assert_null(procview__file_named(img, lib));
	mp = procview__path(getpid(), m);
	assert_non_null(mp);
	assert_int_equal(stat(mp, &st), 0);
	assert_int_equal(st.st_ino, f->inode);
	assert_int_equal(st.st_ino, f->st_ino);

	free(mp);
	procview__free(pv);
	dlclose(h);
	unlink(lib);
	rmdir(dir);
	free(lib);
	free(id);
	free(other);
	free(orig);
}

/* A child of this process that exits once *release is closed. */
static pid_t waiting_child(int *release)
{
	int fds[2];
	pid_t child;
	char c;

	assert_int_equal(pipe(fds), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(fds[1]);
		while (read(fds[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(fds[0]);
	*release = fds[1];
	return child;
}

/* A process read while it lived keeps its last image once gone; one never read is remembered gone. */
static void test_gone(void **state)
{
	struct procview *pv = procview__new();
	const struct procimage *img;
	struct procfile *f = NULL;
	uint64_t gen;
	int release;
	pid_t child;

	child = waiting_child(&release);
	img = procview__image(pv, child, 0);
	assert_non_null(img);
	gen = img->generation;
	close(release);
	assert_int_equal(waitpid(child, NULL, 0), child);

	img = procview__image(pv, child, 0);
	assert_non_null(img);
	assert_true(img->gone);
	assert_true(img->final);
	assert_int_equal(img->generation, gen);
	assert_non_null(procview__find(img, (uint64_t)(uintptr_t)&view_marker, &f));
	assert_non_null(f->ef);

	procview__forget(pv, child);
	errno = 0;
	assert_null(procview__image(pv, child, 0));
	assert_int_equal(errno, ESRCH);
	errno = 0;
	assert_null(procview__image(pv, child, 0));
	assert_int_equal(errno, ESRCH);
	procview__free(pv);
}

static void test_add_mapping(void **state)
{
	struct procview *pv = procview__new();
	char *lib = fixture_path("libfx.so");
	const struct procimage *img;
	struct procfile *f = NULL;

	assert_int_equal(procview__add_mapping(pv, 90001, 0x2000, 0x2000, 0, lib), -EINVAL);
	assert_int_equal(procview__add_mapping(pv, 90001, 0x1000, 0x2000, 0, "/nonexistent"),
			 -ENOENT);
	assert_int_equal(procview__add_mapping(pv, 90001, 0x10000, 0x20000, 0, lib), 0);
	assert_int_equal(procview__add_mapping(pv, 90001, 0x18000, 0x28000, 0, lib), -EEXIST);
	assert_int_equal(procview__add_mapping(pv, 90002, 0x10000, 0x20000, 0, lib), 0);
	assert_int_equal(procview__nr_files(pv), 1);

	img = procview__image(pv, 90001, 0);
	assert_non_null(img);
	assert_true(img->final);
	assert_false(img->gone);
	assert_int_equal(img->maps->nr_maps, 1);
	assert_non_null(procview__find(img, 0x10000, &f));
	assert_string_equal(f->path, lib);
	assert_non_null(f->ef);
	assert_null(procview__find(img, 0x20000, &f));
	procview__free(pv);
	free(lib);
}

/*
 * A child that loads a library after the view read it and exits: the mapping the BPF side saw at
 * the exit (its dev and inode, its path) joins the image, which turns gone; the file is opened by
 * its path with dev and inode checked. A wrong inode, or an overlap, adds nothing.
 */
static void test_exit_mapping(void **state)
{
	struct procview *pv = procview__new();
	char *lib = fixture_path("libfx.so");
	const struct procimage *img;
	struct procfile *f = NULL;
	struct stat st;
	struct procmap m = { .start = 0x7f0000000000, .end = 0x7f0000010000, .perms = "r-xp" };
	int release;
	pid_t child;

	assert_int_equal(stat(lib, &st), 0);
	m.dev_major = major(st.st_dev);
	m.dev_minor = minor(st.st_dev);
	m.path = lib;
	child = waiting_child(&release);
	img = procview__image(pv, child, 0);
	assert_non_null(img);
	assert_null(procview__find(img, m.start, &f));
	close(release);
	assert_int_equal(waitpid(child, NULL, 0), child);

	/* Another file now at that path: not the one mapped. */
	m.inode = st.st_ino + 1;
	assert_int_equal(procview__add_exit_mapping(pv, child, &m), 0);
	img = procview__image(pv, child, 0);
	assert_true(img->gone && img->final);
	assert_non_null(procview__find(img, m.start, &f));
	assert_null(f->ef);

	m.inode = st.st_ino;
	m.start = 0x7f0000100000;
	m.end = 0x7f0000110000;
	assert_int_equal(procview__add_exit_mapping(pv, child, &m), 0);
	img = procview__image(pv, child, 0);
	assert_non_null(procview__find(img, m.start + 0x100, &f));
	assert_string_equal(f->path, lib);
	assert_non_null(f->ef);
	/* What the view read before stays. */
	assert_non_null(procview__find(img, (uint64_t)(uintptr_t)&view_marker, &f));
	assert_non_null(f->ef);

	m.end = m.start + 0x1000;
	m.start -= 0x1000;
	assert_int_equal(procview__add_exit_mapping(pv, child, &m), -EEXIST);
	m.path = "libfx.so";
	assert_int_equal(procview__add_exit_mapping(pv, child, &m), -EINVAL);
	procview__free(pv);
	free(lib);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_self),
	    cmocka_unit_test(test_deleted_and_replaced),
	    cmocka_unit_test(test_gone),
	    cmocka_unit_test(test_add_mapping),
	    cmocka_unit_test(test_exit_mapping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
