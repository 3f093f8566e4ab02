/*
 * A process that was group-stopped at the dump comes back stopped, by the
 * same signal, and its parent hears of the stop exactly as it would have:
 * once if it had not waited for it yet, never again if it had.
 *
 * What the kernel does (kernel/signal.c, kernel/exit.c, 6.18):
 *   - a stop signal dequeued by a thread that is not stopped already
 *     starts a group stop and sets the group's group_exit_code to the
 *     signal, unless the group is stopped already (SIGNAL_STOP_STOPPED);
 *   - when the last thread has stopped, the real parent is sent SIGCHLD
 *     (unless its SIGCHLD is SIG_IGN or SA_NOCLDSTOP) and woken;
 *   - its wait(WUNTRACED) reports group_exit_code and clears it; that is
 *     also what /proc/PID/stat shows as exit_code while the group is
 *     stopped (which is how the dump tells the two apart);
 *   - a tracer may resume a thread of a stopped group; the group stays
 *     stopped, and when the tracer detaches, every thread stops again
 *     without a word to anyone (__ptrace_unlink()).
 *
 * So, while crest still traces every task, each thread at its last int3:
 *   1. stop_tasks(): the stopped task takes its signal, unblocked alone,
 *      and the group stops under crest (each thread resumed once to
 *      join it). group_exit_code is the signal now.
 *   2. stop_reports(): in each parent whose child was stopped so, by
 *      remote syscall: waitid(WSTOPPED) if the stop had been waited for
 *      (group_exit_code 0 again), and the SIGCHLD that step 1 sent it
 *      taken back, unless one was pending in its image anyway (a standard
 *      signal is pending once: it merged).
 *   3. stop_roots(): a root is crest's own child, and its group stop sent
 *      nothing to crest but ptrace's: after the detach crest waits for
 *      the stop itself if its parent had.
 *
 * A continue is kept the same way: SIGCONT to a stopped group sets
 * SIGNAL_STOP_CONTINUED, which the parent's wait(WCONTINUED) reports and
 * clears (so does the next group stop), and the first thread to run
 * sends the parent SIGCHLD (CLD_CONTINUED). cont_tasks(), after step 1:
 * a process continued whose parent had not waited for it is stopped by
 * SIGSTOP as in step 1 and sent SIGCONT (its delivery dropped), then the
 * stop and continue signals pending in its image that these two took
 * away are queued again; step 2 takes back the SIGCHLD. A root's parent
 * is outside: nothing of its report is saved.
 * The detach (restore.c) then leaves each stopped one stopped.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arch.h"
#include "log.h"
#include "parasite.h"
#include "proc.h"
#include "restore-stop.h"
#include "util.h"

#include "restorer-blob.h"

#define STOP_TIMEOUT_MS	30000

static uint64_t bit(int sig)
{
	return 1ULL << (sig - 1);
}

long restore_stop_signal(const PstreeEntry *pe)
{
	if (!pe->stopped || pe->zombie)
		return 0;
	return pe->has_stop_signal && pe->stop_signal ? pe->stop_signal : SIGSTOP;
}

static bool stop_waited(const PstreeEntry *pe)
{
	return pe->has_stop_waited && pe->stop_waited;
}

/* The next stop of thread tid, bounded: the signal, -1 on anything else. */
static int next_stop(pid_t tid, int *event)
{
	struct timespec nap = { 0, 1000000 };

	for (int i = 0; i < STOP_TIMEOUT_MS; i++) {
		int status;
		pid_t r = waitpid(tid, &status, __WALL | WNOHANG);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			pr_perror("can't wait for thread %d", tid);
			return -1;
		}
		if (r == 0) {
			nanosleep(&nap, NULL);
			continue;
		}
		if (!WIFSTOPPED(status)) {
			pr_err("thread %d ended while being stopped again", tid);
			return -1;
		}
		*event = status >> 16;
		return WSTOPSIG(status);
	}
	pr_err("thread %d did not stop within %d s", tid, STOP_TIMEOUT_MS / 1000);
	return -1;
}

static int cont(pid_t tid, long sig)
{
	if (ptrace(PTRACE_CONT, tid, NULL, (void *)sig)) {
		pr_perror("can't resume thread %d", tid);
		return -1;
	}
	return 0;
}

/*
 * Thread tid, at its int3 with everything blocked, takes sig: 1 if that
 * stopped the group (we are at its group-stop trap), 0 if the kernel
 * dropped it (a job-control signal in an orphaned process group: the
 * thread went back to its int3), -1 on error.
 */
static int take_stop(pid_t tgid, pid_t tid, int sig)
{
	uint64_t mask = ~bit(sig);
	int got, event;

	if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(mask), &mask)) {
		pr_perror("can't unblock signal %d in thread %d", sig, tid);
		return -1;
	}
	if (syscall(SYS_tgkill, tgid, tid, sig)) {
		pr_perror("can't send signal %d to thread %d", sig, tid);
		return -1;
	}
	/* Out of the int3's SIGTRAP (suppressed), into the delivery of sig. */
	if (cont(tid, 0))
		return -1;
	while ((got = next_stop(tid, &event)) >= 0 && event)
		if (cont(tid, 0))
			return -1;
	if (got != sig) {
		if (got >= 0)
			pr_err("thread %d stopped by signal %d, not %d, while being stopped again",
			       tid, got, sig);
		return -1;
	}
	/* Delivered: its default action starts the group stop. */
	if (cont(tid, sig))
		return -1;
	got = next_stop(tid, &event);
	if (got < 0)
		return -1;
	if (event == PTRACE_EVENT_STOP && got == sig)
		return 1;
	if (!event && got == SIGTRAP)
		return 0;
	pr_err("thread %d stopped by signal %d (event %d) while being stopped again",
	       tid, got, event);
	return -1;
}

/* The action it has for sig: SIG_DFL (0), SIG_IGN (1) or a handler. */
static uint64_t action(const CoreEntry *c, int sig)
{
	for (size_t i = 0; i < c->n_sigactions; i++)
		if ((int)c->sigactions[i]->sig == sig)
			return c->sigactions[i]->handler;
	return 0;
}

static int stop_task(struct restore_task *t, int sig)
{
	uint64_t all = ~0ULL;
	int r, event;
	pid_t lead = t->tids[0];

	/*
	 * A stop signal stops only by its default action; one the program
	 * handles or ignores now (it can't have when it stopped, but an
	 * image says what it says) would run or do nothing: SIGSTOP then.
	 */
	if (sig != SIGSTOP && action(t->core, sig)) {
		pr_warn("restored process %d has an action for signal %d (%s), which stopped it: stopping it with SIGSTOP",
			t->new_pid, sig, strsignal(sig));
		sig = SIGSTOP;
	}
	r = take_stop(t->new_pid, lead, sig);
	if (r == 0) {
		/* The kernel's own rule, said out loud. */
		pr_warn("restored process %d did not stop again with signal %d (%s), as its process group is orphaned now: stopping it with SIGSTOP",
			t->new_pid, sig, strsignal(sig));
		sig = SIGSTOP;
		r = take_stop(t->new_pid, lead, sig);
	}
	if (r != 1) {
		if (r == 0)
			pr_err("restored process %d did not stop again", t->new_pid);
		return -1;
	}
	/* Its other threads join the stop (resumed from their int3s). */
	for (size_t k = 1; k < t->core->n_threads; k++) {
		int got;

		if (cont(t->tids[k], 0))
			return -1;
		got = next_stop(t->tids[k], &event);
		if (got < 0)
			return -1;
		if (event != PTRACE_EVENT_STOP) {
			pr_err("thread %d of restored process %d stopped by signal %d instead of joining the group stop",
			       t->tids[k], t->new_pid, got);
			return -1;
		}
	}
	/* Back to the restorer's mask: finish_task() sets the program's. */
	if (ptrace(PTRACE_SETSIGMASK, lead, sizeof(all), &all)) {
		pr_perror("can't block signals in thread %d", lead);
		return -1;
	}
	pr_debug("restored process %d is group-stopped by signal %d", t->new_pid, sig);
	return 0;
}

int stop_tasks(struct restore_task *tasks, int nr)
{
	for (int i = 0; i < nr; i++)
		if (restore_stop_signal(tasks[i].pe) &&
		    stop_task(&tasks[i], restore_stop_signal(tasks[i].pe)))
			return -1;
	return 0;
}

/* Is sig pending in the image: shared (any thread), or for thread i? */
static bool image_pending(const CoreEntry *c, int sig, bool shared, size_t i)
{
	for (size_t k = 0; k < c->n_threads; k++) {
		const ThreadCoreEntry *tc = c->threads[k];

		for (size_t j = 0; j < tc->n_pending; j++) {
			const SiginfoEntry *se = tc->pending[j];
			int32_t signo;

			if (se->raw.len < sizeof(signo))
				continue;
			memcpy(&signo, se->raw.data, sizeof(signo));
			if (signo != sig || se->shared != shared)
				continue;
			if (shared || k == i)
				return true;
		}
	}
	return false;
}

/* A remote syscall in thread tid of p, its registers put back after. */
static long p_syscall(struct restore_task *p, pid_t tid, const struct restore_args *ra,
		      long nr, unsigned long a0, unsigned long a1, unsigned long a2,
		      unsigned long a3, unsigned long a4)
{
	arch_regs_t regs;
	long r;

	if (arch_get_regs(tid, &regs))
		return -EIO;
	r = remote_syscall(tid, &regs, ra->self.start + restorer_off_syscall, nr,
			   a0, a1, a2, a3, a4, 0);
	if (arch_set_regs(tid, &regs))
		return -EIO;
	return r;
}

static int put_scratch(struct restore_task *p, const void *buf, size_t len)
{
	struct iovec l = { (void *)buf, len };
	struct iovec r = { (void *)(p->args_addr + offsetof(struct restore_args, scratch)), len };

	if (process_vm_writev(p->live, &l, 1, &r, 1, 0) != (ssize_t)len) {
		pr_perror("can't write into restored process %d", p->new_pid);
		return -1;
	}
	return 0;
}

/* It waits for c's stop, which it had waited for before the dump. */
static int consume(struct restore_task *p, struct restore_task *c,
		   const struct restore_args *ra)
{
	uint64_t si = p->args_addr + offsetof(struct restore_args, scratch);
	siginfo_t info = {};
	struct iovec l = { &info, sizeof(info) }, r = { (void *)si, sizeof(info) };
	long ret;

	if (put_scratch(p, &info, sizeof(info)))
		return -1;
	ret = p_syscall(p, p->live, ra, SYS_waitid, P_PID, c->new_pid, si,
			WSTOPPED | WNOHANG, 0);
	if (ret) {
		errno = -ret;
		pr_perror("restored process %d can't wait for its stopped child %d",
			  p->new_pid, c->new_pid);
		return -1;
	}
	if (process_vm_readv(p->live, &l, 1, &r, 1, 0) != sizeof(info)) {
		pr_perror("can't read from restored process %d", p->new_pid);
		return -1;
	}
	if (info.si_pid != c->new_pid || info.si_code != CLD_STOPPED) {
		pr_err("restored process %d found no stop of its child %d to wait for",
		       p->new_pid, c->new_pid);
		return -1;
	}
	return 0;
}

/* The SIGCHLD c's stop sent it, unless it had one pending anyway. */
static int drop_sigchld(struct restore_task *p, const struct restore_args *ra)
{
	struct { uint64_t set; struct timespec ts; } arg = { bit(SIGCHLD), { 0, 0 } };
	uint64_t a = p->args_addr + offsetof(struct restore_args, scratch);
	size_t i;
	long ret;

	if (image_pending(p->core, SIGCHLD, true, 0))
		return 0;
	/* Through a thread with no SIGCHLD of its own pending: it takes the shared one. */
	for (i = 0; i < p->core->n_threads; i++)
		if (!image_pending(p->core, SIGCHLD, false, i))
			break;
	if (i == p->core->n_threads) {
		pr_warn("restored process %d may see one SIGCHLD more (every thread has one pending)",
			p->new_pid);
		return 0;
	}
	if (put_scratch(p, &arg, sizeof(arg)))
		return -1;
	ret = p_syscall(p, p->tids[i], ra, SYS_rt_sigtimedwait, a, 0,
			a + offsetof(typeof(arg), ts), sizeof(uint64_t), 0);
	/* None (-EAGAIN): its action is SIG_IGN or SA_NOCLDSTOP. */
	if (ret != SIGCHLD && ret != -EAGAIN) {
		errno = ret < 0 ? -ret : 0;
		pr_perror("restored process %d can't take back a SIGCHLD", p->new_pid);
		return -1;
	}
	return 0;
}

/* Continued, its parent in the tree not told yet (the dump: pstree.c). */
static bool cont_pending(const struct restore_task *t)
{
	return t->parent && !t->pe->zombie && !restore_stop_signal(t->pe) &&
	       t->pe->has_cont_pending && t->pe->cont_pending;
}

/* From its group-stop trap back to its int3, a SIGCONT dropped on the way. */
static int back_to_int3(pid_t tid)
{
	int got = -1, event = 0;

	for (int i = 0; i < 8; i++) {
		if (cont(tid, 0))
			return -1;
		got = next_stop(tid, &event);
		if (got < 0)
			return -1;
		if (!event && got == SIGTRAP)
			return 0;
		/* The trap that tells the group runs again; SIGCONT itself. */
		if (event != PTRACE_EVENT_STOP && (event || got != SIGCONT))
			break;
	}
	pr_err("thread %d stopped by signal %d (event %d) while being continued again",
	       tid, got, event);
	return -1;
}

static bool stop_or_cont(int sig)
{
	return sig == SIGCONT || sig == SIGSTOP || sig == SIGTSTP ||
	       sig == SIGTTIN || sig == SIGTTOU;
}

/*
 * SIGSTOP took a pending SIGCONT away, SIGCONT the pending stop signals
 * (kernel/signal.c, prepare_signal()): those of the image are queued
 * again, each by the thread whose list holds it (a siginfo of the kind
 * kill() makes is taken only from the thread it is for, or for a shared
 * one from the leader), with the ids the thread sees (a PID namespace).
 */
static int requeue(struct restore_task *t, const struct restore_args *ra)
{
	uint64_t si = t->args_addr + offsetof(struct restore_args, scratch);

	for (size_t k = 0; k < t->core->n_threads; k++) {
		const ThreadCoreEntry *tc = t->core->threads[k];
		long tgid = 0, tid = 0;

		for (size_t j = 0; j < tc->n_pending; j++) {
			const SiginfoEntry *se = tc->pending[j];
			uint8_t raw[sizeof(ra->scratch)] = {};
			int32_t sig;
			long r;

			if (se->raw.len < sizeof(sig))
				continue;
			memcpy(&sig, se->raw.data, sizeof(sig));
			if (!stop_or_cont(sig))
				continue;
			if (!tgid) {
				tgid = p_syscall(t, t->tids[k], ra, SYS_getpid, 0, 0, 0, 0, 0);
				tid = p_syscall(t, t->tids[k], ra, SYS_gettid, 0, 0, 0, 0, 0);
			}
			memcpy(raw, se->raw.data, se->raw.len < sizeof(raw) ? se->raw.len : sizeof(raw));
			if (put_scratch(t, raw, sizeof(raw)))
				return -1;
			if (se->shared)
				r = p_syscall(t, t->tids[k], ra, SYS_rt_sigqueueinfo, tgid, sig, si, 0, 0);
			else
				r = p_syscall(t, t->tids[k], ra, SYS_rt_tgsigqueueinfo, tgid, tid, sig, si, 0);
			if (r) {
				errno = -r;
				pr_perror("can't queue signal %d of restored process %d again",
					  sig, t->new_pid);
				return -1;
			}
		}
	}
	return 0;
}

/*
 * Stopped by SIGSTOP and sent SIGCONT under crest, the group keeps a
 * continue for its parent's wait(WCONTINUED), which is sent SIGCHLD
 * (taken back in stop_reports() unless one was pending in its image).
 * Our SIGCONT is caught at its delivery and dropped: the program ran
 * its handler, if any, before the dump. Each thread ends at its int3.
 */
static int cont_task(struct restore_task *t, const struct restore_args *ra)
{
	uint64_t mask = ~bit(SIGCONT), all = ~0ULL;
	pid_t lead = t->tids[0];

	if (stop_task(t, SIGSTOP))
		return -1;
	if (ptrace(PTRACE_SETSIGMASK, lead, sizeof(mask), &mask)) {
		pr_perror("can't unblock SIGCONT in thread %d", lead);
		return -1;
	}
	if (syscall(SYS_tgkill, t->new_pid, lead, SIGCONT)) {
		pr_perror("can't send SIGCONT to thread %d", lead);
		return -1;
	}
	for (size_t k = 0; k < t->core->n_threads; k++)
		if (back_to_int3(t->tids[k]))
			return -1;
	if (ptrace(PTRACE_SETSIGMASK, lead, sizeof(all), &all)) {
		pr_perror("can't block signals in thread %d", lead);
		return -1;
	}
	pr_debug("restored process %d is continued, its parent not told yet", t->new_pid);
	return requeue(t, ra);
}

int cont_tasks(struct restore_task *tasks, const struct restore_args *ras, int nr)
{
	for (int i = 0; i < nr; i++)
		if (cont_pending(&tasks[i]) && cont_task(&tasks[i], &ras[i]))
			return -1;
	return 0;
}

int stop_reports(struct restore_task *p, const struct restore_args *ra)
{
	bool any = false;

	if (p->pe->zombie)
		return 0;
	for (int k = 0; k < p->nr_children; k++) {
		struct restore_task *c = p->children[k];

		if (cont_pending(c))
			any = true;
		if (!restore_stop_signal(c->pe))
			continue;
		any = true;
		if (stop_waited(c->pe) && consume(p, c, ra))
			return -1;
	}
	return any ? drop_sigchld(p, ra) : 0;
}

int stop_roots(struct restore_task *tasks, int nr)
{
	for (int i = 0; i < nr; i++) {
		struct restore_task *t = &tasks[i];
		siginfo_t si = {};

		if (t->parent || !restore_stop_signal(t->pe) || !stop_waited(t->pe))
			continue;
		if (waitid(P_PID, t->new_pid, &si, WSTOPPED | WNOHANG) ||
		    si.si_pid != t->new_pid) {
			pr_err("no stop of restored process %d to wait for", t->new_pid);
			return -1;
		}
	}
	return 0;
}
