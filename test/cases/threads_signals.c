/*
 * Per-thread signal masks and thread-directed pending signals survive C/R.
 * Thread A blocks SIGUSR1 and has a SIGUSR1 pending for it alone
 * (pthread_kill); thread B blocks SIGHUP and SIGRTMIN+5 and has two queued
 * SIGRTMIN+5 with different values (pthread_sigqueue); the main thread blocks
 * SIGWINCH only. After go every thread checks its own mask and pending set,
 * then A and B unblock: each signal must be delivered exactly once, in the
 * thread it was sent to, RT ones in order with their values.
 */
#include "mt_util.h"

#include <stdlib.h>

#define RTSIG	(SIGRTMIN + 5)

static volatile pid_t tid_a, tid_b, tid_main;
static volatile int a_ready, b_ready, stage;
static volatile int a_done, b_done;

static volatile sig_atomic_t usr1_count, usr1_tid, usr1_code;
static volatile sig_atomic_t rt_count, rt_tid[4], rt_val[4];

static void usr1_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	usr1_tid = mt_gettid();
	usr1_code = si->si_code;
	usr1_count++;
}

static void rt_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (rt_count < 4) {
		rt_tid[rt_count] = mt_gettid();
		rt_val[rt_count] = si->si_value.sival_int;
	}
	rt_count++;
}

static void install(int sig, void (*h)(int, siginfo_t *, void *))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = h;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) < 0)
		case_fail("sigaction(%d): %s", sig, strerror(errno));
}

static void mkset(sigset_t *s, const int *sigs)
{
	sigemptyset(s);
	for (; *sigs; sigs++)
		sigaddset(s, *sigs);
}

/* The calling thread's mask must be exactly WANT. */
static void check_mask(const char *who, const sigset_t *want)
{
	sigset_t cur;
	int err, d;

	err = pthread_sigmask(SIG_BLOCK, NULL, &cur);
	if (err)
		case_fail("%s: pthread_sigmask query: %s", who, strerror(err));
	d = mt_sigset_diff(&cur, want);
	if (d)
		case_fail("%s (tid %d): signal %d is %sblocked, want %sblocked", who,
			  (int)mt_gettid(), d, sigismember(&cur, d) ? "" : "not ",
			  sigismember(want, d) ? "" : "not ");
}

/* The calling thread's pending set must be exactly WANT. */
static void check_pending(const char *who, const sigset_t *want)
{
	sigset_t cur;
	int d;

	if (sigpending(&cur) < 0)
		case_fail("%s: sigpending: %s", who, strerror(errno));
	d = mt_sigset_diff(&cur, want);
	if (d)
		case_fail("%s (tid %d): signal %d is %spending, want %spending", who,
			  (int)mt_gettid(), d, sigismember(&cur, d) ? "" : "not ",
			  sigismember(want, d) ? "" : "not ");
}

static void unblock(int sig)
{
	sigset_t s;
	int err;

	sigemptyset(&s);
	sigaddset(&s, sig);
	err = pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	if (err)
		case_fail("pthread_sigmask unblock %d: %s", sig, strerror(err));
}

static void *thread_a(void *arg)
{
	const int m[] = { SIGUSR1, SIGUSR2, 0 }, p[] = { SIGUSR1, 0 };
	sigset_t mask, pend;

	(void)arg;
	mkset(&mask, m);
	mkset(&pend, p);
	tid_a = mt_gettid();
	/* Inherited SIGUSR2 from main; add SIGUSR1. */
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	a_ready = 1;
	while (stage < 1)
		usleep(1000);
	check_mask("thread A", &mask);
	check_pending("thread A", &pend);
	if (usr1_count)
		case_fail("SIGUSR1 delivered while blocked (in tid %d)", (int)usr1_tid);
	a_done = 1;
	while (stage < 2)
		usleep(1000);
	unblock(SIGUSR1);
	if (usr1_count != 1)
		case_fail("thread A unblocked SIGUSR1: handler ran %d times, want 1",
			  (int)usr1_count);
	if (usr1_tid != tid_a)
		case_fail("SIGUSR1 handled in tid %d, want thread A %d", (int)usr1_tid,
			  (int)tid_a);
	if (usr1_code != SI_TKILL)
		case_fail("SIGUSR1 si_code %d, want SI_TKILL %d", (int)usr1_code, SI_TKILL);
	sigemptyset(&pend);
	check_pending("thread A after delivery", &pend);
	return NULL;
}

static void *thread_b(void *arg)
{
	const int m[] = { SIGHUP, SIGUSR2, 0 };
	sigset_t mask, pend;

	(void)arg;
	mkset(&mask, m);
	sigaddset(&mask, RTSIG);
	sigemptyset(&pend);
	sigaddset(&pend, RTSIG);
	tid_b = mt_gettid();
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	b_ready = 1;
	while (stage < 1)
		usleep(1000);
	check_mask("thread B", &mask);
	check_pending("thread B", &pend);
	if (rt_count)
		case_fail("SIGRTMIN+5 delivered while blocked (in tid %d)", (int)rt_tid[0]);
	b_done = 1;
	while (stage < 2)
		usleep(1000);
	unblock(RTSIG);
	if (rt_count != 2)
		case_fail("thread B unblocked SIGRTMIN+5: handler ran %d times, want 2",
			  (int)rt_count);
	for (int i = 0; i < 2; i++) {
		if (rt_tid[i] != tid_b)
			case_fail("SIGRTMIN+5 #%d handled in tid %d, want thread B %d", i,
				  (int)rt_tid[i], (int)tid_b);
		if (rt_val[i] != 111 * (i + 1))
			case_fail("SIGRTMIN+5 #%d carried value %d, want %d", i,
				  (int)rt_val[i], 111 * (i + 1));
	}
	sigemptyset(&pend);
	check_pending("thread B after delivery", &pend);
	return NULL;
}

int main(void)
{
	pthread_t a, b;
	sigset_t mmask, none;
	int err;

	case_init();
	install(SIGUSR1, usr1_handler);
	install(RTSIG, rt_handler);
	tid_main = mt_gettid();

	sigemptyset(&mmask);
	sigaddset(&mmask, SIGUSR2);
	pthread_sigmask(SIG_SETMASK, &mmask, NULL);
	if ((err = pthread_create(&a, NULL, thread_a, NULL)) ||
	    (err = pthread_create(&b, NULL, thread_b, NULL)))
		case_fail("pthread_create: %s", strerror(err));
	sigemptyset(&mmask);
	sigaddset(&mmask, SIGWINCH);
	pthread_sigmask(SIG_SETMASK, &mmask, NULL);
	while (!a_ready || !b_ready)
		usleep(1000);

	if ((err = pthread_kill(a, SIGUSR1)))
		case_fail("pthread_kill: %s", strerror(err));
	for (int i = 1; i <= 2; i++) {
		union sigval v = { .sival_int = 111 * i };

		if ((err = pthread_sigqueue(b, RTSIG, v)))
			case_fail("pthread_sigqueue: %s", strerror(err));
	}
	usleep(10000);
	if (usr1_count || rt_count)
		case_fail("blocked signals delivered before the dump");
	case_ready();
	case_wait_go();

	check_mask("main thread", &mmask);
	sigemptyset(&none);
	check_pending("main thread", &none);
	stage = 1;
	while (!a_done || !b_done)
		usleep(1000);
	stage = 2;
	if ((err = pthread_join(a, NULL)) || (err = pthread_join(b, NULL)))
		case_fail("pthread_join: %s", strerror(err));
	if (usr1_count != 1 || rt_count != 2)
		case_fail("handler counts %d/%d, want 1/2", (int)usr1_count, (int)rt_count);
	check_pending("main thread at the end", &none);
	check_mask("main thread at the end", &mmask);
	case_pass();
}
