/*
 * POSIX timers whose signal is pending at the dump (blocked): a standard
 * one (SIGALRM, which does not queue twice) and a real-time one, both
 * every 5 ms. After the restore each keeps expiring: its signal comes
 * again and again (a pending standard signal must not stall the timer),
 * with its own timer id.
 */
#include "caselib.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static timer_t mk(int sig)
{
	struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = sig };
	struct itimerspec its = { { 0, 5000000 }, { 0, 5000000 } };
	timer_t t;

	if (timer_create(CLOCK_MONOTONIC, &ev, &t) || timer_settime(t, 0, &its, NULL))
		case_fail("timer for signal %d: %s", sig, strerror(errno));
	return t;
}

int main(void)
{
	int rt = SIGRTMIN + 5, got[2] = { 0, 0 };
	timer_t ta, tr;
	sigset_t set, pend;

	case_init();
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	sigaddset(&set, rt);
	sigprocmask(SIG_BLOCK, &set, NULL);
	ta = mk(SIGALRM);
	tr = mk(rt);
	for (int i = 0; i < 30000; i++) {
		sigpending(&pend);
		if (sigismember(&pend, SIGALRM) && sigismember(&pend, rt))
			break;
		usleep(1000);
	}
	sigpending(&pend);
	if (!sigismember(&pend, SIGALRM) || !sigismember(&pend, rt))
		case_fail("the timers' signals are not pending");
	case_ready();
	case_wait_go();

	/* Each timer goes on: 20 signals of each within 30 s. */
	for (int i = 0; i < 30000 && (got[0] < 20 || got[1] < 20); i++) {
		struct timespec ts = { 0, 1000000 };
		siginfo_t si;
		int sig = sigtimedwait(&set, &si, &ts);

		if (sig < 0)
			continue;
		if (si.si_code != SI_TIMER)
			case_fail("signal %d with code %d, not SI_TIMER", sig, si.si_code);
		if (si.si_timerid != (int)(long)(sig == SIGALRM ? ta : tr))
			case_fail("signal %d for timer %d, want %d", sig, si.si_timerid,
				  (int)(long)(sig == SIGALRM ? ta : tr));
		got[sig != SIGALRM]++;
	}
	if (got[0] < 20 || got[1] < 20)
		case_fail("after the restore: %d SIGALRMs and %d real-time signals of the timers, want 20 each",
			  got[0], got[1]);
	case_pass();
}
