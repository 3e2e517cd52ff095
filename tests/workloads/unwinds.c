/* unwinds.c: allocations under frames the CFI unwinder cannot step over, one kind per run. */
/*
 * Usage: unwinds [-w] KIND N
 * N times, run_kind() calls a trampoline of KIND, which calls unw_alloc():
 *   unw_alloc()   555 x N / N   malloc(555), held
 * The trampolines, in assembly:
 *   nocfi      no CFI at all: its return address lies in code no FDE covers (unwind_no_cfi)
 *   stoprow    its CFA is kept in rbx, a register the unwinder does not follow (unwind_stop_row)
 *   badframe   its CFA is rbp + 16 with rbp = 8 during the call: unreadable (unwind_read_failed)
 * Each stack, walked with the CFI tables, is cut at the trampoline, once per allocation.
 */
#include <stdlib.h>
#include <string.h>

#include "wl.h"

#define NOINLINE __attribute__((noinline))

void tramp_nocfi(void (*fn)(void));
void tramp_stoprow(void (*fn)(void));
void tramp_badframe(void (*fn)(void));

__asm__(".text\n"
	".globl tramp_nocfi\n"
	".type tramp_nocfi, @function\n"
	"tramp_nocfi:\n"
	"	push %rbp\n"
	"	mov %rsp, %rbp\n"
	"	call *%rdi\n"
	"	pop %rbp\n"
	"	ret\n"
	".size tramp_nocfi, .-tramp_nocfi\n"

	".globl tramp_stoprow\n"
	".type tramp_stoprow, @function\n"
	"tramp_stoprow:\n"
	"	.cfi_startproc\n"
	"	push %rbx\n"
	"	.cfi_def_cfa_offset 16\n"
	"	.cfi_offset %rbx, -16\n"
	"	mov %rsp, %rbx\n"
	"	.cfi_def_cfa_register %rbx\n"
	"	call *%rdi\n"
	"	mov %rbx, %rsp\n"
	"	.cfi_def_cfa_register %rsp\n"
	"	pop %rbx\n"
	"	.cfi_def_cfa_offset 8\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size tramp_stoprow, .-tramp_stoprow\n"

	".globl tramp_badframe\n"
	".type tramp_badframe, @function\n"
	"tramp_badframe:\n"
	"	.cfi_startproc\n"
	"	push %rbp\n"
	"	.cfi_def_cfa_offset 16\n"
	"	.cfi_offset %rbp, -16\n"
	"	push %r12\n"
	"	.cfi_def_cfa_offset 24\n"
	"	.cfi_offset %r12, -24\n"
	"	sub $8, %rsp\n"
	"	.cfi_def_cfa_offset 32\n"
	"	mov $8, %rbp\n"
	"	.cfi_def_cfa %rbp, 16\n"
	"	call *%rdi\n"
	"	.cfi_def_cfa %rsp, 32\n"
	"	add $8, %rsp\n"
	"	.cfi_def_cfa_offset 24\n"
	"	pop %r12\n"
	"	.cfi_def_cfa_offset 16\n"
	"	pop %rbp\n"
	"	.cfi_def_cfa_offset 8\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size tramp_badframe, .-tramp_badframe\n");

static void *held[64];
static int nr_held;

static NOINLINE void unw_alloc(void)
{
	if (nr_held < 64) {
		held[nr_held] = malloc(555); /* SITE:unw_alloc */
		wl_touch(held[nr_held++], 555);
	}
}

static NOINLINE void run_kind(const char *kind)
{
	if (!strcmp(kind, "nocfi"))
		tramp_nocfi(unw_alloc);
	else if (!strcmp(kind, "stoprow"))
		tramp_stoprow(unw_alloc);
	else
		tramp_badframe(unw_alloc);
}

int main(int argc, char **argv)
{
	const char *kind;
	int n;

	argc = wl_init(argc, argv);
	kind = argc > 1 ? argv[1] : "nocfi";
	n = argc > 2 ? atoi(argv[2]) : 1;
	wl_ready();
	for (int i = 0; i < n; i++)
		run_kind(kind);
	wl_done();
	wl_bye();
	return 0;
}
