/*
 * The receive queue of a UDP or UDP-Lite socket: every datagram waiting to
 * be read, each once, in order, with its boundaries, its sender and what
 * its IP header said (destination, TOS or traffic class, TTL or hop limit).
 *
 * Dump: read without taking anything, from a copy of the socket. The
 * head is peeked plainly, the rest at an SO_PEEK_OFF crest moves past
 * each datagram whole (MSG_TRUNC: the offset moves by the datagram's
 * length even if it was cut). Kernel facts that shape it: a peek at an
 * offset skips a datagram of length 0 that was peeked before (skb->peeked),
 * and only the head can have been peeked by a program whose SO_PEEK_OFF is
 * -1, so the head is peeked first with the offset off; a peek fills in
 * IP_ORIGDSTADDR, IP_TOS, IP_TTL (and IPV6_*) from the datagram's header
 * when the socket asks for them at the time of the read, so crest turns
 * them on for the walk and puts them back as they were.
 *
 * Refused by name when there are datagrams: SO_TIMESTAMP* on (the time
 * each arrived can't be given back), SO_RXQ_OVFL on (the drop count each
 * carries), bound to a device (a datagram sent
 * again arrives through lo), in an SO_REUSEPORT group (the group would
 * spread them), UDP_GRO (coalesced datagrams), SO_PEEK_OFF set by the
 * program, a sender with an IPv6 scope (link-local). A corked socket with
 * bytes not sent yet is refused whatever its queue.
 *
 * Restore: the socket is bound and not connected yet (a datagram queued
 * before a connect may come from anyone), with no filter yet (each
 * datagram passed it once). Each datagram is built whole, IP header
 * included, and sent through a raw socket (sk-inet-raw.c) from its sender's address and port to where it was sent: no
 * socket is bound to the sender's address for it, so no port of the tree
 * or of anybody else is in the way, and a sender that is not an address of
 * this machine is no problem. Where it was sent: its own destination if
 * that is still an address of the machine, else the socket's address, or
 * loopback for a socket bound to a wildcard (so too one sent to a
 * multicast group: sent there again, it would leave by the routing
 * table's interface, not the membership's; a program that asked for the
 * destination -- IP_PKTINFO, IP_RECVORIGDSTADDR and the IPv6 ones -- must
 * have it: then the restore fails). crest waits until each datagram is in
 * the queue (SO_MEMINFO's receive memory grows) before the next, and
 * fails the restore naming it if it never comes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "image.h"
#include "log.h"
#include "sk-inet.h"
#include "sk-opts.h"
#include "util.h"

#ifndef SO_BINDTOIFINDEX
#define SO_BINDTOIFINDEX	62
#endif

#define DGRAM_MAX	65536		/* the largest datagram, and a bit */
#define DGRAMS_MAX	65536		/* datagrams in one queue */
#define ARRIVE_MS	10000		/* a datagram sent again is in the queue by then */

/* The options a peek needs to see the header, per level. */
static const struct { int level, name; } hdr_opts[] = {
	{ IPPROTO_IP, IP_RECVORIGDSTADDR }, { IPPROTO_IP, IP_RECVTOS },
	{ IPPROTO_IP, IP_RECVTTL },
	{ IPPROTO_IPV6, IPV6_RECVORIGDSTADDR }, { IPPROTO_IPV6, IPV6_RECVTCLASS },
	{ IPPROTO_IPV6, IPV6_RECVHOPLIMIT },
};

static int meminfo_rmem(int fd, uint32_t *rmem)
{
	uint32_t mi[16];
	socklen_t len = sizeof(mi);

	memset(mi, 0, sizeof(mi));
	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mi, &len) || len < sizeof(mi[0])) {
		pr_perror("can't read the memory of a UDP socket (SO_MEMINFO)");
		return -1;
	}
	*rmem = mi[0];		/* SK_MEMINFO_RMEM_ALLOC */
	return 0;
}

/* Why a queue that is not empty can't be saved, or NULL. */
static char *queue_problem(const InetSkEntry *e, int cfd, const char *what)
{
	int peek = sock_int(cfd, SOL_SOCKET, SO_PEEK_OFF);

	if (sock_int(cfd, SOL_SOCKET, SO_TIMESTAMP) > 0 ||
	    sock_int(cfd, SOL_SOCKET, SO_TIMESTAMPNS) > 0 ||
	    sock_int(cfd, SOL_SOCKET, SO_TIMESTAMP_NEW) > 0 ||
	    sock_int(cfd, SOL_SOCKET, SO_TIMESTAMPNS_NEW) > 0 ||
	    sock_int(cfd, SOL_SOCKET, SO_TIMESTAMPING) > 0)
		return xsprintf("%s with datagrams queued and receive timestamps on (SO_TIMESTAMP*: the time each came can't be given back)",
				what);
	/* Each datagram carries the drops counted when it came (SO_RXQ_OVFL). */
	if (sock_int(cfd, SOL_SOCKET, SO_RXQ_OVFL) > 0)
		return xsprintf("%s with datagrams queued and SO_RXQ_OVFL on (the drop count each carries can't be given back)",
				what);
	if (sock_int(cfd, SOL_SOCKET, SO_BINDTOIFINDEX) > 0)
		return xsprintf("%s bound to a device (SO_BINDTODEVICE) with datagrams queued",
				what);
	if (sock_int(cfd, SOL_SOCKET, SO_REUSEPORT) > 0)
		return xsprintf("%s of an SO_REUSEPORT group with datagrams queued", what);
	if (e->protocol == IPPROTO_UDP && sock_int(cfd, SOL_UDP, UDP_GRO) > 0)
		return xsprintf("%s with UDP_GRO and datagrams queued", what);
	if (peek >= 0)
		return xsprintf("%s with SO_PEEK_OFF %d and datagrams queued", what, peek);
	return NULL;
}

/* The header's fields of a peeked datagram, from its control messages. */
static int read_cmsgs(struct msghdr *mh, UdpDgramEntry *d)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		const void *p = CMSG_DATA(c);
		struct sockaddr_storage ss;
		uint32_t port, scope;
		int v;

		memset(&ss, 0, sizeof(ss));
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) {
			d->has_tos = 1;
			d->tos = *(const uint8_t *)p;
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
			memcpy(&v, p, sizeof(v));
			d->has_ttl = 1;
			d->ttl = v;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS) {
			memcpy(&v, p, sizeof(v));
			d->has_tos = 1;
			d->tos = v;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
			memcpy(&v, p, sizeof(v));
			d->has_ttl = 1;
			d->ttl = v;
		} else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_ORIGDSTADDR) ||
			   (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_ORIGDSTADDR)) {
			size_t n = c->cmsg_len - CMSG_LEN(0);

			memcpy(&ss, p, n < sizeof(ss) ? n : sizeof(ss));
			if (inet_sa_split(&ss, &d->dst_addr, &port, &scope))
				return -1;
			d->has_dst_port = 1;
			d->dst_port = port;
		}
	}
	return 0;
}

/* One peek: 1 a datagram into *out, 0 none left, -1 error. */
static int peek_one(int cfd, uint8_t *buf, UdpDgramEntry **out, const char *what)
{
	char ctl[512] __attribute__((aligned(8)));
	struct sockaddr_storage from;
	struct iovec iov = { buf, DGRAM_MAX };
	struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from),
			     .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	UdpDgramEntry *d;
	uint32_t port, scope;
	ssize_t n;

	memset(&from, 0, sizeof(from));
	n = recvmsg(cfd, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n < 0) {
		pr_perror("can't peek at the queue of %s", what);
		return -1;
	}
	if (n > DGRAM_MAX || (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) {
		pr_err("a datagram in the queue of %s is too long to read (%zd bytes)", what, n);
		return -1;
	}
	d = xzalloc(sizeof(*d));
	udp_dgram_entry__init(d);
	*out = d;
	d->data.len = n;
	d->data.data = xzalloc(n + 1);
	memcpy(d->data.data, buf, n);
	if (inet_sa_split(&from, &d->src_addr, &port, &scope)) {
		pr_err("a datagram in the queue of %s has a sender of family %d", what,
		       from.ss_family);
		return -1;
	}
	d->src_port = port;
	if (scope) {
		pr_err("a datagram in the queue of %s comes from %s%%%u, an address with a scope crest can't send from",
		       what, d->src_addr, scope);
		return -1;
	}
	return read_cmsgs(&mh, d) ? -1 : 1;
}

/* The walk itself, the header options on and SO_PEEK_OFF -1 on entry. */
static int walk(InetSkEntry *e, int cfd, const char *what)
{
	uint8_t *buf = xzalloc(DGRAM_MAX + 1);
	size_t total = 0;
	int off = 0, ret = -1;

	for (;;) {
		UdpDgramEntry *d = NULL;
		int r = peek_one(cfd, buf, &d, what);

		if (d) {
			e->dgrams = xrealloc(e->dgrams, (e->n_dgrams + 1) * sizeof(*e->dgrams));
			e->dgrams[e->n_dgrams++] = d;
		}
		if (r <= 0) {
			ret = r;
			break;
		}
		total += d->data.len + 64;
		if (e->n_dgrams > DGRAMS_MAX || total > IMG_MAX_RECORD / 2) {
			pr_err("%s has more than %u datagrams or %u MiB queued", what,
			       DGRAMS_MAX, IMG_MAX_RECORD >> 21);
			break;
		}
		/* The head was peeked plainly: from now on at an offset. */
		off += d->data.len;
		if (setsockopt(cfd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off))) {
			pr_perror("can't move SO_PEEK_OFF in the queue of %s", what);
			break;
		}
	}
	free(buf);
	return ret;
}

char *udp_queue_dump(InetSkEntry *e, int cfd, const char *what)
{
	int saved[ARRAY_SIZE(hdr_opts)], on = 1, none = -1, outq = 0, ret;
	uint32_t rmem;
	char *why;

	e->has_peek_off = 1;
	e->peek_off = sock_int(cfd, SOL_SOCKET, SO_PEEK_OFF);
	if (sock_int(cfd, SOL_UDP, UDP_CORK) > 0 && !ioctl(cfd, SIOCOUTQ, &outq) && outq > 0)
		return xsprintf("%s, corked (UDP_CORK) with %d bytes not sent yet", what, outq);
	if (meminfo_rmem(cfd, &rmem))
		return xsprintf("%s whose queue crest could not read", what);
	if (!rmem)
		return NULL;
	why = queue_problem(e, cfd, what);
	if (why)
		return why;
	for (size_t i = 0; i < ARRAY_SIZE(hdr_opts); i++) {
		saved[i] = sock_int(cfd, hdr_opts[i].level, hdr_opts[i].name);
		if (saved[i] >= 0)
			setsockopt(cfd, hdr_opts[i].level, hdr_opts[i].name, &on, sizeof(on));
	}
	ret = walk(e, cfd, what);
	/* As it was: the header options, SO_PEEK_OFF off (-1, refused otherwise). */
	for (size_t i = 0; i < ARRAY_SIZE(hdr_opts); i++)
		if (saved[i] >= 0 && setsockopt(cfd, hdr_opts[i].level, hdr_opts[i].name,
						&saved[i], sizeof(saved[i])))
			pr_perror("can't give %s its option %d:%d back", what,
				  hdr_opts[i].level, hdr_opts[i].name);
	if (setsockopt(cfd, SOL_SOCKET, SO_PEEK_OFF, &none, sizeof(none)))
		pr_perror("can't give %s its SO_PEEK_OFF back", what);
	if (ret < 0)
		return xsprintf("%s whose queue crest could not read", what);
	if (!e->n_dgrams)
		return xsprintf("%s with %u bytes of receive memory and no datagram a peek finds",
				what, rmem);
	return NULL;
}

int udp_queue_check(const InetSkEntry *e)
{
	struct sockaddr_storage ss;

	if (e->n_dgrams && (e->type != SOCK_DGRAM || !e->src_addr ||
			    (e->protocol != IPPROTO_UDP && e->protocol != IPPROTO_UDPLITE)))
		return -1;
	for (size_t i = 0; i < e->n_dgrams; i++) {
		const UdpDgramEntry *d = e->dgrams[i];
		bool v4 = e->family == AF_INET ||
			  (inet_sa_make(AF_INET6, d->src_addr, 0, 0, &ss) &&
			   IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&ss)->sin6_addr));

		if (d->data.len > 65507 || d->src_port > 65535 ||
		    !inet_sa_make(e->family, d->src_addr, 0, 0, &ss) ||
		    (d->dst_addr && !inet_sa_make(v4 ? AF_INET : AF_INET6, d->dst_addr, 0, 0, &ss)) ||
		    (d->has_tos && d->tos > 255) || (d->has_ttl && d->ttl > 255))
			return -1;
	}
	return 0;
}

/* ---- restore ---- */

/* An address in this family that is this machine's (a bind says so). */
static bool is_local(int family, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len = inet_sa_make(family, addr, 0, 0, &ss);
	int fd, ok;

	if (!len)
		return false;
	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	ok = !bind(fd, (struct sockaddr *)&ss, len);
	close(fd);
	return ok;
}

/* A multicast group (a v4-mapped one too, for an IPv6 socket's IPv4 datagram). */
static bool is_group(int family, const char *addr)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (family == AF_INET)
		return inet_pton(AF_INET, addr, &a4) == 1 && IN_MULTICAST(ntohl(a4.s_addr));
	return inet_pton(AF_INET6, addr, &a6) == 1 && IN6_IS_ADDR_MULTICAST(&a6);
}

static bool asks_for_dst(const InetSkEntry *e)
{
	for (size_t i = 0; i < e->n_opts; i++) {
		const SkOptEntry *o = e->opts[i];
		int v = 0;

		if (o->val.len >= sizeof(v))
			memcpy(&v, o->val.data, sizeof(v));
		if (v && ((o->level == IPPROTO_IP && (o->name == IP_PKTINFO ||
						      o->name == IP_RECVORIGDSTADDR)) ||
			  (o->level == IPPROTO_IPV6 && (o->name == IPV6_RECVPKTINFO ||
							o->name == IPV6_RECVORIGDSTADDR))))
			return true;
	}
	return false;
}

/*
 * Where datagram d goes: its destination, or if that is no address of
 * this machine now, the socket's own, or loopback. v4: an IPv4 datagram
 * (on an IPv6 socket: v4-mapped addresses become IPv4 ones).
 */
static int dgram_dst(const InetSkEntry *e, const UdpDgramEntry *d, bool v4,
		     char *dst, size_t size, const char *what)
{
	const char *own = e->src_addr;
	bool group = d->dst_addr && is_group(v4 ? AF_INET : AF_INET6, d->dst_addr);

	if (d->dst_addr && !group && is_local(v4 ? AF_INET : AF_INET6, d->dst_addr)) {
		snprintf(dst, size, "%s", d->dst_addr);
		return 0;
	}
	if (d->dst_addr && asks_for_dst(e)) {
		pr_err("a datagram queued in %s was sent to %s, which is %s (and the program asks where each datagram was sent)",
		       what, d->dst_addr, group ? "a multicast group (sent again there, it would go out where the routing table says, not through the interface of the membership)" :
		       "not an address of this machine now");
		return -1;
	}
	if (v4 && e->family == AF_INET6 && !strncmp(own, "::ffff:", 7))
		own += 7;
	if (strcmp(own, "0.0.0.0") && strcmp(own, "::") &&
	    is_local(v4 ? AF_INET : AF_INET6, own))
		snprintf(dst, size, "%s", own);
	else
		snprintf(dst, size, "%s", v4 ? "127.0.0.1" : "::1");
	return 0;
}

/* UDP (or UDP-Lite) header and data of d, in buf: its length. */
static size_t build(const InetSkEntry *e, const UdpDgramEntry *d, uint8_t *buf)
{
	struct udphdr *uh = (struct udphdr *)buf;
	size_t ulen = sizeof(*uh) + d->data.len;

	uh->source = htons(d->src_port);
	uh->dest = htons(e->src_port);
	/* UDP-Lite: the length field is the checksum's coverage, 0 all of it. */
	uh->len = e->protocol == IPPROTO_UDP ? htons(ulen) : 0;
	uh->check = 0;
	memcpy(uh + 1, d->data.data, d->data.len);
	return ulen;
}

static int wait_arrived(int fd, uint32_t before)
{
	struct timespec nap = { 0, 200 * 1000 };

	for (int waited = 0; waited < ARRIVE_MS * 5; waited++) {
		uint32_t now;

		if (meminfo_rmem(fd, &now))
			return -1;
		if (now > before)
			return 0;
		nanosleep(&nap, NULL);
	}
	errno = ETIMEDOUT;
	return -1;
}

static int send_one(int fd, const InetSkEntry *e, size_t i, uint8_t *pkt, const char *what)
{
	const UdpDgramEntry *d = e->dgrams[i];
	struct sockaddr_storage src, dst;
	char daddr[INET6_ADDRSTRLEN + 8];
	const char *saddr = d->src_addr;
	bool v4 = e->family == AF_INET;
	uint32_t before;
	size_t len;

	if (!v4 && !strncmp(saddr, "::ffff:", 7) && strchr(saddr, '.')) {
		v4 = true;
		saddr += 7;
	}
	if (dgram_dst(e, d, v4, daddr, sizeof(daddr), what) ||
	    !inet_sa_make(v4 ? AF_INET : AF_INET6, saddr, 0, 0, &src) ||
	    !inet_sa_make(v4 ? AF_INET : AF_INET6, daddr, 0, 0, &dst)) {
		pr_err("can't queue datagram %zu of %s again from %s", i + 1, what, d->src_addr);
		return -1;
	}
	if (meminfo_rmem(fd, &before))
		return -1;
	len = build(e, d, pkt);
	if (inet_raw_send(&src, &dst, e->protocol, pkt, len, offsetof(struct udphdr, check),
			  d->has_tos ? (int)d->tos : 0, d->has_ttl ? (int)d->ttl : 64)) {
		pr_err("can't send datagram %zu of %s again (from %s:%u to %s)", i + 1, what,
		       d->src_addr, d->src_port, daddr);
		return -1;
	}
	if (wait_arrived(fd, before)) {
		pr_perror("datagram %zu of %s (from %s:%u, %zu bytes), sent again to %s, did not come back into its queue",
			  i + 1, what, d->src_addr, d->src_port, d->data.len, daddr);
		return -1;
	}
	return 0;
}

int udp_queue_restore(int fd, const InetSkEntry *e, const char *what)
{
	uint8_t *pkt;
	int ret = 0;

	if (e->n_dgrams) {
		pkt = xzalloc(DGRAM_MAX + 128);
		for (size_t i = 0; i < e->n_dgrams && !ret; i++)
			ret = send_one(fd, e, i, pkt, what);
		free(pkt);
	}
	if (!ret && e->has_peek_off && e->peek_off >= 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &e->peek_off, sizeof(e->peek_off))) {
		pr_perror("can't give %s its SO_PEEK_OFF", what);
		ret = -1;
	}
	return ret;
}
