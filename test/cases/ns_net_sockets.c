/*
 * Every socket kind crest saves, in a network namespace of the tree's own
 * (test/run starts it under unshare --net; it refuses to run anywhere
 * else), loopback brought up there. At the dump:
 *  - a unix stream socketpair between the case and its forked child,
 *    "from-child" queued for the case;
 *  - a unix stream listener bound to an abstract name (abstract names are
 *    a network namespace's own) with a client connected and accepted,
 *    "c2s" queued for the server end and "s2c" for the client, and a
 *    second client waiting to be accepted;
 *  - a UDP socket on 127.0.0.1 (the namespace's loopback) with a
 *    datagram "dgram" queued from another UDP socket of the case;
 *  - a packet socket (SOCK_DGRAM, ethertype 0x88b5) bound to the
 *    namespace's lo by its index there;
 *  - a NETLINK_ROUTE socket bound to a port id the kernel chose.
 * After the restore, checked from inside: every socket is in the case's
 * network namespace (SIOCGSKNS), a new one (not the machine's); the child
 * and the case talk over the pair (the queued bytes first); the queued
 * bytes and the datagram are there once, with their sender; the waiting
 * client is accepted, and a new socket of the namespace connects to the
 * abstract name; a frame sent on lo reaches the packet socket; the route
 * socket has its port id and gets lo in the kernel's answer to a link
 * dump.
 */
#include "caselib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SIOCGSKNS
#define SIOCGSKNS	0x894C
#endif

#define ABSTRACT	"crest-ns-net-sockets"
#define ETHERTYPE	0x88b5

static void must(int ok, const char *what)
{
	if (!ok)
		case_fail("%s: %s", what, strerror(errno));
}

static socklen_t abstract_addr(struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path + 1, ABSTRACT, strlen(ABSTRACT));
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(ABSTRACT);
}

static int connect_abstract(void)
{
	struct sockaddr_un sa;
	socklen_t len = abstract_addr(&sa);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	must(fd >= 0 && !connect(fd, (struct sockaddr *)&sa, len), "connect to the abstract name");
	return fd;
}

/* Read exactly want (with a bound), and nothing more is waiting. */
static void read_exact(int fd, const char *want, const char *what)
{
	char buf[64] = "";
	size_t len = strlen(want), got = 0;
	ssize_t n;
	struct pollfd p = { fd, POLLIN, 0 };

	while (got < len) {
		if (poll(&p, 1, 30000) != 1)
			case_fail("%s: nothing to read (%zu of '%s')", what, got, want);
		n = recv(fd, buf + got, len - got, 0);
		if (n <= 0)
			case_fail("%s: read %zd: %s", what, n, strerror(errno));
		got += n;
	}
	if (memcmp(buf, want, len))
		case_fail("%s: read '%.*s', want '%s'", what, (int)len, buf, want);
	/* Nothing more: EAGAIN, or EOF (the child's end, once it exited). */
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n > 0 || (n < 0 && errno != EAGAIN))
		case_fail("%s: more than '%s' was queued", what, want);
}

static void send_all(int fd, const char *s, const char *what)
{
	must(send(fd, s, strlen(s), 0) == (ssize_t)strlen(s), what);
}

static ino_t ino_of(int fd)
{
	struct stat st;

	must(!fstat(fd, &st), "fstat");
	return st.st_ino;
}

/* The socket is in the case's own network namespace. */
static void in_own_netns(int fd, const char *what)
{
	struct stat self;
	int ns = ioctl(fd, SIOCGSKNS);

	must(ns >= 0, "SIOCGSKNS");
	must(!stat("/proc/self/ns/net", &self), "stat /proc/self/ns/net");
	if (ino_of(ns) != self.st_ino)
		case_fail("%s is in net:[%lu], the case in net:[%lu]", what,
			  (unsigned long)ino_of(ns), (unsigned long)self.st_ino);
	close(ns);
}

static int udp_on_lo(struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	must(fd >= 0 && !bind(fd, (struct sockaddr *)sin, sizeof(*sin)) &&
	     !getsockname(fd, (struct sockaddr *)sin, &len), "UDP bind 127.0.0.1");
	return fd;
}

static int route_links_have_lo(int fd)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = { { sizeof(req), RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, 0 },
		  { .ifi_family = AF_UNSPEC } };
	static char buf[32768] __attribute__((aligned(4)));
	struct sockaddr_nl k = { .nl_family = AF_NETLINK };
	int lo = 0;

	must(sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&k, sizeof(k)) ==
	     sizeof(req), "RTM_GETLINK");
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 30000) != 1)
			case_fail("no answer to RTM_GETLINK");
		n = recv(fd, buf, sizeof(buf), 0);
		must(n > 0, "recv RTM_GETLINK's answer");
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			struct ifinfomsg *i = NLMSG_DATA(h);

			if (h->nlmsg_type == NLMSG_DONE)
				return lo;
			if (h->nlmsg_type == NLMSG_ERROR)
				case_fail("RTM_GETLINK: error %d",
					  ((struct nlmsgerr *)NLMSG_DATA(h))->error);
			if (h->nlmsg_type == RTM_NEWLINK &&
			    i->ifi_index == (int)if_nametoindex("lo"))
				lo = 1;
		}
	}
}

/* The child: queues "from-child", then answers "to-child" with "ack". */
static void child(int sk)
{
	char buf[16] = "";
	struct pollfd p = { sk, POLLIN, 0 };

	if (send(sk, "from-child", 10, 0) != 10)
		_exit(2);
	/*
	 * Generous: the dump and restore of a busy machine come between (the
	 * restore may end the poll early with EINTR: poll again).
	 */
	for (int i = 0; i < 600; i++) {
		int r = poll(&p, 1, 1000);

		if (r == 1)
			break;
		if (r < 0 && errno != EINTR)
			_exit(5);
	}
	if (recv(sk, buf, sizeof(buf), 0) != 8 || memcmp(buf, "to-child", 8))
		_exit(3);
	if (send(sk, "ack", 3, 0) != 3)
		_exit(4);
	_exit(0);
}

int main(void)
{
	struct sockaddr_un sa;
	struct sockaddr_in rsin, ssin, from;
	struct sockaddr_nl nl_sa, nl_now;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	socklen_t len;
	int pair[2], lst, cli, srv, waiting, udp_r, udp_s, pk, nl, lo, status;
	char buf[64];
	pid_t kid;

	case_init();
	if (!case_own_ns("net"))
		case_fail("not in a network namespace of its own (run it under unshare --net)");
	case_netns_lo_up();
	lo = (int)if_nametoindex("lo");
	must(lo > 0, "if_nametoindex lo");

	must(!socketpair(AF_UNIX, SOCK_STREAM, 0, pair), "socketpair");
	kid = fork();
	must(kid >= 0, "fork");
	if (!kid) {
		close(pair[0]);
		child(pair[1]);
	}
	close(pair[1]);

	lst = socket(AF_UNIX, SOCK_STREAM, 0);
	len = abstract_addr(&sa);
	must(lst >= 0 && !bind(lst, (struct sockaddr *)&sa, len) && !listen(lst, 4),
	     "listen on the abstract name");
	cli = connect_abstract();
	srv = accept(lst, NULL, NULL);
	must(srv >= 0, "accept");
	send_all(cli, "c2s", "send c2s");
	send_all(srv, "s2c", "send s2c");
	waiting = connect_abstract();

	udp_r = udp_on_lo(&rsin);
	udp_s = udp_on_lo(&ssin);
	must(sendto(udp_s, "dgram", 5, 0, (struct sockaddr *)&rsin, sizeof(rsin)) == 5,
	     "send the datagram");

	pk = socket(AF_PACKET, SOCK_DGRAM, htons(ETHERTYPE));
	sll.sll_protocol = htons(ETHERTYPE);
	sll.sll_ifindex = lo;
	must(pk >= 0 && !bind(pk, (struct sockaddr *)&sll, sizeof(sll)), "packet socket on lo");

	nl = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	memset(&nl_sa, 0, sizeof(nl_sa));
	nl_sa.nl_family = AF_NETLINK;
	len = sizeof(nl_sa);
	must(nl >= 0 && !bind(nl, (struct sockaddr *)&nl_sa, sizeof(nl_sa)) &&
	     !getsockname(nl, (struct sockaddr *)&nl_sa, &len), "bind the route socket");

	/* Everything queued is there before the dump. */
	{
		struct pollfd p[3] = { { pair[0], POLLIN, 0 }, { srv, POLLIN, 0 },
				       { udp_r, POLLIN, 0 } };

		for (int i = 0; i < 3; i++)
			if (poll(&p[i], 1, 30000) != 1)
				case_fail("nothing queued on socket %d before the dump", i);
	}

	case_ready();
	case_wait_go();

	if (!case_own_ns("net"))
		case_fail("restored in the machine's network namespace");
	in_own_netns(pair[0], "the socketpair's end");
	in_own_netns(lst, "the listener");
	in_own_netns(srv, "the accepted end");
	in_own_netns(cli, "the client");
	in_own_netns(udp_r, "the UDP socket");
	in_own_netns(pk, "the packet socket");
	in_own_netns(nl, "the route socket");

	read_exact(pair[0], "from-child", "the socketpair");
	send_all(pair[0], "to-child", "send to the child");
	read_exact(pair[0], "ack", "the child's answer");
	must(waitpid(kid, &status, 0) == kid, "waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("the child ended with status 0x%x", status);

	read_exact(srv, "c2s", "the accepted end");
	read_exact(cli, "s2c", "the client");
	send_all(cli, "more", "send more");
	read_exact(srv, "more", "the accepted end, after");
	{
		int w = accept(lst, NULL, NULL), late, late_srv;

		must(w >= 0, "accept the waiting client");
		send_all(waiting, "wait", "send from the waiting client");
		read_exact(w, "wait", "the waiting client's connection");
		late = connect_abstract();
		late_srv = accept(lst, NULL, NULL);
		must(late_srv >= 0, "accept a new client");
		send_all(late, "late", "send from a new client");
		read_exact(late_srv, "late", "a new client's connection");
	}
	len = sizeof(sa);
	memset(&sa, 0, sizeof(sa));
	must(!getsockname(lst, (struct sockaddr *)&sa, &len), "getsockname listener");
	if (len != offsetof(struct sockaddr_un, sun_path) + 1 + strlen(ABSTRACT) ||
	    sa.sun_path[0] || memcmp(sa.sun_path + 1, ABSTRACT, strlen(ABSTRACT)))
		case_fail("the listener is not bound to @%s", ABSTRACT);

	len = sizeof(from);
	if (recvfrom(udp_r, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &len) != 5 ||
	    memcmp(buf, "dgram", 5))
		case_fail("the queued datagram is not there: %s", strerror(errno));
	if (from.sin_port != ssin.sin_port || from.sin_addr.s_addr != ssin.sin_addr.s_addr)
		case_fail("the datagram came from port %u, want %u", ntohs(from.sin_port),
			  ntohs(ssin.sin_port));
	if (recv(udp_r, buf, sizeof(buf), MSG_DONTWAIT) >= 0 || errno != EAGAIN)
		case_fail("more than one datagram was queued");
	must(sendto(udp_s, "again", 5, 0, (struct sockaddr *)&rsin, sizeof(rsin)) == 5,
	     "send another datagram");
	{
		struct pollfd p = { udp_r, POLLIN, 0 };

		if (poll(&p, 1, 30000) != 1 || recv(udp_r, buf, sizeof(buf), 0) != 5 ||
		    memcmp(buf, "again", 5))
			case_fail("a new datagram did not come");
	}

	{
		struct sockaddr_ll now;
		struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(ETHERTYPE),
					  .sll_ifindex = lo, .sll_halen = ETH_ALEN };
		struct pollfd p = { pk, POLLIN, 0 };
		int tx = socket(AF_PACKET, SOCK_DGRAM, 0);

		len = sizeof(now);
		must(!getsockname(pk, (struct sockaddr *)&now, &len), "getsockname packet");
		if (now.sll_ifindex != lo || now.sll_protocol != htons(ETHERTYPE))
			case_fail("the packet socket is on interface %d for 0x%04x, want lo (%d) for 0x%04x",
				  now.sll_ifindex, ntohs(now.sll_protocol), lo, ETHERTYPE);
		must(tx >= 0 && sendto(tx, "crest-frame", 11, 0, (struct sockaddr *)&to,
				       sizeof(to)) == 11, "send a frame on lo");
		if (poll(&p, 1, 30000) != 1 || recv(pk, buf, sizeof(buf), 0) < 11 ||
		    memcmp(buf, "crest-frame", 11))
			case_fail("the frame sent on lo did not reach the packet socket");
		close(tx);
	}

	len = sizeof(nl_now);
	memset(&nl_now, 0, sizeof(nl_now));
	must(!getsockname(nl, (struct sockaddr *)&nl_now, &len), "getsockname route");
	if (nl_now.nl_pid != nl_sa.nl_pid)
		case_fail("the route socket's port id is %u, want %u", nl_now.nl_pid, nl_sa.nl_pid);
	if (!route_links_have_lo(nl))
		case_fail("the route socket's link dump has no lo");
	case_pass();
}
