/* demo.c: the bundled demo (`make demo`): a service with request churn, a cache and a leak. */
/*
 * Usage: demo [-w] [SECONDS]   (default 12): 50 requests a second, SECONDS*50 requests in all.
 * Figures at exit of `demo S` (outstanding bytes / allocations per allocation-site function):
 *   cache_fill        1048576 / 256       4096 B x256, filled once at start
 *   session_leak      S*4800 / S*50       96 B per request, never freed (the leak: ~4800 B/s)
 *   parse_headers           0 / 0         512 B per request, freed at the end of the request
 *   build_response          0 / 0         2048 + (request % 7) * 100 B per request, freed
 */
#include <stdlib.h>
#include <time.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

struct session {
	struct session *next;
	char id[32];
	char peer[56];
};

static void *cache[256];
static struct session *sessions;

NOINLINE static void cache_fill(void)
{
	for (int i = 0; i < 256; i++) {
		cache[i] = malloc(4096); /* SITE:cache_fill */
		wl_touch(cache[i], 4096);
	}
}

NOINLINE static void session_leak(const char *headers, int request)
{
	struct session *s = malloc(sizeof(*s)); /* SITE:session_leak */

	snprintf(s->id, sizeof(s->id), "session-%d", request);
	snprintf(s->peer, sizeof(s->peer), "%.40s", headers);
	s->next = sessions; /* remembered forever: nobody ever expires a session */
	sessions = s;
}

NOINLINE static char *parse_headers(int request)
{
	char *h = malloc(512); /* SITE:parse_headers */

	snprintf(h, 512, "GET /item/%d HTTP/1.1\r\nHost: demo\r\n", request);
	return h;
}

NOINLINE static char *build_response(int request)
{
	size_t n = 2048 + (size_t)(request % 7) * 100;
	char *r = malloc(n); /* SITE:build_response */

	wl_touch(r, n);
	return r;
}

NOINLINE static void handle_request(int request)
{
	char *headers = parse_headers(request);
	char *response = build_response(request);

	session_leak(headers, request);
	free(response);
	free(headers);
}

int main(int argc, char **argv)
{
	struct timespec tick = {0, 20 * 1000 * 1000};
	int seconds = 12;

	_Static_assert(sizeof(struct session) == 96, "session size is part of the demo's figures");
	argc = wl_init(argc, argv);
	if (argc > 1)
		seconds = atoi(argv[1]);
	wl_ready();
	cache_fill();
	for (int i = 0; i < seconds * 50; i++) {
		handle_request(i);
		nanosleep(&tick, NULL);
	}
	wl_done();
	wl_bye();
	return 0;
}
