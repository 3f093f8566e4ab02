/*
 * A process in a network namespace of its own (test/run starts it under
 * unshare --net; it refuses to run anywhere else, so the machine's
 * network is never touched): loopback up, an IPv4 address with a label
 * and an IPv6 one on it, a route through it, two sysctls, and TCP
 * listeners on the new addresses. After the restore the namespace is a
 * new one with all of that in it, each listener in it (SIOCGSKNS) and
 * taking a connection; its pid is the same.
 *
 * With "down" it leaves loopback down with an address on it, and no
 * listener (nothing can bind an address of a down interface). With
 * "established" (dumped with --tcp-established) it also holds both ends
 * of a TCP connection to its IPv4 listener, bytes queued each way; after
 * the restore they arrive and the connection carries more. Under
 * unshare --user --net its network namespace stays owned by its user
 * namespace.
 * The namespace itself is checked by the /proc audit too.
 */
#include "caselib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/nsfs.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <net/route.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SIOCGSKNS
#define SIOCGSKNS	0x894C
#endif

#define ADDR4		"10.77.0.1"
#define ADDR6		"fd00:77::1"
#define ROUTE_DST	"192.0.2.0"
#define PORT4		7777
#define PORT6		7778
#define SOMAXCONN_V	"1000"

struct in6_ifreq_ {
	struct in6_addr addr;
	uint32_t prefixlen;
	int ifindex;
};

static void write_sys(const char *path, const char *v)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(v, f) < 0 || fclose(f))
		case_fail("can't write %s to %s: %s", v, path, strerror(errno));
}

static void check_sys(const char *path, const char *want)
{
	char buf[64] = "";
	FILE *f = fopen(path, "r");

	if (!f || !fgets(buf, sizeof(buf), f))
		case_fail("can't read %s: %s", path, strerror(errno));
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	if (strcmp(buf, want))
		case_fail("%s is '%s', want '%s'", path, buf, want);
}

static void set_up(int fd)
{
	struct ifreq ifr = { .ifr_name = "lo" };

	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		case_fail("SIOCGIFFLAGS: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		case_fail("SIOCSIFFLAGS: %s", strerror(errno));
}

static void add_addrs(int fd4, bool up)
{
	struct ifreq ifr = { .ifr_name = "lo:crest" };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	struct in6_ifreq_ r6 = { .prefixlen = 64, .ifindex = (int)if_nametoindex("lo") };
	int fd6;

	sin->sin_family = AF_INET;
	inet_pton(AF_INET, ADDR4, &sin->sin_addr);
	if (ioctl(fd4, SIOCSIFADDR, &ifr))
		case_fail("SIOCSIFADDR %s: %s", ADDR4, strerror(errno));
	inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
	if (ioctl(fd4, SIOCSIFNETMASK, &ifr))
		case_fail("SIOCSIFNETMASK: %s", strerror(errno));
	if (!up)
		return;
	fd6 = socket(AF_INET6, SOCK_DGRAM, 0);
	inet_pton(AF_INET6, ADDR6, &r6.addr);
	if (fd6 < 0 || ioctl(fd6, SIOCSIFADDR, &r6))
		case_fail("SIOCSIFADDR %s: %s", ADDR6, strerror(errno));
	close(fd6);
}

static void add_route(int fd)
{
	struct rtentry rt = { .rt_flags = RTF_UP, .rt_dev = "lo" };
	struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst;
	struct sockaddr_in *mask = (struct sockaddr_in *)&rt.rt_genmask;

	dst->sin_family = mask->sin_family = AF_INET;
	inet_pton(AF_INET, ROUTE_DST, &dst->sin_addr);
	inet_pton(AF_INET, "255.255.255.0", &mask->sin_addr);
	if (ioctl(fd, SIOCADDRT, &rt))
		case_fail("SIOCADDRT %s/24: %s", ROUTE_DST, strerror(errno));
}

static socklen_t sa_of(int family, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(PORT4);
		inet_pton(AF_INET, ADDR4, &s->sin_addr);
		return sizeof(*s);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(PORT6);
	inet_pton(AF_INET6, ADDR6, &s6->sin6_addr);
	return sizeof(*s6);
}

static int listener(int family)
{
	struct sockaddr_storage ss;
	socklen_t len = sa_of(family, &ss);
	int fd = socket(family, SOCK_STREAM, 0), on = 1, tries = 0;

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)))
		case_fail("listener (family %d): %s", family, strerror(errno));
	/* A new IPv6 address is tentative for a moment (DAD, even on lo). */
	while (bind(fd, (struct sockaddr *)&ss, len)) {
		if (errno != EADDRNOTAVAIL || ++tries > 5000)
			case_fail("bind (family %d): %s", family, strerror(errno));
		usleep(1000);
	}
	if (listen(fd, 8))
		case_fail("listen (family %d): %s", family, strerror(errno));
	return fd;
}

/* The listener is in our namespace and takes a connection. */
static void check_listener(int l, int family)
{
	struct sockaddr_storage ss;
	socklen_t len = sa_of(family, &ss);
	struct stat a, b;
	char byte = 'x';
	int ns = ioctl(l, SIOCGSKNS), c, s;

	if (ns < 0 || fstat(ns, &a) || stat("/proc/self/ns/net", &b))
		case_fail("SIOCGSKNS of the listener (family %d): %s", family, strerror(errno));
	if (a.st_ino != b.st_ino)
		case_fail("the listener (family %d) is in net:[%lu], the process in net:[%lu]",
			  family, (unsigned long)a.st_ino, (unsigned long)b.st_ino);
	close(ns);
	c = socket(family, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&ss, len))
		case_fail("connect to the listener (family %d): %s", family, strerror(errno));
	s = accept(l, NULL, NULL);
	if (s < 0 || write(c, &byte, 1) != 1 || read(s, &byte, 1) != 1 || byte != 'x')
		case_fail("accept and a byte through (family %d): %s", family, strerror(errno));
	close(s);
	close(c);
}

static void check_addrs(bool up)
{
	struct ifaddrs *ifa, *i;
	bool v4 = false, v6 = false, lo = false;
	char text[64];

	if (getifaddrs(&ifa))
		case_fail("getifaddrs: %s", strerror(errno));
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr,
				  text, sizeof(text));
			if (!strcmp(text, ADDR4)) {
				v4 = true;
				if (strcmp(i->ifa_name, "lo:crest"))
					case_fail("%s is labelled '%s', want lo:crest", ADDR4, i->ifa_name);
			}
			lo |= !strcmp(text, "127.0.0.1");
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
				  text, sizeof(text));
			v6 |= !strcmp(text, ADDR6);
		}
	}
	freeifaddrs(ifa);
	if (!v4 || v6 != up || lo != up)
		case_fail("addresses: %s %d, %s %d, 127.0.0.1 %d (lo %s)", ADDR4, v4,
			  ADDR6, v6, lo, up ? "up" : "down");
}

static void check_route(void)
{
	FILE *f = fopen("/proc/net/route", "r");
	char line[256];
	bool found = false;

	if (!f)
		case_fail("can't read /proc/net/route: %s", strerror(errno));
	/* Iface Destination Gateway...: 192.0.2.0 is 000200C0 */
	while (fgets(line, sizeof(line), f))
		found |= !strncmp(line, "lo\t000200C0\t", 12);
	fclose(f);
	if (!found)
		case_fail("no route to %s/24 on lo", ROUTE_DST);
}

/* Is our network namespace owned by our user namespace (NS_GET_USERNS)? */
static int net_owned_by_own_user(void)
{
	int fd = open("/proc/self/ns/net", O_RDONLY), u;
	struct stat a, b;

	if (fd < 0)
		case_fail("can't open /proc/self/ns/net: %s", strerror(errno));
	u = ioctl(fd, NS_GET_USERNS);
	close(fd);
	if (u < 0 || fstat(u, &a) || stat("/proc/self/ns/user", &b))
		case_fail("NS_GET_USERNS: %s", strerror(errno));
	close(u);
	return a.st_ino == b.st_ino;
}

/* Both ends of a connection in the namespace, a message queued each way. */
static void connect_pair(int l, int *c, int *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sa_of(AF_INET, &ss);

	*c = socket(AF_INET, SOCK_STREAM, 0);
	if (*c < 0 || connect(*c, (struct sockaddr *)&ss, len))
		case_fail("connect: %s", strerror(errno));
	*s = accept(l, NULL, NULL);
	if (*s < 0 || write(*c, "to-server", 9) != 9 || write(*s, "to-client", 9) != 9)
		case_fail("accept/write: %s", strerror(errno));
}

static void check_pair(int c, int s)
{
	char buf[16] = "";

	if (read(s, buf, 9) != 9 || memcmp(buf, "to-server", 9))
		case_fail("the server end read '%.9s', want to-server", buf);
	if (read(c, buf, 9) != 9 || memcmp(buf, "to-client", 9))
		case_fail("the client end read '%.9s', want to-client", buf);
	if (write(c, "x", 1) != 1 || read(s, buf, 1) != 1 || buf[0] != 'x')
		case_fail("the connection carries nothing more: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	bool up = !(argc > 1 && !strcmp(argv[1], "down"));
	bool established = argc > 1 && !strcmp(argv[1], "established");
	int pc = -1, ps = -1, owned = net_owned_by_own_user();
	struct ifreq ifr = { .ifr_name = "lo" };
	pid_t pid = getpid();
	int fd, l4 = -1, l6 = -1;

	case_init();
	if (!case_own_ns("net"))
		case_fail("not in a network namespace of its own (run it under unshare --net through test/run)");
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		case_fail("socket: %s", strerror(errno));
	write_sys("/proc/sys/net/core/somaxconn", SOMAXCONN_V);
	if (up) {
		write_sys("/proc/sys/net/ipv4/ip_forward", "1");
		set_up(fd);
	}
	add_addrs(fd, up);
	if (up) {
		add_route(fd);
		l4 = listener(AF_INET);
		l6 = listener(AF_INET6);
		if (established)
			connect_pair(l4, &pc, &ps);
	}
	close(fd);
	case_ready();
	case_wait_go();
	if (getpid() != pid)
		case_fail("getpid() %d, was %d", getpid(), pid);
	if (!case_own_ns("net"))
		case_fail("back in the machine's network namespace");
	if (net_owned_by_own_user() != owned)
		case_fail("its network namespace is %sowned by its user namespace, was %s",
			  owned ? "not " : "", owned ? "" : "not");
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr))
		case_fail("SIOCGIFFLAGS: %s", strerror(errno));
	if (!!(ifr.ifr_flags & IFF_UP) != up)
		case_fail("lo is %s, want %s", ifr.ifr_flags & IFF_UP ? "up" : "down",
			  up ? "up" : "down");
	close(fd);
	check_addrs(up);
	check_sys("/proc/sys/net/core/somaxconn", SOMAXCONN_V);
	if (up) {
		check_sys("/proc/sys/net/ipv4/ip_forward", "1");
		check_route();
		if (established)
			check_pair(pc, ps);
		check_listener(l4, AF_INET);
		check_listener(l6, AF_INET6);
	}
	case_pass();
}
