/*
 * Netlink sockets, at the dump:
 *  - a NETLINK_ROUTE socket bound (its port id chosen by the kernel) to
 *    RTMGRP_LINK, and to group 33 with NETLINK_ADD_MEMBERSHIP, with
 *    NETLINK_PKTINFO and NETLINK_EXT_ACK;
 *  - a NETLINK_ROUTE socket not bound;
 *  - a NETLINK_KOBJECT_UEVENT socket bound to group 1 with SO_RCVBUF set.
 * After the restore: each has its port id, groups and options back, and
 * both route sockets ask the kernel for its links and get the answer.
 */
#include "caselib.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK	270
#endif

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

static void names(int fd, struct sockaddr_nl *sa, unsigned int *groups, socklen_t *glen)
{
	socklen_t len = sizeof(*sa);

	memset(sa, 0, sizeof(*sa));
	must(!getsockname(fd, (struct sockaddr *)sa, &len), "getsockname");
	memset(groups, 0, 16);
	*glen = 16;
	must(!getsockopt(fd, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, groups, glen),
	     "NETLINK_LIST_MEMBERSHIPS");
}

static void same(const char *what, int fd, const struct sockaddr_nl *sa,
		 const unsigned int *groups)
{
	struct sockaddr_nl now;
	unsigned int g[4];
	socklen_t gl;

	names(fd, &now, g, &gl);
	if (now.nl_pid != sa->nl_pid || now.nl_groups != sa->nl_groups ||
	    memcmp(g, groups, sizeof(g)))
		case_fail("%s: port id %u groups %#x %#x, want %u, %#x %#x", what, now.nl_pid,
			  now.nl_groups, g[1], sa->nl_pid, sa->nl_groups, groups[1]);
}

/* Ask for every link; the answer ends with NLMSG_DONE. */
static void ask_links(const char *what, int fd)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = { { sizeof(req), RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, 0 }, { 0 } };
	static char buf[65536] __attribute__((aligned(4)));
	struct sockaddr_nl k = { .nl_family = AF_NETLINK };

	must(sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&k, sizeof(k)) == sizeof(req),
	     what);
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		struct nlmsghdr *h = (struct nlmsghdr *)buf;
		ssize_t n;

		if (poll(&p, 1, 30000) != 1)
			case_fail("%s: no answer in 30 s", what);
		n = recv(fd, buf, sizeof(buf), 0);
		must(n > 0, what);
		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return;
			if (h->nlmsg_type == NLMSG_ERROR)
				case_fail("%s: the kernel answered an error", what);
		}
	}
}

int main(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK }, n1, n3;
	unsigned int g1[4], g3[4];
	socklen_t gl;
	int r1, r2, u, one = 1, g = 33, rcv = 100000;

	case_init();
	r1 = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	sa.nl_groups = RTMGRP_LINK;
	must(r1 >= 0 && !bind(r1, (struct sockaddr *)&sa, sizeof(sa)), "bind route");
	must(!setsockopt(r1, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) &&
	     !setsockopt(r1, SOL_NETLINK, NETLINK_PKTINFO, &one, sizeof(one)) &&
	     !setsockopt(r1, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one)), "options");
	r2 = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	must(r2 >= 0, "socket");
	u = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_KOBJECT_UEVENT);
	sa.nl_groups = 1;
	must(u >= 0 && !setsockopt(u, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)) &&
	     !bind(u, (struct sockaddr *)&sa, sizeof(sa)), "bind uevent");
	names(r1, &n1, g1, &gl);
	names(u, &n3, g3, &gl);
	if (!n1.nl_pid || !(g1[1] & 1))
		case_fail("the route socket has port id %u, groups %#x", n1.nl_pid, g1[1]);

	case_ready();
	case_wait_go();

	same("bound route socket", r1, &n1, g1);
	same("uevent socket", u, &n3, g3);
	{
		struct sockaddr_nl now;
		unsigned int gz[4];

		names(r2, &now, gz, &gl);
		if (now.nl_pid || now.nl_groups)
			case_fail("the unbound route socket is bound to %u", now.nl_pid);
	}
	if (opt(r1, SOL_NETLINK, NETLINK_PKTINFO) != 1 || opt(r1, SOL_NETLINK, NETLINK_EXT_ACK) != 1)
		case_fail("the route socket lost its options");
	if (opt(u, SOL_SOCKET, SO_RCVBUF) != 2 * rcv)
		case_fail("the uevent socket has SO_RCVBUF %d, want %d",
			  opt(u, SOL_SOCKET, SO_RCVBUF), 2 * rcv);
	ask_links("bound route socket", r1);
	ask_links("unbound route socket", r2);
	case_pass();
}
