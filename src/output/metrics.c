/* metrics.c: Prometheus text exposition of a report, and the HTTP server that serves it at /metrics. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "output/metrics.h"

/* Label values may hold anything a symbol or command name holds: escape what the format asks. */
static void put_label(FILE *out, const char *name, const char *value)
{
	fprintf(out, "%s=\"", name);
	for (const char *p = value ? value : ""; *p; p++) {
		if (*p == '\\' || *p == '"')
			fputc('\\', out);
		if (*p == '\n')
			fputs("\\n", out);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void put_proc_labels(FILE *out, const struct metrics_process *p)
{
	fprintf(out, "{pid=\"%d\",", p->pid);
	put_label(out, "comm", p->comm);
}

static void header(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

struct site {
	int pid;
	uint32_t kind;		/* enum lt_track_kind */
	char *label;
	int64_t bytes, blocks;
	double growth;		/* bytes per second over the window; NAN while unknown */
	bool suspect;
};

/* "function (module)", or "module+0xoffset (module)" without a symbol. */
static char *site_label(const struct report_stack *rs)
{
	const struct sym_frame *f = rs->nr_frames ? &rs->frames[0] : NULL;
	const char *mod = f && f->module ? output_basename(f->module) : "?";
	char *s = NULL;
	int n;

	if (!f)
		n = asprintf(&s, "[unknown stack]");
	else if (f->function)
		n = asprintf(&s, "%s (%s)", f->function, mod);
	else
		n = asprintf(&s, "%s+0x%" PRIx64 " (%s)", mod, f->module_offset, mod);
	return n < 0 ? NULL : s;
}

static int cmp_sites(const void *a_, const void *b_)
{
	const struct site *a = a_, *b = b_;

	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	if (a->suspect != b->suspect)
		return a->suspect ? -1 : 1;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	return strcmp(a->label, b->label);
}

/* Sites of the report's stacks, summed per (pid, label), sorted by pid, suspects first, bytes. */
static struct site *collect_sites(const struct report *r, size_t *nr)
{
	struct site *sites = calloc(r->nr_stacks + 1, sizeof(*sites));
	size_t n = 0;

	if (!sites)
		return NULL;
	for (size_t i = 0; i < r->nr_stacks; i++) {
		const struct report_stack *rs = &r->stacks[i];
		char *label = site_label(rs);
		size_t j;

		if (!label)
			goto fail;
		for (j = 0; j < n; j++)
			if (sites[j].pid == rs->rec->pid && sites[j].kind == rs->rec->kind &&
			    !strcmp(sites[j].label, label))
				break;
		if (j == n) {
			sites[n].pid = rs->rec->pid;
			sites[n].kind = rs->rec->kind;
			sites[n].growth = NAN;
			sites[n++].label = label;
		} else {
			free(label);
		}
		sites[j].bytes += rs->rec->outstanding_bytes;
		sites[j].blocks += rs->rec->outstanding_allocs;
		if (isfinite(rs->trend.growth_bytes_per_s))
			sites[j].growth = (isfinite(sites[j].growth) ? sites[j].growth : 0) +
					  rs->trend.growth_bytes_per_s;
		sites[j].suspect |= rs->trend.suspect;
	}
	qsort(sites, n, sizeof(*sites), cmp_sites);
	*nr = n;
	return sites;
fail:
	for (size_t j = 0; j < n; j++)
		free(sites[j].label);
	free(sites);
	return NULL;
}

/* Outstanding bytes and blocks, allocations and frees of each process, summed over its stacks. */
static void write_processes(FILE *out, const struct snapshot *snap,
			    const struct metrics_process *procs, size_t nr_procs)
{
	static const struct {
		const char *name, *type, *help;
	} per_proc[] = {
		{ "leaktop_outstanding_bytes", "gauge",
		  "Bytes allocated since attach and not freed (an estimate when sampling)." },
		{ "leaktop_outstanding_blocks", "gauge",
		  "Blocks allocated since attach and not freed (an estimate when sampling)." },
		{ "leaktop_allocations_total", "counter", "Allocations recorded since attach." },
		{ "leaktop_frees_total", "counter", "Frees of recorded allocations since attach." },
	};

	for (size_t m = 0; m < sizeof(per_proc) / sizeof(per_proc[0]); m++) {
		header(out, per_proc[m].name, per_proc[m].type, per_proc[m].help);
		for (size_t p = 0; p < nr_procs; p++) {
			int64_t v[4] = { 0 };

			for (size_t i = 0; snap && i < snap->nr_stacks; i++) {
				const struct stack_record *s = &snap->stacks[i];

				if (s->pid != procs[p].pid)
					continue;
				v[0] += s->outstanding_bytes;
				v[1] += s->outstanding_allocs;
				v[2] += s->allocs;
				/* Every recorded block leaves the outstanding count when freed. */
				v[3] += (int64_t)s->allocs - s->outstanding_allocs;
			}
			fputs(per_proc[m].name, out);
			put_proc_labels(out, &procs[p]);
			fprintf(out, "} %" PRId64 "\n", v[m]);
		}
	}
	header(out, "leaktop_leak_suspects", "gauge",
	       "Stacks of the process whose bytes grew steadily over the window (LEAK? in "
	       "reports).");
	for (size_t p = 0; p < nr_procs; p++) {
		fputs("leaktop_leak_suspects", out);
		put_proc_labels(out, &procs[p]);
		fprintf(out, "} %zu\n", procs[p].leak_suspects);
	}
}

/* The series of a site, one pass each over the sites shown. */
enum site_series { SITE_BYTES, SITE_BLOCKS, SITE_GROWTH, SITE_SUSPECT, SITE_SERIES };

static const struct {
	const char *name, *help;
} site_series[SITE_SERIES] = {
	[SITE_BYTES] = { "leaktop_site_outstanding_bytes",
			 "Outstanding bytes of the largest allocation sites of each process (its "
			 "leak suspects first)." },
	[SITE_BLOCKS] = { "leaktop_site_outstanding_blocks",
			  "Outstanding blocks of the largest allocation sites of each process (its "
			  "leak suspects first)." },
	[SITE_GROWTH] = { "leaktop_site_growth_bytes_per_second",
			  "Change of a site's outstanding bytes per second over the window "
			  "(leaktop_growth_window_seconds); absent while the run is too short." },
	[SITE_SUSPECT] = { "leaktop_site_leak_suspect",
			   "1 when a stack of the site grew steadily over the window (LEAK? in "
			   "reports), else 0." },
};

/* A site's value of one series; false when it has none (growth unknown). */
static bool site_value(const struct site *s, enum site_series k, char *buf, size_t len)
{
	switch (k) {
	case SITE_BYTES:
		snprintf(buf, len, "%" PRId64, s->bytes);
		return true;
	case SITE_BLOCKS:
		snprintf(buf, len, "%" PRId64, s->blocks);
		return true;
	case SITE_GROWTH:
		snprintf(buf, len, "%.3f", s->growth);
		return isfinite(s->growth);
	default:
		snprintf(buf, len, "%d", s->suspect);
		return true;
	}
}

/* The top_sites sites of each process shown, suspects first (cmp_sites' order). */
static void write_sites(FILE *out, const struct site *sites, size_t nr_sites,
			const struct metrics_process *procs, size_t nr_procs, size_t top_sites)
{
	char value[64];

	for (int k = 0; k < SITE_SERIES; k++) {
		header(out, site_series[k].name, "gauge", site_series[k].help);
		for (size_t p = 0; p < nr_procs; p++) {
			size_t shown = 0;

			for (size_t i = 0; i < nr_sites && shown < top_sites; i++) {
				if (sites[i].pid != procs[p].pid || sites[i].bytes <= 0)
					continue;
				shown++;
				if (!site_value(&sites[i], k, value, sizeof(value)))
					continue;
				fputs(site_series[k].name, out);
				put_proc_labels(out, &procs[p]);
				fputc(',', out);
				put_label(out, "site", sites[i].label);
				fputc(',', out);
				put_label(out, "kind", snapshot_kind_name(sites[i].kind));
				fprintf(out, "} %s\n", value);
			}
		}
	}
}

/* The counters other than allocs and frees: the losses, or the rest. */
static void put_stats(FILE *out, const struct snapshot *snap, const char *metric, bool losses)
{
	for (int s = 0; s < LT_STAT_MAX; s++) {
		if (s == LT_STAT_ALLOCS || s == LT_STAT_FREES ||
		    !snapshot_stat_loss((enum lt_stat)s) != !losses)
			continue;
		fprintf(out, "%s{", metric);
		put_label(out, "kind", snapshot_stat_name((enum lt_stat)s));
		fprintf(out, "} %" PRIu64 "\n", snap ? snap->stats[s] : 0);
	}
}

/* The loss counters, the sample rate, and what leaktop itself costs. */
static void write_globals(FILE *out, const struct report *r, const struct metrics_self *self)
{
	const struct snapshot *snap = r->snap;

	header(out, "leaktop_losses_total", "counter",
	       "Events leaktop could not account for, by kind (see the README).");
	put_stats(out, snap, "leaktop_losses_total", true);
	header(out, "leaktop_events_total", "counter",
	       "Events that lose nothing, by kind: frees of blocks allocated before attach, "
	       "by the allocator itself or of a parent's copy, calls left by an exception, "
	       "blocks of exited processes released (see the README).");
	put_stats(out, snap, "leaktop_events_total", false);
	header(out, "leaktop_growth_window_seconds", "gauge",
	       "The window of the growth and suspect series: the run so far, read every refresh "
	       "interval.");
	fprintf(out, "leaktop_growth_window_seconds %.3f\n", r->nr_readings ? r->window_s : 0.0);
	header(out, "leaktop_sample_rate_bytes", "gauge",
	       "Mean bytes between sampled allocations; 0 when every allocation is recorded.");
	fprintf(out, "leaktop_sample_rate_bytes %" PRIu64 "\n", r->sample_rate_bytes);
	header(out, "leaktop_suppressed_stacks", "gauge",
	       "Stacks holding memory that suppressions leave out of every other series.");
	fprintf(out, "leaktop_suppressed_stacks %" PRIu64 "\n", snap ? snap->suppressed.stacks : 0);
	header(out, "leaktop_suppressed_bytes", "gauge", "Outstanding bytes of those stacks.");
	fprintf(out, "leaktop_suppressed_bytes %" PRId64 "\n", snap ? snap->suppressed.bytes : 0);
	header(out, "leaktop_cpu_seconds_total", "counter", "CPU time leaktop itself has used.");
	fprintf(out, "leaktop_cpu_seconds_total %.6f\n", self ? self->cpu_ns / 1e9 : 0.0);
	header(out, "leaktop_resident_memory_bytes", "gauge", "leaktop's own resident memory.");
	fprintf(out, "leaktop_resident_memory_bytes %" PRIu64 "\n", self ? self->rss_bytes : 0);
}

char *metrics_format(const struct report *r, const struct metrics_process *procs, size_t nr_procs,
		     const struct metrics_self *self, size_t top_sites)
{
	struct site *sites;
	size_t nr_sites = 0;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	sites = collect_sites(r, &nr_sites);
	if (!sites)
		return NULL;
	out = open_memstream(&text, &len);
	if (out) {
		write_processes(out, r->snap, procs, nr_procs);
		write_sites(out, sites, nr_sites, procs, nr_procs, top_sites);
		write_globals(out, r, self);
		if (fclose(out)) {
			free(text);
			text = NULL;
			errno = ENOMEM;
		}
	}
	for (size_t i = 0; i < nr_sites; i++)
		free(sites[i].label);
	free(sites);
	return text;
}

struct metrics_server {
	struct MHD_Daemon *daemon;
	int listen_fd;
	pthread_mutex_t lock;
	char *text;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, char *body,
			     const char *type)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", type);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **req_cls)
{
	struct metrics_server *m = cls;
	char *body;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, strdup("GET only\n"), "text/plain");
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, strdup("leaktop serves /metrics\n"),
			     "text/plain");
	pthread_mutex_lock(&m->lock);
	body = strdup(m->text ? m->text : "");
	pthread_mutex_unlock(&m->lock);
	if (!body)
		return MHD_NO;
	return reply(conn, MHD_HTTP_OK, body, "text/plain; version=0.0.4; charset=utf-8");
}

static int parse_listen(const char *addr, struct sockaddr_storage *ss, socklen_t *len,
			char *err, size_t err_len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	const char *port_s = addr, *colon = strrchr(addr, ':');
	char host[64] = "127.0.0.1";
	char *end;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (!close || close[1] != ':' || (size_t)(close - addr - 1) >= sizeof(host))
			goto bad;
		memcpy(host, addr + 1, close - addr - 1);
		host[close - addr - 1] = '\0';
		port_s = close + 2;
	} else if (colon) {
		if ((size_t)(colon - addr) >= sizeof(host))
			goto bad;
		if (colon > addr) {
			memcpy(host, addr, colon - addr);
			host[colon - addr] = '\0';
		}
		port_s = colon + 1;
	}
	errno = 0;
	port = strtol(port_s, &end, 10);
	if (errno || end == port_s || *end || port < 1 || port > 65535)
		goto bad;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
bad:
	snprintf(err, err_len, "--metrics: '%s' is not ADDRESS:PORT (e.g. 127.0.0.1:9464)", addr);
	return -EINVAL;
}

struct metrics_server *metrics_server__start(const char *addr, char *err, size_t err_len)
{
	struct metrics_server *m;
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, e;

	e = parse_listen(addr, &ss, &len, err, err_len);
	if (e) {
		errno = -e;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	/* Our own socket, so that a failure to bind says why. */
	m->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (m->listen_fd < 0 ||
	    setsockopt(m->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(m->listen_fd, (struct sockaddr *)&ss, len) || listen(m->listen_fd, 64)) {
		e = errno;
		snprintf(err, err_len, "--metrics: cannot listen on %s: %s", addr, strerror(e));
		goto fail;
	}
	m->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
				     NULL, handle, m, MHD_OPTION_LISTEN_SOCKET, m->listen_fd,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)32,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10, MHD_OPTION_END);
	if (!m->daemon) {
		e = errno ? errno : EIO;
		snprintf(err, err_len, "--metrics: cannot start the HTTP server on %s", addr);
		goto fail;
	}
	return m;
fail:
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	pthread_mutex_destroy(&m->lock);
	free(m);
	errno = e;
	return NULL;
}

void metrics_server__publish(struct metrics_server *m, char *text)
{
	char *old;

	pthread_mutex_lock(&m->lock);
	old = m->text;
	m->text = text;
	pthread_mutex_unlock(&m->lock);
	free(old);
}

void metrics_server__stop(struct metrics_server *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->daemon);
	close(m->listen_fd);
	pthread_mutex_destroy(&m->lock);
	free(m->text);
	free(m);
}
