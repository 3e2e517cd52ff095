/* closer.c: detaches probes off the event loop, on threads of its own. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "base/array.h"
#include "trace/closer.h"

/*
 * Most threads: one starts whenever a link is queued and none is idle. Each close waits for grace
 * periods that closes made at the same time share, so the threads close many links in the time
 * of one: 138 exited processes' links took 7 s to close at the end with 4 threads, 2.5 s with
 * 16, 1.6 s with 64 (the whole exit of leaktop, measured with a fork loop's tree).
 */
#define CLOSER_MAX_THREADS 64
/* A closing thread's stack: it only calls close(). */
#define CLOSER_STACK_BYTES (256 * 1024)

struct closing {
	struct bpf_link *link;
	int fd;
};

struct closer {
	pthread_mutex_t lock;
	pthread_cond_t work;   /* queued, or stopping */
	struct closing *queue; /* taken from the end: the order of closes does not matter */
	size_t nr, cap;
	unsigned int busy; /* taken off the queue, being closed */
	unsigned int idle; /* threads waiting for work */
	bool stopping;
	pthread_t threads[CLOSER_MAX_THREADS];
	unsigned int nr_threads;
};

static void close_one(const struct closing *w)
{
	if (w->link)
		bpf_link__destroy(w->link);
	if (w->fd >= 0)
		close(w->fd);
}

static void *worker(void *arg)
{
	struct closer *c = arg;
	struct closing w;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->nr && !c->stopping) {
			c->idle++;
			pthread_cond_wait(&c->work, &c->lock);
			c->idle--;
		}
		if (!c->nr)
			break;
		w = c->queue[--c->nr];
		c->busy++;
		pthread_mutex_unlock(&c->lock);
		close_one(&w);
		pthread_mutex_lock(&c->lock);
		c->busy--;
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* One more thread when none is idle; with the lock held. Whether any thread runs. */
static bool enough_threads(struct closer *c)
{
	pthread_attr_t attr;

	if (c->idle || c->nr_threads >= CLOSER_MAX_THREADS || pthread_attr_init(&attr))
		return c->nr_threads > 0;
	pthread_attr_setstacksize(&attr, CLOSER_STACK_BYTES);
	if (!pthread_create(&c->threads[c->nr_threads], &attr, worker, c))
		c->nr_threads++;
	pthread_attr_destroy(&attr);
	return c->nr_threads > 0;
}

struct closer *closer__new(void)
{
	struct closer *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->work, NULL);
	return c;
}

void closer__add(struct closer *c, struct bpf_link *link, int fd)
{
	struct closing w = {.link = link, .fd = fd};

	pthread_mutex_lock(&c->lock);
	if (enough_threads(c) && !array_reserve(&c->queue, &c->cap, c->nr, sizeof(*c->queue), 16)) {
		c->queue[c->nr++] = w;
		pthread_cond_signal(&c->work);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	pthread_mutex_unlock(&c->lock);
	close_one(&w);
}

unsigned int closer__pending(struct closer *c)
{
	unsigned int n;

	pthread_mutex_lock(&c->lock);
	n = (unsigned int)c->nr + c->busy;
	pthread_mutex_unlock(&c->lock);
	return n;
}

void closer__free(struct closer *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_broadcast(&c->work);
	pthread_mutex_unlock(&c->lock);
	for (unsigned int i = 0; i < c->nr_threads; i++)
		pthread_join(c->threads[i], NULL);
	pthread_cond_destroy(&c->work);
	pthread_mutex_destroy(&c->lock);
	free(c->queue);
	free(c);
}
