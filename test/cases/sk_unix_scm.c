/*
 * fds in flight: SCM_RIGHTS messages sent but not yet received at the
 * dump. The parent sends to its child, which reads nothing before the
 * restore:
 *  - over a seqpacket pair, three records: "one" with the read end of a
 *    pipe (O_NONBLOCK, "pipe-data" in it, its write end closed: the end in
 *    flight is the pipe's only reference) and a file opened at offset 40;
 *    "two" with nothing; "three" with one end of a stream socketpair that
 *    has "in-x" queued for it (the parent keeps the other end);
 *  - over a stream pair, "S" with a dup of the file's fd (one description
 *    with the one in flight on the seqpacket pair).
 * The parent closes every fd it sent. After the restore the child reads
 * each record with its fds, in order and with the boundaries: the pipe
 * end gives "pipe-data" then EOF and is non-blocking, the file reads on
 * from offset 40 and both fds of it share that offset, the socket gives
 * "in-x" and the parent hears the child's answer on it.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define FILE_LEN	100
#define FILE_OFF	40

static char file_byte(int i)
{
	return (char)('A' + i % 26);
}

static void wait_readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	if (poll(&p, 1, 30000) != 1)
		case_fail("fd %d not readable in 30 s", fd);
}

static void send_fds(int sock, const char *msg, const int *fds, int nr)
{
	char ctl[CMSG_SPACE(8 * sizeof(int))];
	struct iovec iov = { (void *)msg, strlen(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	memset(ctl, 0, sizeof(ctl));
	if (nr) {
		mh.msg_control = ctl;
		mh.msg_controllen = CMSG_SPACE(nr * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nr * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nr * sizeof(int));
	}
	if (sendmsg(sock, &mh, 0) != (ssize_t)strlen(msg))
		case_fail("sendmsg '%s': %s", msg, strerror(errno));
}

/* One message: its bytes must be want, its fds (nr of them) into fds. */
static void recv_fds(int sock, const char *want, int *fds, int nr)
{
	char buf[64], ctl[CMSG_SPACE(8 * sizeof(int))];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;
	int got = 0;
	ssize_t n;

	wait_readable(sock);
	n = recvmsg(sock, &mh, MSG_DONTWAIT);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		case_fail("child: read %zd bytes '%.*s', want '%s'", n, n > 0 ? (int)n : 0,
			  buf, want);
	if (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC))
		case_fail("child: '%s' came cut (flags %#x)", want, mh.msg_flags);
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			case_fail("child: '%s' came with a control message %d/%d", want,
				  c->cmsg_level, c->cmsg_type);
		if (got + k > nr)
			case_fail("child: '%s' came with more than %d fds", want, nr);
		memcpy(fds + got, CMSG_DATA(c), k * sizeof(int));
		got += k;
	}
	if (got != nr)
		case_fail("child: '%s' came with %d fds, want %d", want, got, nr);
}

static void check_file(int fd, off_t at, const char *who)
{
	char buf[10];
	off_t pos = lseek(fd, 0, SEEK_CUR);

	if (pos != at)
		case_fail("child: %s is at offset %lld, want %lld", who, (long long)pos,
			  (long long)at);
	if (read(fd, buf, sizeof(buf)) != sizeof(buf))
		case_fail("child: read %s: %s", who, strerror(errno));
	for (int i = 0; i < (int)sizeof(buf); i++)
		if (buf[i] != file_byte(at + i))
			case_fail("child: %s byte %lld is '%c', want '%c'", who,
				  (long long)at + i, buf[i], file_byte(at + i));
}

static int child_main(int sq, int st, int go, int done)
{
	int one[2], three, s, fl;
	char buf[32], c;
	ssize_t n;

	if (write(done, "r", 1) != 1 || read(go, &c, 1) != 1)
		_exit(2);

	/* restored */
	recv_fds(sq, "one", one, 2);
	recv_fds(sq, "two", NULL, 0);
	recv_fds(sq, "three", &three, 1);
	recv_fds(st, "S", &s, 1);

	fl = fcntl(one[0], F_GETFL);
	if (fl < 0 || !(fl & O_NONBLOCK) || (fl & O_ACCMODE) != O_RDONLY)
		case_fail("child: the pipe end has the flags 0%o, want O_RDONLY|O_NONBLOCK", fl);
	n = read(one[0], buf, sizeof(buf));
	if (n != 9 || memcmp(buf, "pipe-data", 9))
		case_fail("child: the pipe gave %zd bytes, want 'pipe-data'", n);
	n = read(one[0], buf, sizeof(buf));
	if (n != 0)
		case_fail("child: the pipe gave %zd (%s) after its data, want EOF", n,
			  n < 0 ? strerror(errno) : "data");

	check_file(one[1], FILE_OFF, "the file");
	check_file(s, FILE_OFF + 10, "the dup of the file");

	wait_readable(three);
	n = recv(three, buf, sizeof(buf), MSG_DONTWAIT);
	if (n != 4 || memcmp(buf, "in-x", 4))
		case_fail("child: the socket in flight gave %zd bytes, want 'in-x'", n);
	if (send(three, "reply", 5, 0) != 5)
		case_fail("child: send on the socket in flight: %s", strerror(errno));
	n = recv(sq, buf, sizeof(buf), MSG_DONTWAIT);
	if (n != -1 || errno != EAGAIN)
		case_fail("child: more than the three records queued (%zd)", n);
	return 0;
}

int main(void)
{
	int sq[2], st[2], x[2], p[2], go[2], done[2], f, d, fds[2], status, fl;
	char path[256], buf[FILE_LEN], c;
	ssize_t n;
	pid_t child;

	case_init();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sq) ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, st) ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, x) || pipe(p) || pipe(go) || pipe(done))
		case_fail("socketpair/pipe: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/crest-scm-%d", case_tmpdir(), getpid());
	f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (f < 0)
		case_fail("open %s: %s", path, strerror(errno));
	unlink(path);
	for (int i = 0; i < FILE_LEN; i++)
		buf[i] = file_byte(i);
	if (write(f, buf, FILE_LEN) != FILE_LEN || lseek(f, FILE_OFF, SEEK_SET) != FILE_OFF)
		case_fail("write %s: %s", path, strerror(errno));

	child = fork();
	if (child < 0)
		case_fail("fork: %s", strerror(errno));
	if (!child) {
		close(sq[0]);
		close(st[0]);
		close(x[0]);
		close(x[1]);
		close(p[0]);
		close(p[1]);
		close(f);
		_exit(child_main(sq[1], st[1], go[0], done[1]));
	}
	close(sq[1]);
	close(st[1]);
	if (read(done[0], &c, 1) != 1)
		case_fail("child did not start");

	if (write(p[1], "pipe-data", 9) != 9)
		case_fail("write pipe: %s", strerror(errno));
	close(p[1]);
	fl = fcntl(p[0], F_GETFL);
	if (fcntl(p[0], F_SETFL, fl | O_NONBLOCK))
		case_fail("O_NONBLOCK: %s", strerror(errno));
	if (write(x[1], "in-x", 4) != 4)
		case_fail("write x: %s", strerror(errno));
	fds[0] = p[0];
	fds[1] = f;
	send_fds(sq[0], "one", fds, 2);
	send_fds(sq[0], "two", NULL, 0);
	send_fds(sq[0], "three", &x[0], 1);
	d = dup(f);
	send_fds(st[0], "S", &d, 1);
	close(p[0]);
	close(f);
	close(d);
	close(x[0]);

	case_ready();
	case_wait_go();
	if (write(go[1], "g", 1) != 1)
		case_fail("write go: %s", strerror(errno));
	wait_readable(x[1]);
	n = recv(x[1], buf, sizeof(buf), MSG_DONTWAIT);
	if (n != 5 || memcmp(buf, "reply", 5))
		case_fail("parent: read %zd bytes on the socket sent, want 'reply'", n);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		case_fail("child failed (status %#x)", status);
	case_pass();
}
