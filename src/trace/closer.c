/* closer.c: detaches probes off the event loop, on threads of its own. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "base/array.h"
#include "trace/closer.h"

/* Threads that close what is left at the end: their grace periods overlap. */
#define CLOSER_FINAL_THREADS 4

struct closing {
	struct bpf_link *link;
	int fd;
};

struct closer {
	pthread_mutex_t lock;
	pthread_cond_t work;   /* queued, or stopping */
	struct closing *queue; /* a ring would save the moves; the queue is short */
	size_t nr, cap;
	unsigned int busy; /* taken off the queue, being closed */
	bool stopping;
	pthread_t threads[CLOSER_FINAL_THREADS];
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
		while (!c->nr && !c->stopping)
			pthread_cond_wait(&c->work, &c->lock);
		if (!c->nr)
			break;
		w = c->queue[0];
		c->nr--;
		for (size_t i = 0; i < c->nr; i++)
			c->queue[i] = c->queue[i + 1];
		c->busy++;
		pthread_mutex_unlock(&c->lock);
		close_one(&w);
		pthread_mutex_lock(&c->lock);
		c->busy--;
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Starts one more thread; with the lock held. Whether one runs. */
static bool start_thread(struct closer *c)
{
	if (c->nr_threads < CLOSER_FINAL_THREADS &&
	    !pthread_create(&c->threads[c->nr_threads], NULL, worker, c))
		c->nr_threads++;
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
	if ((c->nr_threads || start_thread(c)) &&
	    !array_reserve(&c->queue, &c->cap, c->nr, sizeof(*c->queue), 16)) {
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
	while (c->nr > c->nr_threads && c->nr_threads < CLOSER_FINAL_THREADS) {
		unsigned int before = c->nr_threads;

		start_thread(c);
		if (c->nr_threads == before)
			break;
	}
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
