/*
 * Sessions and groups inside the tree: child A makes a session with
 * setsid() and has a child B in it; child C makes its own process group
 * and its child D joins it. After the restore every one of them checks
 * that its session, group and parent are what they were.
 */
#include "caselib.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int up[2];	/* each parked process says it is there */

/* Park until told (a byte on the pipe), then check ids; exit 0 if right. */
static void park_and_check(int rd, pid_t sid, pid_t pgid, pid_t ppid)
{
	char c;

	if (write(up[1], "u", 1) != 1)
		_exit(14);
	close(up[0]);
	close(up[1]);
	if (read(rd, &c, 1) != 1)
		_exit(10);
	if (getsid(0) != sid) {
		fprintf(stderr, "FAIL: %d: sid %d, want %d\n", getpid(), getsid(0), sid);
		_exit(11);
	}
	if (getpgid(0) != pgid) {
		fprintf(stderr, "FAIL: %d: pgid %d, want %d\n", getpid(), getpgid(0), pgid);
		_exit(12);
	}
	if (getppid() != ppid) {
		fprintf(stderr, "FAIL: %d: ppid %d, want %d\n", getpid(), getppid(), ppid);
		_exit(13);
	}
	_exit(0);
}

static pid_t spawn_pair(int rd, int session)
{
	pid_t a = fork();

	if (a == 0) {
		pid_t b, me = getpid();
		int st;

		if (session ? setsid() < 0 : setpgid(0, 0) < 0)
			_exit(20);
		b = fork();
		if (b == 0)
			park_and_check(rd, session ? me : getsid(0), me, me);
		/* The parent checks itself, then waits for its child. */
		if (fork() == 0)
			park_and_check(rd, session ? me : getsid(0), me, me);
		close(up[0]);
		close(up[1]);
		while (wait(&st) > 0)
			if (!WIFEXITED(st) || WEXITSTATUS(st))
				_exit(21);
		_exit(0);
	}
	return a;
}

int main(void)
{
	int p[2], status;
	char buf[4];
	size_t got = 0;
	pid_t a, c;

	case_init();
	if (pipe(p) || pipe(up))
		case_fail("pipe: %s", strerror(errno));
	a = spawn_pair(p[0], 1);
	c = spawn_pair(p[0], 0);
	/* Ready once the four grandchildren are parked in their groups. */
	close(up[1]);
	while (got < sizeof(buf)) {
		ssize_t r = read(up[0], buf + got, sizeof(buf) - got);

		if (r <= 0)
			case_fail("a grandchild did not start (%zd)", r);
		got += r;
	}
	close(up[0]);
	case_ready();
	case_wait_go();
	if (write(p[1], "gggg", 4) != 4)
		case_fail("write: %s", strerror(errno));
	if (waitpid(a, &status, 0) != a || !WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("session pair: status %#x", status);
	if (waitpid(c, &status, 0) != c || !WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("group pair: status %#x", status);
	case_pass();
}
