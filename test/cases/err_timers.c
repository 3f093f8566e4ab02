/*
 * Not a checkpoint/restore case: POSIX timers crest can't make again, so
 * the errors mode expects the dump to refuse, naming each, and to leave
 * the process running:
 *   timer on CLOCK_THREAD_CPUTIME_ID in a process of two threads (which
 *   thread created it, whose CPU time it counts, nothing in /proc tells)
 *   timer on the CPU clock of another process (our parent)
 * After go, both timers must still work.
 */
#include "caselib.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void *idle(void *arg)
{
	for (;;)
		pause();
	return NULL;
}

int main(void)
{
	struct sigevent ev = { .sigev_notify = SIGEV_NONE };
	struct itimerspec its = { .it_value = { 1000, 0 } }, cur;
	clockid_t parent;
	timer_t t[2];
	pthread_t th;

	case_init();
	if (pthread_create(&th, NULL, idle, NULL))
		case_fail("pthread_create");
	if (clock_getcpuclockid(getppid(), &parent))
		case_fail("clock_getcpuclockid");
	if (timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &t[0]) ||
	    timer_create(parent, &ev, &t[1]))
		case_fail("timer_create: %s", strerror(errno));
	for (int i = 0; i < 2; i++)
		if (timer_settime(t[i], 0, &its, NULL))
			case_fail("timer_settime: %s", strerror(errno));
	case_ready();
	case_wait_go();
	for (int i = 0; i < 2; i++)
		if (timer_gettime(t[i], &cur) || !cur.it_value.tv_sec)
			case_fail("timer %d: %s", i, strerror(errno));
	case_pass();
}
