/* x86_64 registers, xstate and syscall-restart rules for crest. */
#include <cpuid.h>
#include <errno.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <elf.h>

#include "arch.h"
#include "arch-crc.h"
#include "log.h"

/* Kernel-internal restart codes (include/linux/errno.h). */
#define ERESTARTSYS		512
#define ERESTARTNOINTR		513
#define ERESTARTNOHAND		514
#define ERESTART_RESTARTBLOCK	516
#define TIMER_ABSTIME		1

_Static_assert(sizeof(arch_regs_t) == 27 * 8, "user_regs_struct layout");

const unsigned char arch_syscall_insn[3] = { 0x0f, 0x05, 0xcc };

size_t arch_xstate_size(void)
{
	unsigned int eax, ebx, ecx, edx;

	/* ecx: the size of the area for every feature XCR0 may enable. */
	if (!__get_cpuid_count(0xd, 0, &eax, &ebx, &ecx, &edx) || ecx < 576)
		return 512 + 64;
	return ecx;
}

uint64_t arch_xstate_xfeatures(const void *xstate, size_t size)
{
	uint64_t xcr0;

	/* The kernel stores XCR0 in the fxsave area's software bytes. */
	if (size < 472)
		return 0;
	memcpy(&xcr0, (const char *)xstate + 464, sizeof(xcr0));
	return xcr0;
}

int arch_xstate_uses_tiles(const void *xstate, size_t size)
{
	uint64_t xstate_bv;

	/* XSTATE_BV opens the xsave header, after the 512-byte legacy area. */
	if (size < 520)
		return 0;
	memcpy(&xstate_bv, (const char *)xstate + 512, sizeof(xstate_bv));
	return (xstate_bv >> 18) & 1;	/* XTILE_DATA */
}

int arch_get_regs(pid_t tid, arch_regs_t *regs)
{
	if (ptrace(PTRACE_GETREGS, tid, NULL, regs)) {
		pr_perror("can't read the registers of task %d", tid);
		return -1;
	}
	return 0;
}

int arch_set_regs(pid_t tid, const arch_regs_t *regs)
{
	if (ptrace(PTRACE_SETREGS, tid, NULL, regs)) {
		pr_perror("can't set the registers of task %d", tid);
		return -1;
	}
	return 0;
}

int arch_get_xstate(pid_t tid, void *buf, size_t size)
{
	struct iovec iov = { buf, size };

	memset(buf, 0, size);
	if (ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &iov)) {
		pr_perror("can't read the xstate of task %d", tid);
		return -1;
	}
	return 0;
}

int arch_set_xstate(pid_t tid, const void *buf, size_t size)
{
	struct iovec iov = { (void *)buf, size };

	if (ptrace(PTRACE_SETREGSET, tid, NT_X86_XSTATE, &iov)) {
		pr_perror("can't set the xstate of task %d", tid);
		return -1;
	}
	return 0;
}

void arch_prep_syscall(arch_regs_t *regs, uint64_t ip, long nr,
		       const unsigned long args[6])
{
	regs->rip = ip;
	regs->rax = nr;
	regs->rdi = args[0];
	regs->rsi = args[1];
	regs->rdx = args[2];
	regs->r10 = args[3];
	regs->r8 = args[4];
	regs->r9 = args[5];
	/* Not in a syscall: the kernel must not try to restart anything. */
	regs->orig_rax = -1;
}

long arch_syscall_ret(const arch_regs_t *regs)
{
	return (long)regs->rax;
}

void arch_prep_pie_call(arch_regs_t *regs, uint64_t ip, uint64_t sp,
			uint64_t arg)
{
	regs->rip = ip;
	regs->rsp = sp;
	regs->rdi = arg;
	regs->orig_rax = -1;
	regs->eflags &= ~(1UL << 10);	/* DF clear, as the ABI wants */
}

const char *arch_fixup_restart(arch_regs_t *regs)
{
	long ax = (long)regs->rax;
	long nr = (long)regs->orig_rax;

	if (nr < 0)
		return NULL;
	regs->orig_rax = -1;
	switch (-ax) {
	case ERESTARTSYS:
	case ERESTARTNOINTR:
	case ERESTARTNOHAND:
		regs->rax = nr;
		regs->rip -= 2;		/* back onto the syscall instruction */
		return "restarted";
	case ERESTART_RESTARTBLOCK:
		/*
		 * The kernel would continue from its restart_block, which a
		 * new task does not have. Sleeps wrote the time left to *rem
		 * when they were interrupted: sleep that long again.
		 */
		if (nr == 35 && regs->rsi) {			/* nanosleep */
			regs->rdi = regs->rsi;
		} else if (nr == 230) {				/* clock_nanosleep */
			if (!(regs->rsi & TIMER_ABSTIME)) {
				if (!regs->r10)
					goto eintr;
				regs->rdx = regs->r10;
			}
		} else {
			goto eintr;
		}
		regs->rax = nr;
		regs->rip -= 2;
		return "restarted with the time left";
	default:
		return NULL;
	}
eintr:
	regs->rax = -EINTR;
	return "interrupted (EINTR)";
}

bool arch_syscall_interrupted(const arch_regs_t *regs)
{
	long ax = (long)regs->rax;

	if ((long)regs->orig_rax < 0)
		return false;
	return ax == -ERESTARTSYS || ax == -ERESTARTNOINTR ||
	       ax == -ERESTARTNOHAND || ax == -ERESTART_RESTARTBLOCK;
}

uint32_t arch_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	crc = ~crc;
	while (len >= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		crc = arch_crc32c_u64(crc, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = arch_crc32c_u8(crc, *p++);
	return ~crc;
}

int arch_cpu_has_crc32c(void)
{
	unsigned int eax, ebx, ecx, edx;

	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
		return 0;
	return !!(ecx & bit_SSE4_2);
}

void arch_regs_to_array(const arch_regs_t *regs, uint64_t out[27])
{
	memcpy(out, regs, 27 * 8);
}

void arch_regs_from_array(arch_regs_t *regs, const uint64_t in[27])
{
	memcpy(regs, in, 27 * 8);
}

void arch_jump_to_pie(uint64_t entry, uint64_t sp, uint64_t arg)
{
	/* arg goes straight into rdi: a plain "r" could alias it with entry. */
	__asm__ volatile("mov %0, %%rsp\n\t"
			 "xor %%ebp, %%ebp\n\t"
			 "jmp *%1"
			 :
			 : "r"(sp), "a"(entry), "D"(arg)
			 : "memory");
	__builtin_unreachable();
}
