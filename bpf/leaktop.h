/* leaktop.h: the one header shared by the BPF programs and user space: map layouts, stats, cookies. */
#ifndef LEAKTOP_H
#define LEAKTOP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Deepest user stack captured per allocation; the stack walk stops here. */
#define LT_MAX_DEPTH 64

/* Which allocator entry point a probe sits on; travels in the BPF cookie (low 8 bits). */
enum lt_kind {
	LT_MALLOC = 1,	  /* malloc(size), operator new(size, ...), valloc(size) */
	LT_CALLOC,	  /* calloc(n, size) */
	LT_REALLOC,	  /* realloc(ptr, size) */
	LT_REALLOCARRAY,  /* reallocarray(ptr, n, size) */
	LT_MEMALIGN,	  /* memalign(align, size), aligned_alloc(align, size), new(size, align) */
	LT_POSIX_MEMALIGN, /* posix_memalign(&ptr, align, size) */
	LT_PVALLOC,	  /* pvalloc(size): rounds size up to the page size */
	LT_FREE,	  /* free(ptr), operator delete(ptr, ...) */
	LT_KIND_MAX,
};

/*
 * Cookie layout: bits 0-7 the kind, bits 8-15 how many bytes the stack pointer has moved down between
 * the function's first instruction and the probe point (pushes before the probe), bit 16 set when the
 * entry point is an outer one that hands the block to an inner entry point of another object:
 * operator delete -> free, and libstdc++'s operator new -> malloc. An outer new gets no return probe
 * (a C++ exception unwinding through a hijacked return address would abort the process): its stack
 * is taken at its entry, and the block is recorded at the inner allocator's return.
 */
#define LT_COOKIE(kind, sp_adj, outer) \
	((__u64)(kind) | ((__u64)(sp_adj) << 8) | ((__u64)((outer) ? 1 : 0) << 16))
#define LT_COOKIE_KIND(c) ((__u32)((c)&0xff))
#define LT_COOKIE_SP_ADJ(c) ((__u32)(((c) >> 8) & 0xff))
#define LT_COOKIE_OUTER(c) ((__u32)(((c) >> 16) & 1))

/* Loss and event counters, one slot each in the per-CPU `stats` array. */
enum lt_stat {
	LT_STAT_ALLOCS,		 /* allocations recorded */
	LT_STAT_FREES,		 /* frees that matched a recorded allocation */
	LT_STAT_DROPPED_ALLOCS,	 /* allocation table full: allocation not recorded */
	LT_STAT_UNMATCHED_FREES, /* free of a pointer never recorded (allocated before attach) */
	LT_STAT_LOST_STACKS,	 /* stack capture failed: allocation recorded under stack 0 */
	LT_STAT_STACK_TABLE_FULL, /* stack table full: allocation recorded under stack 0 */
	LT_STAT_TOTALS_FULL,	 /* per-stack totals table full: allocation not recorded */
	LT_STAT_THREAD_STATE_FULL, /* no per-thread slot for entry state: call not seen */
	LT_STAT_MISSED_RETURNS,	 /* entry seen but no matching return (overwritten entry state) */
	LT_STAT_MAX,
};

/* Key of the per-allocation table: several traced processes may use the same addresses. */
struct lt_alloc_key {
	__u64 addr;
	__u32 tgid;
	__u32 pad;
};
_Static_assert(sizeof(struct lt_alloc_key) == 16, "lt_alloc_key layout");

/*
 * Per live allocation, keyed by struct lt_alloc_key. Without sampling, size is the block's size and
 * count is 1. With sampling they are the block's weighted share of the estimate (see sampling below).
 */
struct lt_alloc {
	__u64 size;
	__u64 count;
	__u64 ts_ns;	  /* bpf_ktime_get_ns() at allocation */
	__u64 stack_id;	  /* key into stacks/stack_totals; 0 = stack unknown */
};
_Static_assert(sizeof(struct lt_alloc) == 32, "lt_alloc layout");

/*
 * Sampling tables, filled by user space before load (see the weight derivation in
 * bpf/leaktop.bpf.c). LT_G_TABLE[i] = g(i / LT_G_STEPS) in Q20, with g(x) = x / (1 - e^-x);
 * LT_LOG2_TABLE[i] = log2(1 + i / LT_LOG2_STEPS) in Q24.
 */
#define LT_G_STEPS 256
#define LT_G_MAX_X 32
#define LT_G_ENTRIES (LT_G_STEPS * LT_G_MAX_X + 2)
#define LT_LOG2_STEPS 256
#define LT_LOG2_ENTRIES (LT_LOG2_STEPS + 2)
/* Largest --sample-rate: keeps rate * g(x) in Q20 inside 64 bits. */
#define LT_MAX_SAMPLE_RATE (1ULL << 36)

/* Per stack, keyed by stack id (__u64), updated atomically at every allocation and free. */
struct lt_totals {
	__s64 outstanding_bytes;
	__s64 outstanding_allocs;
	__u64 allocs;
	__u64 alloc_bytes;
};
_Static_assert(sizeof(struct lt_totals) == 32, "lt_totals layout");

/* A captured user stack, keyed by stack id: a hash of (tgid, ips). ips[0] is the allocation site. */
struct lt_stack {
	__u32 tgid;
	__u32 nr_ips;
	__u64 ips[LT_MAX_DEPTH];
};
_Static_assert(sizeof(struct lt_stack) == 8 + 8 * LT_MAX_DEPTH, "lt_stack layout");

#endif /* LEAKTOP_H */
