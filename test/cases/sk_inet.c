/*
 * TCP and UDP sockets, at the dump (every port picked free by the kernel
 * when the case starts):
 *  - a TCP listener on 127.0.0.1 with SO_REUSEADDR, SO_KEEPALIVE,
 *    TCP_NODELAY, SO_RCVBUF and a backlog of 7, whose port a connection
 *    it accepted and closed first holds in TIME_WAIT (free to bind again
 *    with SO_REUSEADDR, as the program could);
 *  - a TCP listener on 127.0.0.1 without SO_REUSEADDR;
 *  - a TCPv6 listener on [::1] with IPV6_V6ONLY and TCP_MAXSEG, backlog 3;
 *  - a dual-stack TCPv6 listener on [::] (IPV6_V6ONLY off);
 *  - a TCP socket bound and not listening, with SO_LINGER;
 *  - a TCP socket not bound, with TCP_CONGESTION reno;
 *  - a UDP socket bound to 127.0.0.1 with IP_TOS, and a UDP socket
 *    connected to it (its port chosen by the connect);
 *  - a UDP socket with a classic BPF filter, locked (SO_LOCK_FILTER);
 *  - two TCP listeners sharing a port with SO_REUSEPORT (a group).
 * After the restore: every name (getsockname, getpeername), option and
 * backlog (TCP_INFO) is as it was, SO_REUSEADDR off where it was off; a
 * process outside the tree (forked now) connects to every listener (the
 * dual-stack one over IPv4) and is accepted and answered; the bound socket
 * listens; the UDP sockets exchange datagrams both ways with the right
 * sender.
 */
#include "caselib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct sk {
	const char *what;
	int fd;
	struct sockaddr_storage name, peer;
	socklen_t name_len, peer_len;
};

static struct sk sks[16];
static int nr_sks;

static void must(int ok, const char *what)
{
	if (!ok)
		case_fail("%s: %s", what, strerror(errno));
}

static struct sk *add(const char *what, int fd)
{
	struct sk *s;

	if (nr_sks == (int)(sizeof(sks) / sizeof(sks[0])))
		case_fail("more sockets than the case has room for");
	s = &sks[nr_sks++];

	s->what = what;
	s->fd = fd;
	return s;
}

/* Names now, to compare after the restore. */
static void remember(void)
{
	for (int i = 0; i < nr_sks; i++) {
		struct sk *s = &sks[i];

		s->name_len = sizeof(s->name);
		must(!getsockname(s->fd, (struct sockaddr *)&s->name, &s->name_len),
		     s->what);
		s->peer_len = sizeof(s->peer);
		if (getpeername(s->fd, (struct sockaddr *)&s->peer, &s->peer_len))
			s->peer_len = 0;
	}
}

static void same_names(void)
{
	for (int i = 0; i < nr_sks; i++) {
		struct sk *s = &sks[i];
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		memset(&ss, 0, sizeof(ss));
		must(!getsockname(s->fd, (struct sockaddr *)&ss, &len), s->what);
		if (len != s->name_len || memcmp(&ss, &s->name, len))
			case_fail("%s: getsockname differs after the restore", s->what);
		len = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		if (getpeername(s->fd, (struct sockaddr *)&ss, &len))
			len = 0;
		if (len != s->peer_len || memcmp(&ss, &s->peer, len))
			case_fail("%s: getpeername differs after the restore (%u bytes, want %u)",
				  s->what, len, s->peer_len);
	}
}

static int opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	must(!getsockopt(fd, level, name, &v, &len), "getsockopt");
	return v;
}

static void want_opt(const char *what, int fd, int level, int name, int want)
{
	int v = opt(fd, level, name);

	if (v != want)
		case_fail("%s: option %d:%d is %d, want %d", what, level, name, v, want);
}

static void want_listening(const char *what, int fd, unsigned int backlog)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	must(!getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), what);
	if (ti.tcpi_state != 10 /* TCP_LISTEN */ || ti.tcpi_sacked != backlog)
		case_fail("%s: state %u backlog %u, want LISTEN (10) and %u", what,
			  ti.tcpi_state, ti.tcpi_sacked, backlog);
}

static int tcp(int family)
{
	int fd = socket(family, SOCK_STREAM, 0);

	must(fd >= 0, "socket");
	return fd;
}

static void set(int fd, int level, int name, int val)
{
	must(!setsockopt(fd, level, name, &val, sizeof(val)), "setsockopt");
}

static void bind4(int fd, const char *addr, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, addr, &sa.sin_addr);
	must(!bind(fd, (struct sockaddr *)&sa, sizeof(sa)), "bind");
}

static void bind6(int fd, const char *addr)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };

	inet_pton(AF_INET6, addr, &sa.sin6_addr);
	must(!bind(fd, (struct sockaddr *)&sa, sizeof(sa)), "bind ipv6");
}

static int port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	must(!getsockname(fd, (struct sockaddr *)&ss, &len), "getsockname");
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
		     ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void wait_readable(const char *what, int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	if (poll(&p, 1, 30000) != 1)
		case_fail("%s: not readable in 30 s", what);
}

/*
 * A process outside the tree connects to addr:port, says hello, waits
 * for the answer; the listener accepts it and answers.
 */
static void outside_client(const char *what, int l, int family, const char *addr)
{
	char buf[16];
	int a, status;
	pid_t pid = fork();

	must(pid >= 0, "fork");
	if (!pid) {
		struct sockaddr_storage ss;
		socklen_t len;
		int fd = socket(family, SOCK_STREAM, 0);

		memset(&ss, 0, sizeof(ss));
		if (family == AF_INET) {
			struct sockaddr_in *s = (struct sockaddr_in *)&ss;

			s->sin_family = AF_INET;
			s->sin_port = htons(port_of(l));
			inet_pton(AF_INET, addr, &s->sin_addr);
			len = sizeof(*s);
		} else {
			struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

			s->sin6_family = AF_INET6;
			s->sin6_port = htons(port_of(l));
			inet_pton(AF_INET6, addr, &s->sin6_addr);
			len = sizeof(*s);
		}
		if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) ||
		    send(fd, "hello", 5, 0) != 5 || recv(fd, buf, sizeof(buf), 0) != 2)
			_exit(1);
		_exit(0);
	}
	wait_readable(what, l);
	a = accept(l, NULL, NULL);
	must(a >= 0, what);
	wait_readable(what, a);
	if (recv(a, buf, sizeof(buf), 0) != 5 || memcmp(buf, "hello", 5))
		case_fail("%s: the outside client's hello did not come", what);
	must(send(a, "ok", 2, 0) == 2, what);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("%s: the client outside the tree failed (%#x)", what, status);
	close(a);
}

/* A client outside the tree connects to the group; one of the two takes it. */
static void reuseport_client(int r1, int r2)
{
	struct pollfd p[2] = { { r1, POLLIN, 0 }, { r2, POLLIN, 0 } };
	int status, a;
	pid_t pid = fork();

	must(pid >= 0, "fork");
	if (!pid) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port_of(r1)) };
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
		_exit(fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ? 1 : 0);
	}
	if (poll(p, 2, 30000) < 1)
		case_fail("SO_REUSEPORT group: no connection in 30 s");
	a = accept(p[0].revents & POLLIN ? r1 : r2, NULL, NULL);
	must(a >= 0, "accept from the SO_REUSEPORT group");
	close(a);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("SO_REUSEPORT group: the client outside the tree failed");
}

int main(void)
{
	int l4, l4b, l6, ld, tb, tu, ub, uc, uf, r1, r2, c, a;
	/* Datagrams up to 100 bytes pass (whole), longer ones are dropped. */
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 100, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog fp = { 4, insns };
	struct sock_filter got[8];
	struct linger lg = { 1, 5 }, lg2;
	socklen_t len;
	char cc[16], buf[16];
	struct sockaddr_storage from, ucname;
	socklen_t flen;

	case_init();

	l4 = tcp(AF_INET);
	set(l4, SOL_SOCKET, SO_REUSEADDR, 1);
	set(l4, SOL_SOCKET, SO_KEEPALIVE, 1);
	set(l4, IPPROTO_TCP, TCP_NODELAY, 1);
	set(l4, SOL_SOCKET, SO_RCVBUF, 50000);
	bind4(l4, "127.0.0.1", 0);
	must(!listen(l4, 7), "listen");
	add("listener 127.0.0.1", l4);

	/* Its port held by a TIME_WAIT connection: the server closed first. */
	c = tcp(AF_INET);
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		must(!getsockname(l4, (struct sockaddr *)&ss, &sl), "getsockname");
		must(!connect(c, (struct sockaddr *)&ss, sl), "connect");
	}
	a = accept(l4, NULL, NULL);
	must(a >= 0, "accept");
	close(a);
	wait_readable("time-wait client", c);
	close(c);

	l4b = tcp(AF_INET);
	bind4(l4b, "127.0.0.1", 0);
	must(!listen(l4b, 4), "listen");
	add("listener 127.0.0.1 without SO_REUSEADDR", l4b);

	l6 = tcp(AF_INET6);
	set(l6, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	set(l6, IPPROTO_TCP, TCP_MAXSEG, 1200);
	bind6(l6, "::1");
	must(!listen(l6, 3), "listen");
	add("listener [::1]", l6);

	ld = tcp(AF_INET6);
	set(ld, IPPROTO_IPV6, IPV6_V6ONLY, 0);
	bind6(ld, "::");
	must(!listen(ld, 5), "listen");
	add("dual-stack listener [::]", ld);

	tb = tcp(AF_INET);
	must(!setsockopt(tb, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), "SO_LINGER");
	bind4(tb, "127.0.0.1", 0);
	add("bound TCP socket", tb);

	tu = tcp(AF_INET);
	must(!setsockopt(tu, IPPROTO_TCP, TCP_CONGESTION, "reno", 4), "TCP_CONGESTION");
	add("unbound TCP socket", tu);

	ub = socket(AF_INET, SOCK_DGRAM, 0);
	must(ub >= 0, "socket");
	set(ub, IPPROTO_IP, IP_TOS, 0x10);
	bind4(ub, "127.0.0.1", 0);
	add("bound UDP socket", ub);

	uc = socket(AF_INET, SOCK_DGRAM, 0);
	must(uc >= 0, "socket");
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		must(!getsockname(ub, (struct sockaddr *)&ss, &sl), "getsockname");
		must(!connect(uc, (struct sockaddr *)&ss, sl), "connect udp");
	}
	add("connected UDP socket", uc);
	uf = socket(AF_INET, SOCK_DGRAM, 0);
	must(uf >= 0 && !setsockopt(uf, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)), "filter");
	set(uf, SOL_SOCKET, SO_LOCK_FILTER, 1);
	add("filtered UDP socket", uf);
	r1 = tcp(AF_INET);
	set(r1, SOL_SOCKET, SO_REUSEPORT, 1);
	bind4(r1, "127.0.0.1", 0);
	must(!listen(r1, 3), "listen");
	r2 = tcp(AF_INET);
	set(r2, SOL_SOCKET, SO_REUSEPORT, 1);
	bind4(r2, "127.0.0.1", port_of(r1));
	must(!listen(r2, 3), "listen");
	add("SO_REUSEPORT listener 1", r1);
	add("SO_REUSEPORT listener 2", r2);
	remember();

	case_ready();
	case_wait_go();

	same_names();
	want_opt("listener 127.0.0.1", l4, SOL_SOCKET, SO_REUSEADDR, 1);
	want_opt("listener 127.0.0.1", l4, SOL_SOCKET, SO_KEEPALIVE, 1);
	want_opt("listener 127.0.0.1", l4, IPPROTO_TCP, TCP_NODELAY, 1);
	want_opt("listener 127.0.0.1", l4, SOL_SOCKET, SO_RCVBUF, 100000);
	want_opt("listener without SO_REUSEADDR", l4b, SOL_SOCKET, SO_REUSEADDR, 0);
	want_opt("listener [::1]", l6, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	want_opt("listener [::1]", l6, IPPROTO_TCP, TCP_MAXSEG, 1200);
	want_opt("dual-stack listener", ld, IPPROTO_IPV6, IPV6_V6ONLY, 0);
	want_opt("bound UDP socket", ub, IPPROTO_IP, IP_TOS, 0x10);
	want_opt("listener 127.0.0.1", l4, SOL_SOCKET, SO_ACCEPTCONN, 1);
	want_opt("bound TCP socket", tb, SOL_SOCKET, SO_ACCEPTCONN, 0);
	len = sizeof(lg2);
	must(!getsockopt(tb, SOL_SOCKET, SO_LINGER, &lg2, &len), "SO_LINGER");
	if (!lg2.l_onoff || lg2.l_linger != 5)
		case_fail("bound TCP socket: SO_LINGER %d %d, want 1 5", lg2.l_onoff,
			  lg2.l_linger);
	len = sizeof(cc);
	memset(cc, 0, sizeof(cc));
	must(!getsockopt(tu, IPPROTO_TCP, TCP_CONGESTION, cc, &len), "TCP_CONGESTION");
	if (strcmp(cc, "reno"))
		case_fail("unbound TCP socket: congestion control '%s', want reno", cc);
	len = 8;
	memset(got, 0, sizeof(got));
	must(!getsockopt(uf, SOL_SOCKET, SO_GET_FILTER, got, &len), "SO_GET_FILTER");
	if (len != 4 || memcmp(got, insns, sizeof(insns)))
		case_fail("filtered UDP socket: a filter of %u instructions, not the one attached", len);
	want_opt("filtered UDP socket", uf, SOL_SOCKET, SO_LOCK_FILTER, 1);
	want_listening("listener 127.0.0.1", l4, 7);
	want_listening("listener without SO_REUSEADDR", l4b, 4);
	want_listening("listener [::1]", l6, 3);
	want_listening("dual-stack listener", ld, 5);

	outside_client("listener 127.0.0.1", l4, AF_INET, "127.0.0.1");
	outside_client("listener without SO_REUSEADDR", l4b, AF_INET, "127.0.0.1");
	outside_client("listener [::1]", l6, AF_INET6, "::1");
	outside_client("dual-stack listener over IPv4", ld, AF_INET, "127.0.0.1");
	want_opt("SO_REUSEPORT listener 1", r1, SOL_SOCKET, SO_REUSEPORT, 1);
	want_opt("SO_REUSEPORT listener 2", r2, SOL_SOCKET, SO_REUSEPORT, 1);
	want_listening("SO_REUSEPORT listener 1", r1, 3);
	want_listening("SO_REUSEPORT listener 2", r2, 3);
	if (port_of(r1) != port_of(r2))
		case_fail("the SO_REUSEPORT listeners are on ports %d and %d", port_of(r1),
			  port_of(r2));
	reuseport_client(r1, r2);
	must(!listen(tb, 2), "listen on the bound TCP socket");
	outside_client("bound TCP socket, listening now", tb, AF_INET, "127.0.0.1");

	/* UDP both ways, with the right sender. */
	must(send(uc, "ping", 4, 0) == 4, "udp send");
	wait_readable("bound UDP socket", ub);
	flen = sizeof(from);
	memset(&from, 0, sizeof(from));
	if (recvfrom(ub, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen) != 4 ||
	    memcmp(buf, "ping", 4))
		case_fail("bound UDP socket: the datagram did not come");
	len = sizeof(ucname);
	must(!getsockname(uc, (struct sockaddr *)&ucname, &len), "getsockname");
	if (flen != len || memcmp(&from, &ucname, len))
		case_fail("bound UDP socket: a datagram from another sender than the connected socket");
	must(sendto(ub, "pong", 4, 0, (struct sockaddr *)&from, flen) == 4, "udp sendto");
	wait_readable("connected UDP socket", uc);
	if (recv(uc, buf, sizeof(buf), 0) != 4 || memcmp(buf, "pong", 4))
		case_fail("connected UDP socket: the answer did not come");
	case_pass();
}
