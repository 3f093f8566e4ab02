/*
 * SO_PEERCRED's pid of listening and connected unix sockets: a client
 * shows the process that listened, an accepted end the process that
 * connected its client. The parent listens on an abstract name and forks;
 * the child connects (accepted by the parent: a1), then the parent
 * connects to itself and accepts (c3, a3), then the child connects again
 * and its client waits in the backlog (c2). After the restore the
 * listener and every client show the parent's pid, a1 the child's, a3
 * the parent's, and every connection carries bytes (the waiting one once
 * accepted; its accepted end shows crest's pid: crest(8), LIMITATIONS).
 */
#include "caselib.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static struct sockaddr_un sa;
static socklen_t sa_len;

static void peer_is(const char *what, int fd, pid_t pid)
{
	struct ucred c;
	socklen_t len = sizeof(c);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len))
		case_fail("%s: SO_PEERCRED: %s", what, strerror(errno));
	if (c.pid != pid || c.uid != 0 || c.gid != 0)
		case_fail("%s: the peer is pid %d uid %d gid %d, want %d 0 0", what,
			  (int)c.pid, (int)c.uid, (int)c.gid, (int)pid);
}

static int client(const char *what)
{
	int c = socket(AF_UNIX, SOCK_STREAM, 0);

	if (c < 0 || connect(c, (struct sockaddr *)&sa, sa_len))
		case_fail("%s: connect: %s", what, strerror(errno));
	return c;
}

static int accept_one(int l)
{
	int a = accept(l, NULL, NULL);

	if (a < 0)
		case_fail("accept: %s", strerror(errno));
	return a;
}

static void expect(const char *what, int fd, const char *want)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char buf[16];
	ssize_t n;

	if (poll(&p, 1, 30000) != 1)
		case_fail("%s: nothing in 30 s", what);
	n = read(fd, buf, sizeof(buf));
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		case_fail("%s: read %zd bytes, want \"%s\"", what, n, want);
}

int main(void)
{
	int l, a1, a2, a3, c3, go[2], done[2], step[2], status;
	pid_t child, me;
	char c;

	case_init();
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "peerpid-listen-%d", getpid());
	sa_len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sa.sun_path + 1);
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sa_len) || listen(l, 4) ||
	    pipe(go) || pipe(done) || pipe(step))
		case_fail("listen: %s", strerror(errno));
	child = fork();
	if (child < 0)
		case_fail("fork: %s", strerror(errno));
	if (!child) {
		int c1, c2;
		pid_t parent = getppid();

		close(l);
		c1 = client("child: c1");
		if (write(done[1], "1", 1) != 1 || read(step[0], &c, 1) != 1)
			_exit(2);
		c2 = client("child: c2");
		if (write(done[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		/* restored */
		parent = getppid();
		peer_is("child: c1 (accepted)", c1, parent);
		peer_is("child: c2 (waiting)", c2, parent);
		if (write(c1, "c1", 2) != 2 || write(c2, "c2", 2) != 2)
			case_fail("child: write: %s", strerror(errno));
		expect("child: c1", c1, "back");
		_exit(0);
	}
	if (read(done[0], &c, 1) != 1)
		case_fail("the child did not connect");
	a1 = accept_one(l);
	c3 = client("c3");
	a3 = accept_one(l);
	if (write(step[1], "s", 1) != 1 || read(done[0], &c, 1) != 1)
		case_fail("the child did not connect again");

	case_ready();
	case_wait_go();
	me = getpid();
	peer_is("listener", l, me);
	peer_is("a1 (the child's)", a1, child);
	peer_is("c3", c3, me);
	peer_is("a3 (our own)", a3, me);
	if (write(go[1], "g", 1) != 1)
		case_fail("write go: %s", strerror(errno));
	expect("a1", a1, "c1");
	a2 = accept_one(l);
	expect("a2 (accepted after the restore)", a2, "c2");
	if (write(c3, "c3", 2) != 2 || write(a1, "back", 4) != 4)
		case_fail("write: %s", strerror(errno));
	expect("a3", a3, "c3");
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("child failed (status %#x)", status);
	case_pass();
}
