/*
 * Everything x86_64-specific that crest itself (not the blobs) needs,
 * behind arch_* functions implemented in arch/x86/.
 */
#ifndef CREST_ARCH_H
#define CREST_ARCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/user.h>

typedef struct user_regs_struct arch_regs_t;

/* Size of the NT_X86_XSTATE regset on this CPU (CPUID leaf 0xD). */
size_t arch_xstate_size(void);
/* XCR0 as the kernel reports it inside an xstate regset buffer. */
uint64_t arch_xstate_xfeatures(const void *xstate, size_t size);
/* Does this xstate hold AMX tile data (XSTATE_BV bit 18)? */
int arch_xstate_uses_tiles(const void *xstate, size_t size);

int arch_get_regs(pid_t tid, arch_regs_t *regs);
int arch_set_regs(pid_t tid, const arch_regs_t *regs);
int arch_get_xstate(pid_t tid, void *buf, size_t size);
int arch_set_xstate(pid_t tid, const void *buf, size_t size);

/* Registers to make a stopped task run syscall nr at address ip. */
void arch_prep_syscall(arch_regs_t *regs, uint64_t ip, long nr,
		       const unsigned long args[6]);
long arch_syscall_ret(const arch_regs_t *regs);
/* Registers to enter a pie blob at ip with its argument block. */
void arch_prep_pie_call(arch_regs_t *regs, uint64_t ip, uint64_t sp,
			uint64_t arg);
/* The bytes of "syscall; int3", for a borrowed instruction slot. */
extern const unsigned char arch_syscall_insn[3];

/*
 * A task caught inside a syscall shows -ERESTART* in ax. Rewrite the
 * registers the way the kernel would on its way back to user space, so
 * the restored task restarts the call (or sees EINTR where the kernel
 * could not restart it). Returns a short description for the log.
 */
const char *arch_fixup_restart(arch_regs_t *regs);
/*
 * Is the task stopped inside a syscall the kernel will restart (or end
 * with EINTR) on its way back to user space: -ERESTART* in ax?
 */
bool arch_syscall_interrupted(const arch_regs_t *regs);

uint32_t arch_crc32c(uint32_t crc, const void *buf, size_t len);
int arch_cpu_has_crc32c(void);

/* Mirror regs to and from the image's user_regs_entry field order. */
void arch_regs_to_array(const arch_regs_t *regs, uint64_t out[27]);
void arch_regs_from_array(arch_regs_t *regs, const uint64_t in[27]);

/*
 * The frame a stopped task returns into the program through, should its
 * tracer die (arch/x86/sigframe.c): built in buf (len bytes) for the
 * task's stack pointer sp, from registers regs (set up to restart a
 * syscall), signal mask and xstate (PTRACE_GETREGSET). Returns its size
 * (it ends 128 bytes below sp) and its address in *frame, -1 if it can't
 * be made (too big, AMX state in use). Its first word is sigreturn.
 */
long arch_cure_frame(void *buf, size_t len, uint64_t sp,
		     const arch_regs_t *regs, uint64_t sigmask,
		     const void *xstate, size_t xsize, uint64_t sigreturn,
		     uint64_t *frame);
/* "mov $15, %rax; syscall" in buf: its offset. */
int arch_find_sigreturn(const unsigned char *buf, size_t len, size_t *off);
/* "syscall" followed by register clears and "ret" only: its offset. */
int arch_find_syscall_ret(const unsigned char *buf, size_t len, size_t *off);
/* The syscall instruction in a sigreturn gadget at off. */
static inline size_t arch_sigreturn_syscall(const unsigned char *g)
{
	return g[0] == 0x48 ? 7 : 5;
}


/* Leave crest for good: switch to stack sp and jump to entry(arg). */
void arch_jump_to_pie(uint64_t entry, uint64_t sp, uint64_t arg)
	__attribute__((noreturn));
#endif
