/* procs_map.bpf.h: the traced processes' map, one definition for the two BPF objects that hold it. */
#ifndef LT_PROCS_MAP_BPF_H
#define LT_PROCS_MAP_BPF_H

/*
 * The traced processes, by tgid: those given, and those followed since. leaktop.bpf.c's
 * (procs.bpf.h) is the one; track.bpf.c's is the same map, reused by user space
 * (bpf_map__reuse_fd), which needs the same definition.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct lt_proc);
} procs SEC(".maps");

#endif /* LT_PROCS_MAP_BPF_H */
