/*
 * Thread churn across the checkpoint: the main thread creates and joins
 * short-lived threads in a tight loop (each bumps a counter, checks it got
 * its own TID and returns its round number), so the dump catches threads
 * being born and dying. After go the loop goes on for 200 more rounds; the
 * counter and every return value must match, and only the main thread may
 * remain in the end.
 */
#include "mt_util.h"

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>

static volatile uint64_t counter;
static volatile int bad_tid;
static pid_t main_tid;

static void *child(void *arg)
{
	__atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST);
	if (mt_gettid() == main_tid || getpid() != main_tid)
		bad_tid = 1;
	return (void *)((uintptr_t)arg * 3 + 1);
}

static void round_once(uint64_t n)
{
	pthread_t t;
	void *ret;
	int err;

	if ((err = pthread_create(&t, NULL, child, (void *)(uintptr_t)n)))
		case_fail("round %llu: pthread_create: %s", (unsigned long long)n,
			  strerror(err));
	if ((err = pthread_join(t, &ret)))
		case_fail("round %llu: pthread_join: %s", (unsigned long long)n,
			  strerror(err));
	if ((uintptr_t)ret != n * 3 + 1)
		case_fail("round %llu: thread returned %#lx, want %#llx",
			  (unsigned long long)n, (unsigned long)(uintptr_t)ret,
			  (unsigned long long)(n * 3 + 1));
	if (counter != n + 1)
		case_fail("after round %llu the counter is %llu, want %llu",
			  (unsigned long long)n, (unsigned long long)counter,
			  (unsigned long long)(n + 1));
	if (bad_tid)
		case_fail("round %llu: a thread saw a wrong TID/PID (main %d)",
			  (unsigned long long)n, (int)main_tid);
}

static int count_tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		case_fail("opendir /proc/self/task: %s", strerror(errno));
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int main(void)
{
	uint64_t n = 0, at_go;
	int tasks;

	case_init();
	main_tid = mt_gettid();
	if (main_tid != getpid())
		case_fail("main tid %d != pid %d", (int)main_tid, (int)getpid());
	/* SIGUSR2 stays unblocked everywhere: whichever thread takes the go
	 * signal, the handler only sets a global flag. */
	for (; n < 100; n++)
		round_once(n);
	case_ready();
	while (!case_go)
		round_once(n++);
	at_go = n;
	for (int k = 0; k < 200; k++)
		round_once(n++);
	if (counter != n)
		case_fail("counter %llu after %llu rounds", (unsigned long long)counter,
			  (unsigned long long)n);
	if (mt_gettid() != main_tid || getpid() != main_tid)
		case_fail("main thread is now tid %d pid %d, was %d", (int)mt_gettid(),
			  (int)getpid(), (int)main_tid);
	tasks = count_tasks();
	if (tasks != 1)
		case_fail("%d tasks in /proc/self/task after the last join, want 1", tasks);
	printf("%llu rounds, %llu before go\n", (unsigned long long)n,
	       (unsigned long long)at_go);
	case_pass();
}
