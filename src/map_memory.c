/* map_memory.c: the memory model of leaktop's BPF maps, and the check that they fit the machine. */
#include <string.h>

#include "argval.h"
#include "base/fmt.h"
#include "bpf/leaktop.h"
#include "map_memory.h"
#include "trace/alloctab.h"

/* Kernel memory of a preallocated BPF hash map (kernel/bpf/hashtab.c, htab_map_alloc): a 16-byte
 * bucket per entry rounded up to a power of 2, and entries + nr_cpus elements, each a 48-byte
 * struct htab_elem, the key and the value. */
static uint64_t hash_map_bytes(uint32_t entries, size_t key, size_t value, unsigned int nr_cpus)
{
	uint64_t buckets = 1;

	while (buckets < entries)
		buckets <<= 1;
	return buckets * 16 + (48 + ((key + 7) & ~(size_t)7) + ((value + 7) & ~(size_t)7)) *
				      ((uint64_t)entries + nr_cpus);
}

/* A BPF_F_MMAPABLE array (kernel/bpf/arraymap.c): a page for struct bpf_array, then the values. */
static uint64_t mmapable_array_bytes(uint32_t entries, size_t value)
{
	return 4096 + ((uint64_t)entries * ((value + 7) & ~(size_t)7) + 4095) / 4096 * 4096;
}

uint64_t map_memory_bytes(uint32_t max_allocs, uint32_t max_stacks, uint32_t unwind_rows,
			  unsigned int nr_cpus)
{
	uint64_t allocs = 0;
	uint32_t n;

	for (unsigned int i = 0; (n = alloctab_tier_entries(max_allocs, i)); i++)
		allocs += hash_map_bytes(n, sizeof(struct lt_alloc_key), sizeof(struct lt_alloc),
					 nr_cpus);
	return allocs +
	       hash_map_bytes(max_stacks, sizeof(uint64_t), sizeof(struct lt_heap_totals),
			      nr_cpus) +
	       hash_map_bytes(max_stacks, sizeof(uint64_t), sizeof(struct lt_stack), nr_cpus) +
	       mmapable_array_bytes(unwind_rows, sizeof(struct lt_unwind_row));
}

enum { TABLE_ALLOCS, TABLE_STACKS, TABLE_ROWS, NR_TABLES };

static const char *const table_option[NR_TABLES] = { "--max-allocs", "--max-stacks",
						     "--unwind-rows" };
static const uint32_t table_max[NR_TABLES] = { MAP_MAX_HASH_ENTRIES, MAP_MAX_HASH_ENTRIES,
					       MAP_MAX_UNWIND_ROWS };

static uint64_t tables_bytes(const uint32_t *n, unsigned int nr_cpus)
{
	return map_memory_bytes(n[TABLE_ALLOCS], n[TABLE_STACKS], n[TABLE_ROWS], nr_cpus);
}

/* The table that takes the most memory: the one to shrink. */
static int largest_table(const uint32_t *n, unsigned int nr_cpus)
{
	uint64_t total = tables_bytes(n, nr_cpus), share, top_share = 0;
	uint32_t one[NR_TABLES];
	int top = 0;

	for (int t = 0; t < NR_TABLES; t++) {
		memcpy(one, n, sizeof(one));
		one[t] = 0;
		share = total - tables_bytes(one, nr_cpus);
		if (share > top_share) {
			top_share = share;
			top = t;
		}
	}
	return top;
}

/* Table t's largest size that fits mem_bytes, the others as given (the cost grows with the size);
 * 0 when none does. */
static uint32_t largest_fit(const uint32_t *n, int t, uint64_t mem_bytes, unsigned int nr_cpus)
{
	uint32_t one[NR_TABLES], lo = 0, hi, mid;

	memcpy(one, n, sizeof(one));
	hi = n[t] < table_max[t] ? n[t] : table_max[t];
	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		one[t] = mid;
		if (tables_bytes(one, nr_cpus) <= mem_bytes)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

int map_memory_check(const struct options *opts, uint64_t mem_bytes, unsigned int nr_cpus,
		     char *err, size_t err_len)
{
	/* With frame pointers only, the row table keeps a single row (tracer.c). */
	uint32_t n[NR_TABLES] = { opts->max_allocs, opts->max_stacks,
				  opts->unwind_mode == LT_UNWIND_FP ? 1 : opts->unwind_rows };
	uint64_t total = tables_bytes(n, nr_cpus);
	char need[32], have[32], others[32];
	uint32_t fit, asked;
	int top;

	if (!mem_bytes || total <= mem_bytes)
		return 0;
	top = largest_table(n, nr_cpus);
	fit = largest_fit(n, top, mem_bytes, nr_cpus);
	fmt_bytes(need, sizeof(need), (double)total);
	fmt_bytes(have, sizeof(have), (double)mem_bytes);
	if (fit)
		return argval_error(err, err_len,
				    "%s: '%u' is too large for this machine: the BPF maps would take "
				    "%s of kernel memory, it has %s (accepted: 1 to %u)",
				    table_option[top], n[top], need, have, fit);
	asked = n[top];
	n[top] = 0;
	fmt_bytes(others, sizeof(others), (double)tables_bytes(n, nr_cpus));
	return argval_error(err, err_len,
			    "%s: '%u' is too large for this machine: the BPF maps would take %s of "
			    "kernel memory, it has %s, and the other tables alone take %s",
			    table_option[top], asked, need, have, others);
}
