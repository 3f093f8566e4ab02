/*
 * Unit tests for the refusal list (src/refuse.c), the VmFlags crest
 * knows (src/mem-flags.c) and the status field reader (src/unsaved.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mem.h"
#include "refuse.h"
#include "unsaved.h"

static void test_refuse_lines(void **state)
{
	char want[128];

	refusals_clear();
	assert_int_equal(refusals_nr(), 0);
	refuse(getpid(), "fd %d is %s", 5, "a socket");
	refuse(getpid(), "fd %d is %s", 7, "a socket");
	/* The same thing again (another thread saw it): once. */
	refuse(getpid(), "fd %d is %s", 5, "a socket");
	assert_int_equal(refusals_nr(), 2);
	snprintf(want, sizeof(want), "process %d (test-refuse): fd 5 is a socket",
		 getpid());
	assert_string_equal(refusal(0), want);
	assert_null(refusal(2));
	refusals_clear();
	assert_int_equal(refusals_nr(), 0);
}

static void test_refuse_print(void **state)
{
	char buf[1024] = "";
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	refusals_clear();
	refuse(getpid(), "mapping 1000-2000 has lo");
	refusals_print(f);
	fclose(f);
	assert_non_null(strstr(buf, "  process "));
	assert_non_null(strstr(buf, "mapping 1000-2000 has lo\n"));
	/* Then one line saying what to do. */
	assert_non_null(strstr(buf, "\nnothing was changed; "));
	refusals_clear();
}

static void expect_flags(const char *path, const char *flags, int n,
			 const char *needle)
{
	char out[512];
	int got = mem_flags_unsupported(path, flags, out, sizeof(out));

	if (got != n)
		fail_msg("'%s' of '%s': %d unsupported (%s), want %d",
			 flags, path, got, out, n);
	if (needle && !strstr(out, needle))
		fail_msg("'%s' of '%s': '%s' lacks '%s'", flags, path, out, needle);
}

static void test_vmflags(void **state)
{
	expect_flags("", " rd wr mr mw me ac ", 0, NULL);
	expect_flags("/usr/lib/libc.so.6", "rd ex mr mw me", 0, NULL);
	expect_flags("/dev/zero (deleted)", "rd wr sh mr mw me ms", 0, NULL);
	expect_flags("[stack]", "rd wr mr mw me gd ac", 0, NULL);
	expect_flags("[vvar]", "rd mr pf io de dd", 0, NULL);
	expect_flags("[vdso]", "rd ex mr mw me de", 0, NULL);
	/* A thread stack (MAP_STACK): mapped so again. */
	expect_flags("", "rd wr mr mw me nh ac", 0, NULL);
	/* A glibc malloc arena (MAP_NORESERVE): mapped so again. */
	expect_flags("", "rd wr mr mw me nr ac", 0, NULL);
	/* Only the stack grows down again; only the vDSO area is special. */
	expect_flags("", "rd wr mr mw me gd ac", 1, "gd (grows down");
	/* dd elsewhere is MADV_DONTDUMP, given back: pf io de are not. */
	expect_flags("/dev/mem", "rd mr pf io de dd", 3, "pf (pure PFN");
	expect_flags("/dev/hugepages/x", "rd wr sh mr mw me ms ht", 1, "ht (hugetlb");
	/* madvise() advice and mlock: given back by the restorer. */
	expect_flags("", "rd wr mr mw me lo ac", 0, NULL);
	expect_flags("", "rd wr mr mw me lo lf ac", 0, NULL);
	expect_flags("", "rd wr mr mw me ac hg dc wf dd sr", 0, NULL);
	expect_flags("", "rd wr mr mw me ac rr mg sl", 0, NULL);
	expect_flags("", "rd wr mr mw me ac um gu", 1, "um (userfaultfd missing-page");
	/* A flag crest has never heard of is refused too. */
	expect_flags("", "rd wr zz", 1, "zz (unknown to crest)");
}

static void test_status_field(void **state)
{
	const char *st = "Name:\tcat\nSeccomp:\t2\nSeccomp_filters:\t1\n"
			 "CapAmb:\t0000000000000000\nCpus_allowed_list:\t0-1  \n";
	char v[64];

	assert_int_equal(unsaved_field(st, "Seccomp", v, sizeof(v)), 0);
	assert_string_equal(v, "2");
	assert_int_equal(unsaved_field(st, "Seccomp_filters", v, sizeof(v)), 0);
	assert_string_equal(v, "1");
	assert_int_equal(unsaved_field(st, "Cpus_allowed_list", v, sizeof(v)), 0);
	assert_string_equal(v, "0-1");
	assert_int_equal(unsaved_field(st, "Name", v, sizeof(v)), 0);
	assert_string_equal(v, "cat");
	/* A prefix of a key is not the key. */
	assert_int_equal(unsaved_field(st, "Seccom", v, sizeof(v)), -1);
	assert_int_equal(unsaved_field(st, "NoNewPrivs", v, sizeof(v)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refuse_lines),
		cmocka_unit_test(test_refuse_print),
		cmocka_unit_test(test_vmflags),
		cmocka_unit_test(test_status_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
