/*
 * UDP options beyond the common ones, and an SO_REUSEPORT group, at the
 * dump (nothing queued):
 *  - u4: IPv4 on 127.0.0.1 with UDP_GRO, UDP_SEGMENT, IP_RECVERR,
 *    IP_RECVERR_RFC4884, SO_TIMESTAMPNS_NEW, SO_RXQ_OVFL,
 *    SO_SELECT_ERR_QUEUE, IP_MINTTL, IP_LOCAL_PORT_RANGE;
 *  - u6: IPv6 on ::1 with IPV6_RECVERR, IPV6_DONTFRAG, IPV6_MINHOPCOUNT,
 *    IPV6_RECVPATHMTU, IPV6_FLOWINFO, SO_TIMESTAMPING_NEW (receive,
 *    software);
 *  - g1, g2: one SO_REUSEPORT group on 127.0.0.1.
 * After the restore every option reads as before, and works: a datagram
 * to u4 comes with an SO_TIMESTAMPNS_NEW stamp (the new layout, not the
 * old), an ICMP error of a datagram u4 sends to a closed port comes in its
 * error queue (IP_RECVERR), and 32 datagrams from 32 ports to the group
 * are shared between g1 and g2 (32 in all, each gets some).
 */
#include "caselib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT	103
#endif
#ifndef UDP_GRO
#define UDP_GRO		104
#endif
#ifndef SO_TIMESTAMPNS_NEW
#define SO_TIMESTAMPNS_NEW	64
#define SO_TIMESTAMPING_NEW	65
#endif
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE	51
#endif
#ifndef IPV6_MINHOPCOUNT
#define IPV6_MINHOPCOUNT	73
#endif
#ifndef IPV6_FLOWINFO
#define IPV6_FLOWINFO		11
#endif

struct o {
	int level, name, val;
	const char *str;
};

#define O(l, n, v)	{ l, n, v, #n }
static const struct o o4[] = {
	O(SOL_UDP, UDP_GRO, 1), O(SOL_UDP, UDP_SEGMENT, 1000),
	O(IPPROTO_IP, IP_RECVERR, 1), O(IPPROTO_IP, IP_RECVERR_RFC4884, 1),
	O(SOL_SOCKET, SO_TIMESTAMPNS_NEW, 1), O(SOL_SOCKET, SO_RXQ_OVFL, 1),
	O(SOL_SOCKET, SO_SELECT_ERR_QUEUE, 1), O(IPPROTO_IP, IP_MINTTL, 2),
	O(IPPROTO_IP, IP_LOCAL_PORT_RANGE, 40000 << 16 | 30000),
};
static const struct o o6[] = {
	O(IPPROTO_IPV6, IPV6_RECVERR, 1), O(IPPROTO_IPV6, IPV6_DONTFRAG, 1),
	O(IPPROTO_IPV6, IPV6_MINHOPCOUNT, 3), O(IPPROTO_IPV6, IPV6_RECVPATHMTU, 1),
	O(IPPROTO_IPV6, IPV6_FLOWINFO, 1),
	O(SOL_SOCKET, SO_TIMESTAMPING_NEW,
	  SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE),
};
#undef O

static void must(int ok, const char *what)
{
	if (!ok)
		case_fail("%s: %s", what, strerror(errno));
}

static void set_all(int fd, const struct o *os, size_t n)
{
	for (size_t i = 0; i < n; i++)
		must(!setsockopt(fd, os[i].level, os[i].name, &os[i].val, sizeof(int)),
		     os[i].str);
}

static void same_all(const char *what, int fd, const struct o *os, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int v = -1;
		socklen_t len = sizeof(v);

		must(!getsockopt(fd, os[i].level, os[i].name, &v, &len), os[i].str);
		if (v != os[i].val)
			case_fail("%s: %s is %d, want %d", what, os[i].str, v, os[i].val);
	}
	/* The old names read 0 when the new ones were set. */
	if (fd >= 0) {
		int v = -1;
		socklen_t len = sizeof(v);

		must(!getsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &v, &len), "SO_TIMESTAMPNS");
		if (v)
			case_fail("%s: SO_TIMESTAMPNS (old) reads %d", what, v);
	}
}

static int udp4(struct sockaddr_in *sa, int reuse)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	must(fd >= 0, "socket");
	if (reuse)
		must(!setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &reuse, sizeof(reuse)),
		     "SO_REUSEPORT");
	must(!bind(fd, (struct sockaddr *)sa, sizeof(*sa)) &&
	     !getsockname(fd, (struct sockaddr *)sa, &len), "bind");
	return fd;
}

static void wait_for(int fd, short ev, const char *what)
{
	struct pollfd p = { fd, ev, 0 };

	if (poll(&p, 1, 30000) != 1)
		case_fail("%s: nothing in 30 s", what);
}

int main(void)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in g = a4, closed = a4, n1, n2;
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t len;
	int u4, u6, g1, g2, t, got1 = 0, got2 = 0;

	case_init();
	u4 = udp4(&a4, 0);
	set_all(u4, o4, sizeof(o4) / sizeof(o4[0]));
	u6 = socket(AF_INET6, SOCK_DGRAM, 0);
	must(u6 >= 0 && !bind(u6, (struct sockaddr *)&a6, sizeof(a6)), "bind ::1");
	set_all(u6, o6, sizeof(o6) / sizeof(o6[0]));
	g1 = udp4(&g, 1);
	g2 = udp4(&g, 1);
	same_all("u4 before", u4, o4, sizeof(o4) / sizeof(o4[0]));
	same_all("u6 before", u6, o6, sizeof(o6) / sizeof(o6[0]));

	case_ready();
	case_wait_go();

	same_all("u4", u4, o4, sizeof(o4) / sizeof(o4[0]));
	same_all("u6", u6, o6, sizeof(o6) / sizeof(o6[0]));
	len = sizeof(n1);
	must(!getsockname(g1, (struct sockaddr *)&n1, &len), "getsockname g1");
	len = sizeof(n2);
	must(!getsockname(g2, (struct sockaddr *)&n2, &len), "getsockname g2");
	if (n1.sin_port != g.sin_port || n2.sin_port != g.sin_port)
		case_fail("the group is on ports %d and %d, want %d", ntohs(n1.sin_port),
			  ntohs(n2.sin_port), ntohs(g.sin_port));

	/* A stamp of the new layout with a datagram to u4. */
	t = socket(AF_INET, SOCK_DGRAM, 0);
	must(t >= 0 && sendto(t, "ts", 2, 0, (struct sockaddr *)&a4, sizeof(a4)) == 2, "send to u4");
	wait_for(u4, POLLIN, "u4");
	{
		char buf[16], cb[256];
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb,
				    .msg_controllen = sizeof(cb) };
		int stamp = 0;

		must(recvmsg(u4, &m, MSG_DONTWAIT) == 2, "recvmsg u4");
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == SOL_SOCKET)
				stamp = c->cmsg_type;
		if (stamp != SO_TIMESTAMPNS_NEW)
			case_fail("u4: the datagram came with stamp %d, want SO_TIMESTAMPNS_NEW", stamp);
	}
	/* IP_RECVERR: the ICMP error of a datagram to a closed port. */
	closed.sin_port = 0;
	close(t);
	t = udp4(&closed, 0);
	close(t);
	must(sendto(u4, "e", 1, 0, (struct sockaddr *)&closed, sizeof(closed)) == 1,
	     "send to a closed port");
	wait_for(u4, POLLERR, "u4's error queue");
	{
		char buf[16], cb[256];
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb,
				    .msg_controllen = sizeof(cb) };
		int err = 0;

		must(recvmsg(u4, &m, MSG_ERRQUEUE | MSG_DONTWAIT) >= 0, "MSG_ERRQUEUE");
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR)
				err = ((struct sock_extended_err *)CMSG_DATA(c))->ee_errno;
		if (err != ECONNREFUSED)
			case_fail("u4: the error queue said %d, want ECONNREFUSED", err);
	}
	/* The group shares what comes to its port. */
	for (int i = 0; i < 32; i++) {
		t = socket(AF_INET, SOCK_DGRAM, 0);
		must(t >= 0 && sendto(t, "g", 1, 0, (struct sockaddr *)&g, sizeof(g)) == 1,
		     "send to the group");
		close(t);
	}
	for (int waits = 0; got1 + got2 < 32 && waits < 30; ) {
		struct pollfd p[2] = { { g1, POLLIN, 0 }, { g2, POLLIN, 0 } };
		char c;

		if (poll(p, 2, 1000) <= 0) {
			waits++;
			continue;
		}
		if ((p[0].revents & POLLIN) && recv(g1, &c, 1, MSG_DONTWAIT) == 1)
			got1++;
		if ((p[1].revents & POLLIN) && recv(g2, &c, 1, MSG_DONTWAIT) == 1)
			got2++;
	}
	if (got1 + got2 != 32 || !got1 || !got2)
		case_fail("the group: g1 got %d and g2 %d of 32", got1, got2);
	case_pass();
}
