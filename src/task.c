/*
 * The per-task core: registers, xstate, signals, creds, limits, umask,
 * personality, cwd/root. Dumped from ptrace, /proc and the parasite;
 * restored partly by crest's child, partly by the restorer, and the
 * registers by crest through ptrace at the very end.
 */
#include <elf.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/ptrace.h>

#include "arch.h"
#include "log.h"
#include "proc.h"
#include "pstree.h"
#include "task.h"
#include "task-attrs.h"
#include "util.h"

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif

struct rseq_config {
	uint64_t rseq_abi_pointer;
	uint32_t rseq_abi_size;
	uint32_t signature;
	uint32_t flags;
	uint32_t pad;
};

static UserRegsEntry *regs_to_entry(const arch_regs_t *r)
{
	UserRegsEntry *e = xzalloc(sizeof(*e));
	uint64_t a[27];

	user_regs_entry__init(e);
	arch_regs_to_array(r, a);
	e->r15 = a[0]; e->r14 = a[1]; e->r13 = a[2]; e->r12 = a[3];
	e->bp = a[4]; e->bx = a[5]; e->r11 = a[6]; e->r10 = a[7];
	e->r9 = a[8]; e->r8 = a[9]; e->ax = a[10]; e->cx = a[11];
	e->dx = a[12]; e->si = a[13]; e->di = a[14]; e->orig_ax = a[15];
	e->ip = a[16]; e->cs = a[17]; e->flags = a[18]; e->sp = a[19];
	e->ss = a[20]; e->fs_base = a[21]; e->gs_base = a[22];
	e->ds = a[23]; e->es = a[24]; e->fs = a[25]; e->gs = a[26];
	return e;
}

static void entry_to_regs(const UserRegsEntry *e, arch_regs_t *r)
{
	uint64_t a[27] = {
		e->r15, e->r14, e->r13, e->r12, e->bp, e->bx, e->r11, e->r10,
		e->r9, e->r8, e->ax, e->cx, e->dx, e->si, e->di, e->orig_ax,
		e->ip, e->cs, e->flags, e->sp, e->ss, e->fs_base, e->gs_base,
		e->ds, e->es, e->fs, e->gs,
	};

	arch_regs_from_array(r, a);
}

static int dump_pending(pid_t tid, ThreadCoreEntry *tc, int leader)
{
	/* The process-wide queue once, with the leader's own. */
	for (int shared = 0; shared < 1 + leader; shared++) {
		for (int i = 0;; i++) {
			struct ptrace_peeksiginfo_args a = {
				.off = i, .nr = 1,
				.flags = shared ? PTRACE_PEEKSIGINFO_SHARED : 0,
			};
			SiginfoEntry *se;
			siginfo_t si;
			int n = ptrace(PTRACE_PEEKSIGINFO, tid, &a, &si);

			if (n < 0) {
				pr_perror("can't read pending signals of task %d", tid);
				return -1;
			}
			if (n == 0)
				break;
			se = xzalloc(sizeof(*se));
			siginfo_entry__init(se);
			se->raw.len = sizeof(si);
			se->raw.data = xzalloc(sizeof(si));
			memcpy(se->raw.data, &si, sizeof(si));
			se->shared = shared;
			tc->pending = xrealloc(tc->pending, (tc->n_pending + 1) * sizeof(se));
			tc->pending[tc->n_pending++] = se;
		}
	}
	return 0;
}

/*
 * A thread stopped inside an rseq critical section would, on its way back
 * to user space after a preemption or signal, be sent to the section's
 * abort handler by the kernel. The restored one gets there directly.
 */
static void rseq_fixup(pid_t tid, ThreadCoreEntry *tc)
{
	struct { uint32_t version, flags; uint64_t start_ip, post_commit_offset, abort_ip; } cs;
	uint64_t cs_ptr = 0, ip = tc->regs->ip;
	struct iovec l, r;

	if (!tc->rseq)
		return;
	l = (struct iovec){ &cs_ptr, 8 };
	r = (struct iovec){ (void *)(tc->rseq->addr + 8), 8 };
	if (process_vm_readv(tid, &l, 1, &r, 1, 0) != 8 || !cs_ptr)
		return;
	l = (struct iovec){ &cs, sizeof(cs) };
	r = (struct iovec){ (void *)cs_ptr, sizeof(cs) };
	if (process_vm_readv(tid, &l, 1, &r, 1, 0) != sizeof(cs))
		return;
	if (ip >= cs.start_ip && ip < cs.start_ip + cs.post_commit_offset) {
		pr_info("thread %d is inside an rseq critical section: it resumes at its abort handler %#llx",
			tid, (unsigned long long)cs.abort_ip);
		tc->regs->ip = cs.abort_ip;
	}
}

static int dump_sched(pid_t tid, ThreadCoreEntry *tc)
{
	struct sched_param sp;
	cpu_set_t set;
	int policy;

	policy = sched_getscheduler(tid);
	if (policy < 0 || sched_getparam(tid, &sp)) {
		pr_perror("can't read the scheduling of thread %d", tid);
		return -1;
	}
	tc->has_sched_policy = 1;
	tc->sched_policy = policy;
	tc->has_sched_prio = 1;
	tc->sched_prio = sp.sched_priority;
	errno = 0;
	tc->nice = getpriority(PRIO_PROCESS, tid);
	if (errno) {
		pr_perror("can't read the nice value of thread %d", tid);
		return -1;
	}
	tc->has_nice = 1;
	if (sched_getaffinity(tid, sizeof(set), &set)) {
		pr_perror("can't read the CPU affinity of thread %d", tid);
		return -1;
	}
	tc->has_affinity = 1;
	tc->affinity.len = sizeof(set);
	tc->affinity.data = xzalloc(sizeof(set));
	memcpy(tc->affinity.data, &set, sizeof(set));
	return 0;
}

static ThreadCoreEntry *dump_thread(pid_t pid, pid_t tid,
				    const struct parasite_info *pi, int leader)
{
	ThreadCoreEntry *tc = xzalloc(sizeof(*tc));
	size_t xsize = arch_xstate_size();
	struct rseq_config rc = {};
	arch_regs_t regs;
	uint64_t head, len;
	char path[64], *comm;

	thread_core_entry__init(tc);
	tc->tid = tid;
	if (arch_get_regs(tid, &regs))
		return NULL;
	tc->regs = regs_to_entry(&regs);
	tc->xstate.data = xzalloc(xsize);
	tc->xstate.len = xsize;
	if (arch_get_xstate(tid, tc->xstate.data, xsize))
		return NULL;
	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(uint64_t), &tc->blocked)) {
		pr_perror("can't read the signal mask of task %d", tid);
		return NULL;
	}
	if (dump_pending(tid, tc, leader))
		return NULL;
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, sizeof(rc), &rc) < 0) {
		pr_perror("can't read the rseq registration of task %d", tid);
		return NULL;
	}
	if (rc.rseq_abi_pointer) {
		tc->rseq = xzalloc(sizeof(*tc->rseq));
		rseq_entry__init(tc->rseq);
		tc->rseq->addr = rc.rseq_abi_pointer;
		tc->rseq->len = rc.rseq_abi_size;
		tc->rseq->sig = rc.signature;
		rseq_fixup(tid, tc);
	}
	if (syscall(SYS_get_robust_list, tid, &head, &len)) {
		pr_perror("can't read the robust futex list of task %d", tid);
		return NULL;
	}
	tc->has_robust_list = 1;
	tc->robust_list = head;
	tc->has_robust_len = 1;
	tc->robust_len = len;
	tc->altstack = xzalloc(sizeof(*tc->altstack));
	sigaltstack_entry__init(tc->altstack);
	tc->altstack->sp = pi->altstack_sp;
	tc->altstack->size = pi->altstack_size;
	tc->altstack->flags = pi->altstack_flags;
	tc->has_clear_tid_addr = 1;
	tc->clear_tid_addr = pi->clear_tid_addr;
	if (dump_sched(tid, tc))
		return NULL;
	snprintf(path, sizeof(path), "task/%d/comm", tid);
	comm = read_proc(pid, path, NULL);
	if (comm) {
		comm[strcspn(comm, "\n")] = 0;
		tc->comm = comm;
	}
	return tc;
}

static char *read_link(pid_t pid, const char *what)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	return readlink_alloc(path);
}

CoreEntry *task_dump_core(const struct pstree_item *it)
{
	const struct parasite_info *pi = &it->info;
	const struct proc_stat *st = &it->stat;
	pid_t pid = it->live;
	CoreEntry *c = xzalloc(sizeof(*c));
	struct proc_status ps;
	ThreadCoreEntry *tc;
	char *buf;
	int i;

	core_entry__init(c);
	c->comm = xstrdup(st->comm);
	buf = read_proc(pid, "status", NULL);
	if (!buf || proc_parse_status(buf, &ps)) {
		pr_err("can't parse /proc/%d/status", pid);
		free(buf);
		return NULL;
	}
	free(buf);
	buf = read_proc(pid, "personality", NULL);
	if (!buf) {
		pr_perror("can't read /proc/%d/personality", pid);
		return NULL;
	}
	c->personality = strtoul(buf, NULL, 16);
	free(buf);
	c->umask = pi->umask;

	c->creds = xzalloc(sizeof(*c->creds));
	creds_entry__init(c->creds);
	c->creds->uid = ps.uid[0]; c->creds->euid = ps.uid[1];
	c->creds->suid = ps.uid[2]; c->creds->fsuid = ps.uid[3];
	c->creds->gid = ps.gid[0]; c->creds->egid = ps.gid[1];
	c->creds->sgid = ps.gid[2]; c->creds->fsgid = ps.gid[3];
	c->creds->n_groups = ps.nr_groups;
	c->creds->groups = xzalloc(ps.nr_groups * sizeof(uint32_t));
	memcpy(c->creds->groups, ps.groups, ps.nr_groups * sizeof(uint32_t));

	c->n_rlimits = PIE_NR_RLIMITS;
	c->rlimits = xzalloc(PIE_NR_RLIMITS * sizeof(*c->rlimits));
	for (i = 0; i < PIE_NR_RLIMITS; i++) {
		RlimitEntry *r = xzalloc(sizeof(*r));

		rlimit_entry__init(r);
		r->resource = i;
		r->cur = pi->rlimits[i].cur;
		r->max = pi->rlimits[i].max;
		c->rlimits[i] = r;
	}
	for (i = 1; i <= CREST_NSIG; i++) {
		const struct pie_sigaction *ps_ = &pi->sigactions[i - 1];
		SigactionEntry *s;

		if (i == SIGKILL || i == SIGSTOP)
			continue;
		s = xzalloc(sizeof(*s));
		sigaction_entry__init(s);
		s->sig = i;
		s->handler = ps_->handler;
		s->flags = ps_->flags;
		s->restorer = ps_->restorer;
		s->mask = ps_->mask;
		c->sigactions = xrealloc(c->sigactions, (c->n_sigactions + 1) * sizeof(s));
		c->sigactions[c->n_sigactions++] = s;
	}
	/* ITIMER_REAL, _VIRTUAL, _PROF: interval and what is left. */
	c->n_itimers = 3;
	c->itimers = xzalloc(3 * sizeof(*c->itimers));
	for (i = 0; i < 3; i++) {
		ItimerEntry *it = xzalloc(sizeof(*it));

		itimer_entry__init(it);
		it->isec = pi->itimers[i][0];
		it->iusec = pi->itimers[i][1];
		it->vsec = pi->itimers[i][2];
		it->vusec = pi->itimers[i][3];
		c->itimers[i] = it;
	}

	c->cwd = read_link(pid, "cwd");
	c->root = read_link(pid, "root");
	if (!c->cwd || !c->root) {
		pr_perror("can't read the cwd or root of process %d", pid);
		return NULL;
	}
	c->has_cwd_file_id = !!it->cwd_file_id;
	c->cwd_file_id = it->cwd_file_id;
	c->has_root_file_id = !!it->root_file_id;
	c->root_file_id = it->root_file_id;
	c->xstate_size = arch_xstate_size();
	c->has_child_subreaper = 1;
	c->child_subreaper = pi->child_subreaper;
	c->has_xcomp_perm = 1;
	c->xcomp_perm = pi->xcomp_perm;

	c->n_posix_timers = it->ptimers.nr;
	c->posix_timers = it->ptimers.t;

	c->n_threads = it->nr_threads;
	c->threads = xzalloc(it->nr_threads * sizeof(*c->threads));
	for (i = 0; i < it->nr_threads; i++) {
		tc = dump_thread(pid, it->threads[i], &it->tinfo[i], i == 0);
		if (!tc)
			return NULL;
		c->threads[i] = tc;
	}
	c->xfeatures = arch_xstate_xfeatures(c->threads[0]->xstate.data,
					     c->threads[0]->xstate.len);
	attrs_finish(it, c);
	return c;
}

int task_dump_mm(pid_t pid, const struct proc_stat *st,
		 const struct parasite_info *pi, MmEntry *mm)
{
	size_t len;
	char *auxv = read_proc(pid, "auxv", &len);

	if (!auxv) {
		pr_perror("can't read /proc/%d/auxv", pid);
		return -1;
	}
	mm->start_code = st->start_code;
	mm->end_code = st->end_code;
	mm->start_data = st->start_data;
	mm->end_data = st->end_data;
	mm->start_brk = st->start_brk;
	mm->brk = pi->brk;
	mm->start_stack = st->start_stack;
	mm->arg_start = st->arg_start;
	mm->arg_end = st->arg_end;
	mm->env_start = st->env_start;
	mm->env_end = st->env_end;
	mm->n_auxv = len / 8;
	mm->auxv = xzalloc(len);
	memcpy(mm->auxv, auxv, len);
	free(auxv);
	return 0;
}

void task_fill_thread(const ThreadCoreEntry *th, struct rst_thread *r)
{
	r->tile_data = arch_xstate_uses_tiles(th->xstate.data, th->xstate.len);
	if (th->altstack) {
		r->altstack_sp = th->altstack->sp;
		r->altstack_size = th->altstack->size;
		/* SS_ONSTACK is a state, not a flag one can set. */
		r->altstack_flags = th->altstack->flags & ~SS_ONSTACK;
		if (r->altstack_flags & SS_DISABLE)
			r->altstack_size = 0;
	}
	if (th->rseq) {
		r->has_rseq = 1;
		r->rseq_addr = th->rseq->addr;
		r->rseq_len = th->rseq->len;
		r->rseq_sig = th->rseq->sig;
	}
	r->clear_tid_addr = th->clear_tid_addr;
	r->robust_list = th->robust_list;
	r->robust_len = th->robust_len;
}

void task_fill_restore_args(const CoreEntry *c, struct restore_args *ra)
{
	const ThreadCoreEntry *tc = c->threads[0];
	size_t i;

	for (i = 0; i < c->n_sigactions; i++) {
		const SigactionEntry *s = c->sigactions[i];

		if (s->sig < 1 || s->sig > CREST_NSIG)
			continue;
		ra->sigactions[s->sig - 1].handler = s->handler;
		ra->sigactions[s->sig - 1].flags = s->flags;
		ra->sigactions[s->sig - 1].restorer = s->restorer;
		ra->sigactions[s->sig - 1].mask = s->mask;
		ra->sigaction_set |= 1ULL << (s->sig - 1);
	}
	/* A zombie leader has nothing of its own to set. */
	if (!ra->zombie_leader)
		task_fill_thread(tc, &ra->main);
	for (i = 0; i < c->n_itimers && i < 3; i++) {
		ra->itimers[i][0] = c->itimers[i]->isec;
		ra->itimers[i][1] = c->itimers[i]->iusec;
		ra->itimers[i][2] = c->itimers[i]->vsec;
		ra->itimers[i][3] = c->itimers[i]->vusec;
	}
	for (i = 0; i < c->n_rlimits && i < PIE_NR_RLIMITS; i++) {
		uint32_t r = c->rlimits[i]->resource;

		if (r >= PIE_NR_RLIMITS)
			continue;
		ra->rlimits[r].cur = c->rlimits[i]->cur;
		ra->rlimits[r].max = c->rlimits[i]->max;
	}
	ra->has_rlimits = c->n_rlimits == PIE_NR_RLIMITS;
	ra->child_subreaper = c->child_subreaper;
	ra->xcomp_perm = c->xcomp_perm;
	ra->has_creds = 1;
	ra->uid = c->creds->uid; ra->euid = c->creds->euid; ra->suid = c->creds->suid;
	ra->gid = c->creds->gid; ra->egid = c->creds->egid; ra->sgid = c->creds->sgid;
	ra->nr_groups = c->creds->n_groups < 64 ? c->creds->n_groups : 64;
	memcpy(ra->groups, c->creds->groups, ra->nr_groups * sizeof(uint32_t));
}

int task_restore_thread(pid_t pid, pid_t tid, const ThreadCoreEntry *tc)
{
	struct sched_param sp = { .sched_priority = tc->sched_prio };
	arch_regs_t regs;
	const char *how;

	entry_to_regs(tc->regs, &regs);
	how = arch_fixup_restart(&regs);
	if (how)
		pr_info("thread %d was in syscall %lld: %s", tid,
			(long long)tc->regs->orig_ax, how);
	if (arch_set_xstate(tid, tc->xstate.data, tc->xstate.len))
		return -1;
	if (arch_set_regs(tid, &regs))
		return -1;
	if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(uint64_t), &tc->blocked)) {
		pr_perror("can't set the signal mask of thread %d", tid);
		return -1;
	}
	/* Scheduling and names can be set from outside, thread by thread. */
	if (tc->has_sched_policy &&
	    sched_setscheduler(tid, tc->sched_policy, &sp))
		pr_warn("can't give thread %d its scheduling policy %u: %s", tid,
			tc->sched_policy, strerror(errno));
	if (tc->has_nice && setpriority(PRIO_PROCESS, tid, tc->nice))
		pr_warn("can't give thread %d its nice value %d: %s", tid, tc->nice,
			strerror(errno));
	if (tc->has_affinity && tc->affinity.len &&
	    sched_setaffinity(tid, tc->affinity.len, (cpu_set_t *)tc->affinity.data))
		pr_warn("can't give thread %d its CPU affinity: %s", tid, strerror(errno));
	return attrs_restore_thread(tid, tc);
}
