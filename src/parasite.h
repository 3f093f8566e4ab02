#ifndef CREST_PARASITE_H
#define CREST_PARASITE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "arch.h"
#include "pie-abi.h"

/*
 * A parasite injected in one stopped task. While it exists the task runs
 * only on our request and with every signal blocked; parasite_cure() puts
 * back registers and mask and unmaps it.
 */
struct parasite_ctl {
	pid_t pid;
	arch_regs_t orig_regs;
	uint64_t orig_sigmask;
	uint64_t syscall_ip;		/* a syscall instruction in the vDSO */
	/*
	 * The way back into the program without crest (arch/x86/sigframe.c):
	 * "syscall; ret" in the vDSO, "mov $15, %rax; syscall" in the
	 * program's code, the main thread's rt_sigreturn frame below its
	 * red zone. frame 0: none (the remote syscalls of infect and cure
	 * then run from syscall_ip, and a task let go there dies).
	 */
	uint64_t vsys;
	uint64_t sigret;
	uint64_t frame;
	/* CREST_FAULT point of the next parasite_rsys()'s exit stop (tests). */
	const char *rsys_die;
	uint64_t remote;		/* the shared area in the target */
	unsigned char *local;		/* the same area in crest */
	size_t size;
	struct parasite_args *args;	/* local view */
	uint64_t args_remote;
	size_t data_off;		/* iovs and crcs go here */
	size_t data_size;
	uint64_t stack_top;
	size_t slots_off;		/* per-thread args + stacks */
	int nr_slots;
};

#define PARASITE_SLOT_STACK	(16 * 1024)

/* Run syscall nr in the stopped task (no parasite needed); -errno on failure. */
long remote_syscall(pid_t pid, const arch_regs_t *base, uint64_t syscall_ip,
		    long nr, unsigned long a0, unsigned long a1, unsigned long a2,
		    unsigned long a3, unsigned long a4, unsigned long a5);

/*
 * A SIGTRAP pending for thread tid alone (si: its siginfo, 128 bytes)?
 * The int3 that ends a parasite command or the restorer would be taken
 * for it by the kernel (a second SIGTRAP is not queued) and swallowed.
 */
bool thread_trap_pending(pid_t tid, void *si);
/*
 * Queue the siginfo at remote_si back to tid, by tid itself (only a task
 * may queue a kernel's or tkill's siginfo to itself, naming itself by the
 * ids it sees), all signals blocked.
 */
int remote_queue_trap(pid_t tid, uint64_t syscall_ip,
		      uint64_t remote_si);

/*
 * Put the SIGTRAP action act back in the stopped task pid, through the
 * target memory at remote (32 bytes): the int3 of crest's code, taken with
 * every signal blocked, made the kernel reset it to SIG_DFL.
 */
int remote_put_trap_action(pid_t pid, uint64_t syscall_ip, uint64_t remote);

struct parasite_ctl *parasite_infect(pid_t pid, uint64_t vdso_start,
				     uint64_t vdso_end, size_t data_size,
				     int nr_threads);
/*
 * Run cmd in another (stopped) thread of the infected process, on a stack
 * of its own; its answers are in the returned block (valid until cure).
 */
struct parasite_args *parasite_thread_cmd(struct parasite_ctl *ctl, int slot,
					  pid_t tid, enum parasite_cmd cmd);
int parasite_cmd(struct parasite_ctl *ctl, enum parasite_cmd cmd);
/* Start a command and return while it runs; parasite_finish() waits. */
int parasite_start(struct parasite_ctl *ctl, enum parasite_cmd cmd);
int parasite_finish(struct parasite_ctl *ctl, int *done);
/* Local pointer for a remote address inside the area. */
void *parasite_local(struct parasite_ctl *ctl, uint64_t remote);
int parasite_cure(struct parasite_ctl *ctl);
long parasite_rsys(struct parasite_ctl *ctl, long nr, unsigned long a0,
		   unsigned long a1, unsigned long a2, unsigned long a3,
		   unsigned long a4, unsigned long a5);

#endif
