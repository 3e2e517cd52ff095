// SPDX-License-Identifier: GPL-2.0
/*
 * track.bpf.c: --track faults (pages of anonymous memory made resident), mmap (anonymous
 * mappings), per user stack, and kernel (the kernel's allocations, per kernel stack followed by
 * the allocating task's user stack), and their releases. A BPF object of its own, loaded only when asked:
 * the heap's probes never run this code.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "leaktop.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by user space before load. */
const volatile __u32 all_procs = 0;	/* -a: every process but leaktop */
const volatile __u32 self_tgid = 0;	/* leaktop: never counted */
const volatile __u64 page_size = 4096;
const volatile __u32 kinds = 0;		/* LT_TRACK_BIT()s */
const volatile __u32 fault = LT_FAULT_NONE; /* enum lt_fault (tests only) */

#define FAULTS (kinds & LT_TRACK_BIT(LT_TRACK_FAULTS))
#define KERNEL (kinds & LT_TRACK_BIT(LT_TRACK_KERNEL))
#define MMAPS (kinds & LT_TRACK_BIT(LT_TRACK_MMAP))

#define EBUSY 16

/* x86 page fault error code bits */
#define PF_WRITE 0x2
/* The end of user space on x86-64 (4-level page tables): faults above are the kernel's own. */
#define USER_END 0x00007ffffffff000ULL
#define PF_KTHREAD 0x00200000

/* syscall numbers (x86-64) */
#define NR_MMAP 9
#define NR_MUNMAP 11
#define NR_BRK 12
#define NR_MREMAP 25
#define NR_MADVISE 28
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
/* madvise advice that drops pages */
#define MADV_DONTNEED 4
#define MADV_FREE 8
#define MADV_REMOVE 9
#define MADV_DONTNEED_LOCKED 24

/* A release range longer than this (in pages) is swept through the page table instead. */
#define RANGE_LOOP_MAX 65536

/* The traced processes: user space reuses the heap tracer's map (it follows forks there). */
#include "procs_map.bpf.h"

/*
 * The tables below grow with use (no preallocation), but for those the kernel kind writes at
 * kmalloc: an insert that allocates would be traced in turn (user space preallocates the stacks
 * and totals only when --track kernel is asked).
 */

/* Processes with something recorded: their generation and program break. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct lt_track_proc);
} track_procs SEC(".maps");

/* Each resident page recorded -> its stack id (sized by user space: --max-allocs). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, struct lt_track_key);
	__type(value, __u64);
} track_pages SEC(".maps");

/* An anonymous mapping (mmap), keyed by its start: its length and stack. */
struct track_map {
	__u64 len;
	__u64 stack_id;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, struct lt_track_key);
	__type(value, struct track_map);
} track_maps SEC(".maps");

/* Per stack id: its figures and its stack (sized by user space: --max-stacks). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct lt_totals);
} track_totals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct lt_track_stack);
} track_stacks SEC(".maps");

/* What no stack could be stored for, per kind: stack id = the kind (ids below LT_TRACK_MAX). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LT_TRACK_MAX);
	__type(key, __u32);
	__type(value, struct lt_totals);
} track_unknown SEC(".maps");

/* Processes that exited or exec'd (tgid << 32 | gen): user space drops their pages and stacks. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} track_exits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LT_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} track_stats SEC(".maps");

/*
 * A stack is too large for the BPF stack. Tracepoint programs do not nest on one CPU, and run
 * with preemption off (the tracepoint's own guard); the end of a mapping call (call_end(), a task
 * work) has a slot of its own: it runs with migration disabled only (kernel/bpf/helpers.c,
 * bpf_task_work_callback()), so another task's call_end may preempt it on the CPU. That slot is
 * taken by an atomic exchange (call_scratch_busy); a call_end that finds it taken counts its
 * stack lost.
 */
#define SCRATCH_CALL 2
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);	/* [1]: the user half of a kernel stack */
	__type(key, __u32);
	__type(value, struct lt_track_stack);
} track_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} call_scratch_busy SEC(".maps");

static __always_inline void stat_inc(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&track_stats, &stat);

	/* Atomic, though per CPU: a call's end (a task work) may be preempted mid-add. */
	if (v)
		__sync_fetch_and_add(v, 1);
}

/* The process's generation: its start time and exec count (an exec empties its memory). */
static __always_inline __u32 gen_of(struct task_struct *task)
{
	return (__u32)(BPF_CORE_READ(task, group_leader, start_time) >> 10) +
	       (__u32)task->self_exec_id * 0x9e3779b9u;
}

static __always_inline struct lt_track_proc *proc_of(__u32 tgid, struct task_struct *task)
{
	struct lt_track_proc *p = bpf_map_lookup_elem(&track_procs, &tgid), np = {};

	if (p)
		return p;
	np.gen = gen_of(task);
	np.brk = BPF_CORE_READ(task, mm, brk);
	bpf_map_update_elem(&track_procs, &tgid, &np, BPF_NOEXIST);
	return bpf_map_lookup_elem(&track_procs, &tgid);
}

static __always_inline struct lt_totals *totals_of(__u64 id)
{
	__u32 k = (__u32)id;

	return id < LT_TRACK_MAX ? bpf_map_lookup_elem(&track_unknown, &k)
				 : bpf_map_lookup_elem(&track_totals, &id);
}

/*
 * The stack in st (its fields set) under its id, with figures of zero when new: the id, or the
 * kind (its unknown stack) when the tables have no room.
 */
static __always_inline __u64 store_stack(struct lt_track_stack *st)
{
	struct lt_totals zero_totals = {};
	__u32 kind = st->kind;
	__u64 id;

	id = lt_stack_hash(st->tgid, st->exec_id, st->gen, st->ips, st->nr_ips) ^
	     ((__u64)kind << 60);
	if (id < LT_TRACK_MAX)
		id += LT_TRACK_MAX;
	if (bpf_map_lookup_elem(&track_totals, &id))
		return id;
	if (bpf_map_update_elem(&track_stacks, &id, st, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&track_stacks, &id)) {
		stat_inc(LT_STAT_TRACK_LOST_STACKS);
		stat_inc(LT_STAT_TRACK_STACK_FULL);
		return kind;
	}
	if (bpf_map_update_elem(&track_totals, &id, &zero_totals, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&track_totals, &id)) {
		bpf_map_delete_elem(&track_stacks, &id);
		stat_inc(LT_STAT_TRACK_LOST_STACKS);
		stat_inc(LT_STAT_TRACK_STACK_FULL);
		return kind;
	}
	return id;
}

/*
 * The current task's user stack as a stack id of kind, stored with its figures; the kind itself
 * (the unknown stack of that kind) when it cannot be taken or stored. ctx: a tracepoint's; NULL at
 * the end of a mapping call (call_end()), which has none. first, when not 0, replaces ips[0]: the
 * faulting instruction + 1 (so that the symbolizer's return-address rule, which looks up
 * address - 1, names that very instruction), or, at a syscall's end, the return address at the
 * user stack pointer (libc's wrappers keep no frame: ips[0] is in the wrapper, and the frame
 * pointer walk goes on from the wrapper's caller's caller).
 */
static __always_inline __u64 stack_of(void *ctx, struct task_struct *task, __u32 tgid, __u32 gen,
				      __u32 kind, __u64 first)
{
	struct lt_track_stack *st;
	__u32 slot = ctx ? 0 : SCRATCH_CALL, zero = 0;
	__u64 *busy = NULL, id;
	long n;

	st = bpf_map_lookup_elem(&track_scratch, &slot);
	if (!st)
		return kind;
	if (ctx) {
		n = bpf_get_stack(ctx, st->ips, sizeof(st->ips), BPF_F_USER_STACK);
	} else {
		busy = bpf_map_lookup_elem(&call_scratch_busy, &zero);
		/* The fault leaves the word alone: the slot only looks taken. */
		if (!busy || fault == LT_FAULT_SCRATCH_BUSY || __sync_lock_test_and_set(busy, 1)) {
			stat_inc(LT_STAT_TRACK_LOST_STACKS);
			return kind;
		}
		n = bpf_get_task_stack(task, st->ips, sizeof(st->ips), BPF_F_USER_STACK);
	}
	if (n <= 0) {
		stat_inc(LT_STAT_TRACK_LOST_STACKS);
		id = kind;
		goto out;
	}
	st->tgid = tgid;
	st->nr_ips = (__u32)n / 8;
	st->kind = kind;
	st->exec_id = (__u32)task->self_exec_id;
	st->gen = gen;
	st->pad = 0;
	if (first)
		st->ips[0] = first;
	id = store_stack(st);
out:
	if (busy)
		*busy = 0;
	return id;
}

/* Outstanding figures move by bytes and blocks; a new allocation (alloc) counts since attach too. */
static __always_inline void totals_change(__u64 id, __s64 bytes, __s64 blocks, bool alloc)
{
	struct lt_totals *t = totals_of(id);

	if (!t)
		return;
	__sync_fetch_and_add(&t->outstanding_bytes, bytes);
	__sync_fetch_and_add(&t->outstanding_allocs, blocks);
	if (!alloc)
		return;
	__sync_fetch_and_add(&t->allocs, 1);
	__sync_fetch_and_add(&t->alloc_bytes, bytes);
	t->last_alloc_ns = bpf_ktime_get_ns();
}

static __always_inline void totals_add(__u64 id, __u64 bytes)
{
	totals_change(id, (__s64)bytes, 1, true);
}

static __always_inline void totals_sub(__u64 id, __u64 bytes)
{
	totals_change(id, -(__s64)bytes, -1, false);
}

static __always_inline bool traced(__u32 tgid)
{
	if (tgid == self_tgid)
		return false;
	return all_procs || bpf_map_lookup_elem(&procs, &tgid);
}

struct vma_probe {
	bool anon;
};

static long vma_is_anon(struct task_struct *task, struct vm_area_struct *vma, void *ctx)
{
	((struct vma_probe *)ctx)->anon = !vma->vm_file;
	return 0;
}

/*
 * A write fault at addr of the current task: a page of anonymous memory made resident, when its
 * mapping has no file and the page is not recorded yet (a read fault maps the shared zero page;
 * the write that follows is the one that takes memory).
 */
static __always_inline void on_fault(void *ctx, __u64 addr, __u64 error_code, __u64 first)
{
	struct task_struct *task;
	struct lt_track_proc *p;
	struct lt_track_key key;
	struct vma_probe vp = {};
	__u32 tgid;
	long err;
	__u64 id;

	if (!(error_code & PF_WRITE) || addr >= USER_END)
		return;
	tgid = bpf_get_current_pid_tgid() >> 32;
	if (!traced(tgid))
		return;
	task = bpf_get_current_task_btf();
	if (task->flags & PF_KTHREAD)
		return;
	p = proc_of(tgid, task);
	if (!p) {
		stat_inc(LT_STAT_TRACK_TABLE_FULL);
		return;
	}
	key.addr = addr & ~(page_size - 1);
	key.tgid = tgid;
	key.gen = p->gen;
	if (bpf_map_lookup_elem(&track_pages, &key))
		return;
	err = bpf_find_vma(task, addr, vma_is_anon, &vp, 0);
	if (err == -EBUSY)
		stat_inc(LT_STAT_TRACK_VMA_BUSY);
	/* -ENOENT: below a stack's mapping (the fault grows it) or in none (the fault fails) */
	if (err)
		return;
	if (!vp.anon)
		return;
	id = stack_of(ctx, task, tgid, key.gen, LT_TRACK_FAULTS, first);
	if (bpf_map_update_elem(&track_pages, &key, &id, BPF_NOEXIST)) {
		/* Another thread's fault on the same page got there first: no loss. */
		if (!bpf_map_lookup_elem(&track_pages, &key))
			stat_inc(LT_STAT_TRACK_TABLE_FULL);
		return;
	}
	totals_add(id, page_size);
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(lt_fault_user, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	on_fault(ctx, address, error_code, regs->ip + 1);
	return 0;
}

/* The kernel writing into a process's fresh memory for it (read(2) into a new buffer, say). */
SEC("tp_btf/page_fault_kernel")
int BPF_PROG(lt_fault_kernel, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
	on_fault(ctx, address, error_code, 0);
	return 0;
}

/* --- releases */

struct range_ctx {
	struct lt_track_key key;	/* tgid, gen; addr: the range's start */
	__u64 end;
	__u64 to;			/* a move's destination (mremap); 0: a release */
};

static __always_inline void release_key(struct lt_track_key *k)
{
	__u64 *idp = bpf_map_lookup_elem(&track_pages, k), id;

	if (!idp)
		return;
	id = *idp;
	if (bpf_map_delete_elem(&track_pages, k))
		return; /* released by another thread meanwhile */
	totals_sub(id, page_size);
}

static long release_step(__u64 i, void *data)
{
	struct range_ctx *c = data;
	struct lt_track_key k = c->key;

	k.addr += i * page_size;
	if (k.addr >= c->end)
		return 1;
	release_key(&k);
	return 0;
}

static long sweep_step(void *map, struct lt_track_key *k, __u64 *id, void *data)
{
	struct range_ctx *c = data;
	__u64 sid = *id;

	if (k->tgid != c->key.tgid || k->gen != c->key.gen || k->addr < c->key.addr ||
	    k->addr >= c->end)
		return 0;
	if (!bpf_map_delete_elem(&track_pages, k))
		totals_sub(sid, page_size);
	return 0;
}

/* Releases the pages recorded in [start, end) of the process. */
static __always_inline void release_range(__u32 tgid, __u32 gen, __u64 start, __u64 end)
{
	struct range_ctx c = { .key = { .tgid = tgid, .gen = gen }, .end = end };
	__u64 pages;

	c.key.addr = start & ~(page_size - 1);
	if (end <= c.key.addr)
		return;
	pages = (end - c.key.addr + page_size - 1) / page_size;
	if (pages <= RANGE_LOOP_MAX)
		bpf_loop(pages, release_step, &c, 0);
	else
		bpf_for_each_map_elem(&track_pages, sweep_step, &c, 0);
}

static long move_step(__u64 i, void *data)
{
	struct range_ctx *c = data;
	struct lt_track_key from = c->key, to = c->key;
	__u64 *idp, id;

	from.addr += i * page_size;
	if (from.addr >= c->end)
		return 1;
	idp = bpf_map_lookup_elem(&track_pages, &from);
	if (!idp)
		return 0;
	id = *idp;
	if (bpf_map_delete_elem(&track_pages, &from))
		return 0;
	to.addr = c->to + i * page_size;
	if (bpf_map_update_elem(&track_pages, &to, &id, BPF_ANY)) {
		stat_inc(LT_STAT_TRACK_TABLE_FULL);
		totals_sub(id, page_size);
	}
	return 0;
}

/* mremap moved [from, from + len) to `to`: the pages go with it. */
static __always_inline void move_range(__u32 tgid, __u32 gen, __u64 from, __u64 len, __u64 to)
{
	struct range_ctx c = { .key = { .addr = from, .tgid = tgid, .gen = gen },
			       .end = from + len, .to = to };
	__u64 pages = len / page_size;

	if (pages > RANGE_LOOP_MAX) {
		stat_inc(LT_STAT_TRACK_MOVES_CUT);
		pages = RANGE_LOOP_MAX;
	}
	bpf_loop(pages, move_step, &c, 0);
}

static __always_inline __u64 page_up(__u64 x)
{
	return (x + page_size - 1) & ~(page_size - 1);
}

/* --- mmap: anonymous mappings outstanding */

static __always_inline void map_add(__u32 tgid, __u32 gen, __u64 start, __u64 len, __u64 id)
{
	struct lt_track_key k = { .addr = start, .tgid = tgid, .gen = gen };
	struct track_map m = { .len = len, .stack_id = id };

	if (!len)
		return;
	if (bpf_map_update_elem(&track_maps, &k, &m, BPF_NOEXIST)) {
		stat_inc(LT_STAT_TRACK_TABLE_FULL);
		return;
	}
	totals_add(id, len);
}

/* What of one mapping [s, e) lies in [a, b) goes; a mapping cut in two counts as two blocks. */
static long unmap_step(void *map, struct lt_track_key *k, struct track_map *m, void *data)
{
	struct range_ctx *c = data;
	__u64 a = c->key.addr, b = c->end, s = k->addr, e = s + m->len, id = m->stack_id;
	struct lt_track_key tail = *k;
	struct track_map rest = { .stack_id = id };

	if (k->tgid != c->key.tgid || k->gen != c->key.gen || e <= a || s >= b)
		return 0;
	if (s >= a && e <= b) {
		if (!bpf_map_delete_elem(&track_maps, k))
			totals_sub(id, m->len);
		return 0;
	}
	if (e > b) {
		/* what lies past b stays, as a mapping of its own from b */
		tail.addr = b;
		rest.len = e - b;
		if (bpf_map_update_elem(&track_maps, &tail, &rest, BPF_ANY)) {
			stat_inc(LT_STAT_TRACK_TABLE_FULL);
			totals_change(id, -(__s64)(e - b), 0, false);
		} else if (s < a) {
			totals_change(id, 0, 1, false);
		}
	}
	if (s < a) {
		m->len = a - s;
		totals_change(id, -(__s64)((e < b ? e : b) - a), 0, false);
	} else {
		bpf_map_delete_elem(&track_maps, k);
		totals_change(id, -(__s64)(b - s), 0, false);
	}
	return 0;
}

/* The anonymous mappings recorded in [a, b) of the process go (munmap, a shrinking brk...). */
static __always_inline void maps_unmap(__u32 tgid, __u32 gen, __u64 a, __u64 b)
{
	struct range_ctx c = { .key = { .addr = a, .tgid = tgid, .gen = gen }, .end = b };
	struct track_map *m;

	if (b <= a)
		return;
	/* The usual case, one whole mapping, without a walk of the table. */
	m = bpf_map_lookup_elem(&track_maps, &c.key);
	if (m && m->len == b - a) {
		__u64 id = m->stack_id, len = m->len;

		if (!bpf_map_delete_elem(&track_maps, &c.key))
			totals_sub(id, len);
		return;
	}
	bpf_for_each_map_elem(&track_maps, unmap_step, &c, 0);
}

/* Both kinds' releases of [a, b). */
static __always_inline void unmapped(__u32 tgid, __u32 gen, __u64 a, __u64 b)
{
	if (FAULTS)
		release_range(tgid, gen, a, b);
	if (MMAPS)
		maps_unmap(tgid, gen, a, b);
}

/*
 * The return address at the user stack pointer of a syscall (see stack_of()), when the 5 bytes
 * before it are a direct call; else 0 (the walk's own first frame stays).
 */
static __always_inline __u64 caller_at(struct pt_regs *regs)
{
	__u64 ret = 0;
	__u8 op = 0;

	if (bpf_probe_read_user(&ret, sizeof(ret), (void *)regs->sp) || ret < 5 ||
	    bpf_probe_read_user(&op, 1, (void *)(ret - 5)) || op != 0xe8)
		return 0;
	return ret;
}

/*
 * mremap of [a0, a0 + oldlen) to [to, to + newlen): a mapping recorded just so keeps its stack,
 * else what was there goes and the new one is the caller's.
 */
static __always_inline void maps_remap(void *ctx, struct pt_regs *regs, __u32 tgid, __u32 gen,
				       __u64 a0, __u64 oldlen, __u64 to, __u64 newlen)
{
	struct lt_track_key k = { .addr = a0, .tgid = tgid, .gen = gen };
	struct track_map *m = bpf_map_lookup_elem(&track_maps, &k), nm;
	struct task_struct *task = bpf_get_current_task_btf();

	if (m && m->len == oldlen) {
		nm.stack_id = m->stack_id;
		nm.len = newlen;
		if (to == a0) {
			m->len = newlen;
		} else {
			bpf_map_delete_elem(&track_maps, &k);
			maps_unmap(tgid, gen, to, to + newlen);
			k.addr = to;
			if (bpf_map_update_elem(&track_maps, &k, &nm, BPF_ANY)) {
				stat_inc(LT_STAT_TRACK_TABLE_FULL);
				totals_sub(nm.stack_id, oldlen);
				return;
			}
		}
		totals_change(nm.stack_id, (__s64)newlen - (__s64)oldlen, 0, false);
		return;
	}
	maps_unmap(tgid, gen, a0, a0 + oldlen);
	maps_unmap(tgid, gen, to, to + newlen);
	map_add(tgid, gen, to, newlen, stack_of(ctx, task, tgid, gen, LT_TRACK_MMAP, caller_at(regs)));
}

/* The calls whose end is seen: they map and unmap memory, or drop pages (madvise). */
static __always_inline bool mapping_call(long nr)
{
	return nr == NR_MMAP || nr == NR_MUNMAP || nr == NR_MADVISE || nr == NR_BRK ||
	       nr == NR_MREMAP;
}

/*
 * Whether the end of call nr of the process matters: a process is recorded from its first fault
 * (faults) or mapping (mmap) on; a madvise matters when it drops pages, an mmap without MAP_FIXED
 * to mmap only.
 */
static __always_inline bool call_matters(__u32 tgid, struct pt_regs *regs, long nr)
{
	__u64 advice = regs->dx;

	if (nr == NR_MADVISE)
		return FAULTS &&
		       (advice == MADV_DONTNEED || advice == MADV_FREE || advice == MADV_REMOVE ||
			advice == MADV_DONTNEED_LOCKED) &&
		       bpf_map_lookup_elem(&track_procs, &tgid);
	if (nr == NR_MMAP && !MMAPS && !(regs->r10 & MAP_FIXED))
		return false;
	if (bpf_map_lookup_elem(&track_procs, &tgid))
		return true;
	return MMAPS && nr != NR_MUNMAP && traced(tgid);
}

/*
 * The end of a call that maps or unmaps memory (mapping_call()), with its result: its arguments
 * are still in regs. ctx: the tracepoint's, or NULL in task context (call_end()).
 */
static __always_inline void call_ended(void *ctx, struct task_struct *task, struct pt_regs *regs,
				       long nr, long ret)
{
	struct lt_track_proc *p;
	__u64 a0, a1, a2, oldlen, newlen;
	__u32 tgid = task->tgid;

	p = proc_of(tgid, task);
	if (!p) {
		stat_inc(LT_STAT_TRACK_TABLE_FULL);
		return;
	}
	a0 = regs->di;
	a1 = regs->si;
	a2 = regs->dx;
	switch (nr) {
	case NR_MMAP:
		if (ret < 0 && ret > -4096)
			break;
		newlen = page_up(a1);
		/* MAP_FIXED replaced what was mapped there */
		if (regs->r10 & MAP_FIXED)
			unmapped(tgid, p->gen, ret, ret + newlen);
		if (MMAPS && (regs->r10 & MAP_ANONYMOUS))
			map_add(tgid, p->gen, ret, newlen,
				stack_of(ctx, task, tgid, p->gen, LT_TRACK_MMAP, caller_at(regs)));
		break;
	case NR_MUNMAP:
		if (!ret)
			unmapped(tgid, p->gen, a0, a0 + page_up(a1));
		break;
	case NR_MADVISE:
		if (!ret)
			release_range(tgid, p->gen, a0, a0 + page_up(a1));
		break;
	case NR_BRK:
		/* brk returns the break, the old one when it failed; the heap grows from the old */
		if ((__u64)ret < p->brk)
			unmapped(tgid, p->gen, page_up(ret), page_up(p->brk));
		else if (MMAPS && page_up(ret) > page_up(p->brk) && p->brk)
			map_add(tgid, p->gen, page_up(p->brk), page_up(ret) - page_up(p->brk),
				stack_of(ctx, task, tgid, p->gen, LT_TRACK_MMAP, caller_at(regs)));
		p->brk = ret;
		break;
	case NR_MREMAP:
		if (ret < 0 && ret > -4096)
			break;
		oldlen = page_up(a1);
		newlen = page_up(a2);
		if (FAULTS && (__u64)ret != a0) {
			/* MREMAP_FIXED unmapped what was at the destination */
			release_range(tgid, p->gen, ret, ret + newlen);
			move_range(tgid, p->gen, a0, newlen < oldlen ? newlen : oldlen, ret);
		}
		if (FAULTS && newlen < oldlen)
			release_range(tgid, p->gen, a0 + newlen, a0 + oldlen);
		if (MMAPS)
			maps_remap(ctx, regs, tgid, p->gen, a0, oldlen, ret, newlen);
		break;
	}
}

/*
 * Kernels without BPF task work (before 6.18): every syscall's exit, a test of its number. This
 * puts every task of the machine on the syscalls' slow path: redis loses about 9% of its
 * throughput (README, "--track").
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(lt_track_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;
	__u32 tgid;

	if (!mapping_call(nr))
		return 0;
	tgid = bpf_get_current_pid_tgid() >> 32;
	if (call_matters(tgid, regs, nr))
		call_ended(ctx, bpf_get_current_task_btf(), regs, nr, ret);
	return 0;
}

/*
 * The end of a call, without the syscall tracepoints: tracepoints inside the calls (mmap_lock's,
 * which mmap, munmap, brk and mremap take, and madvise when it does not lock the one mapping
 * alone; rss_stat, as MADV_DONTNEED drops pages; tlb_flush, as MADV_FREE cleans them) schedule a
 * task work on the calling thread, which runs as it returns to user space, the call done and its
 * result in its registers: what sys_exit would see, at a cost only to these calls.
 */
struct track_call {
	struct bpf_task_work tw;
	__u64 ip, sp;	/* at the call: another entry's, should the task work run at its end */
};

/* Per thread (its id) that made such a call; a thread's exit deletes its own. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct track_call);
} track_calls SEC(".maps");

extern int bpf_task_work_schedule_resume_impl(struct task_struct *task, struct bpf_task_work *tw,
					      void *map__map, bpf_task_work_callback_t callback,
					      void *aux__prog) __ksym __weak;

static int call_end(struct bpf_map *map, void *tid, void *value)
{
	struct track_call *c = value;
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	long nr;

	if (!regs)
		return 0;
	nr = regs->orig_ax;
	/*
	 * The kernel runs task work before it sets up a signal frame (get_signal()), so regs are the
	 * call's own; unless the task work was queued (an irq_work) only after the call returned,
	 * and runs at a later entry's end.
	 */
	if (regs->ip != c->ip || regs->sp != c->sp || !mapping_call(nr)) {
		stat_inc(LT_STAT_TRACK_CALLS_LOST);
		return 0;
	}
	call_ended(NULL, task, regs, nr, regs->ax);
	return 0;
}

/* Inside a call of the current thread: its end is seen, once, when it is one that matters. */
static __always_inline void in_call(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	struct track_call *c, nc = {};
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	long nr, err;

	/* A kernel thread's or an io_uring worker's frame is no user-mode entry. */
	if (!regs || (regs->cs & 3) != 3)
		return;
	nr = regs->orig_ax;
	/* Page faults (orig_ax -1) and the other calls leave at once. */
	if (!mapping_call(nr) || !call_matters(id >> 32, regs, nr))
		return;
	c = bpf_map_lookup_elem(&track_calls, &tid);
	if (!c) {
		bpf_map_update_elem(&track_calls, &tid, &nc, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&track_calls, &tid);
		if (!c) {
			stat_inc(LT_STAT_TRACK_CALLS_LOST);
			return;
		}
	}
	c->ip = regs->ip;
	c->sp = regs->sp;
	err = bpf_task_work_schedule_resume_impl(task, &c->tw, &track_calls, call_end, NULL);
	/* -EBUSY: already scheduled, by this call's earlier tracepoint */
	if (err && err != -EBUSY)
		stat_inc(LT_STAT_TRACK_CALLS_LOST);
}

SEC("tp_btf/mmap_lock_acquire_returned")
int BPF_PROG(lt_track_mmap_lock, struct mm_struct *mm, bool write, bool success)
{
	if (success)
		in_call();
	return 0;
}

SEC("tp_btf/rss_stat")
int BPF_PROG(lt_track_rss, struct mm_struct *mm, int member)
{
	in_call();
	return 0;
}

SEC("tp_btf/tlb_flush")
int BPF_PROG(lt_track_tlb, int reason, unsigned long pages)
{
	/* This CPU's own flushes (a context switch's or another CPU's are not a call of current) */
	if (reason == TLB_LOCAL_SHOOTDOWN || reason == TLB_LOCAL_MM_SHOOTDOWN ||
	    reason == TLB_REMOTE_SEND_IPI)
		in_call();
	return 0;
}

/* Its memory is gone: user space drops what was recorded of it (track_exits). */
static __always_inline void gone(__u32 tgid)
{
	struct lt_track_proc *p = bpf_map_lookup_elem(&track_procs, &tgid);
	__u64 key, ts;

	if (!p)
		return;
	key = (__u64)tgid << 32 | p->gen;
	ts = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&track_exits, &key, &ts, BPF_ANY))
		stat_inc(LT_STAT_TRACK_EXITS_LOST);
	bpf_map_delete_elem(&track_procs, &tgid);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(lt_track_exit, struct task_struct *task, bool group_dead)
{
	__u32 tid = task->pid;

	bpf_map_delete_elem(&track_calls, &tid);
	if (group_dead)
		gone(task->tgid);
	return 0;
}

/* An exec replaces the memory map: what the old image had made resident is released. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(lt_track_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	gone(task->tgid);
	return 0;
}

/* --- user space's sweep of the processes gone */

static __always_inline bool exited(__u32 tgid, __u32 gen)
{
	__u64 key = (__u64)tgid << 32 | gen;

	return bpf_map_lookup_elem(&track_exits, &key);
}

static long sweep_page(void *map, struct lt_track_key *k, __u64 *id, void *data)
{
	if (exited(k->tgid, k->gen))
		bpf_map_delete_elem(&track_pages, k);
	return 0;
}

static long sweep_map(void *map, struct lt_track_key *k, struct track_map *m, void *data)
{
	if (exited(k->tgid, k->gen))
		bpf_map_delete_elem(&track_maps, k);
	return 0;
}

static long sweep_stack(void *map, __u64 *id, struct lt_track_stack *st, void *data)
{
	__u64 sid = *id;

	if (exited(st->tgid, st->gen)) {
		bpf_map_delete_elem(&track_totals, &sid);
		bpf_map_delete_elem(&track_stacks, &sid);
	}
	return 0;
}

/*
 * Run by user space (BPF_PROG_TEST_RUN) when processes are in track_exits: their pages and stacks
 * leave the tables (their memory is gone with them). User space then deletes those it saw there.
 */
SEC("syscall")
int lt_track_sweep(void *ctx)
{
	bpf_for_each_map_elem(&track_pages, sweep_page, NULL, 0);
	bpf_for_each_map_elem(&track_maps, sweep_map, NULL, 0);
	bpf_for_each_map_elem(&track_stacks, sweep_stack, NULL, 0);
	return 0;
}

/* --- kernel: the kernel's allocations outstanding */

/* A live kernel allocation (a slab object, pages, a per-CPU block), keyed by its address. */
struct track_kalloc {
	__u64 bytes;
	__u64 stack_id;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct track_kalloc);
} track_kallocs SEC(".maps");

/*
 * The kernel stack from the allocator's caller (call_site; 0: from the first frame past the
 * tracepoint's own), then the current task's user stack when it is a process's (not a kernel
 * thread's): "which process makes the kernel allocate".
 */
/* bpf_loop's state while a kernel stack is put together (loops verified once, not per count). */
struct kstack_ctx {
	struct lt_track_stack *st, *user;
	__u64 call_site;
	__u32 start;	/* the index of call_site in st->ips, once found */
	__u32 nr;	/* frames in st->ips */
	__u32 user_nr;	/* frames in user->ips */
	__u64 caller;	/* the syscall wrapper's caller, put after user->ips[0]; 0: none */
};

static long find_site(__u64 i, void *data)
{
	struct kstack_ctx *c = data;

	if (i >= c->nr)
		return 1;
	if (c->st->ips[i & (LT_MAX_DEPTH - 1)] != c->call_site)
		return 0;
	c->start = (__u32)i;
	return 1;
}

static long shift_down(__u64 i, void *data)
{
	struct kstack_ctx *c = data;
	__u64 from = i + c->start;

	if (from >= c->nr)
		return 1;
	c->st->ips[i & (LT_MAX_DEPTH - 1)] = c->st->ips[from & (LT_MAX_DEPTH - 1)];
	return 0;
}

static long append_user(__u64 i, void *data)
{
	struct kstack_ctx *c = data;

	if (i >= c->user_nr || c->nr >= LT_MAX_DEPTH)
		return 1;
	c->st->ips[c->nr & (LT_MAX_DEPTH - 1)] = c->user->ips[i & (LT_MAX_DEPTH - 1)];
	c->nr++;
	if (i || !c->caller || c->nr >= LT_MAX_DEPTH)
		return 0;
	c->st->ips[c->nr & (LT_MAX_DEPTH - 1)] = c->caller;
	c->nr++;
	return 0;
}

/*
 * In a syscall, the return address at the user stack pointer, when the 5 bytes before it are a
 * direct call: libc's wrappers (pipe2, socket...) keep no frame, so the frame-pointer walk from
 * inside one skips its caller. 0 otherwise, or when the walk has it already.
 */
static __always_inline __u64 wrapper_caller(struct task_struct *task, __u64 next)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	__u64 ret = 0;
	__u8 op = 0;

	if (!regs || (long)regs->orig_ax < 0)
		return 0;
	if (bpf_probe_read_user(&ret, sizeof(ret), (void *)regs->sp) || ret == next || ret < 5 ||
	    bpf_probe_read_user(&op, 1, (void *)(ret - 5)) || op != 0xe8)
		return 0;
	return ret;
}

/*
 * The kernel stack from the allocator's caller (call_site; 0: from the first frame past the
 * tracepoint's own), then the current task's user stack when it is a process's (not a kernel
 * thread's): "which process makes the kernel allocate".
 */
static __always_inline __u64 kernel_stack(void *ctx, __u64 call_site)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, zero = 0, one = 1;
	struct kstack_ctx c = { .call_site = call_site };
	struct lt_track_stack *st;
	long n;

	st = c.st = bpf_map_lookup_elem(&track_scratch, &zero);
	c.user = bpf_map_lookup_elem(&track_scratch, &one);
	if (!st || !c.user)
		return LT_TRACK_KERNEL;
	/* Without a call site (pages), the first two frames are this program and bpf_trace_run. */
	n = bpf_get_stack(ctx, st->ips, sizeof(st->ips), call_site ? 0 : 2);
	if (n <= 0) {
		stat_inc(LT_STAT_TRACK_LOST_STACKS);
		return LT_TRACK_KERNEL;
	}
	c.nr = (__u32)n / 8;
	/* The frames above call_site are the tracepoint's and the allocator's own. */
	if (call_site)
		bpf_loop(LT_MAX_DEPTH, find_site, &c, 0);
	if (c.start) {
		bpf_loop(LT_MAX_DEPTH, shift_down, &c, 0);
		c.nr -= c.start;
	}
	if (task->flags & PF_KTHREAD) {
		tgid = 0;
	} else {
		n = bpf_get_stack(ctx, c.user->ips, sizeof(c.user->ips), BPF_F_USER_STACK);
		c.user_nr = n > 0 ? (__u32)n / 8 : 0;
		if (c.user_nr)
			c.caller = wrapper_caller(task, c.user_nr > 1 ? c.user->ips[1] : 0);
		bpf_loop(LT_MAX_DEPTH, append_user, &c, 0);
	}
	st->tgid = tgid;
	st->nr_ips = c.nr;
	st->kind = LT_TRACK_KERNEL;
	st->exec_id = tgid ? (__u32)task->self_exec_id : 0;
	st->gen = 0;
	st->pad = 0;
	return store_stack(st);
}

static __always_inline void kalloc(void *ctx, __u64 addr, __u64 bytes, __u64 call_site)
{
	struct track_kalloc a = { .bytes = bytes };
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!addr || !traced(tgid))
		return;
	a.stack_id = kernel_stack(ctx, call_site);
	if (bpf_map_update_elem(&track_kallocs, &addr, &a, BPF_ANY)) {
		stat_inc(LT_STAT_TRACK_TABLE_FULL);
		return;
	}
	totals_add(a.stack_id, bytes);
}

/* Whoever frees it (an RCU callback, another task): the allocation was recorded or not. */
static __always_inline void kfree_addr(__u64 addr)
{
	struct track_kalloc *a = bpf_map_lookup_elem(&track_kallocs, &addr);
	__u64 id, bytes;

	if (!a)
		return;
	id = a->stack_id;
	bytes = a->bytes;
	if (!bpf_map_delete_elem(&track_kallocs, &addr))
		totals_sub(id, bytes);
}

SEC("tp_btf/kmalloc")
int BPF_PROG(lt_kmalloc, unsigned long call_site, const void *ptr, size_t bytes_req,
	     size_t bytes_alloc, gfp_t gfp_flags, int node)
{
	kalloc(ctx, (__u64)ptr, bytes_alloc, call_site);
	return 0;
}

SEC("tp_btf/kfree")
int BPF_PROG(lt_kfree, unsigned long call_site, const void *ptr)
{
	kfree_addr((__u64)ptr);
	return 0;
}

SEC("tp_btf/kmem_cache_alloc")
int BPF_PROG(lt_kmem_cache_alloc, unsigned long call_site, const void *ptr, struct kmem_cache *s,
	     gfp_t gfp_flags, int node)
{
	kalloc(ctx, (__u64)ptr, s->size, call_site);
	return 0;
}

SEC("tp_btf/kmem_cache_free")
int BPF_PROG(lt_kmem_cache_free, unsigned long call_site, const void *ptr,
	     const struct kmem_cache *s)
{
	kfree_addr((__u64)ptr);
	return 0;
}

SEC("tp_btf/mm_page_alloc")
int BPF_PROG(lt_page_alloc, struct page *page, unsigned int order, gfp_t gfp_flags,
	     int migratetype)
{
	kalloc(ctx, (__u64)page, page_size << (order & 31), 0);
	return 0;
}

SEC("tp_btf/mm_page_free")
int BPF_PROG(lt_page_free, struct page *page, unsigned int order)
{
	kfree_addr((__u64)page);
	return 0;
}

SEC("tp_btf/percpu_alloc_percpu")
int BPF_PROG(lt_percpu_alloc, unsigned long call_site, bool reserved, bool is_atomic, size_t size,
	     size_t align, void *base_addr, int off, void *ptr, size_t bytes_alloc, gfp_t gfp_flags)
{
	kalloc(ctx, (__u64)ptr, bytes_alloc, call_site);
	return 0;
}

SEC("tp_btf/percpu_free_percpu")
int BPF_PROG(lt_percpu_free, void *base_addr, int off, void *ptr)
{
	kfree_addr((__u64)ptr);
	return 0;
}
