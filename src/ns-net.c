/*
 * Network namespaces, the shape `unshare --net` makes: loopback only,
 * up or down, with its addresses, the routes on it that were not made by
 * the kernel from an address, and a few sysctls (net_vars[]). Any other
 * network interface (veth, macvlan, a tunnel...) is refused by name, as
 * are addresses with a lifetime and routes with attributes crest does
 * not know (multipath, encapsulation, metrics).
 *
 * At the dump a helper, a child of crest in the namespace (in_ns()),
 * reads it through rtnetlink (RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE
 * dumps) and /proc/sys/net. At restore crest makes each namespace itself
 * before it makes the tree's sockets (unshare(CLONE_NEWNET), filled, its
 * fd kept, then back to crest's own: netns_prepare()): a socket is in the
 * namespace it was made in, and a listener bound to an address of it
 * needs that address there. The task that entered it setns()es into it
 * as it starts (ns_restore_entered()).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <arpa/inet.h>
#include <stdbool.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "namespaces.h"
#include "util.h"

/* Sysctls of a network namespace that containers set, under /proc/sys. */
static const char *const net_vars[] = {
	"net/ipv4/ip_forward", "net/ipv4/ip_local_port_range",
	"net/ipv4/ping_group_range", "net/ipv4/ip_unprivileged_port_start",
	"net/core/somaxconn", "net/ipv6/conf/all/disable_ipv6",
	"net/ipv6/conf/lo/disable_ipv6",
};

#define NL_BUF		(64 * 1024)
#define NET_MAX_LINKS	64

struct nl_req {
	struct nlmsghdr h;
	union {
		struct ifinfomsg ifi;
		struct ifaddrmsg ifa;
		struct rtmsg rtm;
	};
	char attrs[512];
};

static int nl_open(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		pr_perror("can't open an rtnetlink socket");
	return fd;
}

static void nl_put(struct nl_req *r, int type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->h.nlmsg_len));

	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

typedef int (*nl_fn)(struct nlmsghdr *h, void *arg);

/*
 * Send r and read the answers: each message of a dump to fn, or the ack
 * of a request. 0, or -errno of the kernel's answer, or -EIO.
 */
static int nl_talk(int fd, struct nl_req *r, nl_fn fn, void *arg)
{
	static uint32_t seq;
	char *buf = xzalloc(NL_BUF);
	int ret = -EIO;

	r->h.nlmsg_seq = ++seq;
	if (send(fd, r, r->h.nlmsg_len, 0) != (ssize_t)r->h.nlmsg_len)
		goto out;
	for (;;) {
		ssize_t n = recv(fd, buf, NL_BUF, 0);
		struct nlmsghdr *h;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE) {
				ret = 0;
				goto out;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				ret = e->error;
				goto out;
			}
			if (fn && fn(h, arg)) {
				ret = -EIO;
				goto out;
			}
		}
	}
out:
	free(buf);
	return ret;
}

static void nl_dump_req(struct nl_req *r, int type, int family)
{
	memset(r, 0, sizeof(*r));
	r->h.nlmsg_type = type;
	r->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	r->h.nlmsg_len = NLMSG_LENGTH(type == RTM_GETLINK ? sizeof(struct ifinfomsg) :
				      type == RTM_GETADDR ? sizeof(struct ifaddrmsg) :
				      sizeof(struct rtmsg));
	r->rtm.rtm_family = family;	/* the first byte of each */
}

/* Each attribute of a message, by type (the last one of a type wins). */
static void nl_attrs(struct nlmsghdr *h, size_t hdr, struct rtattr **tb, int max)
{
	int len = h->nlmsg_len - NLMSG_LENGTH(hdr);
	struct rtattr *a = (struct rtattr *)((char *)NLMSG_DATA(h) + NLMSG_ALIGN(hdr));

	memset(tb, 0, (max + 1) * sizeof(*tb));
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type <= max)
			tb[a->rta_type] = a;
}

static ProtobufCBinaryData rta_bytes(const struct rtattr *a)
{
	ProtobufCBinaryData b = { RTA_PAYLOAD(a), xzalloc(RTA_PAYLOAD(a) + 1) };

	memcpy(b.data, RTA_DATA(a), b.len);
	return b;
}

/* ---------------------------------------------------------------- dump */

struct net_collect {
	int out;			/* the helper's pipe */
	NetNsEntry *e;
	int ifindex[NET_MAX_LINKS];		/* of e->links[i] */
	int bad;
};

static const char *dev_name(const struct net_collect *c, int ifindex)
{
	for (size_t i = 0; i < c->e->n_links; i++)
		if (c->ifindex[i] == ifindex)
			return c->e->links[i]->name;
	return NULL;
}

static int link_cb(struct nlmsghdr *h, void *arg)
{
	struct net_collect *c = arg;
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	struct rtattr *tb[IFLA_MAX + 1], *li[IFLA_INFO_MAX + 1];
	const char *name, *kind = NULL;
	NetLink *l;

	if (h->nlmsg_type != RTM_NEWLINK)
		return 0;
	nl_attrs(h, sizeof(*ifi), tb, IFLA_MAX);
	name = tb[IFLA_IFNAME] ? RTA_DATA(tb[IFLA_IFNAME]) : "?";
	if (tb[IFLA_LINKINFO]) {
		struct rtattr *a = RTA_DATA(tb[IFLA_LINKINFO]);
		int len = RTA_PAYLOAD(tb[IFLA_LINKINFO]);

		memset(li, 0, sizeof(li));
		for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
			if (a->rta_type <= IFLA_INFO_MAX)
				li[a->rta_type] = a;
		if (li[IFLA_INFO_KIND])
			kind = RTA_DATA(li[IFLA_INFO_KIND]);
	}
	if (!(ifi->ifi_flags & IFF_LOOPBACK) || c->e->n_links >= NET_MAX_LINKS) {
		send_text(c->out, 'r', "network interface '%s' (%s) is in its network namespace: crest saves loopback only yet; move it out or delete it before the dump",
			  name, kind ? kind : "a device");
		c->bad = 1;
		return 0;
	}
	l = xzalloc(sizeof(*l));
	net_link__init(l);
	l->name = xstrdup(name);
	l->flags = ifi->ifi_flags;
	l->mtu = tb[IFLA_MTU] ? *(uint32_t *)RTA_DATA(tb[IFLA_MTU]) : 0;
	c->e->links = xrealloc(c->e->links, (c->e->n_links + 1) * sizeof(l));
	c->ifindex[c->e->n_links] = ifi->ifi_index;
	c->e->links[c->e->n_links++] = l;
	return 0;
}

static int addr_cb(struct nlmsghdr *h, void *arg)
{
	struct net_collect *c = arg;
	struct ifaddrmsg *ifa = NLMSG_DATA(h);
	struct rtattr *tb[IFA_MAX + 1];
	const char *dev = dev_name(c, ifa->ifa_index);
	NetAddr *a;

	if (h->nlmsg_type != RTM_NEWADDR || !dev)
		return 0;	/* on an interface refused already */
	nl_attrs(h, sizeof(*ifa), tb, IFA_MAX);
	if (!tb[IFA_ADDRESS] && !tb[IFA_LOCAL])
		return 0;
	if (tb[IFA_CACHEINFO]) {
		struct ifa_cacheinfo *ci = RTA_DATA(tb[IFA_CACHEINFO]);

		if (ci->ifa_valid != 0xffffffffu || ci->ifa_prefered != 0xffffffffu) {
			send_text(c->out, 'r', "an address of %s in its network namespace has a lifetime (valid %us, preferred %us), not supported yet",
				  dev, ci->ifa_valid, ci->ifa_prefered);
			c->bad = 1;
			return 0;
		}
	}
	a = xzalloc(sizeof(*a));
	net_addr__init(a);
	a->dev = xstrdup(dev);
	a->family = ifa->ifa_family;
	a->prefixlen = ifa->ifa_prefixlen;
	a->flags = tb[IFA_FLAGS] ? *(uint32_t *)RTA_DATA(tb[IFA_FLAGS]) : ifa->ifa_flags;
	a->scope = ifa->ifa_scope;
	a->local = rta_bytes(tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS]);
	if (tb[IFA_LOCAL] && tb[IFA_ADDRESS]) {
		a->has_address = 1;
		a->address = rta_bytes(tb[IFA_ADDRESS]);
	}
	if (tb[IFA_BROADCAST]) {
		a->has_broadcast = 1;
		a->broadcast = rta_bytes(tb[IFA_BROADCAST]);
	}
	if (tb[IFA_LABEL])
		a->label = xstrdup(RTA_DATA(tb[IFA_LABEL]));
	c->e->addrs = xrealloc(c->e->addrs, (c->e->n_addrs + 1) * sizeof(a));
	c->e->addrs[c->e->n_addrs++] = a;
	return 0;
}

static int route_cb(struct nlmsghdr *h, void *arg)
{
	struct net_collect *c = arg;
	struct rtmsg *rtm = NLMSG_DATA(h);
	struct rtattr *tb[RTA_MAX + 1];
	const char *dev = NULL;
	NetRoute *r;

	if (h->nlmsg_type != RTM_NEWROUTE || (rtm->rtm_flags & RTM_F_CLONED))
		return 0;
	/* Made by the kernel for an address or an interface: made again so. */
	if (rtm->rtm_protocol == RTPROT_KERNEL)
		return 0;
	nl_attrs(h, sizeof(*rtm), tb, RTA_MAX);
	if (tb[RTA_OIF]) {
		dev = dev_name(c, *(int *)RTA_DATA(tb[RTA_OIF]));
		if (!dev)
			return 0;	/* on an interface refused already */
	}
	for (int t = 0; t <= RTA_MAX; t++) {
		switch (t) {
		case RTA_DST: case RTA_OIF: case RTA_GATEWAY: case RTA_PREFSRC:
		case RTA_PRIORITY: case RTA_TABLE: case RTA_PREF: case RTA_CACHEINFO:
			continue;
		case RTA_METRICS:
			/* An empty nest is no metric. */
			if (!tb[t] || RTA_PAYLOAD(tb[t]) == 0)
				continue;
		}
		if (tb[t]) {
			send_text(c->out, 'r', "a route (family %u, /%u, table %u) in its network namespace has rtnetlink attribute %d, which crest does not save yet",
				  rtm->rtm_family, rtm->rtm_dst_len, rtm->rtm_table, t);
			c->bad = 1;
			return 0;
		}
	}
	r = xzalloc(sizeof(*r));
	net_route__init(r);
	r->family = rtm->rtm_family;
	r->dst_len = rtm->rtm_dst_len;
	r->table = tb[RTA_TABLE] ? *(uint32_t *)RTA_DATA(tb[RTA_TABLE]) : rtm->rtm_table;
	r->protocol = rtm->rtm_protocol;
	r->scope = rtm->rtm_scope;
	r->type = rtm->rtm_type;
	r->flags = rtm->rtm_flags;
	if (tb[RTA_DST]) {
		r->has_dst = 1;
		r->dst = rta_bytes(tb[RTA_DST]);
	}
	if (dev)
		r->dev = xstrdup(dev);
	if (tb[RTA_GATEWAY]) {
		r->has_gateway = 1;
		r->gateway = rta_bytes(tb[RTA_GATEWAY]);
	}
	if (tb[RTA_PREFSRC]) {
		r->has_prefsrc = 1;
		r->prefsrc = rta_bytes(tb[RTA_PREFSRC]);
	}
	if (tb[RTA_PRIORITY]) {
		r->has_priority = 1;
		r->priority = *(uint32_t *)RTA_DATA(tb[RTA_PRIORITY]);
	}
	if (tb[RTA_PREF]) {
		r->has_pref = 1;
		r->pref = *(uint8_t *)RTA_DATA(tb[RTA_PREF]);
	}
	c->e->routes = xrealloc(c->e->routes, (c->e->n_routes + 1) * sizeof(r));
	c->e->routes[c->e->n_routes++] = r;
	return 0;
}

/* In a helper in the namespace: one net_ns_entry, or refusals. */
int netns_helper(int out)
{
	NetNsEntry e = NET_NS_ENTRY__INIT;
	struct net_collect c = { .out = out, .e = &e };
	struct nl_req r;
	int fd = nl_open(), ret;

	if (fd < 0) {
		send_text(out, 'e', "can't open an rtnetlink socket: %s", strerror(errno));
		return -1;
	}
	nl_dump_req(&r, RTM_GETLINK, AF_UNSPEC);
	ret = nl_talk(fd, &r, link_cb, &c);
	if (!ret) {
		nl_dump_req(&r, RTM_GETADDR, AF_UNSPEC);
		ret = nl_talk(fd, &r, addr_cb, &c);
	}
	if (!ret) {
		nl_dump_req(&r, RTM_GETROUTE, AF_INET);
		ret = nl_talk(fd, &r, route_cb, &c);
	}
	if (!ret) {
		nl_dump_req(&r, RTM_GETROUTE, AF_INET6);
		ret = nl_talk(fd, &r, route_cb, &c);
	}
	close(fd);
	if (ret) {
		send_text(out, 'e', "rtnetlink can't list a network namespace: %s",
			  strerror(ret < 0 ? -ret : EIO));
		return -1;
	}
	e.vars = ns_read_vars(net_vars, ARRAY_SIZE(net_vars), &e.n_vars);
	return c.bad ? 0 : send_msg(out, &e.base);
}

/* ---------------------------------------------------------------- restore */

struct link_find {
	const char *name;
	int index;
};

static int find_cb(struct nlmsghdr *h, void *arg)
{
	struct link_find *q = arg;
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	struct rtattr *tb[IFLA_MAX + 1];

	if (h->nlmsg_type != RTM_NEWLINK)
		return 0;
	nl_attrs(h, sizeof(*ifi), tb, IFLA_MAX);
	if (tb[IFLA_IFNAME] && !strcmp(RTA_DATA(tb[IFLA_IFNAME]), q->name))
		q->index = ifi->ifi_index;
	return 0;
}

static int ifindex_of(int fd, const char *name)
{
	struct link_find q = { name, 0 };
	struct nl_req r;

	nl_dump_req(&r, RTM_GETLINK, AF_UNSPEC);
	if (nl_talk(fd, &r, find_cb, &q) || !q.index)
		pr_err("a new network namespace has no interface '%s'", name);
	return q.index;
}

static void nl_new_req(struct nl_req *r, int type, int flags, size_t hdr)
{
	memset(r, 0, sizeof(*r));
	r->h.nlmsg_type = type;
	r->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	r->h.nlmsg_len = NLMSG_LENGTH(hdr);
}

static int set_link(int fd, const NetLink *l)
{
	struct nl_req r;
	int ret;

	nl_new_req(&r, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));
	r.ifi.ifi_family = AF_UNSPEC;
	r.ifi.ifi_index = ifindex_of(fd, l->name);
	r.ifi.ifi_flags = l->flags & IFF_UP;
	r.ifi.ifi_change = IFF_UP;
	if (!r.ifi.ifi_index)
		return -1;
	if (l->mtu)
		nl_put(&r, IFLA_MTU, &l->mtu, sizeof(l->mtu));
	ret = nl_talk(fd, &r, NULL, NULL);
	if (ret) {
		errno = -ret;
		pr_perror("can't set interface '%s' %s (mtu %u)", l->name,
			  l->flags & IFF_UP ? "up" : "down", l->mtu);
	}
	return ret ? -1 : 0;
}

/* What the kernel put there by itself (127.0.0.1 as lo went up...). */
struct addr_have {
	struct {
		int ifindex, family, prefixlen;
		unsigned char local[16];
		size_t len;
	} a[NET_MAX_LINKS * 8];
	int nr;
};

static int have_cb(struct nlmsghdr *h, void *arg)
{
	struct addr_have *hv = arg;
	struct ifaddrmsg *ifa = NLMSG_DATA(h);
	struct rtattr *tb[IFA_MAX + 1], *l;

	if (h->nlmsg_type != RTM_NEWADDR || hv->nr >= (int)ARRAY_SIZE(hv->a))
		return 0;
	nl_attrs(h, sizeof(*ifa), tb, IFA_MAX);
	l = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!l || RTA_PAYLOAD(l) > 16)
		return 0;
	hv->a[hv->nr].ifindex = ifa->ifa_index;
	hv->a[hv->nr].family = ifa->ifa_family;
	hv->a[hv->nr].prefixlen = ifa->ifa_prefixlen;
	hv->a[hv->nr].len = RTA_PAYLOAD(l);
	memcpy(hv->a[hv->nr].local, RTA_DATA(l), RTA_PAYLOAD(l));
	hv->nr++;
	return 0;
}

static int addr_msg(int fd, int type, int flags, int ifindex, int family,
		    int prefixlen, const void *local, size_t len, const NetAddr *a)
{
	struct nl_req r;
	int ret;

	nl_new_req(&r, type, flags, sizeof(struct ifaddrmsg));
	r.ifa.ifa_family = family;
	r.ifa.ifa_prefixlen = prefixlen;
	r.ifa.ifa_index = ifindex;
	if (family == AF_INET)
		nl_put(&r, IFA_LOCAL, local, len);
	if (a) {
		/* What the kernel takes; the rest (permanent...) it works out. */
		uint32_t fl = a->flags & (IFA_F_NODAD | IFA_F_HOMEADDRESS |
					  IFA_F_NOPREFIXROUTE | IFA_F_MANAGETEMPADDR |
					  IFA_F_MCAUTOJOIN);

		r.ifa.ifa_scope = a->scope;
		if (a->has_address)
			nl_put(&r, IFA_ADDRESS, a->address.data, a->address.len);
		else
			nl_put(&r, IFA_ADDRESS, local, len);
		if (a->has_broadcast)
			nl_put(&r, IFA_BROADCAST, a->broadcast.data, a->broadcast.len);
		if (a->label)
			nl_put(&r, IFA_LABEL, a->label, strlen(a->label) + 1);
		nl_put(&r, IFA_FLAGS, &fl, sizeof(fl));
	} else if (family != AF_INET) {
		nl_put(&r, IFA_ADDRESS, local, len);
	}
	ret = nl_talk(fd, &r, NULL, NULL);
	if (ret) {
		char text[64] = "?";

		inet_ntop(family, local, text, sizeof(text));
		errno = -ret;
		pr_perror("can't %s address %s/%d in a new network namespace",
			  type == RTM_NEWADDR ? "add" : "delete", text, prefixlen);
	}
	return ret ? -1 : 0;
}

static bool same_addr(const NetAddr *a, int ifindex, int family, int prefixlen,
		      const void *local, size_t len, int a_ifindex)
{
	return a_ifindex == ifindex && (int)a->family == family &&
	       (int)a->prefixlen == prefixlen && a->local.len == len &&
	       !memcmp(a->local.data, local, len);
}

static int set_addrs(int fd, const NetNsEntry *e)
{
	struct addr_have *hv = xzalloc(sizeof(*hv));
	int *idx = xzalloc((e->n_addrs + 1) * sizeof(int)), ret = -1;
	struct nl_req r;

	for (size_t i = 0; i < e->n_addrs; i++)
		if (!(idx[i] = ifindex_of(fd, e->addrs[i]->dev)))
			goto out;
	nl_dump_req(&r, RTM_GETADDR, AF_UNSPEC);
	if (nl_talk(fd, &r, have_cb, hv)) {
		pr_err("rtnetlink can't list the addresses of a new network namespace");
		goto out;
	}
	for (int k = 0; k < hv->nr; k++) {
		bool keep = false;

		for (size_t i = 0; i < e->n_addrs; i++)
			keep |= same_addr(e->addrs[i], hv->a[k].ifindex, hv->a[k].family,
					  hv->a[k].prefixlen, hv->a[k].local, hv->a[k].len, idx[i]);
		if (!keep && addr_msg(fd, RTM_DELADDR, 0, hv->a[k].ifindex, hv->a[k].family,
				      hv->a[k].prefixlen, hv->a[k].local, hv->a[k].len, NULL))
			goto out;
	}
	for (size_t i = 0; i < e->n_addrs; i++) {
		const NetAddr *a = e->addrs[i];
		bool there = false;

		for (int k = 0; k < hv->nr; k++)
			there |= same_addr(a, hv->a[k].ifindex, hv->a[k].family,
					   hv->a[k].prefixlen, hv->a[k].local, hv->a[k].len, idx[i]);
		if (!there && addr_msg(fd, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, idx[i],
				       a->family, a->prefixlen, a->local.data, a->local.len, a))
			goto out;
	}
	ret = 0;
out:
	free(hv);
	free(idx);
	return ret;
}

static int tentative_cb(struct nlmsghdr *h, void *arg)
{
	struct ifaddrmsg *ifa = NLMSG_DATA(h);
	struct rtattr *tb[IFA_MAX + 1];
	uint32_t flags;

	if (h->nlmsg_type != RTM_NEWADDR)
		return 0;
	nl_attrs(h, sizeof(*ifa), tb, IFA_MAX);
	flags = tb[IFA_FLAGS] ? *(uint32_t *)RTA_DATA(tb[IFA_FLAGS]) : ifa->ifa_flags;
	if (flags & IFA_F_TENTATIVE)
		(*(int *)arg)++;
	return 0;
}

/*
 * A new IPv6 address is tentative until the kernel's duplicate address
 * detection is over (at once on loopback, but from a work queue): nothing
 * binds it before. Wait for that, a few seconds at most.
 */
static int wait_tentative(int fd)
{
	for (int tries = 0; tries < 5000; tries++) {
		struct nl_req r;
		int n = 0;

		nl_dump_req(&r, RTM_GETADDR, AF_INET6);
		if (nl_talk(fd, &r, tentative_cb, &n)) {
			pr_err("rtnetlink can't list the addresses of a new network namespace");
			return -1;
		}
		if (!n)
			return 0;
		usleep(1000);
	}
	pr_err("an IPv6 address of a new network namespace stayed tentative for 5 s");
	return -1;
}

static int add_route(int fd, const NetRoute *rt)
{
	struct nl_req r;
	int ret;

	nl_new_req(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct rtmsg));
	r.rtm.rtm_family = rt->family;
	r.rtm.rtm_dst_len = rt->dst_len;
	r.rtm.rtm_table = rt->table < 256 ? rt->table : RT_TABLE_UNSPEC;
	r.rtm.rtm_protocol = rt->protocol;
	r.rtm.rtm_scope = rt->scope;
	r.rtm.rtm_type = rt->type;
	r.rtm.rtm_flags = rt->flags & RTNH_F_ONLINK;
	nl_put(&r, RTA_TABLE, &rt->table, sizeof(rt->table));
	if (rt->has_dst)
		nl_put(&r, RTA_DST, rt->dst.data, rt->dst.len);
	if (rt->dev) {
		int oif = ifindex_of(fd, rt->dev);

		if (!oif)
			return -1;
		nl_put(&r, RTA_OIF, &oif, sizeof(oif));
	}
	if (rt->has_gateway)
		nl_put(&r, RTA_GATEWAY, rt->gateway.data, rt->gateway.len);
	if (rt->has_prefsrc)
		nl_put(&r, RTA_PREFSRC, rt->prefsrc.data, rt->prefsrc.len);
	if (rt->has_priority)
		nl_put(&r, RTA_PRIORITY, &rt->priority, sizeof(rt->priority));
	if (rt->has_pref) {
		uint8_t pref = rt->pref;

		nl_put(&r, RTA_PREF, &pref, 1);
	}
	ret = nl_talk(fd, &r, NULL, NULL);
	if (ret) {
		char text[64] = "default";

		if (rt->has_dst && rt->dst.len <= 16)
			inet_ntop(rt->family, rt->dst.data, text, sizeof(text));
		errno = -ret;
		pr_perror("can't add the route to %s/%u (table %u) in a new network namespace",
			  text, rt->dst_len, rt->table);
	}
	return ret ? -1 : 0;
}

/* In crest, in the new namespace: fill it as the dump saw it. */
static int netns_fill(const NetNsEntry *e, uint32_t id)
{
	int fd, ret = -1;

	if (ns_write_vars(e->vars, e->n_vars, net_vars, ARRAY_SIZE(net_vars),
			  "network namespace", id))
		return -1;
	fd = nl_open();
	if (fd < 0)
		return -1;
	for (size_t i = 0; i < e->n_links; i++)
		if (set_link(fd, e->links[i]))
			goto out;
	if (set_addrs(fd, e) || wait_tentative(fd))
		goto out;
	for (size_t i = 0; i < e->n_routes; i++)
		if (add_route(fd, e->routes[i]))
			goto out;
	ret = 0;
out:
	close(fd);
	return ret;
}

static int netns_new(const void *e, uint32_t id)
{
	if (unshare(CLONE_NEWNET)) {
		pr_perror("can't make network namespace %u", id);
		return -1;
	}
	return netns_fill(e, id);
}

int netns_make(const NetNsEntry *e, uint32_t id)
{
	return ns_make_in_crest(NSI_NET, "net", netns_new, e, id);
}

struct made_netns {
	int fd;
	const NetNsEntry *e;
};

static int fill_fd(const void *arg, uint32_t id)
{
	const struct made_netns *m = arg;

	if (setns(m->fd, CLONE_NEWNET)) {
		pr_perror("can't join network namespace %u", id);
		return -1;
	}
	return netns_fill(m->e, id);
}

/*
 * One owned by a user namespace of the tree: made by a helper that joined
 * it, opened and filled by crest (which has every privilege over it):
 * the sysctls it writes name ids as crest's namespace does.
 */
int netns_make_in(const NetNsEntry *e, uint32_t id, int userns_fd)
{
	int fd = ns_make_in_user(userns_fd, CLONE_NEWNET, "net", id);

	if (fd >= 0) {
		struct made_netns m = { fd, e };
		int made = ns_make_in_crest(NSI_NET, "net", fill_fd, &m, id);

		if (made >= 0) {
			close(made);
			return fd;
		}
		close(fd);
	}
	return -1;
}
