/*
 * Datagrams waiting in UDP and UDP-Lite receive queues at the dump:
 *  - r4, UDP on 127.0.0.1 with IP_RECVTOS, IP_RECVTTL and
 *    IP_RECVORIGDSTADDR on, holds in this order: "one" from s1 (a socket
 *    of the tree on 127.0.0.1) sent with TOS 0x28, an empty datagram from
 *    s1, "gone" from a socket closed since (its port free), "far" from
 *    192.0.2.7:53 (no address of this machine; made by hand with a raw
 *    socket, TTL 9), and a datagram of 60000 bytes from s1;
 *  - s1 itself holds "back" from r4 (each is the other's sender);
 *  - r6, UDPv6 on [::] and not v6-only, holds "v4" from 127.0.0.1 (a
 *    v4-mapped sender) and "v6" from [::1];
 *  - rc, UDP connected to s1, holds "early" from a socket that is not s1,
 *    sent before the connect, then "late" from s1;
 *  - rf, UDP with a classic filter (datagrams over 100 bytes dropped),
 *    holds "filtered";
 *  - rl, UDP-Lite on 127.0.0.1, holds "lite".
 * After the restore each queue holds exactly those datagrams, in order,
 * with their boundaries, senders, and on r4 the TOS, TTL and destination;
 * nothing more (EAGAIN); s1 without IP_RECVTOS still gets no TOS; rc still
 * takes only s1's datagrams, rf still filters, and new datagrams flow.
 */
#include "caselib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE	136
#endif
#ifndef IP_RECVORIGDSTADDR
#define IP_RECVORIGDSTADDR	20
#define IP_ORIGDSTADDR		20
#endif
#ifndef SO_MEMINFO
#define SO_MEMINFO	55
#endif

static char big[60000];

static void must(int ok, const char *what)
{
	if (!ok)
		case_fail("%s: %s", what, strerror(errno));
}

static int set(int fd, int level, int name, int val)
{
	return setsockopt(fd, level, name, &val, sizeof(val));
}

static unsigned int rmem(int fd)
{
	unsigned int mi[16] = { 0 };
	socklen_t len = sizeof(mi);

	must(!getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mi, &len), "SO_MEMINFO");
	return mi[0];
}

/* Wait until fd's queue has grown past before: the datagram is in. */
static void arrived(int fd, unsigned int before, const char *what)
{
	struct timespec nap = { 0, 1000000 };

	for (int i = 0; i < 30000; i++) {
		if (rmem(fd) > before)
			return;
		nanosleep(&nap, NULL);
	}
	case_fail("%s: not queued in 30 s", what);
}

static int udp(int family, int proto, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(family, SOCK_DGRAM, proto);

	must(fd >= 0, "socket");
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &s->sin_addr);
		len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		s->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &s->sin6_addr);
		len = sizeof(*s);
		must(!set(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0), "IPV6_V6ONLY");
	}
	must(!bind(fd, (struct sockaddr *)&ss, len), "bind");
	return fd;
}

static int port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	must(!getsockname(fd, (struct sockaddr *)&ss, &len), "getsockname");
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
		     ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* from sends len bytes to to's port at addr; wait until they are queued. */
static void send_to(int from, int to, const char *addr, const void *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	unsigned int before = rmem(to);

	memset(&ss, 0, sizeof(ss));
	if (!strchr(addr, ':')) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port_of(to));
		inet_pton(AF_INET, addr, &s->sin_addr);
		sl = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port_of(to));
		inet_pton(AF_INET6, addr, &s->sin6_addr);
		sl = sizeof(*s);
	}
	must(sendto(from, buf, len, 0, (struct sockaddr *)&ss, sl) == (ssize_t)len, "sendto");
	arrived(to, before, "a datagram");
}

static uint16_t csum(const uint8_t *b, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

/* "far" from 192.0.2.7:53 with TTL 9, built by hand. */
static void send_far(int to)
{
	uint8_t pkt[64] = { 0 };
	struct iphdr *ih = (struct iphdr *)pkt;
	struct udphdr *uh = (struct udphdr *)(ih + 1);
	struct sockaddr_in dst = { .sin_family = AF_INET };
	unsigned int before = rmem(to);
	size_t ulen = sizeof(*uh) + 3;
	uint8_t ph[12 + 16];
	int raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);

	must(raw >= 0, "raw socket");
	ih->version = 4;
	ih->ihl = 5;
	ih->tot_len = htons(sizeof(*ih) + ulen);
	ih->ttl = 9;
	ih->protocol = IPPROTO_UDP;
	inet_pton(AF_INET, "192.0.2.7", &ih->saddr);
	inet_pton(AF_INET, "127.0.0.1", &ih->daddr);
	dst.sin_addr.s_addr = ih->daddr;
	uh->source = htons(53);
	uh->dest = htons(port_of(to));
	uh->len = htons(ulen);
	memcpy(uh + 1, "far", 3);
	memcpy(ph, &ih->saddr, 8);
	ph[8] = 0;
	ph[9] = IPPROTO_UDP;
	ph[10] = ulen >> 8;
	ph[11] = ulen & 0xff;
	memcpy(ph + 12, uh, ulen);	/* pseudo header, then the datagram */
	uh->check = htons(csum(ph, 12 + ulen, 0));
	must(sendto(raw, pkt, sizeof(*ih) + ulen, 0, (struct sockaddr *)&dst,
		    sizeof(dst)) > 0, "send the far datagram");
	close(raw);
	arrived(to, before, "the far datagram");
}

struct want {
	const char *data;
	size_t len;
	const char *addr;	/* the sender */
	int port;		/* its port, or -1: any */
	int tos, ttl;		/* -1: not asked */
};

/* The next datagram of fd must be w. */
static void expect(const char *what, int fd, const struct want *w)
{
	char buf[65536], ctl[256], addr[INET6_ADDRSTRLEN];
	struct sockaddr_storage from;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { &from, sizeof(from), &iov, 1, ctl, sizeof(ctl), 0 };
	int tos = -1, ttl = -1, dport = -1, port;
	ssize_t n;

	memset(&from, 0, sizeof(from));
	n = recvmsg(fd, &mh, MSG_DONTWAIT);
	if (n < 0)
		case_fail("%s: no datagram '%.10s' (%s)", what, w->data, strerror(errno));
	if ((size_t)n != w->len || memcmp(buf, w->data, n))
		case_fail("%s: a datagram of %zd bytes '%.10s', want %zu '%.10s'", what, n,
			  buf, w->len, w->data);
	if (from.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&from)->sin_addr, addr, sizeof(addr));
		port = ntohs(((struct sockaddr_in *)&from)->sin_port);
	} else {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&from)->sin6_addr, addr,
			  sizeof(addr));
		port = ntohs(((struct sockaddr_in6 *)&from)->sin6_port);
	}
	if (strcmp(addr, w->addr) || (w->port >= 0 && port != w->port))
		case_fail("%s: '%.10s' from %s:%d, want %s:%d", what, w->data, addr, port,
			  w->addr, w->port);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS)
			tos = *(uint8_t *)CMSG_DATA(c);
		else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL)
			memcpy(&ttl, CMSG_DATA(c), sizeof(ttl));
		else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_ORIGDSTADDR)
			dport = ntohs(((struct sockaddr_in *)CMSG_DATA(c))->sin_port);
	}
	if (tos != w->tos || (w->ttl >= 0 && ttl != w->ttl) || (w->ttl < 0 && ttl != -1))
		case_fail("%s: '%.10s' with TOS %d TTL %d, want %d %d", what, w->data, tos, ttl,
			  w->tos, w->ttl);
	if (w->tos >= 0 && dport != port_of(fd))
		case_fail("%s: '%.10s' sent to port %d, want %d", what, w->data, dport,
			  port_of(fd));
}

static void empty(const char *what, int fd)
{
	char buf[16];

	if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0 || errno != EAGAIN)
		case_fail("%s: more in the queue than was there", what);
}

static void wait_readable(const char *what, int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	if (poll(&p, 1, 30000) != 1)
		case_fail("%s: nothing came in 30 s", what);
}

int main(void)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 100, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog fp = { 4, insns };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int r4, s1, gone, gone_port, r6, s6, rc, other, rf, rl, sl, any;
	char buf[256];

	case_init();
	memset(big, 'b', sizeof(big));
	r4 = udp(AF_INET, 0, "127.0.0.1");
	must(!set(r4, IPPROTO_IP, IP_RECVTOS, 1) && !set(r4, IPPROTO_IP, IP_RECVTTL, 1) &&
	     !set(r4, IPPROTO_IP, IP_RECVORIGDSTADDR, 1) &&
	     !set(r4, SOL_SOCKET, SO_RCVBUF, 400000), "r4 options");
	s1 = udp(AF_INET, 0, "127.0.0.1");
	must(!set(s1, IPPROTO_IP, IP_TOS, 0x28), "IP_TOS");
	send_to(s1, r4, "127.0.0.1", "one", 3);
	must(!set(s1, IPPROTO_IP, IP_TOS, 0), "IP_TOS");
	send_to(s1, r4, "127.0.0.1", "", 0);
	gone = udp(AF_INET, 0, "127.0.0.1");
	gone_port = port_of(gone);
	send_to(gone, r4, "127.0.0.1", "gone", 4);
	close(gone);
	send_far(r4);
	send_to(s1, r4, "127.0.0.1", big, sizeof(big));
	send_to(r4, s1, "127.0.0.1", "back", 4);

	r6 = udp(AF_INET6, 0, "::");
	any = socket(AF_INET, SOCK_DGRAM, 0);
	must(any >= 0, "socket");
	send_to(any, r6, "127.0.0.1", "v4", 2);
	s6 = socket(AF_INET6, SOCK_DGRAM, 0);
	must(s6 >= 0, "socket");
	send_to(s6, r6, "::1", "v6", 2);

	rc = udp(AF_INET, 0, "127.0.0.1");
	other = udp(AF_INET, 0, "127.0.0.1");
	send_to(other, rc, "127.0.0.1", "early", 5);
	sa.sin_port = htons(port_of(s1));
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	must(!connect(rc, (struct sockaddr *)&sa, sizeof(sa)), "connect");
	send_to(s1, rc, "127.0.0.1", "late", 4);

	rf = udp(AF_INET, 0, "127.0.0.1");
	must(!setsockopt(rf, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)), "filter");
	send_to(s1, rf, "127.0.0.1", "filtered", 8);

	rl = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE);
	must(rl >= 0, "UDP-Lite socket");
	sa.sin_port = 0;
	must(!bind(rl, (struct sockaddr *)&sa, sizeof(sa)), "bind UDP-Lite");
	sl = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE);
	must(sl >= 0, "UDP-Lite socket");
	send_to(sl, rl, "127.0.0.1", "lite", 4);

	case_ready();
	case_wait_go();

	{
		const struct want w4[] = {
			{ "one", 3, "127.0.0.1", port_of(s1), 0x28, 64 },
			{ "", 0, "127.0.0.1", port_of(s1), 0, 64 },
			{ "gone", 4, "127.0.0.1", gone_port, 0, 64 },
			{ "far", 3, "192.0.2.7", 53, 0, 9 },
			{ big, sizeof(big), "127.0.0.1", port_of(s1), 0, 64 },
		};
		const struct want back = { "back", 4, "127.0.0.1", port_of(r4), -1, -1 };
		const struct want v4 = { "v4", 2, "::ffff:127.0.0.1", port_of(any), -1, -1 };
		const struct want v6 = { "v6", 2, "::1", port_of(s6), -1, -1 };
		const struct want early = { "early", 5, "127.0.0.1", port_of(other), -1, -1 };
		const struct want late = { "late", 4, "127.0.0.1", port_of(s1), -1, -1 };
		const struct want filtered = { "filtered", 8, "127.0.0.1", port_of(s1), -1, -1 };
		const struct want lite = { "lite", 4, "127.0.0.1", port_of(sl), -1, -1 };

		for (size_t i = 0; i < sizeof(w4) / sizeof(w4[0]); i++)
			expect("r4", r4, &w4[i]);
		empty("r4", r4);
		expect("s1", s1, &back);
		empty("s1", s1);
		expect("r6", r6, &v4);
		expect("r6", r6, &v6);
		empty("r6", r6);
		expect("rc", rc, &early);
		expect("rc", rc, &late);
		empty("rc", rc);
		expect("rf", rf, &filtered);
		empty("rf", rf);
		expect("rl", rl, &lite);
		empty("rl", rl);
	}

	/* Still connected: other's datagram is not taken, s1's is. */
	sa.sin_port = htons(port_of(rc));
	must(sendto(other, "no", 2, 0, (struct sockaddr *)&sa, sizeof(sa)) == 2 &&
	     sendto(s1, "yes", 3, 0, (struct sockaddr *)&sa, sizeof(sa)) == 3, "sendto rc");
	wait_readable("rc", rc);
	if (recv(rc, buf, sizeof(buf), 0) != 3 || memcmp(buf, "yes", 3))
		case_fail("rc: took a datagram from another sender than its peer");
	/* Still filtered: a long one is dropped, a short one passes. */
	sa.sin_port = htons(port_of(rf));
	must(sendto(s1, big, 200, 0, (struct sockaddr *)&sa, sizeof(sa)) == 200 &&
	     sendto(s1, "short", 5, 0, (struct sockaddr *)&sa, sizeof(sa)) == 5, "sendto rf");
	wait_readable("rf", rf);
	if (recv(rf, buf, sizeof(buf), 0) != 5)
		case_fail("rf: its filter let a datagram of 200 bytes through");
	sa.sin_port = htons(port_of(rl));
	must(sendto(sl, "again", 5, 0, (struct sockaddr *)&sa, sizeof(sa)) == 5, "sendto rl");
	wait_readable("rl", rl);
	if (recv(rl, buf, sizeof(buf), 0) != 5 || memcmp(buf, "again", 5))
		case_fail("rl: a new UDP-Lite datagram did not come");
	case_pass();
}
