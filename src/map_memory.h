/* map_memory.h: the kernel memory leaktop's BPF maps take for the sizes asked, and whether it fits. */
#ifndef LT_MAP_MEMORY_H
#define LT_MAP_MEMORY_H

#include <stdint.h>

#include "options.h"

/*
 * The kernel's limit for a hash map (kernel/bpf/hashtab.c, htab_map_alloc): max_entries, rounded up
 * to a power of 2, buckets of 16 bytes must fit a u32, so 2^27 entries. One more and creating the
 * map fails with E2BIG. Measured on Linux 6.18: 134217728 entries load, 134217729 do not.
 */
#define MAP_MAX_HASH_ENTRIES (1u << 27)
/* 2 GiB of rows, far more than any process's code needs: a larger figure is a typo, not a plan. */
#define MAP_MAX_UNWIND_ROWS (1u << 28)

/*
 * Kernel memory, in bytes, of leaktop's BPF maps for these sizes (unwind_rows: the row table's
 * entries, 1 with --unwind fp) on a machine with nr_cpus possible CPUs, when every entry is in use:
 * each map's "memlock" as bpftool shows it for a preallocated map, less the map's own struct (under
 * 1 KiB). The allocation table (its tiers: trace/alloctab.h) and the stack tables are allocated on
 * demand: the figure is their most. Pure.
 */
uint64_t map_memory_bytes(uint32_t max_allocs, uint32_t max_stacks, uint32_t unwind_rows,
			  unsigned int nr_cpus);

/*
 * Whether the maps that opts asks for (--max-allocs, --max-stacks, --unwind-rows) fit in mem_bytes,
 * the machine's memory: the kernel cannot allocate more, and refuses outright any one allocation
 * larger. Returns 0 (also when mem_bytes is 0, unknown), or -EINVAL with a one-line message in err
 * naming the option that takes the most memory, its value, and its accepted range with the other
 * options as given: a usage error, exit code 2. Pure.
 */
int map_memory_check(const struct options *opts, uint64_t mem_bytes, unsigned int nr_cpus,
		     char *err, size_t err_len);

#endif
