/* test_closer.c: the closer closes what it is given, off the caller's thread, all of it by free. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include "trace/closer.h"

#define NR_PIPES 200

static bool is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}

/* Every write end given is closed once closer__free returns: each read end sees its EOF. */
static void test_free_closes_everything(void **state)
{
	int rd[NR_PIPES], wr[NR_PIPES], p[2];
	struct closer *c = closer__new();
	char byte;

	assert_non_null(c);
	for (int i = 0; i < NR_PIPES; i++) {
		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
		rd[i] = p[0];
		wr[i] = p[1];
	}
	for (int i = 0; i < NR_PIPES; i++)
		closer__add(c, NULL, wr[i]);
	closer__free(c);
	for (int i = 0; i < NR_PIPES; i++) {
		assert_int_equal(read(rd[i], &byte, 1), 0);
		close(rd[i]);
	}
}

/* A descriptor given is closed without any further call: the closer's thread does it. */
static void test_closes_in_the_background(void **state)
{
	struct closer *c = closer__new();
	struct pollfd pfd = {.events = POLLIN};
	int p[2];

	assert_non_null(c);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pfd.fd = p[0];
	closer__add(c, NULL, p[1]);
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	assert_true(pfd.revents & POLLHUP);
	for (int i = 0; i < 1000 && closer__pending(c); i++)
		usleep(1000);
	assert_int_equal(closer__pending(c), 0);
	assert_false(is_open(p[1]));
	close(p[0]);
	closer__free(c);
}

/* Nothing given: free has nothing to wait for; -1 alone is nothing to close. */
static void test_nothing(void **state)
{
	struct closer *c = closer__new();

	assert_non_null(c);
	closer__add(c, NULL, -1);
	closer__free(c);
	closer__free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_free_closes_everything),
	    cmocka_unit_test(test_closes_in_the_background),
	    cmocka_unit_test(test_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
