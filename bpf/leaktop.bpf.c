// SPDX-License-Identifier: GPL-2.0
/* leaktop.bpf.c: uprobes on allocator entry points; live allocations and per-stack totals in maps. */
#include "vmlinux.h"
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
/* Mean bytes between samples; 0 records every allocation. */
const volatile __u64 sample_rate = 0;
const volatile __u32 g_table[LT_G_ENTRIES];
const volatile __u32 log2_table[LT_LOG2_ENTRIES];

/* Kernel 6.13+: entry and return of one call in one program (uprobe session links). */
extern bool bpf_session_is_return(void) __ksym __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1000000); /* --max-allocs */
	__type(key, struct lt_alloc_key);
	__type(value, struct lt_alloc);
} allocs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* --max-stacks */
	__type(key, __u64);
	__type(value, struct lt_totals);
} stack_totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* --max-stacks */
	__type(key, __u64);
	__type(value, struct lt_stack);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LT_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Too large for the BPF stack; one per CPU is enough because uprobe programs do not nest. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lt_stack);
} stack_scratch SEC(".maps");

/*
 * What one thread's allocator call in flight carries from its entry probe to its return probe.
 * entry_sp is the stack pointer at the function's first instruction (it points at the return
 * address); 0 when no call is in flight. A probe that fires with a lower or equal stack pointer runs
 * inside that call or was tail-called by it (operator new -> malloc, realloc -> free, reallocarray ->
 * realloc) and is not counted again. The cost: should a return probe ever be missed, calls at that
 * same depth are not seen until a shallower one resets the state (counted as missed_returns).
 */
struct thread_state {
	__u64 entry_sp;
	__u64 inner_sp;		/* outer new: entry stack pointer of the inner allocator call */
	__u64 stack_id;		/* outer new: the stack taken at its entry */
	__u64 size;
	__u64 ptr_arg;		/* realloc: the old pointer; posix_memalign: where the result goes */
	__u8 kind;
	__u8 outer;		/* an outer new: recorded at the inner allocator's return */
	__u8 sampled;		/* this call's block is recorded */
	__u8 recorded_old;	/* realloc: the old block was released at entry (restored on failure) */
	__u32 sampler_ready;	/* until_sample holds a drawn interval */
	struct lt_alloc old;	/* realloc: the released block, for that restore */
	__u64 deleted_ptr;	/* the pointer the last operator delete released... */
	__u64 deleted_sp;	/* ...and its entry stack pointer: its inner free() is not counted again */
	__s64 until_sample;	/* bytes this thread may still allocate before the next sample */
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
 */
static __always_inline __u64 round_random(__u64 q20)
{
	__u64 whole = q20 >> 20, frac = q20 & ((1ULL << 20) - 1);

	return whole + ((bpf_get_prandom_u32() & ((1U << 20) - 1)) < frac ? 1 : 0);
}

static __always_inline void sample_weights(__u64 size, __u64 *bytes, __u64 *count)
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
static __always_inline __s64 draw_gap(void)
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

/* Counts size against the thread's sampling budget; true when this allocation is sampled. */
static __always_inline bool sample_decide(struct thread_state *ts, __u64 size)
{
	if (!sample_rate)
		return true;
	/* p(0) = 0: an empty block is never a sample point's home. */
	if (!size)
		return false;
	if (!ts->sampler_ready) {
		ts->until_sample = draw_gap();
		ts->sampler_ready = 1;
	}
	ts->until_sample -= size;
	if (ts->until_sample > 0)
		return false;
	/* Memoryless: the next point lies an exponential gap past the end of this block. */
	ts->until_sample = draw_gap();
	return true;
}

static __always_inline struct lt_totals *totals_get(__u64 stack_id)
{
	static const struct lt_totals zero;
	struct lt_totals *t = bpf_map_lookup_elem(&stack_totals, &stack_id);

	if (t)
		return t;
	bpf_map_update_elem(&stack_totals, &stack_id, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&stack_totals, &stack_id);
}

/* Hashes the stack in the scratch buffer and stores it in the stack table; returns its id (0: lost). */
static __always_inline __u64 stack_store(struct lt_stack *st, __u32 nr, __u32 tgid)
{
	__u64 hash = 0xcbf29ce484222325ULL ^ tgid; /* FNV-1a */

	for (__u32 i = 0; i < LT_MAX_DEPTH; i++) {
		if (i >= nr)
			break;
		hash = (hash ^ st->ips[i]) * 0x100000001b3ULL;
	}
	if (!hash)
		hash = 1;
	if (bpf_map_lookup_elem(&stacks, &hash))
		return hash;
	st->tgid = tgid;
	st->nr_ips = nr;
	/* -EEXIST: another CPU stored the same stack first, which is as good. */
	if (bpf_map_update_elem(&stacks, &hash, st, BPF_NOEXIST) == -E2BIG) {
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
	__u32 nr = 1;

	st->ips[0] = PT_REGS_IP(ctx);
	for (__u32 i = 1; i < LT_MAX_DEPTH; i++) {
		if (!fp || (fp & 7))
			break;
		/* frame[0]: the caller's frame pointer; frame[1]: the return address */
		if (bpf_probe_read_user(frame, sizeof(frame), (void *)fp) || !frame[1])
			break;
		st->ips[i] = frame[1];
		nr = i + 1;
		if (frame[0] <= fp)
			break;
		fp = frame[0];
	}
	return nr;
}

#include "unwind.bpf.h"

/*
 * Captures the user stack. At a return probe the walk starts at the allocation site itself. At an
 * entry probe (ret_addr set) it starts inside the allocator, whose frame is not set up: the CFI
 * tables know its frame at the probe point and step over it; the frame-pointer walk replaces the
 * first frame by the return address read at the entry stack pointer.
 */
static __always_inline __u64 stack_capture(struct pt_regs *ctx, __u32 tgid, __u64 ret_addr)
{
	__u32 zero = 0;
	struct lt_stack *st = bpf_map_lookup_elem(&stack_scratch, &zero);
	__u32 nr = 0;

	if (!st)
		return 0;
	if (unwind_mode != LT_UNWIND_FP)
		nr = unwind_walk(ctx, st, tgid, ret_addr != 0);
	if (!nr) {
		nr = walk_frames(ctx, st);
		if (ret_addr)
			st->ips[0] = ret_addr;
	}
	return stack_store(st, nr, tgid);
}

static __always_inline void totals_sub(const struct lt_alloc *a)
{
	struct lt_totals *t = bpf_map_lookup_elem(&stack_totals, &a->stack_id);

	if (!t)
		return;
	__sync_fetch_and_add(&t->outstanding_bytes, -(__s64)a->size);
	__sync_fetch_and_add(&t->outstanding_allocs, -(__s64)a->count);
}

/* Records a block. stack_id: taken at an outer entry, or 0 to capture the stack now (at a return). */
static __always_inline void record_alloc(struct pt_regs *ctx, __u64 addr, __u64 size,
					 __u64 stack_id)
{
	struct lt_alloc_key key = { .addr = addr, .tgid = current_tgid() };
	struct lt_alloc a = { .size = size, .count = 1 };
	struct lt_alloc *old;
	struct lt_totals *t;
	long err;

	if (sample_rate)
		sample_weights(size, &a.size, &a.count);
	a.stack_id = stack_id ? stack_id : stack_capture(ctx, key.tgid, 0);
	t = totals_get(a.stack_id);
	if (!t) {
		stat_inc(LT_STAT_TOTALS_FULL);
		return;
	}
	a.ts_ns = bpf_ktime_get_ns();
	err = bpf_map_update_elem(&allocs, &key, &a, BPF_NOEXIST);
	if (err == -EEXIST) {
		/* The block's free was never seen (a path we do not probe): retire the stale record. */
		old = bpf_map_lookup_elem(&allocs, &key);
		if (old)
			totals_sub(old);
		err = bpf_map_update_elem(&allocs, &key, &a, BPF_ANY);
	}
	if (err) {
		stat_inc(LT_STAT_DROPPED_ALLOCS);
		return;
	}
	__sync_fetch_and_add(&t->outstanding_bytes, a.size);
	__sync_fetch_and_add(&t->outstanding_allocs, a.count);
	__sync_fetch_and_add(&t->allocs, a.count);
	__sync_fetch_and_add(&t->alloc_bytes, a.size);
	stat_inc(LT_STAT_ALLOCS);
}

/* Releases a found record; copies it to *saved when asked. */
static __always_inline void release_found(struct lt_alloc_key *key, struct lt_alloc *a,
					  struct lt_alloc *saved)
{
	totals_sub(a);
	if (saved)
		*saved = *a;
	bpf_map_delete_elem(&allocs, key);
	stat_inc(LT_STAT_FREES);
}

/* Puts back a block released at realloc's entry when realloc failed and the block lives on. */
static __always_inline void restore(__u64 addr, const struct lt_alloc *saved)
{
	struct lt_alloc_key key = { .addr = addr, .tgid = current_tgid() };
	struct lt_totals *t;

	if (bpf_map_update_elem(&allocs, &key, saved, BPF_NOEXIST))
		return;
	t = bpf_map_lookup_elem(&stack_totals, &saved->stack_id);
	if (!t)
		return;
	__sync_fetch_and_add(&t->outstanding_bytes, saved->size);
	__sync_fetch_and_add(&t->outstanding_allocs, saved->count);
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
	struct lt_alloc *a;

	if (!key.addr)
		return;
	a = bpf_map_lookup_elem(&allocs, &key);
	if (a) {
		release_found(&key, a, NULL);
	} else if (!sample_rate) {
		ts = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0, 0);
		if (ts) {
			/* Inside (or tail-called from) an allocator call in flight: it accounts. */
			if (ts->entry_sp && sp <= ts->entry_sp)
				return;
			/* The free() inside operator delete: counted at the delete already. */
			if (ts->deleted_ptr == key.addr && sp <= ts->deleted_sp) {
				/* Sized delete -> delete -> free: only the innermost ends the chain. */
				if (!outer)
					ts->deleted_ptr = 0;
				return;
			}
		}
		stat_inc(LT_STAT_UNMATCHED_FREES);
	}
	if (outer) {
		if (!ts)
			ts = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0,
						  BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (ts) {
			ts->deleted_ptr = key.addr;
			ts->deleted_sp = sp;
		}
	}
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
	__u64 size, ptr = 0;
	bool sampled, leaf;

	if (kind == LT_FREE) {
		on_free(ctx, cookie, sp);
		return 1;
	}

	ts = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!ts) {
		stat_inc(LT_STAT_THREAD_STATE_FULL);
		return 1;
	}
	if (ts->entry_sp) {
		/*
		 * Nested inside an allocator call in flight, or tail-called by it at the same stack
		 * pointer (reallocarray -> realloc -> malloc): the outer call's state covers this one.
		 */
		if (sp <= ts->entry_sp) {
			/* The first inner call of an outer new: its return records the block. */
			if (ts->outer && !ts->inner_sp && !outer) {
				ts->inner_sp = sp;
				return 0;
			}
			return 1;
		}
		/* The call in flight never returned through its return probe. */
		if (!ts->outer)
			stat_inc(LT_STAT_MISSED_RETURNS);
		ts->entry_sp = 0;
	}

	switch (kind) {
	case LT_CALLOC:
		size = PT_REGS_PARM1(ctx) * PT_REGS_PARM2(ctx);
		break;
	case LT_REALLOC:
		ptr = PT_REGS_PARM1(ctx);
		size = PT_REGS_PARM2(ctx);
		break;
	case LT_REALLOCARRAY:
		ptr = PT_REGS_PARM1(ctx);
		size = PT_REGS_PARM2(ctx) * PT_REGS_PARM3(ctx);
		break;
	case LT_MEMALIGN:
		size = PT_REGS_PARM2(ctx);
		break;
	case LT_POSIX_MEMALIGN:
		ptr = PT_REGS_PARM1(ctx);
		size = PT_REGS_PARM3(ctx);
		break;
	case LT_PVALLOC:
		size = (PT_REGS_PARM1(ctx) + page_size - 1) & ~(page_size - 1);
		break;
	default:
		size = PT_REGS_PARM1(ctx);
		break;
	}
	/* A delete whose allocator never calls free() leaves this set; the block may come back now. */
	ts->deleted_ptr = 0;

	ts->recorded_old = 0;
	if ((kind == LT_REALLOC || kind == LT_REALLOCARRAY) && ptr) {
		/*
		 * Released now, before the allocator can hand the old block to another thread, and
		 * restored at the return if realloc fails and leaves it in place.
		 */
		struct lt_alloc_key key = { .addr = ptr, .tgid = current_tgid() };
		struct lt_alloc *a = bpf_map_lookup_elem(&allocs, &key);

		if (a) {
			release_found(&key, a, &ts->old);
			ts->recorded_old = 1;
		} else if (!sample_rate) {
			stat_inc(LT_STAT_UNMATCHED_FREES);
		}
	}
	sampled = size >= min_size && size <= max_size && sample_decide(ts, size);
	/*
	 * These never call another entry point, so an unsampled call needs no state and no return:
	 * with session links, all it costs is this entry probe.
	 */
	leaf = !outer && (kind == LT_MALLOC || kind == LT_CALLOC || kind == LT_POSIX_MEMALIGN ||
			  kind == LT_PVALLOC);
	if (!sampled && leaf)
		return 1;

	ts->outer = outer;
	ts->sampled = sampled;
	ts->inner_sp = 0;
	ts->stack_id = 0;
	if (outer && sampled) {
		__u64 ret_addr;

		if (bpf_probe_read_user(&ret_addr, sizeof(ret_addr), (void *)sp))
			ret_addr = 0;
		ts->stack_id = stack_capture(ctx, current_tgid(), ret_addr);
	}
	ts->entry_sp = sp;
	ts->size = size;
	ts->ptr_arg = ptr;
	ts->kind = kind;
	/* An outer new is finished at its inner call's return, never at its own. */
	return outer ? 1 : 0;
}

static __always_inline void on_return(struct pt_regs *ctx)
{
	struct thread_state *ts;
	__u64 ret, addr;

	ts = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0, 0);
	if (!ts || !ts->entry_sp)
		return;
	ret = PT_REGS_RC(ctx);
	/* After `ret` the stack pointer sits one slot above the entry's: else a nested call returns. */
	if (ts->outer) {
		if (!ts->inner_sp || PT_REGS_SP(ctx) != ts->inner_sp + 8)
			return;
		/*
		 * A NULL here makes operator new throw (or retry through a new_handler, whose calls
		 * are then seen on their own): either way this call is over.
		 */
		ts->entry_sp = 0;
		if (ret && ts->sampled)
			record_alloc(ctx, ret, ts->size, ts->stack_id);
		return;
	}
	if (PT_REGS_SP(ctx) != ts->entry_sp + 8)
		return;
	ts->entry_sp = 0;

	switch (ts->kind) {
	case LT_POSIX_MEMALIGN:
		if ((int)ret != 0 || !ts->ptr_arg)
			return;
		if (bpf_probe_read_user(&addr, sizeof(addr), (void *)ts->ptr_arg))
			return;
		break;
	case LT_REALLOC:
	case LT_REALLOCARRAY:
		if (!ret) {
			/* realloc(p, 0) freed p; any other NULL is a failure that left p in place. */
			if (ts->size && ts->recorded_old)
				restore(ts->ptr_arg, &ts->old);
			return;
		}
		addr = ret;
		break;
	default:
		addr = ret;
		break;
	}
	if (addr && ts->sampled)
		record_alloc(ctx, addr, ts->size, 0);
}

/* Classic uprobe links: one program per direction. */
SEC("uprobe")
int lt_entry(struct pt_regs *ctx)
{
	on_entry(ctx, bpf_get_attach_cookie(ctx));
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
 * returning 1 tells the kernel not to stop at this call's return at all.
 */
SEC("uprobe")
int lt_session(struct pt_regs *ctx)
{
	if (bpf_session_is_return()) {
		on_return(ctx);
		return 0;
	}
	return on_entry(ctx, bpf_get_attach_cookie(ctx));
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
