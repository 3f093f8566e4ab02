/*
 * System V shared memory of the machine's IPC namespace (crest's own),
 * attached by a parent and its child, as PostgreSQL keeps its segment: a
 * keyed segment attached read-write by both, a private one attached
 * SHM_RDONLY by the parent, and one removed (IPC_RMID) while attached.
 * After the restore each is attached where it was with its bytes, the
 * keyed one found by its key, the kernel counts as many attaches, a write
 * by the child is read by the parent, the removed one is still removed
 * and goes with its last detach. At the end the process removes what it
 * made, so a second restore of the same images makes them again.
 */
#include "caselib.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE	4096

static unsigned long nattch(int id)
{
	struct shmid_ds sd;

	if (shmctl(id, IPC_STAT, &sd))
		case_fail("shmctl(%d, IPC_STAT): %s", id, strerror(errno));
	return sd.shm_nattch;
}

int main(void)
{
	int k, p, r, go[2], back[2], status;
	char *pk, *pp, *pr, c;
	key_t key = 0x5e000000 | (getpid() & 0xffffff);
	struct shmid_ds sd;
	pid_t child;

	case_init();
	k = shmget(key, 3 * PAGE, IPC_CREAT | IPC_EXCL | 0600);
	p = shmget(IPC_PRIVATE, PAGE + 10, 0640);
	r = shmget(IPC_PRIVATE, PAGE, 0600);
	if (k < 0 || p < 0 || r < 0)
		case_fail("shmget: %s", strerror(errno));
	pk = shmat(k, NULL, 0);
	pp = shmat(p, NULL, 0);
	pr = shmat(r, NULL, 0);
	if (pk == (void *)-1 || pp == (void *)-1 || pr == (void *)-1)
		case_fail("shmat: %s", strerror(errno));
	strcpy(pk + 2 * PAGE, "keyed");
	strcpy(pp + PAGE, "private");
	strcpy(pr, "removed");
	if (shmdt(pp) || (pp = shmat(p, NULL, SHM_RDONLY)) == (void *)-1 ||
	    shmctl(r, IPC_RMID, NULL))
		case_fail("shmdt/shmat(SHM_RDONLY)/IPC_RMID: %s", strerror(errno));
	if (pipe(go) || pipe(back))
		case_fail("pipe: %s", strerror(errno));
	child = fork();
	if (child < 0)
		case_fail("fork: %s", strerror(errno));
	if (child == 0) {
		if (write(back[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		strcpy(pk + 100, "child after");
		_exit(strcmp(pr, "removed") ? 3 : 0);
	}
	if (read(back[0], &c, 1) != 1)
		case_fail("the child did not start");
	case_ready();
	case_wait_go();

	if (nattch(k) != 2 || nattch(p) != 2 || nattch(r) != 2)
		case_fail("%lu, %lu and %lu attaches, want 2 each", nattch(k), nattch(p), nattch(r));
	if (shmget(key, 0, 0) != k)
		case_fail("key %#x is segment %d, want %d", key, shmget(key, 0, 0), k);
	if (strcmp(pk + 2 * PAGE, "keyed") || strcmp(pp + PAGE, "private") || strcmp(pr, "removed"))
		case_fail("the segments hold '%s', '%s', '%s'", pk + 2 * PAGE, pp + PAGE, pr);
	if (shmctl(r, IPC_STAT, &sd) || !(sd.shm_perm.mode & SHM_DEST))
		case_fail("the removed segment is not removed (mode %#o)", sd.shm_perm.mode);
	if (shmctl(p, IPC_STAT, &sd) || (sd.shm_perm.mode & 0777) != 0640)
		case_fail("the private segment has mode %#o", sd.shm_perm.mode);
	if (write(go[1], "g", 1) != 1)
		case_fail("write: %s", strerror(errno));
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("the child did not see the segments: status %#x", status);
	if (strcmp(pk + 100, "child after"))
		case_fail("the child's write is not in the parent's attach");
	if (shmdt(pr) || shmctl(r, IPC_STAT, &sd) == 0)
		case_fail("the removed segment is still there after its last detach");
	if (shmdt(pk) || shmdt(pp) || shmctl(k, IPC_RMID, NULL) || shmctl(p, IPC_RMID, NULL))
		case_fail("shmdt/IPC_RMID: %s", strerror(errno));
	case_pass();
}
