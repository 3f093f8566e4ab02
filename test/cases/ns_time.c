/*
 * A process in a time namespace of its own (test/run starts it under
 * unshare --time with clock offsets): after the restore it is in a new
 * one (not the machine's) with the same offsets, CLOCK_MONOTONIC and
 * CLOCK_BOOTTIME read through the vDSO agree with the system call (the
 * vvar page is the namespace's) and went on from where they were, and its
 * pid is the same. The namespace is checked by the /proc audit too.
 *
 * test/run's timens-other-boot makes the restore look like another boot
 * (the host's clocks behind their values at the dump, by the seconds it
 * writes to $CREST_TMP/timens-ahead before the go): then the clocks must
 * go on from where they were plus those seconds, the offsets moved by
 * them less the time the tree was stopped.
 */
#include "caselib.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void offsets(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/timens_offsets", "r");
	size_t n;

	if (!f)
		case_fail("can't open /proc/self/timens_offsets: %s", strerror(errno));
	n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
}

static double secs(const struct timespec *t)
{
	return t->tv_sec + t->tv_nsec / 1e9;
}

/* The vDSO's reading and the kernel's, a second apart at most. */
static double both(clockid_t clk, const char *name)
{
	struct timespec v, k;

	if (clock_gettime(clk, &v) || syscall(SYS_clock_gettime, clk, &k))
		case_fail("clock_gettime(%s): %s", name, strerror(errno));
	if (secs(&k) - secs(&v) > 1 || secs(&v) - secs(&k) > 1)
		case_fail("%s: the vDSO says %.3f, the kernel %.3f", name, secs(&v), secs(&k));
	return secs(&k);
}

/* The seconds test/run moved the dump's host clocks on by, or -1. */
static long long ahead_secs(void)
{
	const char *tmp = getenv("CREST_TMP");
	char path[512];
	long long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/timens-ahead", tmp ? tmp : ".");
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &n) != 1)
		case_fail("%s does not hold a number", path);
	fclose(f);
	return n;
}

static long long offset_of(const char *text, const char *clock)
{
	const char *l = strstr(text, clock);
	long long sec, nsec;

	if (!l || sscanf(l + strlen(clock), "%lld %lld", &sec, &nsec) != 2)
		case_fail("no %s offset in '%s'", clock, text);
	return sec;
}

/* Moved by ahead less the time stopped: a minute at most here. */
static void moved(const char *before, const char *after, const char *clock, long long ahead)
{
	long long d = offset_of(after, clock) - offset_of(before, clock);

	if (d > ahead || d < ahead - 120)
		case_fail("%s offset moved by %lld s, want %lld s less the time stopped ('%s', were '%s')",
			  clock, d, ahead, after, before);
}

int main(void)
{
	char before[256], after[256];
	double mono, boot;
	long long ahead;
	pid_t pid = getpid();

	case_init();
	if (!case_own_ns("time"))
		case_fail("not in a time namespace of its own (run it under unshare --time through test/run)");
	offsets(before, sizeof(before));
	if (!strcmp(before, "monotonic           0         0\nboottime            0         0\n"))
		case_fail("its time namespace has no offsets");
	mono = both(CLOCK_MONOTONIC, "CLOCK_MONOTONIC");
	boot = both(CLOCK_BOOTTIME, "CLOCK_BOOTTIME");
	case_ready();
	case_wait_go();
	if (getpid() != pid)
		case_fail("getpid() %d, was %d", getpid(), pid);
	if (!case_own_ns("time"))
		case_fail("back in the machine's time namespace");
	offsets(after, sizeof(after));
	ahead = ahead_secs();
	if (ahead < 0 && strcmp(before, after))
		case_fail("offsets '%s', were '%s'", after, before);
	if (ahead >= 0) {
		moved(before, after, "monotonic", ahead);
		moved(before, after, "boottime", ahead);
	} else {
		ahead = 0;
	}
	if (both(CLOCK_MONOTONIC, "CLOCK_MONOTONIC") < mono + ahead)
		case_fail("CLOCK_MONOTONIC went back (or not %lld s ahead)", ahead);
	if (both(CLOCK_BOOTTIME, "CLOCK_BOOTTIME") < boot + ahead)
		case_fail("CLOCK_BOOTTIME went back (or not %lld s ahead)", ahead);
	case_pass();
}
