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
	LT_UNWIND,	  /* _Unwind_RaiseException, longjmp, ...: frames below may never return */
	LT_KIND_MAX,
};

/*
 * Cookie layout: bits 0-7 the kind, bits 8-15 how many bytes the stack pointer has moved down between
 * the function's first instruction and the probe point (pushes before the probe), bits 24-31 which
 * entry point (its index in the attach table, + 1), and flags:
 * - bit 16, outer: the entry point hands the block to an inner entry point of another object
 *   (operator delete -> free, libstdc++'s operator new -> malloc): the block is recorded or
 *   released there.
 * - bit 17, exits: the entry point's return address is never replaced (an operator new may throw,
 *   and an exception unwinding through a hijacked return address aborts the process). Its stack
 *   and block are taken at probes on its `ret` instructions (LT_COOKIE_AT_EXIT) instead.
 * - bit 18, at exit: this probe sits on a `ret` of such an entry point (or of a function it
 *   tail-calls): the stack pointer points at the return address.
 */
#define LT_COOKIE_OUTER_BIT (1ULL << 16)
#define LT_COOKIE_EXITS_BIT (1ULL << 17)
#define LT_COOKIE_AT_EXIT_BIT (1ULL << 18)

#define LT_COOKIE(kind, sp_adj, fn, flags) \
	((__u64)(kind) | ((__u64)(sp_adj) << 8) | ((__u64)(fn) << 24) | (flags))
#define LT_COOKIE_KIND(c) ((__u32)((c)&0xff))
#define LT_COOKIE_SP_ADJ(c) ((__u32)(((c) >> 8) & 0xff))
#define LT_COOKIE_FN(c) ((__u32)(((c) >> 24) & 0xff))
#define LT_COOKIE_OUTER(c) (((c)&LT_COOKIE_OUTER_BIT) != 0)
#define LT_COOKIE_EXITS(c) (((c)&LT_COOKIE_EXITS_BIT) != 0)
#define LT_COOKIE_AT_EXIT(c) (((c)&LT_COOKIE_AT_EXIT_BIT) != 0)

/* Loss and event counters, one slot each in the per-CPU `stats` array. */
enum lt_stat {
	LT_STAT_ALLOCS,		 /* allocations recorded */
	LT_STAT_FREES,		 /* frees that matched a recorded allocation */
	LT_STAT_DROPPED_ALLOCS,	 /* allocation not recorded: a table full, or no kernel memory */
	LT_STAT_UNMATCHED_FREES, /* free of a pointer never recorded (allocated unseen) */
	LT_STAT_LOST_STACKS,	 /* allocation recorded under stack 0 (stack unknown), any reason */
	LT_STAT_STACK_TABLE_FULL, /* stack table full: allocation recorded under stack 0 */
	LT_STAT_THREAD_STATE_FULL, /* no per-thread slot for entry state: call not seen */
	LT_STAT_MISSED_RETURNS,	 /* entry seen but no matching return (overwritten entry state) */
	/* DWARF unwinding (--unwind dwarf|auto): a stack cut short, counted once per stack. */
	LT_STAT_UNWIND_NO_MAPPING, /* a frame in no known mapping (JIT code, a dlopen not yet seen) */
	LT_STAT_UNWIND_NO_TABLE,   /* a frame in an object without a table (row table full, unreadable) */
	LT_STAT_UNWIND_NO_CFI,	   /* a frame at an address no CFI entry covers */
	LT_STAT_UNWIND_STOP_ROW,   /* a frame whose CFI rule the BPF unwinder cannot express */
	LT_STAT_UNWIND_READ_FAILED, /* a saved value unreadable, or a frame that did not move up */
	LT_STAT_TRUNCATED_STACKS,  /* a stack deeper than LT_MAX_DEPTH frames, cut there */
	LT_STAT_UNWIND_NOT_READY,  /* a stack taken before the process's unwind tables were loaded */
	LT_STAT_UNWOUND_CALLS,	   /* allocator calls left by an exception or longjmp (no block) */
	LT_STAT_ALLOCATOR_FREES,   /* free of a block never recorded, called by the allocator itself */
	LT_STAT_LOST_EVENTS,	   /* a fork, exec or exit of a traced process user space never heard of */
	LT_STAT_INHERITED_FREES,   /* free of a block the process's parent allocated before the fork */
	LT_STAT_EXITED_RELEASED,   /* blocks of exited processes released to make room (lt_release) */
	/* --track faults, mmap, kernel (bpf/track.bpf.c, a stats array of its own): */
	LT_STAT_TRACK_LOST_STACKS,  /* a page or mapping counted under no stack: capture failed */
	LT_STAT_TRACK_STACK_FULL,   /* ... of them for want of room in the track stack table */
	LT_STAT_TRACK_TABLE_FULL,   /* a page or mapping not recorded: its table was full */
	LT_STAT_TRACK_VMA_BUSY,	    /* a fault whose mapping could not be looked at (lock busy) */
	LT_STAT_TRACK_EXITS_LOST,   /* an exit not told: its process's figures stay */
	LT_STAT_TRACK_MOVES_CUT,    /* pages of an mremap beyond what one call moves: left behind */
	LT_STAT_TRACK_CALLS_LOST,   /* a mapping call whose end was not seen: its releases missed */
	LT_STAT_SCRATCH_BUSY,	    /* a stack not taken: the CPU's stack scratch was another task's */
	LT_STAT_MAX,
};

/*
 * What --max-overhead's controller reads each period, one slot each in the per-CPU `budget_counts`
 * array (counted only with --max-overhead). The estimated figures sum the recorded blocks'
 * weights: unbiased estimates of every allocation's, sampled or not.
 */
enum lt_budget_count {
	LT_BUDGET_RETURNS,	/* return probes hit (their trap costs as an entry's does) */
	LT_BUDGET_SAMPLES,	/* blocks recorded */
	LT_BUDGET_EST_ALLOCS,	/* the recorded blocks' weighted counts: allocations estimated */
	LT_BUDGET_EST_BYTES,	/* their weighted sizes: bytes allocated, estimated */
	LT_BUDGET_MAX,
};

/*
 * --track: what a stack's figures count. heap: the allocator's blocks (uprobes, leaktop.bpf.c);
 * the others come from bpf/track.bpf.c. The order is that of the JSON "kind" names.
 */
enum lt_track_kind {
	LT_TRACK_HEAP = 0, /* blocks of malloc, new, ... outstanding */
	LT_TRACK_MMAP,	   /* anonymous mappings outstanding, in bytes */
	LT_TRACK_FAULTS,   /* pages of anonymous memory made resident (first write) */
	LT_TRACK_KERNEL,   /* the kernel's allocations (slab, pages, per-CPU) */
	LT_TRACK_MAX,
};
#define LT_TRACK_BIT(k) (1u << (k))

/* A stack of bpf/track.bpf.c: lt_stack's fields, with its kind and its process's generation. */
struct lt_track_stack {
	__u32 tgid;
	__u32 nr_ips;
	__u32 kind;	/* enum lt_track_kind */
	__u32 exec_id;
	__u32 gen;	/* the process's start time >> 10 (ns): tells a pid used again apart */
	__u32 pad;
	__u64 ips[LT_MAX_DEPTH];
};
_Static_assert(sizeof(struct lt_track_stack) == 24 + 8 * LT_MAX_DEPTH, "lt_track_stack layout");

/* A resident page (faults) or a mapping's start (mmap) of one process, in the track tables. */
struct lt_track_key {
	__u64 addr;
	__u32 tgid;
	__u32 gen;
};
_Static_assert(sizeof(struct lt_track_key) == 16, "lt_track_key layout");

/* A process the track programs have recorded something of, keyed by tgid. */
struct lt_track_proc {
	__u32 gen;
	__u32 pad;
	__u64 brk;	/* its program break as last seen: a smaller one releases what lies between */
};
_Static_assert(sizeof(struct lt_track_proc) == 16, "lt_track_proc layout");

/* Key of the per-allocation table: several traced processes may use the same addresses. */
struct lt_alloc_key {
	__u64 addr;
	__u32 tgid;
	__u32 pad;
};
_Static_assert(sizeof(struct lt_alloc_key) == 16, "lt_alloc_key layout");

/*
 * The live-allocation table grows with use: tiers of hash tables (no preallocation) in an array of
 * maps, each LT_ALLOC_TIER_GROWTH times the size of the one before, from LT_ALLOC_TIER0 entries,
 * together exactly --max-allocs. A hash table's buckets are allocated whole at its creation (16
 * bytes each, for the table's size rounded up to a power of two), so one table sized for the limit
 * would hold 16 MiB for a process with a dozen blocks. Blocks go into the newest tier that has
 * room; a free looks through the tiers, newest first. User space keeps one tier ready beyond the
 * one in use (tracer.c).
 */
#define LT_ALLOC_TIERS 8
#define LT_ALLOC_TIER0 16384
#define LT_ALLOC_TIER_GROWTH 4

/* An address range [start, end). */
struct lt_range {
	__u64 start;
	__u64 end;
};
_Static_assert(sizeof(struct lt_range) == 16, "lt_range layout");

/*
 * Per live allocation, keyed by struct lt_alloc_key. Without sampling, size is the block's size and
 * count is 1. With sampling they are the block's weighted share of the estimate (see sampling below).
 */
struct lt_alloc {
	__u64 size;
	__u64 count;
	__u64 ts_ns;	  /* at allocation: block_time(), CLOCK_MONOTONIC, early by < a tick */
	__u64 stack_id;	  /* key into stacks/stack_totals; 0 = stack unknown */
};
_Static_assert(sizeof(struct lt_alloc) == 32, "lt_alloc layout");

/* lt_jiffies's context (BPF_PROG_TEST_RUN's ctx_in, copied back): the kernel's tick count. */
struct lt_jiffies {
	__u64 jiffies;
};

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

/*
 * Per stack, keyed by stack id (__u64), updated atomically at every allocation and free. User space
 * evicts a stack that holds nothing and has not allocated for a while (collect.c).
 */
struct lt_totals {
	__s64 outstanding_bytes;
	__s64 outstanding_allocs;
	__u64 allocs;
	__u64 alloc_bytes;
	__u64 last_alloc_ns;	/* CLOCK_MONOTONIC time of the latest allocation */
};
_Static_assert(sizeof(struct lt_totals) == 40, "lt_totals layout");

#include "ages.h"

/*
 * A heap stack's value (stack_totals, unknown_totals): its totals, and its outstanding figures
 * again by allocation time (ages.h), which add up to t.outstanding_*. They give OLDEST and
 * --min-age without a look at the live blocks.
 */
struct lt_heap_totals {
	struct lt_totals t;
	/*
	 * The changed_gen global when the entry last changed: its id goes to the changed ring once
	 * per generation, so that user space re-reads only the stacks that changed (collect.c).
	 */
	__u64 changed_gen;
	struct lt_ages ages;
};
_Static_assert(sizeof(struct lt_heap_totals) == 48 + 24 * LT_AGE_SLOTS, "lt_heap_totals layout");

/*
 * A captured user stack, keyed by stack id: a hash of (tgid, image, epoch, ips), FNV-1a as
 * lt_stack_hash computes it. ips[0] is the allocation site. The epoch is the stack_epoch global when the stack
 * was stored: user space moves it on to retire old entries (collect.c).
 */
struct lt_stack {
	__u32 tgid;
	__u32 nr_ips;
	__u32 epoch;
	__u32 exec_id;	/* the process's image: task_struct.self_exec_id, which each exec moves on */
	__u64 ips[LT_MAX_DEPTH];
};
_Static_assert(sizeof(struct lt_stack) == 16 + 8 * LT_MAX_DEPTH, "lt_stack layout");

/*
 * A stack's id: FNV-1a over its return addresses, seeded with the process, its image (the same
 * addresses mean other code after an exec) and the epoch. With epoch 0 it is the id of the same
 * stack in every epoch, which user space reports it under. Never 0 (the unknown stack).
 */
static inline __u64 lt_stack_hash(__u32 tgid, __u32 exec_id, __u32 epoch, const __u64 *ips,
				  __u32 nr)
{
	__u64 hash = 0xcbf29ce484222325ULL ^ tgid ^ ((__u64)epoch << 32) ^ ((__u64)exec_id << 48);

	for (__u32 i = 0; i < LT_MAX_DEPTH; i++) {
		if (i >= nr)
			break;
		hash = (hash ^ ips[i]) * 0x100000001b3ULL;
	}
	return hash ? hash : 1;
}

/*
 * Faults the BPF side can be told to make, so that tests can see every loss counter move: set from
 * LEAKTOP_FAULT in leaktop's environment. Without one, the verifier drops the code that makes them.
 */
enum lt_fault {
	LT_FAULT_NONE = 0,
	LT_FAULT_THREAD_STATE, /* no thread ever gets its per-thread state */
	LT_FAULT_EVENTS,       /* no fork, exec or exit reaches user space */
	LT_FAULT_SCRATCH_BUSY, /* every stack capture finds the CPU's stack scratch taken (--track:
				* every one at a call's end) */
	LT_FAULT_CHANGED_FULL, /* the changed ring is always full: every reading reads every entry */
};

/* What happened to a traced process, for user space (the events ring buffer). */
enum lt_event_type {
	LT_EV_FORK = 1, /* pid was forked by ppid, a traced process: it is followed from now on */
	LT_EV_EXEC,	/* pid runs a new image (exec_id) */
	LT_EV_EXIT,	/* pid exited (its last thread) */
	LT_EV_MAP,	/* struct lt_map_event: a code mapping pid had at its exit (before LT_EV_EXIT) */
};

/*
 * A record of the changed ring: a heap stack's totals changed, in generation gen (the changed_gen
 * global the program read). User space looks up again next time the ids it drains that carry the
 * generation it has just moved to: their later changes in it are not told again.
 */
struct lt_changed {
	__u64 stack_id;
	__u64 gen;
};

struct lt_event {
	__u32 type;	/* enum lt_event_type */
	__u32 pid;
	__u32 ppid;	/* LT_EV_FORK: the parent */
	__u32 exec_id;	/* the image after the event */
	__u64 ts_ns;	/* bpf_ktime_get_ns() */
};
_Static_assert(sizeof(struct lt_event) == 24, "lt_event layout");

/*
 * A code mapping (file-backed, executable) of a process that exits, for user space to name what
 * it mapped after its last read of /proc/PID/maps. The path comes as its components, innermost
 * first, each cut to LT_MAP_NAME_LEN - 1 bytes, up to the root of the process's mount namespace.
 */
#define LT_MAP_NAMES 12
#define LT_MAP_NAME_LEN 48

struct lt_map_event {
	__u32 type;	/* LT_EV_MAP */
	__u32 pid;
	__u64 start, end, pgoff; /* pgoff in bytes */
	__u64 ino;
	__u32 dev;	/* the kernel's dev_t: major << 20 | minor */
	__u32 nr_names;	/* components in names; more than LT_MAP_NAMES: the path was cut */
	char names[LT_MAP_NAMES][LT_MAP_NAME_LEN];
};
_Static_assert(sizeof(struct lt_map_event) == 48 + LT_MAP_NAMES * LT_MAP_NAME_LEN,
	       "lt_map_event layout");

/* Per traced process (tgid), in the procs map. */
#define LT_PROC_FOLLOWED 1 /* followed since a fork of a traced process */
#define LT_PROC_EXIT_MAPS 2 /* tell its code mappings at its exit (no ptrace holds its exit) */

struct lt_proc {
	__u64 since_ns;	/* bpf_ktime_get_ns() of the fork (0 for the processes given) */
	__u32 parent;	/* the traced process that forked it */
	__u32 flags;	/* LT_PROC_* */
};
_Static_assert(sizeof(struct lt_proc) == 16, "lt_proc layout");

/* --unwind: how the BPF program walks user stacks. */
enum lt_unwind_mode {
	LT_UNWIND_FP = 0, /* the frame-pointer chain only; no tables */
	LT_UNWIND_DWARF,  /* the CFI tables for every frame */
	LT_UNWIND_AUTO,	  /* frame pointers in objects built with them, CFI tables elsewhere */
};

/*
 * One row of an object's unwind table: from pc on (an ELF virtual address of the object) until the
 * next row's pc, the caller's frame is found by this rule. The return address is always at CFA - 8
 * (a rule that says otherwise becomes LT_CFA_STOP).
 */
enum lt_cfa_kind {
	LT_CFA_NONE = 0, /* no CFI covers these addresses (a gap between FDEs) */
	LT_CFA_SP,	 /* CFA = rsp + cfa_off */
	LT_CFA_FP,	 /* CFA = rbp + cfa_off */
	LT_CFA_PLT,	 /* PLT entries: CFA = rsp + 8, + 8 more when (rip & 15) >= cfa_off */
	LT_CFA_SIGNAL,	 /* the kernel's rt_sigreturn trampoline: registers in the ucontext at rsp */
	LT_CFA_END,	 /* the outermost frame (return address undefined): the stack ends here */
	LT_CFA_STOP,	 /* a rule leaktop cannot express (expressions, other registers) */
};

/* Where the caller's rbp is. */
enum lt_rbp_kind {
	LT_RBP_SAME = 0,  /* unchanged by this frame */
	LT_RBP_AT_CFA,	  /* saved at CFA + rbp_off */
	LT_RBP_UNDEFINED, /* not recoverable: the caller's rbp is unknown */
};

/*
 * Eight bytes, because an array map stores each value at a multiple of 8. Stack offsets on x86-64
 * are multiples of 8, so they are kept divided by 8: a CFA up to 512 KiB above rsp or rbp, a saved
 * rbp up to 1 KiB below the CFA. A frame beyond that becomes LT_CFA_STOP.
 */
struct lt_unwind_row {
	__u32 pc;
	__u16 cfa_off; /* LT_CFA_SP, LT_CFA_FP: bytes / 8; LT_CFA_PLT: the (rip & 15) threshold */
	__u8 kinds;    /* enum lt_cfa_kind in bits 0-3, enum lt_rbp_kind in bits 4-7 */
	__s8 rbp_off;  /* LT_RBP_AT_CFA: bytes / 8 */
};
_Static_assert(sizeof(struct lt_unwind_row) == 8, "lt_unwind_row layout");

#define LT_ROW_KINDS(cfa, rbp) ((__u8)((cfa) | ((rbp) << 4)))
#define LT_ROW_CFA_KIND(r) ((r)->kinds & 0xf)
#define LT_ROW_RBP_KIND(r) ((r)->kinds >> 4)

/* The kernel's x86-64 rt_sigframe, as seen at the trampoline (rsp at its ucontext): */
#define LT_SIGFRAME_RBP 120 /* uc_mcontext.rbp */
#define LT_SIGFRAME_RSP 160 /* uc_mcontext.rsp */
#define LT_SIGFRAME_RIP 168 /* uc_mcontext.rip */

/* Per-process mappings of executable objects, at most this many (binary search: log2 of it). */
#define LT_UNWIND_MAX_MAPPINGS 256
#define LT_UNWIND_MAPPING_STEPS 9
/* Largest table, in rows, the row search reaches: 2^LT_UNWIND_ROW_STEPS. */
#define LT_UNWIND_ROW_STEPS 24

/*
 * The page index of an object's table: for each page of 2^LT_UNWIND_PAGE_SHIFT bytes from the
 * page of its first row on, the rows [lo, hi) of the table (indexes within it) among which lies
 * the row of every address of the page: lo is the last row at or below the page's start (0 when
 * none), hi - 1 the last row below its end. So the search for a pc narrows to a few rows. Eight
 * bytes, one slot of the row array, where the index follows the object's rows.
 */
#define LT_UNWIND_PAGE_SHIFT 8
/* Search steps in a page of up to 2^LT_UNWIND_PAGE_STEPS rows (a denser one: the full search). */
#define LT_UNWIND_PAGE_STEPS 4
struct lt_unwind_page {
	__u32 lo;
	__u32 hi;
};
_Static_assert(sizeof(struct lt_unwind_page) == 8, "lt_unwind_page layout");

/* Mapping flags */
#define LT_MAP_HAS_TABLE 1 /* rows [row_first, row_first + row_count) are its table */
#define LT_MAP_HAS_FP 2	   /* the object keeps frame pointers (auto walks them there) */

struct lt_unwind_mapping {
	__u64 start;	  /* [start, end) in the process */
	__u64 end;
	__u64 bias;	  /* address in the process - ELF virtual address */
	__u32 row_first;  /* index in the row table */
	__u32 row_count;
	__u32 flags;	  /* LT_MAP_* */
	__u32 page_base;  /* ELF virtual address >> LT_UNWIND_PAGE_SHIFT of the index's 1st page */
	__u32 page_first; /* index in the row table of the page index (struct lt_unwind_page) */
	__u32 page_count;
};
_Static_assert(sizeof(struct lt_unwind_mapping) == 48, "lt_unwind_mapping layout");

/* One traced process's executable mappings, sorted by start; keyed by tgid. */
struct lt_unwind_proc {
	__u32 nr;	   /* mappings in use */
	__u32 all_fp;	   /* every mapping has LT_MAP_HAS_FP: auto walks frame pointers only */
	__u64 misses;	   /* frames that fell in no mapping: user space re-reads the mappings */
	__u64 generation;  /* new at each publication: stacks cached under another are stale */
	struct lt_unwind_mapping maps[LT_UNWIND_MAX_MAPPINGS];
};
_Static_assert(sizeof(struct lt_unwind_proc) == 24 + 48 * LT_UNWIND_MAX_MAPPINGS,
	       "lt_unwind_proc layout");

#endif /* LEAKTOP_H */
