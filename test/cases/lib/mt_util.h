/* Small helpers for the multi-threaded cases (threads_*.c, mt_*.c). */
#ifndef CREST_MT_UTIL_H
#define CREST_MT_UTIL_H

#include "caselib.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

static inline pid_t mt_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* The state letter of /proc/self/task/TID/stat, or '?' if unreadable. */
static inline char mt_task_state(pid_t tid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return '?';
	return p[2];
}

/* Wait (up to ~5 s) until thread TID sleeps in the kernel ('S'). */
static inline void mt_wait_sleeping(pid_t tid, const char *what)
{
	for (int i = 0; i < 5000; i++) {
		if (mt_task_state(tid) == 'S')
			return;
		usleep(1000);
	}
	case_fail("%s (tid %d) never went to sleep (state %c)", what, (int)tid,
		  mt_task_state(tid));
}

/* Block SIGUSR2 in the calling thread (threads created afterwards inherit
 * it) or unblock it again. */
static inline void mt_block_go(int block)
{
	sigset_t s;
	int err;

	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	err = pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &s, NULL);
	if (err)
		case_fail("pthread_sigmask(SIGUSR2): %s", strerror(err));
}

static inline double mt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait for the go signal from a thread that blocks SIGUSR2 itself. */
static inline void mt_wait_go(void)
{
	while (!case_go)
		usleep(1000);
}

/* Compare two signal sets over all signals; returns the first differing
 * signal number or 0. */
static inline int mt_sigset_diff(const sigset_t *a, const sigset_t *b)
{
	for (int s = 1; s <= SIGRTMAX; s++)
		if (sigismember(a, s) != sigismember(b, s))
			return s;
	return 0;
}

#endif
