/* procs.bpf.h: the traced processes' lives: forks followed, execs and exits told to user space. */
#ifndef LT_PROCS_BPF_H
#define LT_PROCS_BPF_H

/* Included by leaktop.bpf.c, after the unwinder's maps (a child gets its parent's mappings). */

/* Set by user space before load: follow the processes that traced processes fork. */
const volatile __u32 follow = 0;

/* The traced processes, by tgid: those given, and those followed since. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct lt_proc);
} procs SEC(".maps");

/* Forks, execs and exits of traced processes, for user space. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

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
	struct lt_proc c = { .parent = ptgid, .flags = LT_PROC_FOLLOWED };
	struct lt_unwind_proc *up;
	struct lt_range *code;

	if (!follow || ptgid == ctgid || !bpf_map_lookup_elem(&procs, &ptgid))
		return 0;
	c.since_ns = bpf_ktime_get_ns();
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

SEC("tp_btf/sched_process_exit")
int BPF_PROG(lt_exit, struct task_struct *p, bool group_dead)
{
	__u32 tgid = p->tgid;

	if (!group_dead || !bpf_map_lookup_elem(&procs, &tgid))
		return 0;
	bpf_map_delete_elem(&procs, &tgid);
	emit(LT_EV_EXIT, tgid, 0, 0);
	return 0;
}

#endif /* LT_PROCS_BPF_H */
