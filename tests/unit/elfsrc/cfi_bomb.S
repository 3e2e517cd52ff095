/* cfi_bomb.S: fixture whose CFI would make libdw's interpreter allocate without bound. */
	.text
	.globl main
	.type main, @function
main:
	.cfi_startproc
	xorl %eax, %eax
	ret
	.cfi_endproc
	.size main, .-main

	.type bomb, @function
bomb:
	.cfi_startproc
	nop
#ifdef HIGH_REGISTER
	/* libdw sizes the frame's register array by this number: 2 GiB, zeroed. */
	.cfi_undefined 268435000
#else
	/* libdw copies the frame at every remembered state. */
	.rept 17
	.cfi_remember_state
	.endr
#endif
	nop
	ret
	.cfi_endproc
	.size bomb, .-bomb

	.section .note.GNU-stack, "", @progbits
