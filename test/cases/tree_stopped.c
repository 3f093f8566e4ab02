/*
 * A stopped child, two threads, whose stop its parent has waited for,
 * comes back stopped: the parent is not told of the stop again (no
 * report for waitid(WSTOPPED), no SIGCHLD), and the child runs again,
 * both threads, on SIGCONT.
 */
#include "caselib.h"
#include "stop_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile long *counter;
static volatile sig_atomic_t nchld;

static void on_chld(int sig)
{
	(void)sig;
	nchld++;
}

static void *spin(void *arg)
{
	(void)arg;
	for (;;) {
		counter[1]++;
		usleep(1000);
	}
	return NULL;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_chld, .sa_flags = SA_RESTART };
	long before[2];
	siginfo_t si;
	pid_t c;
	int status;

	case_init();
	sigaction(SIGCHLD, &sa, NULL);
	counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	c = fork();
	if (c == 0) {
		pthread_t th;

		pthread_create(&th, NULL, spin, NULL);
		for (;;) {
			counter[0]++;
			usleep(1000);
		}
	}
	wait_counters(counter, 5, 5);
	kill(c, SIGSTOP);
	if (waitpid(c, &status, WUNTRACED) != c || !WIFSTOPPED(status))
		case_fail("child did not stop");
	for (int i = 0; i < 30000 && nchld < 1; i++)
		usleep(1000);
	if (nchld != 1)
		case_fail("%d SIGCHLDs for the stop, want 1", (int)nchld);
	case_ready();
	case_wait_go();

	/* Told once, before the dump: neither a report nor a signal again. */
	if (nchld != 1)
		case_fail("the parent got %d SIGCHLDs more after the restore", (int)nchld - 1);
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, c, &si, WSTOPPED | WNOHANG))
		case_fail("waitid: %s", strerror(errno));
	if (si.si_pid == c)
		case_fail("the child's stop (signal %d) was reported again after the restore",
			  si.si_status);
	if (proc_state(c) != 'T')
		case_fail("child is in state %c, want stopped (T)", proc_state(c));
	before[0] = counter[0];
	before[1] = counter[1];
	usleep(50000);
	if (counter[0] != before[0] || counter[1] != before[1])
		case_fail("the stopped child runs");
	kill(c, SIGCONT);
	wait_counters(counter, before[0], before[1]);
	kill(c, SIGKILL);
	waitpid(c, &status, 0);
	case_pass();
}
