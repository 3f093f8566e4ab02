/*
 * ICMP echo (ping) sockets, IPv4 and IPv6, in a network namespace of the
 * case's own (test/run starts it under unshare --net; it refuses to run
 * anywhere else: net.ipv4.ping_group_range, which lets a group make ping
 * sockets, is the namespace's, and the machine's stays as it is). With lo
 * up and the range set to let group 0 in:
 *  - p4: bound to 127.0.0.1 (its echo identifier chosen by the kernel),
 *    connected to 127.0.0.1, IP_TTL 33;
 *  - q4: not bound, given its identifier by a first echo sent and its
 *    reply read before the dump;
 *  - p6: bound to ::1, IPV6_UNICAST_HOPS 44.
 * After the restore each has its address and identifier (getsockname),
 * the options read as set, and an echo each sends (p4 with send(): it is
 * connected) comes back with its identifier and data.
 */
#include "caselib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <netinet/icmp6.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void must(int ok, const char *what)
{
	if (!ok)
		case_fail("%s: %s", what, strerror(errno));
}

static void lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	must(fd >= 0 && !ioctl(fd, SIOCGIFFLAGS, &ifr), "SIOCGIFFLAGS");
	ifr.ifr_flags |= IFF_UP;
	must(!ioctl(fd, SIOCSIFFLAGS, &ifr), "SIOCSIFFLAGS");
	close(fd);
}

static void ping_range(void)
{
	int fd = open("/proc/sys/net/ipv4/ping_group_range", O_WRONLY);

	must(fd >= 0 && write(fd, "0 0\n", 4) == 4, "ping_group_range");
	close(fd);
}

/* An echo request of fd (to dst, or its peer if dst is NULL), then its reply. */
static void echo(const char *who, int fd, bool v6, const struct sockaddr *dst, socklen_t dl,
		 unsigned int ident)
{
	unsigned char req[16], rep[64];
	struct pollfd p = { fd, POLLIN, 0 };
	ssize_t n;

	memset(req, 0, sizeof(req));
	req[0] = v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
	req[7] = 7;		/* sequence 7 */
	memcpy(req + 8, "crestpng", 8);
	n = dst ? sendto(fd, req, sizeof(req), 0, dst, dl) : send(fd, req, sizeof(req), 0);
	if (n != sizeof(req))
		case_fail("%s: echo request: %s", who, strerror(errno));
	if (poll(&p, 1, 30000) != 1)
		case_fail("%s: no echo reply in 30 s", who);
	n = recv(fd, rep, sizeof(rep), MSG_DONTWAIT);
	must(n >= 0, "recv");
	if (n != sizeof(req) || rep[0] != (v6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY) ||
	    memcmp(rep + 8, "crestpng", 8) || rep[7] != 7)
		case_fail("%s: the reply (%zd bytes, type %d) is not the echo of its request",
			  who, n, rep[0]);
	if (ident && (rep[4] << 8 | rep[5]) != ident)
		case_fail("%s: the reply has identifier %d, want %u", who, rep[4] << 8 | rep[5],
			  ident);
}

static unsigned int ident_of(int fd, struct sockaddr_storage *ss)
{
	socklen_t len = sizeof(*ss);

	memset(ss, 0, sizeof(*ss));
	must(!getsockname(fd, (struct sockaddr *)ss, &len), "getsockname");
	return ntohs(((struct sockaddr_in *)ss)->sin_port);	/* sin6_port is there too */
}

static void opt_is(const char *who, int fd, int lvl, int name, const char *str, int want)
{
	int v = -1;
	socklen_t len = sizeof(v);

	must(!getsockopt(fd, lvl, name, &v, &len), str);
	if (v != want)
		case_fail("%s: %s is %d, want %d", who, str, v, want);
}

int main(void)
{
	struct sockaddr_in l4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 l6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_storage n4, m4, n6, now;
	unsigned int i4, j4, i6;
	int p4, q4, p6, v;

	case_init();
	if (!case_own_ns("net"))
		case_fail("not in a network namespace of its own: it would change the machine's ping_group_range");
	lo_up();
	ping_range();

	p4 = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
	must(p4 >= 0 && !bind(p4, (struct sockaddr *)&l4, sizeof(l4)), "bind p4");
	must(!connect(p4, (struct sockaddr *)&l4, sizeof(l4)), "connect p4");
	v = 33;
	must(!setsockopt(p4, IPPROTO_IP, IP_TTL, &v, sizeof(v)), "IP_TTL");
	q4 = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
	must(q4 >= 0, "q4");
	echo("q4 before", q4, false, (struct sockaddr *)&l4, sizeof(l4), 0);
	p6 = socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6);
	must(p6 >= 0 && !bind(p6, (struct sockaddr *)&l6, sizeof(l6)), "bind p6");
	v = 44;
	must(!setsockopt(p6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &v, sizeof(v)), "IPV6_UNICAST_HOPS");
	i4 = ident_of(p4, &n4);
	j4 = ident_of(q4, &m4);
	i6 = ident_of(p6, &n6);
	if (!i4 || !j4 || !i6)
		case_fail("an identifier is 0: %u %u %u", i4, j4, i6);

	case_ready();
	case_wait_go();

	if (!case_own_ns("net"))
		case_fail("back in the machine's network namespace");
	if (ident_of(p4, &now) != i4 || memcmp(&now, &n4, sizeof(struct sockaddr_in)))
		case_fail("p4 has another address or identifier (%u, was %u)",
			  ident_of(p4, &now), i4);
	if (ident_of(q4, &now) != j4 || memcmp(&now, &m4, sizeof(struct sockaddr_in)))
		case_fail("q4 has another address or identifier (%u, was %u)",
			  ident_of(q4, &now), j4);
	if (ident_of(p6, &now) != i6 || memcmp(&now, &n6, sizeof(struct sockaddr_in6)))
		case_fail("p6 has another address or identifier (%u, was %u)",
			  ident_of(p6, &now), i6);
	opt_is("p4", p4, IPPROTO_IP, IP_TTL, "IP_TTL", 33);
	opt_is("p6", p6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, "IPV6_UNICAST_HOPS", 44);
	echo("p4", p4, false, NULL, 0, i4);
	echo("q4", q4, false, (struct sockaddr *)&l4, sizeof(l4), j4);
	echo("p6", p6, true, (struct sockaddr *)&l6, sizeof(l6), i6);
	case_pass();
}
