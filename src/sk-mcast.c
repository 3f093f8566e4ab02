/*
 * Multicast memberships of UDP, UDP-Lite and raw IP sockets, IPv4 and
 * IPv6: every (interface, group) a socket joined, with its source filter.
 *
 * No system call lists a socket's groups, but the kernel answers for one
 * group on one interface: getsockopt(MCAST_MSFILTER) with gf_interface and
 * gf_group gives the socket's filter mode and sources if it is a member
 * (ip_mc_gsfget, ip6_mc_msfget: a walk of the socket's own list, matched
 * by ifindex and group), EADDRNOTAVAIL if not. And every group any socket
 * of a network namespace joined is in that namespace's /proc/net/igmp or
 * /proc/net/igmp6 (the interface's list counts the socket's join), so
 * asking each group listed there finds every membership: nothing joined
 * is missed. The number of sources the answer has room for is gf_numsrc
 * on the way in; the kernel says how many there are in it on the way out
 * (copying no more than the room), so a filter larger than the room is
 * asked again with room for all.
 *
 * An IPv6 UDP socket may join IPv4 groups too (IPPROTO_IP: udpv6 hands
 * the level to ip_setsockopt); an IPv6 raw socket has no IPPROTO_IP
 * (ENOPROTOOPT), which says so.
 *
 * Restore, before the bind (a socket not bound receives nothing, so no
 * datagram comes between the join and the filter): an INCLUDE membership
 * joined source by source (MCAST_JOIN_SOURCE_GROUP), an EXCLUDE one
 * joined (MCAST_JOIN_GROUP) and then given its sources
 * (MCAST_MSFILTER). The kernel limits sources per group
 * (net.ipv4.igmp_max_msf, net.ipv6.mld_max_msf) and groups per socket
 * (igmp_max_memberships) as it did for the program.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "sk-mcast.h"
#include "util.h"

/* More sources than any sysctl of a kernel lets a group have by default. */
#define MCAST_MAX_SOURCES	4096

struct mc_group {
	int family;
	unsigned int ifindex;
	char ifname[IF_NAMESIZE];
	union {
		struct in_addr a4;
		struct in6_addr a6;
	};
};

/*
 * /proc/PID/net/igmp: a line per interface ("1\tlo        :     1      V3")
 * and under it a line per group ("\t\t\t\t010000E0     1 0:00000000\t\t0"),
 * the address a __be32 printed as a host number.
 */
static int groups_v4(pid_t pid, struct mc_group **gs, int *n)
{
	char *text = read_proc(pid, "net/igmp", NULL), *line, *next;
	unsigned int idx = 0;
	char name[IF_NAMESIZE] = "";

	if (!text)
		return -1;
	for (line = text; line && *line; line = next) {
		unsigned int v;

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (*line >= '0' && *line <= '9') {
			if (sscanf(line, "%u %15[^: \t]", &idx, name) != 2)
				idx = 0;
			continue;
		}
		if (*line != '\t' || !idx || sscanf(line, " %8x", &v) != 1)
			continue;
		*gs = xrealloc(*gs, (*n + 1) * sizeof(**gs));
		memset(&(*gs)[*n], 0, sizeof(**gs));
		(*gs)[*n].family = AF_INET;
		(*gs)[*n].ifindex = idx;
		snprintf((*gs)[*n].ifname, IF_NAMESIZE, "%s", name);
		(*gs)[*n].a4.s_addr = v;
		(*n)++;
	}
	free(text);
	return 0;
}

/* /proc/PID/net/igmp6: "1    lo              ff020000000000000000000000000001     1 0000000C 0". */
static int groups_v6(pid_t pid, struct mc_group **gs, int *n)
{
	char *text = read_proc(pid, "net/igmp6", NULL), *line, *next;

	if (!text)
		return -1;
	for (line = text; line && *line; line = next) {
		struct mc_group g;
		char hex[33];

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		memset(&g, 0, sizeof(g));
		if (sscanf(line, "%u %15s %32[0-9a-fA-F]", &g.ifindex, g.ifname, hex) != 3 ||
		    strlen(hex) != 32)
			continue;
		for (int i = 0; i < 16; i++) {
			unsigned int b;

			sscanf(hex + 2 * i, "%2x", &b);
			g.a6.s6_addr[i] = b;
		}
		g.family = AF_INET6;
		*gs = xrealloc(*gs, (*n + 1) * sizeof(**gs));
		(*gs)[(*n)++] = g;
	}
	free(text);
	return 0;
}

static void group_sa(const struct mc_group *g, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = g->family;
	if (g->family == AF_INET)
		((struct sockaddr_in *)ss)->sin_addr = g->a4;
	else
		((struct sockaddr_in6 *)ss)->sin6_addr = g->a6;
}

static char *sa_str(const struct sockaddr_storage *ss)
{
	char buf[INET6_ADDRSTRLEN] = "";

	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, sizeof(buf));
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf,
			  sizeof(buf));
	return xstrdup(buf);
}

/*
 * Is the socket a member of g: 1 (*out made), 0 not, -1 the level is not
 * the socket's (ENOPROTOOPT, EOPNOTSUPP), -2 an error (*why).
 */
static int probe(int cfd, const struct mc_group *g, InetMcastEntry **out, char **why,
		 const char *what)
{
	int level = g->family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
	uint32_t room = 16;
	struct group_filter *gf = NULL;
	InetMcastEntry *m;

	for (int tries = 0; ; tries++) {
		socklen_t len = GROUP_FILTER_SIZE(room);

		free(gf);
		gf = xzalloc(len);
		gf->gf_interface = g->ifindex;
		group_sa(g, &gf->gf_group);
		gf->gf_numsrc = room;
		if (getsockopt(cfd, level, MCAST_MSFILTER, gf, &len)) {
			int err = errno;

			free(gf);
			if (err == EADDRNOTAVAIL)
				return 0;
			if (err == ENOPROTOOPT || err == EOPNOTSUPP)
				return -1;
			*why = xsprintf("%s whose membership of multicast groups crest could not read (MCAST_MSFILTER: %s)",
					what, strerror(err));
			return -2;
		}
		if (gf->gf_numsrc <= room)
			break;
		if (gf->gf_numsrc > MCAST_MAX_SOURCES || tries > 4) {
			char *grp = sa_str(&gf->gf_group);

			*why = xsprintf("%s, a member of multicast group %s on %s with %u sources in its filter",
					what, grp, g->ifname, gf->gf_numsrc);
			free(grp);
			free(gf);
			return -2;
		}
		room = gf->gf_numsrc;
	}
	m = xzalloc(sizeof(*m));
	inet_mcast_entry__init(m);
	m->family = g->family;
	m->group = sa_str(&gf->gf_group);
	m->ifindex = g->ifindex;
	m->ifname = xstrdup(g->ifname);
	m->include = gf->gf_fmode == MCAST_INCLUDE;
	m->n_sources = gf->gf_numsrc;
	m->sources = xzalloc((m->n_sources + 1) * sizeof(char *));
	for (size_t i = 0; i < m->n_sources; i++)
		m->sources[i] = sa_str(&gf->gf_slist[i]);
	free(gf);
	*out = m;
	return 1;
}

char *mcast_dump(InetSkEntry *e, pid_t pid, int cfd, const char *what)
{
	struct mc_group *gs = NULL;
	char *why = NULL;
	int n = 0;
	bool v4_level = true;

	if (groups_v4(pid, &gs, &n) ||
	    (e->family == AF_INET6 && groups_v6(pid, &gs, &n))) {
		free(gs);
		return xsprintf("%s whose multicast memberships crest could not read (/proc/%d/net/igmp%s: %s)",
				what, pid, e->family == AF_INET6 ? "6" : "", strerror(errno));
	}
	for (int i = 0; i < n && !why; i++) {
		InetMcastEntry *m = NULL;
		int r;

		if (gs[i].family == AF_INET && !v4_level)
			continue;
		r = probe(cfd, &gs[i], &m, &why, what);
		if (r == -1 && gs[i].family == AF_INET) {
			v4_level = false;	/* an IPv6 raw socket */
			continue;
		}
		if (r == -1)
			why = xsprintf("%s whose multicast memberships crest could not read (MCAST_MSFILTER: %s)",
				       what, strerror(ENOPROTOOPT));
		if (r != 1)
			continue;
		e->mcast = xrealloc(e->mcast, (e->n_mcast + 1) * sizeof(*e->mcast));
		e->mcast[e->n_mcast++] = m;
	}
	free(gs);
	return why;
}

static bool addr_ok(unsigned int family, const char *s, bool multicast)
{
	union {
		struct in_addr a4;
		struct in6_addr a6;
	} a;

	if (!s || inet_pton(family, s, &a) != 1)
		return false;
	if (!multicast)
		return true;
	return family == AF_INET ? IN_MULTICAST(ntohl(a.a4.s_addr)) : IN6_IS_ADDR_MULTICAST(&a.a6);
}

int mcast_check(const InetSkEntry *e)
{
	for (size_t i = 0; i < e->n_mcast; i++) {
		const InetMcastEntry *m = e->mcast[i];

		if ((m->family != AF_INET && m->family != AF_INET6) ||
		    (m->family == AF_INET6 && e->family != AF_INET6) ||
		    !addr_ok(m->family, m->group, true) || !m->ifindex ||
		    !m->ifname || !m->ifname[0] || strlen(m->ifname) >= IF_NAMESIZE ||
		    (m->include && !m->n_sources) || m->n_sources > MCAST_MAX_SOURCES)
			return -1;
		for (size_t j = 0; j < m->n_sources; j++)
			if (!addr_ok(m->family, m->sources[j], false))
				return -1;
	}
	return 0;
}

static void make_sa(unsigned int family, const char *s, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = family;
	if (family == AF_INET)
		inet_pton(AF_INET, s, &((struct sockaddr_in *)ss)->sin_addr);
	else
		inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)ss)->sin6_addr);
}

static int join(int fd, const InetMcastEntry *m, const char *what)
{
	int level = m->family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
	struct group_filter *gf;
	socklen_t len;

	if (m->include) {
		for (size_t i = 0; i < m->n_sources; i++) {
			struct group_source_req gs = { .gsr_interface = m->ifindex };

			make_sa(m->family, m->group, &gs.gsr_group);
			make_sa(m->family, m->sources[i], &gs.gsr_source);
			if (setsockopt(fd, level, MCAST_JOIN_SOURCE_GROUP, &gs, sizeof(gs))) {
				pr_perror("can't join %s again to multicast group %s on %s from source %s",
					  what, m->group, m->ifname, m->sources[i]);
				return -1;
			}
		}
		return 0;
	}
	{
		struct group_req gr = { .gr_interface = m->ifindex };

		make_sa(m->family, m->group, &gr.gr_group);
		if (setsockopt(fd, level, MCAST_JOIN_GROUP, &gr, sizeof(gr))) {
			pr_perror("can't join %s again to multicast group %s on %s", what,
				  m->group, m->ifname);
			return -1;
		}
	}
	if (!m->n_sources)
		return 0;
	len = GROUP_FILTER_SIZE(m->n_sources);
	gf = xzalloc(len);
	gf->gf_interface = m->ifindex;
	make_sa(m->family, m->group, &gf->gf_group);
	gf->gf_fmode = MCAST_EXCLUDE;
	gf->gf_numsrc = m->n_sources;
	for (size_t i = 0; i < m->n_sources; i++)
		make_sa(m->family, m->sources[i], &gf->gf_slist[i]);
	if (setsockopt(fd, level, MCAST_MSFILTER, gf, len)) {
		pr_perror("can't give %s its %zu sources excluded from multicast group %s on %s",
			  what, m->n_sources, m->group, m->ifname);
		free(gf);
		return -1;
	}
	free(gf);
	return 0;
}

int mcast_restore(int fd, const InetSkEntry *e, const char *what)
{
	for (size_t i = 0; i < e->n_mcast; i++) {
		const InetMcastEntry *m = e->mcast[i];
		char ifn[IF_NAMESIZE] = "";

		/* A program keeps ifindexes: the interface must be where it was. */
		if (!if_indextoname(m->ifindex, ifn) || strcmp(ifn, m->ifname)) {
			pr_err("restore needs the interface '%s' at index %u (%s%s), where %s is a member of multicast group %s",
			       m->ifname, m->ifindex, ifn[0] ? "that index is " : "no interface has it",
			       ifn, what, m->group);
			return -1;
		}
		if (join(fd, m, what))
			return -1;
	}
	return 0;
}
