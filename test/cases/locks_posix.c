/*
 * POSIX locks (fcntl F_SETLK and lockf) of several ranges and types on two
 * files, one of them seen through two fds (a dup) and open a second time
 * without locks. After the restore the process shows the same lock lines
 * in fdinfo, with its own pid; an outside process (a checker forked now,
 * which inherits no POSIX lock) sees each range held by us with F_GETLK,
 * fails to take a conflicting lock, can take the free ranges, and gets a
 * range once we unlock it.
 */
#include "locks_util.h"

static char a_path[4096], b_path[4096];

struct probe {
	const char *path;
	int type;		/* what the checker asks for */
	off_t start, len;
	int want;		/* F_UNLCK: free; else the type of our lock */
};

static const struct probe probes[] = {
	{ a_path, F_RDLCK, 0, 10, F_WRLCK },
	{ a_path, F_WRLCK, 5, 1, F_WRLCK },
	{ a_path, F_WRLCK, 10, 10, F_UNLCK },
	{ a_path, F_RDLCK, 20, 10, F_UNLCK },	/* read on our read lock */
	{ a_path, F_WRLCK, 25, 1, F_RDLCK },
	{ a_path, F_WRLCK, 30, 20, F_UNLCK },
	{ a_path, F_RDLCK, 50, 1, F_WRLCK },
	{ a_path, F_WRLCK, 1 << 20, 0, F_WRLCK },	/* beyond EOF too */
	{ b_path, F_WRLCK, 0, 5, F_RDLCK },
	{ b_path, F_RDLCK, 0, 5, F_UNLCK },
	{ b_path, F_WRLCK, 5, 0, F_UNLCK },
};

static int checker(void *arg)
{
	pid_t holder = getppid();
	int afd = open(a_path, O_RDWR), bfd = open(b_path, O_RDWR);

	(void)arg;
	if (afd < 0 || bfd < 0)
		return lk_bad("checker: open: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		const struct probe *p = &probes[i];
		int fd = p->path == a_path ? afd : bfd;
		struct flock fl = lk_range(p->type, p->start, p->len);
		int r;

		if (fcntl(fd, F_GETLK, &fl))
			return lk_bad("F_GETLK: %s", strerror(errno));
		if (fl.l_type != p->want)
			return lk_bad("probe %zu (%s %lld+%lld): F_GETLK says type %d, want %d",
				      i, p->path == a_path ? "a" : "b", (long long)p->start,
				      (long long)p->len, fl.l_type, p->want);
		if (p->want != F_UNLCK && fl.l_pid != holder)
			return lk_bad("probe %zu: held by pid %d, want the holder %d",
				      i, fl.l_pid, holder);
		fl = lk_range(p->type, p->start, p->len);
		r = fcntl(fd, F_SETLK, &fl);
		if (p->want != F_UNLCK && (r == 0 || (errno != EAGAIN && errno != EACCES)))
			return lk_bad("probe %zu: F_SETLK of a held range: %d (%s)", i, r,
				      r ? strerror(errno) : "taken!");
		if (p->want == F_UNLCK && r)
			return lk_bad("probe %zu: F_SETLK of a free range: %s", i,
				      strerror(errno));
		fl = lk_range(F_UNLCK, p->start, p->len);
		fcntl(fd, F_SETLK, &fl);
	}
	return 0;
}

static int checker_after_unlock(void *arg)
{
	int afd = open(a_path, O_RDWR);
	struct flock fl = lk_range(F_WRLCK, 0, 10);

	(void)arg;
	if (afd < 0)
		return lk_bad("checker: open: %s", strerror(errno));
	if (fcntl(afd, F_SETLK, &fl))
		return lk_bad("F_SETLK of a range unlocked by the holder: %s",
			      strerror(errno));
	return 0;
}

int main(void)
{
	char a_before[1024], b_before[1024], b2_before[1024], after[1024];
	int afd, bfd, bdup, bother, pid = 0;

	case_init();
	lk_mkfile(a_path, "posix-a", 100);
	lk_mkfile(b_path, "posix-b", 100);
	afd = lk_open(a_path, O_RDWR);
	lk_set(afd, F_SETLK, F_WRLCK, 0, 10);
	lk_set(afd, F_SETLK, F_RDLCK, 20, 10);
	if (lseek(afd, 50, SEEK_SET) != 50 || lockf(afd, F_LOCK, 0))
		case_fail("lockf: %s", strerror(errno));
	lseek(afd, 7, SEEK_SET);
	bfd = lk_open(b_path, O_RDONLY);
	lk_set(bfd, F_SETLK, F_RDLCK, 0, 5);
	bdup = dup(bfd);
	bother = lk_open(b_path, O_RDWR);	/* no lock through this one */
	if (lk_fdinfo(afd, a_before, sizeof(a_before), NULL) != 3 ||
	    lk_fdinfo(bfd, b_before, sizeof(b_before), NULL) != 1 ||
	    lk_fdinfo(bdup, b2_before, sizeof(b2_before), NULL) != 1 ||
	    lk_fdinfo(bother, after, sizeof(after), NULL) != 0)
		case_fail("the locks are not as set up:\n%s%s", a_before, b_before);

	case_ready();
	case_wait_go();

	if (lk_fdinfo(afd, after, sizeof(after), &pid) != 3 || strcmp(after, a_before))
		case_fail("fd %d locks after restore:\n%swant:\n%s", afd, after, a_before);
	if (pid != getpid())
		case_fail("the locks of fd %d belong to pid %d, not us (%d)", afd,
			  pid, getpid());
	if (lk_fdinfo(bfd, after, sizeof(after), NULL) != 1 || strcmp(after, b_before))
		case_fail("fd %d locks after restore:\n%swant:\n%s", bfd, after, b_before);
	if (lk_fdinfo(bdup, after, sizeof(after), NULL) != 1 || strcmp(after, b2_before))
		case_fail("fd %d (a dup) locks after restore:\n%s", bdup, after);
	if (lk_fdinfo(bother, after, sizeof(after), NULL) != 0)
		case_fail("fd %d has locks after restore:\n%s", bother, after);
	if (lseek(afd, 0, SEEK_CUR) != 7)
		case_fail("offset of fd %d moved", afd);

	lk_check("held ranges", checker, NULL);
	lk_set(afd, F_SETLK, F_UNLCK, 0, 10);
	lk_check("after unlock", checker_after_unlock, NULL);
	lk_unlink(a_path);
	lk_unlink(b_path);
	case_pass();
}
