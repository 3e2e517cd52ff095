/* procinfo.c: what /proc says of a process: command name, resident memory, CPU time, BPF maps. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc/procinfo.h"

/* Opens /proc/PID/name (pid 0: /proc/self/name). NULL and errno; ENOENT becomes ESRCH. */
static FILE *open_proc(int pid, const char *name)
{
	char *path = NULL;
	FILE *f;
	int n;

	if (pid)
		n = asprintf(&path, "/proc/%d/%s", pid, name);
	else
		n = asprintf(&path, "/proc/self/%s", name);
	if (n < 0) {
		errno = ENOMEM;
		return NULL;
	}
	f = fopen(path, "re");
	if (!f && errno == ENOENT)
		errno = ESRCH;
	free(path);
	return f;
}

char *procinfo_comm(int pid)
{
	FILE *f = open_proc(pid, "comm");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int err;

	if (!f)
		return NULL;
	n = getline(&line, &cap, f);
	err = n < 0 ? (ferror(f) ? errno : ESRCH) : 0;
	fclose(f);
	if (err) {
		free(line);
		errno = err;
		return NULL;
	}
	if (n > 0 && line[n - 1] == '\n')
		line[n - 1] = '\0';
	return line;
}

int procinfo_mem(int pid, struct proc_mem *out)
{
	FILE *f = open_proc(pid, "status");
	unsigned long long kib;
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (!f)
		return -errno;
	memset(out, 0, sizeof(*out));
	while (getline(&line, &cap, f) > 0) {
		if (sscanf(line, "VmRSS: %llu kB", &kib) == 1) {
			out->rss_bytes = kib * 1024;
			found |= 1;
		} else if (sscanf(line, "RssAnon: %llu kB", &kib) == 1) {
			out->anon_bytes = kib * 1024;
			found |= 2;
		}
	}
	free(line);
	fclose(f);
	return found == 3 ? 0 : -ENODATA;
}

bool procinfo_alive(int pid)
{
	FILE *f = open_proc(pid, "stat");
	char *line = NULL, *close_paren;
	size_t cap = 0;
	bool alive = false;

	if (!f)
		return false;
	/* "PID (COMM) S ...": the name may hold spaces and parentheses; the state follows the last ')'. */
	if (getline(&line, &cap, f) > 0 && (close_paren = strrchr(line, ')')) &&
	    close_paren[1] == ' ')
		alive = close_paren[2] != 'Z' && close_paren[2] != 'X';
	free(line);
	fclose(f);
	return alive;
}

int procinfo_nspid(int pid)
{
	FILE *f = open_proc(pid, "status");
	char *line = NULL, *last;
	size_t cap = 0;
	int nspid = 0;

	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, "NSpid:", 6))
			continue;
		last = strrchr(line, '\t');
		nspid = last ? atoi(last + 1) : 0;
		break;
	}
	free(line);
	fclose(f);
	return nspid;
}

uint64_t procinfo_self_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t procinfo_cpu_ns(int pid)
{
	struct timespec ts;
	clockid_t clk;

	if (clock_getcpuclockid(pid, &clk) || clock_gettime(clk, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The id and memlock of the BPF map behind /proc/DIR/fdinfo/NAME; false when it is no map. */
static bool map_fdinfo(const char *dir, const char *name, uint32_t *id, uint64_t *memlock)
{
	char path[96], line[128];
	int found = 0;
	FILE *f;

	if (snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", dir, name) >= (int)sizeof(path))
		return false;
	f = fopen(path, "re");
	if (!f)
		return false;
	while (found != 3 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "map_id: %" SCNu32, id) == 1)
			found |= 1;
		else if (sscanf(line, "memlock: %" SCNu64, memlock) == 1)
			found |= 2;
	}
	fclose(f);
	return found == 3;
}

uint64_t procinfo_bpf_map_bytes(int pid)
{
	char dir[32], path[96], link[32];
	uint32_t *ids = NULL, id, *grown;
	size_t n = 0, cap = 0, i;
	uint64_t total = 0, memlock;
	struct dirent *e;
	ssize_t len;
	DIR *d;

	if (pid)
		snprintf(dir, sizeof(dir), "%d", pid);
	else
		snprintf(dir, sizeof(dir), "self");
	snprintf(path, sizeof(path), "/proc/%s/fd", dir);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' ||
		    snprintf(path, sizeof(path), "/proc/%s/fd/%s", dir, e->d_name) >= (int)sizeof(path))
			continue;
		/* The link names the kind of fd: one readlink spares the fdinfo of the others. */
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (strcmp(link, "anon_inode:bpf-map") || !map_fdinfo(dir, e->d_name, &id, &memlock))
			continue;
		/* A map shared by two objects (--track reuses the tracer's procs) has two fds. */
		for (i = 0; i < n && ids[i] != id; i++)
			;
		if (i < n)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(ids, cap * sizeof(*ids));
			if (!grown) {
				total = 0;
				break;
			}
			ids = grown;
		}
		ids[n++] = id;
		total += memlock;
	}
	closedir(d);
	free(ids);
	return total;
}
