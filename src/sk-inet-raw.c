/*
 * Packets made by hand and sent to a socket crest restores: a datagram of a
 * UDP queue sent again from its sender (sk-udp-queue.c), the FIN or ACK a
 * half-closed TCP connection's peer once sent (sk-inet.c). The whole
 * packet is crest's, IP header included (a raw socket of IPPROTO_RAW,
 * IP_HDRINCL for IPv4 and its IPv6 kin), so it can come from any address
 * and port without a socket bound there: a port of the tree, or of
 * anybody else, is never in the way. Sent to an address of this machine it
 * goes through lo, where the kernel keeps the route it was sent with and
 * checks no source. The kernel fills in the IPv4 header's checksum and id;
 * the transport checksum (over the pseudo header) is crest's.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "net-lock.h"
#include "sk-inet.h"
#include "util.h"

static int raw_fd[2] = { -1, -1 };	/* IPv4, IPv6 */

static int raw_socket(bool v4)
{
	int *fd = &raw_fd[v4 ? 0 : 1];

	if (*fd < 0) {
		int mark = NET_LOCK_MARK;

		*fd = socket(v4 ? AF_INET : AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
		if (*fd < 0) {
			pr_perror("can't open a raw IPv%c socket", v4 ? '4' : '6');
			return -1;
		}
		/* crest's own packets pass the network lock (net-lock.c). */
		if (setsockopt(*fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark))) {
			pr_perror("can't mark crest's raw IPv%c socket (SO_MARK)", v4 ? '4' : '6');
			close(*fd);
			*fd = -1;
		}
	}
	return *fd;
}

void inet_raw_done(void)
{
	for (int i = 0; i < 2; i++)
		if (raw_fd[i] >= 0) {
			close(raw_fd[i]);
			raw_fd[i] = -1;
		}
}

static uint32_t csum_add(uint32_t sum, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	return sum ? sum : 0xffff;	/* UDP: 0 would say "no checksum" */
}

int inet_raw_send(const struct sockaddr_storage *src, const struct sockaddr_storage *dst,
		  uint8_t proto, uint8_t *l4, size_t len, size_t csum_off, int tos, int ttl)
{
	bool v4 = dst->ss_family == AF_INET;
	size_t hlen = v4 ? sizeof(struct iphdr) : sizeof(struct ip6_hdr);
	struct sockaddr_storage to;
	uint8_t *pkt;
	uint32_t sum = 0;
	uint16_t check;
	ssize_t n;
	int raw = raw_socket(v4);

	if (raw < 0)
		return -1;
	if (len > 65535 - hlen || csum_off + 2 > len) {
		pr_err("a packet of %zu bytes is too long to send", len);
		return -1;
	}
	pkt = xzalloc(hlen + len);
	if (v4) {
		struct iphdr *ih = (struct iphdr *)pkt;

		ih->version = 4;
		ih->ihl = 5;
		ih->tos = tos;
		ih->tot_len = htons(hlen + len);
		ih->ttl = ttl;
		ih->protocol = proto;
		ih->saddr = ((const struct sockaddr_in *)src)->sin_addr.s_addr;
		ih->daddr = ((const struct sockaddr_in *)dst)->sin_addr.s_addr;
		sum = csum_add(sum, &ih->saddr, 8);
	} else {
		struct ip6_hdr *ih = (struct ip6_hdr *)pkt;

		ih->ip6_flow = htonl(6u << 28 | (uint32_t)(tos & 0xff) << 20);
		ih->ip6_plen = htons(len);
		ih->ip6_nxt = proto;
		ih->ip6_hlim = ttl;
		ih->ip6_src = ((const struct sockaddr_in6 *)src)->sin6_addr;
		ih->ip6_dst = ((const struct sockaddr_in6 *)dst)->sin6_addr;
		sum = csum_add(sum, &ih->ip6_src, 32);
	}
	sum += (len >> 16) + (len & 0xffff) + proto;
	memset(l4 + csum_off, 0, 2);
	sum = csum_add(sum, l4, len);
	check = htons(csum_fold(sum));
	memcpy(l4 + csum_off, &check, 2);
	memcpy(pkt + hlen, l4, len);
	/* A raw socket's "port" is a protocol (IPv6: it must be 0 or its own). */
	memcpy(&to, dst, sizeof(to));
	if (v4)
		((struct sockaddr_in *)&to)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&to)->sin6_port = 0;
	n = sendto(raw, pkt, hlen + len, 0, (const struct sockaddr *)&to,
		   v4 ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	free(pkt);
	if (n != (ssize_t)(hlen + len)) {
		pr_perror("can't send a packet through a raw socket");
		return -1;
	}
	return 0;
}
