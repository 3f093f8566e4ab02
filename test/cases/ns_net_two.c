/*
 * A tree spread over two network namespaces, unix sockets crossing them
 * (test/run starts it under unshare --net; it refuses to run anywhere
 * else). The case P is in namespace A (loopback up); its child C made B
 * for itself (unshare(CLONE_NEWNET): loopback up, and 10.77.0.2 on it,
 * labelled lo:two). A socket is of the namespace it was made in, not of
 * its holder's:
 *  - a stream socketpair made by P in A before the fork: P holds one end,
 *    C (in B) the other, "c2p-pair" queued for P;
 *  - a seqpacket socketpair made by C in B, one end sent to P over the
 *    first pair (SCM_RIGHTS) and received: P holds a socket of B,
 *    "c2p-sp2" queued for it;
 *  - a stream listener of P bound to a path in A, which C connected to
 *    from B: the client is of B, and so is the end P accepted (the
 *    kernel makes it in its client's namespace), "c2p-conn" queued;
 *  - a stream listener of C bound to an abstract name in B, with a
 *    connection C made and accepted, "ab" queued for the accepted end;
 *  - a datagram socketpair C made in A before it made B: both ends C's,
 *    both of A ("sp3" queued; made again by C itself, SO_PEERCRED being
 *    its pid, in A while C is in B);
 *  - a NETLINK_ROUTE socket of C in B, bound to a port id the kernel chose.
 * After the restore, checked from inside: P and C are each in a new
 * namespace, not the machine's, nor each other's; each socket is of the
 * namespace it was of (SIOCGSKNS against /proc/PID/ns/net of P and C);
 * every queued message is there once and new ones flow both ways; lo:two
 * has its address in B and none in A; the abstract name is B's (C
 * connects to it again, P can't); the route socket has its port id and
 * the kernel's answer on it holds B's 10.77.0.2.
 */
#include "caselib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
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

#define LABEL	"lo:two"
#define ADDR	"10.77.0.2"

static struct sockaddr_un path_sa, abs_sa;
static socklen_t path_len, abs_len;

/* In C, failures go to P as its exit status: the message to stderr. */
static int in_child;

static void fail(const char *fmt, const char *what)
{
	if (!in_child)
		case_fail(fmt, what, strerror(errno));
	fprintf(stderr, "FAIL child: ");
	fprintf(stderr, fmt, what, strerror(errno));
	fprintf(stderr, "\n");
	_exit(3);
}

static void must(int ok, const char *what)
{
	if (!ok)
		fail("%s: %s", what);
}

static unsigned long ino_at(const char *path)
{
	struct stat st;

	must(!stat(path, &st), path);
	return st.st_ino;
}

static unsigned long netns_of_pid(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	return ino_at(path);
}

static unsigned long sock_netns(int fd)
{
	struct stat st;
	int ns = ioctl(fd, SIOCGSKNS);

	must(ns >= 0 && !fstat(ns, &st), "SIOCGSKNS");
	close(ns);
	return st.st_ino;
}

static void netns_is(int fd, unsigned long want, const char *what)
{
	unsigned long got = sock_netns(fd);

	if (got != want) {
		char buf[160];

		snprintf(buf, sizeof(buf), "%s is a socket of net:[%lu], want net:[%lu]",
			 what, got, want);
		errno = 0;
		fail("%s (%s)", buf);
	}
}

/* Wait for fd to be readable, bounded (a restore may interrupt poll). */
static void wait_in(int fd, const char *what)
{
	struct pollfd p = { fd, POLLIN, 0 };

	for (int i = 0; i < 120; i++) {
		int r = poll(&p, 1, 1000);

		if (r == 1)
			return;
		if (r < 0 && errno != EINTR)
			fail("%s: poll: %s", what);
	}
	errno = ETIMEDOUT;
	fail("%s: nothing to read: %s", what);
}

/* One message (or the stream's bytes) exactly want, nothing more waiting. */
static void read_exact(int fd, const char *want, const char *what)
{
	char buf[64] = "";
	size_t len = strlen(want), got = 0;
	ssize_t n;

	while (got < len) {
		wait_in(fd, what);
		n = recv(fd, buf + got, sizeof(buf) - got, 0);
		must(n > 0, what);
		got += n;
	}
	if (got != len || memcmp(buf, want, len)) {
		char m[160];

		snprintf(m, sizeof(m), "%s: read '%.*s', want '%s'", what, (int)got, buf, want);
		errno = 0;
		fail("%s (%s)", m);
	}
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n > 0 || (n < 0 && errno != EAGAIN)) {
		errno = 0;
		fail("%s: more was queued (%s)", what);
	}
}

static void send_str(int fd, const char *s, const char *what)
{
	must(send(fd, s, strlen(s), MSG_NOSIGNAL) == (ssize_t)strlen(s), what);
}

/* lo:two's address in the caller's namespace: 1 there, 0 not. */
static int has_label_addr(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	must(fd >= 0, "socket");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", LABEL);
	r = ioctl(fd, SIOCGIFADDR, &ifr);
	close(fd);
	if (r)
		return 0;
	return ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr == inet_addr(ADDR);
}

static void add_label_addr(void)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	must(fd >= 0, "socket");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", LABEL);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = inet_addr(ADDR);
	must(!ioctl(fd, SIOCSIFADDR, &ifr), "SIOCSIFADDR " LABEL);
	close(fd);
}

static int connect_to(const struct sockaddr_un *sa, socklen_t len)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	must(fd >= 0, "socket");
	if (connect(fd, (const struct sockaddr *)sa, len)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void send_fd(int sk, int fd)
{
	char c = 'f', ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	must(sendmsg(sk, &mh, 0) == 1, "send an fd");
}

static int recv_fd(int sk)
{
	char c, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *cm;
	int fd;

	wait_in(sk, "the fd C sends");
	must(recvmsg(sk, &mh, 0) == 1 && c == 'f', "receive an fd");
	cm = CMSG_FIRSTHDR(&mh);
	must(cm && cm->cmsg_type == SCM_RIGHTS, "SCM_RIGHTS");
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

static uint32_t portid_of(int fd)
{
	struct sockaddr_nl sa;
	socklen_t len = sizeof(sa);

	must(!getsockname(fd, (struct sockaddr *)&sa, &len), "getsockname (netlink)");
	return sa.nl_pid;
}

/* Does an RTM_GETADDR dump asked on fd hold ADDR? */
static int route_has_addr(int fd)
{
	struct {
		struct nlmsghdr h;
		struct ifaddrmsg a;
	} req = { { sizeof(req), RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1, 0 },
		  { .ifa_family = AF_INET } };
	static char buf[32768] __attribute__((aligned(4)));
	struct sockaddr_nl k = { .nl_family = AF_NETLINK };
	int found = 0;

	must(sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&k, sizeof(k)) ==
	     sizeof(req), "RTM_GETADDR");
	for (;;) {
		ssize_t n;

		wait_in(fd, "RTM_GETADDR's answer");
		n = recv(fd, buf, sizeof(buf), 0);
		must(n > 0, "recv RTM_GETADDR's answer");
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			struct ifaddrmsg *a = NLMSG_DATA(h);
			int len = IFA_PAYLOAD(h);

			if (h->nlmsg_type == NLMSG_DONE)
				return found;
			if (h->nlmsg_type != RTM_NEWADDR)
				continue;
			for (struct rtattr *r = IFA_RTA(a); RTA_OK(r, len); r = RTA_NEXT(r, len))
				if (r->rta_type == IFA_LOCAL &&
				    *(uint32_t *)RTA_DATA(r) == inet_addr(ADDR))
					found = 1;
		}
	}
}

/* C, in namespace B: its sockets, then its checks once P says go. */
static void child(int pair, int ready)
{
	int sp2[2], sp3[2], cl, al, ac, as, again, as2, rt;
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	uint32_t portid;
	unsigned long a, b;
	struct ucred cr;
	socklen_t crlen = sizeof(cr);

	in_child = 1;
	must(!socketpair(AF_UNIX, SOCK_DGRAM, 0, sp3), "socketpair in A by C");
	must(!unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)");
	case_netns_lo_up();
	add_label_addr();
	must(!socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp2), "socketpair in B");
	send_fd(pair, sp2[1]);
	close(sp2[1]);
	cl = connect_to(&path_sa, path_len);
	must(cl >= 0, "connect to P's path from B");
	al = socket(AF_UNIX, SOCK_STREAM, 0);
	must(al >= 0 && !bind(al, (struct sockaddr *)&abs_sa, abs_len) && !listen(al, 4),
	     "listen on the abstract name in B");
	ac = connect_to(&abs_sa, abs_len);
	must(ac >= 0, "connect to the abstract name in B");
	as = accept(al, NULL, NULL);
	must(as >= 0, "accept in B");
	send_str(ac, "ab", "queue ab");
	send_str(pair, "c2p-pair", "queue c2p-pair");
	send_str(sp2[0], "c2p-sp2", "queue c2p-sp2");
	send_str(cl, "c2p-conn", "queue c2p-conn");
	send_str(sp3[0], "sp3", "queue sp3");
	rt = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	must(rt >= 0 && !bind(rt, (struct sockaddr *)&nl, sizeof(nl)), "bind a route socket in B");
	portid = portid_of(rt);
	must(write(ready, "r", 1) == 1, "say ready");
	close(ready);

	/* P says go once it is restored and has read its queues. */
	read_exact(pair, "go", "go from P");
	b = netns_of_pid(getpid());
	a = netns_of_pid(getppid());
	if (a == b) {
		errno = 0;
		fail("%s (%s)", "P and C are in one network namespace");
	}
	netns_is(pair, a, "C's end of P's pair");
	netns_is(sp2[0], b, "C's end of its own pair");
	netns_is(cl, b, "C's client of P's listener");
	netns_is(al, b, "C's abstract listener");
	netns_is(ac, b, "C's client of it");
	netns_is(as, b, "C's accepted end");
	netns_is(sp3[0], a, "C's pair of A, one end");
	netns_is(sp3[1], a, "C's pair of A, the other end");
	must(!getsockopt(sp3[1], SOL_SOCKET, SO_PEERCRED, &cr, &crlen), "SO_PEERCRED");
	if (cr.pid != getpid()) {
		errno = 0;
		fail("%s (%s)", "C's pair of A was not made by C");
	}
	netns_is(rt, b, "C's route socket");
	if (portid_of(rt) != portid) {
		errno = 0;
		fail("%s (%s)", "C's route socket has another port id");
	}
	if (!route_has_addr(rt)) {
		errno = 0;
		fail("%s (%s)", "the route socket's answer does not hold " ADDR);
	}
	read_exact(sp3[1], "sp3", "C's pair of A");
	send_str(sp3[1], "sp3-back", "sp3-back");
	read_exact(sp3[0], "sp3-back", "C's pair of A, back");
	if (!has_label_addr()) {
		errno = 0;
		fail("%s has no " ADDR " in B (%s)", LABEL);
	}
	read_exact(as, "ab", "the accepted end in B");
	read_exact(sp2[0], "p2c-sp2", "C's end of its own pair");
	read_exact(cl, "p2c-conn", "C's client");
	send_str(ac, "ba", "ba");
	read_exact(as, "ba", "the accepted end in B, after");
	/* The abstract name is B's: a new socket of B connects to it. */
	again = connect_to(&abs_sa, abs_len);
	must(again >= 0, "connect to the abstract name in B after the restore");
	as2 = accept(al, NULL, NULL);
	must(as2 >= 0, "accept after the restore");
	send_str(as2, "new", "new");
	read_exact(again, "new", "a new connection in B");
	send_str(pair, "ok", "ok to P");
	_exit(0);
}

int main(void)
{
	int pair[2], ready[2], l, acc, sp2, status, bad;
	unsigned long a, b;
	pid_t c;
	char r;

	case_init();
	if (!case_own_ns("net"))
		case_fail("not in a network namespace of its own (test/run runs it under unshare --net)");
	case_netns_lo_up();
	memset(&path_sa, 0, sizeof(path_sa));
	path_sa.sun_family = AF_UNIX;
	snprintf(path_sa.sun_path, sizeof(path_sa.sun_path), "%s/ns_net_two-%d.sock",
		 case_tmpdir(), getpid());
	unlink(path_sa.sun_path);
	path_len = offsetof(struct sockaddr_un, sun_path) + strlen(path_sa.sun_path) + 1;
	memset(&abs_sa, 0, sizeof(abs_sa));
	abs_sa.sun_family = AF_UNIX;
	snprintf(abs_sa.sun_path + 1, sizeof(abs_sa.sun_path) - 1, "crest-ns-net-two-%d",
		 getpid());
	abs_len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(abs_sa.sun_path + 1);

	must(!socketpair(AF_UNIX, SOCK_STREAM, 0, pair), "socketpair in A");
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	must(l >= 0 && !bind(l, (struct sockaddr *)&path_sa, path_len) && !listen(l, 4),
	     "listen on a path in A");
	must(!pipe(ready), "pipe");
	c = fork();
	must(c >= 0, "fork");
	if (!c) {
		close(pair[0]);
		close(ready[0]);
		close(l);
		child(pair[1], ready[1]);
	}
	close(pair[1]);
	close(ready[1]);
	acc = accept(l, NULL, NULL);
	must(acc >= 0, "accept C's connection");
	sp2 = recv_fd(pair[0]);
	wait_in(ready[0], "C ready");
	must(read(ready[0], &r, 1) == 1, "C ready");
	close(ready[0]);
	a = netns_of_pid(getpid());
	b = netns_of_pid(c);
	if (a == b)
		case_fail("C did not make a network namespace of its own");
	netns_is(pair[0], a, "P's end of its pair");
	netns_is(l, a, "P's listener");
	netns_is(acc, b, "the end P accepted from C");
	netns_is(sp2, b, "P's end of C's pair");

	case_ready();
	case_wait_go();

	a = netns_of_pid(getpid());
	b = netns_of_pid(c);
	if (a == b || !case_own_ns("net"))
		case_fail("P (net:[%lu]) and C (net:[%lu]) are not in two namespaces of their own",
			  a, b);
	netns_is(pair[0], a, "P's end of its pair");
	netns_is(l, a, "P's listener");
	netns_is(acc, b, "the end P accepted from C");
	netns_is(sp2, b, "P's end of C's pair");
	if (has_label_addr())
		case_fail("%s has %s in A too", LABEL, ADDR);
	read_exact(pair[0], "c2p-pair", "P's end of its pair");
	read_exact(acc, "c2p-conn", "the end P accepted");
	read_exact(sp2, "c2p-sp2", "P's end of C's pair");
	/* The abstract name is B's, not A's. */
	bad = connect_to(&abs_sa, abs_len);
	if (bad >= 0)
		case_fail("a socket of A connects to B's abstract name");
	send_str(acc, "p2c-conn", "p2c-conn");
	send_str(sp2, "p2c-sp2", "p2c-sp2");
	send_str(pair[0], "go", "go");
	read_exact(pair[0], "ok", "C's ok");
	must(waitpid(c, &status, 0) == c, "waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("C ended with status %#x", status);
	unlink(path_sa.sun_path);
	case_pass();
}
