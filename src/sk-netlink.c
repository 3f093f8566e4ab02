/*
 * Netlink sockets of the protocols whose kernel side keeps nothing of a
 * socket but its port id and groups (NETLINK_ROUTE, NETLINK_GENERIC,
 * NETLINK_SOCK_DIAG, NETLINK_KOBJECT_UEVENT): unbound, or bound to their
 * port id, listening to their groups, connected to a peer, with their
 * SOL_NETLINK options; one netlink_sk_entry per socket, however many fds
 * hold it. Refused by name: another protocol (audit, netfilter, xfrm,
 * connector...: state in the kernel crest can't read), messages queued or
 * a dump being answered (/proc/net/netlink's Rmem and Dump), a socket
 * of another network namespace than its process's.
 *
 * Restore, in crest, each socket once as a service fd: socket, owner,
 * buffers, options, bind to its port id and groups (the first 32 with the
 * bind, the rest with NETLINK_ADD_MEMBERSHIP), connect.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "files-kind.h"
#include "image.h"
#include "log.h"
#include "namespaces.h"
#include "pstree.h"
#include "refuse.h"
#include "sk-netns.h"
#include "util.h"

#include "sk-netlink.pb-c.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK	270
#endif

/* The SOL_NETLINK options that are flags, saved when set. */
static const int nl_flags[] = {
	NETLINK_PKTINFO, NETLINK_BROADCAST_ERROR, NETLINK_NO_ENOBUFS,
	NETLINK_LISTEN_ALL_NSID, NETLINK_CAP_ACK, NETLINK_EXT_ACK,
	NETLINK_GET_STRICT_CHK,
};

static const char *nl_proto_name(unsigned int p)
{
	static const char *const names[] = {
		[NETLINK_ROUTE] = "NETLINK_ROUTE", [NETLINK_USERSOCK] = "NETLINK_USERSOCK",
		[NETLINK_FIREWALL] = "NETLINK_FIREWALL",
		[NETLINK_SOCK_DIAG] = "NETLINK_SOCK_DIAG", [NETLINK_NFLOG] = "NETLINK_NFLOG",
		[NETLINK_XFRM] = "NETLINK_XFRM", [NETLINK_SELINUX] = "NETLINK_SELINUX",
		[NETLINK_ISCSI] = "NETLINK_ISCSI", [NETLINK_AUDIT] = "NETLINK_AUDIT",
		[NETLINK_FIB_LOOKUP] = "NETLINK_FIB_LOOKUP",
		[NETLINK_CONNECTOR] = "NETLINK_CONNECTOR",
		[NETLINK_NETFILTER] = "NETLINK_NETFILTER",
		[NETLINK_KOBJECT_UEVENT] = "NETLINK_KOBJECT_UEVENT",
		[NETLINK_GENERIC] = "NETLINK_GENERIC", [NETLINK_CRYPTO] = "NETLINK_CRYPTO",
	};

	return p < ARRAY_SIZE(names) && names[p] ? names[p] : NULL;
}

static bool nl_proto_ok(unsigned int p)
{
	return p == NETLINK_ROUTE || p == NETLINK_GENERIC || p == NETLINK_SOCK_DIAG ||
	       p == NETLINK_KOBJECT_UEVENT;
}

struct nlsk_dump {
	NetlinkSkEntry **sks;
	uint64_t *netns;	/* per socket: its network namespace (0: can't tell) */
	int nr;
};

static struct nlsk_dump *dump_state(struct dump_files *df)
{
	void **p = files_dump_priv(df, &netlinksk_fd_ops);

	if (!*p)
		*p = xzalloc(sizeof(struct nlsk_dump));
	return *p;
}

static bool nl_recognise(const struct fd_dump *f)
{
	return S_ISSOCK(f->st->st_mode) && f->fd > 2 &&
	       sock_domain(f->pid, f->fd) == AF_NETLINK;
}

/* "NETLINK_ROUTE socket bound to port id 42" ... for messages. */
static void nl_words(const NetlinkSkEntry *e, char *buf, size_t size)
{
	const char *p = nl_proto_name(e->protocol);
	char pn[32];

	if (!p) {
		snprintf(pn, sizeof(pn), "of protocol %u", e->protocol);
		p = pn;
	}
	if (e->portid)
		snprintf(buf, size, "a netlink socket %s bound to port id %u", p, e->portid);
	else
		snprintf(buf, size, "a netlink socket %s, not bound", p);
}

/* /proc/PID/net/netlink's Rmem and Dump of socket ino: 0, or -1 not there. */
static int proc_line(pid_t pid, uint64_t ino, unsigned long *rmem, int *dump)
{
	char *text = read_proc(pid, "net/netlink", NULL), *line, *save = NULL;
	int ret = -1;

	if (!text)
		return -1;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long i;
		unsigned long r, w;
		int d;

		if (sscanf(line, "%*x %*d %*u %*x %lu %lu %d %*d %*d %llu", &r, &w, &d, &i) == 4 &&
		    i == ino) {
			*rmem = r;
			*dump = d;
			ret = 0;
			break;
		}
	}
	free(text);
	return ret;
}

static int nl_dump(struct dump_files *df, const struct fd_dump *f, FdEntry *fe)
{
	struct nlsk_dump *u = dump_state(df);
	struct sockaddr_nl sa;
	socklen_t len;
	NetlinkSkEntry *e;
	char what[160];
	uint32_t groups[64];
	unsigned long rmem = 0;
	int cfd, fresh, dump = 0, v;

	for (int i = 0; i < u->nr; i++)
		if (u->sks[i]->ino == f->st->st_ino) {
			fe->file_id = u->sks[i]->id;
			return 0;
		}
	cfd = pidfd_take(f->pid, f->fd);
	if (cfd < 0)
		return -1;
	e = xzalloc(sizeof(*e));
	netlink_sk_entry__init(e);
	e->id = u->nr + 1;
	e->ino = f->st->st_ino;
	e->type = sock_int(cfd, SOL_SOCKET, SO_TYPE);
	e->protocol = sock_int(cfd, SOL_SOCKET, SO_PROTOCOL);
	e->has_uid = e->has_gid = 1;
	e->uid = f->st->st_uid;
	e->gid = f->st->st_gid;
	len = sizeof(sa);
	memset(&sa, 0, sizeof(sa));
	if (getsockname(cfd, (struct sockaddr *)&sa, &len)) {
		pr_perror("can't read the address of fd %d of process %d", f->fd, f->it->pid);
		goto err;
	}
	e->has_portid = 1;
	e->portid = sa.nl_pid;
	len = sizeof(groups);
	memset(groups, 0, sizeof(groups));
	if (!getsockopt(cfd, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, groups, &len)) {
		size_t n = len / 4 < ARRAY_SIZE(groups) ? len / 4 : ARRAY_SIZE(groups);

		while (n && !groups[n - 1])
			n--;
		e->n_groups = n;
		e->groups = xzalloc((n + 1) * sizeof(uint32_t));
		memcpy(e->groups, groups, n * 4);
	}
	len = sizeof(sa);
	memset(&sa, 0, sizeof(sa));
	if (!getpeername(cfd, (struct sockaddr *)&sa, &len) && (sa.nl_pid || sa.nl_groups)) {
		e->has_dst_portid = e->has_dst_group = 1;
		e->dst_portid = sa.nl_pid;
		e->dst_group = sa.nl_groups;
	}
	for (size_t i = 0; i < ARRAY_SIZE(nl_flags); i++) {
		if (sock_int(cfd, SOL_NETLINK, nl_flags[i]) != 1)
			continue;
		e->opt_names = xrealloc(e->opt_names, (e->n_opt_names + 1) * sizeof(uint32_t));
		e->opt_names[e->n_opt_names++] = nl_flags[i];
	}
	/* Buffers: only if they differ from a new socket's (set by hand). */
	fresh = sk_socket_at(cfd, AF_NETLINK, e->type | SOCK_CLOEXEC, e->protocol);
	if (fresh >= 0) {
		v = sock_int(cfd, SOL_SOCKET, SO_SNDBUF);
		if (v != sock_int(fresh, SOL_SOCKET, SO_SNDBUF)) {
			e->has_sndbuf = 1;
			e->sndbuf = v;
		}
		v = sock_int(cfd, SOL_SOCKET, SO_RCVBUF);
		if (v != sock_int(fresh, SOL_SOCKET, SO_RCVBUF)) {
			e->has_rcvbuf = 1;
			e->rcvbuf = v;
		}
		close(fresh);
	}
	nl_words(e, what, sizeof(what));
	if (!nl_proto_ok(e->protocol))
		refuse(f->it->pid, "fd %d is %s (its protocol's state in the kernel can't be read), not supported yet",
		       f->fd, what);
	/*
	 * Its port id and groups are its namespace's: made again in that
	 * one (net_ns), its process's (crest can't tell a socket held by a
	 * process of another from one made there by it).
	 */
	else if (!sk_netns_is_pid(cfd, f->pid))
		refuse(f->it->pid, "fd %d is %s of another network namespace than the process's (made before a setns() or unshare(), or passed to it), not supported yet",
		       f->fd, what);
	/* Not bound, it is in no table (nor /proc/net/netlink): nothing comes to it. */
	else if (e->portid && proc_line(f->pid, e->ino, &rmem, &dump))
		refuse(f->it->pid, "fd %d is %s that /proc/net/netlink of its network namespace does not show, not supported yet",
		       f->fd, what);
	else if (rmem || dump)
		refuse(f->it->pid, "fd %d is %s with %s, not supported yet", f->fd, what,
		       rmem && dump ? "messages queued and a dump being answered" :
		       dump ? "a dump being answered" : "messages queued");
	u->netns = xrealloc(u->netns, (u->nr + 1) * sizeof(*u->netns));
	u->netns[u->nr] = sk_netns_ino(cfd);
	close(cfd);
	u->sks = xrealloc(u->sks, (u->nr + 1) * sizeof(*u->sks));
	u->sks[u->nr++] = e;
	fe->file_id = e->id;
	return 0;
err:
	netlink_sk_entry__free_unpacked(e, NULL);
	close(cfd);
	return -1;
}

static int nl_write(struct dump_files *df, struct img_dir *d)
{
	struct nlsk_dump *u = dump_state(df);

	/* Made again in its namespace, which may not be the tree's first process's. */
	for (int i = 0; i < u->nr; i++) {
		if (!u->netns[i])
			continue;
		if (ns_net_id(df->ns, u->netns[i], &u->sks[i]->net_ns))
			return -1;
		u->sks[i]->has_net_ns = 1;
	}
	return files_write_msgs(d, IMG_NETLINKSK, 0, (void **)u->sks, u->nr);
}

/* ---- restore ---- */

struct nlsk_restore {
	NetlinkSkEntry **sks;
	int nr;
	int *fd;
};

static struct nlsk_restore *restore_state(struct restore_files *rf)
{
	void **p = files_restore_priv(rf, &netlinksk_fd_ops);

	if (!*p)
		*p = xzalloc(sizeof(struct nlsk_restore));
	return *p;
}

static const struct nlsk_restore *restore_state_ro(const struct restore_files *rf)
{
	return *files_restore_priv_ro(rf, &netlinksk_fd_ops);
}

static int nl_index(const struct nlsk_restore *u, uint32_t id)
{
	for (int i = 0; u && i < u->nr; i++)
		if (u->sks[i]->id == id)
			return i;
	return -1;
}

static int nl_read(struct restore_files *rf, struct img_dir *d)
{
	struct nlsk_restore *u = restore_state(rf);

	if (files_read_msgs(d, IMG_NETLINKSK, 0, (void ***)&u->sks, &u->nr))
		return -1;
	for (int i = 0; i < u->nr; i++) {
		const NetlinkSkEntry *e = u->sks[i];

		if ((e->type != SOCK_RAW && e->type != SOCK_DGRAM) || !nl_proto_ok(e->protocol) ||
		    e->n_groups > 64) {
			pr_err("image netlinksk.img is corrupt: socket %u can't be", e->id);
			return -1;
		}
	}
	return 0;
}

static int set_buf(int fd, int force, uint32_t val, const char *what)
{
	int half = val / 2;

	if (setsockopt(fd, SOL_SOCKET, force, &half, sizeof(half))) {
		pr_perror("can't give %s its buffer size of %u bytes", what, val);
		return -1;
	}
	return 0;
}

static int make_netlink(const void *obj)
{
	const NetlinkSkEntry *e = obj;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char what[160];
	int fd, one = 1;

	nl_words(e, what, sizeof(what));
	fd = socket(AF_NETLINK, e->type | SOCK_CLOEXEC, e->protocol);
	if (fd < 0) {
		pr_perror("can't create %s", what);
		return -1;
	}
	if (e->has_uid && fchown(fd, e->uid, e->has_gid ? e->gid : (gid_t)-1)) {
		pr_perror("can't give %s its owner %u back", what, e->uid);
		goto err;
	}
	if ((e->has_sndbuf && set_buf(fd, SO_SNDBUFFORCE, e->sndbuf, what)) ||
	    (e->has_rcvbuf && set_buf(fd, SO_RCVBUFFORCE, e->rcvbuf, what)))
		goto err;
	for (size_t i = 0; i < e->n_opt_names; i++)
		if (setsockopt(fd, SOL_NETLINK, e->opt_names[i], &one, sizeof(one))) {
			pr_perror("can't set option %u of %s", e->opt_names[i], what);
			goto err;
		}
	sa.nl_pid = e->portid;
	sa.nl_groups = e->n_groups ? e->groups[0] : 0;
	if ((sa.nl_pid || sa.nl_groups) && bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		pr_perror("can't bind %s again (groups %#x)", what, sa.nl_groups);
		goto err;
	}
	for (size_t w = 1; w < e->n_groups; w++)
		for (int b = 0; b < 32; b++) {
			unsigned int g = w * 32 + b + 1;

			if (!(e->groups[w] & (1u << b)))
				continue;
			if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g))) {
				pr_perror("can't add %s to group %u", what, g);
				goto err;
			}
		}
	if (e->has_dst_portid) {
		struct sockaddr_nl da = { .nl_family = AF_NETLINK, .nl_pid = e->dst_portid,
					  .nl_groups = e->dst_group };

		if (connect(fd, (struct sockaddr *)&da, sizeof(da))) {
			pr_perror("can't connect %s to port id %u again", what, e->dst_portid);
			goto err;
		}
	}
	return fd;
err:
	close(fd);
	return -1;
}

static int nl_open(struct restore_files *rf, struct img_dir *d, MmEntry **mms,
		   int nr_mms)
{
	struct nlsk_restore *u = restore_state(rf);

	(void)d;
	(void)mms;
	(void)nr_mms;
	u->fd = xzalloc((u->nr + 1) * sizeof(int));
	for (int i = 0; i < u->nr; i++)
		u->fd[i] = -1;
	for (int i = 0; i < u->nr; i++) {
		const NetlinkSkEntry *e = u->sks[i];
		int own, fd;

		if (e->has_net_ns && (!rf->ns || !ns_net_known(rf->ns, e->net_ns))) {
			pr_err("image netlinksk.img is corrupt: socket %u is of network namespace %u, which namespaces.img does not hold",
			       e->id, e->net_ns);
			return -1;
		}
		/* In its network namespace: port ids and groups are a namespace's. */
		if (sk_netns_enter(rf->ns ? ns_net_fd(rf->ns, e->has_net_ns, e->net_ns) : -1, &own))
			return -1;
		fd = make_netlink(e);
		if (sk_netns_leave(own)) {
			if (fd >= 0)
				close(fd);
			return -1;
		}
		u->fd[i] = files_to_service(fd, rf->base);
		if (u->fd[i] < 0)
			return -1;
	}
	return 0;
}

static int nl_service_fd(const struct restore_files *rf, const FdEntry *e)
{
	const struct nlsk_restore *u = restore_state_ro(rf);
	int i = nl_index(u, e->file_id);

	return i < 0 || !u->fd ? -1 : u->fd[i];
}

static void nl_show(const struct restore_files *rf, const FdEntry *e, char *buf,
		    size_t len)
{
	const struct nlsk_restore *u = restore_state_ro(rf);
	int i = nl_index(u, e->file_id);
	char what[160];

	if (i < 0) {
		snprintf(buf, len, "netlink socket %u, not in the images", e->file_id);
		return;
	}
	nl_words(u->sks[i], what, sizeof(what));
	snprintf(buf, len, "%s, socket:[%llu]", what, (unsigned long long)u->sks[i]->ino);
}

const struct fd_kind_ops netlinksk_fd_ops = {
	.name		= "netlink socket",
	.kind		= FD_KIND__FD_NETLINK_SK,
	.recognise	= nl_recognise,
	.dump		= nl_dump,
	.write		= nl_write,
	.read		= nl_read,
	.open		= nl_open,
	.service_fd	= nl_service_fd,
	.show		= nl_show,
};
