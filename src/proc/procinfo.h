/* procinfo.h: what /proc says about a process: its command name, its resident memory, CPU time. */
#ifndef LT_PROCINFO_H
#define LT_PROCINFO_H

#include <stdbool.h>
#include <stdint.h>

struct proc_mem {
	uint64_t rss_bytes;	/* VmRSS */
	uint64_t anon_bytes;	/* RssAnon: the heap lives here */
};

/* The command name of pid (/proc/PID/comm, without the newline), malloc'ed. NULL and errno
 * (ESRCH when the process is gone, ENOMEM). */
char *procinfo_comm(int pid);

/* VmRSS and RssAnon of pid from /proc/PID/status; pid 0 is this process. 0 or -errno (-ESRCH when
 * the process is gone, -ENODATA when the fields are missing, as for a zombie). */
int procinfo_mem(int pid, struct proc_mem *out);

/* Whether pid exists and is no zombie (/proc/PID/stat's state is neither Z nor X). */
bool procinfo_alive(int pid);

/*
 * pid as its own pid namespace numbers it (the last NSpid of /proc/PID/status: a container's
 * view); pid itself when it lives in ours. 0 when the process is gone.
 */
int procinfo_nspid(int pid);

/* CPU time this process has used (user + system), in ns. */
uint64_t procinfo_self_cpu_ns(void);

/*
 * CPU time process pid has used (user + system, its exited threads too), in ns, from its CPU
 * clock (the scheduler's count, not /proc/PID/stat's ticks of 10 ms). 0 when it is gone.
 */
uint64_t procinfo_cpu_ns(int pid);

#endif
