/*
 * A way back into the program that needs no code of crest's: an
 * rt_sigreturn frame of the task's own registers, signal mask and xstate,
 * put below its red zone, and two pieces of code the task already has:
 *
 *   sigreturn: "mov $15, %rax; syscall" (every libc's sa_restorer)
 *   vsys:      "syscall; [xor r, r ...]; ret" (a vDSO syscall fallback)
 *
 * A task stopped with rip = sigreturn and rsp = frame + 8 that its tracer
 * lets go (the tracer died) returns into the program as it was. One at
 * rip = vsys, rsp = frame, with a syscall in rax, makes that syscall (a
 * munmap of the parasite), then "ret" takes the frame's first word (the
 * sigreturn address, where a real frame keeps sa_restorer) and the same
 * rt_sigreturn follows. Memory layout, growing down from the task's rsp:
 *
 *   rsp ->  +----------------------+
 *           | red zone (128 bytes) |
 *           +----------------------+ <- 64-aligned
 *           | xstate + MAGIC2      |  uc_mcontext.fpstate points here
 *           +----------------------+ <- 64-aligned
 *           | siginfo (128)        |
 *           | ucontext (304)       |
 *   frame ->| pretcode: sigreturn  |
 *           +----------------------+
 *
 * That is where and how big the kernel makes the frame of a signal the
 * task takes on that stack: memory the program must leave free anyway.
 */
#include <cpuid.h>
#include <stddef.h>
#include <string.h>

#include "arch.h"

#define FP_XSTATE_MAGIC1	0x46505853U
#define FP_XSTATE_MAGIC2	0x46505845U
#define UC_FP_XSTATE		0x1
#define UC_SIGCONTEXT_SS	0x2
#define UC_STRICT_RESTORE_SS	0x4
#define XFEATURE_MASK_XTILE_DATA (1ULL << 18)

/* The kernel's x86_64 signal frame (arch/x86/include/asm/sigframe.h). */
struct k_sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t di, si, bp, bx, dx, ax, cx, sp, ip, flags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2;
	uint64_t fpstate;
	uint64_t reserved1[8];
};

struct k_ucontext {
	uint64_t uc_flags;
	uint64_t uc_link;
	struct {
		uint64_t ss_sp;
		int32_t ss_flags;
		int32_t pad;
		uint64_t ss_size;
	} uc_stack;
	struct k_sigcontext uc_mcontext;
	uint64_t uc_sigmask;
};

struct k_rt_sigframe {
	uint64_t pretcode;
	struct k_ucontext uc;
	unsigned char info[128];
};

struct k_fpx_sw_bytes {
	uint32_t magic1;
	uint32_t extended_size;
	uint64_t xfeatures;
	uint32_t xstate_size;
	uint32_t padding[7];
};

_Static_assert(sizeof(struct k_sigcontext) == 256, "sigcontext layout");
_Static_assert(offsetof(struct k_ucontext, uc_mcontext) == 40, "ucontext layout");
_Static_assert(sizeof(struct k_ucontext) == 304, "ucontext layout");
_Static_assert(sizeof(struct k_rt_sigframe) == 440, "rt_sigframe layout");
_Static_assert(sizeof(struct k_fpx_sw_bytes) == 48, "sw_reserved layout");

/* The non-compacted size of the xsave area holding features xfeatures. */
static uint32_t xsave_size(uint64_t xfeatures)
{
	uint32_t end = 512 + 64;

	for (int i = 2; i < 63; i++) {
		unsigned int eax, ebx, ecx, edx;

		if (!(xfeatures & (1ULL << i)))
			continue;
		if (!__get_cpuid_count(0xd, i, &eax, &ebx, &ecx, &edx))
			return 0;
		if (ebx + eax > end)
			end = ebx + eax;
	}
	return end;
}

long arch_cure_frame(void *buf, size_t len, uint64_t sp,
		     const arch_regs_t *regs, uint64_t sigmask,
		     const void *xstate, size_t xsize, uint64_t sigreturn,
		     uint64_t *frame)
{
	uint64_t xfeatures = arch_xstate_xfeatures(xstate, xsize);
	uint64_t top = (sp - 128) & ~63ULL, fp, f;
	struct k_fpx_sw_bytes sw = { 0 };
	struct k_rt_sigframe fr;
	uint32_t xs, magic2 = FP_XSTATE_MAGIC2;

	/*
	 * The ptrace buffer keeps XCR0 where a signal frame keeps the magic
	 * and sizes (sw_reserved): write them as the kernel would for a
	 * task using only the default features. AMX tile data is a dynamic
	 * feature whose state a frame of that size would drop: none then.
	 */
	if (arch_xstate_uses_tiles(xstate, xsize))
		return -1;
	xfeatures &= ~XFEATURE_MASK_XTILE_DATA;
	xs = xsave_size(xfeatures);
	if (!xs || xs > xsize)
		return -1;
	fp = (top - xs - sizeof(magic2)) & ~63ULL;
	f = (fp - sizeof(fr)) & ~15ULL;
	if (top - f > len)
		return -1;

	memset(buf, 0, top - f);
	memset(&fr, 0, sizeof(fr));
	fr.pretcode = sigreturn;
	fr.uc.uc_flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
	/*
	 * sigaltstack is not known from outside: flags the kernel refuses
	 * (EINVAL, which rt_sigreturn ignores) leave it as it is.
	 */
	fr.uc.uc_stack.ss_flags = 3;
	fr.uc.uc_sigmask = sigmask;
	fr.uc.uc_mcontext = (struct k_sigcontext){
		.r8 = regs->r8, .r9 = regs->r9, .r10 = regs->r10,
		.r11 = regs->r11, .r12 = regs->r12, .r13 = regs->r13,
		.r14 = regs->r14, .r15 = regs->r15, .di = regs->rdi,
		.si = regs->rsi, .bp = regs->rbp, .bx = regs->rbx,
		.dx = regs->rdx, .ax = regs->rax, .cx = regs->rcx,
		.sp = regs->rsp, .ip = regs->rip, .flags = regs->eflags,
		.cs = regs->cs, .ss = regs->ss, .fpstate = fp,
	};
	memcpy(buf, &fr, sizeof(fr));
	memcpy((char *)buf + (fp - f), xstate, xs);
	sw.magic1 = FP_XSTATE_MAGIC1;
	sw.extended_size = xs + sizeof(magic2);
	sw.xfeatures = xfeatures;
	sw.xstate_size = xs;
	memcpy((char *)buf + (fp - f) + 464, &sw, sizeof(sw));
	memcpy((char *)buf + (fp - f) + xs, &magic2, sizeof(magic2));
	*frame = f;
	return top - f;
}

/* mov $15, %rax; syscall  or  mov $15, %eax; syscall */
static const unsigned char sigret_a[] = { 0x48, 0xc7, 0xc0, 0x0f, 0, 0, 0, 0x0f, 0x05 };
static const unsigned char sigret_b[] = { 0xb8, 0x0f, 0, 0, 0, 0x0f, 0x05 };

int arch_find_sigreturn(const unsigned char *buf, size_t len, size_t *off)
{
	for (size_t i = 0; i + sizeof(sigret_a) <= len; i++) {
		if (!memcmp(buf + i, sigret_a, sizeof(sigret_a)) ||
		    !memcmp(buf + i, sigret_b, sizeof(sigret_b))) {
			*off = i;
			return 0;
		}
	}
	return -1;
}

/*
 * "syscall", then only register clears ("xor r32, r32", with a REX prefix
 * for r8-r15; a kernel built with -fzero-call-used-regs emits them), then
 * "ret": nothing between the syscall and the ret touches memory or rsp.
 */
int arch_find_syscall_ret(const unsigned char *buf, size_t len, size_t *off)
{
	for (size_t i = 0; i + 3 <= len; i++) {
		size_t j = i + 2;

		if (buf[i] != 0x0f || buf[i + 1] != 0x05)
			continue;
		while (j < len) {
			size_t k = j;
			unsigned char m;

			if ((buf[k] & 0xf0) == 0x40 && k + 1 < len)
				k++;
			if (buf[k] != 0x31 || k + 1 >= len)
				break;
			m = buf[k + 1];
			if ((m >> 6) != 3 || ((m >> 3) & 7) != (m & 7))
				break;
			if (k != j && ((buf[j] >> 2) & 1) != (buf[j] & 1))
				break;	/* REX.R and REX.B differ: not r ^= r */
			j = k + 2;
		}
		if (j < len && buf[j] == 0xc3) {
			*off = i;
			return 0;
		}
	}
	return -1;
}
