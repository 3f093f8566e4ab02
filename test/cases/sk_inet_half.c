/*
 * Half-closed TCP connections, both ends in the tree (dumped with
 * --tcp-established). A peer that must not acknowledge drops every segment
 * with a classic socket filter (restored with it), so each state holds:
 *  1. over [::1]: a1 wrote "a-data" and shut writing (FIN_WAIT2), b1 has
 *     it and the FIN unread and wrote "b-data" (CLOSE_WAIT);
 *  2. over 127.0.0.1: b2 shut writing (FIN_WAIT2, then dropping all), a2
 *     read up to the FIN and shut writing (LAST_ACK, its FIN unacknowledged);
 *  3. a client over 127.0.0.1 to a dual-stack listener on [::] (a3 is the
 *     accepted end, v4-mapped): b3 drops all, a3 shut writing (FIN_WAIT1),
 *     b3 shut writing, a3 got its FIN (CLOSING), b3 stays FIN_WAIT1;
 *  4. a4 shut reading only (ESTABLISHED, reads give end of file at once).
 * After the restore each is in its state again (TCP_INFO) with its bytes:
 * b1 reads "a-data" then end of file and still writes to a1, a1 reads
 * "b-data" then that, can't write (EPIPE), and sees end of file once b1
 * shuts too; once b2 and b3 let segments in again, the FINs sent again by
 * a2, a3 and b3 are taken and every one of them closes (CLOSE); a4 reads
 * end of file and still writes to b4.
 */
#include "caselib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void must(int ok, const char *what)
{
	if (!ok)
		case_fail("%s: %s", what, strerror(errno));
}

static int state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	must(!getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), "TCP_INFO");
	return ti.tcpi_state;
}

/* Wait (bounded) until fd is in state want. */
static void wait_state(const char *what, int fd, int want, int secs)
{
	struct timespec nap = { 0, 2000000 };

	for (int i = 0; i < secs * 500; i++) {
		if (state(fd) == want)
			return;
		nanosleep(&nap, NULL);
	}
	case_fail("%s: state %d, want %d", what, state(fd), want);
}

static void want_state(const char *what, int fd, int want)
{
	if (state(fd) != want)
		case_fail("%s: state %d after the restore, want %d", what, state(fd), want);
}

/* A connection: *c from family/addr to a listener on laddr; *a accepted. */
static void pair(int lfamily, const char *laddr, int cfamily, const char *caddr,
		 int *c, int *a)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int l = socket(lfamily, SOCK_STREAM, 0), zero = 0;

	must(l >= 0, "socket");
	memset(&ss, 0, sizeof(ss));
	if (lfamily == AF_INET6) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		must(!setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)), "V6ONLY");
		s->sin6_family = AF_INET6;
		inet_pton(AF_INET6, laddr, &s->sin6_addr);
		len = sizeof(*s);
	} else {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		inet_pton(AF_INET, laddr, &s->sin_addr);
		len = sizeof(*s);
	}
	must(!bind(l, (struct sockaddr *)&ss, len) && !listen(l, 1), "listen");
	len = sizeof(ss);
	must(!getsockname(l, (struct sockaddr *)&ss, &len), "getsockname");
	if (cfamily == AF_INET && lfamily == AF_INET6) {
		struct sockaddr_in s = { .sin_family = AF_INET,
					 .sin_port = ((struct sockaddr_in6 *)&ss)->sin6_port };

		inet_pton(AF_INET, caddr, &s.sin_addr);
		memcpy(&ss, &s, sizeof(s));
		len = sizeof(s);
	}
	*c = socket(cfamily, SOCK_STREAM, 0);
	must(*c >= 0 && !connect(*c, (struct sockaddr *)&ss, len), "connect");
	*a = accept(l, NULL, NULL);
	must(*a >= 0, "accept");
	close(l);
}

static void drop_all(int fd)
{
	struct sock_filter insns[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	struct sock_fprog fp = { 1, insns };

	must(!setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)), "drop filter");
}

static void readable(const char *what, int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	if (poll(&p, 1, 30000) != 1)
		case_fail("%s: nothing to read in 30 s", what);
}

static void expect(const char *what, int fd, const char *want)
{
	char buf[64];
	ssize_t n;

	readable(what, fd);
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		case_fail("%s: read %zd bytes, want '%s'", what, n, want);
}

static void expect_eof(const char *what, int fd)
{
	char buf[8];
	ssize_t n;

	readable(what, fd);
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n != 0)
		case_fail("%s: read %zd, want end of file (%s)", what, n, strerror(errno));
}

int main(void)
{
	int a1, b1, a2, b2, a3, b3, a4, b4;

	case_init();

	pair(AF_INET6, "::1", AF_INET6, "::1", &a1, &b1);
	must(send(a1, "a-data", 6, 0) == 6 && !shutdown(a1, SHUT_WR), "a1");
	wait_state("a1", a1, TCP_FIN_WAIT2, 30);
	wait_state("b1", b1, TCP_CLOSE_WAIT, 30);
	must(send(b1, "b-data", 6, 0) == 6, "b1 send");
	readable("a1", a1);

	pair(AF_INET, "127.0.0.1", AF_INET, "127.0.0.1", &a2, &b2);
	must(!shutdown(b2, SHUT_WR), "b2");
	wait_state("b2", b2, TCP_FIN_WAIT2, 30);
	wait_state("a2", a2, TCP_CLOSE_WAIT, 30);
	drop_all(b2);
	must(!shutdown(a2, SHUT_WR), "a2");
	wait_state("a2", a2, TCP_LAST_ACK, 30);

	pair(AF_INET6, "::", AF_INET, "127.0.0.1", &b3, &a3);
	drop_all(b3);
	must(!shutdown(a3, SHUT_WR), "a3");
	wait_state("a3", a3, TCP_FIN_WAIT1, 30);
	must(!shutdown(b3, SHUT_WR), "b3");
	wait_state("a3", a3, TCP_CLOSING, 30);
	wait_state("b3", b3, TCP_FIN_WAIT1, 30);

	pair(AF_INET, "127.0.0.1", AF_INET, "127.0.0.1", &a4, &b4);
	must(!shutdown(a4, SHUT_RD), "a4");

	case_ready();
	case_wait_go();

	want_state("a1", a1, TCP_FIN_WAIT2);
	want_state("b1", b1, TCP_CLOSE_WAIT);
	want_state("a2", a2, TCP_LAST_ACK);
	want_state("b2", b2, TCP_FIN_WAIT2);
	want_state("a3", a3, TCP_CLOSING);
	want_state("b3", b3, TCP_FIN_WAIT1);
	want_state("a4", a4, TCP_ESTABLISHED);

	expect("b1", b1, "a-data");
	expect_eof("b1", b1);
	expect("a1", a1, "b-data");
	must(send(b1, "more", 4, 0) == 4, "b1 send after the restore");
	expect("a1", a1, "more");
	if (send(a1, "x", 1, MSG_NOSIGNAL) != -1 || errno != EPIPE)
		case_fail("a1: a write after SHUT_WR did not fail with EPIPE (%s)", strerror(errno));
	must(!shutdown(b1, SHUT_WR), "b1 shutdown");
	expect_eof("a1", a1);

	/* Segments in again: the FINs sent again close everything. */
	must(!setsockopt(b2, SOL_SOCKET, SO_DETACH_FILTER, &a1, sizeof(a1)), "b2 detach");
	must(!setsockopt(b3, SOL_SOCKET, SO_DETACH_FILTER, &a1, sizeof(a1)), "b3 detach");
	expect_eof("b2", b2);
	wait_state("a2", a2, TCP_CLOSE, 60);
	wait_state("a3", a3, TCP_CLOSE, 60);
	wait_state("b3", b3, TCP_CLOSE, 60);

	expect_eof("a4", a4);
	must(send(a4, "still", 5, 0) == 5, "a4 send");
	expect("b4", b4, "still");
	case_pass();
}
