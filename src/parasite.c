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
#include <unistd.h>

#include "log.h"
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
	if (cont_syscall_stop(pid) || cont_syscall_stop(pid))
		return -EIO;
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

int remote_queue_trap(pid_t tgid, pid_t tid, uint64_t syscall_ip,
		      uint64_t remote_si)
{
	uint64_t all = ~0ULL;
	arch_regs_t regs;
	long r;

	if (arch_get_regs(tid, &regs))
		return -1;
	/* The int3 unblocked SIGTRAP: it must not arrive while we drive. */
	if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(all), &all)) {
		pr_perror("can't block signals in thread %d", tid);
		return -1;
	}
	r = remote_syscall(tid, &regs, syscall_ip, SYS_rt_tgsigqueueinfo, tgid, tid,
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
	ctl->trap_pending = thread_trap_pending(pid, ctl->trap_si);
	if (arch_get_regs(pid, &ctl->orig_regs))
		goto err_free;
	if (ptrace(PTRACE_GETSIGMASK, pid, sizeof(uint64_t), &ctl->orig_sigmask)) {
		pr_perror("can't read the signal mask of task %d", pid);
		goto err_free;
	}
	/* Nothing may be delivered while foreign code runs in the task. */
	if (ptrace(PTRACE_SETSIGMASK, pid, sizeof(uint64_t), &all)) {
		pr_perror("can't block signals in task %d", pid);
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
	ret = remote_syscall(pid, &ctl->orig_regs, ctl->syscall_ip, SYS_mmap, 0,
			     ctl->size, PROT_READ | PROT_WRITE | PROT_EXEC,
			     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
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
	/* Before any int3 of ours: the program's SIGTRAP action, as it is. */
	ret = remote_syscall(pid, &ctl->orig_regs, ctl->syscall_ip, SYS_rt_sigaction,
			     SIGTRAP, 0, ctl->remote + ctl->data_off, 8, 0, 0);
	if (ret) {
		errno = -ret;
		pr_perror("can't read the SIGTRAP action of task %d", pid);
		goto err_unmap_local;
	}
	memcpy(&ctl->trap_act, ctl->local + ctl->data_off, sizeof(ctl->trap_act));
	ctl->trap_act_saved = true;
	pr_debug("parasite in task %d at %#lx (%zu bytes)", pid,
		 (unsigned long)ctl->remote, ctl->size);
	return ctl;

err_unmap_local:
	munmap(ctl->local, ctl->size);
err_unmap:
	remote_syscall(pid, &ctl->orig_regs, ctl->syscall_ip, SYS_munmap,
		       ctl->remote, ctl->size, 0, 0, 0, 0);
err_regs:
	arch_set_regs(pid, &ctl->orig_regs);
	ptrace(PTRACE_SETSIGMASK, pid, sizeof(uint64_t), &ctl->orig_sigmask);
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
	arch_prep_pie_call(&regs, ctl->remote, ctl->stack_top, ctl->args_remote);
	if (arch_set_regs(ctl->pid, &regs))
		return -1;
	if (ptrace(PTRACE_CONT, ctl->pid, NULL, NULL)) {
		pr_perror("can't run the parasite in task %d", ctl->pid);
		return -1;
	}
	return 0;
}

/* done: 1 when the parasite reached its int3, 0 if still running (WNOHANG). */
int parasite_finish(struct parasite_ctl *ctl, int *done)
{
	int status, sig;

	if (done) {
		pid_t r = waitpid(ctl->pid, &status, __WALL | WNOHANG);

		if (r == 0) {
			*done = 0;
			return 0;
		}
		if (r < 0) {
			pr_perror("can't wait for task %d", ctl->pid);
			return -1;
		}
		sig = WIFSTOPPED(status) ? WSTOPSIG(status) : -1;
		if (sig < 0) {
			pr_err("task %d died while the parasite ran in it", ctl->pid);
			return -1;
		}
		if (status >> 16 == PTRACE_EVENT_STOP && sig != SIGTRAP) {
			/* A stopped task's group stop again: on with the parasite. */
			if (ptrace(PTRACE_CONT, ctl->pid, NULL, NULL)) {
				pr_perror("can't resume task %d", ctl->pid);
				return -1;
			}
			*done = 0;
			return 0;
		}
		*done = 1;
	} else {
		sig = wait_stop_resume(ctl->pid, &status, PTRACE_CONT);
		if (sig < 0)
			return -1;
	}
	if (sig != SIGTRAP) {
		arch_regs_t regs;

		arch_get_regs(ctl->pid, &regs);
		pr_err("the parasite in task %d stopped with signal %d at %#llx",
		       ctl->pid, sig, (unsigned long long)regs.rip);
		return -1;
	}
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
	arch_regs_t orig, regs;
	int status, sig, ret = -1;
	uint8_t trap_si[128];
	bool trap, trapped = false;

	BUG_ON(slot >= ctl->nr_slots);
	if (arch_get_regs(tid, &orig))
		return NULL;
	trap = thread_trap_pending(tid, trap_si);
	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(mask), &mask) ||
	    ptrace(PTRACE_SETSIGMASK, tid, sizeof(all), &all)) {
		pr_perror("can't block signals in thread %d", tid);
		return NULL;
	}
	memset(a, 0, sizeof(*a));
	a->version = PIE_ABI_VERSION;
	a->cmd = cmd;
	a->ret = -1;
	a->pipe_fd = a->pipe_rfd = -1;
	regs = orig;
	/* The stack sits right above the block, growing down towards it. */
	arch_prep_pie_call(&regs, ctl->remote, remote + sizeof(*a) + PARASITE_SLOT_STACK,
			   remote);
	if (arch_set_regs(tid, &regs))
		goto out;
	if (ptrace(PTRACE_CONT, tid, NULL, NULL)) {
		pr_perror("can't run the parasite in thread %d", tid);
		goto out;
	}
	sig = wait_stop_resume(tid, &status, PTRACE_CONT);
	if (sig < 0)
		goto out;
	if (sig != SIGTRAP) {
		pr_err("the parasite in thread %d stopped with signal %d", tid, sig);
		goto out;
	}
	trapped = true;
	if (a->ret) {
		errno = -a->ret;
		pr_perror("parasite command %u failed in thread %d", cmd, tid);
		goto out;
	}
	ret = 0;
out:
	/* The bottom of the slot's stack is free: the siginfo goes there. */
	if (trapped && trap) {
		memcpy(ctl->local + off + sizeof(*a), trap_si, sizeof(trap_si));
		if (remote_queue_trap(ctl->pid, tid, ctl->syscall_ip, remote + sizeof(*a)))
			ret = -1;
	}
	if (arch_set_regs(tid, &orig))
		ret = -1;
	if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(mask), &mask)) {
		pr_perror("can't restore the signal mask of thread %d", tid);
		ret = -1;
	}
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
	if (ctl->trap_act_saved && ctl->trap_act.handler) {
		memcpy(ctl->local + ctl->data_off, &ctl->trap_act, sizeof(ctl->trap_act));
		if (remote_put_trap_action(ctl->pid, ctl->syscall_ip,
					   ctl->remote + ctl->data_off))
			ret = -1;
	}
	if (ctl->trap_pending) {
		memcpy(ctl->local + ctl->data_off, ctl->trap_si, sizeof(ctl->trap_si));
		if (remote_queue_trap(ctl->pid, ctl->pid, ctl->syscall_ip,
				      ctl->remote + ctl->data_off))
			ret = -1;
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
	munmap(ctl->local, ctl->size);
	free(ctl);
	return ret;
}
