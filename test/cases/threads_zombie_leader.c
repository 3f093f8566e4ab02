/*
 * The main thread has exited (pthread_exit) while two others run: a
 * "zombie leader" process. It comes back the same: the leader gone, the
 * two threads counting, and the process ends when they call exit().
 * The exited main thread shows the signal mask it had.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
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

/* The main thread's state and SigBlk line. */
static char main_state(char *blk, size_t size)
{
	char path[64], line[256], state = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", getpid(), getpid());
	if (!(f = fopen(path, "r")))
		case_fail("can't read the main thread's status");
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "State:", 6))
			sscanf(line, "State: %c", &state);
		if (!strncmp(line, "SigBlk:", 7))
			snprintf(blk, size, "%s", line);
	}
	fclose(f);
	return state;
}

static void *checker(void *arg)
{
	char blk[256] = "", blk_after[256] = "";
	unsigned long before[2];
	char path[64], state = 0;
	FILE *f;

	while (counts[0] < 1000 || counts[1] < 1000)
		usleep(1000);
	for (int i = 0; main_state(blk, sizeof(blk)) != 'Z'; i++) {
		if (i == 30000)
			case_fail("the main thread did not exit (30 s)");
		usleep(1000);
	}
	/* SIGWINCH (28) and SIGRTMIN + 3 (37): bits 27 and 36. */
	if (!strstr(blk, "0000001008000000"))
		case_fail("the main thread exited with %s", blk);
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
	main_state(blk_after, sizeof(blk_after));
	if (strcmp(blk, blk_after))
		case_fail("the exited main thread's mask: %s, was %s", blk_after, blk);
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
	{
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGWINCH);
		sigaddset(&set, SIGRTMIN + 3);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
	}
	pthread_exit(NULL);
}
