/* reach.c: blocks of each reachability class, for leaktop --reachability against memcheck. Each
 * class is allocated by a function of its own, so that each is a stack of its own:
 *   list_node_new      10 x 48 B, a list whose head is dropped: lost (1 definitely, 9 indirectly)
 *   cache_table_new    1 x 64 B, held by a global: reachable
 *   cache_entry_new    8 x 80 B, held by the table: reachable
 *   interior_new       3 x 96 B, held by globals through pointers 40 bytes in: possibly lost
 *   thread_block_new   5 x 112 B, held only by another thread's stack: reachable
 *   tail_new           2 x 40 B, dropped, the last of the main thread's: lost, though glibc's
 *                      pointer to the top chunk lies in the last one's last 8 bytes
 * The other sizes are multiples of 16: no block's tail holds the allocator's next header.
 * The thread waits in pause() until the process exits. With MIB, also big_new: one block of MIB
 * MiB, written through, held by a global (memory to scan); with N, small_new: N blocks of 32 B,
 * held by a table the global `small` points to (blocks to scan). Usage: reach [-w] [MIB [N]]
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wl.h"

struct node {
	struct node *next;
	char payload[40];
};

void **cache_table;
char *big;
void **small;
char *interior[3];
static int ready_pipe[2];

__attribute__((noinline)) static struct node *list_node_new(struct node *next)
{
	struct node *n = malloc(sizeof(*n));

	memset(n, 0, sizeof(*n));
	n->next = next;
	return n;
}

__attribute__((noinline)) static void build_list(void)
{
	struct node *head = NULL;

	for (int i = 0; i < 10; i++)
		head = list_node_new(head);
	head = NULL; /* dropped */
}

__attribute__((noinline)) static void **cache_table_new(void)
{
	return calloc(8, sizeof(void *));
}

__attribute__((noinline)) static void *cache_entry_new(void)
{
	void *p = malloc(80);

	memset(p, 0, 80);
	return p;
}

__attribute__((noinline)) static char *interior_new(void)
{
	char *p = malloc(96);

	memset(p, 0, 96);
	return p;
}

__attribute__((noinline)) static void *thread_block_new(void)
{
	void *p = malloc(112);

	memset(p, 0, 112);
	return p;
}

__attribute__((noinline)) static char *big_new(size_t n)
{
	char *p = malloc(n);

	for (size_t i = 0; i < n; i += 64)
		p[i] = (char)i;
	return p;
}

__attribute__((noinline)) static void *small_new(void)
{
	void *p = malloc(32);

	memset(p, 0, 32);
	return p;
}

__attribute__((noinline)) static void tail_new(void)
{
	for (int i = 0; i < 2; i++)
		memset(malloc(40), 0, 40);
}

static void *holder(void *arg)
{
	void *mine[5];
	char c = 1;

	(void)arg;
	for (int i = 0; i < 5; i++)
		mine[i] = thread_block_new();
	if (write(ready_pipe[1], &c, 1) != 1)
		return NULL;
	for (;;)
		pause();
	return mine[0];
}

/* Clears the dead frames below main's, so that no stale copy of a pointer stays in them. */
__attribute__((noinline)) static void scrub(void)
{
	volatile char buf[32768];

	memset((char *)buf, 0, sizeof(buf));
}

int main(int argc, char **argv)
{
	pthread_t t;
	char c;

	argc = wl_init(argc, argv);
	if (pipe(ready_pipe))
		return 1;
	wl_ready();
	build_list();
	cache_table = cache_table_new();
	for (int i = 0; i < 8; i++)
		cache_table[i] = cache_entry_new();
	for (int i = 0; i < 3; i++)
		interior[i] = interior_new() + 40;
	if (argc > 1)
		big = big_new((size_t)atol(argv[1]) << 20);
	if (argc > 2) {
		long n = atol(argv[2]);

		small = malloc((size_t)n * sizeof(*small));
		for (long i = 0; i < n; i++)
			small[i] = small_new();
	}
	if (pthread_create(&t, NULL, holder, NULL) || read(ready_pipe[0], &c, 1) != 1)
		return 1;
	tail_new();
	scrub();
	wl_done();
	wl_bye();
	scrub();
	return 0;
}
