/*
 * flock(2): an exclusive lock on one file, on a description we share with
 * a child forked before the dump, and a shared lock on another file that
 * the child also holds shared through a description of its own. After
 * the restore the locks show with our pid (the taker's); an outside
 * checker can't lock the first file at all, can share the second but not
 * lock it exclusively; once we unlock the shared description (for the
 * child too) the checker gets the first file, and the second only when
 * both we and the child let go.
 */
#include "locks_util.h"

#include <sys/file.h>

static char a_path[4096], b_path[4096];

static int try(const char *path, int how)
{
	int fd = open(path, O_RDONLY), r;

	if (fd < 0)
		return -2;
	r = flock(fd, how | LOCK_NB);
	if (r && errno != EWOULDBLOCK)
		r = -2;
	close(fd);
	return r;
}

static int checker_held(void *arg)
{
	(void)arg;
	if (try(a_path, LOCK_SH) != -1 || try(a_path, LOCK_EX) != -1)
		return lk_bad("the exclusively flocked file is free to the checker");
	if (try(b_path, LOCK_SH) != 0)
		return lk_bad("can't share the shared flock");
	if (try(b_path, LOCK_EX) != -1)
		return lk_bad("took the shared-flocked file exclusively");
	return 0;
}

static int checker_a_free(void *arg)
{
	(void)arg;
	if (try(a_path, LOCK_EX) != 0)
		return lk_bad("the file we unlocked is still locked");
	if (try(b_path, LOCK_EX) != -1)
		return lk_bad("took the file the child still holds shared");
	return 0;
}

static int checker_b_free(void *arg)
{
	(void)arg;
	return try(b_path, LOCK_EX) ? lk_bad("the second file is still locked") : 0;
}

int main(void)
{
	char a_before[256], b_before[256], after[256], c;
	int afd, bfd, go[2], done[2], st, pid = 0;
	pid_t child;

	case_init();
	lk_mkfile(a_path, "flock-a", 10);
	lk_mkfile(b_path, "flock-b", 10);
	afd = lk_open(a_path, O_RDONLY);
	bfd = lk_open(b_path, O_RDWR);
	if (flock(afd, LOCK_EX | LOCK_NB) || flock(bfd, LOCK_SH | LOCK_NB))
		case_fail("flock: %s", strerror(errno));
	if (lk_fdinfo(afd, a_before, sizeof(a_before), NULL) != 1 ||
	    lk_fdinfo(bfd, b_before, sizeof(b_before), NULL) != 1)
		case_fail("locks not as set up");
	if (pipe(go) || pipe(done))
		case_fail("pipe: %s", strerror(errno));
	child = fork();
	if (child < 0)
		case_fail("fork: %s", strerror(errno));
	if (!child) {
		int own = lk_open(b_path, O_RDONLY);

		if (flock(own, LOCK_SH | LOCK_NB))
			case_fail("child: flock: %s", strerror(errno));
		if (write(done[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		if (lk_fdinfo(afd, after, sizeof(after), NULL) != 1)
			case_fail("child: the shared description lost its flock");
		if (lk_fdinfo(own, after, sizeof(after), &pid) != 1 || pid != getpid())
			case_fail("child: its own flock: %s (pid %d, we are %d)", after,
				  pid, getpid());
		if (write(done[1], "c", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		flock(own, LOCK_UN);
		_exit(write(done[1], "u", 1) == 1 ? 0 : 3);
	}
	if (read(done[0], &c, 1) != 1)
		case_fail("child did not start");

	case_ready();
	case_wait_go();

	if (lk_fdinfo(afd, after, sizeof(after), &pid) != 1 || strcmp(after, a_before))
		case_fail("flock of fd %d after restore: %swant %s", afd, after, a_before);
	if (pid != getpid())
		case_fail("the flock shows pid %d, we (who took it) are %d", pid, getpid());
	if (lk_fdinfo(bfd, after, sizeof(after), NULL) != 1 || strcmp(after, b_before))
		case_fail("flock of fd %d after restore: %swant %s", bfd, after, b_before);
	if (write(go[1], "g", 1) != 1 || read(done[0], &c, 1) != 1)
		case_fail("child gone");
	lk_check("held", checker_held, NULL);
	if (flock(afd, LOCK_UN) || flock(bfd, LOCK_UN))
		case_fail("flock(LOCK_UN): %s", strerror(errno));
	lk_check("first file free", checker_a_free, NULL);
	if (write(go[1], "g", 1) != 1 || read(done[0], &c, 1) != 1)
		case_fail("child gone");
	lk_check("second file free", checker_b_free, NULL);
	if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		case_fail("child failed: status %#x", st);
	lk_unlink(a_path);
	lk_unlink(b_path);
	case_pass();
}
