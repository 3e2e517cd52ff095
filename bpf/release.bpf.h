/* release.bpf.h: the blocks of processes that exited, released from the tables on request. */
#ifndef LT_RELEASE_BPF_H
#define LT_RELEASE_BPF_H

/* Included at the end of leaktop.bpf.c: it uses the allocation table's tiers and the stacks' totals. */

/* The exited processes (tgids) whose blocks lt_release releases; filled by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} released_procs SEC(".maps");

/* One block: released when its process is one of released_procs. */
static long release_one(struct bpf_map *map, struct lt_alloc_key *key, struct lt_alloc *a,
			void *ctx)
{
	__u32 stat = LT_STAT_EXITED_RELEASED;
	__u64 *v;

	if (!bpf_map_lookup_elem(&released_procs, &key->tgid))
		return 0;
	totals_sub(a);
	v = bpf_map_lookup_elem(&stats, &stat);
	if (v)
		*v += a->count;
	bpf_map_delete_elem(map, key);
	return 0;
}

/*
 * Run by user space (BPF_PROG_TEST_RUN) when the allocation table fills up with the blocks of
 * processes that exited: they hold no memory any more. Their stacks' totals go down with them
 * (atomically, as a free's would), so the evictor retires those stacks as it retires any other.
 * Nothing else touches these blocks: their processes are gone.
 */
SEC("syscall")
int lt_release(void *ctx)
{
#pragma unroll
	for (int i = 0; i < LT_ALLOC_TIERS; i++) {
		__u32 n = i;
		void *m = bpf_map_lookup_elem(&allocs, &n);

		if (m)
			bpf_for_each_map_elem(m, release_one, NULL, 0);
	}
	return 0;
}

#endif /* LT_RELEASE_BPF_H */
