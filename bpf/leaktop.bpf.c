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
	__u16 kind;
	__u16 outer;		/* an outer new: recorded at the inner allocator's return */
	__u32 recorded_old;	/* realloc: the old block was released at entry (restored on failure) */
	struct lt_alloc old;	/* realloc: the released block, for that restore */
	__u64 deleted_ptr;	/* the pointer the last operator delete released... */
	__u64 deleted_sp;	/* ...and its entry stack pointer: its inner free() is not counted again */
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

/*
 * Captures the user stack. At a return probe the kernel's walk starts at the allocation site
 * itself. At an entry probe (ret_addr set) it starts inside the allocator, whose frame is not set up,
 * so the first frame is replaced by the return address read at the entry stack pointer.
 */
static __always_inline __u64 stack_capture(struct pt_regs *ctx, __u32 tgid, __u64 ret_addr)
{
	__u32 zero = 0;
	struct lt_stack *st = bpf_map_lookup_elem(&stack_scratch, &zero);
	__u32 nr;

	if (!st)
		return 0;
	nr = walk_frames(ctx, st);
	if (!nr) {
		stat_inc(LT_STAT_LOST_STACKS);
		return 0;
	}
	if (ret_addr) {
		st->ips[0] = ret_addr;
		/* Kernels that add the caller themselves at a function's first instruction. */
		if (nr > 1 && st->ips[1] == ret_addr) {
			for (__u32 i = 1; i + 1 < LT_MAX_DEPTH; i++) {
				if (i + 1 >= nr)
					break;
				__u64 next = st->ips[i + 1];

				/* Keeps clang from turning the loop into memmove, which BPF lacks. */
				asm volatile("" : "+r"(next));
				st->ips[i] = next;
			}
			nr--;
			if (nr < LT_MAX_DEPTH)
				st->ips[nr] = 0;
		}
	}
	return stack_store(st, nr, tgid);
}

static __always_inline void totals_sub(const struct lt_alloc *a)
{
	struct lt_totals *t = bpf_map_lookup_elem(&stack_totals, &a->stack_id);

	if (!t)
		return;
	__sync_fetch_and_add(&t->outstanding_bytes, -(__s64)a->size);
	__sync_fetch_and_add(&t->outstanding_allocs, -1);
}

/* Records a block. stack_id: taken at an outer entry, or 0 to capture the stack now (at a return). */
static __always_inline void record_alloc(struct pt_regs *ctx, __u64 addr, __u64 size,
					 __u64 stack_id)
{
	struct lt_alloc_key key = { .addr = addr, .tgid = bpf_get_current_pid_tgid() >> 32 };
	struct lt_alloc a = { .size = size };
	struct lt_alloc *old;
	struct lt_totals *t;
	long err;

	if (size < min_size || size > max_size)
		return;
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
	__sync_fetch_and_add(&t->outstanding_bytes, size);
	__sync_fetch_and_add(&t->outstanding_allocs, 1);
	__sync_fetch_and_add(&t->allocs, 1);
	__sync_fetch_and_add(&t->alloc_bytes, size);
	stat_inc(LT_STAT_ALLOCS);
}

/* Releases the record of addr; copies it to *saved when asked. Returns 0, or -ENOENT when unseen. */
static __always_inline int release(__u32 tgid, __u64 addr, struct lt_alloc *saved)
{
	struct lt_alloc_key key = { .addr = addr, .tgid = tgid };
	struct lt_alloc *a = bpf_map_lookup_elem(&allocs, &key);

	if (!a) {
		stat_inc(LT_STAT_UNMATCHED_FREES);
		return -ENOENT;
	}
	totals_sub(a);
	if (saved)
		*saved = *a;
	bpf_map_delete_elem(&allocs, &key);
	stat_inc(LT_STAT_FREES);
	return 0;
}

/* Puts back a block released at realloc's entry when realloc failed and the block lives on. */
static __always_inline void restore(__u32 tgid, __u64 addr, const struct lt_alloc *saved)
{
	struct lt_alloc_key key = { .addr = addr, .tgid = tgid };
	struct lt_totals *t;

	if (bpf_map_update_elem(&allocs, &key, saved, BPF_NOEXIST))
		return;
	t = bpf_map_lookup_elem(&stack_totals, &saved->stack_id);
	if (!t)
		return;
	__sync_fetch_and_add(&t->outstanding_bytes, saved->size);
	__sync_fetch_and_add(&t->outstanding_allocs, 1);
}

static __always_inline int on_free(struct pt_regs *ctx, __u64 cookie, __u64 sp)
{
	__u64 addr = PT_REGS_PARM1(ctx);
	struct thread_state *ts;
	__u32 tgid;

	if (!addr)
		return 0;
	ts = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0,
				  LT_COOKIE_OUTER(cookie) ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	if (ts) {
		/* Inside (or tail-called from) an allocator call in flight: that call accounts for it. */
		if (ts->entry_sp && sp <= ts->entry_sp)
			return 0;
		/* The free() inside operator delete: counted at the delete already. */
		if (ts->deleted_ptr == addr && sp <= ts->deleted_sp) {
			/* Sized delete -> delete -> free: only the innermost ends the chain. */
			if (!LT_COOKIE_OUTER(cookie))
				ts->deleted_ptr = 0;
			return 0;
		}
	}
	tgid = bpf_get_current_pid_tgid() >> 32;
	release(tgid, addr, NULL);
	if (ts && LT_COOKIE_OUTER(cookie)) {
		ts->deleted_ptr = addr;
		ts->deleted_sp = sp;
	}
	return 0;
}

SEC("uprobe")
int lt_entry(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 kind = LT_COOKIE_KIND(cookie);
	__u64 sp = PT_REGS_SP(ctx) + LT_COOKIE_SP_ADJ(cookie);
	struct thread_state *ts;
	__u64 size, ptr = 0;

	if (kind == LT_FREE)
		return on_free(ctx, cookie, sp);

	ts = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!ts) {
		stat_inc(LT_STAT_THREAD_STATE_FULL);
		return 0;
	}
	if (ts->entry_sp) {
		/*
		 * Nested inside an allocator call in flight, or tail-called by it at the same stack
		 * pointer (reallocarray -> realloc -> malloc): the outer call's state covers this one.
		 */
		if (sp <= ts->entry_sp) {
			/* The first inner call of an outer new: its return records the block. */
			if (ts->outer && !ts->inner_sp && !LT_COOKIE_OUTER(cookie))
				ts->inner_sp = sp;
			return 0;
		}
		/* The call in flight never returned through its return probe. */
		if (!ts->outer)
			stat_inc(LT_STAT_MISSED_RETURNS);
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

	ts->recorded_old = 0;
	if ((kind == LT_REALLOC || kind == LT_REALLOCARRAY) && ptr) {
		/*
		 * Released now, before the allocator can hand the old block to another thread, and
		 * restored at the return if realloc fails and leaves it in place.
		 */
		ts->recorded_old =
			release(bpf_get_current_pid_tgid() >> 32, ptr, &ts->old) == 0 ? 1 : 0;
	} else if (size < min_size || size > max_size) {
		ts->entry_sp = 0;
		return 0;
	}
	/* A delete whose allocator never calls free() leaves this set; the block may come back now. */
	ts->deleted_ptr = 0;
	ts->outer = LT_COOKIE_OUTER(cookie);
	ts->inner_sp = 0;
	ts->stack_id = 0;
	if (ts->outer) {
		__u64 ret_addr;

		if (bpf_probe_read_user(&ret_addr, sizeof(ret_addr), (void *)sp))
			ret_addr = 0;
		ts->stack_id = stack_capture(ctx, bpf_get_current_pid_tgid() >> 32, ret_addr);
	}
	ts->entry_sp = sp;
	ts->size = size;
	ts->ptr_arg = ptr;
	ts->kind = kind;
	return 0;
}

SEC("uretprobe")
int lt_return(struct pt_regs *ctx)
{
	struct thread_state *ts;
	__u64 ret, addr;

	ts = bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0, 0);
	if (!ts || !ts->entry_sp)
		return 0;
	ret = PT_REGS_RC(ctx);
	/* After `ret` the stack pointer sits one slot above the entry's: else a nested call returns. */
	if (ts->outer) {
		if (!ts->inner_sp || PT_REGS_SP(ctx) != ts->inner_sp + 8)
			return 0;
		/*
		 * A NULL here makes operator new throw (or retry through a new_handler, whose calls
		 * are then seen on their own): either way this call is over.
		 */
		ts->entry_sp = 0;
		if (ret)
			record_alloc(ctx, ret, ts->size, ts->stack_id);
		return 0;
	}
	if (PT_REGS_SP(ctx) != ts->entry_sp + 8)
		return 0;
	ts->entry_sp = 0;

	switch (ts->kind) {
	case LT_POSIX_MEMALIGN:
		if ((int)ret != 0 || !ts->ptr_arg)
			return 0;
		if (bpf_probe_read_user(&addr, sizeof(addr), (void *)ts->ptr_arg))
			return 0;
		break;
	case LT_REALLOC:
	case LT_REALLOCARRAY:
		if (!ret) {
			/* realloc(p, 0) freed p; any other NULL is a failure that left p in place. */
			if (ts->size && ts->recorded_old)
				restore(bpf_get_current_pid_tgid() >> 32, ts->ptr_arg, &ts->old);
			return 0;
		}
		addr = ret;
		break;
	default:
		addr = ret;
		break;
	}
	if (!addr)
		return 0;
	record_alloc(ctx, addr, ts->size, 0);
	return 0;
}

/* No-op programs at the same probe points: the benchmark's measure of the probe cost alone. */
SEC("uprobe")
int lt_empty(struct pt_regs *ctx)
{
	return 0;
}
