/*
 * Not a checkpoint/restore case: System V shared memory crest can't save,
 * so the errors mode expects each dump to refuse, naming it, and to leave
 * the processes running. The process attaches a segment of crest's (the
 * machine's) IPC namespace and has two children that inherit the attach:
 *   the first (dumped alone): stays in that namespace; its parent,
 *   outside the dumped tree, attaches the segment too;
 *   the second makes an IPC namespace (unshare) with a segment of its
 *   own, attached by it and by its child, the grandchild (dumped alone):
 *   its parent, outside the dumped tree, attaches its segment too, and it
 *   holds the first segment, of another namespace than its own.
 * After go, the segments still hold what was written, attached as before.
 */
#include "caselib.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

static char *attach_new(int *id, const char *text)
{
	char *p;

	*id = shmget(IPC_PRIVATE, 8192, 0600);
	p = *id < 0 ? (void *)-1 : shmat(*id, NULL, 0);
	if (p == (void *)-1)
		return NULL;
	strcpy(p + 4096, text);
	return p;
}

static unsigned long nattch(int id)
{
	struct shmid_ds sd;

	return shmctl(id, IPC_STAT, &sd) ? 0 : sd.shm_nattch;
}

int main(void)
{
	int id, sync[2], go2[2], status;
	pid_t child, first;
	char *p, c;

	case_init();
	p = attach_new(&id, "still attached");
	if (!p)
		case_fail("shmget/shmat: %s", strerror(errno));
	if (pipe(sync) || pipe(go2))
		case_fail("pipe: %s", strerror(errno));
	first = fork();
	if (first < 0)
		case_fail("fork: %s", strerror(errno));
	if (first == 0) {
		for (;;)
			pause();
	}
	child = fork();
	if (child < 0)
		case_fail("fork: %s", strerror(errno));
	if (child == 0) {
		int cid;
		char *cp;

		if (unshare(CLONE_NEWIPC) || !(cp = attach_new(&cid, "shared below")))
			_exit(2);
		if (fork() == 0) {
			/* The grandchild: attached by inheritance, as its parent. */
			if (write(sync[1], "r", 1) != 1 || read(go2[0], &c, 1) != 1)
				_exit(3);
			c = !strcmp(cp + 4096, "shared below") && nattch(cid) == 2 ? '0' : '4';
			_exit(write(sync[1], &c, 1) == 1 ? 0 : 5);
		}
		for (;;)
			pause();
	}
	if (read(sync[0], &c, 1) != 1)
		case_fail("the grandchild did not start");
	case_ready();
	case_wait_go();
	if (strcmp(p + 4096, "still attached"))
		case_fail("the segment holds '%s'", p + 4096);
	/* Ours, and the children's and grandchild's, inherited. */
	if (nattch(id) != 4)
		case_fail("segment %d: %lu attaches, want 4", id, nattch(id));
	if (shmdt(p) || shmctl(id, IPC_RMID, NULL))
		case_fail("shmdt/IPC_RMID: %s", strerror(errno));
	/* The grandchild checks its segment: still two attaches. */
	if (write(go2[1], "g", 1) != 1 || read(sync[0], &c, 1) != 1 || c != '0')
		case_fail("the grandchild's segment is not as it was (%c)", c);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	kill(first, SIGKILL);
	waitpid(first, &status, 0);
	case_pass();
}
