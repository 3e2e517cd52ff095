/* reach_churn.c: a thread that frees and allocates without pause, every live block held by a
 * global ring (reachable at every instant, from the ring, a register or the stack), for scans
 * of a busy process: none of its blocks may come out lost.
 *   churn_block    256 x 16..1039 B live at any time, in a global ring, churned until exit
 * Usage: reach_churn [-w]
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "wl.h"

#define RING 256

void *ring[RING];

__attribute__((noinline)) static void *churn_block(size_t n)
{
	void *p = malloc(n);

	memset(p, 0, n);
	return p;
}

static void *churn(void *arg)
{
	(void)arg;
	for (unsigned long i = 0;; i++) {
		free(ring[i % RING]);
		ring[i % RING] = churn_block(16 + (i * 7919) % 1024);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;

	wl_init(argc, argv);
	wl_ready();
	if (pthread_create(&t, NULL, churn, NULL))
		return 1;
	wl_done();
	wl_bye();
	return 0;
}
