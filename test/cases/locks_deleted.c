/*
 * Locks on a file deleted while open (saved by content, back deleted): a
 * POSIX write lock on one range and a flock. After the restore an outside
 * checker, opening the file through /proc/PID/fd (it has no name), sees
 * the POSIX lock held by us and can't flock it.
 */
#include "locks_util.h"

#include <sys/file.h>

static pid_t holder;
static int lfd;

static int checker(void *arg)
{
	struct flock fl = lk_range(F_WRLCK, 0, 1);
	char path[64];
	int fd;

	(void)arg;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", holder, lfd);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return lk_bad("open %s: %s", path, strerror(errno));
	if (fcntl(fd, F_GETLK, &fl) || fl.l_type != F_WRLCK || fl.l_pid != holder)
		return lk_bad("F_GETLK: type %d pid %d, want %d %d", fl.l_type,
			      fl.l_pid, F_WRLCK, holder);
	if (!flock(fd, LOCK_SH | LOCK_NB))
		return lk_bad("the flock on the deleted file is gone");
	return 0;
}

int main(void)
{
	char path[4096], before[512], after[512];

	case_init();
	lk_mkfile(path, "deleted", 100);
	lfd = lk_open(path, O_RDWR);
	lk_set(lfd, F_SETLK, F_WRLCK, 0, 50);
	if (flock(lfd, LOCK_EX | LOCK_NB))
		case_fail("flock: %s", strerror(errno));
	if (unlink(path))
		case_fail("unlink: %s", strerror(errno));
	if (lk_fdinfo(lfd, before, sizeof(before), NULL) != 2)
		case_fail("locks not as set up:\n%s", before);

	case_ready();
	case_wait_go();

	if (lk_fdinfo(lfd, after, sizeof(after), NULL) != 2 || strcmp(after, before))
		case_fail("locks after restore:\n%swant:\n%s", after, before);
	holder = getpid();
	lk_check("deleted file", checker, NULL);
	case_pass();
}
