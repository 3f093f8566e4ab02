/*
 * Socket options and classic BPF filters, for every socket kind that
 * saves them (sk-inet.c, sk-packet.c): see sk-opts.h.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "sk-opts.h"
#include "util.h"

/*
 * The options saved, set again before the bind in this order. Each is
 * read on the socket and on a new one of its kind; what a socket of the
 * kind does not have (ENOPROTOOPT, EOPNOTSUPP...) is skipped, so one
 * table serves every family: a packet socket has no IP level, an IP one
 * no SOL_PACKET.
 */
static const struct sk_opt {
	int level, name;
	const char *str;
} sk_opts[] = {
#define O(l, n)	{ l, n, #n }
	O(SOL_SOCKET, SO_REUSEADDR),	O(SOL_SOCKET, SO_REUSEPORT),
	O(SOL_SOCKET, SO_KEEPALIVE),	O(SOL_SOCKET, SO_BROADCAST),
	O(SOL_SOCKET, SO_OOBINLINE),	O(SOL_SOCKET, SO_DONTROUTE),
	O(SOL_SOCKET, SO_MARK),
	O(SOL_SOCKET, SO_RCVLOWAT),	O(SOL_SOCKET, SO_LINGER),
	O(SOL_SOCKET, SO_RCVTIMEO),	O(SOL_SOCKET, SO_SNDTIMEO),
	O(SOL_SOCKET, SO_SNDBUF),	O(SOL_SOCKET, SO_RCVBUF),
	O(SOL_SOCKET, SO_BINDTODEVICE),	O(SOL_SOCKET, SO_TIMESTAMP),
	O(SOL_SOCKET, SO_TIMESTAMPNS),	O(SOL_SOCKET, SO_BUSY_POLL),
	O(SOL_SOCKET, SO_TIMESTAMPING),
	/*
	 * The _NEW ones read 1 only when set by their own name (they share
	 * a flag of the socket, SOCK_TSTAMP_NEW, with the old ones): set
	 * after them, the flag comes back. SO_TIMESTAMPING gives its flags
	 * and bind_phc (struct so_timestamping).
	 */
	O(SOL_SOCKET, SO_TIMESTAMP_NEW), O(SOL_SOCKET, SO_TIMESTAMPNS_NEW),
	O(SOL_SOCKET, SO_TIMESTAMPING_NEW),
	O(SOL_SOCKET, SO_RXQ_OVFL),	O(SOL_SOCKET, SO_SELECT_ERR_QUEUE),
	O(SOL_SOCKET, SO_TXTIME),	O(SOL_SOCKET, SO_PREFER_BUSY_POLL),
	O(SOL_SOCKET, SO_BUSY_POLL_BUDGET), O(SOL_SOCKET, SO_RCVMARK),
	O(IPPROTO_IP, IP_TOS),		O(IPPROTO_IP, IP_TTL),
	O(IPPROTO_IP, IP_FREEBIND),	O(IPPROTO_IP, IP_TRANSPARENT),
	O(IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT),
	O(IPPROTO_IP, IP_RECVERR),	O(IPPROTO_IP, IP_PKTINFO),
	O(IPPROTO_IP, IP_RECVTOS),	O(IPPROTO_IP, IP_RECVTTL),
	O(IPPROTO_IP, IP_RECVORIGDSTADDR),
	O(IPPROTO_IP, IP_MTU_DISCOVER),	O(IPPROTO_IP, IP_MULTICAST_TTL),
	O(IPPROTO_IP, IP_MULTICAST_LOOP), O(IPPROTO_IP, IP_MULTICAST_ALL),
	O(IPPROTO_IP, IP_MULTICAST_IF),	O(IPPROTO_IP, IP_UNICAST_IF),
	O(IPPROTO_IP, IP_RECVERR_RFC4884), O(IPPROTO_IP, IP_RECVFRAGSIZE),
	O(IPPROTO_IP, IP_CHECKSUM),	O(IPPROTO_IP, IP_MINTTL),
	O(IPPROTO_IP, IP_NODEFRAG),	O(IPPROTO_IP, IP_LOCAL_PORT_RANGE),
	O(IPPROTO_IP, IP_RECVOPTS),	O(IPPROTO_IP, IP_RETOPTS),
	O(IPPROTO_IP, IP_PASSSEC),	O(IPPROTO_IP, IP_OPTIONS),	/* 40 bytes at most */
	O(IPPROTO_IPV6, IPV6_V6ONLY),	O(IPPROTO_IPV6, IPV6_UNICAST_HOPS),
	O(IPPROTO_IPV6, IPV6_MULTICAST_HOPS), O(IPPROTO_IPV6, IPV6_MULTICAST_LOOP),
	O(IPPROTO_IPV6, IPV6_TCLASS),	O(IPPROTO_IPV6, IPV6_RECVPKTINFO),
	O(IPPROTO_IPV6, IPV6_RECVERR),	O(IPPROTO_IPV6, IPV6_MTU_DISCOVER),
	O(IPPROTO_IPV6, IPV6_FREEBIND),	O(IPPROTO_IPV6, IPV6_TRANSPARENT),
	O(IPPROTO_IPV6, IPV6_RECVTCLASS), O(IPPROTO_IPV6, IPV6_RECVHOPLIMIT),
	O(IPPROTO_IPV6, IPV6_RECVORIGDSTADDR),
	O(IPPROTO_IPV6, IPV6_MULTICAST_IF), O(IPPROTO_IPV6, IPV6_UNICAST_IF),
	O(IPPROTO_IPV6, IPV6_MULTICAST_ALL), O(IPPROTO_IPV6, IPV6_RECVERR_RFC4884),
	O(IPPROTO_IPV6, IPV6_DONTFRAG),	O(IPPROTO_IPV6, IPV6_AUTOFLOWLABEL),
	O(IPPROTO_IPV6, IPV6_MINHOPCOUNT), O(IPPROTO_IPV6, IPV6_RECVFRAGSIZE),
	O(IPPROTO_IPV6, IPV6_RECVPATHMTU), O(IPPROTO_IPV6, IPV6_FLOWINFO),
	O(IPPROTO_IPV6, IPV6_RECVRTHDR), O(IPPROTO_IPV6, IPV6_RECVHOPOPTS),
	O(IPPROTO_IPV6, IPV6_RECVDSTOPTS),
	/* After IP_TOS, which sets the priority too. */
	O(SOL_SOCKET, SO_PRIORITY),
	O(IPPROTO_TCP, TCP_NODELAY),	O(IPPROTO_TCP, TCP_CORK),
	O(IPPROTO_TCP, TCP_MAXSEG),	O(IPPROTO_TCP, TCP_KEEPIDLE),
	O(IPPROTO_TCP, TCP_KEEPINTVL),	O(IPPROTO_TCP, TCP_KEEPCNT),
	O(IPPROTO_TCP, TCP_SYNCNT),	O(IPPROTO_TCP, TCP_LINGER2),
	O(IPPROTO_TCP, TCP_DEFER_ACCEPT), O(IPPROTO_TCP, TCP_WINDOW_CLAMP),
	O(IPPROTO_TCP, TCP_USER_TIMEOUT), O(IPPROTO_TCP, TCP_NOTSENT_LOWAT),
	O(IPPROTO_TCP, TCP_FASTOPEN),	O(IPPROTO_TCP, TCP_CONGESTION),
	O(SOL_UDP, UDP_CORK),		O(SOL_UDP, UDP_SEGMENT),
	O(SOL_UDP, UDP_GRO),		O(SOL_UDP, UDP_ENCAP),
	O(SOL_UDPLITE, UDPLITE_SEND_CSCOV), O(SOL_UDPLITE, UDPLITE_RECV_CSCOV),
	O(SOL_RAW, ICMP_FILTER),	O(IPPROTO_IP, IP_HDRINCL),
	O(IPPROTO_IPV6, IPV6_CHECKSUM),	O(IPPROTO_ICMPV6, ICMPV6_FILTER),
	/*
	 * Packet sockets. PACKET_STATISTICS is not read: reading resets it.
	 * PACKET_VNET_HDR (a header of 10 bytes) before PACKET_VNET_HDR_SZ
	 * (10 or 12); none of them can be set once a ring is mapped, and a
	 * ring is refused.
	 */
	O(SOL_PACKET, PACKET_VERSION),	O(SOL_PACKET, PACKET_RESERVE),
	O(SOL_PACKET, PACKET_AUXDATA),	O(SOL_PACKET, PACKET_ORIGDEV),
	O(SOL_PACKET, PACKET_VNET_HDR),	O(SOL_PACKET, PACKET_VNET_HDR_SZ),
	O(SOL_PACKET, PACKET_LOSS),	O(SOL_PACKET, PACKET_TIMESTAMP),
	O(SOL_PACKET, PACKET_QDISC_BYPASS), O(SOL_PACKET, PACKET_TX_HAS_OFF),
	O(SOL_PACKET, PACKET_IGNORE_OUTGOING),
#undef O
};


void sk_opts_dump(int cfd, int fresh, sk_opt_skip_fn skip, const void *arg,
		  SkOptEntry ***opts, size_t *n)
{
	for (size_t i = 0; i < ARRAY_SIZE(sk_opts); i++) {
		const struct sk_opt *o = &sk_opts[i];
		char v[64], d[64];
		socklen_t vl = sizeof(v), dl = sizeof(d);
		SkOptEntry *so;

		if (skip && skip(o->level, o->name, arg))
			continue;
		memset(v, 0, sizeof(v));
		memset(d, 0, sizeof(d));
		if (getsockopt(cfd, o->level, o->name, v, &vl))
			continue;	/* not this kind's */
		if (!getsockopt(fresh, o->level, o->name, d, &dl) && vl == dl &&
		    !memcmp(v, d, vl))
			continue;
		so = xzalloc(sizeof(*so));
		sk_opt_entry__init(so);
		so->level = o->level;
		so->name = o->name;
		so->val.len = vl;
		so->val.data = xzalloc(vl + 1);
		memcpy(so->val.data, v, vl);
		*opts = xrealloc(*opts, (*n + 1) * sizeof(**opts));
		(*opts)[(*n)++] = so;
	}
}

const char *sk_opt_name(const SkOptEntry *o)
{
	for (size_t i = 0; i < ARRAY_SIZE(sk_opts); i++)
		if ((unsigned int)sk_opts[i].level == o->level &&
		    (unsigned int)sk_opts[i].name == o->name)
			return sk_opts[i].str;
	return "an unknown option";
}

static bool is_buf(const SkOptEntry *o)
{
	return o->level == SOL_SOCKET && (o->name == SO_SNDBUF || o->name == SO_RCVBUF);
}

int sk_opts_check(SkOptEntry *const *opts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (opts[i]->val.len > 64 ||
		    (is_buf(opts[i]) && opts[i]->val.len != sizeof(int)))
			return -1;
	return 0;
}

/* A buffer size as getsockopt said it: twice what setsockopt is given. */
static int set_buf(int fd, const SkOptEntry *o, const char *what)
{
	int val, half, force = o->name == SO_SNDBUF ? SO_SNDBUFFORCE : SO_RCVBUFFORCE;

	memcpy(&val, o->val.data, sizeof(val));
	half = val / 2;
	if (setsockopt(fd, SOL_SOCKET, force, &half, sizeof(half)) ||
	    sock_int(fd, SOL_SOCKET, o->name) != val) {
		pr_err("can't give %s its %s of %d bytes (got %d)", what, sk_opt_name(o),
		       val, sock_int(fd, SOL_SOCKET, o->name));
		return -1;
	}
	return 0;
}

int sk_opts_set(int fd, SkOptEntry *const *opts, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++) {
		const SkOptEntry *o = opts[i];

		if (is_buf(o)) {
			if (set_buf(fd, o, what))
				return -1;
			continue;
		}
		if (setsockopt(fd, o->level, o->name, o->val.data, o->val.len)) {
			pr_perror("can't set %s on %s", sk_opt_name(o), what);
			return -1;
		}
	}
	return 0;
}

/*
 * A socket's pending error (sk_err: a reset, an ICMP error of a connected
 * UDP socket) or error queue (IP_RECVERR's ICMP errors, transmit
 * timestamps, zerocopy notifications) shows as POLLERR; neither can be
 * read without taking it (SO_ERROR clears the error, MSG_ERRQUEUE
 * dequeues) nor put back. The counters of SOF_TIMESTAMPING_OPT_ID and
 * SO_ZEROCOPY, which number what is sent, can't be read either.
 */
static const struct sk_opt v6_sticky[] = {
	{ IPPROTO_IPV6, IPV6_HOPOPTS, "IPV6_HOPOPTS" },
	{ IPPROTO_IPV6, IPV6_RTHDRDSTOPTS, "IPV6_RTHDRDSTOPTS" },
	{ IPPROTO_IPV6, IPV6_RTHDR, "IPV6_RTHDR" },
	{ IPPROTO_IPV6, IPV6_DSTOPTS, "IPV6_DSTOPTS" },
};

char *sk_pending_problem(int cfd, const char *what)
{
	struct pollfd p = { cfd, POLLERR, 0 };
	uint32_t ts[2] = { 0, 0 };
	socklen_t len = sizeof(ts);

	if (poll(&p, 1, 0) == 1 && (p.revents & POLLERR))
		return xsprintf("%s with an error waiting to be read (SO_ERROR, or its error queue: IP_RECVERR's errors, transmit timestamps, zerocopy notifications; reading it would take it)",
				what);
	if (!getsockopt(cfd, SOL_SOCKET, SO_TIMESTAMPING, ts, &len) &&
	    (ts[0] & SOF_TIMESTAMPING_OPT_ID))
		return xsprintf("%s with SO_TIMESTAMPING's SOF_TIMESTAMPING_OPT_ID (the counter that numbers its timestamps can't be read back)",
				what);
	if (sock_int(cfd, SOL_SOCKET, SO_ZEROCOPY) > 0)
		return xsprintf("%s with SO_ZEROCOPY (the counter that numbers its notifications can't be read back)",
				what);
	/* IPv6 sticky extension headers: any length, not in the table. */
	for (size_t i = 0; i < ARRAY_SIZE(v6_sticky); i++) {
		char hdr[8];

		len = sizeof(hdr);
		if (!getsockopt(cfd, IPPROTO_IPV6, v6_sticky[i].name, hdr, &len) && len)
			return xsprintf("%s with the IPv6 extension header %s set, not saved yet",
					what, v6_sticky[i].str);
	}
	return NULL;
}

/*
 * SO_GET_FILTER: the number of instructions with a length of 0, then
 * the instructions (a length in instructions, not bytes). An eBPF filter
 * (SO_ATTACH_BPF) says EACCES.
 */
char *sk_filter_dump(int cfd, const char *what, ProtobufCBinaryData *filter,
		     bool *locked)
{
	struct sock_fprog fp;
	socklen_t len = 0, count;

	*locked = false;
	if (getsockopt(cfd, SOL_SOCKET, SO_GET_FILTER, &fp, &len)) {
		if (errno == EACCES)
			return xsprintf("%s with a socket filter that can't be read back", what);
		return NULL;
	}
	if (!len)
		return NULL;
	count = len;
	if (count > BPF_MAXINSNS)
		return xsprintf("%s with a socket filter of %u instructions", what, count);
	filter->data = xzalloc(count * sizeof(struct sock_filter));
	if (getsockopt(cfd, SOL_SOCKET, SO_GET_FILTER, filter->data, &len) || len != count)
		return xsprintf("%s with a socket filter crest could not read (%s)",
				what, strerror(errno));
	filter->len = count * sizeof(struct sock_filter);
	*locked = sock_int(cfd, SOL_SOCKET, SO_LOCK_FILTER) == 1;
	return NULL;
}

bool sk_filter_bad(const ProtobufCBinaryData *filter)
{
	return !filter->len || filter->len % sizeof(struct sock_filter) ||
	       filter->len / sizeof(struct sock_filter) > BPF_MAXINSNS;
}

int sk_filter_set(int fd, const ProtobufCBinaryData *filter, bool locked,
		  const char *what)
{
	struct sock_fprog fp;
	int one = 1;

	fp.len = filter->len / sizeof(struct sock_filter);
	fp.filter = (struct sock_filter *)filter->data;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp))) {
		pr_perror("can't attach the socket filter of %s", what);
		return -1;
	}
	if (locked && setsockopt(fd, SOL_SOCKET, SO_LOCK_FILTER, &one, sizeof(one))) {
		pr_perror("can't lock the socket filter of %s", what);
		return -1;
	}
	return 0;
}
