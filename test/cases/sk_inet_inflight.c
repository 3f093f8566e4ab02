/*
 * A TCP listener with connections waiting to be accepted, dumped with
 * --skip-in-flight (test/run gives it on every dump): two clients
 * connected to it and closed their ends (the first after a few bytes), so
 * the accept queue holds two connections no process of the tree has. The
 * dump drops them, as CRIU's option says, instead of refusing.
 * After the restore: the listener is on its address with its backlog;
 * whatever accept() still finds is one of the two clients (the original,
 * in leave-running mode, still has them; a restored one has none, which the
 * audit of its queue checks); a new client is accepted and answered.
 */
#include "caselib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKLOG 8

static void must(int ok, const char *what)
{
	if (!ok)
		case_fail("%s: %s", what, strerror(errno));
}

static unsigned short port_of(int fd, int peer)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	must(!(peer ? getpeername(fd, (struct sockaddr *)&a, &len) :
		      getsockname(fd, (struct sockaddr *)&a, &len)), "getsockname");
	return ntohs(a.sin_port);
}

static int client(const struct sockaddr_in *to)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);

	must(c >= 0, "socket");
	must(!connect(c, (const struct sockaddr *)to, sizeof(*to)), "connect");
	return c;
}

static struct tcp_info info(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	must(!getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), "TCP_INFO");
	return ti;
}

int main(void)
{
	struct sockaddr_in at = { .sin_family = AF_INET };
	unsigned short pending[2];
	int l, c, one = 1;
	char buf[16];

	case_init();
	at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	must(l >= 0, "socket");
	must(!setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), "SO_REUSEADDR");
	must(!bind(l, (struct sockaddr *)&at, sizeof(at)), "bind");
	must(!listen(l, BACKLOG), "listen");
	at.sin_port = htons(port_of(l, 0));
	for (int i = 0; i < 2; i++) {
		c = client(&at);
		pending[i] = port_of(c, 0);
		if (!i)
			must(write(c, "early", 5) == 5, "write");
		close(c);
	}
	/* Over loopback the handshake is done when connect() returns. */
	if (info(l).tcpi_unacked != 2)
		case_fail("the accept queue holds %u, want 2", info(l).tcpi_unacked);
	case_ready();
	case_wait_go();

	if (info(l).tcpi_state != TCP_LISTEN || info(l).tcpi_sacked != BACKLOG)
		case_fail("the listener: state %u backlog %u, want LISTEN and %d",
			  info(l).tcpi_state, info(l).tcpi_sacked, BACKLOG);
	if (port_of(l, 0) != ntohs(at.sin_port))
		case_fail("the listener is on port %u, was %u", port_of(l, 0), ntohs(at.sin_port));
	/* What is still queued: only the two clients, each at its end. */
	for (;;) {
		struct pollfd lp = { .fd = l, .events = POLLIN };
		unsigned short p;
		ssize_t n;
		int a;

		/* Nothing comes to the port but the case's own clients. */
		must(poll(&lp, 1, 0) >= 0, "poll");
		if (!lp.revents)
			break;
		a = accept(l, NULL, NULL);
		must(a >= 0, "accept of what is queued");
		p = port_of(a, 1);
		if (p != pending[0] && p != pending[1])
			case_fail("accepted a connection from port %u, not a client's", p);
		n = read(a, buf, sizeof(buf));
		if (p == pending[0] ? n != 5 || memcmp(buf, "early", 5) : n != 0)
			case_fail("client %u's connection read %zd", p, n);
		close(a);
	}
	/* A new client is served. */
	c = client(&at);
	{
		int a = accept(l, NULL, NULL);
		struct pollfd pfd = { .fd = c, .events = POLLIN };

		must(a >= 0, "accept");
		if (port_of(a, 1) != port_of(c, 0))
			case_fail("accepted port %u, the new client is on %u", port_of(a, 1),
				  port_of(c, 0));
		must(write(a, "hello", 5) == 5, "write");
		must(poll(&pfd, 1, 10000) == 1, "poll");
		if (read(c, buf, sizeof(buf)) != 5 || memcmp(buf, "hello", 5))
			case_fail("the new client did not read hello");
		close(a);
	}
	close(c);
	case_pass();
}
