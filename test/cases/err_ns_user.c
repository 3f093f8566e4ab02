/*
 * A user namespace crest does not restore yet, refused by name (test/run's
 * errors mode starts it under unshare --user --map-root-user --pid --fork):
 * its PID namespace is owned by its user namespace (made in it), and it
 * has a second thread (only a single-threaded process can join a user
 * namespace).
 */
#include "caselib.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

static void *idle(void *arg)
{
	for (;;)
		pause();
	return arg;
}

int main(void)
{
	pthread_t t;

	case_init();
	if (pthread_create(&t, NULL, idle, NULL))
		case_fail("pthread_create failed");
	case_ready();
	case_wait_go();
	case_pass();
}
