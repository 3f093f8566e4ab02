/*
 * Unit tests for timers_parse() (src/timers.c): /proc/PID/timers text
 * turned into PosixTimerEntry, thread targets and CPU clocks named by
 * index, and every timer that can't be made again refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"
#include "timers.h"

static const pid_t tids[] = { 100, 101, 102 };

static void test_kinds(void **state)
{
	const char *buf =
		"ID: 3\nsignal: 14/0000000000000000\nnotify: signal/pid.100\nClockID: 1\n"
		"ID: 2\nsignal: 38/00005555deadbeef\nnotify: signal/tid.102\nClockID: 0\n"
		"ID: 1\nsignal: 0/0000000000000004\nnotify: none/pid.100\nClockID: -6\n"
		/* CPU clock of thread 101: ~101 << 3 | 4 | 2 */
		"ID: 0\nsignal: 35/0000000000000001\nnotify: thread/pid.100\nClockID: -810\n";
	struct posix_timers pt;

	(void)state;
	assert_int_equal(timers_parse(buf, 100, "t", tids, 3, &pt), 0);
	assert_int_equal(pt.nr, 4);
	assert_int_equal(pt.t[0]->id, 3);
	assert_int_equal(pt.t[0]->notify, SIGEV_SIGNAL);
	assert_int_equal(pt.t[0]->signo, 14);
	assert_int_equal(pt.t[0]->clockid, 1);
	assert_false(pt.t[0]->has_notify_thread);
	assert_int_equal(pt.t[1]->notify, SIGEV_SIGNAL | 4);
	assert_int_equal(pt.t[1]->notify_thread, 2);
	assert_int_equal(pt.t[1]->sival, 0x00005555deadbeefULL);
	assert_int_equal(pt.t[2]->notify, SIGEV_NONE);
	assert_int_equal(pt.t[2]->clockid, -6);
	assert_int_equal(pt.t[2]->cpu_clock, 0);
	assert_int_equal(pt.t[3]->notify, SIGEV_THREAD);
	assert_int_equal(pt.t[3]->cpu_clock, 2);
	assert_int_equal(pt.t[3]->clock_thread, 1);
	timers_free(&pt);
}

static void test_refused(void **state)
{
	static const char *bad[] = {
		/* a thread that has exited */
		"ID: 0\nsignal: 14/0000000000000000\nnotify: signal/tid.0\nClockID: 1\n",
		/* a thread outside the process */
		"ID: 0\nsignal: 14/0000000000000000\nnotify: signal/tid.999\nClockID: 1\n",
		/* CLOCK_THREAD_CPUTIME_ID with three threads: whose? */
		"ID: 0\nsignal: 14/0000000000000000\nnotify: signal/pid.100\nClockID: -2\n",
		/* another process's CPU clock: ~555 << 3 | 2 */
		"ID: 0\nsignal: 14/0000000000000000\nnotify: signal/pid.100\nClockID: -4446\n",
		/* a dynamic clock (fd) */
		"ID: 0\nsignal: 14/0000000000000000\nnotify: signal/pid.100\nClockID: -29\n",
		"ID: 0\nsignal: 14/0000000000000000\nnotify: signal/pid.100\nClockID: 4\n",
		"ID: 0\nsignal: 14/0000000000000000\nnotify: wakeup/pid.100\nClockID: 1\n",
		"signal: 14/0000000000000000\n",
	};
	struct posix_timers pt;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(timers_parse(bad[i], 100, "t", tids, 3, &pt), -1);
		timers_free(&pt);
	}
	/* a thread CPU clock of its only thread is fine */
	assert_int_equal(timers_parse(bad[2], 100, "t", tids, 1, &pt), 0);
	timers_free(&pt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_refused),
	};

	log_init(NULL, -1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
