// SPDX-License-Identifier: GPL-2.0
/* leaktop.bpf.c: uprobes on allocator entry points; live allocations and per-stack totals in maps. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "leaktop.h"

/* errno values, which vmlinux.h does not carry */
#define ENOENT 2
#define E2BIG 7
#define EEXIST 17

char LICENSE[] SEC("license") = "GPL";

/* Set by user space before load. Sizes outside [min_size, max_size] are not recorded. */
const volatile __u64 min_size = 0;
const volatile __u64 max_size = ~0ULL;
const volatile __u64 page_size = 4096;
/*
 * Whether blocks may go unrecorded for sampling (--sample-rate or --max-overhead): a free that
 * finds no record is then no loss. Set before load.
 */
const volatile bool sampling = false;
/*
 * Mean bytes between samples, 0 to record every allocation: set before load, and written by user
 * space while the programs run (--max-overhead). Read once per decision (see sampling below).
 */
volatile __u64 sample_rate = 0;
/* --max-overhead: count what the budget needs in budget_counts. Set before load. */
const volatile bool budget = false;
const volatile __u32 g_table[LT_G_ENTRIES];
const volatile __u32 log2_table[LT_LOG2_ENTRIES];

/*
 * A block's time: the kernel's tick count (jiffies) in ns on CLOCK_MONOTONIC's origin, once user
 * space has measured the tick against that clock (src/trace/tickclock.c); until then, or when it
 * could not, tick_ns is 0 and the time is bpf_ktime_get_ns(). The tick count is one load; the
 * clock read costs about 30 ns per allocation in a VM. A block's time is then early by less than
 * a tick (4 ms at HZ=250), and not late: jiffies move on at exact steps of CLOCK_MONOTONIC.
 */
volatile __u64 tick_ns = 0;
volatile __u64 tick_base = 0;	/* jiffies * tick_ns - tick_base: CLOCK_MONOTONIC */

static __always_inline __u64 block_time(void)
{
	__u64 tick = tick_ns;

	return tick ? bpf_jiffies64() * tick - tick_base : bpf_ktime_get_ns();
}

/* The tick count, for user space to measure the tick by (BPF_PROG_TEST_RUN). */
SEC("syscall")
int lt_jiffies(struct lt_jiffies *j)
{
	j->jiffies = bpf_jiffies64();
	return 0;
}

/* Kernel 6.13+: entry and return of one call in one program (uprobe session links). */
extern bool bpf_session_is_return(void) __ksym __weak;

/* One tier of the live-allocation table (see LT_ALLOC_TIERS); user space creates them. */
struct alloc_tier_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, LT_ALLOC_TIER0);
	/* Sizes, not types: libbpf 1.1 cannot size an inner map's key of a struct type. */
	__uint(key_size, sizeof(struct lt_alloc_key));
	__uint(value_size, sizeof(struct lt_alloc));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, LT_ALLOC_TIERS);
	__type(key, __u32);
	__array(values, struct alloc_tier_map);
} allocs SEC(".maps");

/* The tier new blocks go into; moved on here when it is full, read by user space. */
volatile __u64 alloc_tier = 0;

/* Not preallocated, these two: their kernel memory follows the stacks in use, not --max-stacks. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536); /* --max-stacks */
	__type(key, __u64);
	__type(value, struct lt_heap_totals);
} stack_totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536); /* --max-stacks */
	__type(key, __u64);
	__type(value, struct lt_stack);
} stacks SEC(".maps");

/*
 * The ids of the stacks whose totals changed, each once per generation: user space moves
 * changed_gen on before it drains the ring, then reads those entries alone. A full ring sets
 * changed_lost, and user space reads every entry instead.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} changed SEC(".maps");

volatile __u64 changed_gen = 0;
volatile __u32 changed_lost = 0;

/*
 * The totals of stack 0 (stack unknown), apart: an allocation whose stack finds no room in a full
 * stack table is still counted there, never dropped for want of a totals entry.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lt_heap_totals);
} unknown_totals SEC(".maps");

/* Per traced process (tgid): the code of the object whose free() is probed. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct lt_range);
} allocator_code SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LT_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* enum lt_budget_count, per CPU: only with --max-overhead (budget). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LT_BUDGET_MAX);
	__type(key, __u32);
	__type(value, __u64);
} budget_counts SEC(".maps");

/*
 * A stack being captured: too large for the BPF stack, so one per CPU. Every task on the CPU shares
 * it, and a uprobe program runs with migration disabled but not preemption: with full preemption
 * (CONFIG_PREEMPT, preempt=full or lazy) a task can be preempted inside a capture and another
 * task's probe run on the same CPU (kernel/trace/bpf_trace.c, uprobe_prog_run(); trace_uprobe.c,
 * bpf_prog_run_array_uprobe(): migrate_disable() and RCU only). `busy` is taken by an atomic
 * exchange for the whole capture, the unwinder and its per-CPU cache included (unwind.bpf.h uses
 * them nowhere else); a probe that finds it taken records its block under the unknown stack, in
 * scratch_busy. Without the exchange, the two stacks could come out mixed, under either id.
 */
struct stack_scratch {
	__u64 busy;
	struct lt_stack st;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_scratch);
} stack_scratch SEC(".maps");

/* Set by user space before load: enum lt_fault (tests only). */
const volatile __u32 fault = LT_FAULT_NONE;

/*
 * One allocator call in flight, from its entry probe to its return (or exit) probe. entry_sp is the
 * stack pointer at the function's first instruction (it points at the return address); 0 when no
 * call is in flight. A probe that fires with a lower or equal stack pointer while that call is
 * alive (call_alive) runs inside it or was tail-called by it (operator new -> malloc, realloc ->
 * free, reallocarray -> realloc) and is not counted again.
 */
struct call {
	__u64 entry_sp;
	__u64 ret_addr;		/* what entry_sp held when the call began: its return address */
	__u64 inner_sp;		/* outer new: entry stack pointer of the inner allocator call */
	__u64 stack_id;		/* outer new: the stack taken at its entry */
	__u64 size;
	__u64 ptr_arg;		/* realloc: the old pointer; posix_memalign: where the result goes */
	__u8 kind;
	__u8 fn;		/* which entry point (LT_COOKIE_FN) */
	__u8 outer;		/* an outer new: recorded at the inner allocator's return */
	__u8 sampled;		/* this call's block is recorded */
	__u8 recorded_old;	/* realloc: the old block was released at entry (restored on failure) */
	__u8 unwound;		/* an exception or longjmp began inside the call */
	__u8 pad[2];
	__u64 rate;		/* sampled: the rate its decision was made at (its weight's) */
	struct lt_alloc old;	/* realloc: the released block, for that restore */
};

/*
 * Per thread. An operator new that ends at exit probes (an allocator library's own) has a slot of
 * its own: the allocations made inside it through probed entry points (the exception object of a
 * bad_alloc, a new_handler's) are not its block, and are counted on their own in `cur`.
 */
struct thread_state {
	struct call cur;	/* the C allocator call or libstdc++ operator new in flight */
	struct call xnew;	/* the exit-probed operator new in flight */
	__u64 deleted_ptr;	/* the pointer the last operator delete released... */
	__u64 deleted_sp;	/* ...and its entry stack pointer: its inner free() is not counted again */
	__s64 until_sample;	/* bytes this thread may still allocate before the next sample */
	__u64 gap_rate;		/* the mean until_sample was drawn with; 0: none drawn yet */
};

/* Task-local: no hashing on the hot path, and the kernel frees it when the thread exits. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_state);
} threads SEC(".maps");

static __always_inline void stat_inc(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &stat);

	if (v)
		*v += 1;
}

/* --max-overhead's counters; nothing without it (the verifier drops the code). */
static __always_inline void budget_add(__u32 which, __u64 n)
{
	__u64 *v;

	if (!budget)
		return;
	v = bpf_map_lookup_elem(&budget_counts, &which);
	if (v)
		*v += n;
}

static __always_inline __u32 current_tgid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

/*
 * Sampling (--sample-rate R), the scheme of tcmalloc, jemalloc and the Go runtime: sample points
 * fall on the stream of allocated bytes as a Poisson process of rate 1/R, so the gaps between them
 * are exponential with mean R. Each thread counts down the bytes to its next sample point; an
 * allocation of s bytes is sampled when a point falls inside it, which happens with probability
 * p(s) = 1 - e^(-s/R), independently of the past (the process is memoryless). A sampled block
 * stands for 1/p(s) blocks and s/p(s) bytes, which makes every total an unbiased estimate
 * (Horvitz-Thompson; the same weights as Go's runtime/pprof scaleHeapSample):
 *     count = 1 / (1 - e^-x),  bytes = R * g(x),  with x = s/R and g(x) = x / (1 - e^-x).
 * g is smooth (g(0) = 1, g(x) -> x), so a table at steps of 1/256 with linear interpolation gives it
 * to about 1e-6; fractional weights are rounded up or down at random with the matching odds, which
 * keeps the integers in the maps unbiased.
 *
 * The rate may change while the programs run (--max-overhead: user space writes sample_rate). A
 * decision reads it once; the block's weight is computed with that same rate at its record (the
 * call keeps it), never with a rate written in between. A thread's pending gap was drawn with the
 * mean in force then (gap_rate). When the rate differs at the next decision, the gap is drawn
 * anew with the new mean before the block is counted against it: the point process is memoryless,
 * so throwing away the rest of a gap and drawing a fresh exponential one starts a Poisson process
 * of the new rate from this block on, whatever happened before. Each block is then sampled with
 * p(s) = 1 - e^(-s/R) for the R its decision read, independently of every other block's fate,
 * and R is fixed before the block's outcome (the controller's choice depends only on earlier
 * outcomes): each block's term s * 1{sampled} / p(s) has expectation s given all that came before,
 * so the sums stay unbiased however the rate moves. Only the variance depends on the rates:
 * sum of s^2 (1 - p) / p over the blocks, each with its own p. (Keeping the old gap would not do:
 * its remainder is exponential with the old mean, so the blocks until the next point would be
 * sampled with the old rate's odds and weighted with the new one's.)
 */
static __always_inline __u64 round_random(__u64 q20)
{
	__u64 whole = q20 >> 20, frac = q20 & ((1ULL << 20) - 1);

	return whole + ((bpf_get_prandom_u32() & ((1U << 20) - 1)) < frac ? 1 : 0);
}

static __always_inline void sample_weights(__u64 sample_rate, __u64 size, __u64 *bytes,
					   __u64 *count)
{
	__u64 xq, idx, frac, g, bytes_q20;
	__s64 lo, hi;

	/* x = size / rate in Q24; beyond LT_G_MAX_X every block is sampled: weight 1. */
	if (size >= (sample_rate * LT_G_MAX_X) || size >= (1ULL << 38)) {
		*bytes = size;
		*count = 1;
		return;
	}
	xq = (size << 24) / sample_rate;
	idx = xq >> 16; /* steps of 1/256 */
	frac = xq & 0xffff;
	if (idx >= LT_G_ENTRIES - 1) {
		*bytes = size;
		*count = 1;
		return;
	}
	lo = g_table[idx];
	hi = g_table[idx + 1];
	g = lo + (((hi - lo) * (__s64)frac) >> 16);
	bytes_q20 = sample_rate * g;
	*bytes = round_random(bytes_q20);
	*count = round_random(bytes_q20 / size);
}

/* floor(log2(v)) for v > 0 */
static __always_inline __u32 ilog2(__u64 v)
{
	__u32 n = 0;

	if (v >> 32) { v >>= 32; n += 32; }
	if (v >> 16) { v >>= 16; n += 16; }
	if (v >> 8) { v >>= 8; n += 8; }
	if (v >> 4) { v >>= 4; n += 4; }
	if (v >> 2) { v >>= 2; n += 2; }
	if (v >> 1) n += 1;
	return n;
}

/* An exponential gap with mean sample_rate: -ln(U) * rate, U uniform in (0, 1]. */
static __always_inline __s64 draw_gap(__u64 sample_rate)
{
	__u64 v = (__u64)bpf_get_prandom_u32() + 1; /* U = v / 2^32 */
	__u32 n = ilog2(v), idx;
	__u64 m, frac, l2, neg_ln_q24;
	__s64 lo, hi;

	/* log2(v) = n + log2(m), m = v / 2^n in [1, 2) as Q16 */
	m = n >= 16 ? v >> (n - 16) : v << (16 - n);
	idx = (m >> 8) & 0xff;
	frac = m & 0xff;
	if (idx >= LT_LOG2_ENTRIES - 1)
		idx = LT_LOG2_ENTRIES - 2;
	lo = log2_table[idx];
	hi = log2_table[idx + 1];
	l2 = ((__u64)n << 24) + lo + (((hi - lo) * (__s64)frac) >> 8);
	/* -ln(U) = (32 - log2 v) * ln 2, in Q24 */
	neg_ln_q24 = (((32ULL << 24) - l2) * 11629080ULL) >> 24; /* ln 2 in Q24 */
	return (__s64)((sample_rate * (neg_ln_q24 >> 8)) >> 16);
}

/*
 * Counts size against the thread's sampling budget; true when this allocation is sampled. *rate is
 * set to the rate the decision was made at (0: every block is recorded), for the block's weight.
 */
static __always_inline bool sample_decide(struct thread_state *ts, __u64 size, __u64 *rate)
{
	__u64 r = sample_rate;

	*rate = r;
	if (!r)
		return true;
	/* p(0) = 0: an empty block is never a sample point's home. */
	if (!size)
		return false;
	/* No gap yet, or one drawn at another rate: a fresh one (see above). */
	if (ts->gap_rate != r) {
		ts->until_sample = draw_gap(r);
		ts->gap_rate = r;
	}
	ts->until_sample -= size;
	if (ts->until_sample > 0)
		return false;
	/* Memoryless: the next point lies an exponential gap past the end of this block. */
	ts->until_sample = draw_gap(r);
	return true;
}

/* The totals of a stack, NULL when it has none (yet, or any more). */
static __always_inline struct lt_heap_totals *totals_of(__u64 stack_id)
{
	__u32 zero = 0;

	if (!stack_id)
		return bpf_map_lookup_elem(&unknown_totals, &zero);
	return bpf_map_lookup_elem(&stack_totals, &stack_id);
}

static __always_inline struct lt_heap_totals *totals_get(__u64 stack_id)
{
	static const struct lt_heap_totals zero;
	struct lt_heap_totals *t = totals_of(stack_id);

	if (t)
		return t;
	bpf_map_update_elem(&stack_totals, &stack_id, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&stack_totals, &stack_id);
}

/*
 * The current epoch of stack ids. User space moves it on when the tables fill with stacks that hold
 * nothing: new allocations then go to new entries, and old ones that hold nothing can be deleted
 * without racing with an allocation that adds to them (collect.c).
 */
volatile __u32 stack_epoch = 0;

/* Hashes the stack in the scratch buffer and stores it in the stack table; returns its id (0: lost). */
static __always_inline __u64 stack_store(struct lt_stack *st, __u32 nr, __u32 tgid)
{
	__u32 epoch = stack_epoch;
	__u32 exec_id = (__u32)bpf_get_current_task_btf()->self_exec_id;
	__u64 hash;
	long err;

	/*
	 * The count, read back from the scratch: the frame-pointer walk leaves one of LT_MAX_DEPTH
	 * known counts, and the verifier would check the hash loop and all that follows once for each.
	 */
	st->nr_ips = nr;
	nr = *(volatile __u32 *)&st->nr_ips;
	hash = lt_stack_hash(tgid, exec_id, epoch, st->ips, nr);
	if (bpf_map_lookup_elem(&stacks, &hash))
		return hash;
	st->tgid = tgid;
	st->epoch = epoch;
	st->exec_id = exec_id;
	/* -EEXIST: another CPU stored the same stack first, which is as good. */
	err = bpf_map_update_elem(&stacks, &hash, st, BPF_NOEXIST);
	if (err && err != -EEXIST) {
		stat_inc(LT_STAT_STACK_TABLE_FULL);
		return 0;
	}
	return hash;
}

/*
 * Walks the frame-pointer chain from the probe's registers: ips[0] is the instruction pointer, then
 * one return address per frame. Our own walk, because bpf_get_stack() costs about 460 ns per call
 * on this kernel whatever the depth, several times this loop for common depths. It stops at a
 * frame pointer that is null, misaligned, or not above the previous one (the stack grows down).
 */
static __always_inline __u32 walk_frames(struct pt_regs *ctx, struct lt_stack *st)
{
	__u64 fp = PT_REGS_FP(ctx), frame[2];
	bool ended = false;
	__u32 nr = 1;

	st->ips[0] = PT_REGS_IP(ctx);
	for (__u32 i = 1; i < LT_MAX_DEPTH; i++) {
		if (!fp || (fp & 7)) {
			ended = true;
			break;
		}
		/* frame[0]: the caller's frame pointer; frame[1]: the return address */
		if (bpf_probe_read_user(frame, sizeof(frame), (void *)fp) || !frame[1]) {
			ended = true;
			break;
		}
		st->ips[i] = frame[1];
		nr = i + 1;
		if (frame[0] <= fp) {
			ended = true;
			break;
		}
		fp = frame[0];
	}
	/* Every slot is used: the stack was cut if the chain goes on. */
	if (!ended && !(fp & 7) && !bpf_probe_read_user(frame, sizeof(frame), (void *)fp) &&
	    frame[1])
		stat_inc(LT_STAT_TRUNCATED_STACKS);
	return nr;
}

#include "unwind.bpf.h"

/*
 * Captures the user stack and returns its id, 0 when it could not be kept (counted in lost_stacks).
 * At a return probe the walk starts at the allocation site itself. At an entry or exit probe
 * (ret_addr set) it starts inside the allocator, whose frame is not set up or already torn down:
 * the CFI tables know its frame at the probe point and step over it; the frame-pointer walk
 * replaces the first frame by the return address. A global function: the verifier checks it once
 * per program, not again for each path of its callers (record_alloc, on_entry) that reaches it.
 */
__noinline __u64 lt_stack_capture(struct pt_regs *ctx, __u32 tgid, __u64 ret_addr)
{
	__u32 zero = 0;
	struct stack_scratch *s = bpf_map_lookup_elem(&stack_scratch, &zero);
	struct lt_stack *st;
	__u32 nr = 0;
	__u64 id = 0;

	if (!s || !ctx)
		goto out;
	/* The fault leaves the word alone: the scratch only looks taken. */
	if (fault == LT_FAULT_SCRATCH_BUSY || __sync_lock_test_and_set(&s->busy, 1)) {
		stat_inc(LT_STAT_SCRATCH_BUSY);
		goto out;
	}
	st = &s->st;
	if (unwind_mode != LT_UNWIND_FP)
		nr = lt_unwind_walk(ctx, tgid, ret_addr != 0);
	if (!nr) {
		nr = walk_frames(ctx, st);
		if (ret_addr)
			st->ips[0] = ret_addr;
	}
	id = stack_store(st, nr, tgid);
	s->busy = 0;
out:
	if (!id)
		stat_inc(LT_STAT_LOST_STACKS);
	return id;
}

/*
 * Tells user space that the totals of stack_id changed (after the change: the atomics before are
 * full barriers, so a reading that follows the generation's move sees it). Stack 0 is read always.
 */
static __always_inline void totals_changed(struct lt_heap_totals *t, __u64 stack_id)
{
	struct lt_changed c = { .stack_id = stack_id, .gen = changed_gen };

	if (t->changed_gen == c.gen || !stack_id)
		return;
	t->changed_gen = c.gen;
	if (fault == LT_FAULT_CHANGED_FULL || bpf_ringbuf_output(&changed, &c, sizeof(c), 0))
		changed_lost = 1;
}

static __always_inline void totals_sub(const struct lt_alloc *a)
{
	struct lt_heap_totals *t = totals_of(a->stack_id);

	/* Never missing: a stack that holds a block is never evicted. */
	if (!t)
		return;
	__sync_fetch_and_add(&t->t.outstanding_bytes, -(__s64)a->size);
	__sync_fetch_and_add(&t->t.outstanding_allocs, -(__s64)a->count);
	lt_ages_sub(&t->ages, a->ts_ns, a->size, a->count);
	totals_changed(t, a->stack_id);
}

/* Adds a newly recorded block to its stack's totals. */
static __always_inline void totals_add(struct lt_heap_totals *t, const struct lt_alloc *a)
{
	t->t.last_alloc_ns = a->ts_ns;
	__sync_fetch_and_add(&t->t.outstanding_bytes, a->size);
	__sync_fetch_and_add(&t->t.outstanding_allocs, a->count);
	__sync_fetch_and_add(&t->t.allocs, a->count);
	__sync_fetch_and_add(&t->t.alloc_bytes, a->size);
	lt_ages_add(&t->ages, a->ts_ns, a->size, a->count);
	totals_changed(t, a->stack_id);
}

/*
 * The record of key, looked for in the tiers in use, newest first; *tier is set to the tier that
 * holds it. The tiers below the newest hold older blocks only: a free seldom looks further than
 * the tier in use.
 */
static __always_inline struct lt_alloc *alloc_find(const struct lt_alloc_key *key, void **tier)
{
	__u32 cur = (__u32)alloc_tier;

#pragma unroll
	for (int i = 0; i < LT_ALLOC_TIERS; i++) {
		__u32 n = cur - i;
		void *m;
		struct lt_alloc *a;

		if (i > cur)
			break;
		m = bpf_map_lookup_elem(&allocs, &n);
		if (!m)
			continue;
		a = bpf_map_lookup_elem(m, key);
		if (a) {
			*tier = m;
			return a;
		}
	}
	return NULL;
}

/*
 * Adds a new record to the tier in use, or to the next one (then in use) when that is full.
 * -EEXIST when the tier in use holds key already; *tier is set to the tier written, or tried.
 */
static __always_inline long alloc_insert(const struct lt_alloc_key *key, const struct lt_alloc *a,
					 void **tier, __u32 *used)
{
	__u32 cur = (__u32)alloc_tier, next = cur + 1;
	void *m = bpf_map_lookup_elem(&allocs, &cur);
	long err;

	if (!m)
		return -E2BIG;
	*tier = m;
	*used = cur;
	err = bpf_map_update_elem(m, key, a, BPF_NOEXIST);
	if (err != -E2BIG)
		return err;
	m = bpf_map_lookup_elem(&allocs, &next);
	if (!m)
		return -E2BIG;
	__sync_val_compare_and_swap(&alloc_tier, (__u64)cur, (__u64)next);
	*tier = m;
	*used = next;
	return bpf_map_update_elem(m, key, a, BPF_NOEXIST);
}

/* Retires a stale record of key (its free never seen) from the tiers below `used`. */
static __always_inline void alloc_retire_older(const struct lt_alloc_key *key, __u32 used)
{
#pragma unroll
	for (int i = 0; i < LT_ALLOC_TIERS; i++) {
		__u32 n = i;
		void *m;
		struct lt_alloc *old;

		if (n >= used)
			break;
		m = bpf_map_lookup_elem(&allocs, &n);
		if (!m)
			continue;
		old = bpf_map_lookup_elem(m, key);
		if (old) {
			totals_sub(old);
			bpf_map_delete_elem(m, key);
		}
	}
}

/*
 * Records a block. stack_id: taken at an outer entry, or 0 to capture the stack now; ret_addr: the
 * call's return address when the probe sits inside the allocator (an exit probe), else 0; rate:
 * the sample rate its sampling decision read (0: not sampled, recorded whole).
 */
static __always_inline void record_alloc(struct pt_regs *ctx, __u64 addr, __u64 size,
					 __u64 stack_id, __u64 ret_addr, __u64 rate)
{
	struct lt_alloc_key key = { .addr = addr, .tgid = current_tgid() };
	struct lt_alloc a = { .size = size, .count = 1 };
	struct lt_alloc *old;
	struct lt_heap_totals *t;
	void *tier = NULL;
	__u32 used = 0;
	long err;

	if (rate)
		sample_weights(rate, size, &a.size, &a.count);
	a.stack_id = stack_id ? stack_id : lt_stack_capture(ctx, key.tgid, ret_addr);
	/* No room for the stack's totals (the kernel's memory): the block is not recorded. */
	t = totals_get(a.stack_id);
	if (!t) {
		stat_inc(LT_STAT_DROPPED_ALLOCS);
		return;
	}
	a.ts_ns = block_time();
	err = alloc_insert(&key, &a, &tier, &used);
	if (err == -EEXIST && tier) {
		/* The block's free was never seen (a path we do not probe): retire the stale record. */
		old = bpf_map_lookup_elem(tier, &key);
		if (old)
			totals_sub(old);
		err = bpf_map_update_elem(tier, &key, &a, BPF_ANY);
	}
	if (!err && used)
		alloc_retire_older(&key, used);
	if (err) {
		stat_inc(LT_STAT_DROPPED_ALLOCS);
		return;
	}
	totals_add(t, &a);
	stat_inc(LT_STAT_ALLOCS);
	budget_add(LT_BUDGET_SAMPLES, 1);
	budget_add(LT_BUDGET_EST_ALLOCS, a.count);
	budget_add(LT_BUDGET_EST_BYTES, a.size);
}

/* Releases a found record; copies it to *saved when asked. */
static __always_inline void release_found(struct lt_alloc_key *key, struct lt_alloc *a, void *tier,
					  struct lt_alloc *saved)
{
	totals_sub(a);
	if (saved)
		*saved = *a;
	bpf_map_delete_elem(tier, key);
	stat_inc(LT_STAT_FREES);
}

/* Puts back a block released at realloc's entry when realloc failed and the block lives on. */
static __always_inline void restore(__u64 addr, const struct lt_alloc *saved)
{
	struct lt_alloc_key key = { .addr = addr, .tgid = current_tgid() };
	struct lt_heap_totals *t;
	void *tier = NULL;
	__u32 used = 0;

	if (alloc_insert(&key, saved, &tier, &used))
		return;
	/* Evicted while realloc ran, when this block was its last (released at realloc's entry). */
	t = totals_get(saved->stack_id);
	if (!t)
		return;
	__sync_fetch_and_add(&t->t.outstanding_bytes, saved->size);
	__sync_fetch_and_add(&t->t.outstanding_allocs, saved->count);
	lt_ages_add(&t->ages, saved->ts_ns, saved->size, saved->count);
	totals_changed(t, saved->stack_id);
}

#include "procs.bpf.h"

static __always_inline struct thread_state *thread_state(bool create)
{
	if (create && fault == LT_FAULT_THREAD_STATE)
		return NULL;
	return bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/* The uretprobe trampoline of this process: the return address a return probe puts in place. */
static __always_inline __u64 uprobe_trampoline(void)
{
	struct task_struct *task = bpf_get_current_task_btf();

	return (__u64)BPF_CORE_READ(task, mm, uprobes_state.xol_area, vaddr);
}

/*
 * Whether a call in flight is still running when a probe fires at stack pointer sp: its frame lies
 * at or above sp and still holds the return address it was entered with (or the trampoline a
 * return probe put there). A call left by an exception or longjmp never reaches its return or exit
 * probe; once the frame is gone, the next call at that depth overwrites its return address.
 */
static __always_inline bool call_alive(const struct call *c, __u64 sp)
{
	__u64 v;

	if (!c->entry_sp || sp > c->entry_sp ||
	    bpf_probe_read_user(&v, sizeof(v), (void *)c->entry_sp))
		return false;
	/* A return address is never 0; a process without a trampoline yet reads 0 as its address. */
	return v && (v == c->ret_addr || v == uprobe_trampoline());
}

/* Forgets a call in flight that ended without its return (or exit) probe. */
static __always_inline void retire(struct call *c)
{
	if (c->unwound)
		stat_inc(LT_STAT_UNWOUND_CALLS);
	else if (!c->outer)
		stat_inc(LT_STAT_MISSED_RETURNS);
	c->entry_sp = 0;
}

/* Frames below sp may never return (an exception or a longjmp starts): calls there are marked. */
static __always_inline void on_unwind(__u64 sp)
{
	struct thread_state *ts = thread_state(false);

	if (!ts)
		return;
	if (call_alive(&ts->cur, sp))
		ts->cur.unwound = 1;
	if (call_alive(&ts->xnew, sp))
		ts->xnew.unwound = 1;
}

/*
 * Whether the free whose entry stack pointer is sp was called by the allocator's own code, as
 * glibc does when a thread exits: it flushes the thread's cache (blocks the program freed already)
 * and frees the cache itself, which it allocated without malloc().
 */
static __always_inline bool freed_by_allocator(__u64 sp)
{
	__u32 tgid = current_tgid();
	struct lt_range *code = bpf_map_lookup_elem(&allocator_code, &tgid);
	__u64 ret;

	return code && !bpf_probe_read_user(&ret, sizeof(ret), (void *)sp) && ret >= code->start &&
	       ret < code->end;
}

/*
 * The counter for a free of a block never recorded in this process: a followed child freeing its
 * copy of a block its parent allocated (and still holds, for all leaktop knows) before the fork
 * is no loss and leaves the parent's figures alone; anything else is unmatched.
 */
static __always_inline __u32 unmatched_stat(struct lt_alloc_key key)
{
	struct lt_proc *p = bpf_map_lookup_elem(&procs, &key.tgid);

	void *tier;

	if (p && p->parent) {
		key.tgid = p->parent;
		if (alloc_find(&key, &tier))
			return LT_STAT_INHERITED_FREES;
	}
	return LT_STAT_UNMATCHED_FREES;
}

/*
 * free(p), operator delete(p). A hit in the allocation table needs nothing else: a free nested in
 * another entry point never finds its block, because the outer one (realloc, delete) released it
 * first. Only a miss asks whether it was nested, to count it as unmatched or not; with sampling,
 * misses are the rule (unsampled blocks) and cost that one lookup.
 */
static __always_inline void on_free(struct pt_regs *ctx, __u64 cookie, __u64 sp)
{
	struct lt_alloc_key key = { .addr = PT_REGS_PARM1(ctx), .tgid = current_tgid() };
	bool outer = LT_COOKIE_OUTER(cookie);
	struct thread_state *ts = NULL;
	void *tier = NULL;
	struct lt_alloc *a;

	if (!key.addr)
		return;
	a = alloc_find(&key, &tier);
	if (a && tier) {
		release_found(&key, a, tier, NULL);
	} else if (!sampling) {
		ts = thread_state(false);
		if (ts) {
			/* Inside (or tail-called from) an allocator call in flight: it accounts. */
			if (call_alive(&ts->cur, sp))
				return;
			/* The free() inside operator delete: counted at the delete already. */
			if (ts->deleted_ptr == key.addr && sp <= ts->deleted_sp) {
				/* Sized delete -> delete -> free: only the innermost ends the chain. */
				if (!outer)
					ts->deleted_ptr = 0;
				return;
			}
		}
		stat_inc(freed_by_allocator(sp) ? LT_STAT_ALLOCATOR_FREES : unmatched_stat(key));
	}
	if (outer) {
		if (!ts)
			ts = thread_state(true);
		if (ts) {
			ts->deleted_ptr = key.addr;
			ts->deleted_sp = sp;
		}
	}
}

/* The requested size and the pointer argument (realloc's old block, posix_memalign's result). */
static __always_inline __u64 call_size(struct pt_regs *ctx, __u32 kind, __u64 *ptr)
{
	switch (kind) {
	case LT_CALLOC:
		return PT_REGS_PARM1(ctx) * PT_REGS_PARM2(ctx);
	case LT_REALLOC:
		*ptr = PT_REGS_PARM1(ctx);
		return PT_REGS_PARM2(ctx);
	case LT_REALLOCARRAY:
		*ptr = PT_REGS_PARM1(ctx);
		return PT_REGS_PARM2(ctx) * PT_REGS_PARM3(ctx);
	case LT_MEMALIGN:
		return PT_REGS_PARM2(ctx);
	case LT_POSIX_MEMALIGN:
		*ptr = PT_REGS_PARM1(ctx);
		return PT_REGS_PARM3(ctx);
	case LT_PVALLOC:
		return (PT_REGS_PARM1(ctx) + page_size - 1) & ~(page_size - 1);
	default:
		return PT_REGS_PARM1(ctx);
	}
}

/*
 * realloc's old block, released at its entry, before the allocator can hand it to another thread;
 * restored at the return if realloc fails and leaves it in place.
 */
static __always_inline void release_old(struct call *c, __u64 ptr)
{
	struct lt_alloc_key key = { .addr = ptr, .tgid = current_tgid() };
	void *tier = NULL;
	struct lt_alloc *a = alloc_find(&key, &tier);

	if (a && tier) {
		release_found(&key, a, tier, &c->old);
		c->recorded_old = 1;
	} else if (!sampling) {
		stat_inc(unmatched_stat(key));
	}
}

/*
 * Fills c for a call that begins: its state lives until its return or exit probe. Its return
 * address is read only where it stays in place (an outer new, an exit-probed new: the stack is
 * taken from it, and call_alive() knows the call by it). Any other call has a return probe, and
 * the kernel puts the uretprobe trampoline in its place right after this program, which
 * call_alive() knows the call by instead; the read (about 50 ns) is saved. Should the kernel fail
 * to (no memory for its return instance), the return is not seen either way.
 */
static __always_inline void call_begin(struct pt_regs *ctx, struct call *c, __u64 cookie, __u64 sp,
				       __u64 size, __u64 ptr, bool sampled, __u64 rate)
{
	if (!(LT_COOKIE_OUTER(cookie) || LT_COOKIE_EXITS(cookie)) ||
	    bpf_probe_read_user(&c->ret_addr, sizeof(c->ret_addr), (void *)sp))
		c->ret_addr = 0;
	c->outer = LT_COOKIE_OUTER(cookie);
	c->sampled = sampled;
	c->rate = rate;
	c->unwound = 0;
	c->inner_sp = 0;
	c->stack_id = 0;
	c->entry_sp = sp;
	c->size = size;
	c->ptr_arg = ptr;
	c->kind = LT_COOKIE_KIND(cookie);
	c->fn = LT_COOKIE_FN(cookie);
}

/*
 * Entry of an operator new that ends at its exit probes. Returns 1: its return address is never
 * replaced. A new entered while another is alive above it is nested (a new_handler's), or the
 * first one's tail call (new[] -> new), whose exits are the first one's.
 */
static __always_inline int on_entry_xnew(struct pt_regs *ctx, struct thread_state *ts,
					 __u64 cookie, __u64 sp)
{
	struct call *c = &ts->xnew;
	__u64 size = PT_REGS_PARM1(ctx), rate = 0;
	bool sampled;

	if (c->entry_sp) {
		if (call_alive(c, sp) && !(sp == c->entry_sp && LT_COOKIE_FN(cookie) == c->fn))
			return 1;
		retire(c);
	}
	sampled = size >= min_size && size <= max_size && sample_decide(ts, size, &rate);
	call_begin(ctx, c, cookie, sp, size, 0, sampled, rate);
	return 1;
}

/*
 * Entry of any entry point. Returns 0 when the call's return must be seen, 1 when not (the session
 * program's answer to the kernel; the classic return probe fires regardless and finds no state).
 */
static __always_inline int on_entry(struct pt_regs *ctx, __u64 cookie)
{
	__u32 kind = LT_COOKIE_KIND(cookie);
	bool outer = LT_COOKIE_OUTER(cookie);
	__u64 sp = PT_REGS_SP(ctx) + LT_COOKIE_SP_ADJ(cookie);
	struct thread_state *ts;
	struct call *c;
	__u64 size, ptr = 0, rate = 0;
	bool sampled;

	if (kind == LT_FREE) {
		on_free(ctx, cookie, sp);
		return 1;
	}
	if (kind == LT_UNWIND) {
		on_unwind(sp);
		return 1;
	}
	ts = thread_state(true);
	if (!ts) {
		stat_inc(LT_STAT_THREAD_STATE_FULL);
		return 1;
	}
	if (LT_COOKIE_EXITS(cookie))
		return on_entry_xnew(ctx, ts, cookie, sp);
	c = &ts->cur;
	if (c->entry_sp) {
		/* The same entry point again at the same depth is a new call, not a tail call. */
		if (call_alive(c, sp) && !(sp == c->entry_sp && LT_COOKIE_FN(cookie) == c->fn)) {
			/* The first inner call of an outer new: its return records the block. */
			if (c->outer && !c->inner_sp && !outer) {
				c->inner_sp = sp;
				return 0;
			}
			return 1;
		}
		retire(c);
	}
	/* Tail-called by an exit-probed new: this return is that call's, and this call its block. */
	if (ts->xnew.entry_sp == sp && call_alive(&ts->xnew, sp))
		ts->xnew.entry_sp = 0;

	size = call_size(ctx, kind, &ptr);
	/* A delete whose allocator never calls free() leaves this set; the block may come back now. */
	ts->deleted_ptr = 0;
	c->recorded_old = 0;
	if ((kind == LT_REALLOC || kind == LT_REALLOCARRAY) && ptr)
		release_old(c, ptr);
	sampled = size >= min_size && size <= max_size && sample_decide(ts, size, &rate);
	/*
	 * These never call another entry point, so an unsampled call needs no state and no return:
	 * with session links, all it costs is this entry probe.
	 */
	if (!sampled && !outer &&
	    (kind == LT_MALLOC || kind == LT_CALLOC || kind == LT_POSIX_MEMALIGN ||
	     kind == LT_PVALLOC))
		return 1;
	call_begin(ctx, c, cookie, sp, size, ptr, sampled, rate);
	if (!outer)
		return 0;
	/*
	 * An outer new is recorded at its inner call's return, with the stack of its own entry; its
	 * own return address is never replaced.
	 */
	if (sampled)
		c->stack_id = lt_stack_capture(ctx, current_tgid(), c->ret_addr);
	return 1;
}

/*
 * The end of call c, with its return value ret: the block to record, or 0. Each program reaches
 * record_alloc (and the stack walk inlined in it) from one place only: the verifier walks every
 * inlined copy.
 */
static __always_inline __u64 call_block(struct call *c, __u64 ret)
{
	__u64 addr;

	c->entry_sp = 0;
	switch (c->kind) {
	case LT_POSIX_MEMALIGN:
		if ((int)ret != 0 || !c->ptr_arg ||
		    bpf_probe_read_user(&addr, sizeof(addr), (void *)c->ptr_arg))
			return 0;
		return addr;
	case LT_REALLOC:
	case LT_REALLOCARRAY:
		/* realloc(p, 0) freed p; any other NULL is a failure that left p in place. */
		if (!ret && c->size && c->recorded_old)
			restore(c->ptr_arg, &c->old);
		return ret;
	default:
		return ret;
	}
}

static __always_inline void on_return(struct pt_regs *ctx)
{
	struct thread_state *ts = thread_state(false);
	__u64 addr, ret = PT_REGS_RC(ctx), sp = PT_REGS_SP(ctx);
	struct call *c;

	/* Every return probe's hit, whatever it finds: its trap is part of the cost. */
	budget_add(LT_BUDGET_RETURNS, 1);
	if (!ts || !ts->cur.entry_sp)
		return;
	c = &ts->cur;
	/* After `ret` the stack pointer sits one slot above the entry's: else a nested call returns. */
	if (c->outer) {
		if (!c->inner_sp || sp != c->inner_sp + 8)
			return;
		/*
		 * A NULL here makes operator new throw (or retry through a new_handler, whose calls
		 * are then seen on their own): either way this call is over.
		 */
		c->entry_sp = 0;
		addr = ret;
	} else {
		if (sp != c->entry_sp + 8)
			return;
		addr = call_block(c, ret);
	}
	if (addr && c->sampled)
		record_alloc(ctx, addr, c->size, c->stack_id, 0, c->rate);
}

/*
 * A probe on a `ret` of an exit-probed operator new (or of a function it tail-calls): the block is
 * in rax, the stack pointer at the return address.
 */
static __always_inline void on_exit(struct pt_regs *ctx)
{
	struct thread_state *ts = thread_state(false);
	__u64 sp = PT_REGS_SP(ctx), addr;
	struct call *c;

	if (!ts || ts->xnew.entry_sp != sp)
		return;
	c = &ts->xnew;
	if (!call_alive(c, sp)) {
		retire(c);
		return;
	}
	addr = call_block(c, PT_REGS_RC(ctx));
	if (addr && c->sampled)
		record_alloc(ctx, addr, c->size, 0, c->ret_addr, c->rate);
}


/* An entry-type probe: an entry point's entry, or an exit probe on one of its `ret`s. */
static __always_inline void on_probe(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);

	if (LT_COOKIE_AT_EXIT(cookie))
		on_exit(ctx);
	else
		on_entry(ctx, cookie);
}

/* Classic uprobe links: one program per direction. */
SEC("uprobe")
int lt_entry(struct pt_regs *ctx)
{
	on_probe(ctx);
	return 0;
}

/* The same in uprobe_multi links: the entry-only probes of one object in one link. */
SEC("uprobe")
int lt_multi(struct pt_regs *ctx)
{
	on_probe(ctx);
	return 0;
}

SEC("uretprobe")
int lt_return(struct pt_regs *ctx)
{
	on_return(ctx);
	return 0;
}

/*
 * Session links (BPF_TRACE_UPROBE_SESSION): the same program at entry and return; at entry,
 * returning 1 tells the kernel not to stop at this call's return at all. The kernel runs a session
 * link's consumer for every process that hits its breakpoint, including ones not traced (a forked
 * child, a process another tracer probes there), without running the program: it then replaces
 * the return address. So sessions carry only entry points nothing can unwind through: the C
 * allocator functions and operator delete, never an operator new.
 */
SEC("uprobe")
int lt_session(struct pt_regs *ctx)
{
	__u64 cookie;

	if (bpf_session_is_return()) {
		on_return(ctx);
		return 0;
	}
	cookie = bpf_get_attach_cookie(ctx);
	return on_entry(ctx, cookie);
}

/* No-op programs at the same probe points: the benchmark's measure of the probe cost alone. */
SEC("uprobe")
int lt_empty(struct pt_regs *ctx)
{
	return 0;
}

/* Session twin: asks for the returns full tracking asks for (every allocation), none for frees. */
SEC("uprobe")
int lt_empty_session(struct pt_regs *ctx)
{
	return LT_COOKIE_KIND(bpf_get_attach_cookie(ctx)) == LT_FREE ? 1 : 0;
}

#include "release.bpf.h"
