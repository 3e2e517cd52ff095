/* exitpoint.c: where a call of a function ends: its `ret` instructions, through its tail calls. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <capstone/capstone.h>

#include "base/array.h"
#include "trace/exitpoint.h"

/* One function (or a piece of one: a .cold part, a PLT section) to search. */
struct piece {
	void *obj;
	uint64_t entry;
};

struct search {
	const struct exit_code_ops *ops;
	void *ctx;
	csh cs;
	cs_insn *insn;
	struct piece pieces[EXITPOINT_MAX_FUNCS];
	size_t nr_pieces;
	struct exit_site *out;
	size_t max, n;
	bool complete;
};

/* Queues the function at obj:vaddr, once; a tail call into an entry point needs nothing. */
static void add_piece(struct search *s, void *obj, uint64_t vaddr)
{
	if (s->ops->is_entry(s->ctx, obj, vaddr))
		return;
	for (size_t i = 0; i < s->nr_pieces; i++)
		if (s->pieces[i].obj == obj && s->pieces[i].entry == vaddr)
			return;
	if (s->nr_pieces == EXITPOINT_MAX_FUNCS) {
		s->complete = false;
		return;
	}
	s->pieces[s->nr_pieces++] = (struct piece){ .obj = obj, .entry = vaddr };
}

static void add_exit(struct search *s, void *obj, uint64_t vaddr)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->out[i].obj == obj && s->out[i].vaddr == vaddr)
			return;
	if (s->n == s->max) {
		s->complete = false;
		return;
	}
	s->out[s->n++] = (struct exit_site){ .obj = obj, .vaddr = vaddr };
}

static bool bit(const uint8_t *map, uint64_t i)
{
	return map[i >> 3] & (1u << (i & 7));
}

static void set_bit(uint8_t *map, uint64_t i)
{
	map[i >> 3] |= (uint8_t)(1u << (i & 7));
}

/* Instruction starts of [lo, hi) decoded in a straight line from lo; stops where decoding fails. */
static void sweep(struct search *s, const uint8_t *code, uint64_t lo, uint64_t hi, uint8_t *starts)
{
	const uint8_t *p = code;
	size_t left = hi - lo;
	uint64_t addr = lo;

	while (left) {
		uint64_t at = addr;

		if (!cs_disasm_iter(s->cs, &p, &left, &addr, s->insn))
			return;
		set_bit(starts, at - lo);
	}
}

/* The target of a jump or call with an immediate operand; false for an indirect one. */
static bool direct_target(const cs_insn *insn, uint64_t *target)
{
	const cs_x86 *x = &insn->detail->x86;

	if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
		return false;
	*target = (uint64_t)x->operands[0].imm;
	return true;
}

/* The slot of `jmp *disp(%rip)`: a GOT entry. */
static bool rip_slot(const cs_insn *insn, uint64_t *slot)
{
	const cs_x86 *x = &insn->detail->x86;
	const cs_x86_op *op = &x->operands[0];

	if (x->op_count != 1 || op->type != X86_OP_MEM || op->mem.base != X86_REG_RIP ||
	    op->mem.index != X86_REG_INVALID || op->mem.segment != X86_REG_INVALID)
		return false;
	*slot = insn->address + insn->size + (uint64_t)op->mem.disp;
	return true;
}

/* A jump out of the piece: a tail call, through an immediate or a GOT slot. */
static void follow_tail(struct search *s, void *obj, const cs_insn *insn)
{
	uint64_t target, slot;
	void *tobj;

	if (direct_target(insn, &target))
		add_piece(s, obj, target);
	else if (rip_slot(insn, &slot) && !s->ops->slot_target(s->ctx, obj, slot, &tobj, &target))
		add_piece(s, tobj, target);
	else
		s->complete = false;
}

struct walk {
	uint64_t *todo;
	size_t nr, cap;
	uint8_t *seen, *starts;
	uint64_t lo, hi;
};

static int push(struct walk *w, uint64_t addr)
{
	if (addr < w->lo || addr >= w->hi || bit(w->seen, addr - w->lo))
		return 0;
	set_bit(w->seen, addr - w->lo);
	if (array_reserve(&w->todo, &w->cap, w->nr, sizeof(*w->todo), 64))
		return -ENOMEM;
	w->todo[w->nr++] = addr;
	return 0;
}

/* Where control goes after insn at addr: ret, jumps and calls; what falls through. */
static int step(struct search *s, struct walk *w, void *obj, const cs_insn *insn, uint64_t next)
{
	uint64_t target;

	switch (insn->id) {
	case X86_INS_RET:
		add_exit(s, obj, insn->address);
		return 0;
	case X86_INS_JMP:
		if (direct_target(insn, &target) && target >= w->lo && target < w->hi)
			return push(w, target);
		follow_tail(s, obj, insn);
		return 0;
	case X86_INS_HLT:
	case X86_INS_UD2:
	case X86_INS_INT3:
		return 0;
	default:
		break;
	}
	if (cs_insn_group(s->cs, insn, X86_GRP_JUMP)) {
		/* A conditional jump: both ways, the taken one possibly a conditional tail call. */
		if (!direct_target(insn, &target))
			s->complete = false;
		else if (target < w->lo || target >= w->hi)
			add_piece(s, obj, target);
		else if (push(w, target))
			return -ENOMEM;
	}
	/* Calls return here (a noreturn one leaves padding or more of this function after it). */
	return push(w, next);
}

/* Follows the control flow of one piece from its entry; its rets are exits. */
static int search_piece(struct search *s, const struct piece *pc)
{
	struct walk w = { 0 };
	const uint8_t *code;
	size_t bytes;
	int err = 0;

	if (s->ops->range(s->ctx, pc->obj, pc->entry, &w.lo, &w.hi) || w.hi <= w.lo ||
	    pc->entry < w.lo || pc->entry >= w.hi) {
		s->complete = false;
		return -ENOENT;
	}
	code = s->ops->code(s->ctx, pc->obj, w.lo, w.hi - w.lo);
	if (!code) {
		s->complete = false;
		return -ENOENT;
	}
	bytes = (w.hi - w.lo + 7) / 8;
	w.seen = calloc(1, bytes);
	w.starts = calloc(1, bytes);
	if (!w.seen || !w.starts) {
		err = -ENOMEM;
		goto out;
	}
	sweep(s, code, w.lo, w.hi, w.starts);
	err = push(&w, pc->entry);
	while (!err && w.nr) {
		uint64_t addr = w.todo[--w.nr], next = addr;
		const uint8_t *p = code + (addr - w.lo);
		size_t left = w.hi - addr;

		/* Off the straight-line decoding: the two readings disagree, so trust neither. */
		if (!bit(w.starts, addr - w.lo) || !cs_disasm_iter(s->cs, &p, &left, &next, s->insn)) {
			s->complete = false;
			continue;
		}
		err = step(s, &w, pc->obj, s->insn, next);
	}
out:
	free(w.todo);
	free(w.seen);
	free(w.starts);
	return err;
}

int exitpoint_find(const struct exit_code_ops *ops, void *ctx, void *obj, uint64_t vaddr,
		   struct exit_site *out, size_t max, size_t *n, bool *complete)
{
	struct search s = { .ops = ops, .ctx = ctx, .out = out, .max = max, .complete = true };
	int err = 0;

	*n = 0;
	*complete = false;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &s.cs) != CS_ERR_OK)
		return -ENOMEM;
	if (cs_option(s.cs, CS_OPT_DETAIL, CS_OPT_ON) != CS_ERR_OK || !(s.insn = cs_malloc(s.cs))) {
		cs_close(&s.cs);
		return -ENOMEM;
	}
	s.pieces[s.nr_pieces++] = (struct piece){ .obj = obj, .entry = vaddr };
	for (size_t i = 0; i < s.nr_pieces && err != -ENOMEM; i++) {
		err = search_piece(&s, &s.pieces[i]);
		/* Only the entry point's own code must be readable; a lost piece is an incomplete search. */
		if (err == -ENOENT && i > 0)
			err = 0;
	}
	cs_free(s.insn, 1);
	cs_close(&s.cs);
	*n = s.n;
	*complete = s.complete;
	return err;
}
