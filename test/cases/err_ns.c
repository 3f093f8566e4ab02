/*
 * Namespaces and IPC objects crest does not save yet, each to be refused
 * by name (test/run's errors mode starts it under unshare --net --cgroup
 * --time --ipc): its network, cgroup and time namespaces, a POSIX
 * message queue and a System V segment it keeps attached.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <string.h>
#include <sys/shm.h>

int main(void)
{
	mqd_t q;
	int shm;
	char *p;

	case_init();
	q = mq_open("/crest-err-ns", O_CREAT | O_RDWR, 0600, NULL);
	if (q == (mqd_t)-1)
		case_fail("mq_open: %s", strerror(errno));
	shm = shmget(IPC_PRIVATE, 4096, 0600);
	p = shm < 0 ? (void *)-1 : shmat(shm, NULL, 0);
	if (p == (void *)-1)
		case_fail("shmget/shmat: %s", strerror(errno));
	strcpy(p, "attached");
	case_ready();
	case_wait_go();
	if (strcmp(p, "attached"))
		case_fail("the segment holds '%s'", p);
	case_pass();
}
