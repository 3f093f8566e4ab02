/*
 * Interval timers keep ticking after C/R: ITIMER_REAL with a 20 ms period
 * and ITIMER_VIRTUAL with a long one-shot value that must still be armed.
 */
#include "caselib.h"

#include <errno.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t ticks;

static void on_alarm(int sig)
{
	ticks++;
}

int main(void)
{
	struct itimerval it = { { 0, 20000 }, { 0, 20000 } }, v = { { 0, 0 }, { 3600, 0 } }, cur;
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	sig_atomic_t before;

	case_init();
	sigaction(SIGALRM, &sa, NULL);
	if (setitimer(ITIMER_REAL, &it, NULL) || setitimer(ITIMER_VIRTUAL, &v, NULL))
		case_fail("setitimer: %s", strerror(errno));
	while (ticks < 3)
		pause();
	case_ready();
	case_wait_go();

	if (getitimer(ITIMER_REAL, &cur))
		case_fail("getitimer: %s", strerror(errno));
	if (cur.it_interval.tv_sec != 0 || cur.it_interval.tv_usec != 20000)
		case_fail("ITIMER_REAL interval %ld.%06ld, want 0.020000",
			  (long)cur.it_interval.tv_sec, (long)cur.it_interval.tv_usec);
	if (getitimer(ITIMER_VIRTUAL, &cur))
		case_fail("getitimer: %s", strerror(errno));
	if (cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0)
		case_fail("ITIMER_VIRTUAL is no longer armed");
	before = ticks;
	for (int i = 0; i < 3000 && ticks < before + 5; i++)
		usleep(10000);
	if (ticks < before + 5)
		case_fail("ITIMER_REAL stopped ticking: %d ticks in 30 s", (int)(ticks - before));
	case_pass();
}
