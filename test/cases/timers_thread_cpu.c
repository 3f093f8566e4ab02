/*
 * A POSIX timer on CLOCK_THREAD_CPUTIME_ID in a process of one thread
 * (the only one that can have made it: crest refuses it in a process of
 * several, err_timers) comes back on that thread's CPU clock: same id,
 * same clock in /proc/self/timers, armed with the time it had left, which
 * the thread's own CPU time then runs down.
 */
#include "caselib.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double left(timer_t t)
{
	struct itimerspec cur;

	if (timer_gettime(t, &cur))
		case_fail("timer_gettime (id %ld): %s", (long)t, strerror(errno));
	if (cur.it_interval.tv_sec != 5 || cur.it_interval.tv_nsec)
		case_fail("interval %ld.%09ld, want 5 s", (long)cur.it_interval.tv_sec,
			  cur.it_interval.tv_nsec);
	return cur.it_value.tv_sec + cur.it_value.tv_nsec / 1e9;
}

static void clock_line(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/timers", "r");
	char line[256];

	if (!f)
		case_fail("open /proc/self/timers: %s", strerror(errno));
	out[0] = 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "ClockID:", 8))
			snprintf(out, len, "%s", line);
	fclose(f);
}

/* Burn this thread's CPU until its clock moved by at least s. */
static void burn(double s)
{
	struct timespec a, b;
	volatile unsigned long x = 0;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	do {
		for (int i = 0; i < 100000; i++)
			x += i;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	} while ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9 < s);
}

int main(void)
{
	struct sigevent ev = { .sigev_notify = SIGEV_NONE };
	struct itimerspec its = { { 5, 0 }, { 500, 0 } };
	char before[128], after[128];
	double l1, l2;
	timer_t t;

	case_init();
	if (timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &t))
		case_fail("timer_create: %s", strerror(errno));
	if (timer_settime(t, 0, &its, NULL))
		case_fail("timer_settime: %s", strerror(errno));
	clock_line(before, sizeof(before));
	case_ready();
	case_wait_go();

	clock_line(after, sizeof(after));
	if (strcmp(before, after))
		case_fail("/proc/self/timers: %s before, %s after", before, after);
	l1 = left(t);
	if (l1 < 490 || l1 > 500)
		case_fail("%.6f s left, want 490..500", l1);
	burn(0.05);
	l2 = left(t);
	if (l1 - l2 < 0.05)
		case_fail("the thread ran 0.05 s of CPU but the timer went from %.6f to %.6f s",
			  l1, l2);
	case_pass();
}
