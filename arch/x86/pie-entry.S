/*
 * Entry of both pie blobs. crest sets rdi to the argument block and rsp to
 * the blob's own stack, then points rip here. The restorer's main returns
 * into an int3: crest, the tracer, sees a SIGTRAP and reads the result. The
 * parasite's never returns (it waits for crest: pie/parasite.c).
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

/*
 * long pie_clone_thread(struct clone_args *ca, size_t size,
 *			 void (*fn)(void *), void *arg)
 * clone3 for a thread of the restored process: the child starts on the
 * stack clone3 gave it and calls fn(arg), then stops at an int3 for
 * crest. The parent gets the new TID (or -errno) back.
 */
	.globl	pie_clone_thread
	.type	pie_clone_thread, @function
pie_clone_thread:
	mov	%rdx, %r8
	mov	%rcx, %r9
	mov	$435, %eax		/* __NR_clone3 */
	syscall
	test	%rax, %rax
	jnz	1f
	xor	%ebp, %ebp
	mov	%r9, %rdi
	and	$-16, %rsp
	call	*%r8
2:	int3
	jmp	2b
1:	ret
