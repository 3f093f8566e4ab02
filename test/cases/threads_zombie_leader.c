/*
 * The main thread has exited (pthread_exit) while two others run: a
 * "zombie leader" process. It comes back the same: the leader gone, the
 * two threads counting, and the process ends when they call exit().
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile unsigned long counts[2];

static void *counter(void *arg)
{
	long id = (long)arg;

	for (;;)
		counts[id]++;
	return NULL;
}

static void *checker(void *arg)
{
	unsigned long before[2];
	char path[64], state = 0;
	FILE *f;

	while (counts[0] < 1000 || counts[1] < 1000)
		usleep(1000);
	case_ready();
	case_wait_go();
	before[0] = counts[0];
	before[1] = counts[1];
	/* Both must count on; on a busy machine that may take a while. */
	for (int i = 0; counts[0] == before[0] || counts[1] == before[1]; i++) {
		if (i == 30000)
			case_fail("a thread stopped counting (30 s)");
		usleep(1000);
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", getpid(), getpid());
	f = fopen(path, "r");
	if (!f || fscanf(f, "%*d %*s %c", &state) != 1)
		case_fail("can't read the main thread's state");
	fclose(f);
	if (state != 'Z')
		case_fail("the main thread is in state %c, want Z (exited)", state);
	case_pass();
	return NULL;
}

int main(void)
{
	pthread_t t;

	case_init();
	for (long i = 0; i < 2; i++)
		if (pthread_create(&t, NULL, counter, (void *)i))
			case_fail("pthread_create: %s", strerror(errno));
	if (pthread_create(&t, NULL, checker, NULL))
		case_fail("pthread_create: %s", strerror(errno));
	pthread_exit(NULL);
}
