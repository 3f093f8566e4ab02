/*
 * Unix socketpairs between a parent and its forked child, with state in
 * them at the dump:
 *  - stream: bytes queued both ways (3000 to the child, 1000 to the
 *    parent), the parent's end O_NONBLOCK and held at two fds (one socket),
 *    the child's end with its own SO_RCVBUF;
 *  - seqpacket: records of 1, 100 and 5000 bytes queued for the child, then
 *    the parent shut it down for writing (SHUT_WR);
 *  - datagram: datagrams of 7, 2000, 1 and 30000 bytes queued for the
 *    parent;
 *  - a stream pair of the parent alone whose other end was closed with
 *    "bye" queued.
 * After the restore each side reads exactly what was queued, in order and
 * with the boundaries, then they talk over every pair; the shut-down
 * seqpacket gives EOF to the child and EPIPE to the parent.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TO_CHILD	3000
#define TO_PARENT	1000
static const size_t rec_sizes[] = { 1, 100, 5000 };
static const size_t dg_sizes[] = { 7, 2000, 1, 30000 };

static char pattern(size_t i, int seed)
{
	return (char)('a' + (i * 7 + seed) % 26);
}

static void fill(char *buf, size_t len, int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern(i, seed);
}

static void check(const char *who, const char *buf, size_t len, int seed)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != pattern(i, seed))
			case_fail("%s: byte %zu is '%c', want '%c'", who, i, buf[i],
				  pattern(i, seed));
}

static void wait_readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	if (poll(&p, 1, 30000) != 1)
		case_fail("fd %d not readable in 30 s", fd);
}

/* Exactly len stream bytes, then nothing more for now. */
static void read_stream(const char *who, int fd, size_t len, int seed)
{
	static char buf[65536];
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		wait_readable(fd);
		n = recv(fd, buf + got, sizeof(buf) - got, MSG_DONTWAIT);
		if (n <= 0)
			case_fail("%s: read after %zu of %zu bytes: %zd (%s)", who, got,
				  len, n, strerror(errno));
		got += n;
	}
	if (got != len)
		case_fail("%s: %zu bytes queued, want %zu", who, got, len);
	check(who, buf, len, seed);
	n = recv(fd, buf, 1, MSG_DONTWAIT);
	if (n != -1 || errno != EAGAIN)
		case_fail("%s: more than the %zu queued bytes (%zd)", who, len, n);
}

static void read_msgs(const char *who, int fd, const size_t *sizes, int nr, int seed)
{
	static char buf[65536];
	ssize_t n;

	for (int i = 0; i < nr; i++) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
		if (n != (ssize_t)sizes[i])
			case_fail("%s: message %d has %zd bytes (%s), want %zu", who, i, n,
				  n < 0 ? strerror(errno) : "", sizes[i]);
		check(who, buf, n, seed + i);
	}
}

static void send_msgs(int fd, const size_t *sizes, int nr, int seed)
{
	static char buf[65536];

	for (int i = 0; i < nr; i++) {
		fill(buf, sizes[i], seed + i);
		if (send(fd, buf, sizes[i], 0) != (ssize_t)sizes[i])
			case_fail("send of %zu bytes: %s", sizes[i], strerror(errno));
	}
}

static void xsocketpair(int type, int sv[2])
{
	if (socketpair(AF_UNIX, type, 0, sv))
		case_fail("socketpair(%d): %s", type, strerror(errno));
}

static int child_main(int st, int sq, int sd, int go, int done)
{
	char buf[TO_PARENT > TO_CHILD ? TO_PARENT : TO_CHILD], c;
	int rcv;
	socklen_t len = sizeof(rcv);
	ssize_t n;

	fill(buf, TO_PARENT, 2);
	if (write(st, buf, TO_PARENT) != TO_PARENT)
		case_fail("child: write: %s", strerror(errno));
	send_msgs(sd, dg_sizes, 4, 20);
	if (write(done, "r", 1) != 1 || read(go, &c, 1) != 1)
		_exit(2);

	/* restored */
	if (getsockopt(st, SOL_SOCKET, SO_RCVBUF, &rcv, &len) || rcv != 2 * 40000)
		case_fail("child: SO_RCVBUF is %d, want %d", rcv, 2 * 40000);
	read_stream("child stream", st, TO_CHILD, 1);
	read_msgs("child seqpacket", sq, rec_sizes, 3, 10);
	n = recv(sq, buf, sizeof(buf), MSG_DONTWAIT);
	if (n != 0)
		case_fail("child: seqpacket after the records: %zd (%s), want EOF", n,
			  n < 0 ? strerror(errno) : "data");
	if (write(done, "v", 1) != 1)
		_exit(2);
	/* New talk: the child answers what the parent sends. */
	wait_readable(st);
	n = read(st, buf, sizeof(buf));
	if (n != 5 || memcmp(buf, "hello", 5))
		case_fail("child: read %zd bytes after the restore, want 'hello'", n);
	if (write(st, "world", 5) != 5 || send(sd, "dgram", 5, 0) != 5)
		case_fail("child: answer: %s", strerror(errno));
	if (send(sq, "back", 4, 0) != 4)
		case_fail("child: seqpacket the other way: %s", strerror(errno));
	return 0;
}

int main(void)
{
	int st[2], sq[2], sd[2], sc[2], go[2], done[2], dupfd, fl, status, rcv = 40000;
	char buf[TO_CHILD], c;
	struct stat a, b;
	ssize_t n;
	pid_t child;

	case_init();
	xsocketpair(SOCK_STREAM, st);
	xsocketpair(SOCK_SEQPACKET, sq);
	xsocketpair(SOCK_DGRAM, sd);
	xsocketpair(SOCK_STREAM, sc);
	if (setsockopt(st[1], SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)))
		case_fail("SO_RCVBUF: %s", strerror(errno));
	if (pipe(go) || pipe(done))
		case_fail("pipe: %s", strerror(errno));
	child = fork();
	if (child < 0)
		case_fail("fork: %s", strerror(errno));
	if (!child) {
		close(st[0]);
		close(sq[0]);
		close(sd[0]);
		close(sc[0]);
		close(sc[1]);
		_exit(child_main(st[1], sq[1], sd[1], go[0], done[1]));
	}
	close(st[1]);
	close(sq[1]);
	close(sd[1]);
	fill(buf, TO_CHILD, 1);
	if (write(st[0], buf, TO_CHILD) != TO_CHILD)
		case_fail("write: %s", strerror(errno));
	send_msgs(sq[0], rec_sizes, 3, 10);
	if (shutdown(sq[0], SHUT_WR))
		case_fail("shutdown: %s", strerror(errno));
	if (write(sc[1], "bye", 3) != 3)
		case_fail("write bye: %s", strerror(errno));
	close(sc[1]);
	fl = fcntl(st[0], F_GETFL);
	if (fcntl(st[0], F_SETFL, fl | O_NONBLOCK))
		case_fail("O_NONBLOCK: %s", strerror(errno));
	dupfd = dup(st[0]);
	if (read(done[0], &c, 1) != 1)
		case_fail("child did not start");
	/* Everything the child sent is in our queues before the dump. */
	wait_readable(st[0]);
	wait_readable(sd[0]);

	case_ready();
	case_wait_go();

	if (fstat(st[0], &a) || fstat(dupfd, &b) || a.st_ino != b.st_ino)
		case_fail("the two fds of one socket are two sockets now");
	if (!(fcntl(st[0], F_GETFL) & O_NONBLOCK))
		case_fail("the stream end lost O_NONBLOCK");
	read_stream("parent stream", dupfd, TO_PARENT, 2);
	read_msgs("parent datagram", sd[0], dg_sizes, 4, 20);
	n = recv(sd[0], buf, 1, MSG_DONTWAIT);
	if (n != -1 || errno != EAGAIN)
		case_fail("parent: more datagrams than queued (%zd)", n);
	/* The pair whose other end was closed: "bye", then EOF and EPIPE. */
	n = read(sc[0], buf, sizeof(buf));
	if (n != 3 || memcmp(buf, "bye", 3))
		case_fail("closed pair: read %zd bytes, want 'bye'", n);
	if ((n = read(sc[0], buf, sizeof(buf))) != 0)
		case_fail("closed pair: %zd after 'bye', want EOF", n);
	if (send(sc[0], "x", 1, MSG_NOSIGNAL) != -1 || errno != EPIPE)
		case_fail("closed pair: send did not fail with EPIPE (%s)", strerror(errno));
	/* The seqpacket we shut down for writing. */
	if (send(sq[0], "x", 1, MSG_NOSIGNAL) != -1 || errno != EPIPE)
		case_fail("shut seqpacket: send did not fail with EPIPE (%s)", strerror(errno));

	if (write(go[1], "g", 1) != 1 || read(done[0], &c, 1) != 1)
		case_fail("child gone");
	if (write(st[0], "hello", 5) != 5)
		case_fail("write hello: %s", strerror(errno));
	wait_readable(st[0]);
	n = read(st[0], buf, sizeof(buf));
	if (n != 5 || memcmp(buf, "world", 5))
		case_fail("read %zd bytes after hello, want 'world'", n);
	wait_readable(sd[0]);
	n = recv(sd[0], buf, sizeof(buf), 0);
	if (n != 5 || memcmp(buf, "dgram", 5))
		case_fail("datagram after the restore: %zd bytes", n);
	wait_readable(sq[0]);
	n = recv(sq[0], buf, sizeof(buf), 0);
	if (n != 4 || memcmp(buf, "back", 4))
		case_fail("seqpacket after the restore: %zd bytes", n);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		case_fail("child failed: status %#x", status);
	case_pass();
}
