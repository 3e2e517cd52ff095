/* threads.c: four threads leak at four distinct sites, concurrently, each also churning. */
/*
 * Figures at exit (outstanding bytes / outstanding allocations per allocation-site function):
 *   thread_leak_1    3333 / 3    malloc(1111) x3
 *   thread_leak_2   11110 / 5    malloc(2222) x5
 *   thread_leak_3   23331 / 7    malloc(3333) x7
 *   thread_leak_4   39996 / 9    malloc(4444) x9
 *   thread_churn        0 / 0    malloc(64 + thread) then free, 5000 times per thread
 * The threads start together (a barrier): their probes fire concurrently where there are CPUs.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

static pthread_barrier_t start_line;
static void *held[4][16];

NOINLINE static void thread_leak_1(void **out)
{
	for (int i = 0; i < 3; i++)
		out[i] = malloc(1111); /* SITE:thread_leak_1 */
}

NOINLINE static void thread_leak_2(void **out)
{
	for (int i = 0; i < 5; i++)
		out[i] = malloc(2222); /* SITE:thread_leak_2 */
}

NOINLINE static void thread_leak_3(void **out)
{
	for (int i = 0; i < 7; i++)
		out[i] = malloc(3333); /* SITE:thread_leak_3 */
}

NOINLINE static void thread_leak_4(void **out)
{
	for (int i = 0; i < 9; i++)
		out[i] = malloc(4444); /* SITE:thread_leak_4 */
}

NOINLINE static void thread_churn(int id)
{
	for (int i = 0; i < 5000; i++) {
		void *p = malloc(64 + (size_t)id); /* SITE:thread_churn */

		wl_touch(p, 8);
		free(p);
	}
}

static void *thread_main(void *arg)
{
	int id = (int)(intptr_t)arg;

	pthread_barrier_wait(&start_line);
	thread_churn(id);
	switch (id) {
	case 1:
		thread_leak_1(held[0]);
		break;
	case 2:
		thread_leak_2(held[1]);
		break;
	case 3:
		thread_leak_3(held[2]);
		break;
	case 4:
		thread_leak_4(held[3]);
		break;
	}
	thread_churn(id);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t tid[4];

	wl_init(argc, argv);
	wl_ready();
	pthread_barrier_init(&start_line, NULL, 4);
	for (int i = 0; i < 4; i++)
		if (pthread_create(&tid[i], NULL, thread_main, (void *)(intptr_t)(i + 1)) != 0)
			return 1;
	for (int i = 0; i < 4; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&start_line);
	wl_done();
	wl_bye();
	return 0;
}
