/* probepoint.c: where an entry uprobe goes so the kernel emulates, not single-steps, it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <capstone/capstone.h>

#include "trace/probepoint.h"

/*
 * What the kernel of this machine (Linux 6.18, x86-64) does with a uprobe, by the instruction it
 * sits on, measured with an empty BPF uprobe on test functions that start with each instruction:
 * ns per call probed minus unprobed, best of 3 rounds of 20000 calls.
 * Command: `make build/bench/probecost && sudo build/bench/probecost` (tests/bench/probecost.c).
 *
 *   instruction                bytes                              cost/hit   kernel
 *   nop                        90                                   385 ns   emulated
 *   xchg %ax,%ax               66 90                                397 ns   emulated
 *   nopl (kernel nop table)    0f 1f 00 / 0f 1f 40 00               396 ns   emulated
 *   nopl 0(%rax,%rax)          0f 1f 44 00 00                       186 ns   optimized (nop5)
 *   nopw 0(%rax,%rax)          66 0f 1f 44 00 00                    390 ns   emulated
 *   nopl 7 and 8 bytes         0f 1f 80 00.. / 0f 1f 84 00 00..     391 ns   emulated
 *   nopw 9 bytes               66 0f 1f 84 00 00 00 00 00         13779 ns   single-step
 *   nopl 8(%rax)               0f 1f 40 08                        13944 ns   single-step
 *   nopl %eax                  0f 1f c0                           13914 ns   single-step
 *   cs nopw (gcc padding)      66 2e 0f 1f 84 ..                  attach fails, -ENOTSUPP
 *   pause                      f3 90                                380 ns   emulated
 *   xchg %eax,%r8d             41 90                                391 ns   emulated as a nop (!)
 *   endbr64                    f3 0f 1e fa                        14023 ns   single-step
 *   push %rbx, %rbp            53, 55                               417 ns   emulated
 *   push %r12, %r15            41 54, 41 57                         424 ns   emulated
 *   rex.W push %rbx            48 53                              14432 ns   single-step
 *   push $0                    6a 00                              14243 ns   single-step
 *   jmp rel8, rel32            eb 00, e9 ..                         405 ns   emulated
 *   bnd jmp rel32              f2 e9 ..                             407 ns   emulated
 *   call rel32                 e8 ..                                437 ns   emulated
 *   je rel8, rel32             74 00, 0f 84 ..                      408 ns   emulated
 *   ds je, data16 je           3e 74 00, 66 74 00                 attach fails, -ENOTSUPP
 *   jrcxz, loop                e3 00, e2 00                       13972 ns   single-step
 *   lock incl x(%rip)          f0 ff 05 ..                        attach fails, -ENOTSUPP
 *   test %rdi,%rdi             48 85 ff                           14103 ns   single-step
 *   mov %rdi,%rax              48 89 f8                           13974 ns   single-step
 *   mov %rsp,%rbp              48 89 e5                           14244 ns   single-step
 *   sub $8,%rsp                48 83 ec 08                        13940 ns   single-step
 *   cmp $0x1000,%rdi           48 81 ff 00 10 00 00               13873 ns   single-step
 *   cmpb $0,x(%rip)            80 3d ..                           13614 ns   single-step
 *   lea 8(%rdi),%rax           48 8d 47 08                        14081 ns   single-step
 *   xor %eax,%eax              31 c0                              13829 ns   single-step
 *   ret                        c3                                 13989 ns   single-step
 *
 * glibc 2.36 free(NULL): probe at +0 (test) 13980 ns, at +3 (je) 393 ns per call. The bench
 * exits non-zero when probepoint_insn_emulated disagrees with what it measures.
 */

/*
 * The kernel recognises nops by comparing the bytes with its own table (x86_nops[len]), not by
 * decoding, so only these exact byte strings count; other nop encodings are single-stepped.
 */
/* clang-format off */
static const struct {
	uint8_t len;
	uint8_t bytes[8];
} kernel_nops[] = {
	{ 1, { 0x90 } },
	{ 2, { 0x66, 0x90 } },
	{ 3, { 0x0f, 0x1f, 0x00 } },
	{ 4, { 0x0f, 0x1f, 0x40, 0x00 } },
	{ 5, { 0x0f, 0x1f, 0x44, 0x00, 0x00 } },
	{ 6, { 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00 } },
	{ 7, { 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00 } },
	{ 8, { 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 } },
};
/* clang-format on */

static bool is_kernel_nop(const cs_insn *insn)
{
	for (size_t i = 0; i < sizeof(kernel_nops) / sizeof(kernel_nops[0]); i++) {
		if (insn->size == kernel_nops[i].len &&
		    !memcmp(insn->bytes, kernel_nops[i].bytes, insn->size))
			return true;
	}
	return false;
}

/* Of the prefixes a probe may carry at all, the kernel emulates branches with any but 0x66. */
static bool is_emulated_branch(const cs_insn *insn)
{
	const cs_x86 *x = &insn->detail->x86;
	uint8_t op = x->opcode[0];

	if (x->prefix[2] == X86_PREFIX_OPSIZE)
		return false;
	if (op == 0xeb || op == 0xe9 || op == 0xe8 || (op >= 0x70 && op <= 0x7f))
		return true;
	return op == 0x0f && x->opcode[1] >= 0x80 && x->opcode[1] <= 0x8f;
}

/* push of a 64-bit register: 50+r, or 41 50+r for r8-r15; any other prefix is single-stepped. */
static bool is_emulated_push(const cs_insn *insn)
{
	const uint8_t *b = insn->bytes;

	if (insn->size == 1)
		return b[0] >= 0x50 && b[0] <= 0x57;
	return insn->size == 2 && b[0] == 0x41 && b[1] >= 0x50 && b[1] <= 0x57;
}

/* The kernel refuses a uprobe on any instruction with a lock or es/cs/ss/ds segment prefix. */
static bool kernel_refuses(const cs_insn *insn)
{
	const cs_x86 *x = &insn->detail->x86;

	return x->prefix[0] == X86_PREFIX_LOCK || x->prefix[1] == X86_PREFIX_CS ||
	       x->prefix[1] == X86_PREFIX_SS || x->prefix[1] == X86_PREFIX_DS ||
	       x->prefix[1] == X86_PREFIX_ES;
}

static bool insn_emulated(const cs_insn *insn)
{
	const cs_x86 *x = &insn->detail->x86;

	if (kernel_refuses(insn))
		return false;

	/* The kernel takes opcode 0x90 after any prefix for a nop: pause (f3 90) too, and xchg. */
	if (x->opcode[0] == 0x90)
		return true;
	return is_kernel_nop(insn) || is_emulated_branch(insn) || is_emulated_push(insn);
}

/*
 * Whether the kernel runs the instruction correctly when it is probed. With REX.B, 0x90 is
 * xchg %eax,%r8d (or %rax,%r8), which the kernel emulates as a nop: measured, a probe there
 * leaves r8 and eax unswapped. Such a point would change the traced program's results.
 */
static bool point_usable(const cs_insn *insn)
{
	const cs_x86 *x = &insn->detail->x86;

	if (x->opcode[0] == 0x90 && (x->rex & 0x01))
		return false;
	return insn_emulated(insn);
}

static int open_capstone(csh *cs)
{
	if (cs_open(CS_ARCH_X86, CS_MODE_64, cs) != CS_ERR_OK)
		return -ENOMEM;
	if (cs_option(*cs, CS_OPT_DETAIL, CS_OPT_ON) != CS_ERR_OK) {
		cs_close(cs);
		return -ENOMEM;
	}
	return 0;
}

bool probepoint_insn_emulated(const uint8_t *code, size_t size, uint64_t vaddr)
{
	cs_insn *insn;
	bool ret = false;
	csh cs;

	if (!code || !size || open_capstone(&cs))
		return false;
	if (cs_disasm(cs, code, size, vaddr, 1, &insn) == 1) {
		ret = insn_emulated(insn);
		cs_free(insn, 1);
	}
	cs_close(&cs);
	return ret;
}

/* Capstone names every size of a register; the ABI cares about the whole 64-bit one. */
static x86_reg full_reg(x86_reg r)
{
	switch (r) {
	case X86_REG_RDI:
	case X86_REG_EDI:
	case X86_REG_DI:
	case X86_REG_DIL:
		return X86_REG_RDI;
	case X86_REG_RSI:
	case X86_REG_ESI:
	case X86_REG_SI:
	case X86_REG_SIL:
		return X86_REG_RSI;
	case X86_REG_RDX:
	case X86_REG_EDX:
	case X86_REG_DX:
	case X86_REG_DL:
	case X86_REG_DH:
		return X86_REG_RDX;
	case X86_REG_RCX:
	case X86_REG_ECX:
	case X86_REG_CX:
	case X86_REG_CL:
	case X86_REG_CH:
		return X86_REG_RCX;
	case X86_REG_R8:
	case X86_REG_R8D:
	case X86_REG_R8W:
	case X86_REG_R8B:
		return X86_REG_R8;
	case X86_REG_R9:
	case X86_REG_R9D:
	case X86_REG_R9W:
	case X86_REG_R9B:
		return X86_REG_R9;
	case X86_REG_RSP:
	case X86_REG_ESP:
	case X86_REG_SP:
	case X86_REG_SPL:
		return X86_REG_RSP;
	default:
		return r;
	}
}

/* Whether r holds one of the first nr_args integer arguments (System V x86-64 order). */
static bool is_arg_reg(x86_reg r, unsigned int nr_args)
{
	static const x86_reg args[] = { X86_REG_RDI, X86_REG_RSI, X86_REG_RDX,
					X86_REG_RCX, X86_REG_R8,  X86_REG_R9 };

	r = full_reg(r);
	for (unsigned int i = 0; i < nr_args && i < sizeof(args) / sizeof(args[0]); i++)
		if (r == args[i])
			return true;
	return false;
}

/*
 * How much an instruction the BPF program will not see moves the stack pointer down: 8 for a
 * 64-bit push of a register or an immediate, imm for sub $imm,%rsp. -1 for any other change, which
 * would leave the return address at an offset the BPF program cannot know.
 */
static int sp_change(const cs_insn *insn)
{
	const cs_x86 *x = &insn->detail->x86;

	if (insn->id == X86_INS_PUSH && x->op_count == 1 && x->operands[0].size == 8 &&
	    (x->operands[0].type == X86_OP_REG || x->operands[0].type == X86_OP_IMM))
		return 8;
	if (insn->id == X86_INS_SUB && x->op_count == 2 && x->operands[0].type == X86_OP_REG &&
	    x->operands[0].reg == X86_REG_RSP && x->operands[1].type == X86_OP_IMM &&
	    x->operands[1].imm >= 0 && x->operands[1].imm <= 255)
		return (int)x->operands[1].imm;
	return -1;
}

/*
 * Whether the probe may run after insn instead of before it: the instruction must fall through,
 * keep the argument registers, and move the stack pointer only by an amount added to *sp_adj.
 */
static bool skippable(csh cs, const cs_insn *insn, unsigned int nr_args, uint32_t *sp_adj)
{
	static const uint8_t stop_groups[] = {
	    CS_GRP_JUMP,
	    CS_GRP_CALL,
	    CS_GRP_RET,
	    CS_GRP_INT,
	    CS_GRP_IRET,
	    CS_GRP_PRIVILEGE,
	    CS_GRP_BRANCH_RELATIVE,
	};
	const cs_x86 *x = &insn->detail->x86;
	uint8_t nread, nwrite;
	cs_regs rd, wr;
	bool moves_sp = false;
	int delta;

	for (size_t i = 0; i < sizeof(stop_groups); i++) {
		if (cs_insn_group(cs, insn, stop_groups[i]))
			return false;
	}
	/* Capstone lists no written registers for these, yet they change control flow or rsp. */
	switch (insn->id) {
	case X86_INS_ENTER:
	case X86_INS_LEAVE:
	case X86_INS_UD0:
	case X86_INS_UD2:
	case X86_INS_XBEGIN:
	case X86_INS_XABORT:
	case X86_INS_XEND:
	case X86_INS_SYSCALL:
	case X86_INS_SYSENTER:
		return false;
	default:
		break;
	}
	if (cs_regs_access(cs, insn, rd, &nread, wr, &nwrite) != CS_ERR_OK)
		return false;
	for (uint8_t i = 0; i < nwrite; i++) {
		/* rbp too: a stack taken at the probe walks the frame chain from the caller's rbp. */
		if (is_arg_reg(wr[i], nr_args) || full_reg(wr[i]) == X86_REG_RBP)
			return false;
		if (full_reg(wr[i]) == X86_REG_RSP)
			moves_sp = true;
	}
	/* A store through rsp could overwrite the return address the BPF program reads. */
	for (uint8_t i = 0; i < x->op_count; i++) {
		const cs_x86_op *op = &x->operands[i];

		if (op->type == X86_OP_MEM && (op->access & CS_AC_WRITE) &&
		    (full_reg(op->mem.base) == X86_REG_RSP ||
		     full_reg(op->mem.index) == X86_REG_RSP))
			return false;
	}
	if (!moves_sp)
		return true;
	delta = sp_change(insn);
	if (delta < 0 || *sp_adj + (uint32_t)delta > 255)
		return false;
	*sp_adj += (uint32_t)delta;
	return true;
}

/*
 * Whether a direct branch or call anywhere in the function lands at or before the point, where
 * the probe would then run twice in one call, or with the skipped instructions not run. A byte
 * that does not decode means the rest cannot be checked, which counts as a hit.
 */
static bool prefix_is_target(csh cs, const uint8_t *code, size_t size, uint64_t vaddr,
			     uint64_t point)
{
	const uint8_t *p = code;
	uint64_t addr = vaddr;
	size_t left = size;
	bool hit = false;
	cs_insn *insn;

	insn = cs_malloc(cs);
	if (!insn)
		return true;
	while (left) {
		const cs_x86 *x = &insn->detail->x86;

		if (!cs_disasm_iter(cs, &p, &left, &addr, insn)) {
			hit = true;
			break;
		}
		if (!cs_insn_group(cs, insn, CS_GRP_JUMP) && !cs_insn_group(cs, insn, CS_GRP_CALL))
			continue;
		if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
			continue;
		if ((uint64_t)x->operands[0].imm >= vaddr &&
		    (uint64_t)x->operands[0].imm <= vaddr + point) {
			hit = true;
			break;
		}
	}
	cs_free(insn, 1);
	return hit;
}

static void describe(const cs_insn *insn, struct probe_point *pp)
{
	int n;

	n = snprintf(pp->insn, sizeof(pp->insn), "%s%s%s", insn->mnemonic,
		     insn->op_str[0] ? " " : "", insn->op_str);
	if (n >= (int)sizeof(pp->insn))
		memcpy(pp->insn + sizeof(pp->insn) - 4, "...", 4);
}

int probepoint_choose(const uint8_t *code, size_t size, uint64_t vaddr, unsigned int nr_args,
		      struct probe_point *pp)
{
	const uint8_t *p = code;
	uint64_t addr = vaddr;
	size_t left = size;
	uint32_t sp_adj = 0;
	cs_insn *insn;
	bool found = false;
	int err;
	csh cs;

	memset(pp, 0, sizeof(*pp));
	/* Without a size the function's end, and so its branches, are unknown: keep the start. */
	if (!size)
		return 0;
	if (!code)
		return -EINVAL;
	err = open_capstone(&cs);
	if (err)
		return err;
	insn = cs_malloc(cs);
	if (!insn) {
		cs_close(&cs);
		return -ENOMEM;
	}

	if (!cs_disasm_iter(cs, &p, &left, &addr, insn)) {
		err = -EINVAL;
		goto out;
	}
	/* The fallback: the first instruction, whatever the kernel does with it. */
	pp->emulated = insn_emulated(insn);
	describe(insn, pp);

	for (;;) {
		if (point_usable(insn)) {
			found = true;
			break;
		}
		if (!skippable(cs, insn, nr_args, &sp_adj))
			break;
		if (!cs_disasm_iter(cs, &p, &left, &addr, insn))
			break;
	}
	if (found && insn->address != vaddr &&
	    !prefix_is_target(cs, code, size, vaddr, insn->address - vaddr)) {
		pp->offset = insn->address - vaddr;
		pp->sp_adj = sp_adj;
		pp->emulated = true;
		describe(insn, pp);
	}
out:
	cs_free(insn, 1);
	cs_close(&cs);
	return err;
}
