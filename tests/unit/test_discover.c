/* test_discover.c: target discovery: the texts it parses, and its listings of real children in a
 * cgroup2 group made for the test, by name, and as a systemd unit's group. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "proc/cgroup.h"
#include "proc/discover.h"

static char err[512];

/* --- The pure parts. */

static void test_mount_lines(void **state)
{
	char *mp = (char *)1;

	assert_int_equal(
	    cgroup_parse_mount_line("cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime "
				    "0 0\n",
				    &mp),
	    1);
	assert_string_equal(mp, "/sys/fs/cgroup/unified");
	free(mp);
	assert_int_equal(
	    cgroup_parse_mount_line("none /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0", &mp), 1);
	assert_string_equal(mp, "/sys/fs/cgroup");
	free(mp);
	/* The kernel escapes blanks, tabs, newlines and backslashes in octal. */
	assert_int_equal(
	    cgroup_parse_mount_line("cg /mnt/my\\040cg\\011x\\134y cgroup2 rw 0 0", &mp), 1);
	assert_string_equal(mp, "/mnt/my cg\tx\\y");
	free(mp);
	/* A backslash that starts no escape stays. */
	assert_int_equal(cgroup_parse_mount_line("cg /a\\9\\04 cgroup2 rw 0 0", &mp), 1);
	assert_string_equal(mp, "/a\\9\\04");
	free(mp);

	assert_int_equal(
	    cgroup_parse_mount_line("cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0", &mp), 0);
	assert_null(mp);
	assert_int_equal(cgroup_parse_mount_line("tmpfs /sys/fs/cgroup tmpfs rw 0 0", &mp), 0);
	assert_int_equal(cgroup_parse_mount_line("x /x cgroup2fs rw 0 0", &mp), 0);
	assert_int_equal(cgroup_parse_mount_line("x /x cgroup rw 0 0", &mp), 0);
	/* The type is the third field, not the first. */
	assert_int_equal(cgroup_parse_mount_line("cgroup2 /x tmpfs rw 0 0", &mp), 0);

	assert_int_equal(cgroup_parse_mount_line("", &mp), -EINVAL);
	assert_int_equal(cgroup_parse_mount_line("\n", &mp), -EINVAL);
	assert_int_equal(cgroup_parse_mount_line("cgroup2 /x\n", &mp), -EINVAL);
	assert_null(mp);
}

static void test_parse_stat(void **state)
{
	struct discover_stat st;

	assert_int_equal(discover_parse_stat("4242 (postgres) S 1 4242 4242 0 -1 4194560 1230 0 0 "
					     "0 3 1 0 0 20 0 1 0 98765 221184000 5000 "
					     "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 2 0 "
					     "0 0 0 0\n",
					     &st),
			 0);
	assert_string_equal(st.comm, "postgres");
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.flags, 4194560);
	assert_int_equal(st.start_ticks, 98765);
	assert_true(discover_stat_live(&st));

	/* A name may hold blanks and parentheses: it ends at the last ')'. */
	assert_int_equal(
	    discover_parse_stat("7 (a) b (c)) Z 1 7 7 0 -1 4194820 0 0 0 0 0 0 0 0 20 0 "
				"1 0 12 0 0",
				&st),
	    0);
	assert_string_equal(st.comm, "a) b (c)");
	assert_int_equal(st.state, 'Z');
	assert_int_equal(st.start_ticks, 12);
	assert_false(discover_stat_live(&st));
	/* An empty name. */
	assert_int_equal(discover_parse_stat("7 () R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 3", &st),
			 0);
	assert_string_equal(st.comm, "");

	/* A kernel thread: PF_KTHREAD (0x00200000) in the flags. */
	assert_int_equal(discover_parse_stat("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 "
					     "0 1 0 8 0 0",
					     &st),
			 0);
	assert_false(discover_stat_live(&st));

	/* Too short, no name, bad numbers. */
	assert_int_equal(discover_parse_stat("2 (x) S 0 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0", &st),
			 -EINVAL);
	assert_int_equal(discover_parse_stat("2 x S 0 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5", &st),
			 -EINVAL);
	assert_int_equal(discover_parse_stat("2 (x)S 0 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5", &st),
			 -EINVAL);
	assert_int_equal(
	    discover_parse_stat("2 (x) S 0 0 0 0 -1 -5 0 0 0 0 0 0 0 0 20 0 1 0 5", &st), -EINVAL);
	assert_int_equal(
	    discover_parse_stat("2 (x) S 0 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5x", &st), -EINVAL);
	assert_int_equal(discover_parse_stat("2 (x) S 0 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 "
					     "99999999999999999999",
					     &st),
			 -EINVAL);
	assert_int_equal(discover_parse_stat(")(", &st), -EINVAL);
	assert_int_equal(discover_parse_stat("", &st), -EINVAL);
}

/* This process's own stat, read by the parser: its comm as /proc/self/comm has it. */
static void test_parse_own_stat(void **state)
{
	char text[2048], comm[32];
	struct discover_stat st;
	ssize_t n;
	int fd;

	fd = open("/proc/self/stat", O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	assert_true(n > 0);
	text[n] = '\0';
	assert_int_equal(discover_parse_stat(text, &st), 0);
	assert_int_equal(prctl(PR_GET_NAME, comm), 0);
	assert_string_equal(st.comm, comm);
	assert_int_equal(st.state, 'R');
	assert_true(st.start_ticks > 0);
	assert_true(discover_stat_live(&st));
}

static void test_stat_live(void **state)
{
	struct discover_stat st = { .comm = "x", .state = 'S' };

	assert_true(discover_stat_live(&st));
	for (const char *s = "RSDTtIP"; *s; s++) {
		st.state = *s;
		assert_true(discover_stat_live(&st));
	}
	for (const char *s = "ZXx"; *s; s++) {
		st.state = *s;
		assert_false(discover_stat_live(&st));
	}
	st.state = 'S';
	st.flags = 0x00200000;
	assert_false(discover_stat_live(&st));
}

static void test_comm_matches(void **state)
{
	assert_true(discover_comm_matches("postgres", "postgres"));
	assert_false(discover_comm_matches("postgres", "postgre"));
	assert_false(discover_comm_matches("postgre", "postgres"));
	assert_false(discover_comm_matches("postgres", "Postgres"));
	assert_false(discover_comm_matches("", "x"));
	/* The kernel keeps 15 bytes of a name: a longer one matches its first 15. */
	assert_true(discover_comm_matches("postgresql-serv", "postgresql-server-15"));
	assert_true(discover_comm_matches("postgresql-serv", "postgresql-serv"));
	assert_false(discover_comm_matches("postgresql-ser", "postgresql-server-15"));
	assert_false(discover_comm_matches("postgresql-serw", "postgresql-server-15"));
}

static void assert_unit(const char *name, const char *want)
{
	char *unit = (char *)1;

	assert_int_equal(discover_unit_name(name, &unit), 0);
	assert_string_equal(unit, want);
	free(unit);
}

static void test_unit_name(void **state)
{
	char *unit = (char *)1;

	assert_unit("postgresql", "postgresql.service");
	assert_unit("postgresql.service", "postgresql.service");
	assert_unit("postgresql@15-main", "postgresql@15-main.service");
	assert_unit("session-3.scope", "session-3.scope");
	assert_unit("user.slice", "user.slice");
	assert_unit("sshd.socket", "sshd.socket");
	assert_unit("home.mount", "home.mount");
	assert_unit("dev-sda2.swap", "dev-sda2.swap");
	/* Any other dot is part of the name, as systemctl has it. */
	assert_unit("org.freedesktop.Avahi", "org.freedesktop.Avahi.service");
	assert_unit("foo.services", "foo.services.service");

	assert_int_equal(discover_unit_name("", &unit), -EINVAL);
	assert_null(unit);
	assert_int_equal(discover_unit_name("system.slice/x.service", &unit), -EINVAL);
	assert_int_equal(discover_unit_name("/x", &unit), -EINVAL);
	/* Units that run no process of their own. */
	assert_int_equal(discover_unit_name("multi-user.target", &unit), -EINVAL);
	assert_int_equal(discover_unit_name("logrotate.timer", &unit), -EINVAL);
	assert_int_equal(discover_unit_name("cups.path", &unit), -EINVAL);
	assert_int_equal(discover_unit_name("dev-sda.device", &unit), -EINVAL);
	assert_int_equal(discover_unit_name("proc-sys.automount", &unit), -EINVAL);
	assert_null(unit);
}

static void test_parse_procs(void **state)
{
	pid_t *pids = NULL;
	size_t nr = 0, cap = 0;

	assert_int_equal(cgroup_parse_procs("", &pids, &nr, &cap), 0);
	assert_int_equal(nr, 0);
	assert_int_equal(cgroup_parse_procs("1\n22\n333\n", &pids, &nr, &cap), 0);
	/* Appended, in the order read; 0 (another pid namespace's) left out; no final newline. */
	assert_int_equal(cgroup_parse_procs("0\n2147483647\n\n5", &pids, &nr, &cap), 0);
	assert_int_equal(nr, 5);
	assert_int_equal(pids[0], 1);
	assert_int_equal(pids[1], 22);
	assert_int_equal(pids[2], 333);
	assert_int_equal(pids[3], 2147483647);
	assert_int_equal(pids[4], 5);

	assert_int_equal(cgroup_parse_procs("12x\n", &pids, &nr, &cap), -EINVAL);
	assert_int_equal(cgroup_parse_procs("-1\n", &pids, &nr, &cap), -EINVAL);
	assert_int_equal(cgroup_parse_procs(" 1\n", &pids, &nr, &cap), -EINVAL);
	assert_int_equal(cgroup_parse_procs("2147483648\n", &pids, &nr, &cap), -EINVAL);
	assert_int_equal(cgroup_parse_procs("99999999999999999999\n", &pids, &nr, &cap), -EINVAL);
	free(pids);
}

/* --- Live: children of this test, in groups it makes under the cgroup2 mount. */

/* A child that waits for commands on a pipe: 'r' renames it to its second name, 'b' back; the
 * pipe's end makes it exit (a zombie until waited for). */
struct child {
	pid_t pid;
	int ctl;
};

/* What a live test made, undone by cleanup() even when an assertion ends the test early. */
#define MAX_MADE 16
static pid_t made_children[MAX_MADE];
static char *made_groups[MAX_MADE];

static void note_child(pid_t pid)
{
	for (size_t i = 0; i < MAX_MADE; i++) {
		if (!made_children[i]) {
			made_children[i] = pid;
			return;
		}
	}
	fail_msg("more than %d children", MAX_MADE);
}

static void note_group(char *path, bool made)
{
	for (size_t i = 0; i < MAX_MADE; i++) {
		if (made ? !made_groups[i] : made_groups[i] == path) {
			made_groups[i] = made ? path : NULL;
			return;
		}
	}
	fail_msg("more than %d groups", MAX_MADE);
}

/* Teardown: kills and reaps the children left, removes the groups left, deepest first. */
static int cleanup(void **state)
{
	for (size_t i = 0; i < MAX_MADE; i++) {
		if (made_children[i]) {
			kill(made_children[i], SIGKILL);
			waitpid(made_children[i], NULL, 0);
			made_children[i] = 0;
		}
	}
	for (size_t i = MAX_MADE; i-- > 0;) {
		if (made_groups[i]) {
			rmdir(made_groups[i]);
			free(made_groups[i]);
			made_groups[i] = NULL;
		}
	}
	return 0;
}

static void child_loop(int fd, const char *name, const char *other)
{
	char c;

	if (name)
		prctl(PR_SET_NAME, name);
	while (read(fd, &c, 1) == 1) {
		if (c == 'r')
			prctl(PR_SET_NAME, other);
		else if (c == 'b')
			prctl(PR_SET_NAME, name);
	}
	_exit(0);
}

/* Waits until pid's stat says name and state (name NULL: any), up to 5 s. */
static void wait_for(pid_t pid, const char *name, char state)
{
	char path[64], text[2048];
	struct discover_stat st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 5000; i++) {
		fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
		assert_true(n > 0);
		text[n] = '\0';
		assert_int_equal(discover_parse_stat(text, &st), 0);
		if ((!name || discover_comm_matches(st.comm, name)) && st.state == state)
			return;
		usleep(1000);
	}
	fail_msg("pid %d never reached %s in state %c", (int)pid, name ? name : "", state);
}

static struct child spawn(const char *name, const char *other)
{
	struct child c;
	int fds[2];

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	c.pid = fork();
	assert_true(c.pid >= 0);
	if (!c.pid) {
		/* The other children's pipes too: each must end when its own pipe does. */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != fds[0])
				close(fd);
		child_loop(fds[0], name, other);
	}
	close(fds[0]);
	note_child(c.pid);
	c.ctl = fds[1];
	/* Asleep in read(), its name set. */
	wait_for(c.pid, name, 'S');
	return c;
}

static void tell(struct child *c, char cmd, const char *name)
{
	assert_int_equal(write(c->ctl, &cmd, 1), 1);
	wait_for(c->pid, name, 'S');
}

/* Ends the child's loop: a zombie, not waited for yet. */
static void make_zombie(struct child *c)
{
	close(c->ctl);
	c->ctl = -1;
	wait_for(c->pid, NULL, 'Z');
}

static void reap(struct child *c)
{
	if (c->ctl >= 0)
		close(c->ctl);
	c->ctl = -1;
	kill(c->pid, SIGKILL);
	assert_int_equal(waitpid(c->pid, NULL, 0), c->pid);
	for (size_t i = 0; i < MAX_MADE; i++)
		if (made_children[i] == c->pid)
			made_children[i] = 0;
}

static void move_to(const char *group, pid_t pid)
{
	char *path;
	FILE *f;

	assert_true(asprintf(&path, "%s/cgroup.procs", group) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fprintf(f, "%d\n", (int)pid) > 0);
	assert_int_equal(fclose(f), 0);
	free(path);
}

/* mount + "/" + rel, made as a group (the caller removes it); a path to free. */
static char *make_group(const char *mount, const char *rel)
{
	char *path;

	assert_true(asprintf(&path, "%s/%s", mount, rel) > 0);
	if (mkdir(path, 0755) && errno != EEXIST)
		fail_msg("cannot make the group %s: %s", path, strerror(errno));
	note_group(path, true);
	return path;
}

static void remove_group(char *path)
{
	note_group(path, false);
	if (rmdir(path))
		fail_msg("cannot remove the group %s: %s", path, strerror(errno));
	free(path);
}

/* The cgroup2 mount, or a skip when the test cannot make groups there (not root, no cgroup2). */
static char *mount_or_skip(void)
{
	char *mount = NULL;

	if (geteuid() || cgroup_find_mount(&mount)) {
		print_message("no cgroup2 mount, or not root: skipped\n");
		skip();
	}
	return mount;
}

#define ASSERT_PIDS(pids, nr, ...)                                                                 \
	do {                                                                                       \
		const pid_t want_[] = { __VA_ARGS__ };                                             \
		size_t nwant_ = sizeof(want_) / sizeof(want_[0]);                                  \
		assert_int_equal((nr), nwant_);                                                    \
		for (size_t k_ = 0; k_ < nwant_; k_++)                                             \
			assert_int_equal((pids)[k_], want_[k_]);                                   \
	} while (0)

static struct discover *new_target(enum discover_kind kind, const char *arg)
{
	struct discover_target t = { .kind = kind, .arg = arg };
	struct discover *d = discover__new(&t, err, sizeof(err));

	if (!d)
		fail_msg("discover__new(%s): %s", arg, err);
	return d;
}

/* Two children in the group, one in a subgroup of a subgroup, a zombie, one outside. */
static void test_cgroup_listing(void **state)
{
	char *mount = mount_or_skip(), *rel, *abs_in_tree, *g, *inner, *deep;
	struct child a = spawn(NULL, NULL), b = spawn(NULL, NULL), z = spawn(NULL, NULL);
	struct child out = spawn(NULL, NULL), late;
	struct discover *d;
	const pid_t *pids;
	size_t nr;

	assert_true(asprintf(&rel, "leaktop-test-%d", (int)getpid()) > 0);
	assert_true(asprintf(&abs_in_tree, "/%s", rel) > 0);
	g = make_group(mount, rel);
	inner = make_group(g, "inner");
	deep = make_group(inner, "deep");
	move_to(g, a.pid);
	move_to(deep, b.pid);
	move_to(g, z.pid);
	make_zombie(&z);

	/* The three spellings of one group. */
	for (int i = 0; i < 3; i++) {
		d = new_target(DISCOVER_CGROUP, i == 0 ? rel : i == 1 ? g : abs_in_tree);
		assert_int_equal(discover__list(d, &pids, &nr), 0);
		ASSERT_PIDS(pids, nr, a.pid < b.pid ? a.pid : b.pid, a.pid < b.pid ? b.pid : a.pid);
		assert_non_null(strstr(discover__describe(d), g));
		discover__free(d);
	}

	/* A subgroup alone. */
	d = new_target(DISCOVER_CGROUP, inner);
	assert_int_equal(discover__list(d, &pids, &nr), 0);
	ASSERT_PIDS(pids, nr, b.pid);
	discover__free(d);

	/* poll: what is new since; then a new member, and one that left. */
	d = new_target(DISCOVER_CGROUP, rel);
	assert_int_equal(discover__poll(d, &pids, &nr), 0);
	assert_int_equal(nr, 2);
	assert_int_equal(discover__poll(d, &pids, &nr), 0);
	assert_int_equal(nr, 0);
	late = spawn(NULL, NULL);
	move_to(inner, late.pid);
	assert_int_equal(discover__poll(d, &pids, &nr), 0);
	ASSERT_PIDS(pids, nr, late.pid);
	reap(&a);
	assert_int_equal(discover__poll(d, &pids, &nr), 0);
	assert_int_equal(nr, 0);
	assert_int_equal(discover__list(d, &pids, &nr), 0);
	ASSERT_PIDS(pids, nr, b.pid < late.pid ? b.pid : late.pid,
		    b.pid < late.pid ? late.pid : b.pid);

	/* Alive, moved out and back in: returned once in its life. */
	move_to(mount, late.pid);
	assert_int_equal(discover__list(d, &pids, &nr), 0);
	ASSERT_PIDS(pids, nr, b.pid);
	move_to(deep, late.pid);
	assert_int_equal(discover__poll(d, &pids, &nr), 0);
	assert_int_equal(nr, 0);

	reap(&b);
	reap(&late);
	reap(&z);
	reap(&out);
	/* An empty group, then one that has gone: none, no error. */
	assert_int_equal(discover__list(d, &pids, &nr), 0);
	assert_int_equal(nr, 0);
	remove_group(deep);
	remove_group(inner);
	remove_group(g);
	assert_int_equal(discover__list(d, &pids, &nr), 0);
	assert_int_equal(nr, 0);
	assert_int_equal(discover__poll(d, &pids, &nr), 0);
	assert_int_equal(nr, 0);
	discover__free(d);
	free(rel);
	free(abs_in_tree);
	free(mount);
}

static void assert_refused(enum discover_kind kind, const char *arg, const char *systemd_dir,
			   const char *want)
{
	struct discover_target t = { .kind = kind, .arg = arg, .systemd_dir = systemd_dir };

	memset(err, 'x', sizeof(err));
	errno = 0;
	assert_null(discover__new(&t, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_string_equal(err, want);
}

static void test_cgroup_refused(void **state)
{
	char *mount = mount_or_skip(), *want, *procs;

	assert_true(asprintf(&want,
			     "--cgroup leaktop-no-such-group: no such group (no directory "
			     "%s/leaktop-no-such-group)",
			     mount) > 0);
	assert_refused(DISCOVER_CGROUP, "leaktop-no-such-group", NULL, want);
	free(want);
	assert_true(asprintf(&want,
			     "--cgroup /leaktop-no-such-group: no such group (no directory "
			     "%s/leaktop-no-such-group)",
			     mount) > 0);
	assert_refused(DISCOVER_CGROUP, "/leaktop-no-such-group", NULL, want);
	free(want);
	assert_true(asprintf(&want,
			     "--cgroup /tmp: /tmp is outside the cgroup2 hierarchy (mounted "
			     "at %s)",
			     mount) > 0);
	assert_refused(DISCOVER_CGROUP, "/tmp", NULL, want);
	free(want);
	assert_true(asprintf(&want,
			     "--cgroup ../../../../../../tmp: /tmp is outside the cgroup2 "
			     "hierarchy (mounted at %s)",
			     mount) > 0);
	assert_refused(DISCOVER_CGROUP, "../../../../../../tmp", NULL, want);
	free(want);
	/* A file of the hierarchy is no group. */
	assert_true(asprintf(&procs, "%s/cgroup.procs", mount) > 0);
	assert_true(asprintf(&want, "--cgroup cgroup.procs: %s is not a cgroup2 group", procs) > 0);
	assert_refused(DISCOVER_CGROUP, "cgroup.procs", NULL, want);
	free(want);
	free(procs);
	assert_refused(DISCOVER_CGROUP, "", NULL, "--cgroup : empty path");
	assert_refused(DISCOVER_COMM, "", NULL, "--comm: empty name");
	free(mount);
}

/* Children named for the test; a zombie and this process under the same name are left out. */
static void test_comm_listing(void **state)
{
	char name[16], other[16], saved[16], longer[40];
	struct child a, b, z, plain;
	struct discover *d;
	const pid_t *pids;
	size_t nr;

	snprintf(name, sizeof(name), "ltd-%d", (int)getpid() % 1000000);
	snprintf(other, sizeof(other), "lto-%d", (int)getpid() % 1000000);
	a = spawn(name, other);
	b = spawn(name, other);
	z = spawn(name, other);
	plain = spawn(NULL, name);
	make_zombie(&z);
	assert_int_equal(prctl(PR_GET_NAME, saved), 0);
	assert_int_equal(prctl(PR_SET_NAME, name), 0);

	d = new_target(DISCOVER_COMM, name);
	assert_int_equal(discover__poll(d, &pids, &nr), 0);
	ASSERT_PIDS(pids, nr, a.pid, b.pid);
	assert_int_equal(prctl(PR_SET_NAME, saved), 0);

	/* Renamed away and back while alive: not new. */
	tell(&a, 'r', other);
	assert_int_equal(discover__list(d, &pids, &nr), 0);
	ASSERT_PIDS(pids, nr, b.pid);
	tell(&a, 'b', name);
	assert_int_equal(discover__poll(d, &pids, &nr), 0);
	assert_int_equal(nr, 0);
	assert_int_equal(discover__list(d, &pids, &nr), 0);
	ASSERT_PIDS(pids, nr, a.pid, b.pid);
	/* One that takes the name is new; one that exits is gone. */
	reap(&b);
	tell(&plain, 'r', name);
	assert_int_equal(discover__poll(d, &pids, &nr), 0);
	ASSERT_PIDS(pids, nr, plain.pid);
	assert_int_equal(discover__list(d, &pids, &nr), 0);
	ASSERT_PIDS(pids, nr, a.pid, plain.pid);
	discover__free(d);

	d = new_target(DISCOVER_COMM, other);
	assert_int_equal(discover__poll(d, &pids, &nr), 0);
	assert_int_equal(nr, 0);
	tell(&a, 'r', other);
	assert_int_equal(discover__poll(d, &pids, &nr), 0);
	ASSERT_PIDS(pids, nr, a.pid);
	snprintf(longer, sizeof(longer), "processes named %s", other);
	assert_string_equal(discover__describe(d), longer);
	discover__free(d);
	reap(&a);
	reap(&z);
	reap(&plain);

	/* A name longer than the kernel keeps matches by its first 15 bytes. */
	snprintf(longer, sizeof(longer), "ltl-%06d-and-more", (int)getpid() % 1000000);
	a = spawn(longer, longer);
	d = new_target(DISCOVER_COMM, longer);
	assert_int_equal(discover__list(d, &pids, &nr), 0);
	ASSERT_PIDS(pids, nr, a.pid);
	discover__free(d);
	reap(&a);
}

/* --unit with a stand-in for /run/systemd/system: a group made as a unit's. */
static void test_unit(void **state)
{
	char *mount = mount_or_skip(), *slice_rel, *unit, *slice, *group, *other, *twin, *want;
	char sd[] = "/tmp/leaktop-systemd-XXXXXX";
	struct discover_target t = { .kind = DISCOVER_UNIT };
	struct child c = spawn(NULL, NULL);
	struct discover *d;
	const pid_t *pids;
	size_t nr;

	assert_non_null(mkdtemp(sd));
	assert_true(asprintf(&slice_rel, "leaktop-test-%d.slice", (int)getpid()) > 0);
	assert_true(asprintf(&unit, "leaktop-test-%d", (int)getpid()) > 0);
	slice = make_group(mount, slice_rel);
	assert_true(asprintf(&want, "%s.service", unit) > 0);
	group = make_group(slice, want);
	free(want);
	move_to(group, c.pid);

	t.arg = unit;
	t.systemd_dir = sd;
	d = discover__new(&t, err, sizeof(err));
	if (!d)
		fail_msg("discover__new: %s", err);
	assert_int_equal(discover__list(d, &pids, &nr), 0);
	ASSERT_PIDS(pids, nr, c.pid);
	assert_true(asprintf(&want, "unit %s.service (cgroup %s)", unit, group) > 0);
	assert_string_equal(discover__describe(d), want);
	free(want);
	discover__free(d);

	/* A group of that name deeper down is not it; one as shallow makes the name ambiguous. */
	other = make_group(group, "inner");
	twin = make_group(other, strrchr(group, '/') + 1);
	d = discover__new(&t, err, sizeof(err));
	assert_non_null(d);
	discover__free(d);
	remove_group(twin);
	remove_group(other);
	assert_true(asprintf(&want, "leaktop-test-%d-b.slice", (int)getpid()) > 0);
	twin = make_group(mount, want);
	free(want);
	other = make_group(twin, strrchr(group, '/') + 1);
	assert_null(discover__new(&t, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "two groups have that name"));
	assert_non_null(strstr(err, ": give one with --cgroup"));
	remove_group(other);
	remove_group(twin);

	assert_true(asprintf(&want,
			     "--unit leaktop-no-such-unit.service: no such unit running (no "
			     "group of that name under %s)",
			     mount) > 0);
	assert_refused(DISCOVER_UNIT, "leaktop-no-such-unit", sd, want);
	free(want);
	assert_refused(DISCOVER_UNIT, "system.slice/x.service", sd,
		       "--unit 'system.slice/x.service': not a unit name (a group's path goes with "
		       "--cgroup)");
	assert_refused(
	    DISCOVER_UNIT, "multi-user.target", sd,
	    "--unit multi-user.target: a unit of that type runs no process (give the unit "
	    "it starts)");
	/* No systemd: refused before anything else. */
	assert_int_equal(rmdir(sd), 0);
	assert_true(asprintf(&want,
			     "--unit needs systemd, which is not running here (no %s); give "
			     "the unit's cgroup with --cgroup",
			     sd) > 0);
	assert_refused(DISCOVER_UNIT, unit, sd, want);
	free(want);

	reap(&c);
	remove_group(group);
	remove_group(slice);
	free(slice_rel);
	free(unit);
	free(mount);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mount_lines),
	    cmocka_unit_test(test_parse_stat),
	    cmocka_unit_test(test_parse_own_stat),
	    cmocka_unit_test(test_stat_live),
	    cmocka_unit_test(test_comm_matches),
	    cmocka_unit_test(test_unit_name),
	    cmocka_unit_test(test_parse_procs),
	    cmocka_unit_test_teardown(test_cgroup_listing, cleanup),
	    cmocka_unit_test(test_cgroup_refused),
	    cmocka_unit_test_teardown(test_comm_listing, cleanup),
	    cmocka_unit_test_teardown(test_unit, cleanup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
