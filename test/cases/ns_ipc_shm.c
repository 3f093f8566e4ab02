/*
 * System V shared memory attached (shmat) in an IPC namespace of the
 * tree (test/run starts it under unshare --ipc): a private segment the
 * parent attached read-write, then split (one page made read-only, one
 * unmapped) and shared with its child by fork; a keyed one attached
 * SHM_RDONLY and locked (SHM_LOCK); one removed (IPC_RMID) while
 * attached by both. After the restore each mapping is where it was, with
 * its bytes and protection, the kernel counts as many attaches as before,
 * parent and child still share the segment (a write by one is read by
 * the other), the read-only attach can't be made writable, the locked
 * one is locked, the removed one is still removed (no key, SHM_DEST) and
 * goes with its last detach, and shmdt() at the attach's address
 * detaches every piece of it.
 */
#include "caselib.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE	4096
#define A_SIZE	(5 * PAGE + 100)
#define B_KEY	0x5eed
#define B_SIZE	(3 * PAGE)

static unsigned char pattern(size_t i, int seed)
{
	return (unsigned char)(i * 7 + seed + i / 251);
}

static unsigned long nattch(int id)
{
	struct shmid_ds sd;

	if (shmctl(id, IPC_STAT, &sd))
		case_fail("shmctl(%d, IPC_STAT): %s", id, strerror(errno));
	return sd.shm_nattch;
}

static void check_bytes(const unsigned char *p, size_t from, size_t to, int seed, const char *what)
{
	for (size_t i = from; i < to; i++)
		if (p[i] != pattern(i, seed))
			case_fail("%s byte %zu is %u, want %u", what, i, p[i], pattern(i, seed));
}

int main(void)
{
	int a, b, r, go[2], back[2], status;
	unsigned long na, nb;
	unsigned char *pa, *pb, *pr;
	struct shmid_ds sd;
	pid_t child, pid = getpid();
	char c;

	case_init();
	if (!case_own_ns("ipc"))
		case_fail("not in an IPC namespace of its own (run it under unshare --ipc through test/run)");
	a = shmget(IPC_PRIVATE, A_SIZE, 0600);
	b = shmget(B_KEY, B_SIZE, IPC_CREAT | 0640);
	if (a < 0 || b < 0)
		case_fail("shmget: %s", strerror(errno));
	pa = shmat(a, NULL, 0);
	pb = shmat(b, NULL, 0);
	if (pa == (void *)-1 || pb == (void *)-1)
		case_fail("shmat: %s", strerror(errno));
	r = shmget(IPC_PRIVATE, PAGE, 0644);
	pr = r < 0 ? (void *)-1 : shmat(r, NULL, 0);
	if (pr == (void *)-1)
		case_fail("shmget/shmat of the removed one: %s", strerror(errno));
	strcpy((char *)pr, "removed, still here");
	if (shmctl(r, IPC_RMID, NULL) || shmctl(b, SHM_LOCK, NULL))
		case_fail("IPC_RMID/SHM_LOCK: %s", strerror(errno));
	for (size_t i = 0; i < A_SIZE; i++)
		pa[i] = pattern(i, 1);
	for (size_t i = 0; i < B_SIZE; i++)
		pb[i] = pattern(i, 2);
	if (shmdt(pb))
		case_fail("shmdt: %s", strerror(errno));
	pb = shmat(b, NULL, SHM_RDONLY);
	if (pb == (void *)-1)
		case_fail("shmat(SHM_RDONLY): %s", strerror(errno));
	/* Four pieces of one attach: rw, r, rw, (hole), rw rw. */
	if (mprotect(pa + PAGE, PAGE, PROT_READ) || munmap(pa + 3 * PAGE, PAGE))
		case_fail("mprotect/munmap: %s", strerror(errno));
	if (pipe(go) || pipe(back))
		case_fail("pipe: %s", strerror(errno));
	child = fork();
	if (child < 0)
		case_fail("fork: %s", strerror(errno));
	if (child == 0) {
		if (write(back[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		/* After the restore: the parent's write shows, ours goes back. */
		if (memcmp(pa + 2 * PAGE + 10, "parent after", 12))
			_exit(3);
		memcpy(pa + 4 * PAGE + 20, "child after", 11);
		if (strcmp((char *)pr, "removed, still here"))
			_exit(4);
		_exit(0);
	}
	if (read(back[0], &c, 1) != 1)
		case_fail("the child did not start");
	na = nattch(a);
	nb = nattch(b);
	if (na != 8 || nb != 2)
		case_fail("before the dump: %lu and %lu attaches, want 8 and 2", na, nb);
	case_ready();
	case_wait_go();

	if (getpid() != pid)
		case_fail("getpid() %d, was %d", getpid(), pid);
	if (nattch(a) != na || nattch(b) != nb)
		case_fail("%lu and %lu attaches after the restore, were %lu and %lu", nattch(a),
			  nattch(b), na, nb);
	check_bytes(pa, 0, 3 * PAGE, 1, "segment a");
	check_bytes(pa, 4 * PAGE, A_SIZE, 1, "segment a");
	check_bytes(pb, 0, B_SIZE, 2, "segment b");
	if (shmctl(b, IPC_STAT, &sd) || !(sd.shm_perm.mode & SHM_LOCKED))
		case_fail("segment b is no longer locked (mode %#o)", sd.shm_perm.mode);
	if (shmctl(r, IPC_STAT, &sd) || !(sd.shm_perm.mode & SHM_DEST) ||
	    sd.shm_perm.__key != IPC_PRIVATE || sd.shm_nattch != 2)
		case_fail("the removed segment: %s, mode %#o, key %#x, %lu attaches",
			  strerror(errno), sd.shm_perm.mode, sd.shm_perm.__key,
			  (unsigned long)sd.shm_nattch);
	if (strcmp((char *)pr, "removed, still here"))
		case_fail("the removed segment holds '%s'", pr);
	if (shmget(B_KEY, 0, 0) != b)
		case_fail("key %#x is segment %d, want %d", B_KEY, shmget(B_KEY, 0, 0), b);
	/* The read-only attach stays one: no write permission to take. */
	if (!mprotect(pb, PAGE, PROT_READ | PROT_WRITE) || errno != EACCES)
		case_fail("mprotect(PROT_WRITE) of the SHM_RDONLY attach: %s, want EACCES",
			  strerror(errno));
	/* The read-only page of a: a write would fault; mprotect back works. */
	if (mprotect(pa + PAGE, PAGE, PROT_READ | PROT_WRITE))
		case_fail("mprotect of a's read-only page: %s", strerror(errno));
	pa[PAGE + 5] = pattern(PAGE + 5, 1);
	memcpy(pa + 2 * PAGE + 10, "parent after", 12);
	if (write(go[1], "g", 1) != 1)
		case_fail("write: %s", strerror(errno));
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("the child did not see the segment shared: status %#x", status);
	if (memcmp(pa + 4 * PAGE + 20, "child after", 11))
		case_fail("the child's write after the restore is not in the parent's mapping");
	/* The child's four are gone with it; shmdt() takes the parent's four. */
	if (nattch(a) != na / 2)
		case_fail("%lu attaches of a after the child exited, want %lu", nattch(a), na / 2);
	if (shmdt(pa) || nattch(a) != 0)
		case_fail("shmdt at a's address: %s, %lu attaches left", strerror(errno), nattch(a));
	/* The removed one goes with its last attach, ours. */
	if (shmdt(pr) || shmctl(r, IPC_STAT, &sd) == 0 || (errno != EINVAL && errno != EIDRM))
		case_fail("the removed segment is still there after its last shmdt (%s)",
			  strerror(errno));
	case_pass();
}
