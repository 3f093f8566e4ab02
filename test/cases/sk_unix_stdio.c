/*
 * A child whose standard input and output are the ends of socketpairs
 * with its parent (as a helper started with socketpair() instead of
 * pipes): the ends at fds 0 and 1 lead inside the tree, so they are saved
 * as sockets, not given crest's own stdio. "ping" waits in the child's
 * stdin at the dump; after the restore the child reads it from fd 0 and
 * answers "pong" on fd 1, which the parent reads.
 */
#include "caselib.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void wait_readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	if (poll(&p, 1, 30000) != 1)
		case_fail("fd %d not readable in 30 s", fd);
}

int main(void)
{
	int in[2], out[2], go[2], done[2], status, type = 0;
	socklen_t len = sizeof(type);
	char buf[16], c;
	pid_t child;
	ssize_t n;

	case_init();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, in) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, out) || pipe(go) || pipe(done))
		case_fail("socketpair: %s", strerror(errno));
	child = fork();
	if (child < 0)
		case_fail("fork: %s", strerror(errno));
	if (!child) {
		if (dup2(in[1], 0) < 0 || dup2(out[1], 1) < 0)
			_exit(2);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		if (write(done[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		if (getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &len) || type != SOCK_STREAM)
			case_fail("child: fd 0 is not the stream socket (type %d)", type);
		wait_readable(0);
		n = read(0, buf, sizeof(buf));
		if (n != 4 || memcmp(buf, "ping", 4))
			case_fail("child: read %zd bytes from fd 0, want 'ping'", n);
		if (write(1, "pong", 4) != 4)
			case_fail("child: write to fd 1: %s", strerror(errno));
		_exit(0);
	}
	close(in[1]);
	close(out[1]);
	if (read(done[0], &c, 1) != 1)
		case_fail("child did not start");
	if (write(in[0], "ping", 4) != 4)
		case_fail("write: %s", strerror(errno));

	case_ready();
	case_wait_go();

	if (write(go[1], "g", 1) != 1)
		case_fail("child gone");
	wait_readable(out[0]);
	n = recv(out[0], buf, sizeof(buf), 0);
	if (n != 4 || memcmp(buf, "pong", 4))
		case_fail("read %zd bytes from the child's fd 1, want 'pong'", n);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		case_fail("child failed: status %#x", status);
	case_pass();
}
