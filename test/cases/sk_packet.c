/*
 * Packet sockets, at the dump (ethertypes of the local experimental
 * range, which nothing else on the machine sends):
 *  - p1: SOCK_RAW for 0x88b5 bound to lo, with TPACKET_V2, PACKET_RESERVE,
 *    PACKET_AUXDATA, PACKET_ORIGDEV, PACKET_TIMESTAMP, PACKET_COPY_THRESH,
 *    SO_RCVBUF, SO_TIMESTAMPNS, a locked classic filter that lets through
 *    only frames whose data starts with "cres", and a multicast address
 *    of lo's added twice;
 *  - p2: SOCK_DGRAM for 0x88b6, not bound (every interface), with
 *    PACKET_IGNORE_OUTGOING;
 *  - p3: SOCK_RAW of protocol 0 (receives nothing), not bound, with
 *    PACKET_QDISC_BYPASS: the sender;
 *  - p4, p5: SOCK_RAW for 0x88b7 bound to lo, in one fanout group
 *    (PACKET_FANOUT_LB with PACKET_FANOUT_FLAG_ROLLOVER);
 *  - p6: SOCK_RAW of protocol 0 with PACKET_VNET_HDR, PACKET_LOSS and
 *    PACKET_TX_HAS_OFF.
 * After the restore: every socket has its name, options, filter and lock
 * back (getsockopt equal), and frames sent on lo come where they should:
 * p1 gets the "crest" frame and not the one its filter drops, with its
 * auxdata and lo as its device; p2 gets its datagram; the group of p4
 * and p5 shares 4 frames between them (4 in all: one group, not two
 * sockets that each get every frame).
 */
#include "caselib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <linux/net_tstamp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING	23
#endif

#define P1	0x88b5
#define P2	0x88b6
#define P4	0x88b7

static void must(int ok, const char *what)
{
	if (!ok)
		case_fail("%s: %s", what, strerror(errno));
}

static int opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, name, &v, &len))
		return -1000 - errno;
	return v;
}

static void set(int fd, int level, int name, int v, const char *what)
{
	must(!setsockopt(fd, level, name, &v, sizeof(v)), what);
}

static int packet(int type, int proto, int ifindex)
{
	int fd = socket(AF_PACKET, type, htons(proto));

	must(fd >= 0, "socket");
	if (ifindex) {
		struct sockaddr_ll sll = { .sll_family = AF_PACKET,
					   .sll_protocol = htons(proto),
					   .sll_ifindex = ifindex };

		must(!bind(fd, (struct sockaddr *)&sll, sizeof(sll)), "bind");
	}
	return fd;
}

/* What is compared after the restore: names and every option asked. */
struct state {
	struct sockaddr_ll name;
	int opts[16];
	unsigned short filter_len;
};

static const struct {
	int level, name;
} asked[] = {
	{ SOL_PACKET, PACKET_VERSION }, { SOL_PACKET, PACKET_RESERVE },
	{ SOL_PACKET, PACKET_AUXDATA }, { SOL_PACKET, PACKET_ORIGDEV },
	{ SOL_PACKET, PACKET_VNET_HDR }, { SOL_PACKET, PACKET_LOSS },
	{ SOL_PACKET, PACKET_TIMESTAMP }, { SOL_PACKET, PACKET_QDISC_BYPASS },
	{ SOL_PACKET, PACKET_TX_HAS_OFF }, { SOL_PACKET, PACKET_IGNORE_OUTGOING },
	{ SOL_PACKET, PACKET_FANOUT }, { SOL_SOCKET, SO_RCVBUF },
	{ SOL_SOCKET, SO_TIMESTAMPNS }, { SOL_SOCKET, SO_LOCK_FILTER },
	{ SOL_SOCKET, SO_TYPE },
};

static void snap(int fd, struct state *s)
{
	socklen_t len = sizeof(s->name);
	struct sock_fprog fp;

	memset(s, 0, sizeof(*s));
	must(!getsockname(fd, (struct sockaddr *)&s->name, &len), "getsockname");
	for (size_t i = 0; i < sizeof(asked) / sizeof(asked[0]); i++)
		s->opts[i] = opt(fd, asked[i].level, asked[i].name);
	len = 0;
	if (!getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, &fp, &len))
		s->filter_len = len;
}

static void same(const char *what, int fd, const struct state *was)
{
	struct state now;

	snap(fd, &now);
	if (now.name.sll_protocol != was->name.sll_protocol ||
	    now.name.sll_ifindex != was->name.sll_ifindex)
		case_fail("%s: protocol 0x%04x ifindex %d, want 0x%04x %d", what,
			  ntohs(now.name.sll_protocol), now.name.sll_ifindex,
			  ntohs(was->name.sll_protocol), was->name.sll_ifindex);
	for (size_t i = 0; i < sizeof(asked) / sizeof(asked[0]); i++)
		if (now.opts[i] != was->opts[i])
			case_fail("%s: option %d of level %d is %d, want %d", what,
				  asked[i].name, asked[i].level, now.opts[i], was->opts[i]);
	if (now.filter_len != was->filter_len)
		case_fail("%s: a filter of %u instructions, want %u", what, now.filter_len,
			  was->filter_len);
}

/* An Ethernet frame of type proto on lo, from the sender p3. */
static void send_frame(int fd, int lo, int proto, const char *data)
{
	unsigned char f[64];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = lo,
				   .sll_halen = ETH_ALEN };
	size_t len = ETH_HLEN + strlen(data);

	memset(f, 0, sizeof(f));
	f[12] = proto >> 8;
	f[13] = proto & 0xff;
	memcpy(f + ETH_HLEN, data, strlen(data));
	if (len < 60)
		len = 60;
	must(sendto(fd, f, len, 0, (struct sockaddr *)&sll, sizeof(sll)) == (ssize_t)len,
	     "send a frame");
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };

	return poll(&p, 1, ms) == 1;
}

int main(void)
{
	/* ld [14]; jeq "cres" ? accept : drop */
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ETH_HLEN),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x63726573, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog fp = { 4, insns };
	struct packet_mreq mr = { .mr_type = PACKET_MR_MULTICAST, .mr_alen = ETH_ALEN,
				  .mr_address = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb } };
	struct state s[7];
	int lo = if_nametoindex("lo"), p[7], fanout, got4 = 0, got5 = 0;

	case_init();
	case_netns_lo_up();
	must(lo > 0, "lo");
	p[1] = packet(SOCK_RAW, P1, lo);
	set(p[1], SOL_PACKET, PACKET_VERSION, TPACKET_V2, "PACKET_VERSION");
	set(p[1], SOL_PACKET, PACKET_RESERVE, 64, "PACKET_RESERVE");
	set(p[1], SOL_PACKET, PACKET_AUXDATA, 1, "PACKET_AUXDATA");
	set(p[1], SOL_PACKET, PACKET_ORIGDEV, 1, "PACKET_ORIGDEV");
	set(p[1], SOL_PACKET, PACKET_TIMESTAMP, SOF_TIMESTAMPING_RAW_HARDWARE, "PACKET_TIMESTAMP");
	set(p[1], SOL_PACKET, PACKET_COPY_THRESH, 128, "PACKET_COPY_THRESH");
	set(p[1], SOL_SOCKET, SO_RCVBUF, 100000, "SO_RCVBUF");
	set(p[1], SOL_SOCKET, SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS");
	mr.mr_ifindex = lo;
	must(!setsockopt(p[1], SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) &&
	     !setsockopt(p[1], SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)),
	     "PACKET_ADD_MEMBERSHIP");
	must(!setsockopt(p[1], SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)), "filter");
	set(p[1], SOL_SOCKET, SO_LOCK_FILTER, 1, "SO_LOCK_FILTER");
	p[2] = packet(SOCK_DGRAM, P2, 0);
	set(p[2], SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING");
	p[3] = packet(SOCK_RAW, 0, 0);
	set(p[3], SOL_PACKET, PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS");
	p[4] = packet(SOCK_RAW, P4, lo);
	p[5] = packet(SOCK_RAW, P4, lo);
	/* A group id of its own: the pid's low bits. */
	fanout = (getpid() & 0xffff) |
		 (PACKET_FANOUT_LB | PACKET_FANOUT_FLAG_ROLLOVER) << 16;
	set(p[4], SOL_PACKET, PACKET_FANOUT, fanout, "PACKET_FANOUT");
	set(p[5], SOL_PACKET, PACKET_FANOUT, fanout, "PACKET_FANOUT");
	p[6] = packet(SOCK_RAW, 0, 0);
	set(p[6], SOL_PACKET, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR");
	set(p[6], SOL_PACKET, PACKET_LOSS, 1, "PACKET_LOSS");
	set(p[6], SOL_PACKET, PACKET_TX_HAS_OFF, 1, "PACKET_TX_HAS_OFF");
	for (int i = 1; i < 7; i++)
		snap(p[i], &s[i]);
	if (s[1].filter_len != 4 || s[4].opts[10] != fanout)
		case_fail("setup: filter %u, fanout %#x", s[1].filter_len, s[4].opts[10]);

	case_ready();
	case_wait_go();

	for (int i = 1; i < 7; i++) {
		char what[8];

		snprintf(what, sizeof(what), "p%d", i);
		same(what, p[i], &s[i]);
	}
	/* p1: the filter drops "xxxxx", lets "crest" through. */
	send_frame(p[3], lo, P1, "xxxxx");
	send_frame(p[3], lo, P1, "crest");
	if (!readable(p[1], 30000))
		case_fail("p1: no frame in 30 s");
	{
		unsigned char buf[128], cb[256];
		struct sockaddr_ll from;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof(from),
				    .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = cb, .msg_controllen = sizeof(cb) };
		bool aux = false;
		ssize_t n = recvmsg(p[1], &m, MSG_DONTWAIT);

		must(n > 0, "p1: recvmsg");
		if (n < ETH_HLEN + 5 || memcmp(buf + ETH_HLEN, "crest", 5))
			case_fail("p1: got a frame of %zd bytes that is not \"crest\"", n);
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			aux |= c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA;
		if (!aux)
			case_fail("p1: no PACKET_AUXDATA with the frame");
		if (from.sll_ifindex != lo)
			case_fail("p1: the frame came from interface %d, not lo", from.sll_ifindex);
		if (readable(p[1], 0))
			case_fail("p1: a second frame passed the filter");
	}
	/* p2: a datagram of type 0x88b6, sent on lo by p2 itself. */
	{
		struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(P2),
					  .sll_ifindex = lo, .sll_halen = ETH_ALEN };
		char buf[64];

		must(sendto(p[2], "dgram", 5, 0, (struct sockaddr *)&to, sizeof(to)) == 5,
		     "p2: sendto");
		if (!readable(p[2], 30000))
			case_fail("p2: no datagram in 30 s");
		if (recv(p[2], buf, sizeof(buf), MSG_DONTWAIT) < 5 || memcmp(buf, "dgram", 5))
			case_fail("p2: not the datagram sent");
	}
	/* p4 and p5: one group, 4 frames in all. */
	for (int i = 0; i < 4; i++)
		send_frame(p[3], lo, P4, "fanout");
	for (int waits = 0; got4 + got5 < 4 && waits < 30; ) {
		struct pollfd pf[2] = { { p[4], POLLIN, 0 }, { p[5], POLLIN, 0 } };
		char buf[128];

		if (poll(pf, 2, 1000) <= 0) {
			waits++;
			continue;
		}
		if ((pf[0].revents & POLLIN) && recv(p[4], buf, sizeof(buf), MSG_DONTWAIT) > 0)
			got4++;
		if ((pf[1].revents & POLLIN) && recv(p[5], buf, sizeof(buf), MSG_DONTWAIT) > 0)
			got5++;
	}
	/* More would come now if each socket got every frame. */
	if (readable(p[4], 200) || readable(p[5], 0) || got4 + got5 != 4)
		case_fail("fanout: p4 got %d frames and p5 %d (and more waiting?), want 4 in all",
			  got4, got5);
	case_pass();
}
