/*
 * A thread of an unfiltered process installs its own strict seccomp
 * filter (an allowlist that kills the process on anything else, getpid()
 * failing with EXDEV) and no_new_privs after the other threads started.
 * The parasite runs in it all the same (seccomp suspended while crest
 * traces). After the restore the filter still acts in that thread only,
 * checked from inside: getpid() fails there with EXDEV and works in the
 * others; only that thread has no_new_privs, seccomp mode 2 and a filter.
 */
#include "caselib.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ALLOW(nr) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static volatile int stage, pid_err, filtered_tid;

static void nap(void)
{
	struct timespec ts = { 0, 1000000 };

	nanosleep(&ts, NULL);
}

static void *plain(void *arg)
{
	(void)arg;
	for (;;)
		nap();
	return NULL;
}

static void *filtered(void *arg)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EXDEV),
		ALLOW(SYS_nanosleep), ALLOW(SYS_clock_nanosleep),
		ALLOW(SYS_restart_syscall), ALLOW(SYS_rt_sigreturn),
		ALLOW(SYS_futex), ALLOW(SYS_exit),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	};
	struct sock_fprog p = { sizeof(f) / sizeof(f[0]), f };

	(void)arg;
	filtered_tid = syscall(SYS_gettid);
	while (stage != 1)
		nap();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p)) {
		pid_err = -1;
		stage = 2;
		for (;;)
			nap();
	}
	stage = 2;
	while (!case_go)
		nap();
	/* Under the filter: getpid() is EXDEV, the rest allowed. */
	errno = 0;
	if (syscall(SYS_getpid) == -1)
		pid_err = errno;
	stage = 3;
	for (;;)
		nap();
	return NULL;
}

/* "NAME:\tVALUE" of /proc/self/task/TID/status, as a number. */
static long field(int tid, const char *name)
{
	char path[64], line[256];
	size_t len = strlen(name);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	f = fopen(path, "r");
	if (!f)
		case_fail("open %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, len) && line[len] == ':')
			v = atol(line + len + 1);
	fclose(f);
	return v;
}

int main(void)
{
	pthread_t a, b;
	int me = syscall(SYS_gettid);

	case_init();
	if (pthread_create(&a, NULL, plain, NULL) || pthread_create(&b, NULL, filtered, NULL))
		case_fail("pthread_create");
	while (!filtered_tid)
		nap();
	stage = 1;
	while (stage != 2)
		nap();
	if (pid_err)
		case_fail("the thread's filter: not installed");
	case_ready();
	case_wait_go();

	for (int i = 0; i < 30000 && stage != 3; i++)
		nap();
	if (stage != 3)
		case_fail("the filtered thread does not answer");
	if (pid_err != EXDEV)
		case_fail("getpid() in the filtered thread: errno %d, want EXDEV", pid_err);
	if (syscall(SYS_getpid) != getpid() || getpid() <= 0)
		case_fail("getpid() in the main thread fails");
	if (field(filtered_tid, "Seccomp") != 2 || field(filtered_tid, "Seccomp_filters") != 1 ||
	    field(filtered_tid, "NoNewPrivs") != 1)
		case_fail("the filtered thread: seccomp %ld, %ld filters, no_new_privs %ld; want 2, 1, 1",
			  field(filtered_tid, "Seccomp"), field(filtered_tid, "Seccomp_filters"),
			  field(filtered_tid, "NoNewPrivs"));
	if (field(me, "Seccomp") != 0 || field(me, "NoNewPrivs") != 0)
		case_fail("the main thread: seccomp %ld, no_new_privs %ld; want 0, 0",
			  field(me, "Seccomp"), field(me, "NoNewPrivs"));
	case_pass();
}
