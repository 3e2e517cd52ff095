/* libxnew.c: not a workload: an allocator library, preloaded, whose operator new leaves through an
 * indirect jump, so that no exit of it can be found (its calls end unseen: missed_returns). */
/*
 * malloc, calloc, realloc and free forward to glibc's; operator new(size) jumps to xnew_impl
 * through a register. leaktop sees an allocator's own operator new (this object defines malloc),
 * finds none of its exits, says so, and counts each call it then finds left behind.
 */
#include <stddef.h>

void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *ptr, size_t size);
void __libc_free(void *ptr);

void *malloc(size_t size)
{
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	return __libc_calloc(n, size);
}

void *realloc(void *ptr, size_t size)
{
	return __libc_realloc(ptr, size);
}

void free(void *ptr)
{
	__libc_free(ptr);
}

__attribute__((used)) static void *xnew_impl(size_t size)
{
	return __libc_malloc(size ? size : 1);
}

/* operator new(unsigned long) */
__asm__(".text\n"
	".globl _Znwm\n"
	".type _Znwm, @function\n"
	"_Znwm:\n"
	"	.cfi_startproc\n"
	"	lea xnew_impl(%rip), %rax\n"
	"	jmp *%rax\n"
	"	.cfi_endproc\n"
	".size _Znwm, .-_Znwm\n");
