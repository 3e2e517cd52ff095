/* test_procmaps.c: unit tests for parsing maps texts and address -> file offset lookups. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "fixtures/fixture_path.h"
#include "proc/procmaps.h"

static struct procmaps *parse_fixture(const char *name)
{
	struct procmaps *pm;
	size_t len = 0;
	char *text = fixture_read(name, &len);

	assert_non_null(text);
	pm = procmaps__parse(text, len, 4242);
	free(text);
	assert_non_null(pm);
	return pm;
}

static void test_pie_keeps_executable_mappings(void **state)
{
	struct procmaps *pm = parse_fixture("pie.maps");
	const struct procmap *m;

	assert_int_equal(pm->pid, 4242);
	/* exe text, libc text, plugin text, deleted jit lib, anon rwx, [vdso], [vsyscall] */
	assert_int_equal(pm->nr_maps, 7);

	m = &pm->maps[0];
	assert_int_equal(m->start, 0x55d1c0a01000ULL);
	assert_int_equal(m->end, 0x55d1c0a05000ULL);
	assert_int_equal(m->file_offset, 0x1000);
	assert_int_equal(m->dev_major, 0xfe);
	assert_int_equal(m->dev_minor, 0);
	assert_int_equal(m->inode, 1234);
	assert_string_equal(m->perms, "r-xp");
	assert_string_equal(m->path, "/opt/app/bin/server");
	assert_false(m->deleted);

	m = &pm->maps[1];
	assert_int_equal(m->start, 0x7f2a50a26000ULL);
	assert_int_equal(m->file_offset, 0x26000);
	assert_int_equal(m->inode, 332835);
	assert_string_equal(m->path, "/usr/lib/x86_64-linux-gnu/libc.so.6");

	m = &pm->maps[2];
	assert_string_equal(m->path, "/home/a user/My Plugins/libplug.so");
	assert_int_equal(m->dev_major, 8);
	assert_int_equal(m->dev_minor, 0x11);
	assert_int_equal(m->inode, 98765);

	m = &pm->maps[3];
	assert_string_equal(m->path, "/tmp/libjit.so");
	assert_true(m->deleted);
	assert_int_equal(m->dev_minor, 0x1a);
	assert_int_equal(m->file_offset, 0x2000);

	m = &pm->maps[4];
	assert_string_equal(m->path, "");
	assert_string_equal(m->perms, "rwxp");
	assert_int_equal(m->inode, 0);

	assert_string_equal(pm->maps[5].path, "[vdso]");
	assert_string_equal(pm->maps[6].path, "[vsyscall]");
	assert_int_equal(pm->maps[6].start, 0xffffffffff600000ULL);
	assert_string_equal(pm->maps[6].perms, "--xp");
	procmaps__free(pm);
}

static void test_find_and_file_offset(void **state)
{
	struct procmaps *pm = parse_fixture("pie.maps");
	const struct procmap *m = NULL;
	uint64_t off = 0;

	assert_true(procmaps__file_offset(pm, 0x7f2a50a26000ULL + 0x1234, &m, &off));
	assert_ptr_equal(m, &pm->maps[1]);
	assert_int_equal(off, 0x27234);

	/* first and last byte of a mapping, and one past its end (a read-only mapping, dropped) */
	assert_ptr_equal(procmaps__find(pm, 0x55d1c0a01000ULL), &pm->maps[0]);
	assert_ptr_equal(procmaps__find(pm, 0x55d1c0a04fffULL), &pm->maps[0]);
	assert_null(procmaps__find(pm, 0x55d1c0a05000ULL));

	/* below everything, the heap (not executable), above everything */
	assert_null(procmaps__find(pm, 0x1000));
	assert_null(procmaps__find(pm, 0x55d1c1e3d010ULL));
	assert_false(procmaps__file_offset(pm, 0x55d1c1e3d010ULL, &m, &off));
	assert_null(procmaps__find(pm, 0xffffffffff601000ULL));

	assert_true(procmaps__file_offset(pm, 0x7f2a50d00010ULL, &m, &off));
	assert_true(m->deleted);
	assert_int_equal(off, 0x2010);

	assert_true(procmaps__file_offset(pm, 0x7f2a50c02abcULL, &m, &off));
	assert_string_equal(m->path, "/home/a user/My Plugins/libplug.so");
	assert_int_equal(off, 0x2abc);

	assert_true(procmaps__file_offset(pm, 0x7ffd4bbd8100ULL, &m, &off));
	assert_string_equal(m->path, "[vdso]");
	assert_int_equal(off, 0x100);
	procmaps__free(pm);
}

static void test_unsorted_without_final_newline(void **state)
{
	struct procmaps *pm = parse_fixture("unsorted.maps");
	uint64_t off = 0;

	assert_int_equal(pm->nr_maps, 2);
	assert_int_equal(pm->maps[0].start, 0x400000);
	assert_string_equal(pm->maps[0].path, "/usr/bin/legacy");
	assert_int_equal(pm->maps[1].start, 0x7f0000001000ULL);
	assert_int_equal(pm->maps[1].dev_major, 0xfd);
	assert_int_equal(pm->maps[1].dev_minor, 1);
	assert_true(procmaps__file_offset(pm, 0x401234, NULL, &off));
	assert_int_equal(off, 0x1234);
	assert_true(procmaps__file_offset(pm, 0x7f0000001010ULL, NULL, &off));
	assert_int_equal(off, 0x1010);
	procmaps__free(pm);
}

static void test_empty_text(void **state)
{
	struct procmaps *pm = procmaps__parse("", 0, 1);

	assert_non_null(pm);
	assert_int_equal(pm->nr_maps, 0);
	assert_null(procmaps__find(pm, 0x1000));
	procmaps__free(pm);
}

static void test_malformed_lines(void **state)
{
	static const char *const bad[] = {
	    "zz000-1000 r-xp 00000000 08:01 1 /a\n",		    /* not hex */
	    "1000 2000 r-xp 00000000 08:01 1 /a\n",		    /* no dash */
	    "2000-1000 r-xp 00000000 08:01 1 /a\n",		    /* end before start */
	    "1000-1000 r-xp 00000000 08:01 1 /a\n",		    /* empty */
	    "1000-2000 rxxp 00000000 08:01 1 /a\n",		    /* bad perms */
	    "1000-2000 r-x 00000000 08:01 1 /a\n",		    /* short perms */
	    "1000-2000 r-xp 00000000 0801 1 /a\n",		    /* no dev colon */
	    "1000-2000 r-xp 00000000 08:01\n",			    /* no inode */
	    "1000-2000 r-xp 00000000 08:01 12x /a\n",		    /* inode not decimal */
	    "10000000000000000-10000000000000001 r-xp 0 08:01 1\n", /* overflow */
	    "1000-2000 r-xp 00000000 08:01 1 /a\ngarbage\n",	    /* second line */
	    "1000-2000\n",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_null(procmaps__parse(bad[i], strlen(bad[i]), 1));
		assert_int_equal(errno, EINVAL);
	}
}

/* A line that is valid but not executable is still checked. */
static void test_malformed_non_exec_line(void **state)
{
	static const char text[] = "1000-2000 rw-p 00000000 08:01 1 /a\n"
				   "3000-4000 rw-p 0000zz00 08:01 1 /a\n";

	errno = 0;
	assert_null(procmaps__parse(text, sizeof(text) - 1, 1));
	assert_int_equal(errno, EINVAL);
}

static void test_read_self(void **state)
{
	struct procmaps *pm = procmaps__read(getpid());
	const struct procmap *m;
	char *exe = realpath("/proc/self/exe", NULL);

	assert_non_null(pm);
	assert_non_null(exe);
	assert_int_equal(pm->pid, getpid());
	m = procmaps__find(pm, (uint64_t)(uintptr_t)&test_read_self);
	assert_non_null(m);
	assert_string_equal(m->path, exe);
	assert_int_equal(m->perms[2], 'x');
	free(exe);
	procmaps__free(pm);
}

static void test_read_gone_process(void **state)
{
	pid_t child = fork();

	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	assert_int_equal(waitpid(child, NULL, 0), child);
	errno = 0;
	assert_null(procmaps__read(child));
	assert_int_equal(errno, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pie_keeps_executable_mappings),
	    cmocka_unit_test(test_find_and_file_offset),
	    cmocka_unit_test(test_unsorted_without_final_newline),
	    cmocka_unit_test(test_empty_text),
	    cmocka_unit_test(test_malformed_lines),
	    cmocka_unit_test(test_malformed_non_exec_line),
	    cmocka_unit_test(test_read_self),
	    cmocka_unit_test(test_read_gone_process),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
