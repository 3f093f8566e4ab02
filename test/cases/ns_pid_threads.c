/*
 * Threads in a PID namespace (test/run starts it under unshare --pid
 * --fork): PID 1 with three threads, each of which knows its TID inside
 * (gettid()). After the restore every thread has its TID inside again,
 * and each thread's host TID is as it was (the /proc audit).
 */
#include "caselib.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NR	3

static pid_t tids[NR];
static volatile int started, stop;

static void *thread(void *arg)
{
	int i = (int)(long)arg;

	tids[i] = syscall(SYS_gettid);
	__atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
	while (!stop) {
		if (syscall(SYS_gettid) != tids[i]) {
			printf("FAIL thread %d: gettid() %ld, was %d\n", i,
			       (long)syscall(SYS_gettid), tids[i]);
			fflush(stdout);
			_exit(1);
		}
		usleep(1000);
	}
	return NULL;
}

int main(void)
{
	pthread_t th[NR];

	case_init();
	if (getpid() != 1)
		case_fail("pid %d: not the init of a PID namespace (run it under unshare --pid --fork through test/run)",
			  getpid());
	for (long i = 0; i < NR; i++)
		if (pthread_create(&th[i], NULL, thread, (void *)i))
			case_fail("pthread_create");
	while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < NR)
		usleep(1000);
	case_ready();
	case_wait_go();
	if (getpid() != 1)
		case_fail("getpid() %d after the restore", getpid());
	stop = 1;
	for (int i = 0; i < NR; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < NR; i++)
		if (tids[i] != 2 + i)
			case_fail("thread %d had TID %d, want %d", i, tids[i], 2 + i);
	case_pass();
}
