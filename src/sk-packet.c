/*
 * Packet sockets (AF_PACKET, SOCK_RAW and SOCK_DGRAM): unbound or bound
 * to an interface, receiving one protocol, every one (ETH_P_ALL) or none
 * (0), with their options (PACKET_VERSION, PACKET_AUXDATA, PACKET_ORIGDEV,
 * PACKET_VNET_HDR... and SOL_SOCKET's: sk-opts.c), copy threshold,
 * multicast list (PACKET_ADD_MEMBERSHIP: multicast, promiscuous,
 * all-multicast, unicast), fanout group and classic socket filter. One
 * packet_sk_entry per socket, however many fds in however many processes
 * hold it.
 *
 * Dump: from a copy of the fd (pidfd_getfd): SO_TYPE, getsockname (the
 * protocol and interface), PACKET_FANOUT (id, mode and flags), the option
 * table; from sock_diag (packet_diag, every packet socket of its
 * network namespace, asked once per namespace and dump, from a netlink
 * socket made in it: sk-netns.c): whether it is hooked to
 * receive (PDI_RUNNING), the copy threshold, the multicast list, the
 * rings, what is queued (SK_MEMINFO_RMEM_ALLOC) and every socket's fanout
 * group. Refused by name: an obsolete SOCK_PACKET socket, a mapped ring
 * (PACKET_RX_RING, PACKET_TX_RING: its frames live in the process's
 * memory and the kernel's view of them can't be read), frames queued (a
 * packet socket can't be peeked past its first frame), a fanout group
 * with a BPF program (PACKET_FANOUT_CBPF, _EBPF: PACKET_FANOUT_DATA can't
 * be read back) or with members outside the tree, an eBPF socket filter,
 * a socket of another network namespace than its process's.
 *
 * Not visible, so not saved (crest(8), LIMITATIONS): PACKET_STATISTICS
 * (reading it resets it: it starts from zero again), a fanout group's
 * max_num_members (PACKET_FANOUT with struct fanout_args).
 *
 * Restore, in crest, each socket once as a service fd: made with protocol
 * 0 (so it receives nothing yet), its owner, options, copy threshold,
 * filter; then bound to its protocol and interface (the interface of the
 * same name must have the same index: a program keeps ifindexes; in a
 * network namespace the restore makes, checked there as it is made), its
 * memberships added, its fanout group joined (after the bind: only a
 * socket hooked to receive may join).
 */
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/packet_diag.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "files-kind.h"
#include "image.h"
#include "log.h"
#include "pstree.h"
#include "refuse.h"
#include "sk-netns.h"
#include "sk-opts.h"
#include "util.h"

#include "sk-packet.pb-c.h"

#ifndef SK_MEMINFO_RMEM_ALLOC
#define SK_MEMINFO_RMEM_ALLOC	0
#endif
#ifndef SOCK_PACKET
#define SOCK_PACKET	10
#endif

/* What packet_diag says of one socket. */
struct pk_diag {
	uint32_t ino;
	uint32_t index;
	uint32_t copy_thresh;
	uint32_t flags;			/* PDI_* */
	bool rx_ring, tx_ring;
	struct packet_diag_ring ring[2];
	bool has_fanout;
	uint32_t fanout;		/* id | type << 16 */
	uint32_t rmem;
	PacketMclistEntry **mc;
	size_t n_mc;
};

struct pksk {
	PacketSkEntry *e;
	pid_t tpid;		/* a task holding it, for messages */
	int fd;			/* ...at this fd */
	uint64_t netns;		/* the inode of its network namespace */
};

/* Every packet socket of one network namespace. */
struct pk_netns {
	uint64_t ino;
	struct pk_diag *diag;
	int nr_diag;		/* -1: sock_diag could not be asked */
};

struct pksk_dump {
	struct pksk *sk;
	int nr;
	struct pk_netns *ns;
	int nr_ns;
};

static struct pksk_dump *dump_state(struct dump_files *df)
{
	void **p = files_dump_priv(df, &packetsk_fd_ops);

	if (!*p)
		*p = xzalloc(sizeof(struct pksk_dump));
	return *p;
}

static bool pk_recognise(const struct fd_dump *f)
{
	return S_ISSOCK(f->st->st_mode) && f->fd > 2 &&
	       sock_domain(f->pid, f->fd) == AF_PACKET;
}

/* "a raw packet socket (protocol 0x0003) bound to 'lo'" ... for messages. */
static void pk_words(const PacketSkEntry *e, char *buf, size_t size)
{
	const char *t = e->type == SOCK_RAW ? "raw" : "datagram";

	if (e->has_ifindex && e->ifindex)
		snprintf(buf, size, "a %s packet socket (protocol 0x%04x) bound to '%s'", t,
			 e->protocol, e->ifname ? e->ifname : "?");
	else
		snprintf(buf, size, "a %s packet socket (protocol 0x%04x), not bound", t,
			 e->protocol);
}

static void diag_attr(struct pk_diag *d, const struct rtattr *a)
{
	const void *p = RTA_DATA(a);
	size_t len = RTA_PAYLOAD(a);

	switch (a->rta_type) {
	case PACKET_DIAG_INFO:
		if (len >= sizeof(struct packet_diag_info)) {
			const struct packet_diag_info *i = p;

			d->index = i->pdi_index;
			d->copy_thresh = i->pdi_copy_thresh;
			d->flags = i->pdi_flags;
		}
		break;
	case PACKET_DIAG_RX_RING:
	case PACKET_DIAG_TX_RING: {
		int t = a->rta_type == PACKET_DIAG_TX_RING;

		*(t ? &d->tx_ring : &d->rx_ring) = true;
		memcpy(&d->ring[t], p, len < sizeof(d->ring[t]) ? len : sizeof(d->ring[t]));
		break;
	}
	case PACKET_DIAG_FANOUT:
		if (len >= 4) {
			d->has_fanout = true;
			memcpy(&d->fanout, p, 4);
		}
		break;
	case PACKET_DIAG_MEMINFO:
		if (len >= 4 * (SK_MEMINFO_RMEM_ALLOC + 1))
			memcpy(&d->rmem, (const uint32_t *)p + SK_MEMINFO_RMEM_ALLOC, 4);
		break;
	case PACKET_DIAG_MCLIST:
		for (const struct packet_diag_mclist *m = p;
		     (const char *)(m + 1) <= (const char *)p + len; m++) {
			PacketMclistEntry *c = xzalloc(sizeof(*c));
			size_t alen = m->pdmc_alen < sizeof(m->pdmc_addr) ?
				      m->pdmc_alen : sizeof(m->pdmc_addr);

			packet_mclist_entry__init(c);
			c->ifindex = m->pdmc_index;
			c->type = m->pdmc_type;
			c->count = m->pdmc_count;
			c->addr.len = alen;
			c->addr.data = xzalloc(alen + 1);
			memcpy(c->addr.data, m->pdmc_addr, alen);
			d->mc = xrealloc(d->mc, (d->n_mc + 1) * sizeof(*d->mc));
			d->mc[d->n_mc++] = c;
		}
		break;
	}
}

/* Every packet socket of the network namespace of socket near. */
static int diag_all(struct pk_netns *u, int near)
{
	static char buf[65536] __attribute__((aligned(4)));
	struct {
		struct nlmsghdr h;
		struct packet_diag_req r;
	} req;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int nl, ret = -1;

	nl = sk_socket_at(near, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0) {
		pr_perror("can't open a sock_diag netlink socket");
		return -1;
	}
	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.r.sdiag_family = AF_PACKET;
	req.r.pdiag_show = PACKET_SHOW_INFO | PACKET_SHOW_MCLIST | PACKET_SHOW_RING_CFG |
			   PACKET_SHOW_FANOUT | PACKET_SHOW_MEMINFO;
	if (sendto(nl, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		pr_perror("can't ask sock_diag about packet sockets");
		goto out;
	}
	for (;;) {
		ssize_t n = recv(nl, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n < 0) {
			pr_perror("can't read sock_diag's list of packet sockets");
			goto out;
		}
		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			struct packet_diag_msg *m = NLMSG_DATA(h);
			int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
			struct pk_diag *d;

			if (h->nlmsg_type == NLMSG_DONE) {
				ret = 0;
				goto out;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				errno = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
				pr_perror("sock_diag can't list packet sockets");
				goto out;
			}
			if (len < 0)
				continue;
			u->diag = xrealloc(u->diag, (u->nr_diag + 1) * sizeof(*u->diag));
			d = &u->diag[u->nr_diag++];
			memset(d, 0, sizeof(*d));
			d->ino = m->pdiag_ino;
			for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, len);
			     a = RTA_NEXT(a, len))
				diag_attr(d, a);
		}
	}
out:
	close(nl);
	return ret;
}

/* The packet sockets of network namespace netns, asked of sock_diag once. */
static struct pk_netns *netns_of(struct pksk_dump *u, uint64_t netns, int near)
{
	struct pk_netns *n;

	for (int i = 0; i < u->nr_ns; i++)
		if (u->ns[i].ino == netns)
			return &u->ns[i];
	u->ns = xrealloc(u->ns, (u->nr_ns + 1) * sizeof(*u->ns));
	n = &u->ns[u->nr_ns++];
	memset(n, 0, sizeof(*n));
	n->ino = netns;
	if (diag_all(n, near))
		n->nr_diag = -1;
	return n;
}

static const struct pk_diag *diag_of(struct pk_netns *n, uint64_t ino)
{
	for (int i = 0; i < n->nr_diag; i++)
		if (n->diag[i].ino == ino)
			return &n->diag[i];
	return NULL;
}

/* What of a socket packet_diag and the copy showed can't be saved, or NULL. */
static char *problem(PacketSkEntry *e, const struct pk_diag *d, int cfd,
		     const char *what)
{
	static const char *const ring[2] = { "PACKET_RX_RING", "PACKET_TX_RING" };
	unsigned int mode = e->fanout >> 16 & 0xff;
	bool locked;
	char *why;

	for (int t = 0; t < 2; t++)
		if (t ? d->tx_ring : d->rx_ring)
			return xsprintf("%s with a ring mapped (%s: %u blocks of %u bytes, frames of %u bytes; the frames are the process's memory and the kernel's place in them can't be read)",
					what, ring[t], d->ring[t].pdr_block_nr,
					d->ring[t].pdr_block_size, d->ring[t].pdr_frame_size);
	if (d->rmem)
		return xsprintf("%s with frames queued (%u bytes with overhead: only the first could be read)",
				what, d->rmem);
	if (e->has_fanout && (mode == PACKET_FANOUT_CBPF || mode == PACKET_FANOUT_EBPF))
		return xsprintf("%s, in fanout group %u of mode %s (its program, PACKET_FANOUT_DATA, can't be read back)",
				what, e->fanout & 0xffff,
				mode == PACKET_FANOUT_CBPF ? "PACKET_FANOUT_CBPF" : "PACKET_FANOUT_EBPF");
	why = sk_filter_dump(cfd, what, &e->filter, &locked);
	if (why)
		return why;
	e->has_filter = !!e->filter.data;
	e->has_filter_locked = e->filter_locked = locked;
	return NULL;
}

static int pk_dump(struct dump_files *df, const struct fd_dump *f, FdEntry *fe)
{
	struct pksk_dump *u = dump_state(df);
	const struct pk_diag *d;
	struct sockaddr_ll sll;
	socklen_t len = sizeof(sll);
	PacketSkEntry *e;
	struct ifreq ifr;
	char what[200], *why;
	uint64_t netns;
	int cfd, fresh;

	for (int i = 0; i < u->nr; i++)
		if (u->sk[i].e->ino == f->st->st_ino) {
			fe->file_id = u->sk[i].e->id;
			return 0;
		}
	cfd = pidfd_take(f->pid, f->fd);
	if (cfd < 0)
		return -1;
	netns = sk_netns_ino(cfd);
	e = xzalloc(sizeof(*e));
	packet_sk_entry__init(e);
	e->id = u->nr + 1;
	e->ino = f->st->st_ino;
	e->type = sock_int(cfd, SOL_SOCKET, SO_TYPE);
	e->has_uid = e->has_gid = 1;
	e->uid = f->st->st_uid;
	e->gid = f->st->st_gid;
	memset(&sll, 0, sizeof(sll));
	if (getsockname(cfd, (struct sockaddr *)&sll, &len)) {
		pr_perror("can't read the address of fd %d of process %d", f->fd, f->it->pid);
		goto err;
	}
	/* sll_protocol: what it was made or bound for (SO_PROTOCOL says 0). */
	e->protocol = ntohs(sll.sll_protocol);
	if (sll.sll_ifindex) {
		/* Its name in the socket's own namespace (SIOCGIFNAME on it). */
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_ifindex = sll.sll_ifindex;
		e->has_ifindex = 1;
		e->ifindex = sll.sll_ifindex;
		if (!ioctl(cfd, SIOCGIFNAME, &ifr)) {
			ifr.ifr_name[IF_NAMESIZE - 1] = '\0';
			e->ifname = xstrdup(ifr.ifr_name);
		}
	}
	pk_words(e, what, sizeof(what));
	if (e->type != SOCK_RAW && e->type != SOCK_DGRAM) {
		refuse(f->it->pid, "fd %d is a packet socket of type %s (protocol 0x%04x), not supported yet",
		       f->fd, e->type == SOCK_PACKET ? "SOCK_PACKET (obsolete)" : "unknown",
		       e->protocol);
		goto skip;
	}
	if (e->has_ifindex && !e->ifname) {
		refuse(f->it->pid, "fd %d is a packet socket bound to interface #%u, which has no name, not supported yet",
		       f->fd, e->ifindex);
		goto skip;
	}
	/* Made again in its process's namespace at restore. */
	if (!sk_netns_is_pid(cfd, f->pid)) {
		refuse(f->it->pid, "fd %d is %s of another network namespace than the process's (made before a setns() or unshare(), or passed to it), not supported yet",
		       f->fd, what);
		goto skip;
	}
	d = diag_of(netns_of(u, netns, cfd), e->ino);
	if (!d) {
		refuse(f->it->pid, "fd %d is %s that sock_diag of its network namespace does not show, not supported yet",
		       f->fd, what);
		goto skip;
	}
	e->has_running = 1;
	e->running = !!(d->flags & PDI_RUNNING);
	if (d->copy_thresh) {
		e->has_copy_thresh = 1;
		e->copy_thresh = d->copy_thresh;
	}
	e->mclist = d->mc;
	e->n_mclist = d->n_mc;
	((struct pk_diag *)d)->mc = NULL;
	((struct pk_diag *)d)->n_mc = 0;
	if (d->has_fanout) {
		int v = 0;

		len = sizeof(v);
		if (getsockopt(cfd, SOL_PACKET, PACKET_FANOUT, &v, &len)) {
			pr_perror("can't read PACKET_FANOUT of fd %d of process %d", f->fd,
				  f->it->pid);
			goto err;
		}
		e->has_fanout = 1;
		e->fanout = v;
	}
	why = sk_pending_problem(cfd, what);
	if (!why)
		why = problem(e, d, cfd, what);
	if (why) {
		refuse(f->it->pid, "fd %d is %s, not supported yet", f->fd, why);
		free(why);
	}
	fresh = sk_socket_at(cfd, AF_PACKET, e->type | SOCK_CLOEXEC, 0);
	if (fresh < 0) {
		pr_perror("can't make a socket to compare fd %d of process %d with",
			  f->fd, f->it->pid);
		goto err;
	}
	sk_opts_dump(cfd, fresh, NULL, NULL, &e->opts, &e->n_opts);
	close(fresh);
skip:
	close(cfd);
	u->sk = xrealloc(u->sk, (u->nr + 1) * sizeof(*u->sk));
	u->sk[u->nr].e = e;
	u->sk[u->nr].tpid = f->it->pid;
	u->sk[u->nr].fd = f->fd;
	u->sk[u->nr].netns = netns;
	u->nr++;
	fe->file_id = e->id;
	return 0;
err:
	packet_sk_entry__free_unpacked(e, NULL);
	close(cfd);
	return -1;
}

/*
 * A fanout group is its network namespace's (the ids are per namespace):
 * every member must be one of ours.
 */
static int pk_collected(struct dump_files *df, struct pstree *t)
{
	struct pksk_dump *u = dump_state(df);

	(void)t;
	for (int i = 0; i < u->nr; i++) {
		const PacketSkEntry *e = u->sk[i].e;
		const struct pk_netns *n = NULL;
		int ours = 0, all = 0;
		char what[200];

		if (!e->has_fanout)
			continue;
		for (int j = 0; j < u->nr_ns; j++)
			if (u->ns[j].ino == u->sk[i].netns)
				n = &u->ns[j];
		for (int j = 0; j < u->nr; j++)
			ours += u->sk[j].e->has_fanout && u->sk[j].netns == u->sk[i].netns &&
				(u->sk[j].e->fanout & 0xffff) == (e->fanout & 0xffff);
		for (int j = 0; n && j < n->nr_diag; j++)
			all += n->diag[j].has_fanout &&
			       (n->diag[j].fanout & 0xffff) == (e->fanout & 0xffff);
		if (all <= ours)
			continue;
		pk_words(e, what, sizeof(what));
		refuse(u->sk[i].tpid, "fd %d is %s, in fanout group %u, which %d socket%s outside the tree %s too, not supported yet",
		       u->sk[i].fd, what, e->fanout & 0xffff, all - ours,
		       all - ours > 1 ? "s" : "", all - ours > 1 ? "are in" : "is in");
	}
	return 0;
}

static int pk_write(struct dump_files *df, struct img_dir *d)
{
	struct pksk_dump *u = dump_state(df);
	PacketSkEntry **es = xzalloc((u->nr + 1) * sizeof(*es));
	int ret;

	for (int i = 0; i < u->nr; i++)
		es[i] = u->sk[i].e;
	ret = files_write_msgs(d, IMG_PACKETSK, 0, (void **)es, u->nr);
	free(es);
	return ret;
}

/* ---- restore ---- */

struct pksk_restore {
	PacketSkEntry **sks;
	int nr;
	int *fd;
};

static struct pksk_restore *restore_state(struct restore_files *rf)
{
	void **p = files_restore_priv(rf, &packetsk_fd_ops);

	if (!*p)
		*p = xzalloc(sizeof(struct pksk_restore));
	return *p;
}

static const struct pksk_restore *restore_state_ro(const struct restore_files *rf)
{
	return *files_restore_priv_ro(rf, &packetsk_fd_ops);
}

static int pk_index(const struct pksk_restore *u, uint32_t id)
{
	for (int i = 0; u && i < u->nr; i++)
		if (u->sks[i]->id == id)
			return i;
	return -1;
}

static bool entry_ok(const PacketSkEntry *e)
{
	unsigned int mode = e->fanout >> 16 & 0xff;

	if ((e->type != SOCK_RAW && e->type != SOCK_DGRAM) || e->protocol > 0xffff ||
	    (e->has_ifindex && (!e->ifname || !e->ifname[0] ||
				strlen(e->ifname) >= IF_NAMESIZE)) ||
	    sk_opts_check(e->opts, e->n_opts) ||
	    (e->has_filter && sk_filter_bad(&e->filter)) ||
	    (e->has_fanout && (mode == PACKET_FANOUT_CBPF || mode == PACKET_FANOUT_EBPF)))
		return false;
	for (size_t i = 0; i < e->n_mclist; i++)
		if (e->mclist[i]->addr.len > 8 || !e->mclist[i]->count ||
		    e->mclist[i]->count > 65536)
			return false;
	return true;
}

static int pk_read(struct restore_files *rf, struct img_dir *d)
{
	struct pksk_restore *u = restore_state(rf);

	if (files_read_msgs(d, IMG_PACKETSK, 0, (void ***)&u->sks, &u->nr))
		return -1;
	for (int i = 0; i < u->nr; i++)
		if (!entry_ok(u->sks[i])) {
			pr_err("image packetsk.img is corrupt: socket %u can't be", u->sks[i]->id);
			return -1;
		}
	return 0;
}

/* The interfaces socket e is bound to are there, at their indexes. */
static int check_ifs(const PacketSkEntry *e)
{
	char ifn[IF_NAMESIZE];
	unsigned int now;
	int ret = 0;

	for (size_t j = 0; j < e->n_mclist; j++)
		if (!if_indextoname(e->mclist[j]->ifindex, ifn)) {
			pr_err("restore needs the interface of index %u, which a packet socket (socket:[%llu]) has a membership of",
			       e->mclist[j]->ifindex, (unsigned long long)e->ino);
			ret = -1;
		}
	if (!e->has_ifindex || !e->ifindex)
		return ret;
	now = if_nametoindex(e->ifname);
	if (now == e->ifindex)
		return ret;
	if (!now)
		pr_err("restore needs the interface '%s' (index %u), which a packet socket (socket:[%llu]) is bound to",
		       e->ifname, e->ifindex, (unsigned long long)e->ino);
	else
		pr_err("restore needs the interface '%s' at index %u (it is %u now), which a packet socket (socket:[%llu]) is bound to",
		       e->ifname, e->ifindex, now, (unsigned long long)e->ino);
	return -1;
}

/*
 * Before anything is made, in crest's network namespace; in one the
 * restore makes, that namespace's interfaces as each socket is made.
 */
static int pk_check(const struct restore_files *rf)
{
	const struct pksk_restore *u = restore_state_ro(rf);
	int ret = 0;

	for (int i = 0; u && !rf->own_netns && i < u->nr; i++)
		if (check_ifs(u->sks[i]))
			ret = -1;
	return ret;
}

static int make_packet(const void *obj)
{
	const PacketSkEntry *e = obj;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	char what[200];
	int fd;

	pk_words(e, what, sizeof(what));
	if (check_ifs(e))
		return -1;
	/* Protocol 0: nothing comes in before the bind says what. */
	fd = socket(AF_PACKET, e->type | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		pr_perror("can't create %s", what);
		return -1;
	}
	if (e->has_uid && fchown(fd, e->uid, e->has_gid ? e->gid : (gid_t)-1)) {
		pr_perror("can't give %s its owner %u back", what, e->uid);
		goto err;
	}
	if (sk_opts_set(fd, e->opts, e->n_opts, what))
		goto err;
	if (e->has_copy_thresh &&
	    setsockopt(fd, SOL_PACKET, PACKET_COPY_THRESH, &e->copy_thresh,
		       sizeof(e->copy_thresh))) {
		pr_perror("can't give %s its PACKET_COPY_THRESH", what);
		goto err;
	}
	if (e->has_filter && sk_filter_set(fd, &e->filter, e->filter_locked, what))
		goto err;
	sll.sll_protocol = htons(e->protocol);
	sll.sll_ifindex = e->has_ifindex ? e->ifindex : 0;
	if ((sll.sll_protocol || sll.sll_ifindex) &&
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		pr_perror("can't bind %s again", what);
		goto err;
	}
	for (size_t i = 0; i < e->n_mclist; i++) {
		const PacketMclistEntry *c = e->mclist[i];
		struct packet_mreq mr = { .mr_ifindex = c->ifindex, .mr_type = c->type,
					  .mr_alen = c->addr.len };

		memcpy(mr.mr_address, c->addr.data, c->addr.len);
		for (uint32_t n = 0; n < c->count; n++)
			if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr))) {
				pr_perror("can't give %s its membership of type %u on interface #%u",
					  what, c->type, c->ifindex);
				goto err;
			}
	}
	if (e->has_fanout &&
	    setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &e->fanout, sizeof(e->fanout))) {
		pr_perror("can't put %s in its fanout group %u again", what, e->fanout & 0xffff);
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

static int pk_open(struct restore_files *rf, struct img_dir *d, MmEntry **mms,
		   int nr_mms)
{
	struct pksk_restore *u = restore_state(rf);

	(void)d;
	(void)mms;
	(void)nr_mms;
	return files_make_services(rf, (void *const *)u->sks, u->nr, make_packet, &u->fd);
}

static int pk_service_fd(const struct restore_files *rf, const FdEntry *e)
{
	const struct pksk_restore *u = restore_state_ro(rf);
	int i = pk_index(u, e->file_id);

	return i < 0 || !u->fd ? -1 : u->fd[i];
}

static void pk_show(const struct restore_files *rf, const FdEntry *e, char *buf,
		    size_t len)
{
	const struct pksk_restore *u = restore_state_ro(rf);
	int i = pk_index(u, e->file_id);
	char what[200];

	if (i < 0) {
		snprintf(buf, len, "packet socket %u, not in the images", e->file_id);
		return;
	}
	pk_words(u->sks[i], what, sizeof(what));
	snprintf(buf, len, "%s, socket:[%llu]", what, (unsigned long long)u->sks[i]->ino);
}

const struct fd_kind_ops packetsk_fd_ops = {
	.name		= "packet socket",
	.kind		= FD_KIND__FD_PACKET_SK,
	.recognise	= pk_recognise,
	.dump		= pk_dump,
	.collected	= pk_collected,
	.write		= pk_write,
	.read		= pk_read,
	.check		= pk_check,
	.open		= pk_open,
	.service_fd	= pk_service_fd,
	.show		= pk_show,
};
