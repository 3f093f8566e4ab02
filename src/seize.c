/*
 * Seizing: PTRACE_SEIZE keeps the task's signal state untouched (no
 * SIGSTOP is sent), PTRACE_INTERRUPT brings it to a stop we own.
 */
#include <errno.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch.h"
#include "log.h"
#include "proc.h"
#include "pstree.h"
#include "seize.h"
#include "util.h"

int wait_stop(pid_t tid, int *status)
{
	return wait_stop_resume(tid, status, -1);
}

/*
 * A stopped (SIGSTOP) task we resume may report its group stop again
 * (PTRACE_EVENT_STOP) before it gets anywhere: resume it again the same
 * way (req) and wait for the stop we are after. req -1: don't.
 */
int wait_stop_resume(pid_t tid, int *status, int req)
{
	for (;;) {
		pid_t r = waitpid(tid, status, __WALL);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("can't wait for task %d", tid);
			return -1;
		}
		if (WIFEXITED(*status)) {
			pr_err("task %d exited with status %d while being checkpointed or restored",
			       tid, WEXITSTATUS(*status));
			return -1;
		}
		if (WIFSIGNALED(*status)) {
			pr_err("task %d was killed by signal %d (%s)", tid,
			       WTERMSIG(*status), strsignal(WTERMSIG(*status)));
			return -1;
		}
		if (!WIFSTOPPED(*status))
			continue;
		if (req >= 0 && *status >> 16 == PTRACE_EVENT_STOP &&
		    WSTOPSIG(*status) != SIGTRAP) {
			if (ptrace(req, tid, NULL, NULL)) {
				pr_perror("can't resume task %d", tid);
				return -1;
			}
			continue;
		}
		return WSTOPSIG(*status);
	}
}

/*
 * PTRACE_SEIZE says EPERM for a task that has begun to exit as well as
 * for one traced by someone else: a shell's subshell or make's recipe
 * that exits while we seize is no error, it is simply not part of the
 * tree (1), or a zombie the caller records. Only a real tracer is one.
 */
static int seize_refused(pid_t pid)
{
	char *buf = read_proc(pid, "status", NULL), *p;
	pid_t tracer = 0;
	char state = 0;

	if (!buf)
		return 1;	/* gone by now */
	if ((p = strstr(buf, "\nState:")))
		sscanf(p + 7, " %c", &state);
	if ((p = strstr(buf, "\nTracerPid:")))
		tracer = atoi(p + 11);
	free(buf);
	if (state == 'Z' || state == 'X') {
		pr_debug("process %d exited as we came", pid);
		return 1;
	}
	if (!tracer) {
		errno = EPERM;
		pr_perror("can't seize process %d", pid);
		return -1;
	}
	if (tracer == getpid() || tracer == getppid())
		pr_err("process %d is traced by crest itself: it was listed twice", pid);
	else
		pr_err("can't seize process %d: it is traced by process %d (a debugger?); "
		       "--ptraced-skip leaves such processes out", pid, tracer);
	errno = EPERM;
	return -1;
}

/*
 * Kernel probe, set once: can a tracer suspend seccomp in its tracees
 * (PTRACE_O_SUSPEND_SECCOMP: CAP_SYS_ADMIN, CONFIG_CHECKPOINT_RESTORE)?
 * The parasite runs in a task under a filter only then.
 */
static int suspend_seccomp = -1;

bool seize_suspends_seccomp(void)
{
	return suspend_seccomp == 1;
}

/*
 * PTRACE_O_TRACESYSGOOD: a task let go by a dying crest at a syscall stop
 * crest had not waited for yet gets no SIGTRAP from the kernel (it sends
 * the stop's code, and SIGTRAP | 0x80 is no signal; ptrace_report_syscall).
 */
#define SEIZE_OPTS	PTRACE_O_TRACESYSGOOD

static int seize_opts(pid_t pid)
{
	if (suspend_seccomp != 0) {
		if (!ptrace(PTRACE_SEIZE, pid, NULL,
			    (void *)(PTRACE_O_SUSPEND_SECCOMP | SEIZE_OPTS))) {
			suspend_seccomp = 1;
			return 0;
		}
		if (errno != EPERM && errno != EINVAL)
			return -1;
		if (ptrace(PTRACE_SEIZE, pid, NULL, (void *)SEIZE_OPTS))
			return -1;
		pr_debug("seccomp can't be suspended in traced tasks here");
		suspend_seccomp = 0;
		return 0;
	}
	return ptrace(PTRACE_SEIZE, pid, NULL, (void *)SEIZE_OPTS);
}

int seize_begin(pid_t pid)
{
	if (seize_opts(pid)) {
		if (errno == ESRCH)
			return 1;
		if (errno == EPERM)
			return seize_refused(pid);
		pr_perror("can't seize process %d", pid);
		return -1;
	}
	if (ptrace(PTRACE_INTERRUPT, pid, NULL, NULL)) {
		pr_perror("can't stop process %d", pid);
		ptrace(PTRACE_DETACH, pid, NULL, NULL);
		return -1;
	}
	return 0;
}

int seize_task(pid_t pid, int *stopsig)
{
	int ret = seize_begin(pid);

	*stopsig = 0;
	return ret ? ret : seize_wait(pid, stopsig);
}

static bool same_vm(pid_t a, pid_t b)
{
	return syscall(SYS_kcmp, a, b, KCMP_VM, 0, 0) == 0;
}

/*
 * A thread that called vfork() waits for its child to exec or exit,
 * killable but not interruptible: PTRACE_INTERRUPT stops it only then,
 * and a stopped child may never. The child runs in the parent's memory
 * meanwhile; so does a child made with CLONE_VM alone. crest saves one
 * address space per process and can't stop a vfork parent: refuse both
 * ends by name. Asked after PTRACE_INTERRUPT: a vfork() begun after it
 * takes the trap first (copy_process() gives way to a pending signal),
 * so a child sharing the memory now is one made before.
 */
static int shares_vm(pid_t tid)
{
	char path[64], *buf;
	const char *f;
	struct proc_stat st;
	pid_t *kids, tgid = tid;
	int n, ret = 0;

	buf = read_proc(tid, "status", NULL);
	if (buf && (f = proc_field(buf, "Tgid")))
		tgid = atoi(f);
	free(buf);
	snprintf(path, sizeof(path), "task/%d/children", tid);
	buf = read_proc(tid, path, NULL);
	n = buf ? pstree_parse_children(buf, &kids) : 0;
	free(buf);
	for (int i = 0; i < n && !ret; i++) {
		if (!same_vm(tid, kids[i]))
			continue;
		pr_err("process %d (thread %d) shares its memory with its child %d: it waits in vfork() until that child calls exec or exits (or it made the child with clone(CLONE_VM)); crest can't stop a vfork() parent nor save one memory for two processes: dump again once the child has exec'd or exited",
		       tgid, tid, kids[i]);
		ret = -2;
	}
	if (n > 0)
		free(kids);
	buf = read_proc(tid, "stat", NULL);
	if (!ret && buf && !proc_parse_stat(buf, &st) && st.ppid > 0 &&
	    same_vm(tid, st.ppid)) {
		pr_err("process %d shares its memory with its parent %d: a vfork() child that has not called exec yet (or one made with clone(CLONE_VM)); crest saves one memory per process: dump again once it has exec'd or exited",
		       tgid, st.ppid);
		ret = -2;
	}
	free(buf);
	return ret;
}

int seize_wait(pid_t pid, int *stopsig)
{
	int status, sig, ret;

	*stopsig = 0;
	if ((ret = shares_vm(pid))) {
		ptrace(PTRACE_DETACH, pid, NULL, NULL);
		return ret;
	}
	for (;;) {
		if (waitpid(pid, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("can't wait for process %d", pid);
			goto err_detach;
		}
		if (!WIFSTOPPED(status))
			return 1;	/* it exited as we came: not ours */
		sig = WSTOPSIG(status);
		if (status >> 16 == PTRACE_EVENT_STOP)
			break;
		/*
		 * A signal was being delivered when we came: let it be
		 * delivered, as it would have been; our stop still follows.
		 */
		pr_debug("process %d: letting signal %d through before the stop", pid, sig);
		if (ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig)) {
			pr_perror("can't resume process %d", pid);
			goto err_detach;
		}
	}
	/* A group-stopped task reports its stop signal here. */
	if (sig != SIGTRAP) {
		pr_debug("process %d is stopped (signal %d)", pid, sig);
		*stopsig = sig;
	}
	return 0;
err_detach:
	ptrace(PTRACE_DETACH, pid, NULL, NULL);
	return -1;
}

int release_task(pid_t pid)
{
	if (ptrace(PTRACE_DETACH, pid, NULL, NULL)) {
		pr_perror("can't detach from process %d", pid);
		return -1;
	}
	return 0;
}

/*
 * A signal the thread ignores (SIG_IGN, or a default of "ignore" and no
 * handler): without a tracer the kernel would have dropped it unqueued.
 */
static bool sig_ignored(pid_t tid, int sig)
{
	char *buf = read_proc(tid, "status", NULL);
	const char *f;
	unsigned long long ign = 0, cgt = 0, bit = 1ULL << (sig - 1);
	bool dfl_ign = sig == SIGCHLD || sig == SIGCONT || sig == SIGURG ||
		       sig == SIGWINCH;

	if (!buf)
		return false;
	if ((f = proc_field(buf, "SigIgn")))
		ign = strtoull(f, NULL, 16);
	if ((f = proc_field(buf, "SigCgt")))
		cgt = strtoull(f, NULL, 16);
	free(buf);
	return (ign & bit) || (dfl_ign && !(cgt & bit));
}

/*
 * Let a thread go that crest stopped inside a syscall (pause, a sleep, a
 * read...: -ERESTART* in its registers, as crest found them).
 *
 * PTRACE_DETACH always leaves a thread TIF_SIGPENDING (the kernel wakes a
 * detached tracee as for a signal): on its way out of the stop it finds no
 * signal, restarts the syscall by the kernel's rules (ax and ip moved
 * back onto the syscall instruction) and only then returns to user space.
 * That road can take milliseconds on a loaded machine, long after crest
 * has returned; a signal that comes in between runs its handler with the
 * restart already made, and the handler returns into a new pause() instead
 * of making the first one fail with EINTR: the program never sees it.
 *
 * So the thread goes that road while crest still traces it: a
 * PTRACE_INTERRUPT makes it take the kernel's own signal path (a trap
 * stop there, then the restart, or the delivery of a signal that came),
 * and PTRACE_SYSCALL stops it at the entry of the syscall it restarts: it
 * is back in its own code, in its syscall, as before. From there it runs
 * on with PTRACE_CONT, which sets nothing pending; crest's exit detaches
 * a running tracee without waking it (exit_ptrace()), and a signal that
 * comes before that is delivered then, as it would have been. A signal
 * met on the way is delivered by PTRACE_DETACH with the thread's registers
 * as crest found them, so the kernel decides EINTR or a restart as if
 * the signal had come while it slept (SA_RESTART included); one it
 * ignores is dropped, as the kernel would have. A thread of a stopped
 * process stays stopped: detached at once.
 */
int let_go_task(pid_t tid, bool stopped)
{
	arch_regs_t orig;
	int status;

	if (stopped || ptrace(PTRACE_GETREGS, tid, NULL, &orig) ||
	    !arch_syscall_interrupted(&orig))
		return release_task(tid);
	/* It runs its own syscalls from here: its seccomp filter applies. */
	if (ptrace(PTRACE_SETOPTIONS, tid, NULL, (void *)SEIZE_OPTS) ||
	    ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) ||
	    ptrace(PTRACE_SYSCALL, tid, NULL, NULL)) {
		pr_perror("can't resume thread %d into its syscall", tid);
		return release_task(tid);
	}
	for (;;) {
		int sig;

		if (waitpid(tid, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("can't wait for thread %d", tid);
			return -1;
		}
		if (!WIFSTOPPED(status))
			return 0;	/* killed on the way: gone */
		sig = WSTOPSIG(status);
		if (status >> 16 == PTRACE_EVENT_STOP) {
			if (sig != SIGTRAP)
				break;	/* a group stop: stopped, as without us */
			if (ptrace(PTRACE_SYSCALL, tid, NULL, NULL))
				break;
			continue;
		}
		if (sig == (SIGTRAP | 0x80)) {
			/* At the entry of its syscall again. */
			if (ptrace(PTRACE_CONT, tid, NULL, NULL)) {
				pr_perror("can't resume thread %d", tid);
				return -1;
			}
			return 0;
		}
		/* Into the syscall as it was: the kernel's rules decide. */
		if (ptrace(PTRACE_SETREGS, tid, NULL, &orig)) {
			pr_perror("can't set the registers of thread %d", tid);
			return -1;
		}
		if (!sig_ignored(tid, sig)) {
			if (ptrace(PTRACE_DETACH, tid, NULL, (void *)(long)sig)) {
				pr_perror("can't detach from thread %d", tid);
				return -1;
			}
			return 0;
		}
		if (ptrace(PTRACE_SYSCALL, tid, NULL, NULL))
			break;
	}
	return release_task(tid);
}

int kill_task(pid_t pid, const pid_t *tids, int nr)
{
	/*
	 * SIGKILL while it is stopped under us: it never runs another
	 * instruction. We don't wait while it frees its memory (a large
	 * process takes a while); a restore waits for PIDs held by exiting
	 * processes.
	 */
	if (kill(pid, SIGKILL)) {
		pr_perror("can't kill process %d", pid);
		return -1;
	}
	return 0;
}
