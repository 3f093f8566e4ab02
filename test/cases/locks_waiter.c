/*
 * Children blocked on locks their parent holds: one in F_SETLKW (POSIX),
 * one in F_OFD_SETLKW, one in flock(LOCK_EX), each through a description
 * of its own. After the restore the parent still holds all three, each
 * child waits again (its request is back in /proc/locks) and gets nothing
 * until the parent unlocks; then each gets its lock, in turn.
 */
#include "locks_util.h"

#include <sys/file.h>
#include <sys/stat.h>

static char p_path[4096], o_path[4096], f_path[4096];

enum { W_POSIX, W_OFD, W_FLOCK, NW };

static void waiter(int kind, int report)
{
	struct flock fl = lk_range(F_WRLCK, 0, 10);
	int fd, r;

	switch (kind) {
	case W_POSIX:
		fd = lk_open(p_path, O_RDWR);
		r = fcntl(fd, F_SETLKW, &fl);
		break;
	case W_OFD:
		fd = lk_open(o_path, O_RDWR);
		r = fcntl(fd, F_OFD_SETLKW, &fl);
		break;
	default:
		fd = lk_open(f_path, O_RDONLY);
		r = flock(fd, LOCK_EX);
		break;
	}
	if (r)
		case_fail("waiter %d: %s", kind, strerror(errno));
	if (write(report, "POF" + kind, 1) != 1)
		_exit(2);
	_exit(0);
}

/* Did a child report in ms? */
static int reported(int fd, int ms, char *c)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && read(fd, c, 1) == 1;
}

static void wait_waiting(pid_t pid, const char *path, const char *what)
{
	struct stat st;

	if (stat(path, &st))
		case_fail("stat %s: %s", path, strerror(errno));
	for (int i = 0; i < 10000; i++) {
		/* An OFD request shows pid -1: its file tells it. */
		if (lk_waiting(pid, st.st_ino))
			return;
		usleep(1000);
	}
	case_fail("%s (pid %d) is not waiting for its lock", what, pid);
}

int main(void)
{
	static const char *names[NW] = { "the F_SETLKW child", "the F_OFD_SETLKW child",
					 "the flock child" };
	int pfd, ofd, ffd, rep[2], st;
	const char *paths[NW] = { p_path, o_path, f_path };
	pid_t kids[NW];
	char c;

	case_init();
	lk_mkfile(p_path, "wait-posix", 10);
	lk_mkfile(o_path, "wait-ofd", 10);
	lk_mkfile(f_path, "wait-flock", 10);
	pfd = lk_open(p_path, O_RDWR);
	ofd = lk_open(o_path, O_RDWR);
	ffd = lk_open(f_path, O_RDONLY);
	lk_set(pfd, F_SETLK, F_WRLCK, 0, 0);
	lk_set(ofd, F_OFD_SETLK, F_WRLCK, 0, 0);
	if (flock(ffd, LOCK_EX))
		case_fail("flock: %s", strerror(errno));
	if (pipe(rep))
		case_fail("pipe: %s", strerror(errno));
	for (int i = 0; i < NW; i++) {
		kids[i] = fork();
		if (kids[i] < 0)
			case_fail("fork: %s", strerror(errno));
		if (!kids[i]) {
			/* Ours hold the locks: a child keeping them would wait on itself. */
			close(pfd);
			close(ofd);
			close(ffd);
			close(rep[0]);
			waiter(i, rep[1]);
		}
	}
	close(rep[1]);
	for (int i = 0; i < NW; i++)
		wait_waiting(kids[i], paths[i], names[i]);

	case_ready();
	case_wait_go();

	for (int i = 0; i < NW; i++)
		wait_waiting(kids[i], paths[i], names[i]);
	if (reported(rep[0], 300, &c))
		case_fail("a child got its lock ('%c') while we hold it", c);
	lk_set(pfd, F_SETLK, F_UNLCK, 0, 0);
	if (!reported(rep[0], 10000, &c) || c != 'P')
		case_fail("the F_SETLKW child did not get the lock we released");
	lk_set(ofd, F_OFD_SETLK, F_UNLCK, 0, 0);
	if (!reported(rep[0], 10000, &c) || c != 'O')
		case_fail("the F_OFD_SETLKW child did not get the lock we released");
	if (reported(rep[0], 100, &c))
		case_fail("the flock child got its lock ('%c') while we hold it", c);
	flock(ffd, LOCK_UN);
	if (!reported(rep[0], 10000, &c) || c != 'F')
		case_fail("the flock child did not get the lock we released");
	for (int i = 0; i < NW; i++)
		if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st) || WEXITSTATUS(st))
			case_fail("%s failed: status %#x", names[i], st);
	lk_unlink(p_path);
	lk_unlink(o_path);
	lk_unlink(f_path);
	case_pass();
}
