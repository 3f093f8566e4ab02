/*
 * A child of two threads, stopped and continued again, whose parent had
 * waited for the stop but not for the continue: after the restore the
 * parent's waitid(WCONTINUED) reports it continued, once, with no SIGCHLD
 * more (the one for the continue came before the dump). The child runs,
 * both threads; its SIGCONT handler ran once, before the dump, and not
 * again; the stop signals it blocks and has pending (SIGTSTP for the
 * process, SIGTTIN for its second thread, which the restore's own
 * SIGCONT takes away for a moment) are still pending.
 */
#include "caselib.h"
#include "stop_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* [0], [1]: the child's threads' counters; [2]: its SIGCONTs; [3]: tid. */
static volatile long *shared;
static volatile sig_atomic_t nchld;

static void on_chld(int sig)
{
	(void)sig;
	nchld++;
}

static void on_cont(int sig)
{
	(void)sig;
	shared[2]++;
}

static void *spin(void *arg)
{
	(void)arg;
	shared[3] = syscall(SYS_gettid);
	for (;;) {
		shared[1]++;
		usleep(1000);
	}
	return NULL;
}

/* A status line of /proc/PID/task/TID as a mask. */
static unsigned long long mask_of(pid_t pid, pid_t tid, const char *key)
{
	char path[96], line[256];
	unsigned long long m = 0;
	size_t n = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	f = fopen(path, "r");
	if (!f)
		case_fail("can't open %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':')
			sscanf(line + n + 1, "%llx", &m);
	fclose(f);
	return m;
}

static void wait_nchld(int n)
{
	for (int i = 0; i < 30000 && nchld < n; i++)
		usleep(1000);
	if (nchld != n)
		case_fail("%d SIGCHLDs, want %d", (int)nchld, n);
}

static void check_pending(pid_t c, pid_t t2)
{
	if (!(mask_of(c, c, "ShdPnd") & (1ULL << (SIGTSTP - 1))))
		case_fail("the child's blocked SIGTSTP is no longer pending");
	if (!(mask_of(c, t2, "SigPnd") & (1ULL << (SIGTTIN - 1))))
		case_fail("the blocked SIGTTIN of the child's thread %d is no longer pending",
			  t2);
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_chld, .sa_flags = SA_RESTART };
	siginfo_t si;
	pid_t c, t2;
	int status;

	case_init();
	sigaction(SIGCHLD, &sa, NULL);
	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	c = fork();
	if (c == 0) {
		struct sigaction sc = { .sa_handler = on_cont, .sa_flags = SA_RESTART };
		pthread_t th;
		sigset_t set;

		sigaction(SIGCONT, &sc, NULL);
		sigemptyset(&set);
		sigaddset(&set, SIGTSTP);
		sigaddset(&set, SIGTTIN);
		sigprocmask(SIG_BLOCK, &set, NULL);
		pthread_create(&th, NULL, spin, NULL);
		for (;;) {
			shared[0]++;
			usleep(1000);
		}
	}
	wait_counters(shared, 5, 5);
	t2 = shared[3];
	kill(c, SIGSTOP);
	if (waitpid(c, &status, WUNTRACED) != c || !WIFSTOPPED(status))
		case_fail("child did not stop");
	wait_nchld(1);
	kill(c, SIGCONT);
	wait_nchld(2);
	for (int i = 0; i < 30000 && shared[2] < 1; i++)
		usleep(1000);
	if (shared[2] != 1)
		case_fail("the child's SIGCONT handler ran %ld times, want 1", shared[2]);
	wait_counters(shared, shared[0], shared[1]);
	/* Blocked: pending after the continue, as they would be before. */
	kill(c, SIGTSTP);
	syscall(SYS_tgkill, c, t2, SIGTTIN);
	check_pending(c, t2);
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, c, &si, WCONTINUED | WNOHANG | WNOWAIT) || si.si_pid != c)
		case_fail("no continue of the child to report before the dump");
	case_ready();
	case_wait_go();

	if (nchld != 2)
		case_fail("the parent got %d SIGCHLDs more after the restore", (int)nchld - 2);
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, c, &si, WCONTINUED | WNOHANG))
		case_fail("waitid: %s", strerror(errno));
	if (si.si_pid != c || si.si_code != CLD_CONTINUED || si.si_status != SIGCONT)
		case_fail("waitid(WCONTINUED) reports pid %d code %d status %d, want %d continued by SIGCONT",
			  si.si_pid, si.si_code, si.si_status, c);
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, c, &si, WCONTINUED | WSTOPPED | WNOHANG))
		case_fail("waitid: %s", strerror(errno));
	if (si.si_pid == c)
		case_fail("the child is reported again (code %d) after its continue", si.si_code);
	if (proc_state(c) == 'T' || proc_state(c) == 't')
		case_fail("child is in state %c, want running", proc_state(c));
	wait_counters(shared, shared[0], shared[1]);
	if (shared[2] != 1)
		case_fail("the child's SIGCONT handler ran %ld times, want 1 (before the dump)",
			  shared[2]);
	check_pending(c, t2);
	if (nchld != 2)
		case_fail("the parent got %d SIGCHLDs more after the restore", (int)nchld - 2);
	kill(c, SIGKILL);
	waitpid(c, &status, 0);
	case_pass();
}
