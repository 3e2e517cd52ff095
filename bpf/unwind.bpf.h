/* unwind.bpf.h: walks a user stack through the CFI tables that user space loads per object. */
#ifndef LT_UNWIND_BPF_H
#define LT_UNWIND_BPF_H

/* Included by leaktop.bpf.c after stat_inc() and walk_frames(). */

/* Set by user space before load: enum lt_unwind_mode. */
const volatile __u32 unwind_mode = LT_UNWIND_FP;

/*
 * Every object's rows, one table after another; a mapping names its slice. Memory-mapped by user
 * space, which writes the rows in place and only then publishes the mapping that points at them.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1); /* --unwind-rows */
	__type(key, __u32);
	__type(value, struct lt_unwind_row);
} unwind_rows SEC(".maps");

/* Per traced process (tgid): its executable mappings, sorted. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct lt_unwind_proc);
} unwind_procs SEC(".maps");

/* The walk's state, on the caller's stack, handed to each bpf_loop step. */
struct lt_walk {
	__u64 ip, sp, bp;
	struct lt_stack *st;
	struct lt_unwind_proc *proc;
	__u32 nr;      /* ips stored */
	__u32 skip;    /* frames still to leave out (an entry probe's own function) */
	__u32 stat;    /* the loss that ended the walk; LT_STAT_MAX when none */
	__u8 at_entry; /* the current frame is at an entry probe: its frame is not set up */
	__u8 exact_pc; /* ip is not a return address (frame 0, or below a signal frame) */
};

/*
 * The binary searches below have no branch in their bodies: BPF has no conditional move, and a
 * branch per step would make the verifier walk every path of the search (2^steps of them), since
 * the indexes it compares are ones it must track precisely (even leaving the loop once lo meets hi
 * makes too many states: each exit's lo and hi differ). 1 when a <= b, else 0, for values below
 * 2^63:
 */
static __always_inline __u64 le_bit(__u64 a, __u64 b)
{
	return ((b - a) >> 63) ^ 1;
}

static __always_inline struct lt_unwind_mapping *unwind_mapping(struct lt_unwind_proc *proc,
								__u64 pc)
{
	__u64 lo = 0, hi = proc->nr, mid, go, active;
	struct lt_unwind_mapping *m;

	if (hi > LT_UNWIND_MAX_MAPPINGS)
		hi = LT_UNWIND_MAX_MAPPINGS;
	/* Invariant: maps[i].start <= pc for i < lo, > pc for i >= hi. */
	for (int k = 0; k < LT_UNWIND_MAPPING_STEPS; k++) {
		active = le_bit(lo + 1, hi); /* lo < hi */
		mid = (lo + hi) >> 1;
		go = le_bit(proc->maps[mid & (LT_UNWIND_MAX_MAPPINGS - 1)].start, pc);
		lo += (go & active) * (mid + 1 - lo);
		hi -= ((go ^ 1) & active) * (hi - mid);
	}
	if (!lo)
		return NULL;
	m = &proc->maps[(lo - 1) & (LT_UNWIND_MAX_MAPPINGS - 1)];
	return pc < m->end ? m : NULL;
}

/*
 * Narrows [*lo, *hi) of m's rows, steps times, towards the last row at or below vaddr. Invariant:
 * rows below *lo are at or below vaddr, rows from *hi on above it. 0 when a row cannot be read.
 */
static __always_inline int row_search(const struct lt_unwind_mapping *m, __u64 vaddr, __u64 *lo_p,
				      __u64 *hi_p, const int steps)
{
	__u64 lo = *lo_p, hi = *hi_p, mid, go, active;
	struct lt_unwind_row *r;
	__u32 idx;

	for (int k = 0; k < steps; k++) {
		active = le_bit(lo + 1, hi);
		/* Once lo == hi, mid may be hi itself: read the row below instead, and ignore it. */
		mid = (lo + hi) >> 1;
		mid -= le_bit(hi, mid);
		idx = m->row_first + (__u32)mid;
		r = bpf_map_lookup_elem(&unwind_rows, &idx);
		if (!r)
			return 0;
		go = le_bit(r->pc, vaddr);
		lo += (go & active) * (mid + 1 - lo);
		hi -= ((go ^ 1) & active) * (hi - mid);
	}
	*lo_p = lo;
	*hi_p = hi;
	return 1;
}

/*
 * The last row of m's table at or below the object's address vaddr; NULL below the first. The
 * page index gives the few rows among which it lies (struct lt_unwind_page): a page of up to
 * 2^LT_UNWIND_PAGE_STEPS rows takes that many steps, a denser one the full search.
 */
static __always_inline struct lt_unwind_row *unwind_row(const struct lt_unwind_mapping *m,
							__u64 vaddr)
{
	__u64 page = vaddr >> LT_UNWIND_PAGE_SHIFT, lo, hi;
	struct lt_unwind_page *pg;
	struct lt_unwind_row *r;
	__u32 idx;

	if (vaddr > 0xffffffffULL || !m->row_count || page < m->page_base)
		return NULL;
	page -= m->page_base;
	if (page >= m->page_count) {
		/* Past the last row's page: the last row holds. */
		idx = m->row_first + m->row_count - 1;
		return bpf_map_lookup_elem(&unwind_rows, &idx);
	}
	idx = m->page_first + (__u32)page;
	pg = bpf_map_lookup_elem(&unwind_rows, &idx);
	if (!pg)
		return NULL;
	/* Row pg->lo is at or below vaddr, unless vaddr lies below the table's first row. */
	lo = (__u64)pg->lo + 1;
	hi = pg->hi;
	if (hi <= lo + (1 << LT_UNWIND_PAGE_STEPS) - 1) {
		if (!row_search(m, vaddr, &lo, &hi, LT_UNWIND_PAGE_STEPS))
			return NULL;
	} else if (!row_search(m, vaddr, &lo, &hi, LT_UNWIND_ROW_STEPS + 1)) {
		return NULL;
	}
	idx = m->row_first + (__u32)lo - 1;
	r = bpf_map_lookup_elem(&unwind_rows, &idx);
	return r && r->pc <= vaddr ? r : NULL;
}

/* One frame-pointer step: the frame record {saved rbp, return address} at rbp. */
static __always_inline int unwind_fp_step(struct lt_walk *s)
{
	__u64 frame[2];

	if (!s->bp || (s->bp & 7))
		return 1; /* the chain's end, as walk_frames sees it */
	if (bpf_probe_read_user(frame, sizeof(frame), (void *)s->bp)) {
		s->stat = LT_STAT_UNWIND_READ_FAILED;
		return 1;
	}
	if (!frame[1] || s->bp + 16 <= s->sp)
		return 1;
	s->sp = s->bp + 16;
	s->ip = frame[1];
	s->bp = frame[0];
	s->exact_pc = 0;
	return 0;
}

/* One CFI step with the row that holds at the current frame. */
static __always_inline int unwind_cfi_step(struct lt_walk *s, const struct lt_unwind_row *r)
{
	__u64 cfa, ra, bp = s->bp, regs[2];

	switch (LT_ROW_CFA_KIND(r)) {
	case LT_CFA_SP:
		cfa = s->sp + ((__u64)r->cfa_off << 3);
		break;
	case LT_CFA_FP:
		cfa = s->bp + ((__u64)r->cfa_off << 3);
		break;
	case LT_CFA_PLT:
		cfa = s->sp + 8 + ((s->ip & 15) >= r->cfa_off ? 8 : 0);
		break;
	case LT_CFA_SIGNAL:
		/* The interrupted context: rsp and rip, then rbp, from the ucontext. */
		if (bpf_probe_read_user(regs, sizeof(regs), (void *)(s->sp + LT_SIGFRAME_RSP)) ||
		    bpf_probe_read_user(&bp, sizeof(bp), (void *)(s->sp + LT_SIGFRAME_RBP))) {
			s->stat = LT_STAT_UNWIND_READ_FAILED;
			return 1;
		}
		if (!regs[1])
			return 1;
		s->sp = regs[0];
		s->ip = regs[1];
		s->bp = bp;
		s->exact_pc = 1;
		return 0;
	case LT_CFA_END:
		return 1;
	case LT_CFA_NONE:
		s->stat = LT_STAT_UNWIND_NO_CFI;
		return 1;
	default:
		s->stat = LT_STAT_UNWIND_STOP_ROW;
		return 1;
	}
	/* The stack grows down: a caller's frame lies above. */
	if (cfa <= s->sp) {
		s->stat = LT_STAT_UNWIND_READ_FAILED;
		return 1;
	}
	if (bpf_probe_read_user(&ra, sizeof(ra), (void *)(cfa - 8))) {
		s->stat = LT_STAT_UNWIND_READ_FAILED;
		return 1;
	}
	switch (LT_ROW_RBP_KIND(r)) {
	case LT_RBP_AT_CFA:
		if (bpf_probe_read_user(&bp, sizeof(bp),
					(void *)(cfa + ((__s64)r->rbp_off << 3)))) {
			s->stat = LT_STAT_UNWIND_READ_FAILED;
			return 1;
		}
		break;
	case LT_RBP_UNDEFINED:
		bp = 0;
		break;
	default:
		break;
	}
	if (!ra)
		return 1;
	s->sp = cfa;
	s->ip = ra;
	s->bp = bp;
	s->exact_pc = 0;
	return 0;
}

/* bpf_loop body: stores the current frame's ip, then steps to its caller. 1 ends the walk. */
static long unwind_step(__u32 i, void *data)
{
	struct lt_walk *s = data;
	struct lt_unwind_mapping *m;
	struct lt_unwind_row *r;
	__u64 pc;

	if (s->skip) {
		s->skip--;
	} else {
		/* A frame beyond the last slot: the stack is cut here. */
		if (s->nr >= LT_MAX_DEPTH) {
			s->stat = LT_STAT_TRUNCATED_STACKS;
			return 1;
		}
		s->st->ips[s->nr & (LT_MAX_DEPTH - 1)] = s->ip;
		s->nr++;
	}
	/* A return address may lie past its function's end (a call to a noreturn function). */
	pc = s->exact_pc ? s->ip : s->ip - 1;
	m = unwind_mapping(s->proc, pc);
	if (!m) {
		/* Code mapped after the tables were loaded: user space re-reads the mappings. */
		__sync_fetch_and_add(&s->proc->misses, 1);
		if (unwind_mode == LT_UNWIND_AUTO && !s->at_entry)
			return unwind_fp_step(s);
		s->stat = LT_STAT_UNWIND_NO_MAPPING;
		return 1;
	}
	if (unwind_mode == LT_UNWIND_AUTO && (m->flags & LT_MAP_HAS_FP) && !s->at_entry)
		return unwind_fp_step(s);
	s->at_entry = 0;
	if (!(m->flags & LT_MAP_HAS_TABLE)) {
		s->stat = LT_STAT_UNWIND_NO_TABLE;
		return 1;
	}
	r = unwind_row(m, pc - m->bias);
	if (!r) {
		s->stat = LT_STAT_UNWIND_NO_CFI;
		return 1;
	}
	return unwind_cfi_step(s, r);
}

/*
 * Fills st->ips from the probe's registers and returns how many; 0 when the process has no
 * tables (the caller walks frame pointers instead). At an entry or exit probe (at_entry), the
 * probed function's own frame is left out: the stack starts at its return address.
 */
static __always_inline __u32 unwind_walk(struct pt_regs *ctx, struct lt_stack *st, __u32 tgid,
					 bool at_entry)
{
	struct lt_walk s = {
	    .ip = PT_REGS_IP(ctx),
	    .sp = PT_REGS_SP(ctx),
	    .bp = PT_REGS_FP(ctx),
	    .st = st,
	    .skip = at_entry ? 1 : 0,
	    .stat = LT_STAT_MAX,
	    .at_entry = at_entry,
	    .exact_pc = 1,
	};

	s.proc = bpf_map_lookup_elem(&unwind_procs, &tgid);
	if (!s.proc) {
		stat_inc(LT_STAT_UNWIND_NOT_READY);
		return 0;
	}
	if (unwind_mode == LT_UNWIND_AUTO && s.proc->all_fp && !at_entry)
		return 0;
	/* The skipped frame, every slot, and one more step that tells whether the stack goes on. */
	bpf_loop(LT_MAX_DEPTH + 2, unwind_step, &s, 0);
	if (s.stat < LT_STAT_MAX)
		stat_inc(s.stat);
	return s.nr;
}

#endif /* LT_UNWIND_BPF_H */
