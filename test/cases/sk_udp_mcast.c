/*
 * Multicast memberships of UDP sockets, on lo, with their source filters,
 * and the multicast options:
 *  - a: IPv4, bound to 0.0.0.0: 239.77.1.1 from any source
 *    (IP_ADD_MEMBERSHIP by index), 232.77.1.2 from 127.0.0.1 and 127.0.0.2
 *    only (IP_ADD_SOURCE_MEMBERSHIP by address: INCLUDE), 239.77.1.3 but
 *    not from 127.0.0.3 (MCAST_JOIN_GROUP, MCAST_BLOCK_SOURCE: EXCLUDE);
 *    IP_MULTICAST_TTL 5, IP_MULTICAST_IF 127.0.0.1, IP_MULTICAST_ALL 0,
 *    IP_RECVTTL;
 *  - b: IPv6, bound to [::]: ff15::77:1 from any source, ff35::77:2 from
 *    ::1 only (MCAST_JOIN_SOURCE_GROUP), ff15::77:3 but not from ::2, and
 *    the IPv4 group 239.77.1.4 (IPPROTO_IP on an IPv6 socket);
 *    IPV6_MULTICAST_HOPS 6, IPV6_MULTICAST_IF lo, IPV6_MULTICAST_LOOP 0;
 * After the restore, from inside: MCAST_MSFILTER gives every membership
 * with its mode and sources, and nothing of a group not joined; the
 * options read as set; a datagram sent to a group that waited in a's
 * queue at the dump is read first (queued again as sent to a's own
 * address: crest(8)). Datagrams sent to a's groups from a socket of the
 * case arrive, those of a source filtered out don't (each sent before one
 * that passes: lo keeps the order); a datagram a sends to its own group
 * comes back to it with TTL 5 (its IP_MULTICAST_TTL and IF: without it
 * the datagram would go out on the default route's interface, where a is
 * no member); one sent to 239.77.1.4 reaches b. (IP_MULTICAST_IF given by
 * index alone can't be read back: crest(8), LIMITATIONS.) (IPv6 multicast does not loop through lo here:
 * b's IPv6 groups are checked by getsockopt only.)
 */
#include "caselib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned int lo;

static void must(int ok, const char *what)
{
	if (!ok)
		case_fail("%s: %s", what, strerror(errno));
}

static void sa(int family, const char *s, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = family;
	if (family == AF_INET)
		must(inet_pton(AF_INET, s, &((struct sockaddr_in *)ss)->sin_addr) == 1, s);
	else
		must(inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1, s);
}

static int level(int family)
{
	return family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
}

static void join_any(int fd, int family, const char *grp)
{
	struct group_req gr = { .gr_interface = lo };

	sa(family, grp, &gr.gr_group);
	must(!setsockopt(fd, level(family), MCAST_JOIN_GROUP, &gr, sizeof(gr)), grp);
}

static void join_src(int fd, int family, const char *grp, const char *src, int opt)
{
	struct group_source_req gs = { .gsr_interface = lo };

	sa(family, grp, &gs.gsr_group);
	sa(family, src, &gs.gsr_source);
	must(!setsockopt(fd, level(family), opt, &gs, sizeof(gs)), src);
}

/* The socket's filter of grp on lo is mode with exactly srcs (n), or not joined (mode -1). */
static void check(const char *who, int fd, int family, const char *grp, int mode,
		  const char *const *srcs, unsigned int n)
{
	char buf[GROUP_FILTER_SIZE(8)];
	struct group_filter *gf = (struct group_filter *)buf;
	socklen_t len = sizeof(buf);

	memset(buf, 0, sizeof(buf));
	gf->gf_interface = lo;
	sa(family, grp, &gf->gf_group);
	gf->gf_numsrc = 8;
	if (getsockopt(fd, level(family), MCAST_MSFILTER, gf, &len)) {
		if (errno == EADDRNOTAVAIL && mode < 0)
			return;
		case_fail("%s: MCAST_MSFILTER of %s: %s", who, grp, strerror(errno));
	}
	if (mode < 0)
		case_fail("%s is a member of %s, which it never joined", who, grp);
	if ((int)gf->gf_fmode != mode || gf->gf_numsrc != n)
		case_fail("%s: %s is %s with %u sources, want %s with %u", who, grp,
			  gf->gf_fmode == MCAST_INCLUDE ? "INCLUDE" : "EXCLUDE", gf->gf_numsrc,
			  mode == MCAST_INCLUDE ? "INCLUDE" : "EXCLUDE", n);
	for (unsigned int i = 0; i < n; i++) {
		struct sockaddr_storage want;
		unsigned int j;

		sa(family, srcs[i], &want);
		for (j = 0; j < n; j++)
			if (!memcmp(family == AF_INET ?
				    (void *)&((struct sockaddr_in *)&gf->gf_slist[j])->sin_addr :
				    (void *)&((struct sockaddr_in6 *)&gf->gf_slist[j])->sin6_addr,
				    family == AF_INET ?
				    (void *)&((struct sockaddr_in *)&want)->sin_addr :
				    (void *)&((struct sockaddr_in6 *)&want)->sin6_addr,
				    family == AF_INET ? 4 : 16))
				break;
		if (j == n)
			case_fail("%s: %s lacks source %s", who, grp, srcs[i]);
	}
}

static const char *const a_inc[] = { "127.0.0.1", "127.0.0.2" };
static const char *const a_exc[] = { "127.0.0.3" };
static const char *const b_inc[] = { "::1" };
static const char *const b_exc[] = { "::2" };

static void check_all(const char *when, int a, int b)
{
	char who[64];

	snprintf(who, sizeof(who), "a %s", when);
	check(who, a, AF_INET, "239.77.1.1", MCAST_EXCLUDE, NULL, 0);
	check(who, a, AF_INET, "232.77.1.2", MCAST_INCLUDE, a_inc, 2);
	check(who, a, AF_INET, "239.77.1.3", MCAST_EXCLUDE, a_exc, 1);
	check(who, a, AF_INET, "239.77.1.4", -1, NULL, 0);
	snprintf(who, sizeof(who), "b %s", when);
	check(who, b, AF_INET6, "ff15::77:1", MCAST_EXCLUDE, NULL, 0);
	check(who, b, AF_INET6, "ff35::77:2", MCAST_INCLUDE, b_inc, 1);
	check(who, b, AF_INET6, "ff15::77:3", MCAST_EXCLUDE, b_exc, 1);
	check(who, b, AF_INET, "239.77.1.4", MCAST_EXCLUDE, NULL, 0);
	check(who, b, AF_INET, "239.77.1.1", -1, NULL, 0);
}

static void opt_is(const char *who, int fd, int lvl, int name, const char *str, int want)
{
	int v = -1;
	socklen_t len = sizeof(v);

	must(!getsockopt(fd, lvl, name, &v, &len), str);
	if (len == 1)
		v &= 0xff;
	if (v != want)
		case_fail("%s: %s is %d, want %d", who, str, v, want);
}

static void set_int(int fd, int lvl, int name, int v, const char *str)
{
	must(!setsockopt(fd, lvl, name, &v, sizeof(v)), str);
}

/* A socket bound to src that sends out on lo. */
static int sender(const char *src)
{
	struct sockaddr_in s = { .sin_family = AF_INET };
	struct ip_mreqn mr = { .imr_ifindex = lo };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	must(fd >= 0 && inet_pton(AF_INET, src, &s.sin_addr) == 1 &&
	     !bind(fd, (struct sockaddr *)&s, sizeof(s)), src);
	must(!setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr)), "IP_MULTICAST_IF");
	return fd;
}

static void send_to(int fd, const char *grp, int port, const char *what)
{
	struct sockaddr_in d = { .sin_family = AF_INET, .sin_port = htons(port) };

	must(inet_pton(AF_INET, grp, &d.sin_addr) == 1, grp);
	if (sendto(fd, what, strlen(what), 0, (struct sockaddr *)&d, sizeof(d)) !=
	    (ssize_t)strlen(what))
		case_fail("send '%s' to %s:%d: %s", what, grp, port, strerror(errno));
}

/* The next datagram of fd is want (its TTL into *ttl if asked). */
static void expect(int fd, const char *want, int *ttl)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char buf[64], cb[128];
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb,
			    .msg_controllen = sizeof(cb) };
	ssize_t n;

	if (poll(&p, 1, 30000) != 1)
		case_fail("'%s' did not come in 30 s", want);
	n = recvmsg(fd, &m, MSG_DONTWAIT);
	must(n >= 0, "recvmsg");
	buf[n] = 0;
	if (strcmp(buf, want))
		case_fail("got '%s', want '%s' (a source filtered out got through?)", buf, want);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); ttl && c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL)
			memcpy(ttl, CMSG_DATA(c), sizeof(int));
}

int main(void)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	struct ip_mreqn mr = { .imr_ifindex = 0 };
	struct ip_mreq_source ms;
	struct in_addr any;
	socklen_t len;
	int a, b, s, pa, pb, ttl = -1;

	case_init();
	lo = if_nametoindex("lo");
	must(lo > 0, "lo");

	a = socket(AF_INET, SOCK_DGRAM, 0);
	must(a >= 0 && !bind(a, (struct sockaddr *)&a4, sizeof(a4)), "bind a");
	len = sizeof(a4);
	must(!getsockname(a, (struct sockaddr *)&a4, &len), "getsockname a");
	pa = ntohs(a4.sin_port);
	inet_pton(AF_INET, "239.77.1.1", &mr.imr_multiaddr);
	mr.imr_ifindex = lo;
	must(!setsockopt(a, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)), "IP_ADD_MEMBERSHIP");
	for (int i = 0; i < 2; i++) {
		memset(&ms, 0, sizeof(ms));
		inet_pton(AF_INET, "232.77.1.2", &ms.imr_multiaddr);
		inet_pton(AF_INET, "127.0.0.1", &ms.imr_interface);
		inet_pton(AF_INET, a_inc[i], &ms.imr_sourceaddr);
		must(!setsockopt(a, IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, &ms, sizeof(ms)),
		     "IP_ADD_SOURCE_MEMBERSHIP");
	}
	join_any(a, AF_INET, "239.77.1.3");
	join_src(a, AF_INET, "239.77.1.3", "127.0.0.3", MCAST_BLOCK_SOURCE);
	set_int(a, IPPROTO_IP, IP_MULTICAST_TTL, 5, "IP_MULTICAST_TTL");
	set_int(a, IPPROTO_IP, IP_MULTICAST_ALL, 0, "IP_MULTICAST_ALL");
	set_int(a, IPPROTO_IP, IP_RECVTTL, 1, "IP_RECVTTL");
	inet_pton(AF_INET, "127.0.0.1", &any);
	must(!setsockopt(a, IPPROTO_IP, IP_MULTICAST_IF, &any, sizeof(any)), "IP_MULTICAST_IF a");

	b = socket(AF_INET6, SOCK_DGRAM, 0);
	must(b >= 0 && !bind(b, (struct sockaddr *)&a6, sizeof(a6)), "bind b");
	len = sizeof(a6);
	must(!getsockname(b, (struct sockaddr *)&a6, &len), "getsockname b");
	pb = ntohs(a6.sin6_port);
	{
		struct ipv6_mreq m6 = { .ipv6mr_interface = lo };

		inet_pton(AF_INET6, "ff15::77:1", &m6.ipv6mr_multiaddr);
		must(!setsockopt(b, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m6, sizeof(m6)),
		     "IPV6_JOIN_GROUP");
	}
	join_src(b, AF_INET6, "ff35::77:2", "::1", MCAST_JOIN_SOURCE_GROUP);
	join_any(b, AF_INET6, "ff15::77:3");
	join_src(b, AF_INET6, "ff15::77:3", "::2", MCAST_BLOCK_SOURCE);
	join_any(b, AF_INET, "239.77.1.4");
	set_int(b, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 6, "IPV6_MULTICAST_HOPS");
	set_int(b, IPPROTO_IPV6, IPV6_MULTICAST_IF, lo, "IPV6_MULTICAST_IF");
	set_int(b, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0, "IPV6_MULTICAST_LOOP");

	check_all("before", a, b);
	/* One datagram to a group waits in a's queue at the dump. */
	s = sender("127.0.0.1");
	send_to(s, "239.77.1.1", pa, "queued");
	close(s);
	{
		struct pollfd p = { a, POLLIN, 0 };

		if (poll(&p, 1, 30000) != 1)
			case_fail("'queued' did not come in 30 s");
	}
	case_ready();
	case_wait_go();

	check_all("after the restore", a, b);
	opt_is("a", a, IPPROTO_IP, IP_MULTICAST_TTL, "IP_MULTICAST_TTL", 5);
	opt_is("a", a, IPPROTO_IP, IP_MULTICAST_ALL, "IP_MULTICAST_ALL", 0);
	opt_is("a", a, IPPROTO_IP, IP_MULTICAST_LOOP, "IP_MULTICAST_LOOP", 1);
	opt_is("b", b, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, "IPV6_MULTICAST_HOPS", 6);
	opt_is("b", b, IPPROTO_IPV6, IPV6_MULTICAST_IF, "IPV6_MULTICAST_IF", lo);
	opt_is("b", b, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, "IPV6_MULTICAST_LOOP", 0);
	{
		struct in_addr ifa;

		len = sizeof(ifa);
		must(!getsockopt(a, IPPROTO_IP, IP_MULTICAST_IF, &ifa, &len), "IP_MULTICAST_IF");
		if (ifa.s_addr != htonl(INADDR_LOOPBACK))
			case_fail("a: IP_MULTICAST_IF is %s, want 127.0.0.1", inet_ntoa(ifa));
	}

	expect(a, "queued", NULL);
	/* Each filtered-out datagram first: the one after it shows it never came. */
	s = sender("127.0.0.1");
	send_to(s, "239.77.1.1", pa, "any");
	expect(a, "any", NULL);
	close(s);
	s = sender("127.0.0.4");
	send_to(s, "232.77.1.2", pa, "not included");
	close(s);
	s = sender("127.0.0.2");
	send_to(s, "232.77.1.2", pa, "included");
	expect(a, "included", NULL);
	close(s);
	s = sender("127.0.0.3");
	send_to(s, "239.77.1.3", pa, "excluded");
	close(s);
	s = sender("127.0.0.5");
	send_to(s, "239.77.1.3", pa, "not excluded");
	expect(a, "not excluded", NULL);
	send_to(s, "239.77.1.4", pb, "v4 on b");
	expect(b, "v4 on b", NULL);
	close(s);
	/* a to its own group: out on 127.0.0.1's lo, back with its TTL. */
	send_to(a, "239.77.1.1", pa, "self");
	expect(a, "self", &ttl);
	if (ttl != 5)
		case_fail("a's own datagram came back with TTL %d, want 5", ttl);
	case_pass();
}
