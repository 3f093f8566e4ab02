/*
 * The parasite: runs inside a stopped target on crest's request, one command
 * per call. A command never ends in a trap: it sets args->done and waits on
 * a pidfd of crest, where crest stops it (PTRACE_INTERRUPT). If crest is
 * gone (killed, OOM) the wait ends and the thread cures itself: it closes
 * what the parasite opened and jumps back into the program with its own
 * registers and signal mask (pie_orphan). Rules in pie/README.md.
 */
#include "pie-abi.h"
#include "pie-lib.h"

#define O_WRONLY	01
#define O_CLOEXEC	02000000
#define PR_GET_TID_ADDRESS 40
#define PR_GET_CHILD_SUBREAPER 37
#define SPLICE_F_GIFT	8
#define PR_GET_PDEATHSIG	2
#define PR_GET_TIMERSLACK	30
#define PR_GET_SECUREBITS	27
#define PR_GET_THP_DISABLE	42

struct k_sigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

struct k_stack {
	uint64_t sp;
	int32_t flags;
	int32_t pad;
	uint64_t size;
};

/* What only the thread itself can ask (src/task-attrs.c keeps it). */
static long info_attrs(struct parasite_args *a)
{
	struct parasite_info *in = &a->info;
	int sig = 0;
	long ret;

	ret = sys_prctl(PR_GET_PDEATHSIG, (unsigned long)&sig, 0, 0, 0);
	if (ret) {
		a->fail_at = 500;
		return ret;
	}
	in->pdeathsig = sig;
	ret = sys_prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	if (ret < 0) {
		a->fail_at = 501;
		return ret;
	}
	in->securebits = ret;
	ret = sys_prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	if (ret < 0) {
		a->fail_at = 502;
		return ret;
	}
	in->timer_slack = ret;
	ret = sys_prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
	if (ret < 0) {
		a->fail_at = 503;
		return ret;
	}
	in->thp_disable = ret;
	/* Since 6.3; an older kernel can't tell, and says EINVAL. */
	ret = sys_membarrier(512 /* MEMBARRIER_CMD_GET_REGISTRATIONS */, 0, 0);
	in->membarrier = ret < 0 ? 0 : ret;
	return 0;
}

static long cmd_info(struct parasite_args *a)
{
	struct parasite_info *in = &a->info;
	struct k_sigaction ka;
	struct k_stack st;
	long ret;
	int i;

	for (i = 1; i <= CREST_NSIG; i++) {
		struct pie_sigaction *s = &in->sigactions[i - 1];

		if (i == 9 || i == 19) /* SIGKILL, SIGSTOP */
			continue;
		ret = sys_rt_sigaction(i, 0, (unsigned long)&ka, 8);
		if (ret) {
			a->fail_at = i;
			return ret;
		}
		s->handler = ka.handler;
		s->flags = ka.flags;
		s->restorer = ka.restorer;
		s->mask = ka.mask;
	}

	for (i = 0; i < PIE_NR_RLIMITS; i++) {
		ret = sys_prlimit64(0, i, 0, (unsigned long)&in->rlimits[i]);
		if (ret) {
			a->fail_at = 100 + i;
			return ret;
		}
	}

	for (i = 0; i < 3; i++) {
		ret = sys_getitimer(i, (unsigned long)in->itimers[i]);
		if (ret) {
			a->fail_at = 200 + i;
			return ret;
		}
	}

	ret = sys_sigaltstack(0, (unsigned long)&st);
	if (ret) {
		a->fail_at = 300;
		return ret;
	}
	in->altstack_sp = st.sp;
	in->altstack_size = st.size;
	in->altstack_flags = st.flags;

	/* umask can only be read by setting it: put the old one back at once. */
	in->umask = sys_umask(0);
	sys_umask(in->umask);

	in->brk = sys_brk(0);

	ret = sys_prctl(PR_GET_TID_ADDRESS, (unsigned long)&in->clear_tid_addr,
			0, 0, 0);
	if (ret) {
		a->fail_at = 400;
		return ret;
	}
	ret = sys_prctl(PR_GET_CHILD_SUBREAPER, (unsigned long)&i, 0, 0, 0);
	if (ret) {
		a->fail_at = 401;
		return ret;
	}
	in->child_subreaper = i;
	/* Which dynamically enabled xstate features (AMX) it asked for. */
	if (sys_arch_prctl(0x1022 /* ARCH_GET_XCOMP_PERM */,
			   (unsigned long)&in->xcomp_perm))
		in->xcomp_perm = 0;
	return info_attrs(a);
}

/*
 * What only the process can tell of its POSIX timers (crest found their
 * ids in /proc/PID/timers): time left, interval, the last overrun.
 */
static long cmd_posix_timers(struct parasite_args *a)
{
	struct pie_posix_timer *t = (struct pie_posix_timer *)a->timers;
	int64_t its[4];	/* struct itimerspec: it_interval, it_value */
	long ret;

	for (uint32_t i = 0; i < a->nr_timers; i++) {
		ret = sys_timer_gettime(t[i].id, (unsigned long)its);
		if (ret) {
			a->fail_at = t[i].id;
			return ret;
		}
		t[i].interval_sec = its[0];
		t[i].interval_nsec = its[1];
		t[i].value_sec = its[2];
		t[i].value_nsec = its[3];
		ret = sys_timer_getoverrun(t[i].id);
		if (ret < 0) {
			a->fail_at = t[i].id;
			return ret;
		}
		t[i].overrun = ret;
	}
	return 0;
}

static long cmd_open_pipe(struct parasite_args *a)
{
	int fds[2];
	long ret = sys_pipe2((unsigned long)fds, O_CLOEXEC);

	if (ret < 0)
		return ret;
	a->pipe_rfd = fds[0];
	a->pipe_fd = fds[1];
	return 0;
}

/*
 * Hand every range to crest through the pipe without copying: vmsplice
 * only takes references to our pages. crest splices them into the image as
 * they arrive, so a full pipe just makes us wait. The checksum is taken
 * here, where the bytes already are, before they leave.
 */
static long dump_runs(struct parasite_args *a);

/*
 * The kernel writes the CPU number into our rseq area whenever we come
 * back to user space on another CPU: a page of it handed over (vmsplice
 * only lends the page) could change between its checksum and the moment
 * crest has copied it into the image. So rseq is off from the first page
 * handed over until FINI, which crest sends once the pipe is drained.
 */
/*
 * Which of the runs crest names (present pages of private anonymous
 * memory) are full of zeros. Read here, in the target, and not by crest:
 * a read pin from outside (process_vm_readv) unshares a copy-on-write
 * page, which would give a forked child a copy of its parent's memory.
 * A page of data nearly always ends the loop within its first words.
 */
static long cmd_find_zeros(struct parasite_args *a)
{
	struct pie_iov *iovs = (struct pie_iov *)a->iovs;
	uint32_t *zero = (uint32_t *)a->crcs;

	for (uint32_t i = 0; i < a->nr_iovs; i++) {
		const uint64_t *w = (const uint64_t *)iovs[i].base;
		uint64_t n = iovs[i].len / 8, k = 0;

		while (k < n && !w[k])
			k++;
		zero[i] = k == n;
	}
	return 0;
}

static long cmd_dump_pages(struct parasite_args *a)
{
	long ret;

	/* crest has its copy of the read end by now. */
	if (a->pipe_rfd >= 0) {
		sys_close(a->pipe_rfd);
		a->pipe_rfd = -1;
	}
	if (a->rseq_addr && !a->rseq_off) {
		ret = sys_rseq(a->rseq_addr, a->rseq_len, 1 /* UNREGISTER */, a->rseq_sig);
		if (ret) {
			a->fail_at = a->rseq_addr;
			return ret;
		}
		a->rseq_off = 1;
	}
	return dump_runs(a);
}

static long cmd_fini(struct parasite_args *a)
{
	long ret = 0, r;

	if (a->pipe_fd >= 0)
		ret = sys_close(a->pipe_fd);
	if (a->pipe_rfd >= 0)
		sys_close(a->pipe_rfd);
	a->pipe_fd = a->pipe_rfd = -1;
	/* Closed when crest stops us next: FINI is the last command. */
	if (a->rseq_off) {
		r = sys_rseq(a->rseq_addr, a->rseq_len, 0, a->rseq_sig);
		if (r) {
			a->fail_at = a->rseq_addr;
			ret = r;
		} else {
			a->rseq_off = 0;
		}
	}
	return ret;
}

static long dump_runs(struct parasite_args *a)
{
	struct pie_iov *iovs = (struct pie_iov *)a->iovs;
	uint32_t *crcs = (uint32_t *)a->crcs;
	uint32_t i;

	for (i = 0; i < a->nr_iovs; i++) {
		struct pie_iov iov = iovs[i];
		unsigned long spins = 0;

		crcs[i] = arch_crc32c_pages((void *)iov.base, iov.len);
		while (iov.len) {
			long n = sys_vmsplice(a->pipe_fd, (unsigned long)&iov,
					      1, 0);

			if (n < 0) {
				a->fail_at = iov.base;
				return n;
			}
			if (n == 0 && ++spins > 1000000) {
				a->fail_at = iov.base;
				return -5; /* EIO: the pipe never drains */
			}
			iov.base += n;
			iov.len -= n;
		}
	}
	return 0;
}

/*
 * Back into the program: flags, every general register, then rsp and rip
 * last. rip waits at tmp_sp, 136 bytes below the program's rsp (past the
 * red zone, where a signal frame would go too); "ret $128" takes it and
 * leaves rsp where the program had it. Floating point and vector state
 * are untouched: the blob never uses them (-mgeneral-regs-only).
 */
__attribute__((noreturn)) void pie_resume(const struct pie_regs *r);
asm(".text\n"
    ".globl pie_resume\n"
    "pie_resume:\n"
    "	pushq 136(%rdi)\n"
    "	popfq\n"
    "	mov 0(%rdi), %rax\n"
    "	mov 8(%rdi), %rbx\n"
    "	mov 16(%rdi), %rcx\n"
    "	mov 24(%rdi), %rdx\n"
    "	mov 32(%rdi), %rsi\n"
    "	mov 48(%rdi), %rbp\n"
    "	mov 56(%rdi), %r8\n"
    "	mov 64(%rdi), %r9\n"
    "	mov 72(%rdi), %r10\n"
    "	mov 80(%rdi), %r11\n"
    "	mov 88(%rdi), %r12\n"
    "	mov 96(%rdi), %r13\n"
    "	mov 104(%rdi), %r14\n"
    "	mov 112(%rdi), %r15\n"
    "	mov 144(%rdi), %rsp\n"
    "	mov 40(%rdi), %rdi\n"
    "	ret $128\n"
    /*
     * Where crest parks a thread between commands: should crest die
     * while it is stopped, it is let go here, args in rdi.
     */
    /*
     * crest's remote syscalls once the blob is in: let go at either stop,
     * the thread cures itself right after the syscall (args in r15).
     */
    ".globl pie_rsys\n"
    "pie_rsys:\n"
    "	syscall\n"
    "	mov %r15, %rdi\n"
    "	mov %rax, %rsi\n"
    "	andq $-16, %rsp\n"
    "	call pie_orphan_rsys\n"
    "	ud2\n"
    ".globl pie_orphan_entry\n"
    "pie_orphan_entry:\n"
    "	andq $-16, %rsp\n"
    "	call pie_orphan\n"
    "	ud2\n"
    /*
     * Out of the blob for good (struct pie_leave): one syscall from the
     * vDSO, whose "ret" takes the frame's sigreturn address; nothing of
     * the blob is read after the jump.
     */
    ".globl pie_leave\n"
    "pie_leave:\n"
    "	mov 0(%rdi), %rax\n"
    "	mov 16(%rdi), %rsi\n"
    "	mov 24(%rdi), %rdx\n"
    "	mov 32(%rdi), %r10\n"
    "	mov 40(%rdi), %rsp\n"
    "	mov 48(%rdi), %rcx\n"
    "	mov 8(%rdi), %rdi\n"
    "	jmp *%rcx\n");

struct pie_leave {
	uint64_t nr, a0, a1, a2, a3;	/* 0 .. 32 */
	uint64_t sp, ip;		/* 40, 48 */
};

__attribute__((noreturn)) void pie_leave(const struct pie_leave *l);

/*
 * The main thread unmaps the blob once no other thread runs in it: the
 * one thread crest may have been driving (one at a time) comes out when
 * the main thread says it is orphaned; bounded, else the blob stays.
 */
static __attribute__((noreturn)) void leave_blob(struct parasite_args *a)
{
	struct parasite_args *m = (struct parasite_args *)a->main;
	struct pie_leave l = { .sp = a->cure_frame, .ip = a->cure_vsys };
	int64_t ts[2];

	if (a->borrowed) {
		l.nr = 14;	/* rt_sigprocmask(SIG_BLOCK, NULL, &thread_out, 8) */
		l.a0 = 0;
		l.a1 = 0;
		l.a2 = (uint64_t)&m->thread_out;
		l.a3 = 8;
		pie_leave(&l);
	}
	/* ppoll writes the time left back: a new timeout every turn. */
	for (int i = 0; i < 2000 &&
	     !__atomic_load_n(&a->thread_out, __ATOMIC_SEQ_CST); i++) {
		ts[0] = 0;
		ts[1] = 5 * 1000 * 1000;
		sys_ppoll(0, 0, (unsigned long)ts, 0, 0);
	}
	if (a->keep_blob || !__atomic_load_n(&a->thread_out, __ATOMIC_SEQ_CST)) {
		l.nr = 39;	/* getpid: harmless, the blob stays */
	} else {
		l.nr = 11;	/* munmap */
		l.a0 = a->self_start;
		l.a1 = a->self_size;
	}
	pie_leave(&l);
}

struct k_pollfd {
	int32_t fd;
	int16_t events;
	int16_t revents;
};

__attribute__((noreturn)) void pie_orphan(struct parasite_args *a);

/* Let go right after a remote syscall: an fd it made is closed too. */
__attribute__((noreturn, used)) void pie_orphan_rsys(struct parasite_args *a,
						     long ret)
{
	if (a->rsys_fd && ret >= 0 && ret != a->extra_fd)
		sys_close(ret);
	a->rsys_fd = 0;
	pie_orphan(a);
}

/* Crest is gone: put back what the parasite changed, resume the program. */
__attribute__((noreturn, used)) void pie_orphan(struct parasite_args *a)
{
	uint64_t set = (a->keep_sigpipe ? 0 : 1ULL << (13 - 1)) |
		       (a->keep_sigtrap ? 0 : 1ULL << (5 - 1));
	int64_t zero[2] = { 0, 0 };

	__atomic_store_n(&a->orphaned, 1, __ATOMIC_SEQ_CST);
	if (a->ctl_fd >= 0 && !a->borrowed)
		sys_close(a->ctl_fd);
	if (a->pipe_fd >= 0)
		sys_close(a->pipe_fd);
	if (a->pipe_rfd >= 0)
		sys_close(a->pipe_rfd);
	if (a->extra_fd >= 0 && !a->borrowed)
		sys_close(a->extra_fd);
	a->ctl_fd = a->pipe_fd = a->pipe_rfd = a->extra_fd = -1;
	if (a->rseq_off && !sys_rseq(a->rseq_addr, a->rseq_len, 0, a->rseq_sig))
		a->rseq_off = 0;
	/*
	 * A vmsplice into the page pipe after crest died gave EPIPE and a
	 * SIGPIPE; a syscall stop crest never waited for is followed by a
	 * SIGTRAP when the tracer goes (ptrace_report_syscall): both blocked
	 * here, taken back unless the thread had one of its own.
	 */
	for (int i = 0; set && i < 2; i++)
		sys_rt_sigtimedwait((unsigned long)&set, 0, (unsigned long)zero, 8);
	/* The frame holds registers, signal mask and xstate: rt_sigreturn. */
	if (a->cure_frame)
		leave_blob(a);
	a->cure.tmp_sp = a->cure.rsp - 136;
	*(volatile uint64_t *)a->cure.tmp_sp = a->cure.rip;
	sys_rt_sigprocmask(2 /* SIG_SETMASK */, (unsigned long)&a->cure_sigmask, 0, 8);
	pie_resume(&a->cure);
}

/*
 * The command is over: tell crest (futex), then wait for crest to stop
 * us, or to be gone. Crest's pidfd is readable once crest has exited;
 * by then the kernel has let its tracees go.
 */
static __attribute__((noreturn)) void wait_crest(struct parasite_args *a)
{
	struct k_pollfd p = { .fd = a->ctl_fd, .events = 1 /* POLLIN */ };
	struct parasite_args *m = (struct parasite_args *)a->main;
	int64_t ts[2];

	__atomic_store_n(&a->done, 1, __ATOMIC_SEQ_CST);
	sys_futex((unsigned long)&a->done, 1 /* FUTEX_WAKE */, 1, 0, 0, 0);
	/*
	 * Another thread uses no fd at all (its table may not be the
	 * process's, the number may be the program's): it naps in short
	 * turns until the main thread, let go too, says it cured itself.
	 */
	for (int i = 0; i < 100000; i++) {
		long r;

		if (a->borrowed) {
			if (__atomic_load_n(&m->orphaned, __ATOMIC_SEQ_CST))
				break;
			/* ppoll writes the time left back into ts. */
			ts[0] = 0;
			ts[1] = 50 * 1000 * 1000;
			sys_ppoll(0, 0, (unsigned long)ts, 0, 0);
			continue;
		}
		r = sys_ppoll((unsigned long)&p, 1, 0, 0, 0);
		if (r > 0 || (r < 0 && r != -4 /* EINTR */))
			break;
	}
	pie_orphan(a);
}

long pie_main(struct parasite_args *a)
{
	long ret;

	if (a->version != PIE_ABI_VERSION) {
		a->ret = -22;
		wait_crest(a);
	}
	a->fail_at = 0;
	/* The kernel gives the lowest free number: never one of the program's. */
	if (a->ctl_fd < 0 && !a->borrowed) {
		ret = sys_pidfd_open(a->tracer, 0);
		if (ret < 0)
			pie_orphan(a);	/* crest is gone already */
		a->ctl_fd = ret;
	}
	switch (a->cmd) {
	case PARASITE_CMD_INFO:
		ret = cmd_info(a);
		break;
	case PARASITE_CMD_OPEN_PIPE:
		ret = cmd_open_pipe(a);
		break;
	case PARASITE_CMD_DUMP_PAGES:
		ret = cmd_dump_pages(a);
		break;
	case PARASITE_CMD_FINI:
		ret = cmd_fini(a);
		break;
	case PARASITE_CMD_POSIX_TIMERS:
		ret = cmd_posix_timers(a);
		break;
	case PARASITE_CMD_FIND_ZEROS:
		ret = cmd_find_zeros(a);
		break;
	default:
		ret = -22;
	}
	a->ret = ret;
	wait_crest(a);
}
