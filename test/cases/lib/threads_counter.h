/*
 * NTHREADS threads, each bumping its own counter and, under a mutex, a
 * shared one. After the restore every thread must still run, the shared
 * counter must equal the sum of the shared increments, and every thread
 * must be joinable with its own result.
 */
#include "caselib.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile uint64_t own[NTHREADS];
static uint64_t shared_count, shared_sum[NTHREADS];
static volatile int quit;
static pid_t tids[NTHREADS];

static void *worker(void *arg)
{
	long id = (long)arg;

	tids[id] = syscall(SYS_gettid);
	while (!quit) {
		own[id]++;
		if (own[id] % 64 == 0) {
			pthread_mutex_lock(&lock);
			shared_count++;
			shared_sum[id]++;
			pthread_mutex_unlock(&lock);
		}
		if (own[id] % 1024 == 0)
			sched_yield();
	}
	return (void *)(id * 1000 + 7);
}

int main(void)
{
	pthread_t th[NTHREADS];
	uint64_t before[NTHREADS], total = 0;

	case_init();
	for (long i = 0; i < NTHREADS; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)i))
			case_fail("pthread_create: %s", strerror(errno));
	for (int i = 0; i < NTHREADS; i++)
		while (own[i] < 1000)
			usleep(1000);
	case_ready();
	case_wait_go();

	/*
	 * Every thread must move on; on a busy machine one may wait its turn
	 * for a while, so wait for each (bounded) instead of a fixed sleep
	 * that hopes they all ran.
	 */
	for (int i = 0; i < NTHREADS; i++)
		before[i] = own[i];
	for (int i = 0; i < NTHREADS; i++) {
		for (int ms = 0; ms < 30000 && own[i] == before[i]; ms++)
			usleep(1000);
		if (own[i] == before[i]) {
			char path[64];

			snprintf(path, sizeof(path), "/proc/self/task/%d", tids[i]);
			case_fail("thread %d (tid %d) no longer runs (%s)", i, tids[i],
				  access(path, F_OK) ? "it is gone" : "it is there");
		}
	}
	quit = 1;
	for (long i = 0; i < NTHREADS; i++) {
		void *ret;

		if (pthread_join(th[i], &ret))
			case_fail("pthread_join %ld: %s", i, strerror(errno));
		if ((long)ret != i * 1000 + 7)
			case_fail("thread %ld returned %ld", i, (long)ret);
	}
	for (int i = 0; i < NTHREADS; i++)
		total += shared_sum[i];
	if (total != shared_count)
		case_fail("shared counter %llu, the threads added %llu",
			  (unsigned long long)shared_count, (unsigned long long)total);
	case_pass();
}
