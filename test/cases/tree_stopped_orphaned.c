/*
 * The SIGSTOP fallback of restore-stop.c. The child of this process, in
 * its parent's process group, is stopped by SIGTSTP: the group is not
 * orphaned at the dump (its leader, this process, has its parent, the
 * runner, in another group of the same session). The runner restores it
 * with crest in a session of its own (setsid crest restore): the roots
 * join crest's session and group, and that group is orphaned (crest's
 * parent is in another session), so the kernel drops a SIGTSTP there.
 * crest(8) says: crest stops it with SIGSTOP, and says so (the runner
 * looks for the warning). So after the restore: the parent's waitid
 * tells SIGSTOP, once, no second SIGCHLD comes, and the child runs again
 * on SIGCONT. Where nothing was restored so (the original, in the runner's
 * session still), SIGTSTP as before.
 */
#include "caselib.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t nchld;

static void on_chld(int sig)
{
	(void)sig;
	nchld++;
}

static void wait_stop(pid_t c, siginfo_t *si, int flags)
{
	for (int i = 0; i < 30000; i++) {
		memset(si, 0, sizeof(*si));
		if (waitid(P_PID, c, si, WSTOPPED | WNOHANG | flags))
			case_fail("waitid: %s", strerror(errno));
		if (si->si_pid == c)
			return;
		usleep(1000);
	}
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_chld, .sa_flags = SA_RESTART };
	volatile long *counter;
	siginfo_t si;
	long before;
	int status, want;
	pid_t c;

	case_init();
	sigaction(SIGCHLD, &sa, NULL);
	/* A group of its own, in the runner's session: not orphaned. */
	if (setpgid(0, 0))
		case_fail("setpgid: %s", strerror(errno));
	counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	c = fork();
	if (c == 0) {
		signal(SIGTSTP, SIG_DFL);
		for (;;) {
			(*counter)++;
			usleep(1000);
		}
	}
	while (*counter < 5)
		usleep(1000);
	kill(c, SIGTSTP);
	wait_stop(c, &si, WNOWAIT);
	if (si.si_pid != c || si.si_status != SIGTSTP)
		case_fail("child stopped by %d, want SIGTSTP", si.si_status);
	for (int i = 0; i < 30000 && nchld < 1; i++)
		usleep(1000);
	if (nchld != 1)
		case_fail("%d SIGCHLDs for the stop, want 1", (int)nchld);
	case_ready();
	case_wait_go();

	/*
	 * Our group (the child's) is orphaned now if our parent is in another
	 * session: the restore's setsid crest, whose group we joined.
	 */
	want = getsid(getppid()) != getsid(0) ? SIGSTOP : SIGTSTP;
	printf("parent sid %d, ours %d: want the child stopped by %s\n",
	       (int)getsid(getppid()), (int)getsid(0), strsignal(want));
	if (nchld != 1)
		case_fail("the parent got %d SIGCHLDs more after the restore", (int)nchld - 1);
	wait_stop(c, &si, 0);
	if (si.si_pid != c || si.si_code != CLD_STOPPED)
		case_fail("no stop of the child reported after the restore (code %d)", si.si_code);
	if (si.si_status != want)
		case_fail("the child is stopped by signal %d (%s), want %d (%s)", si.si_status,
			  strsignal(si.si_status), want, strsignal(want));
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, c, &si, WSTOPPED | WNOHANG))
		case_fail("waitid: %s", strerror(errno));
	if (si.si_pid == c)
		case_fail("the child's stop was reported twice after the restore");
	before = *counter;
	usleep(50000);
	if (*counter != before)
		case_fail("the stopped child runs");
	kill(c, SIGCONT);
	for (int i = 0; i < 5000 && *counter == before; i++)
		usleep(1000);
	if (*counter == before)
		case_fail("the child does not run after SIGCONT");
	kill(c, SIGKILL);
	waitpid(c, &status, 0);
	case_pass();
}
