/* probepoint.h: where to put an entry uprobe inside a function so the kernel emulates, not single-steps, it. */
#ifndef LT_PROBEPOINT_H
#define LT_PROBEPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct probe_point {
	uint64_t offset;	/* bytes from the function's first instruction to the probe point */
	uint32_t sp_adj;	/* bytes the stack pointer moved down before the probe point */
	bool emulated;		/* the instruction at the probe point is one the kernel emulates */
	char insn[48];		/* mnemonic and operands at the probe point, for -v and bench output */
};

/*
 * Chooses the entry probe point of a function from its machine code (x86-64). code holds the
 * function's bytes from its first instruction, size its length (st_size), vaddr its address.
 * The point is the first instruction the kernel emulates, reached in a straight line from the entry,
 * when the instructions before it leave the registers of the first nr_args integer arguments (rdi,
 * rsi, rdx, rcx, r8, r9 in that order) intact,
 * change the stack pointer only in ways counted in sp_adj, and no branch of the function targets the
 * point or anything before it. Otherwise the point is the function's start (offset 0).
 * Returns 0 (pp always filled), or -EINVAL when the code cannot be decoded at all.
 */
int probepoint_choose(const uint8_t *code, size_t size, uint64_t vaddr, unsigned int nr_args,
		      struct probe_point *pp);

/* True when the kernel of this machine emulates the instruction at code (used by probepoint_choose). */
bool probepoint_insn_emulated(const uint8_t *code, size_t size, uint64_t vaddr);

#endif
