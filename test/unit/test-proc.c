/* Unit tests for the /proc parsers in src/proc.c, on recorded samples. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "proc.h"

/* The kernel's O_LARGEFILE; glibc defines it as 0 on x86_64. */
#define K_O_LARGEFILE 0100000

/*
 * /proc/PID/stat of cat(1) on kernel 6.18, as recorded. Fields per proc(5),
 * numbered from 1: 4 ppid, 5 pgrp, 6 session, 20 num_threads,
 * 26 startcode, 27 endcode, 28 startstack, 45 start_data, 46 end_data,
 * 47 start_brk, 48 arg_start, 49 arg_end, 50 env_start, 51 env_end,
 * 52 exit_code.
 */
static const char stat_cat[] =
	"3596 (cat) R 3594 3594 2691 0 -1 4194304 101 0 0 0 0 0 0 0 20 0 1 0 "
	"45175 3133440 384 18446744073709551615 94704518111232 94704518131113 "
	"140728021040208 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94704518147120 "
	"94704518148736 94704791531520 140728021043652 140728021043672 "
	"140728021043672 140728021045227 0\n";

static void test_stat_basic(void **state)
{
	struct proc_stat st;

	assert_int_equal(proc_parse_stat(stat_cat, &st), 0);
	assert_int_equal(st.pid, 3596);
	assert_string_equal(st.comm, "cat");
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.ppid, 3594);
	assert_int_equal(st.pgid, 3594);
	assert_int_equal(st.sid, 2691);
	assert_int_equal(st.num_threads, 1);
	assert_true(st.start_code == 94704518111232ull);
	assert_true(st.end_code == 94704518131113ull);
	assert_true(st.start_stack == 140728021040208ull);
	assert_true(st.start_data == 94704518147120ull);
	assert_true(st.end_data == 94704518148736ull);
	assert_true(st.start_brk == 94704791531520ull);
	assert_true(st.arg_start == 140728021043652ull);
	assert_true(st.arg_end == 140728021043672ull);
	assert_true(st.env_start == 140728021043672ull);
	assert_true(st.env_end == 140728021045227ull);
	assert_int_equal(st.exit_code, 0);
}

/*
 * A process stopped by SIGTSTP whose parent has not waited for the stop:
 * the kernel shows the signal as exit_code (field 52) until it does.
 */
static const char stat_stopped[] =
	"4101 (sleep) T 4100 4101 2691 0 -1 4194304 90 0 0 0 0 0 0 0 20 0 1 0 "
	"46000 3133440 384 18446744073709551615 1 2 3 0 0 0 0 0 0 0 0 0 17 1 "
	"0 0 0 0 0 4 5 6 7 8 9 10 20\n";

static void test_stat_stopped(void **state)
{
	struct proc_stat st;

	assert_int_equal(proc_parse_stat(stat_stopped, &st), 0);
	assert_int_equal(st.state, 'T');
	assert_int_equal(st.env_end, 10);
	assert_int_equal(st.exit_code, 20);
}

/*
 * A comm with spaces and parentheses: prctl(PR_SET_NAME, "(a) b)"). The
 * fields checked hold distinct values (field N holds N*1000+N) so a parser
 * that is off by one field fails.
 */
static const char stat_weird[] =
	"77 ((a) b)) S 11 22 33 0 -1 4194560 5 0 0 0 3 1 0 0 20 0 4 0 "
	"9999 1000000 50 18446744073709551615 "
	"26026 27027 28028 "		/* startcode endcode startstack */
	"29 30 0 0 0 0 0 0 0 17 0 0 0 0 0 0 "	/* fields 29..44 */
	"45045 46046 47047 48048 49049 50050 51051 " /* start_data..env_end */
	"0\n";

static void test_stat_weird_comm(void **state)
{
	struct proc_stat st;

	assert_int_equal(proc_parse_stat(stat_weird, &st), 0);
	assert_int_equal(st.pid, 77);
	assert_string_equal(st.comm, "(a) b)");
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.ppid, 11);
	assert_int_equal(st.pgid, 22);
	assert_int_equal(st.sid, 33);
	assert_int_equal(st.num_threads, 4);
	assert_int_equal(st.start_code, 26026);
	assert_int_equal(st.end_code, 27027);
	assert_int_equal(st.start_stack, 28028);
	assert_int_equal(st.start_data, 45045);
	assert_int_equal(st.end_data, 46046);
	assert_int_equal(st.start_brk, 47047);
	assert_int_equal(st.arg_start, 48048);
	assert_int_equal(st.arg_end, 49049);
	assert_int_equal(st.env_start, 50050);
	assert_int_equal(st.env_end, 51051);
}

/* A comm that looks like the fields that follow it. */
static void test_stat_comm_like_fields(void **state)
{
	static const char buf[] =
		"5 (x) R 1 2 3) t 6 7 8 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 "
		"1 2 3 4 26 27 28 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 "
		"45 46 47 48 49 50 51 0\n";
	struct proc_stat st;

	assert_int_equal(proc_parse_stat(buf, &st), 0);
	assert_string_equal(st.comm, "x) R 1 2 3");
	assert_int_equal(st.state, 't');
	assert_int_equal(st.ppid, 6);
	assert_int_equal(st.pgid, 7);
	assert_int_equal(st.sid, 8);
	assert_int_equal(st.start_code, 26);
	assert_int_equal(st.env_end, 51);
}

static void test_stat_malformed(void **state)
{
	struct proc_stat st;

	/* No comm at all. */
	assert_int_equal(proc_parse_stat("3596 cat R 1 2 3\n", &st), -1);
	/* comm never closed. */
	assert_int_equal(proc_parse_stat("3596 (cat R 1 2 3\n", &st), -1);
	/* Cut short after the start_stack field. */
	assert_int_equal(proc_parse_stat(
		"3596 (cat) R 3594 3594 2691 0 -1 4194304 101 0 0 0 0 0 0 0 20 0 "
		"1 0 45175 3133440 384 18446744073709551615 94704518111232 "
		"94704518131113 140728021040208\n", &st), -1);
	/* Garbage in the middle of the numbers. */
	assert_int_equal(proc_parse_stat(
		"3596 (cat) R 3594 3594 2691 0 -1 4194304 xyz 0 0 0 0 0 0 0 20 0 "
		"1 0 45175 3133440 384 18446744073709551615 94704518111232 "
		"94704518131113 140728021040208 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 "
		"94704518147120 94704518148736 94704791531520 140728021043652 "
		"140728021043672 140728021043672 140728021045227 0\n", &st), -1);
	/* Empty. */
	assert_int_equal(proc_parse_stat("", &st), -1);
}

/* /proc/PID/status of a traced, stopped process with supplementary groups. */
static const char status_sample[] =
	"Name:\tsleep\n"
	"Umask:\t0027\n"
	"State:\tt (tracing stop)\n"
	"Tgid:\t4242\n"
	"Ngid:\t0\n"
	"Pid:\t4242\n"
	"PPid:\t4200\n"
	"TracerPid:\t4201\n"
	"Uid:\t1000\t1001\t1002\t1003\n"
	"Gid:\t100\t101\t102\t103\n"
	"FDSize:\t64\n"
	"Groups:\t4 24 27 30 46 100 \n"
	"NStgid:\t4242\n"
	"NSpid:\t4242\n"
	"Threads:\t1\n"
	"SigQ:\t0/96365\n"
	"SigPnd:\t0000000000000000\n";

static void test_status(void **state)
{
	static const uint32_t groups[] = { 4, 24, 27, 30, 46, 100 };
	struct proc_status st;

	assert_int_equal(proc_parse_status(status_sample, &st), 0);
	assert_int_equal(st.state, 't');
	assert_int_equal(st.tracer, 4201);
	assert_int_equal(st.umask, 027);
	assert_int_equal(st.uid[0], 1000);
	assert_int_equal(st.uid[1], 1001);
	assert_int_equal(st.uid[2], 1002);
	assert_int_equal(st.uid[3], 1003);
	assert_int_equal(st.gid[0], 100);
	assert_int_equal(st.gid[1], 101);
	assert_int_equal(st.gid[2], 102);
	assert_int_equal(st.gid[3], 103);
	assert_int_equal(st.nr_groups, 6);
	assert_memory_equal(st.groups, groups, sizeof(groups));
}

/* As recorded from cat(1) run by root: no groups ("Groups:\t \n"). */
static void test_status_root_no_groups(void **state)
{
	static const char buf[] =
		"Name:\tcat\n"
		"Umask:\t0022\n"
		"State:\tR (running)\n"
		"Tgid:\t3597\n"
		"Ngid:\t0\n"
		"Pid:\t3597\n"
		"PPid:\t3594\n"
		"TracerPid:\t0\n"
		"Uid:\t0\t0\t0\t0\n"
		"Gid:\t0\t0\t0\t0\n"
		"FDSize:\t256\n"
		"Groups:\t \n"
		"NStgid:\t3597\n"
		"Threads:\t1\n";
	struct proc_status st;

	assert_int_equal(proc_parse_status(buf, &st), 0);
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.tracer, 0);
	assert_int_equal(st.umask, 022);
	assert_int_equal(st.uid[1], 0);
	assert_int_equal(st.gid[3], 0);
	assert_int_equal(st.nr_groups, 0);
}

static void test_status_no_umask(void **state)
{
	static const char buf[] =
		"Name:\tx\n"
		"State:\tS (sleeping)\n"
		"TracerPid:\t0\n"
		"Uid:\t1\t2\t3\t4\n"
		"Gid:\t5\t6\t7\t8\n"
		"Groups:\t9\n";
	struct proc_status st;

	assert_int_equal(proc_parse_status(buf, &st), 0);
	assert_int_equal(st.umask, -1);
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.nr_groups, 1);
	assert_int_equal(st.groups[0], 9);
}

static void test_status_malformed(void **state)
{
	struct proc_status st;

	/* No Uid line. */
	assert_int_equal(proc_parse_status(
		"State:\tS (sleeping)\nTracerPid:\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n",
		&st), -1);
	/* Uid with only two ids. */
	assert_int_equal(proc_parse_status(
		"State:\tS (sleeping)\nTracerPid:\t0\nUid:\t0\t0\n"
		"Gid:\t0\t0\t0\t0\nGroups:\t\n", &st), -1);
	/* "PPid:" must not be taken for "Pid:", nor "NoUid:" for "Uid:". */
	assert_int_equal(proc_parse_status(
		"State:\tS (sleeping)\nTracerPid:\t0\nNoUid:\t0\t0\t0\t0\n"
		"Gid:\t0\t0\t0\t0\nGroups:\t\n", &st), -1);
	assert_int_equal(proc_parse_status("", &st), -1);
}

static void test_maps_anon(void **state)
{
	struct proc_vma v;

	assert_int_equal(proc_parse_maps_line(
		"7fac3e317000-7fac3e339000 rw-p 00000000 00:00 0 \n", &v), 0);
	assert_true(v.start == 0x7fac3e317000ull);
	assert_true(v.end == 0x7fac3e339000ull);
	assert_int_equal(v.pgoff, 0);
	assert_int_equal(v.prot, PROT_READ | PROT_WRITE);
	assert_int_equal(v.shared, 0);
	assert_int_equal(v.dev_major, 0);
	assert_int_equal(v.dev_minor, 0);
	assert_int_equal(v.ino, 0);
	assert_string_equal(v.path, "");

	/* No trailing space, no newline, no access at all. */
	assert_int_equal(proc_parse_maps_line(
		"7fac3e317000-7fac3e318000 ---p 00000000 00:00 0", &v), 0);
	assert_int_equal(v.prot, PROT_NONE);
	assert_string_equal(v.path, "");
}

static void test_maps_file(void **state)
{
	struct proc_vma v;

	assert_int_equal(proc_parse_maps_line(
		"55da1dd06000-55da1dd0b000 r-xp 00002000 fe:00 247134"
		"                     /usr/bin/cat\n", &v), 0);
	assert_true(v.start == 0x55da1dd06000ull);
	assert_true(v.end == 0x55da1dd0b000ull);
	assert_int_equal(v.pgoff, 0x2000);
	assert_int_equal(v.prot, PROT_READ | PROT_EXEC);
	assert_int_equal(v.shared, 0);
	assert_int_equal(v.dev_major, 0xfe);
	assert_int_equal(v.dev_minor, 0);
	assert_int_equal(v.ino, 247134);
	assert_string_equal(v.path, "/usr/bin/cat");
}

static void test_maps_path_with_spaces(void **state)
{
	struct proc_vma v;

	assert_int_equal(proc_parse_maps_line(
		"7f0000001000-7f0000003000 r--p 0001f000 103:02 1234567"
		"                  /tmp/my dir/lib  x.so\n", &v), 0);
	assert_int_equal(v.pgoff, 0x1f000);
	assert_int_equal(v.dev_major, 0x103);
	assert_int_equal(v.dev_minor, 2);
	assert_int_equal(v.ino, 1234567);
	assert_string_equal(v.path, "/tmp/my dir/lib  x.so");
}

static void test_maps_special(void **state)
{
	struct proc_vma v;

	assert_int_equal(proc_parse_maps_line(
		"7ffd5e5b8000-7ffd5e5d9000 rw-p 00000000 00:00 0"
		"                          [stack]\n", &v), 0);
	assert_string_equal(v.path, "[stack]");
	assert_int_equal(v.prot, PROT_READ | PROT_WRITE);
	assert_true(v.end - v.start == 0x21000);

	assert_int_equal(proc_parse_maps_line(
		"7fac3e58f000-7fac3e591000 r-xp 00000000 00:00 0"
		"                          [vdso]\n", &v), 0);
	assert_string_equal(v.path, "[vdso]");
	assert_int_equal(v.prot, PROT_READ | PROT_EXEC);
	assert_int_equal(v.shared, 0);

	assert_int_equal(proc_parse_maps_line(
		"7fac3e58d000-7fac3e58f000 r--p 00000000 00:00 0"
		"                          [vvar_vclock]\n", &v), 0);
	assert_string_equal(v.path, "[vvar_vclock]");
	assert_int_equal(v.prot, PROT_READ);
}

static void test_maps_shared(void **state)
{
	struct proc_vma v;

	assert_int_equal(proc_parse_maps_line(
		"7f1234560000-7f1234570000 rw-s 00000000 00:01 2049"
		"                       /dev/zero (deleted)\n", &v), 0);
	assert_int_equal(v.prot, PROT_READ | PROT_WRITE);
	assert_int_equal(v.shared, 1);
	assert_int_equal(v.dev_minor, 1);
	assert_int_equal(v.ino, 2049);
	assert_string_equal(v.path, "/dev/zero (deleted)");

	assert_int_equal(proc_parse_maps_line(
		"7fac3e57f000-7fac3e586000 r--s 00000000 fe:00 332280"
		"                     /usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache\n",
		&v), 0);
	assert_int_equal(v.prot, PROT_READ);
	assert_int_equal(v.shared, 1);
}

static void test_maps_malformed(void **state)
{
	struct proc_vma v;

	assert_int_equal(proc_parse_maps_line("", &v), -1);
	assert_int_equal(proc_parse_maps_line("garbage\n", &v), -1);
	/* No end address. */
	assert_int_equal(proc_parse_maps_line(
		"7fac3e317000 rw-p 00000000 00:00 0\n", &v), -1);
	/* Missing inode. */
	assert_int_equal(proc_parse_maps_line(
		"7fac3e317000-7fac3e339000 rw-p 00000000 00:00\n", &v), -1);
	/* Short permissions. */
	assert_int_equal(proc_parse_maps_line(
		"7fac3e317000-7fac3e339000 rw 00000000 00:00 0\n", &v), -1);
	/* End not above start. */
	assert_int_equal(proc_parse_maps_line(
		"7fac3e339000-7fac3e317000 rw-p 00000000 00:00 0\n", &v), -1);
	assert_int_equal(proc_parse_maps_line(
		"7fac3e339000-7fac3e339000 rw-p 00000000 00:00 0\n", &v), -1);
}

static void test_fdinfo(void **state)
{
	struct proc_fdinfo fi;

	/* As recorded for a pipe on stdin. */
	assert_int_equal(proc_parse_fdinfo(
		"pos:\t0\nflags:\t0100000\nmnt_id:\t24\nino:\t3\n", &fi), 0);
	assert_int_equal(fi.pos, 0);
	assert_int_equal(fi.flags, K_O_LARGEFILE);
	assert_int_equal(fi.mnt_id, 24);

	/* A file opened O_RDWR|O_APPEND|O_CLOEXEC at a large offset. */
	assert_int_equal(proc_parse_fdinfo(
		"pos:\t5000000000\nflags:\t02102002\nmnt_id:\t31\nino:\t1234\n", &fi), 0);
	assert_true(fi.pos == 5000000000ull);
	assert_int_equal(fi.flags, O_RDWR | O_APPEND | O_CLOEXEC | K_O_LARGEFILE);
	assert_int_equal(fi.mnt_id, 31);

	/* No mnt_id (old kernels): still fine. */
	assert_int_equal(proc_parse_fdinfo("pos:\t7\nflags:\t00\n", &fi), 0);
	assert_int_equal(fi.pos, 7);
	assert_int_equal(fi.flags, O_RDONLY);
	assert_int_equal(fi.mnt_id, 0);
}

/*
 * The flags of fdinfo are what F_GETFL says (plus O_CLOEXEC): restore
 * checks every fd's F_GETFL against them. Real fds of this process with
 * the status flags F_SETFL can change, and O_SYNC given at open.
 */
static void check_fdinfo_flags(int fd, int setfl)
{
	char path[64], buf[512];
	struct proc_fdinfo fi;
	FILE *f;
	size_t n;

	assert_true(fd >= 0);
	if (setfl)
		assert_int_equal(fcntl(fd, F_SETFL, setfl), 0);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	assert_int_equal(proc_parse_fdinfo(buf, &fi), 0);
	assert_int_equal(fi.flags & ~O_CLOEXEC, fcntl(fd, F_GETFL));
	if (setfl)
		assert_int_equal(fi.flags & setfl, setfl);
	close(fd);
}

static void test_fdinfo_status_flags(void **state)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	check_fdinfo_flags(p[0], O_NONBLOCK | O_ASYNC);
	check_fdinfo_flags(p[1], O_DIRECT | O_NONBLOCK);
	check_fdinfo_flags(open("/dev/null", O_WRONLY | O_CLOEXEC), O_APPEND | O_NONBLOCK);
	check_fdinfo_flags(open("/proc/self/status", O_RDONLY | O_SYNC), 0);
}

static void test_fdinfo_malformed(void **state)
{
	struct proc_fdinfo fi;

	assert_int_equal(proc_parse_fdinfo("flags:\t02\nmnt_id:\t1\n", &fi), -1);
	assert_int_equal(proc_parse_fdinfo("pos:\t0\nmnt_id:\t1\n", &fi), -1);
	assert_int_equal(proc_parse_fdinfo("", &fi), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat_basic),
		cmocka_unit_test(test_stat_stopped),
		cmocka_unit_test(test_stat_weird_comm),
		cmocka_unit_test(test_stat_comm_like_fields),
		cmocka_unit_test(test_stat_malformed),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_status_root_no_groups),
		cmocka_unit_test(test_status_no_umask),
		cmocka_unit_test(test_status_malformed),
		cmocka_unit_test(test_maps_anon),
		cmocka_unit_test(test_maps_file),
		cmocka_unit_test(test_maps_path_with_spaces),
		cmocka_unit_test(test_maps_special),
		cmocka_unit_test(test_maps_shared),
		cmocka_unit_test(test_maps_malformed),
		cmocka_unit_test(test_fdinfo),
		cmocka_unit_test(test_fdinfo_malformed),
		cmocka_unit_test(test_fdinfo_status_flags),
	};

	return cmocka_run_group_tests_name("proc", tests, NULL, NULL);
}
