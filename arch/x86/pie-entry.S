/*
 * Entry of both pie blobs. crest sets rdi to the argument block and rsp to
 * the blob's own stack, then points rip here. The C main returns into an
 * int3: crest, the tracer, sees a SIGTRAP and reads the result.
 */
	.section .head.text, "ax"
	.globl	pie_entry
	.type	pie_entry, @function
pie_entry:
	andq	$-16, %rsp
	call	pie_main
1:	int3
	jmp	1b

/*
 * A bare syscall for crest to aim at after the restorer is done: it makes
 * the task munmap the restorer's own area (PTRACE_SYSCALL stops at the
 * exit, so nothing runs from the unmapped page afterwards).
 */
	.globl	pie_syscall
	.type	pie_syscall, @function
pie_syscall:
	syscall
	int3
