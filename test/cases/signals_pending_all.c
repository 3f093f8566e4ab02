/*
 * Pending signals of every kind survive C/R with their siginfo: a blocked
 * SIGTRAP pending for the main thread and for a second thread (tgkill),
 * a process-wide SIGUSR1 with a sigqueue value, and a real-time signal
 * queued twice with two values, on the process and on a thread.
 */
#include "caselib.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static sigset_t set;

static void expect(const char *who, int sig, int code, int value)
{
	struct timespec ts = { 0, 0 };
	siginfo_t si;
	/* Not glibc's sigtimedwait(): it shows SI_TKILL as SI_USER. */
	int got = syscall(SYS_rt_sigtimedwait, &set, &si, &ts, 8);

	if (got != sig)
		case_fail("%s: sigtimedwait gave %d (%s), want signal %d", who, got,
			  got < 0 ? strerror(errno) : "another signal", sig);
	if (si.si_code != code)
		case_fail("%s: signal %d si_code %d, want %d", who, sig, si.si_code, code);
	if (code == SI_QUEUE && si.si_value.sival_int != value)
		case_fail("%s: signal %d value %d, want %d", who, sig, si.si_value.sival_int, value);
	if (si.si_pid != getpid())
		case_fail("%s: signal %d from pid %d, want %d", who, sig, si.si_pid, getpid());
}

static void queue_thread(pid_t tid, int sig, int value)
{
	siginfo_t si = { .si_signo = sig, .si_code = SI_QUEUE, .si_pid = getpid(),
			 .si_uid = getuid() };

	si.si_value.sival_int = value;
	if (syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, sig, &si))
		case_fail("rt_tgsigqueueinfo: %s", strerror(errno));
}

static volatile int t_state;

static void *thread_main(void *arg)
{
	pid_t tid = syscall(SYS_gettid);

	if (syscall(SYS_tgkill, getpid(), tid, SIGTRAP))
		case_fail("thread tgkill: %s", strerror(errno));
	queue_thread(tid, SIGRTMIN + 3, 31);
	queue_thread(tid, SIGRTMIN + 3, 32);
	t_state = 1;
	while (!case_go)
		usleep(10000);
	expect("second thread", SIGTRAP, SI_TKILL, 0);
	expect("second thread", SIGRTMIN + 3, SI_QUEUE, 31);
	expect("second thread", SIGRTMIN + 3, SI_QUEUE, 32);
	t_state = 2;
	return NULL;
}

int main(void)
{
	union sigval v;
	pthread_t th;

	case_init();
	sigemptyset(&set);
	sigaddset(&set, SIGTRAP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGRTMIN + 2);
	sigaddset(&set, SIGRTMIN + 3);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		case_fail("sigprocmask: %s", strerror(errno));
	if (pthread_create(&th, NULL, thread_main, NULL))
		case_fail("pthread_create");
	while (t_state != 1)
		usleep(1000);
	if (syscall(SYS_tgkill, getpid(), getpid(), SIGTRAP))
		case_fail("tgkill: %s", strerror(errno));
	v.sival_int = 7;
	if (sigqueue(getpid(), SIGUSR1, v))
		case_fail("sigqueue: %s", strerror(errno));
	v.sival_int = 21;
	sigqueue(getpid(), SIGRTMIN + 2, v);
	v.sival_int = 22;
	sigqueue(getpid(), SIGRTMIN + 2, v);
	case_ready();
	case_wait_go();

	while (t_state != 2)
		usleep(1000);
	expect("main thread", SIGTRAP, SI_TKILL, 0);
	expect("process", SIGUSR1, SI_QUEUE, 7);
	expect("process", SIGRTMIN + 2, SI_QUEUE, 21);
	expect("process", SIGRTMIN + 2, SI_QUEUE, 22);
	pthread_join(th, NULL);
	case_pass();
}
