/*
 * OFD locks (F_OFD_SETLK): a write and a read range on a description we
 * share with a child (forked before the dump), and the child's own read
 * lock on a description of its own. After the restore both fdinfos show
 * them; an outside checker sees them with F_OFD_GETLK (pid -1) and with
 * F_GETLK, can't take a conflicting one, can share the read range; the
 * child, holding the same description, takes our write range without
 * conflict (the lock is the description's); once we unlock, the checker
 * gets the range.
 */
#include "locks_util.h"

static char path[4096];

static int checker(void *arg)
{
	int fd = open(path, O_RDWR);
	struct flock fl;

	(void)arg;
	if (fd < 0)
		return lk_bad("checker: open: %s", strerror(errno));
	fl = lk_range(F_RDLCK, 10, 1);
	if (fcntl(fd, F_OFD_GETLK, &fl) || fl.l_type != F_WRLCK || fl.l_pid != -1)
		return lk_bad("F_OFD_GETLK of the write range: type %d pid %d, want %d -1",
			      fl.l_type, fl.l_pid, F_WRLCK);
	fl = lk_range(F_WRLCK, 0, 100);
	if (fcntl(fd, F_GETLK, &fl) || fl.l_type != F_WRLCK)
		return lk_bad("F_GETLK of the write range: type %d", fl.l_type);
	fl = lk_range(F_WRLCK, 0, 1);
	if (!fcntl(fd, F_OFD_SETLK, &fl) || (errno != EAGAIN && errno != EACCES))
		return lk_bad("took a write lock on a held range (%s)", strerror(errno));
	fl = lk_range(F_WRLCK, 250, 1);
	if (!fcntl(fd, F_OFD_SETLK, &fl))
		return lk_bad("took a write lock on the read-locked range");
	fl = lk_range(F_RDLCK, 200, 100);
	if (fcntl(fd, F_OFD_SETLK, &fl))
		return lk_bad("can't share the read-locked range: %s", strerror(errno));
	fl = lk_range(F_WRLCK, 100, 100);
	if (fcntl(fd, F_OFD_SETLK, &fl))
		return lk_bad("can't lock the free range: %s", strerror(errno));
	return 0;
}

static int checker_unlocked(void *arg)
{
	int fd = open(path, O_RDWR);
	struct flock fl = lk_range(F_WRLCK, 0, 100);

	(void)arg;
	if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl))
		return lk_bad("can't lock the range we unlocked: %s", strerror(errno));
	return 0;
}

int main(void)
{
	char before[1024], cbefore[1024], after[1024], c;
	int fd, go[2], done[2], st;
	pid_t child;

	case_init();
	lk_mkfile(path, "ofd", 400);
	fd = lk_open(path, O_RDWR);
	lk_set(fd, F_OFD_SETLK, F_WRLCK, 0, 100);
	lk_set(fd, F_OFD_SETLK, F_RDLCK, 200, 100);
	if (lk_fdinfo(fd, before, sizeof(before), NULL) != 2)
		case_fail("locks not as set up:\n%s", before);
	if (pipe(go) || pipe(done))
		case_fail("pipe: %s", strerror(errno));
	child = fork();
	if (child < 0)
		case_fail("fork: %s", strerror(errno));
	if (!child) {
		int own = lk_open(path, O_RDONLY);

		lk_set(own, F_OFD_SETLK, F_RDLCK, 250, 10);
		lk_fdinfo(own, cbefore, sizeof(cbefore), NULL);
		if (write(done[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		if (lk_fdinfo(fd, after, sizeof(after), NULL) != 2 || strcmp(after, before))
			case_fail("child: the shared description's locks:\n%s", after);
		if (lk_fdinfo(own, after, sizeof(after), NULL) != 1 || strcmp(after, cbefore))
			case_fail("child: its own OFD lock:\n%swant\n%s", after, cbefore);
		/* Same description: no conflict with "our" lock. */
		lk_set(fd, F_OFD_SETLK, F_WRLCK, 0, 100);
		_exit(write(done[1], "c", 1) == 1 ? 0 : 3);
	}
	if (read(done[0], &c, 1) != 1)
		case_fail("child did not start");

	case_ready();
	case_wait_go();

	if (lk_fdinfo(fd, after, sizeof(after), NULL) != 2 || strcmp(after, before))
		case_fail("locks after restore:\n%swant:\n%s", after, before);
	lk_check("held ranges", checker, NULL);
	if (write(go[1], "g", 1) != 1 || read(done[0], &c, 1) != 1)
		case_fail("child gone");
	if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		case_fail("child failed: status %#x", st);
	lk_set(fd, F_OFD_SETLK, F_UNLCK, 0, 100);
	lk_check("after unlock", checker_unlocked, NULL);
	lk_unlink(path);
	case_pass();
}
