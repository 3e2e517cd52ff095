/* procmem.h: a process's writable memory: its mappings, and copies of them read with
 * process_vm_readv in large chunks. */
#ifndef LT_PROCMEM_H
#define LT_PROCMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct procmem_map {
	uint64_t start, end; /* [start, end) */
	uint8_t *data;	     /* the copy (procmem__read); NULL before */
};

struct procmem {
	pid_t pid;
	struct procmem_map *maps; /* sorted by start */
	size_t nr_maps;
	uint64_t bytes; /* their sizes, summed */
};

/*
 * The readable and writable mappings of pid from /proc/PID/maps (private or shared; device
 * mappings other than /dev/zero left out: reading them may act on the device). NULL and errno:
 * ENOENT (gone), ENOMEM.
 */
struct procmem *procmem__list(pid_t pid);

/*
 * Gives each mapping of pm its buffer, populated (MAP_POPULATE): the page faults of leaktop's own
 * copy, which cost as much as the copy itself, happen before the process is paused. Mappings
 * whose range has a buffer in from (an earlier listing, prepared) take it over. 0 or -ENOMEM.
 */
int procmem__prepare(struct procmem *pm, struct procmem *from);

/*
 * Copies every mapping into memory of leaktop's own (buffers from procmem__prepare, else made
 * here) (process_vm_readv, in chunks of up to
 * PROCMEM_CHUNK bytes). A page that cannot be read reads as zeros. 0 or -errno (ESRCH: gone;
 * ENOMEM).
 */
#define PROCMEM_CHUNK (1ull << 20)
int procmem__read(struct procmem *pm);

void procmem__free(struct procmem *pm);

/* The machine's available memory (MemAvailable), in bytes; 0 when unknown. */
uint64_t procmem_available_bytes(void);

#endif
