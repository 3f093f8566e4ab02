/*
 * Raw IP sockets, nothing queued at the dump:
 *  - ICMP on 127.0.0.1 with an ICMP_FILTER that blocks every type (so that
 *    no ICMP of anybody else's comes into its queue before the dump);
 *  - ICMPv6 with an ICMPV6_FILTER that blocks every type;
 *  - protocol 253 (for experiments: nobody sends it) with IP_HDRINCL,
 *    bound and connected to a loopback address of its own, 127.1.X.Y from
 *    its pid: another run of this case at the same time sends its packet
 *    to its own address, which this socket does not take (one to
 *    127.0.0.1 came into every such socket's queue, before the dump or
 *    the audit of the restore).
 * After the restore each has its family, protocol, name, peer and options;
 * rx sends a packet to itself and gets it; the ICMP socket, its filter
 * opened to echo replies, still pings 127.0.0.1: it sends an echo request
 * and gets the kernel's reply.
 */
#include "caselib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void must(int ok, const char *what)
{
	if (!ok)
		case_fail("%s: %s", what, strerror(errno));
}

static int opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	must(!getsockopt(fd, level, name, &v, &len), "getsockopt");
	return v;
}

static uint16_t csum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

int main(void)
{
	struct sockaddr_in lo = { .sin_family = AF_INET };
	struct sockaddr_in own = { .sin_family = AF_INET };
	struct sockaddr_in name;
	struct icmp_filter f = { ~0u }, got;
	struct icmp6_filter f6, got6;
	socklen_t len;
	int r4, r6, rx, one = 1;

	case_init();
	inet_pton(AF_INET, "127.0.0.1", &lo.sin_addr);
	own.sin_addr.s_addr = htonl(0x7f010000 | (getpid() & 0xffff));
	r4 = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	must(r4 >= 0, "raw ICMP socket");
	must(!setsockopt(r4, SOL_RAW, ICMP_FILTER, &f, sizeof(f)), "ICMP_FILTER");
	must(!bind(r4, (struct sockaddr *)&lo, sizeof(lo)), "bind");
	r6 = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
	must(r6 >= 0, "raw ICMPv6 socket");
	ICMP6_FILTER_SETBLOCKALL(&f6);
	must(!setsockopt(r6, IPPROTO_ICMPV6, ICMP6_FILTER, &f6, sizeof(f6)), "ICMP6_FILTER");
	rx = socket(AF_INET, SOCK_RAW, 253);
	must(rx >= 0, "raw socket of protocol 253");
	must(!setsockopt(rx, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)), "IP_HDRINCL");
	must(!bind(rx, (struct sockaddr *)&own, sizeof(own)), "bind rx");
	must(!connect(rx, (struct sockaddr *)&own, sizeof(own)), "connect");

	case_ready();
	case_wait_go();

	if (opt(r4, SOL_SOCKET, SO_DOMAIN) != AF_INET || opt(r4, SOL_SOCKET, SO_TYPE) != SOCK_RAW ||
	    opt(r4, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_ICMP)
		case_fail("r4: not a raw ICMP socket after the restore");
	if (opt(r6, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_ICMPV6 ||
	    opt(rx, SOL_SOCKET, SO_PROTOCOL) != 253)
		case_fail("r6, rx: protocol %d, %d", opt(r6, SOL_SOCKET, SO_PROTOCOL),
			  opt(rx, SOL_SOCKET, SO_PROTOCOL));
	len = sizeof(got);
	must(!getsockopt(r4, SOL_RAW, ICMP_FILTER, &got, &len), "ICMP_FILTER");
	if (got.data != ~0u)
		case_fail("r4: ICMP_FILTER %#x, want all blocked", got.data);
	len = sizeof(got6);
	must(!getsockopt(r6, IPPROTO_ICMPV6, ICMP6_FILTER, &got6, &len), "ICMP6_FILTER");
	if (memcmp(&got6, &f6, sizeof(f6)))
		case_fail("r6: ICMP6_FILTER is not the one set");
	if (opt(rx, IPPROTO_IP, IP_HDRINCL) != 1)
		case_fail("rx: IP_HDRINCL off after the restore");
	len = sizeof(name);
	must(!getsockname(r4, (struct sockaddr *)&name, &len), "getsockname");
	if (name.sin_addr.s_addr != lo.sin_addr.s_addr)
		case_fail("r4: bound to another address after the restore");
	len = sizeof(name);
	must(!getsockname(rx, (struct sockaddr *)&name, &len), "getsockname");
	if (name.sin_addr.s_addr != own.sin_addr.s_addr)
		case_fail("rx: bound to another address after the restore");
	/* Connected (port 0: getpeername says ENOTCONN): a send needs no address. */
	{
		uint8_t pkt[24] = { 0x45, 0, 0, 24, 0, 0, 0, 0, 64, 253 };

		memcpy(pkt + 12, &own.sin_addr, 4);
		memcpy(pkt + 16, &own.sin_addr, 4);
		if (send(rx, pkt, sizeof(pkt), 0) != sizeof(pkt))
			case_fail("rx: a send without an address failed: %s (not connected?)",
				  strerror(errno));
	}
	/* It comes back to rx itself: from the address it is connected to, to its own. */
	{
		struct pollfd p = { rx, POLLIN, 0 };
		uint8_t buf[64];
		ssize_t n;

		if (poll(&p, 1, 30000) != 1)
			case_fail("rx: its own packet did not come back in 30 s");
		n = recv(rx, buf, sizeof(buf), 0);
		must(n >= 0, "recv rx");
		if (n != 24 || buf[9] != 253 || memcmp(buf + 12, &own.sin_addr, 4) ||
		    memcmp(buf + 16, &own.sin_addr, 4))
			case_fail("rx: got %zd bytes that are not its own packet", n);
	}

	/* A ping: echo replies through, the request out, the reply back. */
	f.data = ~(1u << ICMP_ECHOREPLY);
	must(!setsockopt(r4, SOL_RAW, ICMP_FILTER, &f, sizeof(f)), "ICMP_FILTER");
	{
		struct icmphdr req = { .type = ICMP_ECHO };
		struct pollfd p = { r4, POLLIN, 0 };
		char buf[256];

		req.un.echo.id = htons(0x4352);
		req.un.echo.sequence = htons(7);
		req.checksum = csum(&req, sizeof(req));
		must(sendto(r4, &req, sizeof(req), 0, (struct sockaddr *)&lo, sizeof(lo)) ==
		     sizeof(req), "send an echo request");
		for (;;) {
			ssize_t n;
			struct icmphdr *rep;

			if (poll(&p, 1, 30000) != 1)
				case_fail("r4: no echo reply in 30 s");
			n = recv(r4, buf, sizeof(buf), 0);
			must(n >= 0, "recv");
			/* The IP header comes first (ihl words). */
			if (n < (ssize_t)((buf[0] & 15) * 4 + sizeof(*rep)))
				continue;
			rep = (struct icmphdr *)(buf + (buf[0] & 15) * 4);
			if (rep->type == ICMP_ECHOREPLY && rep->un.echo.id == htons(0x4352) &&
			    rep->un.echo.sequence == htons(7))
				break;
		}
	}
	case_pass();
}
