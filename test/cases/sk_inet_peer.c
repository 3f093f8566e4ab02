/*
 * An established TCP connection to a peer outside the tree (dumped with
 * --tcp-established): the peer is a grandchild of the case whose parent
 * exited (so not in the tree), a server on 127.0.0.1 at a port the kernel
 * picked. At the dump the peer has sent a greeting the case has not read,
 * and the case has sent a line the peer has read and answered, the answer
 * not read either. After the restore (kill mode: the dumped socket was
 * closed in repair mode, so the peer saw neither FIN nor RST) the case
 * reads both, the connection is ESTABLISHED with the same addresses, and
 * the conversation goes on both ways on the same connection: the peer
 * answers a new line, and says how many lines it has had (so it never saw
 * a new connection).
 */
#include "caselib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void must(int ok, const char *what)
{
	if (!ok)
		case_fail("%s: %s", what, strerror(errno));
}

/* The peer: one connection; "hello\n", then "re:LINE N\n" per line. */
static void peer(int l, int ready)
{
	char buf[256], c;
	size_t n = 0;
	int a, lines = 0;
	struct pollfd p;

	if (write(ready, "r", 1) != 1)
		_exit(1);
	close(ready);
	a = accept(l, NULL, NULL);
	if (a < 0 || send(a, "hello\n", 6, 0) != 6)
		_exit(1);
	p.fd = a;
	p.events = POLLIN;
	/* Gone after two minutes of silence: never outlives a failed run long. */
	while (poll(&p, 1, 120000) == 1 && recv(a, &c, 1, 0) == 1) {
		if (c != '\n' && n < sizeof(buf) - 1) {
			buf[n++] = c;
			continue;
		}
		buf[n] = 0;
		n = 0;
		lines++;
		if (!strcmp(buf, "bye"))
			_exit(0);
		char out[300];
		int len = snprintf(out, sizeof(out), "re:%s %d\n", buf, lines);

		if (send(a, out, len, 0) != len)
			_exit(1);
	}
	_exit(1);
}

static void wait_readable(const char *what, int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	if (poll(&p, 1, 30000) != 1)
		case_fail("%s: nothing to read in 30 s", what);
}

static void expect(const char *what, int fd, const char *want)
{
	char buf[128];
	size_t len = strlen(want), got = 0;

	while (got < len) {
		ssize_t n;

		wait_readable(what, fd);
		n = recv(fd, buf + got, len - got, 0);
		if (n <= 0)
			case_fail("%s: %s after '%.*s', want '%s'", what,
				  n ? strerror(errno) : "EOF", (int)got, buf, want);
		got += n;
	}
	if (memcmp(buf, want, len))
		case_fail("%s: read '%.*s', want '%s'", what, (int)len, buf, want);
}

int main(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_storage me, them, me2, them2;
	socklen_t len = sizeof(sa), ml = sizeof(me), tl = sizeof(them);
	int l, c, ready[2], status;
	struct tcp_info ti;
	pid_t pid;
	char r;

	case_init();
	l = socket(AF_INET, SOCK_STREAM, 0);
	must(l >= 0 && !bind(l, (struct sockaddr *)&sa, sizeof(sa)) && !listen(l, 1) &&
	     !getsockname(l, (struct sockaddr *)&sa, &len), "the peer's listener");
	must(!pipe(ready), "pipe");
	pid = fork();
	must(pid >= 0, "fork");
	if (!pid) {
		if (fork())
			_exit(0);
		close(ready[0]);
		peer(l, ready[1]);
	}
	close(ready[1]);
	if (waitpid(pid, &status, 0) != pid || read(ready[0], &r, 1) != 1)
		case_fail("the peer did not start");
	close(ready[0]);
	c = socket(AF_INET, SOCK_STREAM, 0);
	must(c >= 0 && !connect(c, (struct sockaddr *)&sa, sizeof(sa)), "connect to the peer");
	close(l);
	must(send(c, "before\n", 7, 0) == 7, "send");
	/* The peer's answer is in: both the greeting and it wait unread. */
	for (;;) {
		int inq = 0;

		wait_readable("the peer's answer", c);
		must(!ioctl(c, 0x541B /* SIOCINQ */, &inq), "SIOCINQ");
		if (inq >= 6 + 11)
			break;
		usleep(1000);
	}
	must(!getsockname(c, (struct sockaddr *)&me, &ml) &&
	     !getpeername(c, (struct sockaddr *)&them, &tl), "names");

	case_ready();
	case_wait_go();

	len = sizeof(ti);
	must(!getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &len), "TCP_INFO");
	if (ti.tcpi_state != 1)
		case_fail("TCP state %u, want ESTABLISHED (1)", ti.tcpi_state);
	ml = tl = sizeof(me2);
	must(!getsockname(c, (struct sockaddr *)&me2, &ml) &&
	     !getpeername(c, (struct sockaddr *)&them2, &tl), "names");
	if (memcmp(&me, &me2, sizeof(struct sockaddr_in)) ||
	    memcmp(&them, &them2, sizeof(struct sockaddr_in)))
		case_fail("the connection's addresses differ after the restore");
	expect("the peer's greeting, sent before the dump", c, "hello\n");
	expect("the peer's answer, sent before the dump", c, "re:before 1\n");
	must(send(c, "after\n", 6, 0) == 6, "send after the restore");
	expect("the peer's answer after the restore", c, "re:after 2\n");
	must(send(c, "bye\n", 4, 0) == 4, "send bye");
	case_pass();
}
