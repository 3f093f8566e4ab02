/*
 * SO_PEERCRED's pid of socketpairs: each end shows the process that made
 * the pair. The parent makes a stream pair and a seqpacket pair and forks;
 * the child keeps one end of each, and makes a datagram pair of its own
 * whose ends it keeps both (and sends "x" on it). The parent also makes a
 * pair as uid and gid 65534 (effective) and closes one end of it with
 * "bye" queued. After the restore every end shows its maker's pid as it
 * is now (and the 65534 pair the uid and gid too), and the pairs carry
 * bytes.
 */
#include "caselib.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void peer_is(const char *what, int fd, pid_t pid, uid_t uid, gid_t gid)
{
	struct ucred c;
	socklen_t len = sizeof(c);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len))
		case_fail("%s: SO_PEERCRED: %s", what, strerror(errno));
	if (c.pid != pid || c.uid != uid || c.gid != gid)
		case_fail("%s: the peer is pid %d uid %d gid %d, want %d %d %d", what,
			  (int)c.pid, (int)c.uid, (int)c.gid, (int)pid, (int)uid, (int)gid);
}

static void wait_readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	if (poll(&p, 1, 30000) != 1)
		case_fail("fd %d not readable in 30 s", fd);
}

int main(void)
{
	int st[2], sq[2], dg[2], lone[2], go[2], done[2], status;
	pid_t child, now;
	char buf[8], c;

	case_init();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, st) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sq) || pipe(go) || pipe(done))
		case_fail("socketpair: %s", strerror(errno));
	if (setresgid(-1, 65534, -1) || setresuid(-1, 65534, -1))
		case_fail("setresuid: %s", strerror(errno));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, lone))
		case_fail("socketpair as 65534: %s", strerror(errno));
	if (setresuid(-1, 0, -1) || setresgid(-1, 0, -1))
		case_fail("setresuid back: %s", strerror(errno));
	if (write(lone[1], "bye", 3) != 3)
		case_fail("write bye: %s", strerror(errno));
	close(lone[1]);

	child = fork();
	if (child < 0)
		case_fail("fork: %s", strerror(errno));
	if (!child) {
		pid_t parent = getppid();

		close(st[0]);
		close(sq[0]);
		close(lone[0]);
		if (socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) || send(dg[1], "x", 1, 0) != 1)
			case_fail("child: socketpair: %s", strerror(errno));
		if (write(done[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		/* restored */
		now = getpid();
		parent = getppid();
		peer_is("child: stream end", st[1], parent, 0, 0);
		peer_is("child: seqpacket end", sq[1], parent, 0, 0);
		peer_is("child: its own pair", dg[0], now, 0, 0);
		peer_is("child: its own pair's other end", dg[1], now, 0, 0);
		if (recv(dg[0], buf, sizeof(buf), MSG_DONTWAIT) != 1 || buf[0] != 'x')
			case_fail("child: its pair lost 'x'");
		if (write(st[1], &now, sizeof(now)) != sizeof(now) ||
		    send(sq[1], "s", 1, 0) != 1)
			case_fail("child: write: %s", strerror(errno));
		_exit(0);
	}
	close(st[1]);
	close(sq[1]);
	if (read(done[0], &c, 1) != 1)
		case_fail("child did not start");

	case_ready();
	case_wait_go();
	if (write(go[1], "g", 1) != 1)
		case_fail("write go: %s", strerror(errno));
	wait_readable(st[0]);
	if (read(st[0], &now, sizeof(now)) != sizeof(now))
		case_fail("the child did not say its pid");
	peer_is("stream end", st[0], getpid(), 0, 0);
	peer_is("seqpacket end", sq[0], getpid(), 0, 0);
	peer_is("the end left alone, made as 65534", lone[0], getpid(), 65534, 65534);
	if (read(lone[0], buf, sizeof(buf)) != 3 || memcmp(buf, "bye", 3) ||
	    read(lone[0], buf, sizeof(buf)) != 0)
		case_fail("the end left alone lost 'bye' or its EOF");
	wait_readable(sq[0]);
	if (recv(sq[0], buf, sizeof(buf), MSG_DONTWAIT) != 1 || buf[0] != 's')
		case_fail("the seqpacket pair carries nothing");
	if (waitpid(now, &status, 0) != now || !WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("child failed (status %#x)", status);
	case_pass();
}
