/*
 * Unit tests for timens_offsets_now() (src/ns-time.c): a time namespace
 * restored in the boot it was dumped in keeps its offsets; in another
 * boot its clocks go on from their values at the dump; an image of an
 * older crest (no boot) keeps its offsets; values out of range are
 * refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdbool.h>
#include <cmocka.h>

#include "namespaces.h"

#define NSEC 1000000000LL
#define BOOT "0b2c7d6e-1111-4222-8333-944455556666"

static TimeNsEntry entry(void)
{
	TimeNsEntry e = TIME_NS_ENTRY__INIT;

	/* Offsets +100.25 s (monotonic) and -3.5 s (boottime, as the kernel says it). */
	e.monotonic_sec = 100;
	e.monotonic_nsec = 250000000;
	e.boottime_sec = -4;
	e.boottime_nsec = 500000000;
	e.boot_id = BOOT;
	e.has_dump_monotonic_sec = e.has_dump_monotonic_nsec = true;
	e.dump_monotonic_sec = 5000;
	e.dump_monotonic_nsec = 1;
	e.has_dump_boottime_sec = e.has_dump_boottime_nsec = true;
	e.dump_boottime_sec = 6000;
	e.dump_boottime_nsec = 2;
	return e;
}

static void test_same_boot(void **state)
{
	TimeNsEntry e = entry();
	long long m, b;

	(void)state;
	assert_int_equal(timens_offsets_now(&e, BOOT, 5010 * NSEC, 6010 * NSEC, &m, &b), 0);
	assert_true(m == 100 * NSEC + 250000000);
	assert_true(b == -3 * NSEC - 500000000);
}

static void test_other_boot(void **state)
{
	TimeNsEntry e = entry();
	long long m, b;

	(void)state;
	/* Up 7 s in a new boot: the clocks read as at the dump, not 5000 s less. */
	assert_int_equal(timens_offsets_now(&e, "another-boot", 7 * NSEC, 8 * NSEC, &m, &b), 1);
	assert_true(7 * NSEC + m == 5000 * NSEC + 1 + 100 * NSEC + 250000000);
	assert_true(8 * NSEC + b == 6000 * NSEC + 2 - 3 * NSEC - 500000000);
	/* Up longer than at the dump: offsets become negative, clocks still go on. */
	assert_int_equal(timens_offsets_now(&e, "another-boot", 9000 * NSEC, 9000 * NSEC, &m, &b),
			 1);
	assert_true(m < 0 && b < 0);
	assert_true(9000 * NSEC + m == 5100 * NSEC + 250000001);
}

static void test_clock_behind(void **state)
{
	TimeNsEntry e = entry();
	long long m, b;

	(void)state;
	/* The same boot id but the host behind the dump: never backwards. */
	assert_int_equal(timens_offsets_now(&e, BOOT, 4000 * NSEC, 6010 * NSEC, &m, &b), 1);
	assert_true(4000 * NSEC + m == 5100 * NSEC + 250000001);
}

static void test_older_image(void **state)
{
	TimeNsEntry e = entry();
	long long m, b;

	(void)state;
	e.boot_id = NULL;
	assert_int_equal(timens_offsets_now(&e, BOOT, 7 * NSEC, 8 * NSEC, &m, &b), 0);
	assert_true(m == 100 * NSEC + 250000000);
	assert_true(b == -3 * NSEC - 500000000);
}

static void test_out_of_range(void **state)
{
	long long m, b;
	TimeNsEntry e;

	(void)state;
	e = entry();
	e.monotonic_nsec = NSEC;
	assert_int_equal(timens_offsets_now(&e, BOOT, 0, 0, &m, &b), -1);
	e = entry();
	e.boottime_sec = -(1LL << 40);
	assert_int_equal(timens_offsets_now(&e, BOOT, 0, 0, &m, &b), -1);
	e = entry();
	e.dump_monotonic_sec = INT64_MAX;
	assert_int_equal(timens_offsets_now(&e, "x", 0, 0, &m, &b), -1);
	e = entry();
	e.dump_boottime_sec = -1;
	assert_int_equal(timens_offsets_now(&e, "x", 0, 0, &m, &b), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_boot),
		cmocka_unit_test(test_other_boot),
		cmocka_unit_test(test_clock_behind),
		cmocka_unit_test(test_older_image),
		cmocka_unit_test(test_out_of_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
