/*
 * x86_64 system call instruction for the pie blobs: rax = number,
 * rdi, rsi, rdx, r10, r8, r9 = arguments; rcx and r11 are clobbered.
 */
#ifndef CREST_ARCH_SYSCALL_H
#define CREST_ARCH_SYSCALL_H

static inline long __sys6(long nr, unsigned long a, unsigned long b,
			  unsigned long c, unsigned long d, unsigned long e,
			  unsigned long f)
{
	long ret;
	register unsigned long r10 __asm__("r10") = d;
	register unsigned long r8 __asm__("r8") = e;
	register unsigned long r9 __asm__("r9") = f;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define __sys0(n)		__sys6(n, 0, 0, 0, 0, 0, 0)
#define __sys1(n, a)		__sys6(n, a, 0, 0, 0, 0, 0)
#define __sys2(n, a, b)		__sys6(n, a, b, 0, 0, 0, 0)
#define __sys3(n, a, b, c)	__sys6(n, a, b, c, 0, 0, 0)
#define __sys4(n, a, b, c, d)	__sys6(n, a, b, c, d, 0, 0)
#define __sys5(n, a, b, c, d, e) __sys6(n, a, b, c, d, e, 0)

/* Stop and let crest (our tracer) look: a SIGTRAP it suppresses. */
static inline void arch_trap(void)
{
	__asm__ volatile("int3" ::: "memory");
}

#endif
