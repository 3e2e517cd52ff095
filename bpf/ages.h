/* ages.h: per-stack age slots by allocation time: where a block counts, and what they answer. */
#ifndef LT_AGES_H
#define LT_AGES_H

/*
 * Included by leaktop.h (BPF programs and user space alike): pure arithmetic over one struct
 * lt_ages, no maps, no helpers, so that tests/unit/test_ages.c checks the very code the probes run.
 *
 * A stack's live blocks are counted in slots by allocation time, so that OLDEST and --min-age
 * come from a stack's totals alone, whatever the number of its live blocks. The slots are aligned
 * on absolute time (CLOCK_MONOTONIC) in levels, each coarser than the one before: level k has
 * LT_AGE_RING slots, each a window of 2^lt_age_shift[k] ns, used as a ring (the window w in slot
 * w % LT_AGE_RING). A slot keeps the time of its first block (first_ns, its earliest), which
 * also says which window it holds. When a window's slot is wanted for a later window, its blocks
 * are carried into the next level's slot of their time (which may carry that slot's blocks on in
 * turn), and past the last level into the overflow slot. So young blocks sit in narrow windows and
 * old ones in wide ones, and a slot's window only ever moves on to a later time.
 *
 * A free finds its block's slot from the block's time: the finest level whose slot holds the
 * block's window (the block was carried past the others, or skipped them), else the overflow.
 *
 * Answers: a stack's oldest block was allocated at the first_ns of its earliest slot with blocks:
 * exact while that slot's first block lives; else early, by less than the slot's window (every
 * block of a slot lies in [first_ns, end of its window)). A slot past level 0 holds only blocks
 * older than the window of the level before, and is 4 or 8 times that wide: the error is
 * relative to the age. The overflow has no window: once its first block is freed, its time is a
 * bound only. --min-age S counts a slot whose first_ns is at least S old: every block at least S
 * old, and no block younger than S by a window or more.
 *
 * The slots are kept where the stack's totals are, and changed where they are: no map lookup of
 * their own, two atomic adds per allocation and per free, and a carry (a compare-and-exchange and
 * two exchanges per level) when an allocation lands on a slot of an earlier window.
 *
 * Concurrency: the figures are changed only by atomic adds and exchanges, and a carry moves what
 * it takes out of a slot (an exchange) into another, so the slots always add up to the stack's
 * outstanding figures. Two CPUs working on one stack at once may leave a few blocks counted in a
 * neighbouring slot (a free that subtracts from a slot just emptied by a carry; an allocation
 * added to a slot a carry empties next; a slot taken by another CPU between the look and the
 * exchange): then one slot holds a little less, even below zero, and another a little more.
 * Nothing is ever lost from the totals. first_ns is set by a compare-and-exchange when a slot is
 * taken for a later window; within its window (lowered, or set anew when the slot is empty) by a
 * plain store, which a race may leave a few ns later than the slot's first block.
 */

#define LT_AGE_LEVELS	7
#define LT_AGE_SLOTS	15 /* the levels' slots (14), then the overflow */
#define LT_AGE_OVERFLOW (LT_AGE_SLOTS - 1)

/*
 * Windows: 0.27 s, 1.07 s, 4.3 s, 34 s, 4.6 min, 37 min, 4.9 h, two slots each (a power of two:
 * the probes divide nothing; x86 has no cheap division). A level keeps a block until its ring
 * comes round, so a block reaches level k + 1 only when older than level k's window:
 * a slot of level k + 1 holds blocks at least that old, in a window 4 (levels 1, 2) or 8 times
 * as wide. Past 4.9 h, the overflow.
 */
static const unsigned int lt_age_shift[LT_AGE_LEVELS] = { 28, 30, 32, 35, 38, 41, 44 };
#define LT_AGE_RING 2
static const unsigned int lt_age_base[LT_AGE_LEVELS] = { 0, 2, 4, 6, 8, 10, 12 };

struct lt_age_slot {
	__u64 first_ns; /* the earliest block here since the slot was empty; 0: never used */
	__s64 bytes;
	__s64 allocs;
};

struct lt_ages {
	struct lt_age_slot s[LT_AGE_SLOTS];
};

#ifdef __bpf__
#define LT_AGE_UNROLL _Pragma("unroll")
#else
#define LT_AGE_UNROLL
#endif

/* The slot of level k for time t_ns. */
static inline unsigned int lt_age_slot(unsigned int k, __u64 t_ns)
{
	return lt_age_base[k] + (unsigned int)((t_ns >> lt_age_shift[k]) & (LT_AGE_RING - 1));
}

/*
 * Counts bytes and allocs allocated at t_ns (now, or an older time for a block put back) in the
 * slot of their window. A slot holding an earlier window is taken for t's, and what it held is
 * carried on to the next level, under its own first_ns; a slot holding a later window is passed.
 */
static inline void lt_ages_add(struct lt_ages *a, __u64 t_ns, __s64 bytes, __s64 allocs)
{
	unsigned int i;
	__u64 f;

	LT_AGE_UNROLL
	for (unsigned int k = 0; k < LT_AGE_LEVELS; k++) {
		i = lt_age_slot(k, t_ns);
		f = a->s[i].first_ns;
		if ((f >> lt_age_shift[k]) == (t_ns >> lt_age_shift[k])) {
			if (t_ns < f || a->s[i].allocs <= 0)
				a->s[i].first_ns = t_ns;
			__sync_fetch_and_add(&a->s[i].bytes, bytes);
			__sync_fetch_and_add(&a->s[i].allocs, allocs);
			return;
		}
		if (f > t_ns)
			continue;
		if (__sync_val_compare_and_swap(&a->s[i].first_ns, f, t_ns) != f) {
			/* Another CPU took the slot first: counted here, a window off. */
			__sync_fetch_and_add(&a->s[i].bytes, bytes);
			__sync_fetch_and_add(&a->s[i].allocs, allocs);
			return;
		}
		bytes = __sync_lock_test_and_set(&a->s[i].bytes, bytes);
		allocs = __sync_lock_test_and_set(&a->s[i].allocs, allocs);
		if (!bytes && !allocs)
			return;
		t_ns = f;
	}
	i = LT_AGE_OVERFLOW;
	f = a->s[i].first_ns;
	if (!f || t_ns < f || a->s[i].allocs <= 0)
		a->s[i].first_ns = t_ns;
	__sync_fetch_and_add(&a->s[i].bytes, bytes);
	__sync_fetch_and_add(&a->s[i].allocs, allocs);
}

/* Takes bytes and allocs allocated at t_ns off the slot that counts them. */
static inline void lt_ages_sub(struct lt_ages *a, __u64 t_ns, __s64 bytes, __s64 allocs)
{
	unsigned int i = LT_AGE_OVERFLOW, j;

	LT_AGE_UNROLL
	for (unsigned int k = 0; k < LT_AGE_LEVELS; k++) {
		j = lt_age_slot(k, t_ns);
		if ((a->s[j].first_ns >> lt_age_shift[k]) == (t_ns >> lt_age_shift[k])) {
			i = j;
			break;
		}
	}
	__sync_fetch_and_add(&a->s[i].bytes, -bytes);
	__sync_fetch_and_add(&a->s[i].allocs, -allocs);
}

/* The allocation time (ns) of the stack's oldest live block, as the slots tell it; 0: none. */
static inline __u64 lt_ages_oldest(const struct lt_ages *a)
{
	__u64 oldest = 0;

	for (unsigned int i = 0; i < LT_AGE_SLOTS; i++)
		if (a->s[i].allocs > 0 && a->s[i].first_ns &&
		    (!oldest || a->s[i].first_ns < oldest))
			oldest = a->s[i].first_ns;
	return oldest;
}

/* The bytes and allocs of the slots whose first block was allocated at or before cutoff_ns. */
static inline void lt_ages_before(const struct lt_ages *a, __u64 cutoff_ns, __s64 *bytes,
				  __s64 *allocs)
{
	*bytes = 0;
	*allocs = 0;
	for (unsigned int i = 0; i < LT_AGE_SLOTS; i++) {
		if (!a->s[i].first_ns || a->s[i].first_ns > cutoff_ns)
			continue;
		*bytes += a->s[i].bytes;
		*allocs += a->s[i].allocs;
	}
}

#endif /* LT_AGES_H */
