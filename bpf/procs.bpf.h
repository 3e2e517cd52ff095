/* procs.bpf.h: the traced processes' lives: forks followed, execs and exits told to user space. */
#ifndef LT_PROCS_BPF_H
#define LT_PROCS_BPF_H

/* Included by leaktop.bpf.c, after the unwinder's maps (a child gets its parent's mappings). */

/* Set by user space before load: follow the processes that traced processes fork. */
const volatile __u32 follow = 0;

#include "procs_map.bpf.h"

/* Forks, execs and exits of traced processes, for user space. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} events SEC(".maps");

extern int bpf_iter_task_vma_new(struct bpf_iter_task_vma *it, struct task_struct *task,
				 __u64 addr) __ksym __weak;
extern struct vm_area_struct *bpf_iter_task_vma_next(struct bpf_iter_task_vma *it) __ksym __weak;
extern void bpf_iter_task_vma_destroy(struct bpf_iter_task_vma *it) __ksym __weak;

#define LT_VM_EXEC 0x4 /* VM_EXEC */
/* Steps of a path walk: its components, and the mount points crossed on the way. */
#define LT_PATH_STEPS 24

static __always_inline void emit(__u32 type, __u32 pid, __u32 ppid, __u32 exec_id)
{
	struct lt_event *e = fault == LT_FAULT_EVENTS ? NULL
						       : bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		stat_inc(LT_STAT_LOST_EVENTS);
		return;
	}
	e->type = type;
	e->pid = pid;
	e->ppid = ppid;
	e->exec_id = exec_id;
	e->ts_ns = bpf_ktime_get_ns();
	bpf_ringbuf_submit(e, 0);
}

/*
 * A traced process forked (not a thread): the child is traced from here on. It has its parent's
 * memory, mappings included, so it gets its parent's unwind mappings and allocator range at once;
 * its own probes come from user space (its calls before that are not seen, unless user space
 * holds it until then).
 */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(lt_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	struct lt_proc c = { .parent = ptgid, .flags = LT_PROC_FOLLOWED }, *pp;
	struct lt_unwind_proc *up;
	struct lt_range *code;

	if (!follow || ptgid == ctgid || !bpf_map_lookup_elem(&procs, &ptgid))
		return 0;
	c.since_ns = bpf_ktime_get_ns();
	pp = bpf_map_lookup_elem(&procs, &ptgid);
	if (pp)
		c.flags |= pp->flags & LT_PROC_EXIT_MAPS;
	if (bpf_map_update_elem(&procs, &ctgid, &c, BPF_ANY)) {
		stat_inc(LT_STAT_LOST_EVENTS);
		return 0;
	}
	up = bpf_map_lookup_elem(&unwind_procs, &ptgid);
	if (up)
		bpf_map_update_elem(&unwind_procs, &ctgid, up, BPF_ANY);
	code = bpf_map_lookup_elem(&allocator_code, &ptgid);
	if (code)
		bpf_map_update_elem(&allocator_code, &ctgid, code, BPF_ANY);
	emit(LT_EV_FORK, ctgid, ptgid, (__u32)child->self_exec_id);
	return 0;
}

/*
 * A traced process runs a new image. Its probes stay where the new image maps the same files; the
 * old image's unwind mappings mean nothing now: until user space publishes the new ones, its
 * stacks follow frame pointers (counted in unwind_not_ready).
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(lt_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = p->tgid;

	if (!bpf_map_lookup_elem(&procs, &tgid))
		return 0;
	bpf_map_delete_elem(&unwind_procs, &tgid);
	emit(LT_EV_EXEC, tgid, 0, (__u32)p->self_exec_id);
	return 0;
}

/* One exiting process's code mapping at a time, built here, then copied to the ring buffer. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lt_map_event);
} map_scratch SEC(".maps");

/*
 * A path walk, from a file's dentry up to its mount namespace's root. The count of components
 * seen is the event's nr_names: in the walk's state the verifier would track it exactly (names
 * is indexed by it) and check the step once for each count.
 */
struct path_walk {
	__u64 d, mnt;	/* struct dentry *, struct mount * (read, never dereferenced here) */
};

/* One step of the walk (a bpf_loop callback): a component, or a mount crossed. */
static long path_step(__u32 i, void *data)
{
	struct path_walk *w = data;
	struct dentry *d = (struct dentry *)w->d, *parent;
	struct mount *mnt = (struct mount *)w->mnt, *up;
	struct lt_map_event *e;
	__u32 zero = 0, n;

	if (d == BPF_CORE_READ(mnt, mnt.mnt_root)) {
		up = BPF_CORE_READ(mnt, mnt_parent);
		if (up == mnt)
			return 1;
		w->d = (__u64)BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = (__u64)up;
		return 0;
	}
	parent = BPF_CORE_READ(d, d_parent);
	if (parent == d)
		return 1;
	e = bpf_map_lookup_elem(&map_scratch, &zero);
	if (!e)
		return 1;
	n = e->nr_names;
	if (n < LT_MAP_NAMES)
		bpf_probe_read_kernel_str(e->names[n], LT_MAP_NAME_LEN, BPF_CORE_READ(d, d_name.name));
	e->nr_names = n + 1;
	w->d = (__u64)parent;
	return 0;
}

/*
 * The file-backed code mappings of p, which is exiting: a library it mapped after user space last
 * read its maps (dlopen, then exit at once) is named all the same. The mm is still there: this
 * kernel fires the tracepoint before exit_mm().
 */
static __always_inline void emit_maps(struct task_struct *p, __u32 tgid)
{
	struct bpf_iter_task_vma it;
	struct vm_area_struct *vma;
	struct lt_map_event *e;
	struct path_walk w;
	struct file *f;
	__u32 zero = 0;

	if (!bpf_iter_task_vma_new)
		return;
	if (bpf_iter_task_vma_new(&it, p, 0)) {
		bpf_iter_task_vma_destroy(&it);
		return;
	}
	while ((vma = bpf_iter_task_vma_next(&it))) {
		f = vma->vm_file;
		e = bpf_map_lookup_elem(&map_scratch, &zero);
		if (!(vma->vm_flags & LT_VM_EXEC) || !f || !e)
			continue;
		e->type = LT_EV_MAP;
		e->pid = tgid;
		e->start = vma->vm_start;
		e->end = vma->vm_end;
		e->pgoff = vma->vm_pgoff << 12;
		e->ino = BPF_CORE_READ(f, f_inode, i_ino);
		e->dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
		w.d = (__u64)BPF_CORE_READ(f, f_path.dentry);
		w.mnt = (__u64)container_of(BPF_CORE_READ(f, f_path.mnt), struct mount, mnt);
		e->nr_names = 0;
		bpf_loop(LT_PATH_STEPS, path_step, &w, 0);
		if (bpf_ringbuf_output(&events, e, sizeof(*e), 0)) {
			stat_inc(LT_STAT_LOST_EVENTS);
			break;
		}
	}
	bpf_iter_task_vma_destroy(&it);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(lt_exit, struct task_struct *p, bool group_dead)
{
	__u32 tgid = p->tgid;
	struct lt_proc *lp;

	if (!group_dead)
		return 0;
	lp = bpf_map_lookup_elem(&procs, &tgid);
	if (!lp)
		return 0;
	if (lp->flags & LT_PROC_EXIT_MAPS)
		emit_maps(p, tgid);
	bpf_map_delete_elem(&procs, &tgid);
	emit(LT_EV_EXIT, tgid, 0, 0);
	return 0;
}

#endif /* LT_PROCS_BPF_H */
