/*
 * A child stopped by SIGTSTP (as a shell's ^Z does) comes back stopped by
 * SIGTSTP, not SIGSTOP. Its parent had not waited for the stop yet: after
 * the restore its waitid(WSTOPPED) reports it, once, with SIGTSTP, and no
 * second SIGCHLD comes (the first came before the dump). It runs again on
 * SIGCONT.
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
	for (int i = 0; i < 10000; i++) {
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
	pid_t c;
	int status;

	case_init();
	sigaction(SIGCHLD, &sa, NULL);
	counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	c = fork();
	if (c == 0) {
		/* A group of its own, whose parent is in this session: not orphaned. */
		setpgid(0, 0);
		signal(SIGTSTP, SIG_DFL);
		for (;;) {
			(*counter)++;
			usleep(1000);
		}
	}
	setpgid(c, c);
	while (*counter < 5)
		usleep(1000);
	kill(c, SIGTSTP);
	/* Not consumed (WNOWAIT): the original still has it to tell after. */
	wait_stop(c, &si, WNOWAIT);
	if (si.si_status != SIGTSTP)
		case_fail("child stopped by %d, want SIGTSTP", si.si_status);
	for (int i = 0; i < 30000 && nchld < 1; i++)
		usleep(1000);
	if (nchld != 1)
		case_fail("%d SIGCHLDs for the stop, want 1", (int)nchld);
	case_ready();
	case_wait_go();

	if (nchld != 1)
		case_fail("the parent got %d SIGCHLDs more after the restore", (int)nchld - 1);

	/* The restored child stops again, and its parent hears how. */
	wait_stop(c, &si, 0);
	if (si.si_pid != c || si.si_code != CLD_STOPPED)
		case_fail("no stop of the child reported after the restore (code %d)", si.si_code);
	if (si.si_status != SIGTSTP)
		case_fail("the child is stopped by signal %d (%s), want SIGTSTP", si.si_status,
			  strsignal(si.si_status));
	/* Once: consumed now. */
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
