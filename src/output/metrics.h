/* metrics.h: Prometheus text exposition of a report, and the HTTP server that serves it at /metrics. */
#ifndef LT_METRICS_H
#define LT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "output/output.h"

/* Most stacks per process exposed with their own series: bounds the label cardinality. */
#define METRICS_DEFAULT_TOP_SITES 10

/* One traced process, as the metrics label it. */
struct metrics_process {
	int pid;
	const char *comm;	/* command name; may be NULL */
	size_t leak_suspects;	/* its stacks marked as leak suspects (report_stack.trend) */
};

/* What leaktop itself costs: leaktop_cpu_seconds_total, leaktop_resident_memory_bytes and
 * leaktop_bpf_map_bytes. */
struct metrics_self {
	uint64_t cpu_ns;
	uint64_t rss_bytes;
	uint64_t bpf_map_bytes;	/* kernel memory of the BPF maps it holds */
};

/*
 * Formats r as Prometheus text exposition (version 0.0.4): per process, outstanding bytes and
 * blocks, allocations and frees in total, and its leak suspects; per process top_sites
 * allocation sites, the suspects first, then the others by outstanding bytes (stacks with the
 * same site summed; the site label is "function (module)"), with their bytes, blocks, growth over
 * the report's window (the stacks' growths summed; no series while unknown) and whether one of
 * their stacks is a suspect; the window; every loss counter; leaktop's own CPU time, RSS and
 * BPF map memory. Pure. Returns a malloc'ed string, or NULL and errno (ENOMEM).
 */
char *metrics_format(const struct report *r, const struct metrics_process *procs, size_t nr_procs,
		     const struct metrics_self *self, size_t top_sites);

struct metrics_server;

/*
 * Serves GET /metrics on listen, "HOST:PORT" (an IPv4 address, or [IPv6]; HOST defaults to
 * 127.0.0.1 when only ":PORT" or "PORT" is given), from a thread of its own. NULL and errno:
 * EINVAL for a listen address that does not parse (message in err), EADDRINUSE and the like from
 * binding.
 */
struct metrics_server *metrics_server__start(const char *listen, char *err, size_t err_len);

/* Replaces the text served from now on; takes ownership of text (malloc'ed). */
void metrics_server__publish(struct metrics_server *m, char *text);

/* Stops serving and frees everything. NULL-safe. */
void metrics_server__stop(struct metrics_server *m);

#endif
