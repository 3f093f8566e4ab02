/* pidfds come back pointing at the restored processes, with their flags,
 * checked from inside after the restore:
 *  - of a child (PIDFD_NONBLOCK), also held by a second child that
 *    inherited it across fork (one open file description, kcmp): it does
 *    not poll readable while the child lives, pidfd_send_signal() kills
 *    the child through it, then it polls readable and waitid(P_PIDFD)
 *    reaps the child with its SIGTERM;
 *  - of the process itself, and of its main thread (PIDFD_THREAD): they
 *    signal it (signal 0) and fdinfo names it;
 *  - of a child that exited and was reaped: it polls readable at once,
 *    signals fail with ESRCH, fdinfo shows Pid -1. */
#include "caselib.h"
#include "pidfd_util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK	O_NONBLOCK
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD	O_EXCL
#endif
#ifndef P_PIDFD
#define P_PIDFD		3
#endif

static int pidfd_open(pid_t pid, unsigned int flags)
{
	int fd = syscall(SYS_pidfd_open, pid, flags);

	if (fd < 0)
		case_fail("pidfd_open(%d, %#x): %s", pid, flags, strerror(errno));
	return fd;
}

static int send_sig(int pfd, int sig)
{
	return syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0);
}

static pid_t child(void)
{
	pid_t pid = fork();

	if (pid < 0)
		case_fail("fork: %s", strerror(errno));
	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

/*
 * The children's PIDs now (another PID each after a restore with
 * --no-restore-pid): the one that holds fd pkid is the heir, the other
 * the kid.
 */
static void children_now(pid_t *kid, pid_t *heir, int pkid)
{
	char path[64], link[64];
	int n = 0, pid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", getpid());
	f = fopen(path, "r");
	while (f && fscanf(f, "%d", &pid) == 1) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, pkid);
		ssize_t l = readlink(path, link, sizeof(link) - 1);

		*(l > 0 ? heir : kid) = pid;
		n++;
	}
	if (f)
		fclose(f);
	if (n != 2)
		case_fail("%d children, want 2", n);
}

int main(void)
{
	pid_t kid, heir, gone;
	int pkid, pself, pthread, pgone, status;
	siginfo_t si;

	case_init();
	kid = child();
	pkid = pidfd_open(kid, PIDFD_NONBLOCK);
	heir = child();		/* holds pkid too, and pself below not */
	pself = pidfd_open(getpid(), 0);
	pthread = pidfd_open(getpid(), PIDFD_THREAD);
	gone = fork();
	if (gone < 0)
		case_fail("fork: %s", strerror(errno));
	if (gone == 0)
		_exit(7);
	pgone = pidfd_open(gone, 0);
	if (waitpid(gone, &status, 0) != gone)
		case_fail("waitpid: %s", strerror(errno));
	if (fdinfo_pid(pgone) != -1 || fdinfo_pid(pkid) != kid)
		case_fail("before: fdinfo shows Pid %d and %d, want -1 and %d",
			  fdinfo_pid(pgone), fdinfo_pid(pkid), kid);

	case_ready();
	case_wait_go();

	children_now(&kid, &heir, pkid);
	if (fdinfo_pid(pkid) != kid || fdinfo_pid(pself) != getpid() ||
	    fdinfo_pid(pthread) != getpid() || fdinfo_pid(pgone) != -1)
		case_fail("fdinfo shows Pid %d %d %d %d, want %d %d %d -1",
			  fdinfo_pid(pkid), fdinfo_pid(pself), fdinfo_pid(pthread),
			  fdinfo_pid(pgone), kid, getpid(), getpid());
	if (!(fcntl(pkid, F_GETFL) & O_NONBLOCK) || (fcntl(pself, F_GETFL) & O_NONBLOCK) ||
	    !(fcntl(pthread, F_GETFL) & O_EXCL) || !(fcntl(pkid, F_GETFD) & FD_CLOEXEC))
		case_fail("the pidfds' flags changed: %#o %#o %#o",
			  fcntl(pkid, F_GETFL), fcntl(pself, F_GETFL), fcntl(pthread, F_GETFL));
	if (syscall(SYS_kcmp, getpid(), heir, KCMP_FILE, pkid, pkid))
		case_fail("the child's pidfd is not the one its sibling inherited");
	if (send_sig(pself, 0) || send_sig(pthread, 0))
		case_fail("pidfd_send_signal to itself: %s", strerror(errno));
	if (!readable(pgone, 0))
		case_fail("the pidfd of a reaped child does not poll readable");
	if (send_sig(pgone, 0) != -1 || errno != ESRCH)
		case_fail("pidfd_send_signal to a reaped child: %s, want ESRCH",
			  strerror(errno));
	if (readable(pkid, 0))
		case_fail("the pidfd of a live child polls readable");
	if (send_sig(pkid, SIGTERM))
		case_fail("pidfd_send_signal(SIGTERM) to the child: %s", strerror(errno));
	if (!readable(pkid, 30000))
		case_fail("the pidfd of the killed child is not readable in 30 s");
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, pkid, &si, WEXITED))
		case_fail("waitid(P_PIDFD): %s", strerror(errno));
	if (si.si_pid != kid || si.si_code != CLD_KILLED || si.si_status != SIGTERM)
		case_fail("waitid(P_PIDFD) reaped %d (code %d, status %d), want %d killed by SIGTERM",
			  si.si_pid, si.si_code, si.si_status, kid);
	kill(heir, SIGKILL);
	waitpid(heir, &status, 0);
	case_pass();
}
