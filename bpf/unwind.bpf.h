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

/*
 * Stacks unwound lately, per CPU, for reuse. A walk is a function of the probe's registers, the
 * tables, and the stack words it reads (return addresses, saved rbp values): when the registers
 * and the tables' generation are the same, and each word it read holds the same value again, the
 * walk would give the same stack. Those words lie above sp: one read of the span they cover
 * checks them all, at a fraction of the cost of the searches a walk makes per frame. Read and
 * written only by a walk, inside a capture that holds the CPU's stack scratch
 * (lt_stack_capture): no other task's walk can meet an entry half written.
 */
#define LT_UNWIND_CACHE_WAYS 32    /* entries per CPU */
#define LT_UNWIND_CACHE_ASSOC 4    /* of them, the set a hash of ip and sp picks */
#define LT_UNWIND_CACHE_SPAN 4096   /* the reads must lie within this many bytes above sp */
#define LT_UNWIND_CACHE_READS 128   /* words a walk may read and still be cached */

struct lt_unwind_cached {
	__u64 ip, sp, bp;   /* the probe's registers (bp only counts when needs_bp) */
	__u64 generation;   /* lt_unwind_proc.generation of the tables walked */
	__u32 tgid, exec_id;
	__u32 at_entry;
	__u16 bp_src;	    /* while filled: where the walk's rbp came from (LT_BP_*, a read) */
	__u8 needs_bp;	    /* the walk used the register's rbp (as a frame pointer, a CFA) */
	__u8 stat;	    /* while filled: the loss that ended the walk; LT_STAT_MAX when none */
	__u32 nr;	    /* ips; 0: the entry holds nothing */
	__u32 nr_reads;
	__u32 span;	    /* bytes above sp that hold every word read */
	__u64 used;	    /* the CPU's tick when last filled or hit: the set's oldest is refilled */
	__u64 ips[LT_MAX_DEPTH];
	__u16 read_off[LT_UNWIND_CACHE_READS]; /* word index above sp, | LT_READ_UNUSED */
	__u64 read_val[LT_UNWIND_CACHE_READS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LT_UNWIND_CACHE_WAYS);
	__type(key, __u32);
	__type(value, struct lt_unwind_cached);
} unwind_cache SEC(".maps");

/* The span of stack a cached walk is checked against. */
struct lt_unwind_span {
	__u64 words[LT_UNWIND_CACHE_SPAN / 8];
	__u64 tick; /* counts the CPU's cache fills and hits, for lt_unwind_cached.used */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lt_unwind_span);
} unwind_span SEC(".maps");

/*
 * Zero, but unknown to the verifier (user space could write it): the walk's frame count starts
 * from it, so that the verifier checks the loop body for any count at once, not once per count.
 */
__u32 lt_unknown_zero = 0;

/* The walk's registers and counts, which each step moves on. */
struct lt_walk_regs {
	__u64 ip, sp, bp;
	__u64 sp0;     /* the probe's sp: cached reads are kept relative to it */
	__u32 nr;      /* ips stored */
	__u32 skip;    /* frames still to leave out (an entry probe's own function) */
	__u8 at_entry; /* the current frame is at an entry probe: its frame is not set up */
	__u8 exact_pc; /* ip is not a return address (frame 0, or below a signal frame) */
};

/* A step's view of the walk: its registers, and the maps it reads and writes. */
struct lt_walk {
	struct lt_walk_regs *r;
	struct lt_unwind_cached *fill; /* the cache entry that records this walk */
	struct lt_stack *st;
	struct lt_unwind_proc *proc;
};

/*
 * The walk's state, on lt_unwind_walk's stack, handed to each bpf_loop step. The pointers lie
 * apart from the registers: the verifier forgets what memory handed to a global function held,
 * and pointers there would be mere numbers at the next step.
 */
struct lt_walk_loop {
	struct lt_walk_regs r;
	struct lt_unwind_cached *fill;
	struct lt_stack *st;
	struct lt_unwind_proc *proc;
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
		/* Once lo == hi, mid may be hi itself: read the row below, and ignore it. */
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
 * The index in unwind_rows, plus one, of the last row of m's table at or below the object's address
 * vaddr; 0 below the first. The page index gives the few rows among which it lies (struct
 * lt_unwind_page): a page of up to 2^LT_UNWIND_PAGE_STEPS rows takes that many steps, a denser one
 * the full search. A global function, like lt_unwind_walk: the verifier checks its searches once,
 * not again for each path of each step of the walk that reaches them.
 */
__noinline __u32 lt_unwind_row(const struct lt_unwind_mapping *m, __u64 vaddr)
{
	__u64 page = vaddr >> LT_UNWIND_PAGE_SHIFT, lo, hi;
	struct lt_unwind_page *pg;
	struct lt_unwind_row *r;
	__u32 idx;

	if (!m || vaddr > 0xffffffffULL || !m->row_count || page < m->page_base)
		return 0;
	if (!m->page_count) {
		/* No index (code spread too thin for one): the whole table. */
		lo = 0;
		hi = m->row_count;
		if (!row_search(m, vaddr, &lo, &hi, LT_UNWIND_ROW_STEPS + 1) || !lo)
			return 0;
		return m->row_first + (__u32)lo;
	}
	page -= m->page_base;
	if (page >= m->page_count) {
		/* Past the last row's page: the last row holds. */
		return m->row_first + m->row_count;
	}
	idx = m->page_first + (__u32)page;
	pg = bpf_map_lookup_elem(&unwind_rows, &idx);
	if (!pg)
		return 0;
	/* Row pg->lo is at or below vaddr, unless vaddr lies below the table's first row. */
	lo = (__u64)pg->lo + 1;
	hi = pg->hi;
	if (hi <= lo + (1 << LT_UNWIND_PAGE_STEPS) - 1) {
		if (!row_search(m, vaddr, &lo, &hi, LT_UNWIND_PAGE_STEPS))
			return 0;
	} else if (!row_search(m, vaddr, &lo, &hi, LT_UNWIND_ROW_STEPS + 1)) {
		return 0;
	}
	idx = m->row_first + (__u32)lo - 1;
	r = bpf_map_lookup_elem(&unwind_rows, &idx);
	return r && r->pc <= vaddr ? idx + 1 : 0;
}

/*
 * A walk the cache cannot hold: one that reads outside the span, or too many words, or whose
 * result depends on more than the words it read. Marked in the entry, not in the walk's state,
 * where the verifier would tell the two kinds of walk apart at every step.
 */
#define LT_UNWIND_UNCACHEABLE (LT_UNWIND_CACHE_READS + 1)

static __always_inline void walk_spoil(struct lt_walk *s)
{
	s->fill->nr_reads = LT_UNWIND_UNCACHEABLE;
}

/*
 * The loss that ends the walk, kept in the cache entry: in the walk's state the verifier would
 * take each loss for a state of its own at every step (stats is indexed by it, so the verifier
 * tracks the value exactly), and check the steps again for each.
 */
static __always_inline void walk_lost(struct lt_walk *s, __u32 stat)
{
	s->fill->stat = stat;
}

/*
 * In code without frame pointers rbp holds any value, which changes from call to call, and so
 * does what a function saved of it. The walk depends on an rbp value only when it uses it (as a
 * frame pointer, or the base of a CFA): the register's is checked then, and a saved one read
 * from the stack is checked only then (until then, its read is marked unused).
 */
#define LT_BP_REG 0xffff	 /* bp_src: the probe's register */
#define LT_BP_NONE 0xfffe	 /* bp_src: no value the walk depends on (undefined, or 0) */
#define LT_READ_UNUSED 0x8000 /* read_off: a saved rbp the walk has not used (yet) */

static __always_inline void walk_uses_bp(struct lt_walk *s)
{
	struct lt_unwind_cached *c = s->fill;
	__u32 src = c->bp_src;

	if (src == LT_BP_REG)
		c->needs_bp = 1;
	else if (src < LT_UNWIND_CACHE_READS)
		c->read_off[src] &= ~LT_READ_UNUSED;
}

/* Records a word the walk read at addr, for the cache; a saved rbp becomes the walk's rbp. */
static __always_inline void walk_note(struct lt_walk *s, __u64 addr, __u64 val, bool saved_bp)
{
	struct lt_unwind_cached *c = s->fill;
	__u64 off = addr - s->r->sp0;
	__u32 i;

	if (c->nr_reads >= LT_UNWIND_CACHE_READS)
		goto spoil;
	if (off >= LT_UNWIND_CACHE_SPAN || (off & 7))
		goto spoil;
	i = c->nr_reads;
	c->nr_reads = i + 1;
	/* Masked after the barrier, where the verifier sees it (the compiler folds it away). */
	barrier_var(i);
	i &= LT_UNWIND_CACHE_READS - 1;
	c->read_off[i] = (off >> 3) | (saved_bp ? LT_READ_UNUSED : 0);
	c->read_val[i] = val;
	if (saved_bp)
		c->bp_src = i;
	if (off + 8 > c->span)
		c->span = off + 8;
	return;
spoil:
	walk_spoil(s);
}

/* One frame-pointer step: the frame record {saved rbp, return address} at rbp. */
static __always_inline int unwind_fp_step(struct lt_walk *s)
{
	__u64 frame[2];

	walk_uses_bp(s);
	if (!s->r->bp || (s->r->bp & 7))
		return 1; /* the chain's end, as walk_frames sees it */
	if (bpf_probe_read_user(frame, sizeof(frame), (void *)s->r->bp)) {
		walk_lost(s, LT_STAT_UNWIND_READ_FAILED);
		return 1;
	}
	walk_note(s, s->r->bp + 8, frame[1], false);
	walk_note(s, s->r->bp, frame[0], true);
	if (!frame[1] || s->r->bp + 16 <= s->r->sp)
		return 1;
	s->r->sp = s->r->bp + 16;
	s->r->ip = frame[1];
	s->r->bp = frame[0];
	s->r->exact_pc = 0;
	return 0;
}

/* One CFI step with the row that holds at the current frame. */
static __always_inline int unwind_cfi_step(struct lt_walk *s, const struct lt_unwind_row *r)
{
	__u64 cfa, ra, bp = s->r->bp, regs[2];

	switch (LT_ROW_CFA_KIND(r)) {
	case LT_CFA_SP:
		cfa = s->r->sp + ((__u64)r->cfa_off << 3);
		break;
	case LT_CFA_FP:
		walk_uses_bp(s);
		cfa = s->r->bp + ((__u64)r->cfa_off << 3);
		break;
	case LT_CFA_PLT:
		cfa = s->r->sp + 8 + ((s->r->ip & 15) >= r->cfa_off ? 8 : 0);
		break;
	case LT_CFA_SIGNAL:
		/* The interrupted context: rsp and rip, then rbp, from the ucontext. Not cached. */
		walk_spoil(s);
		if (bpf_probe_read_user(regs, sizeof(regs), (void *)(s->r->sp + LT_SIGFRAME_RSP)) ||
		    bpf_probe_read_user(&bp, sizeof(bp), (void *)(s->r->sp + LT_SIGFRAME_RBP))) {
			walk_lost(s, LT_STAT_UNWIND_READ_FAILED);
			return 1;
		}
		if (!regs[1])
			return 1;
		s->r->sp = regs[0];
		s->r->ip = regs[1];
		s->r->bp = bp;
		s->r->exact_pc = 1;
		return 0;
	case LT_CFA_END:
		return 1;
	case LT_CFA_NONE:
		walk_lost(s, LT_STAT_UNWIND_NO_CFI);
		return 1;
	default:
		walk_lost(s, LT_STAT_UNWIND_STOP_ROW);
		return 1;
	}
	/* The stack grows down: a caller's frame lies above. */
	if (cfa <= s->r->sp) {
		walk_lost(s, LT_STAT_UNWIND_READ_FAILED);
		return 1;
	}
	if (bpf_probe_read_user(&ra, sizeof(ra), (void *)(cfa - 8))) {
		walk_lost(s, LT_STAT_UNWIND_READ_FAILED);
		return 1;
	}
	walk_note(s, cfa - 8, ra, false);
	switch (LT_ROW_RBP_KIND(r)) {
	case LT_RBP_AT_CFA:
		if (bpf_probe_read_user(&bp, sizeof(bp),
					(void *)(cfa + ((__s64)r->rbp_off << 3)))) {
			walk_lost(s, LT_STAT_UNWIND_READ_FAILED);
			return 1;
		}
		walk_note(s, cfa + ((__s64)r->rbp_off << 3), bp, true);
		break;
	case LT_RBP_UNDEFINED:
		bp = 0;
		s->fill->bp_src = LT_BP_NONE;
		break;
	default:
		break;
	}
	if (!ra)
		return 1;
	s->r->sp = cfa;
	s->r->ip = ra;
	s->r->bp = bp;
	s->r->exact_pc = 0;
	return 0;
}

/*
 * One step: stores the current frame's ip, then steps to its caller. 1 ends the walk. A global
 * function: the verifier checks it once, on its own, and not again for each iteration of the
 * loop (a bpf_loop callback is checked again until its states repeat).
 */
__noinline int lt_unwind_step(struct lt_walk_regs *regs, struct lt_unwind_cached *fill,
			      struct lt_stack *st, struct lt_unwind_proc *proc)
{
	struct lt_walk w = { .r = regs, .fill = fill, .st = st, .proc = proc }, *s = &w;
	struct lt_unwind_mapping *m;
	struct lt_unwind_row *r;
	__u64 pc;
	__u32 idx;

	if (!regs || !fill || !st || !proc)
		return 1;
	if (s->r->skip) {
		s->r->skip--;
	} else {
		/* A frame beyond the last slot: the stack is cut here. */
		if (s->r->nr >= LT_MAX_DEPTH) {
			walk_lost(s, LT_STAT_TRUNCATED_STACKS);
			return 1;
		}
		s->st->ips[s->r->nr & (LT_MAX_DEPTH - 1)] = s->r->ip;
		s->r->nr++;
	}
	/* A return address may lie past its function's end (a call to a noreturn function). */
	pc = s->r->exact_pc ? s->r->ip : s->r->ip - 1;
	m = unwind_mapping(s->proc, pc);
	if (!m) {
		/* Code mapped after the tables were loaded: user space re-reads the mappings. */
		__sync_fetch_and_add(&s->proc->misses, 1);
		walk_spoil(s);
		if (unwind_mode == LT_UNWIND_AUTO && !s->r->at_entry)
			return unwind_fp_step(s);
		walk_lost(s, LT_STAT_UNWIND_NO_MAPPING);
		return 1;
	}
	if (unwind_mode == LT_UNWIND_AUTO && (m->flags & LT_MAP_HAS_FP) && !s->r->at_entry)
		return unwind_fp_step(s);
	s->r->at_entry = 0;
	if (!(m->flags & LT_MAP_HAS_TABLE)) {
		walk_lost(s, LT_STAT_UNWIND_NO_TABLE);
		return 1;
	}
	idx = lt_unwind_row(m, pc - m->bias) - 1;
	r = idx != ~0U ? bpf_map_lookup_elem(&unwind_rows, &idx) : NULL;
	if (!r) {
		walk_lost(s, LT_STAT_UNWIND_NO_CFI);
		return 1;
	}
	return unwind_cfi_step(s, r);
}

/* bpf_loop body: one step. 1 ends the walk. */
static long unwind_step(__u32 i, void *data)
{
	struct lt_walk_loop *l = data;

	return lt_unwind_step(&l->r, l->fill, l->st, l->proc) ? 1 : 0;
}

/*
 * The cache entry for these registers: the one of their set that holds them, else the set's
 * oldest, which a walk refills. Sets rather than one entry per hash: a process's few hot
 * allocation sites would otherwise meet in one entry often enough (a birthday collision among
 * ten sites in 32 entries is likelier than not) and evict each other at every call.
 */
static __always_inline struct lt_unwind_cached *cache_slot(__u64 ip, __u64 sp, bool *held)
{
	__u32 k = (__u32)(((ip ^ (sp << 7)) * 0x9e3779b97f4a7c15ULL) >> 40) &
		  (LT_UNWIND_CACHE_WAYS - LT_UNWIND_CACHE_ASSOC);
	struct lt_unwind_cached *c, *oldest = NULL;

#pragma unroll
	for (int w = 0; w < LT_UNWIND_CACHE_ASSOC; w++, k++) {
		c = bpf_map_lookup_elem(&unwind_cache, &k);
		if (!c)
			return NULL;
		if (c->ip == ip && c->sp == sp) {
			*held = true;
			return c;
		}
		if (!oldest || c->used < oldest->used)
			oldest = c;
	}
	*held = false;
	return oldest;
}

/*
 * Whether c, which cache_slot() found holding these registers' ip and sp, holds the walk from
 * them, checked word by word; if so, the ips go to st.
 */
static __always_inline bool cache_hit(struct lt_unwind_cached *c, const struct lt_walk_loop *s,
				      const struct lt_unwind_span *buf, __u32 tgid, __u32 exec_id)
{
	__u32 span = c->span, nr_reads = c->nr_reads;
	__u64 off, diff = 0;

	if (!c->nr || (c->needs_bp && c->bp != s->r.bp) ||
	    c->tgid != tgid || c->exec_id != exec_id || c->at_entry != s->r.at_entry ||
	    c->generation != s->proc->generation)
		return false;
	if (span > LT_UNWIND_CACHE_SPAN || nr_reads > LT_UNWIND_CACHE_READS)
		return false;
	if (span && bpf_probe_read_user((void *)buf, span, (void *)s->r.sp))
		return false;
	for (__u32 i = 0; i < LT_UNWIND_CACHE_READS; i++) {
		if (i >= nr_reads)
			break;
		/*
		 * Without a branch: one per word would have the verifier walk each way of each. A
		 * saved rbp the walk did not use (LT_READ_UNUSED) is masked out.
		 */
		off = c->read_off[i];
		diff |= (buf->words[off & (LT_UNWIND_CACHE_SPAN / 8 - 1)] ^ c->read_val[i]) &
			(((off / LT_READ_UNUSED) & 1) - 1);
	}
	if (diff)
		return false;
	/* Every slot, whatever nr: a loop bounded by nr gives the verifier a path per length. */
	__builtin_memcpy(s->st->ips, c->ips, sizeof(c->ips));
	return true;
}

/*
 * Fills the stack scratch's ips from the probe's registers and returns how many; 0 when the
 * process has no tables (the caller walks frame pointers instead). At an entry or exit probe
 * (at_entry), the probed function's own frame is left out: the stack starts at its return
 * address. A global function: the verifier checks it once, on its own, and not again for each
 * path of its callers that reaches it (inlined, the walk and its cache took lt_entry past the
 * verifier's million instructions).
 */
__noinline __u32 lt_unwind_walk(struct pt_regs *ctx, __u32 tgid, __u32 at_entry)
{
	__u32 zero = 0, stat, exec_id;
	bool held;
	struct lt_unwind_span *buf;
	struct stack_scratch *scratch = bpf_map_lookup_elem(&stack_scratch, &zero);
	struct lt_stack *st = scratch ? &scratch->st : NULL;
	struct lt_unwind_cached *c;
	struct lt_walk_loop s = {
	    .r = {
		.ip = PT_REGS_IP(ctx),
		.sp = PT_REGS_SP(ctx),
		.bp = PT_REGS_FP(ctx),
		.skip = at_entry ? 1 : 0,
		.at_entry = at_entry,
		.exact_pc = 1,
	    },
	    .st = st,
	};

	if (!ctx || !st)
		return 0;
	s.r.sp0 = s.r.sp;
	s.r.nr = lt_unknown_zero;
	exec_id = (__u32)bpf_get_current_task_btf()->self_exec_id;
	s.proc = bpf_map_lookup_elem(&unwind_procs, &tgid);
	if (!s.proc) {
		stat_inc(LT_STAT_UNWIND_NOT_READY);
		return 0;
	}
	if (unwind_mode == LT_UNWIND_AUTO && s.proc->all_fp && !at_entry)
		return 0;
	buf = bpf_map_lookup_elem(&unwind_span, &zero);
	c = cache_slot(s.r.ip, s.r.sp, &held);
	if (!c || !buf)
		return 0;
	c->used = ++buf->tick; /* hit or refilled, it is the set's newest */
	if (held && cache_hit(c, &s, buf, tgid, exec_id))
		return c->nr;
	/* The entry is emptied, records the walk's reads, and holds its stack if it is whole. */
	c->nr = 0;
	c->ip = s.r.ip;
	c->sp = s.r.sp;
	c->bp = s.r.bp;
	c->tgid = tgid;
	c->exec_id = exec_id;
	c->at_entry = at_entry;
	c->bp_src = LT_BP_REG;
	c->needs_bp = 0;
	c->generation = s.proc->generation;
	c->nr_reads = 0;
	c->span = 0;
	c->stat = LT_STAT_MAX;
	s.fill = c;
	/* The skipped frame, every slot, and one more step that tells whether the stack goes on. */
	bpf_loop(LT_MAX_DEPTH + 2, unwind_step, &s, 0);
	stat = c->stat;
	if (stat < LT_STAT_MAX) {
		/* A stack cut short is not cached: its loss counts each time. */
		stat_inc(stat);
		return s.r.nr;
	}
	if (s.r.nr && c->nr_reads <= LT_UNWIND_CACHE_READS) {
		__builtin_memcpy(c->ips, st->ips, sizeof(c->ips));
		c->nr = s.r.nr;
	}
	return s.r.nr;
}

#endif /* LT_UNWIND_BPF_H */
