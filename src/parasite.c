/*
 * Injecting, driving and removing the parasite (pie/parasite.c).
 *
 * Remote syscalls borrow a syscall instruction of the target's vDSO and
 * stop at the syscall exit (PTRACE_SYSCALL), so no byte of the program's
 * code is ever changed. The parasite's area is anonymous shared memory
 * the target maps; crest maps the same pages through map_files.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <linux/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/futex.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "namespaces.h"
#include "parasite.h"
#include "seize.h"
#include "util.h"

#include "parasite-blob.h"

static int cont_syscall_stop(pid_t pid)
{
	int status, sig;

	if (ptrace(PTRACE_SYSCALL, pid, NULL, NULL)) {
		pr_perror("can't resume task %d", pid);
		return -1;
	}
	sig = wait_stop_resume(pid, &status, PTRACE_SYSCALL);
	if (sig < 0)
		return -1;
	if (sig != (SIGTRAP | 0x80) && sig != SIGTRAP) {
		pr_err("task %d stopped by signal %d during a remote syscall", pid, sig);
		return -1;
	}
	return 0;
}

long remote_syscall(pid_t pid, const arch_regs_t *base, uint64_t syscall_ip,
		    long nr, unsigned long a0, unsigned long a1, unsigned long a2,
		    unsigned long a3, unsigned long a4, unsigned long a5)
{
	unsigned long args[6] = { a0, a1, a2, a3, a4, a5 };
	arch_regs_t regs = *base;

	arch_prep_syscall(&regs, syscall_ip, nr, args);
	if (arch_set_regs(pid, &regs))
		return -EIO;
	/* One stop at the syscall entry, one at its exit. */
	if (cont_syscall_stop(pid))
		return -EIO;
	fault_die("die-rsys-entry");
	if (cont_syscall_stop(pid))
		return -EIO;
	fault_die("die-rsys-exit");
	if (arch_get_regs(pid, &regs))
		return -EIO;
	return arch_syscall_ret(&regs);
}

bool thread_trap_pending(pid_t tid, void *si)
{
	for (int i = 0;; i++) {
		struct ptrace_peeksiginfo_args a = { .off = i, .nr = 1, .flags = 0 };
		siginfo_t info;

		if (ptrace(PTRACE_PEEKSIGINFO, tid, &a, &info) <= 0)
			return false;
		if (info.si_signo == SIGTRAP) {
			memcpy(si, &info, sizeof(info));
			return true;
		}
	}
}

int remote_queue_trap(pid_t tid, uint64_t syscall_ip,
		      uint64_t remote_si)
{
	uint64_t all = ~0ULL;
	long r, ns_tgid, ns_tid;
	arch_regs_t regs;

	if (arch_get_regs(tid, &regs))
		return -1;
	/* The int3 unblocked SIGTRAP: it must not arrive while we drive. */
	if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(all), &all)) {
		pr_perror("can't block signals in thread %d", tid);
		return -1;
	}
	/*
	 * The ids the thread itself sees, which differ from ours in a PID
	 * namespace: the kernel takes a siginfo of the kind kill() makes only
	 * from a sender that names itself.
	 */
	ns_tgid = remote_syscall(tid, &regs, syscall_ip, SYS_getpid, 0, 0, 0, 0, 0, 0);
	ns_tid = remote_syscall(tid, &regs, syscall_ip, SYS_gettid, 0, 0, 0, 0, 0, 0);
	r = ns_tgid < 0 ? ns_tgid : ns_tid < 0 ? ns_tid :
	    remote_syscall(tid, &regs, syscall_ip, SYS_rt_tgsigqueueinfo, ns_tgid, ns_tid,
			   SIGTRAP, remote_si, 0, 0);
	if (arch_set_regs(tid, &regs))
		return -1;
	if (r) {
		errno = -r;
		pr_perror("can't queue the pending SIGTRAP of thread %d back", tid);
		return -1;
	}
	return 0;
}

int remote_put_trap_action(pid_t pid, uint64_t syscall_ip, uint64_t remote)
{
	arch_regs_t regs;
	long r;

	if (arch_get_regs(pid, &regs))
		return -1;
	r = remote_syscall(pid, &regs, syscall_ip, SYS_rt_sigaction, SIGTRAP, remote, 0, 8, 0, 0);
	if (arch_set_regs(pid, &regs))
		return -1;
	if (r) {
		errno = -r;
		pr_perror("can't put the SIGTRAP action of task %d back", pid);
		return -1;
	}
	return 0;
}

static int find_syscall_insn(pid_t pid, uint64_t start, uint64_t end,
			     uint64_t *ip)
{
	size_t len = end - start;
	unsigned char *buf = xzalloc(len);
	struct iovec local = { buf, len }, remote = { (void *)start, len };

	if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != (ssize_t)len) {
		pr_perror("can't read the vDSO of task %d", pid);
		free(buf);
		return -1;
	}
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] == 0x0f && buf[i + 1] == 0x05) {
			*ip = start + i;
			free(buf);
			return 0;
		}
	}
	free(buf);
	pr_err("no syscall instruction in the vDSO of task %d", pid);
	return -1;
}

/* A "syscall; ret" of the vDSO (arch/x86/sigframe.c); 0 if none. */
static void find_syscall_ret(struct parasite_ctl *ctl, uint64_t start,
			     uint64_t end)
{
	size_t len = end - start, off;
	unsigned char *buf = xzalloc(len);
	struct iovec local = { buf, len }, remote = { (void *)start, len };

	if (process_vm_readv(ctl->pid, &local, 1, &remote, 1, 0) == (ssize_t)len &&
	    !arch_find_syscall_ret(buf, len, &off))
		ctl->vsys = start + off;
	free(buf);
}

/*
 * The rt_sigreturn gadget (arch/x86/sigframe.c) in the task's own code:
 * its executable mappings, read through process_vm_readv.
 */
static uint64_t find_sigreturn(pid_t pid)
{
	size_t chunk = 1 << 20, off;
	unsigned char *buf = xzalloc(chunk + 16);
	char path[64], line[512];
	uint64_t found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f) {
		free(buf);
		return 0;
	}
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long start, end;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) != 3 ||
		    perms[2] != 'x' || strstr(line, "[v"))
			continue;
		for (uint64_t a = start; a < end && !found; a += chunk) {
			size_t len = end - a < chunk + 16 ? end - a : chunk + 16;
			struct iovec l = { buf, len }, r = { (void *)a, len };
			ssize_t n = process_vm_readv(pid, &l, 1, &r, 1, 0);

			if (n > 0 && !arch_find_sigreturn(buf, n, &off))
				found = a + off;
		}
	}
	fclose(f);
	free(buf);
	return found;
}

/*
 * Put the frame thread tid returns into the program through (should crest
 * die) below its red zone; 0 if it can't be made (the old ways then).
 */
static uint64_t put_frame(struct parasite_ctl *ctl, pid_t tid,
			  const arch_regs_t *orig, uint64_t mask)
{
	size_t xsize = arch_xstate_size(), len = xsize + 4096;
	void *xstate = xzalloc(xsize), *buf = xzalloc(len);
	arch_regs_t fixed = *orig;
	uint64_t frame = 0;
	long n = -1;

	/* CREST_FAULT=no-cure-frame: the old ways, for tests. */
	if (!ctl->sigret || !ctl->vsys || fault("no-cure-frame"))
		goto out;
	arch_fixup_restart(&fixed);
	if (arch_get_xstate(tid, xstate, xsize))
		goto out;
	n = arch_cure_frame(buf, len, orig->rsp, &fixed, mask, xstate, xsize,
			    ctl->sigret, &frame);
	if (n > 0) {
		struct iovec l = { buf, n }, r = { (void *)frame, n };

		if (process_vm_writev(ctl->pid, &l, 1, &r, 1, 0) != n) {
			pr_debug("no room for a cure frame below the stack of thread %d: %m",
				 tid);
			frame = 0;
		}
	} else {
		frame = 0;
	}
out:
	free(xstate);
	free(buf);
	return frame;
}

/* A stopped thread let go here returns into the program: rt_sigreturn. */
static int set_sigreturn(pid_t tid, const arch_regs_t *orig, uint64_t sigret,
			 uint64_t frame)
{
	arch_regs_t regs = *orig;

	regs.rip = sigret;
	regs.rsp = frame + 8;
	regs.orig_rax = -1;
	return arch_set_regs(tid, &regs);
}

/* ... here: munmaps the parasite, then the same rt_sigreturn. */
static int set_leave(struct parasite_ctl *ctl)
{
	arch_regs_t regs = ctl->orig_regs;
	unsigned long args[6] = { ctl->remote, ctl->size };

	arch_prep_syscall(&regs, ctl->vsys, SYS_munmap, args);
	regs.rsp = ctl->frame;
	return arch_set_regs(ctl->pid, &regs);
}

static int syscall_stop_regs(pid_t pid, arch_regs_t *regs)
{
	if (cont_syscall_stop(pid))
		return -1;
	return arch_get_regs(pid, regs);
}

/*
 * The parasite's mmap, safe at every moment against crest's death: the
 * task first runs the sigreturn gadget, whose syscall entry stop becomes
 * the mmap (the return goes to the gadget again); at the exit stop it is
 * set to munmap the area and sigreturn. Let go anywhere, it returns into
 * the program as it was, the area unmapped (but for a crest that dies
 * while the task is inside the mmap itself: the empty area stays).
 */
static long safe_mmap(struct parasite_ctl *ctl)
{
	uint64_t all = ~0ULL, ret;
	unsigned char g[9];
	struct iovec l = { g, sizeof(g) }, r = { (void *)ctl->sigret, sizeof(g) };
	arch_regs_t regs;

	if (process_vm_readv(ctl->pid, &l, 1, &r, 1, 0) != sizeof(g))
		return -EIO;
	if (set_sigreturn(ctl->pid, &ctl->orig_regs, ctl->sigret, ctl->frame))
		return -EIO;
	if (ptrace(PTRACE_SETSIGMASK, ctl->pid, sizeof(all), &all)) {
		pr_perror("can't block signals in task %d", ctl->pid);
		return -EIO;
	}
	fault_die("die-infect-sigreturn");
	if (syscall_stop_regs(ctl->pid, &regs))
		return -EIO;
	fault_die("die-infect-entry");
	if ((long)regs.orig_rax != SYS_rt_sigreturn ||
	    regs.rip != ctl->sigret + arch_sigreturn_syscall(g) + 2) {
		pr_err("task %d stopped at %#llx (syscall %lld), not at crest's rt_sigreturn",
		       ctl->pid, regs.rip, (long long)regs.orig_rax);
		return -EIO;
	}
	regs.orig_rax = SYS_mmap;
	regs.rdi = 0;
	regs.rsi = ctl->size;
	regs.rdx = PROT_READ | PROT_WRITE | PROT_EXEC;
	regs.r10 = MAP_SHARED | MAP_ANONYMOUS;
	regs.r8 = -1;
	regs.r9 = 0;
	regs.rip = ctl->sigret;
	if (arch_set_regs(ctl->pid, &regs))
		return -EIO;
	fault_die("die-infect-mmap");
	if (syscall_stop_regs(ctl->pid, &regs))
		return -EIO;
	ret = regs.rax;
	fault_die("die-infect-exit");
	if ((long)ret < 0 && (long)ret > -4096)
		return ret;	/* the task returns to the gadget: sigreturn */
	ctl->remote = ret;
	if (set_leave(ctl))
		return -EIO;
	fault_die("die-infect-leave");
	return ret;
}

/*
 * Unmap the parasite from a thread set to leave (set_leave), then give it
 * its mask and registers back: every stop on the way is one a dying crest
 * may leave it in.
 */
static int safe_unmap(struct parasite_ctl *ctl)
{
	arch_regs_t regs;
	int ret = 0;

	if (set_leave(ctl))
		return -1;
	fault_die("die-cure-munmap");
	if (syscall_stop_regs(ctl->pid, &regs))
		return -1;
	fault_die("die-cure-entry");
	if (syscall_stop_regs(ctl->pid, &regs))
		return -1;
	fault_die("die-cure-exit");
	if (regs.rax) {
		errno = -(long)regs.rax;
		pr_perror("can't unmap the parasite from task %d", ctl->pid);
		ret = -1;
	}
	/* Mask first: let go in between, the frame sets it too. */
	if (ptrace(PTRACE_SETSIGMASK, ctl->pid, sizeof(uint64_t),
		   &ctl->orig_sigmask)) {
		pr_perror("can't restore the signal mask of task %d", ctl->pid);
		ret = -1;
	}
	fault_die("die-cure-mask");
	if (arch_set_regs(ctl->pid, &ctl->orig_regs))
		ret = -1;
	return ret;
}

/* A SIGPIPE in the thread's own pending set (SigPnd, bit 12)? */
static bool sig_pending(pid_t pid, pid_t tid, int sig)
{
	char path[64], line[128];
	unsigned long long pnd = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return true;	/* can't tell: leave any alone */
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SigPnd: %llx", &pnd) == 1)
			break;
	fclose(f);
	return pnd & (1ULL << (sig - 1));
}

/*
 * What the thread resumes with by itself if crest dies (pie_orphan): its
 * registers, a syscall it was stopped in set to restart as the kernel
 * would do with no signal to deliver, and its signal mask.
 */
static void fill_cure(struct parasite_args *a, pid_t pid, pid_t tid,
		      const arch_regs_t *orig, uint64_t mask)
{
	arch_regs_t r = *orig;

	arch_fixup_restart(&r);
	a->cure = (struct pie_regs){
		.rax = r.rax, .rbx = r.rbx, .rcx = r.rcx, .rdx = r.rdx,
		.rsi = r.rsi, .rdi = r.rdi, .rbp = r.rbp, .r8 = r.r8,
		.r9 = r.r9, .r10 = r.r10, .r11 = r.r11, .r12 = r.r12,
		.r13 = r.r13, .r14 = r.r14, .r15 = r.r15, .rip = r.rip,
		.rsp = r.rsp, .eflags = r.eflags,
	};
	a->cure_sigmask = mask;
	a->tracer = ns_tracer_pid(pid);
	a->keep_sigpipe = sig_pending(pid, tid, SIGPIPE);
	a->keep_sigtrap = sig_pending(pid, tid, SIGTRAP);
}

/*
 * Leave a stopped thread where, let go by a dying crest, it cures itself:
 * every stop of a thread with the parasite in it is parked.
 */
static int park(pid_t tid, const arch_regs_t *orig, uint64_t entry,
		uint64_t sp, uint64_t args)
{
	arch_regs_t regs = *orig;

	arch_prep_pie_call(&regs, entry, sp, args);
	return arch_set_regs(tid, &regs);
}

static int park_main(struct parasite_ctl *ctl)
{
	return park(ctl->pid, &ctl->orig_regs, ctl->remote + parasite_off_orphan,
		    ctl->stack_top, ctl->args_remote);
}

/*
 * A remote syscall once the blob is in: through the parasite's own syscall
 * instruction, which a thread let go at its stops follows into its cure.
 */
long parasite_rsys(struct parasite_ctl *ctl, long nr, unsigned long a0,
		   unsigned long a1, unsigned long a2, unsigned long a3,
		   unsigned long a4, unsigned long a5)
{
	arch_regs_t base = ctl->orig_regs;
	long r;

	base.r15 = ctl->args_remote;
	base.rsp = ctl->stack_top;
	r = remote_syscall(ctl->pid, &base, ctl->remote + parasite_off_rsys, nr,
			   a0, a1, a2, a3, a4, a5);
	if (ctl->rsys_die) {
		fault_die(ctl->rsys_die);
		ctl->rsys_die = NULL;
	}
	if (park_main(ctl))
		return -EIO;
	return r;
}

/* Stop a thread whose command is over (it waits for us in ppoll). */
static int interrupt_stop(pid_t tid)
{
	int status;

	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL)) {
		pr_perror("can't stop task %d", tid);
		return -1;
	}
	for (;;) {
		if (waitpid(tid, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("can't wait for task %d", tid);
			return -1;
		}
		if (!WIFSTOPPED(status)) {
			pr_err("task %d died while the parasite ran in it", tid);
			return -1;
		}
		return 0;
	}
}

/*
 * Wait (block) or look (!block) for the end of a command: 1 when the
 * thread is over and stopped, 0 if it still runs, -1 if it died.
 */
static int wait_done(pid_t tid, struct parasite_args *a, bool block)
{
	for (;;) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		int status;
		pid_t r;

		if (__atomic_load_n(&a->done, __ATOMIC_SEQ_CST))
			return interrupt_stop(tid) ? -1 : 1;
		r = waitpid(tid, &status, __WALL | WNOHANG);
		if (r < 0 && errno != EINTR) {
			pr_perror("can't wait for task %d", tid);
			return -1;
		}
		if (r > 0) {
			int sig = WIFSTOPPED(status) ? WSTOPSIG(status) : -1;

			if (sig < 0) {
				pr_err("task %d died while the parasite ran in it", tid);
				return -1;
			}
			/* A group stop, a stop signal: on with the parasite. */
			if (status >> 16 == PTRACE_EVENT_STOP || sig == SIGSTOP ||
			    sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
				sig = 0;
			if (ptrace(PTRACE_CONT, tid, NULL, (void *)(long)sig)) {
				pr_perror("can't resume task %d", tid);
				return -1;
			}
			continue;
		}
		if (!block)
			return 0;
		syscall(SYS_futex, &a->done, FUTEX_WAIT, 0, &ts, NULL, 0);
	}
}

struct parasite_ctl *parasite_infect(pid_t pid, uint64_t vdso_start,
				     uint64_t vdso_end, size_t data_size,
				     int nr_threads)
{
	struct parasite_ctl *ctl = xzalloc(sizeof(*ctl));
	uint64_t all = ~0ULL;
	size_t blob = (parasite_blob_size + 63) & ~63UL;
	char path[128];
	long ret;
	int fd;

	ctl->pid = pid;
	if (!vdso_end) {
		pr_err("task %d has no vDSO; crest needs one to run syscalls in it", pid);
		goto err_free;
	}
	if (find_syscall_insn(pid, vdso_start, vdso_end, &ctl->syscall_ip))
		goto err_free;
	find_syscall_ret(ctl, vdso_start, vdso_end);
	ctl->sigret = find_sigreturn(pid);
	if (arch_get_regs(pid, &ctl->orig_regs))
		goto err_free;
	if (ptrace(PTRACE_GETSIGMASK, pid, sizeof(uint64_t), &ctl->orig_sigmask)) {
		pr_perror("can't read the signal mask of task %d", pid);
		goto err_free;
	}

	ctl->data_off = blob + sizeof(struct parasite_args);
	ctl->data_size = data_size;
	ctl->slots_off = (ctl->data_off + data_size + 63) & ~63UL;
	ctl->nr_slots = nr_threads;
	ctl->size = ctl->slots_off + nr_threads *
		    (sizeof(struct parasite_args) + PARASITE_SLOT_STACK) +
		    PIE_STACK_SIZE;
	ctl->size = (ctl->size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	ctl->frame = put_frame(ctl, pid, &ctl->orig_regs, ctl->orig_sigmask);
	if (ctl->frame) {
		ret = safe_mmap(ctl);
	} else {
		pr_debug("task %d: no way back for it without crest (%s)", pid,
			 !ctl->sigret ? "no rt_sigreturn in its code" :
			 !ctl->vsys ? "no syscall; ret in its vDSO" :
			 "AMX tiles in use or no room for a frame below its stack");
		/* Nothing may be delivered while foreign code runs in the task. */
		if (ptrace(PTRACE_SETSIGMASK, pid, sizeof(uint64_t), &all)) {
			pr_perror("can't block signals in task %d", pid);
			goto err_free;
		}
		ret = remote_syscall(pid, &ctl->orig_regs, ctl->syscall_ip,
				     SYS_mmap, 0, ctl->size,
				     PROT_READ | PROT_WRITE | PROT_EXEC,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	}
	if (ret < 0 && ret > -4096) {
		errno = -ret;
		pr_perror("can't map the parasite in task %d", pid);
		goto err_regs;
	}
	ctl->remote = ret;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", pid,
		 (unsigned long)ctl->remote, (unsigned long)(ctl->remote + ctl->size));
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("can't open the parasite area '%s'", path);
		goto err_unmap;
	}
	ctl->local = mmap(NULL, ctl->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			  fd, 0);
	close(fd);
	if (ctl->local == MAP_FAILED) {
		pr_perror("can't map the parasite area locally");
		ctl->local = NULL;
		goto err_unmap;
	}
	memcpy(ctl->local, parasite_blob, parasite_blob_size);
	ctl->args = (struct parasite_args *)(ctl->local + blob);
	ctl->args_remote = ctl->remote + blob;
	ctl->args->version = PIE_ABI_VERSION;
	ctl->args->pipe_fd = ctl->args->pipe_rfd = -1;
	ctl->args->ctl_fd = -1;
	ctl->args->extra_fd = -1;
	fill_cure(ctl->args, pid, pid, &ctl->orig_regs, ctl->orig_sigmask);
	ctl->args->thread_out = 1;
	if (ctl->frame) {
		ctl->args->cure_frame = ctl->frame;
		ctl->args->cure_vsys = ctl->vsys;
		ctl->args->self_start = ctl->remote;
		ctl->args->self_size = ctl->size;
	}
	{
		struct { uint64_t addr; uint32_t len, sig, flags, pad; } rc = {};

		if (ptrace(0x420f /* PTRACE_GET_RSEQ_CONFIGURATION */, pid,
			   sizeof(rc), &rc) > 0 && rc.addr) {
			ctl->args->rseq_addr = rc.addr;
			ctl->args->rseq_len = rc.len;
			ctl->args->rseq_sig = rc.sig;
		}
	}
	ctl->stack_top = ctl->remote + ctl->size;
	/* From here on a task let go by a dying crest cures itself. */
	if (park_main(ctl))
		goto err_unmap_local;
	pr_debug("parasite in task %d at %#lx (%zu bytes)%s", pid,
		 (unsigned long)ctl->remote, ctl->size,
		 ctl->frame ? ", its way back at hand" : "");
	fault_die("die-infected");
	return ctl;

err_unmap_local:
	munmap(ctl->local, ctl->size);
err_unmap:
	if (ctl->frame) {
		safe_unmap(ctl);
		goto err_free;
	}
	remote_syscall(pid, &ctl->orig_regs, ctl->syscall_ip, SYS_munmap,
		       ctl->remote, ctl->size, 0, 0, 0, 0);
err_regs:
	ptrace(PTRACE_SETSIGMASK, pid, sizeof(uint64_t), &ctl->orig_sigmask);
	arch_set_regs(pid, &ctl->orig_regs);
err_free:
	free(ctl);
	return NULL;
}

void *parasite_local(struct parasite_ctl *ctl, uint64_t remote)
{
	BUG_ON(remote < ctl->remote || remote >= ctl->remote + ctl->size);
	return ctl->local + (remote - ctl->remote);
}

int parasite_start(struct parasite_ctl *ctl, enum parasite_cmd cmd)
{
	arch_regs_t regs = ctl->orig_regs;

	ctl->args->cmd = cmd;
	ctl->args->ret = -1;
	ctl->args->done = 0;
	arch_prep_pie_call(&regs, ctl->remote, ctl->stack_top, ctl->args_remote);
	if (arch_set_regs(ctl->pid, &regs))
		return -1;
	if (ptrace(PTRACE_CONT, ctl->pid, NULL, NULL)) {
		pr_perror("can't run the parasite in task %d", ctl->pid);
		return -1;
	}
	return 0;
}

/* done: 1 when the command is over, 0 if it still runs (look only). */
int parasite_finish(struct parasite_ctl *ctl, int *done)
{
	int r = wait_done(ctl->pid, ctl->args, !done);

	if (r < 0)
		return -1;
	if (done)
		*done = r;
	if (!r)
		return 0;
	if (park_main(ctl))
		return -1;
	if (ctl->args->ret) {
		errno = -ctl->args->ret;
		pr_perror("parasite command %u failed in task %d (at %#llx)",
			  ctl->args->cmd, ctl->pid,
			  (unsigned long long)ctl->args->fail_at);
		return -1;
	}
	return 0;
}

struct parasite_args *parasite_thread_cmd(struct parasite_ctl *ctl, int slot,
					  pid_t tid, enum parasite_cmd cmd)
{
	size_t off = ctl->slots_off + slot * (sizeof(struct parasite_args) +
					      PARASITE_SLOT_STACK);
	struct parasite_args *a = (struct parasite_args *)(ctl->local + off);
	uint64_t remote = ctl->remote + off, all = ~0ULL, mask;
	uint64_t sp = remote + sizeof(*a) + PARASITE_SLOT_STACK;
	arch_regs_t orig, regs;
	uint64_t frame;
	int ret = -1;

	BUG_ON(slot >= ctl->nr_slots);
	if (arch_get_regs(tid, &orig))
		return NULL;
	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(mask), &mask)) {
		pr_perror("can't read the signal mask of thread %d", tid);
		return NULL;
	}
	memset(a, 0, sizeof(*a));
	a->version = PIE_ABI_VERSION;
	a->cmd = cmd;
	a->ret = -1;
	a->pipe_fd = a->pipe_rfd = -1;
	/* No fd of its own: it waits for the main thread's cure (pie). */
	a->ctl_fd = a->extra_fd = -1;
	a->borrowed = 1;
	a->main = ctl->args_remote;
	fill_cure(a, ctl->pid, tid, &orig, mask);
	frame = put_frame(ctl, tid, &orig, mask);
	if (frame) {
		a->cure_frame = frame;
		a->cure_vsys = ctl->vsys;
		/* Let go before it runs the parasite: rt_sigreturn. */
		if (set_sigreturn(tid, &orig, ctl->sigret, frame))
			return NULL;
	} else {
		ctl->args->keep_blob = 1;	/* its way out runs in the blob */
	}
	if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(all), &all)) {
		pr_perror("can't block signals in thread %d", tid);
		goto out;
	}
	__atomic_store_n(&ctl->args->thread_out, 0, __ATOMIC_SEQ_CST);
	regs = orig;
	/* The stack sits right above the block, growing down towards it. */
	arch_prep_pie_call(&regs, ctl->remote, sp, remote);
	if (arch_set_regs(tid, &regs))
		goto out;
	if (ptrace(PTRACE_CONT, tid, NULL, NULL)) {
		pr_perror("can't run the parasite in thread %d", tid);
		goto out;
	}
	fault_die("die-thread-running");
	if (wait_done(tid, a, true) < 0)
		goto out;
	if (a->ret) {
		errno = -a->ret;
		pr_perror("parasite command %u failed in thread %d", cmd, tid);
		goto out;
	}
	ret = 0;
out:
	/*
	 * Out of the blob first (the main thread may unmap it once
	 * thread_out says so), by way of the frame if there is one: let go
	 * between the steps, the thread returns into the program as it was.
	 */
	if (frame) {
		if (set_sigreturn(tid, &orig, ctl->sigret, frame))
			ret = -1;
		__atomic_store_n(&ctl->args->thread_out, 1, __ATOMIC_SEQ_CST);
		fault_die("die-thread-out");
	} else if (arch_set_regs(tid, &orig)) {
		ret = -1;
	}
	if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(mask), &mask)) {
		pr_perror("can't restore the signal mask of thread %d", tid);
		ret = -1;
	}
	if (frame && arch_set_regs(tid, &orig))
		ret = -1;
	if (!frame)
		__atomic_store_n(&ctl->args->thread_out, 1, __ATOMIC_SEQ_CST);
	return ret ? NULL : a;
}

int parasite_cmd(struct parasite_ctl *ctl, enum parasite_cmd cmd)
{
	if (parasite_start(ctl, cmd))
		return -1;
	return parasite_finish(ctl, NULL);
}

int parasite_cure(struct parasite_ctl *ctl)
{
	int ret = 0;
	long r;

	/* Only once every page is in the image: FINI gives rseq back. */
	if ((ctl->args->pipe_fd >= 0 || ctl->args->rseq_off) &&
	    parasite_cmd(ctl, PARASITE_CMD_FINI))
		ret = -1;
	/*
	 * No int3 ran in the task (a command ends in a wait, not a trap): its
	 * SIGTRAP action and a SIGTRAP it had pending are as they were.
	 */
	/* The pidfd of crest the parasite waited on: FINI had to keep it. */
	if (ctl->args->ctl_fd >= 0) {
		int fd = ctl->args->ctl_fd;

		/* First: a thread let go at the close's stops closes nothing twice. */
		ctl->args->ctl_fd = -1;
		r = parasite_rsys(ctl, SYS_close, fd, 0, 0, 0, 0, 0);
		if (r) {
			errno = -r;
			pr_perror("can't close the parasite's fd %d in task %d",
				  fd, ctl->pid);
			ret = -1;
		}
	}
	if (ctl->frame) {
		if (safe_unmap(ctl))
			ret = -1;
		goto out;
	}
	r = remote_syscall(ctl->pid, &ctl->orig_regs, ctl->syscall_ip,
			   SYS_munmap, ctl->remote, ctl->size, 0, 0, 0, 0);
	if (r) {
		errno = -r;
		pr_perror("can't unmap the parasite from task %d", ctl->pid);
		ret = -1;
	}
	if (arch_set_regs(ctl->pid, &ctl->orig_regs))
		ret = -1;
	if (ptrace(PTRACE_SETSIGMASK, ctl->pid, sizeof(uint64_t),
		   &ctl->orig_sigmask)) {
		pr_perror("can't restore the signal mask of task %d", ctl->pid);
		ret = -1;
	}
out:
	munmap(ctl->local, ctl->size);
	free(ctl);
	return ret;
}
