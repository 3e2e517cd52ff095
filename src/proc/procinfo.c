/* procinfo.c: what /proc says about a process: its command name, its resident memory, CPU time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
