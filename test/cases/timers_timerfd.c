/*
 * timerfds come back exactly:
 *   per   CLOCK_MONOTONIC every 20 ms, expired and not read (the kernel
 *         shows it with no time left): it must still be periodic
 *   five  CLOCK_MONOTONIC one shot, expired, 5 expirations unread
 *         (TFD_IOC_SET_TICKS), non-blocking: read() gives exactly 5
 *   abs   CLOCK_REALTIME, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, an
 *         hour from now
 *   off   CLOCK_BOOTTIME, non-blocking, disarmed by a settime with
 *         TFD_TIMER_ABSTIME
 *   slow  CLOCK_MONOTONIC, 500 s then every 1.5 s
 * fdinfo's clockid, settime flags, interval and (where nothing ticks)
 * ticks must be the same after the restore.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define TFD_IOC_SET_TICKS_	_IOW('T', 0, uint64_t)

enum { PER, FIVE, ABS, OFF, SLOW, NR };
static const char *names[NR] = { "per", "five", "abs", "off", "slow" };
static int fd[NR];

static void mk(int i, clockid_t clock, int cflags, int sflags, time_t vs, long vns,
	       time_t is, long ins)
{
	struct itimerspec its = { { is, ins }, { vs, vns } };

	fd[i] = timerfd_create(clock, cflags);
	if (fd[i] < 0)
		case_fail("timerfd_create %s: %s", names[i], strerror(errno));
	if (sflags & TFD_TIMER_ABSTIME && (vs || vns)) {
		struct timespec now;

		clock_gettime(clock, &now);
		its.it_value.tv_sec += now.tv_sec;
	}
	if (timerfd_settime(fd[i], sflags, &its, NULL))
		case_fail("timerfd_settime %s: %s", names[i], strerror(errno));
}

/* The fdinfo lines that must not change (ticks only if asked). */
static char *info(int i, int with_ticks)
{
	char path[64], line[256], *out = calloc(1, 1024);
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd[i]);
	f = fopen(path, "r");
	if (!f)
		case_fail("open %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags:", 6) || !strncmp(line, "clockid:", 8) ||
		    !strncmp(line, "settime flags:", 14) || !strncmp(line, "it_interval:", 12) ||
		    (with_ticks && !strncmp(line, "ticks:", 6)))
			n += snprintf(out + n, 1024 - n, "%s", line);
	fclose(f);
	return out;
}

static void wait_readable(int i)
{
	struct pollfd p = { .fd = fd[i], .events = POLLIN };

	if (poll(&p, 1, 10000) != 1)
		case_fail("%s: not readable in 10 s", names[i]);
}

static uint64_t rd(int i)
{
	uint64_t n;

	if (read(fd[i], &n, 8) != 8)
		case_fail("read %s: %s", names[i], strerror(errno));
	return n;
}

static void check_time(int i, double vmin, double vmax, time_t is, long ins)
{
	struct itimerspec cur;
	double v;

	if (timerfd_gettime(fd[i], &cur))
		case_fail("timerfd_gettime %s: %s", names[i], strerror(errno));
	v = cur.it_value.tv_sec + cur.it_value.tv_nsec / 1e9;
	if (cur.it_interval.tv_sec != is || cur.it_interval.tv_nsec != ins)
		case_fail("%s: interval %ld.%09ld, want %ld.%09ld", names[i],
			  (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec, (long)is, ins);
	if (v < vmin || v > vmax)
		case_fail("%s: %.6f s left, want %.3f..%.3f", names[i], v, vmin, vmax);
}

int main(void)
{
	uint64_t five = 5, n;
	char *before[NR];
	struct timespec t0, t1;

	case_init();
	mk(PER, CLOCK_MONOTONIC, 0, 0, 0, 20000000, 0, 20000000);
	mk(FIVE, CLOCK_MONOTONIC, TFD_NONBLOCK, 0, 0, 1000000, 0, 0);
	mk(ABS, CLOCK_REALTIME, 0, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, 3600, 0, 0, 0);
	mk(OFF, CLOCK_BOOTTIME, TFD_NONBLOCK, TFD_TIMER_ABSTIME, 0, 0, 0, 0);
	mk(SLOW, CLOCK_MONOTONIC, 0, 0, 500, 0, 1, 500000000);
	wait_readable(PER);
	wait_readable(FIVE);
	if (ioctl(fd[FIVE], TFD_IOC_SET_TICKS_, &five))
		case_fail("TFD_IOC_SET_TICKS: %s", strerror(errno));
	for (int i = 0; i < NR; i++)
		before[i] = info(i, i != PER);
	case_ready();
	case_wait_go();

	for (int i = 0; i < NR; i++) {
		char *after = info(i, i != PER);

		if (strcmp(before[i], after))
			case_fail("%s: fdinfo differs:\n--- before\n%s--- after\n%s",
				  names[i], before[i], after);
	}
	n = rd(FIVE);
	if (n != 5)
		case_fail("five: read %llu expirations, want 5", (unsigned long long)n);
	if (read(fd[FIVE], &n, 8) != -1 || errno != EAGAIN)
		case_fail("five: a second read did not say EAGAIN");
	check_time(ABS, 3000, 3600, 0, 0);
	check_time(OFF, 0, 0, 0, 0);
	check_time(SLOW, 400, 500, 1, 500000000);
	check_time(PER, 0, 0.020, 0, 20000000);
	/* Still periodic: it expired while unread, and keeps expiring. */
	wait_readable(PER);
	if (rd(PER) < 1)
		case_fail("per: no expiration");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int k = 0; k < 3; k++) {
		wait_readable(PER);
		rd(PER);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (t1.tv_sec - t0.tv_sec > 10)
		case_fail("per: 3 periods of 20 ms took %ld s", (long)(t1.tv_sec - t0.tv_sec));
	case_pass();
}
