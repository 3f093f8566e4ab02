/*
 * Established TCP connections with both ends in the tree (dumped with
 * --tcp-established), at the dump:
 *  - over 127.0.0.1, accepted from a listener still open: 5 bytes the
 *    client sent that the server has not read, 5 bytes the server sent
 *    and then as many more as it could write without blocking (the
 *    client's receive queue full, the rest in the server's send queue,
 *    some of it not even sent; both buffers set by hand), none of it read;
 *  - over [::1], with TCP_NODELAY on the client and 6 bytes queued;
 *  - an IPv4 client accepted by a dual-stack IPv6 listener (its server
 *    end's addresses v4-mapped, ::ffff:127.0.0.1), 4 bytes queued.
 * After the restore: both ends are ESTABLISHED (TCP_INFO) with their
 * names, every byte in flight arrives once and in order, both connections
 * carry new bytes both ways, and the listener accepts a process outside
 * the tree.
 */
#include "caselib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void must(int ok, const char *what)
{
	if (!ok)
		case_fail("%s: %s", what, strerror(errno));
}

static int listener(int family, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, l = socket(family, SOCK_STREAM, 0);

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr);
		len = sizeof(struct sockaddr_in);
	} else {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr);
		len = sizeof(struct sockaddr_in6);
	}
	must(l >= 0 && !setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) &&
	     !bind(l, (struct sockaddr *)&ss, len) && !listen(l, 4), "listener");
	return l;
}

static int client_of(int l, int family)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int c = socket(family, SOCK_STREAM, 0);

	must(c >= 0 && !getsockname(l, (struct sockaddr *)&ss, &len) &&
	     !connect(c, (struct sockaddr *)&ss, len), "connect");
	return c;
}

static void wait_readable(const char *what, int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	if (poll(&p, 1, 30000) != 1)
		case_fail("%s: nothing to read in 30 s", what);
}

/* Exactly len bytes, as they come. */
static void read_all(const char *what, int fd, char *buf, size_t len)
{
	while (len) {
		ssize_t n;

		wait_readable(what, fd);
		n = recv(fd, buf, len, 0);
		if (n <= 0)
			case_fail("%s: %s with %zu bytes still to come", what,
				  n ? strerror(errno) : "EOF", len);
		buf += n;
		len -= n;
	}
}

static void expect(const char *what, int fd, const char *want)
{
	char buf[64];

	read_all(what, fd, buf, strlen(want));
	if (memcmp(buf, want, strlen(want)))
		case_fail("%s: read '%.*s', want '%s'", what, (int)strlen(want), buf, want);
}

static void nothing_more(const char *what, int fd)
{
	char c;

	if (recv(fd, &c, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN)
		case_fail("%s: more queued than was sent", what);
}

static void established(const char *what, int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	must(!getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), what);
	if (ti.tcpi_state != 1)
		case_fail("%s: TCP state %u, want ESTABLISHED (1)", what, ti.tcpi_state);
}

struct names {
	struct sockaddr_storage me, peer;
	socklen_t me_len, peer_len;
};

static void names_of(int fd, struct names *n)
{
	memset(n, 0, sizeof(*n));
	n->me_len = n->peer_len = sizeof(n->me);
	must(!getsockname(fd, (struct sockaddr *)&n->me, &n->me_len) &&
	     !getpeername(fd, (struct sockaddr *)&n->peer, &n->peer_len), "names");
}

static void same_names(const char *what, int fd, const struct names *was)
{
	struct names n;

	names_of(fd, &n);
	if (n.me_len != was->me_len || memcmp(&n.me, &was->me, n.me_len) ||
	    n.peer_len != was->peer_len || memcmp(&n.peer, &was->peer, n.peer_len))
		case_fail("%s: its addresses differ after the restore", what);
}

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 7 + (i >> 9));
}

int main(void)
{
	int l, c, a, l6, c6, a6, lm, cm, am, one = 1, zero = 0, status;
	struct names nc, na, nc6, na6, ncm, nam;
	size_t big = 0;
	unsigned char *buf = malloc(1 << 20);
	pid_t pid;

	case_init();
	l = listener(AF_INET, "127.0.0.1");
	c = client_of(l, AF_INET);
	a = accept(l, NULL, NULL);
	must(a >= 0, "accept");
	/* Buffers set by hand, so the kernel does not tune them on. */
	{
		int snd = 1 << 20, rcv = 256 << 10;

		must(!setsockopt(a, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd)) &&
		     !setsockopt(c, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)), "buffers");
	}
	must(send(c, "c2s-1", 5, 0) == 5 && send(a, "s2c-1", 5, 0) == 5, "send");
	/* Fill the client's receive queue and the server's send queue. */
	must(!fcntl(a, F_SETFL, O_NONBLOCK), "O_NONBLOCK");
	for (;;) {
		ssize_t n;

		for (size_t i = 0; i < 65536; i++)
			buf[i] = pattern(big + i);
		n = send(a, buf, 65536, 0);
		if (n < 0 && errno == EAGAIN)
			break;
		must(n > 0, "fill");
		big += n;
		if (big > (64u << 20))
			case_fail("the connection takes more than 64 MiB without blocking");
	}
	must(!fcntl(a, F_SETFL, 0), "blocking again");

	l6 = listener(AF_INET6, "::1");
	c6 = client_of(l6, AF_INET6);
	a6 = accept(l6, NULL, NULL);
	must(a6 >= 0, "accept ipv6");
	close(l6);
	must(!setsockopt(c6, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), "TCP_NODELAY");
	must(send(c6, "v6-c2s", 6, 0) == 6, "send ipv6");
	lm = socket(AF_INET6, SOCK_STREAM, 0);
	{
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
		struct sockaddr_in s4 = { .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t sl = sizeof(s6);

		must(lm >= 0 && !setsockopt(lm, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) &&
		     !bind(lm, (struct sockaddr *)&s6, sizeof(s6)) && !listen(lm, 1) &&
		     !getsockname(lm, (struct sockaddr *)&s6, &sl), "dual-stack listener");
		s4.sin_port = s6.sin6_port;
		cm = socket(AF_INET, SOCK_STREAM, 0);
		must(cm >= 0 && !connect(cm, (struct sockaddr *)&s4, sizeof(s4)), "connect over IPv4");
	}
	am = accept(lm, NULL, NULL);
	must(am >= 0, "accept v4-mapped");
	close(lm);
	must(send(cm, "v4m!", 4, 0) == 4, "send v4-mapped");
	names_of(cm, &ncm);
	names_of(am, &nam);
	names_of(c, &nc);
	names_of(a, &na);
	names_of(c6, &nc6);
	names_of(a6, &na6);

	case_ready();
	case_wait_go();

	established("client", c);
	established("server", a);
	established("client over IPv6", c6);
	established("server over IPv6", a6);
	same_names("client", c, &nc);
	same_names("server", a, &na);
	same_names("client over IPv6", c6, &nc6);
	same_names("server over IPv6", a6, &na6);

	expect("server: what the client sent before the dump", a, "c2s-1");
	nothing_more("server", a);
	expect("client: what the server sent before the dump", c, "s2c-1");
	for (size_t done = 0; done < big;) {
		size_t n = big - done > (1 << 20) ? (1 << 20) : big - done;

		read_all("client: the server's queued bytes", c, (char *)buf, n);
		for (size_t i = 0; i < n; i++)
			if (buf[i] != pattern(done + i))
				case_fail("client: byte %zu of %zu queued is %#x, want %#x",
					  done + i, big, buf[i], pattern(done + i));
		done += n;
	}
	nothing_more("client", c);
	must(send(c, "after-c", 7, 0) == 7 && send(a, "after-s", 7, 0) == 7, "send after");
	expect("server: a new message", a, "after-c");
	expect("client: a new message", c, "after-s");

	expect("server over IPv6: what the client sent before the dump", a6, "v6-c2s");
	{
		int v = 0;
		socklen_t len = sizeof(v);

		must(!getsockopt(c6, IPPROTO_TCP, TCP_NODELAY, &v, &len), "TCP_NODELAY");
		if (!v)
			case_fail("client over IPv6: TCP_NODELAY lost");
	}
	must(send(a6, "v6-s2c", 6, 0) == 6 && send(c6, "v6-more", 7, 0) == 7, "send ipv6");
	expect("client over IPv6", c6, "v6-s2c");
	expect("server over IPv6", a6, "v6-more");

	established("v4-mapped server end", am);
	same_names("IPv4 client of the dual-stack listener", cm, &ncm);
	same_names("v4-mapped server end", am, &nam);
	expect("v4-mapped server end", am, "v4m!");
	must(send(am, "back", 4, 0) == 4, "send v4-mapped");
	expect("IPv4 client of the dual-stack listener", cm, "back");

	/* The listener, open beside its connection, takes a new one. */
	pid = fork();
	must(pid >= 0, "fork");
	if (!pid) {
		int o = client_of(l, AF_INET);

		_exit(send(o, "new", 3, 0) == 3 ? 0 : 1);
	}
	wait_readable("listener", l);
	a = accept(l, NULL, NULL);
	must(a >= 0, "accept after the restore");
	expect("a client outside the tree", a, "new");
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("the client outside the tree failed");
	case_pass();
}
