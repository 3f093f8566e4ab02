/*
 * Stopped tasks of several kinds come back stopped, each by its signal,
 * and each parent hears of each stop as it would have:
 *   - P, in a group of its own, stopped by SIGTTOU (waited for): its main
 *     thread in read() on a pipe, a thread in nanosleep(), one spinning,
 *     one in sigwaitinfo();
 *   - G, P's child, stopped by SIGSTOP before P stopped, its stop not
 *     waited for by P (a stopped child of a stopped parent);
 *   - Q, whose main thread has exited (pthread_exit) and whose two other
 *     threads were stopped by SIGTSTP, not waited for.
 * After SIGCONT each runs on from where it was: P's read() gets the byte
 * written after, its sigwaitinfo() the signal sent after, P's waitid()
 * reports G's stop once; G and Q count again.
 */
#include "caselib.h"
#include "stop_util.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct shared {
	volatile long sleeps, spins, g, q[2];
	volatile pid_t waiter;		/* P's sigwaitinfo() thread */
	volatile int got_usr1, read_byte, g_report, quit;
};

static struct shared *sh;
static int pfd[2];

static void *sleeper(void *arg)
{
	struct timespec ts = { 0, 2000000 };

	(void)arg;
	for (;;) {
		nanosleep(&ts, NULL);
		sh->sleeps++;
	}
	return NULL;
}

/* Mostly in user mode, not in a syscall, with a rest for a loaded machine. */
static void *spinner(void *arg)
{
	struct timespec t0, t;

	(void)arg;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			sh->spins++;
			clock_gettime(CLOCK_MONOTONIC, &t);
		} while ((t.tv_sec - t0.tv_sec) * 1000000000L + t.tv_nsec - t0.tv_nsec < 300000);
		usleep(1000);
	}
	return NULL;
}

static void *waiter(void *arg)
{
	sigset_t set;
	int sig;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sh->waiter = syscall(SYS_gettid);
	if (!sigwait(&set, &sig) && sig == SIGUSR1)
		sh->got_usr1 = 1;
	for (;;)
		pause();
	return NULL;
}

static void *q_counter(void *arg)
{
	volatile long *c = arg;

	for (;;) {
		(*c)++;
		usleep(1000);
	}
	return NULL;
}

/* Every live thread of pid is in state want (a zombie leader excepted). */
static int all_threads(pid_t pid, char want)
{
	char path[64];
	struct dirent *de;
	int n = 0, bad = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char st;

		if (de->d_name[0] == '.')
			continue;
		st = task_state(pid, atoi(de->d_name));
		if (st == 'Z')
			continue;
		n++;
		if (st != want)
			bad = 1;
	}
	closedir(d);
	return n && !bad;
}

static void wait_for(volatile long *c, long over, const char *what)
{
	for (int i = 0; i < 30000 && *c <= over; i++)
		usleep(1000);
	if (*c <= over)
		case_fail("%s does not run (count %ld)", what, *c);
}

static void wait_flag(volatile int *f, const char *what)
{
	for (int i = 0; i < 30000 && !*f; i++)
		usleep(1000);
	if (!*f)
		case_fail("%s", what);
}

static void run_p(void)
{
	sigset_t set;
	pthread_t t;
	siginfo_t si;
	pid_t g;
	char c;

	setpgid(0, 0);
	signal(SIGTTOU, SIG_DFL);
	g = fork();
	if (g == 0) {
		for (;;) {
			sh->g++;
			usleep(1000);
		}
	}
	while (sh->g < 5)
		usleep(1000);
	kill(g, SIGSTOP);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_create(&t, NULL, sleeper, NULL);
	pthread_create(&t, NULL, spinner, NULL);
	pthread_create(&t, NULL, waiter, NULL);
	if (read(pfd[0], &c, 1) != 1)
		_exit(1);
	sh->read_byte = c;
	/* G's stop, which this process had not waited for: told once. */
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, g, &si, WSTOPPED | WNOHANG) || si.si_pid != g) {
		sh->g_report = -1;
		_exit(1);
	}
	sh->g_report = si.si_status;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, g, &si, WSTOPPED | WNOHANG) || si.si_pid == g)
		sh->g_report = -2;
	kill(g, SIGCONT);
	/* G is reaped here, not left to whoever would inherit it. */
	while (!sh->quit)
		usleep(1000);
	kill(g, SIGKILL);
	_exit(waitpid(g, NULL, 0) == g ? 0 : 1);
}

static void run_q(void)
{
	pthread_t t;

	setpgid(0, 0);
	signal(SIGTSTP, SIG_DFL);
	pthread_create(&t, NULL, q_counter, (void *)&sh->q[0]);
	pthread_create(&t, NULL, q_counter, (void *)&sh->q[1]);
	pthread_exit(NULL);
}

int main(void)
{
	long before[5];
	siginfo_t si;
	pid_t p, q, g = 0;
	int status;
	FILE *f;
	char path[64];

	case_init();
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || pipe(pfd))
		case_fail("setup: %s", strerror(errno));
	p = fork();
	if (p == 0)
		run_p();
	setpgid(p, p);
	q = fork();
	if (q == 0)
		run_q();
	setpgid(q, q);

	wait_for(&sh->sleeps, 5, "P's sleeping thread");
	wait_for(&sh->spins, 5, "P's spinning thread");
	for (int i = 0; i < 30000 && !sh->waiter; i++)
		usleep(1000);
	wait_for(&sh->q[0], 5, "Q's first thread");
	wait_for(&sh->q[1], 5, "Q's second thread");
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", p, p);
	for (int i = 0; i < 30000 && !g; i++) {
		if ((f = fopen(path, "r"))) {
			if (fscanf(f, "%d", &g) != 1)
				g = 0;
			fclose(f);
		}
		if (!g || task_state(g, g) != 'T')
			g = 0, usleep(1000);
	}
	if (!g)
		case_fail("G did not stop");
	for (int i = 0; i < 30000 && task_state(q, q) != 'Z'; i++)
		usleep(1000);
	if (task_state(q, q) != 'Z')
		case_fail("Q's main thread did not exit");

	kill(p, SIGTTOU);
	if (waitpid(p, &status, WUNTRACED) != p || !WIFSTOPPED(status) ||
	    WSTOPSIG(status) != SIGTTOU)
		case_fail("P did not stop by SIGTTOU (status %#x)", status);
	kill(q, SIGTSTP);
	memset(&si, 0, sizeof(si));
	for (int i = 0; i < 30000 && si.si_pid != q; i++) {
		if (waitid(P_PID, q, &si, WSTOPPED | WNOHANG | WNOWAIT))
			case_fail("waitid: %s", strerror(errno));
		if (si.si_pid != q)
			usleep(1000);
	}
	if (si.si_pid != q || si.si_status != SIGTSTP)
		case_fail("Q did not stop by SIGTSTP");
	for (int i = 0; i < 30000 && !(all_threads(p, 'T') && all_threads(q, 'T')); i++)
		usleep(1000);
	case_ready();
	case_wait_go();

	if (!all_threads(p, 'T') || !all_threads(g, 'T') || !all_threads(q, 'T'))
		case_fail("not every thread is stopped: P %d, G %d, Q %d",
			  all_threads(p, 'T'), all_threads(g, 'T'), all_threads(q, 'T'));
	if (task_state(q, q) != 'Z')
		case_fail("Q's main thread is in state %c, want Z", task_state(q, q));
	before[0] = sh->sleeps;
	before[1] = sh->spins;
	before[2] = sh->g;
	before[3] = sh->q[0];
	before[4] = sh->q[1];
	usleep(50000);
	if (sh->sleeps != before[0] || sh->spins != before[1] || sh->g != before[2] ||
	    sh->q[0] != before[3] || sh->q[1] != before[4])
		case_fail("a stopped thread runs");
	/* P's stop was waited for: not told again; Q's was not: told once. */
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, p, &si, WSTOPPED | WNOHANG) || si.si_pid == p)
		case_fail("P's stop was reported again (signal %d)", si.si_status);
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, q, &si, WSTOPPED | WNOHANG) || si.si_pid != q ||
	    si.si_code != CLD_STOPPED || si.si_status != SIGTSTP)
		case_fail("Q's stop is not reported with SIGTSTP (pid %d, code %d, signal %d)",
			  si.si_pid, si.si_code, si.si_status);
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, q, &si, WSTOPPED | WNOHANG) || si.si_pid == q)
		case_fail("Q's stop was reported twice");

	kill(p, SIGCONT);
	wait_for(&sh->sleeps, before[0], "P's sleeping thread after SIGCONT");
	wait_for(&sh->spins, before[1], "P's spinning thread after SIGCONT");
	if (sh->read_byte)
		case_fail("P's read() returned before anything was written");
	if (write(pfd[1], "x", 1) != 1)
		case_fail("write: %s", strerror(errno));
	wait_flag(&sh->read_byte, "P's read() does not get the byte");
	if (sh->read_byte != 'x')
		case_fail("P's read() got %d", sh->read_byte);
	wait_flag(&sh->g_report, "P is not told of G's stop");
	if (sh->g_report != SIGSTOP)
		case_fail("P's waitid() on G: %d, want SIGSTOP once", sh->g_report);
	wait_for(&sh->g, before[2], "G after SIGCONT");
	if (sh->got_usr1)
		case_fail("P's sigwaitinfo() returned before the signal");
	syscall(SYS_tgkill, p, sh->waiter, SIGUSR1);
	wait_flag(&sh->got_usr1, "P's sigwaitinfo() does not get SIGUSR1");
	kill(q, SIGCONT);
	wait_for(&sh->q[0], before[3], "Q's first thread after SIGCONT");
	wait_for(&sh->q[1], before[4], "Q's second thread after SIGCONT");

	sh->quit = 1;
	if (waitpid(p, &status, 0) != p || !WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("P did not reap G (status %#x)", status);
	kill(q, SIGKILL);
	waitpid(q, &status, 0);
	case_pass();
}
