/* exitpoint.h: where a call of a function ends: its `ret` instructions, through its tail calls. */
#ifndef LT_EXITPOINT_H
#define LT_EXITPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * What the search asks of its caller about the objects a process maps. obj is the caller's own
 * handle of one object (opaque here); addresses are that object's ELF virtual addresses.
 */
struct exit_code_ops {
	/* The code range [*lo, *hi) of the function that holds vaddr (a symbol, else its FDE). 0 or
	 * -ENOENT. */
	int (*range)(void *ctx, void *obj, uint64_t vaddr, uint64_t *lo, uint64_t *hi);
	/* size bytes of obj's code at vaddr, or NULL. */
	const uint8_t *(*code)(void *ctx, void *obj, uint64_t vaddr, size_t size);
	/* Where a jump through the pointer at slot (a GOT entry of obj) leads, the way the dynamic
	 * linker binds it: *tobj and *tvaddr. 0 or -ENOENT. */
	int (*slot_target)(void *ctx, void *obj, uint64_t slot, void **tobj, uint64_t *tvaddr);
	/* Whether obj:vaddr is an entry point with probes of its own: a tail call there is seen by
	 * them, and its exits are not searched. */
	bool (*is_entry)(void *ctx, void *obj, uint64_t vaddr);
};

/* One `ret` instruction. */
struct exit_site {
	void *obj;
	uint64_t vaddr;
};

/* Most functions (the entry point and the pieces its tail calls reach) one search follows. */
#define EXITPOINT_MAX_FUNCS 16

/*
 * Finds every `ret` through which a call of the function at obj:vaddr can return to its caller:
 * its own, and those of the functions it tail-calls (direct jumps out of its range, jumps through a
 * GOT slot, PLT stubs), recursively. Instructions are followed from the entry along the control
 * flow, and a `ret` counts only where a linear decoding of its function from the start agrees on
 * the instruction boundary: a probe must never land inside an instruction. Writes up to max sites
 * to out and their number to *n. *complete is false when some way out could not be followed (an
 * indirect jump through a register, code that does not decode, too many functions or sites).
 * Returns 0, -ENOENT when the entry function's own code cannot be read, or -ENOMEM.
 */
int exitpoint_find(const struct exit_code_ops *ops, void *ctx, void *obj, uint64_t vaddr,
		   struct exit_site *out, size_t max, size_t *n, bool *complete);

#endif
