/*
 * Unix sockets: stream, datagram and seqpacket; socketpairs; bound to a
 * path or an abstract name (autobound ones too: an abstract name like any
 * other); listening, with the connections waiting to be accepted whose
 * client is in the tree; connections accepted from a listener; datagram
 * sockets connected to a bound one; with --ext-unix-sk, sockets connected
 * to a bound socket outside the tree. One unix_sk_entry per socket,
 * however many fds in however many processes hold it.
 *
 * Dump: the family from a copy of the fd (pidfd_getfd, SO_DOMAIN), the
 * rest from sock_diag (unix_diag: name, socket file, peer, pending
 * connections, queue length, backlog, shutdown) and getsockopt on the
 * copy. Each receive queue is read without taking it: MSG_PEEK at an
 * SO_PEEK_OFF that crest moves itself, message by message, with each
 * datagram's sender (the offset is given back as it was), the fds in
 * flight with each message (SCM_RIGHTS: installed in crest by the peek,
 * dumped as fds of the tree, files_dump_own_fd) and with SO_PASSCRED its
 * sender's credentials. What can't come back (a peer outside the tree without
 * --ext-unix-sk, a connection waiting from outside...) is refused by name
 * in collected (refuse.h); at fds 0-2 a socket leading outside is crest's
 * own stdio at restore, as before.
 *
 * Each is of the network namespace it was made in (SIOCGSKNS), whichever
 * process holds it now, and is made again in that one (net_ns): one of a
 * process of the tree, or crest's own (netns_problems()).
 *
 * Restore: sk-unix-restore.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "files-kind.h"
#include "image.h"
#include "log.h"
#include "namespaces.h"
#include "opts.h"
#include "pstree.h"
#include "refuse.h"
#include "sk-netns.h"
#include "sk-opts.h"
#include "sk-unix.h"
#include "util.h"

#ifndef SCM_SECURITY
#define SCM_SECURITY	0x03
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD	0x04
#endif

struct uxsk {
	UnixSkEntry *e;
	struct ux_diag d;
	pid_t pid;		/* a thread of a task holding it... */
	int fd;			/* ...at this fd */
	pid_t tpid;		/* that task, for messages */
	struct uxsk *pending_on;	/* a client waiting on this listener */
	char *why;		/* not supported: what it is */
	char *qwhy;		/* its queue can't be saved: why (refused
				 * if the socket itself is saved) */
	bool peeked;
	uint64_t netns;		/* the network namespace it was made in (0: can't tell) */
};

/* An fd received from a queue, where it is in flight: crest's copy. */
struct uxsk_flying {
	UnixSkAnc *anc;		/* the message it came with */
	size_t slot;		/* its place in anc->rights */
	int fd;			/* crest's */
	uint32_t sk;		/* the id of the socket whose queue it was in */
	size_t msg;
};

struct uxsk_dump {
	struct uxsk *sk;
	int nr;
	struct uxsk_flying *fly;	/* not yet dumped */
	int nr_fly;
	int *own;		/* crest's fds received, closed at dump_done */
	int nr_own;
};

const char *ux_type_name(unsigned int type)
{
	switch (type) {
	case SOCK_STREAM:	return "stream";
	case SOCK_DGRAM:	return "datagram";
	case SOCK_SEQPACKET:	return "seqpacket";
	}
	return "unknown-type";
}

bool sk_unix_fd(pid_t pid, int fd)
{
	return sock_domain(pid, fd) == AF_UNIX;
}

socklen_t ux_addr(const ProtobufCBinaryData *name, struct sockaddr_un *sa)
{
	size_t max = sizeof(sa->sun_path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (!name->len || name->len > max ||
	    (name->data[0] && (name->len == max ||
			       memchr(name->data, 0, name->len))))
		return 0;
	memcpy(sa->sun_path, name->data, name->len);
	/* A path is bound with its NUL, as the kernel keeps it. */
	return offsetof(struct sockaddr_un, sun_path) + name->len +
	       (name->data[0] ? 1 : 0);
}

/* sock_diag of the network namespace of socket near (-1: crest's). */
static int diag_socket(int near)
{
	int nl = sk_socket_at(near, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
			      NETLINK_SOCK_DIAG);

	if (nl < 0)
		pr_perror("can't open a sock_diag netlink socket");
	return nl;
}

static int diag_send(int nl, uint32_t ino, uint32_t show, bool dump)
{
	struct {
		struct nlmsghdr h;
		struct unix_diag_req r;
	} req;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.h.nlmsg_flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : 0);
	req.r.sdiag_family = AF_UNIX;
	req.r.udiag_states = ~0u;
	req.r.udiag_ino = ino;
	req.r.udiag_show = show;
	req.r.udiag_cookie[0] = req.r.udiag_cookie[1] = ~0u;
	if (sendto(nl, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		pr_perror("can't ask sock_diag about unix sockets");
		return -1;
	}
	return 0;
}

static void diag_parse(struct unix_diag_msg *m, int len, struct ux_diag *d)
{
	struct rtattr *a;

	d->type = m->udiag_type;
	d->state = m->udiag_state;
	for (a = (struct rtattr *)(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		int plen = RTA_PAYLOAD(a);

		switch (a->rta_type) {
		case UNIX_DIAG_NAME:
			d->name_len = plen < (int)sizeof(d->name) - 1 ?
				      plen : (int)sizeof(d->name) - 1;
			memcpy(d->name, RTA_DATA(a), d->name_len);
			if (!d->name_len)
				d->name_len = -1;	/* an empty name: still bound */
			break;
		case UNIX_DIAG_VFS:
			d->has_vfs = true;
			d->vfs_ino = ((struct unix_diag_vfs *)RTA_DATA(a))->udiag_vfs_ino;
			break;
		case UNIX_DIAG_PEER:
			d->has_peer = true;
			d->peer = *(uint32_t *)RTA_DATA(a);
			break;
		case UNIX_DIAG_ICONS:
			free(d->icons);
			d->nr_icons = plen / 4;
			d->icons = xzalloc(plen + 4);
			memcpy(d->icons, RTA_DATA(a), d->nr_icons * 4);
			break;
		case UNIX_DIAG_RQLEN:
			d->rqlen = ((struct unix_diag_rqlen *)RTA_DATA(a))->udiag_rqueue;
			d->wqlen = ((struct unix_diag_rqlen *)RTA_DATA(a))->udiag_wqueue;
			break;
		case UNIX_DIAG_SHUTDOWN:
			d->shutdown = *(uint8_t *)RTA_DATA(a);
			break;
		}
	}
}

void ux_diag_free(struct ux_diag *d)
{
	free(d->icons);
	d->icons = NULL;
	d->nr_icons = 0;
}

/* ux_diag() on sock_diag socket nl, closed after. */
static int diag_on(int nl, uint32_t ino, struct ux_diag *d)
{
	/* Room for the answer with a few thousand pending connections. */
	static char buf[65536] __attribute__((aligned(4)));
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct unix_diag_msg *m;
	ssize_t n;
	int ret = -1;

	memset(d, 0, sizeof(*d));
	if (nl < 0)
		return -1;
	if (diag_send(nl, ino, UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER |
			       UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN, false))
		goto out;
	n = recv(nl, buf, sizeof(buf), 0);
	if (n < 0 || !NLMSG_OK(h, (size_t)n)) {
		pr_perror("can't read sock_diag's answer about socket:[%u]", ino);
		goto out;
	}
	if (h->nlmsg_type == NLMSG_ERROR) {
		int err = -((struct nlmsgerr *)NLMSG_DATA(h))->error;

		if (err == ENOENT) {
			ret = 1;
		} else {
			errno = err;
			pr_perror("sock_diag can't tell about socket:[%u]", ino);
		}
		goto out;
	}
	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    h->nlmsg_len < NLMSG_LENGTH(sizeof(*m))) {
		pr_err("sock_diag gave an unexpected answer about socket:[%u]", ino);
		goto out;
	}
	m = NLMSG_DATA(h);
	diag_parse(m, h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)), d);
	ret = 0;
out:
	close(nl);
	return ret;
}

int ux_diag(int near, uint32_t ino, struct ux_diag *d)
{
	return diag_on(diag_socket(near), ino, d);
}

/* ux_diag() in network namespace ns (an fd of it). */
static int ux_diag_in(int ns, uint32_t ino, struct ux_diag *d)
{
	int nl = sk_socket_in(ns, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	if (nl < 0)
		pr_perror("can't open a sock_diag netlink socket");
	return diag_on(nl, ino, d);
}

/* Is the socket file of inode *arg bound in network namespace ns? 1/0, -1. */
static int vfs_in(int ns, uint64_t ns_ino, void *arg)
{
	static char buf[32768] __attribute__((aligned(4)));
	uint64_t ino = *(uint64_t *)arg;
	int nl, ret = -1, found = 0;

	(void)ns_ino;
	nl = sk_socket_in(ns, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0) {
		pr_perror("can't open a sock_diag netlink socket");
		return -1;
	}
	if (diag_send(nl, 0, UDIAG_SHOW_VFS, true))
		goto out;
	for (;;) {
		ssize_t n = recv(nl, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n < 0) {
			pr_perror("can't read sock_diag's list of unix sockets");
			goto out;
		}
		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			struct unix_diag_msg *m = NLMSG_DATA(h);
			struct ux_diag d;

			if (h->nlmsg_type == NLMSG_DONE) {
				ret = found;
				goto out;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				errno = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
				pr_perror("sock_diag can't list unix sockets");
				goto out;
			}
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
				continue;
			memset(&d, 0, sizeof(d));
			diag_parse(m, h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)), &d);
			ux_diag_free(&d);
			if (d.has_vfs && d.vfs_ino == ino)
				found = 1;
		}
	}
out:
	close(nl);
	return ret;
}

/*
 * A socket file is seen from every namespace, its socket listed by the
 * sock_diag of its own only: every one crest can reach is asked, crest's
 * first.
 */
int ux_vfs_in_use(uint64_t ino)
{
	int r = vfs_in(-1, 0, &ino);

	return r ? r : sk_netns_each(vfs_in, &ino);
}

static struct uxsk_dump *dump_state(struct dump_files *df)
{
	void **p = files_dump_priv(df, &unixsk_fd_ops);

	if (!*p)
		*p = xzalloc(sizeof(struct uxsk_dump));
	return *p;
}

static bool ux_recognise(const struct fd_dump *f)
{
	return S_ISSOCK(f->st->st_mode) && sk_unix_fd(f->pid, f->fd);
}

static int getopt_int(int fd, int opt, int *val, pid_t pid, int nr)
{
	socklen_t len = sizeof(*val);

	if (getsockopt(fd, SOL_SOCKET, opt, val, &len)) {
		if (errno == ENOPROTOOPT) {
			*val = 0;
			return 0;
		}
		pr_perror("can't read socket option %d of fd %d of process %d", opt, nr, pid);
		return -1;
	}
	return 0;
}

/* sock_diag's name as unixsk.img keeps it: a path without its NUL. */
static void set_name(UnixSkEntry *e, const struct ux_diag *d)
{
	size_t len = d->name_len;

	if (d->name_len <= 0)
		return;
	if (d->name[0])
		len = strnlen(d->name, d->name_len);
	e->has_name = 1;
	e->name.len = len;
	e->name.data = xzalloc(len + 1);
	memcpy(e->name.data, d->name, len);
}

/* The buffers are unix_sk_entry's own (sndbuf, rcvbuf). */
static bool skip_buf(int level, int name, const void *arg)
{
	(void)arg;
	return level == SOL_SOCKET && (name == SO_SNDBUF || name == SO_RCVBUF);
}

static bool is_tstamp(const SkOptEntry *o)
{
	return o->level == SOL_SOCKET &&
	       (o->name == SO_TIMESTAMP || o->name == SO_TIMESTAMPNS ||
		o->name == SO_TIMESTAMPING || o->name == SO_TIMESTAMP_NEW ||
		o->name == SO_TIMESTAMPNS_NEW || o->name == SO_TIMESTAMPING_NEW);
}

static int ux_dump(struct dump_files *df, const struct fd_dump *f, FdEntry *e)
{
	SkOptEntry **opts = NULL;
	size_t n_opts = 0;
	int fresh;
	struct uxsk_dump *u = dump_state(df);
	int i, cfd, type, snd, rcv, cred, sec, pidfd, peek;
	struct ucred pc = { 0, (uid_t)-1, (gid_t)-1 };
	socklen_t pclen = sizeof(pc);
	struct uxsk *s;

	for (i = 0; i < u->nr; i++)
		if (u->sk[i].e->ino == f->st->st_ino) {
			e->file_id = u->sk[i].e->id;
			return 0;
		}
	u->sk = xrealloc(u->sk, (u->nr + 1) * sizeof(*u->sk));
	s = &u->sk[u->nr];
	memset(s, 0, sizeof(*s));
	cfd = pidfd_take(f->pid, f->fd);
	if (cfd < 0)
		return -1;
	/* Asked in the socket's own network namespace, wherever it is. */
	switch (ux_diag(cfd, f->st->st_ino, &s->d)) {
	case 1:
		refuse(f->it->pid, "fd %d is a unix socket sock_diag of its network namespace does not know ('%s'), not supported yet",
		       f->fd, f->link);
		close(cfd);
		return 0;
	case -1:
		close(cfd);
		return -1;
	}
	/*
	 * Made again in the namespace it was made in, whoever holds it
	 * (abstract names are a namespace's): one of the tree's or crest's
	 * (netns_problem()).
	 */
	s->netns = sk_netns_ino(cfd);
	if (getopt_int(cfd, SO_TYPE, &type, f->it->pid, f->fd) ||
	    getopt_int(cfd, SO_SNDBUF, &snd, f->it->pid, f->fd) ||
	    getopt_int(cfd, SO_RCVBUF, &rcv, f->it->pid, f->fd) ||
	    getopt_int(cfd, SO_PASSCRED, &cred, f->it->pid, f->fd) ||
	    getopt_int(cfd, SO_PASSSEC, &sec, f->it->pid, f->fd) ||
	    getopt_int(cfd, SO_PASSPIDFD, &pidfd, f->it->pid, f->fd) ||
	    getopt_int(cfd, SO_PEEK_OFF, &peek, f->it->pid, f->fd)) {
		close(cfd);
		return -1;
	}
	/* Whose credentials the peer sees: none if never connected. */
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &pc, &pclen))
		pc.pid = 0, pc.uid = (uid_t)-1;
	fresh = sk_socket_at(cfd, AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fresh < 0) {
		pr_perror("can't make a socket to compare fd %d of process %d with",
			  f->fd, f->it->pid);
		close(cfd);
		return -1;
	}
	sk_opts_dump(cfd, fresh, skip_buf, NULL, &opts, &n_opts);
	close(fresh);
	close(cfd);
	s->e = xzalloc(sizeof(*s->e));
	unix_sk_entry__init(s->e);
	s->e->id = u->nr + 1;
	s->e->ino = f->st->st_ino;
	s->e->type = type;
	s->e->has_state = 1;
	s->e->state = s->d.state;
	s->e->has_shutdown = 1;
	s->e->shutdown = s->d.shutdown & (RCV_SHUTDOWN | SEND_SHUTDOWN);
	s->e->has_sndbuf = s->e->has_rcvbuf = 1;
	s->e->sndbuf = snd;
	s->e->rcvbuf = rcv;
	s->e->has_passcred = 1;
	s->e->passcred = !!cred;
	if (sec)
		s->e->has_passsec = s->e->passsec = 1;
	if (pidfd)
		s->e->has_passpidfd = s->e->passpidfd = 1;
	if (f->pid == getpid())
		s->e->has_in_flight = s->e->in_flight = 1;
	s->e->has_peek_off = 1;
	s->e->peek_off = peek;
	s->e->opts = opts;
	s->e->n_opts = n_opts;
	if (pc.pid || pc.uid != (uid_t)-1) {
		s->e->has_peer_uid = s->e->has_peer_gid = s->e->has_peer_pid = 1;
		s->e->peer_uid = pc.uid;
		s->e->peer_gid = pc.gid;
		s->e->peer_pid = pc.pid;
	}
	set_name(s->e, &s->d);
	if (s->d.state == TCP_LISTEN) {
		s->e->has_backlog = 1;
		s->e->backlog = s->d.wqlen;
	}
	s->pid = f->pid;
	s->fd = f->fd;
	s->tpid = f->it->pid;
	u->nr++;
	e->file_id = s->e->id;
	return 0;
}

static struct uxsk *by_ino(struct uxsk_dump *u, uint64_t ino)
{
	for (int i = 0; i < u->nr; i++)
		if (u->sk[i].e->ino == ino)
			return &u->sk[i];
	return NULL;
}

static struct uxsk *by_id(struct uxsk_dump *u, uint32_t id)
{
	return id && id <= (uint32_t)u->nr ? &u->sk[id - 1] : NULL;
}

static bool same_name(const UnixSkEntry *a, const UnixSkEntry *b)
{
	return a->has_name && b->has_name && a->name.len == b->name.len &&
	       !memcmp(a->name.data, b->name.data, a->name.len);
}

/* The listening socket of the tree bound to s's name, or NULL. */
static struct uxsk *listener_of(struct uxsk_dump *u, const struct uxsk *s)
{
	for (int i = 0; i < u->nr; i++)
		if (u->sk[i].d.state == TCP_LISTEN && &u->sk[i] != s &&
		    same_name(u->sk[i].e, s->e))
			return &u->sk[i];
	return NULL;
}

/* A bound socket of the tree that sends with this name, or NULL. */
static struct uxsk *sender_by_name(struct uxsk_dump *u, const ProtobufCBinaryData *n)
{
	for (int i = 0; i < u->nr; i++) {
		UnixSkEntry *e = u->sk[i].e;

		if (!u->sk[i].why && !e->accepted && u->sk[i].d.state != TCP_LISTEN &&
		    e->has_name && e->name.len == n->len &&
		    !memcmp(e->name.data, n->data, n->len))
			return &u->sk[i];
	}
	return NULL;
}

/* "'/path'", "the abstract name '@x'" of a sock_diag name. */
static void name_words(const char *name, int len, char *buf, size_t size)
{
	if (len < 0)
		snprintf(buf, size, "an empty abstract name");
	else if (len && name[0] == '\0')
		snprintf(buf, size, "the abstract name '@%.*s'", len - 1, name + 1);
	else
		snprintf(buf, size, "'%.*s'", (int)strnlen(name, len), name);
}

/*
 * The socket file of a socket bound to a path: its mode and owner, or
 * file_gone if the path no longer leads to it (unlinked, replaced). For
 * an accepted end whose listener the tree does not hold, whatever socket
 * file is at its listener's path (a stale one: the listener was closed).
 */
static int dump_file(struct uxsk *s)
{
	UnixSkEntry *e = s->e;
	char *path = xsprintf("/proc/%d/root%.*s", s->pid, (int)e->name.len,
			      (char *)e->name.data);
	struct stat st;

	/* An accepted end's name is its listener's: any socket file there. */
	if (lstat(path, &st) || !S_ISSOCK(st.st_mode) ||
	    (!e->accepted && (!s->d.has_vfs || st.st_ino != s->d.vfs_ino))) {
		e->has_file_gone = e->file_gone = 1;
	} else {
		e->has_file_mode = e->has_file_uid = e->has_file_gid = 1;
		e->file_mode = st.st_mode & 07777;
		e->file_uid = st.st_uid;
		e->file_gid = st.st_gid;
	}
	free(path);
	return 0;
}

/* What makes s impossible to save on its own, or NULL. */
static char *own_problem(struct uxsk *s)
{
	const char *type = ux_type_name(s->e->type);
	char name[240];

	if (s->e->type != SOCK_STREAM && s->e->type != SOCK_DGRAM &&
	    s->e->type != SOCK_SEQPACKET)
		return xsprintf("a unix socket of type %u", s->e->type);
	name_words(s->d.name, s->d.name_len, name, sizeof(name));
	if (s->d.name_len < 0)
		return xsprintf("a unix %s socket bound to %s", type, name);
	if (s->d.name_len > 0 && s->d.name[0] && s->d.name[0] != '/')
		return xsprintf("a unix %s socket bound to the relative path %s (crest does not know the directory it was bound in)",
				 type, name);
	if (s->d.name_len > 0 && s->d.name[0] == '/') {
		char link[64], *root;

		/* Its name is below the root it was bound under, not crest's. */
		snprintf(link, sizeof(link), "/proc/%d/root", s->pid);
		root = readlink_alloc(link);
		if (root && strcmp(root, "/")) {
			char *why = xsprintf("a unix %s socket bound to %s in a process whose root is '%s' (chroot), not supported yet",
					     type, name, root);

			free(root);
			return why;
		}
		free(root);
	}
	if (s->d.state != TCP_LISTEN && s->d.rqlen)
		for (size_t i = 0; i < s->e->n_opts; i++)
			if (is_tstamp(s->e->opts[i]))
				return xsprintf("a unix %s socket with messages queued and receive timestamps on (%s: the time each came can't be given back)",
						type, sk_opt_name(s->e->opts[i]));
	if (s->d.state == TCP_LISTEN) {
		if (s->e->type == SOCK_DGRAM)
			return xsprintf("a listening unix datagram socket");
		if (!s->d.name_len)
			return xsprintf("a listening unix %s socket bound to no name", type);
		return NULL;
	}
	if (s->d.has_peer && s->d.state != TCP_ESTABLISHED && s->e->type != SOCK_DGRAM)
		return xsprintf("a unix %s socket in state %u", type, s->d.state);
	if (!s->d.has_peer && s->e->type != SOCK_DGRAM && s->d.state != TCP_CLOSE)
		return xsprintf("a unix %s socket in state %u", type, s->d.state);
	return NULL;
}

static uint64_t path_ino(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : st.st_ino;
}

/*
 * Each socket is made again in the network namespace it was made in,
 * whichever process of the tree holds it: one a process of the tree is
 * in (the restore makes it), or crest's own.
 */
static void netns_problems(struct uxsk_dump *u, struct pstree *t)
{
	uint64_t crest = path_ino("/proc/self/ns/net");

	for (int i = 0; i < u->nr; i++) {
		struct uxsk *s = &u->sk[i];
		bool found = !s->netns || s->netns == crest;

		for (int k = 0; !found && k < t->nr; k++) {
			char path[64];

			if (t->items[k]->zombie)
				continue;
			snprintf(path, sizeof(path), "/proc/%d/ns/net", t->items[k]->live);
			found = path_ino(path) == s->netns;
		}
		if (!s->why && !found)
			s->why = xsprintf("a unix %s socket of network namespace net:[%llu], which neither crest nor any process of the tree is in (made there by a process that left it, or passed in from outside the tree)",
					   ux_type_name(s->e->type), (unsigned long long)s->netns);
	}
}

/* Is s, leading outside, one --ext-unix-sk lets crest connect again? */
static bool ext_allowed(const struct options *o, const struct uxsk *s)
{
	const char *p;

	if (!o || !o->ext_unix_sk)
		return false;
	if (!o->ext_unix_sk_inos)
		return true;
	for (p = o->ext_unix_sk_inos; *p; p += strcspn(p, ","), p += !!*p) {
		unsigned long long v = strtoull(p, NULL, 10);

		if (v == s->e->ino || v == s->d.peer)
			return true;
	}
	return false;
}

/*
 * Both ends of a connection are in the tree. Unnamed, they are a
 * socketpair. Otherwise one end was accepted from a listener and took its
 * name: the end named as a listener of the tree, or the only named one.
 * NULL: a socketpair, *ambiguous if crest can't tell.
 */
static struct uxsk *server_end(struct uxsk_dump *u, struct uxsk *a,
			       struct uxsk *b, bool *ambiguous)
{
	bool la = a->e->has_name && listener_of(u, a);
	bool lb = b->e->has_name && listener_of(u, b);

	*ambiguous = false;
	if (!a->e->has_name && !b->e->has_name)
		return NULL;
	if (la != lb)
		return la ? a : b;
	if (a->e->has_name != b->e->has_name)
		return a->e->has_name ? a : b;
	*ambiguous = true;
	return NULL;
}

static void set_pair(struct uxsk_dump *u, struct uxsk *s, struct uxsk *p)
{
	struct uxsk *srv, *l;
	bool ambiguous;

	srv = server_end(u, s, p, &ambiguous);
	/*
	 * A socketpair's ends are made in one namespace, and so is an
	 * accepted end: in its client's (unix_stream_connect() makes it
	 * there), whatever namespace the listener is in. crest makes them so.
	 */
	if (s->netns && p->netns && s->netns != p->netns) {
		s->why = xsprintf("a unix %s socket of network namespace net:[%llu] connected to socket:[%u] of net:[%llu] (both ends of a connection are made in one namespace)",
				   ux_type_name(s->e->type), (unsigned long long)s->netns,
				   s->d.peer, (unsigned long long)p->netns);
		return;
	}
	if (ambiguous) {
		char n1[240], n2[240];

		name_words(s->d.name, s->d.name_len, n1, sizeof(n1));
		name_words(p->d.name, p->d.name_len, n2, sizeof(n2));
		s->why = xsprintf("a unix %s socket bound to %s, connected to socket:[%u] bound to %s (crest can't tell which end was accepted)",
				   ux_type_name(s->e->type), n1, s->d.peer, n2);
		return;
	}
	s->e->has_peer_id = 1;
	s->e->peer_id = p->e->id;
	if (srv != s)
		return;
	s->e->has_accepted = s->e->accepted = 1;
	l = listener_of(u, s);
	if (l) {
		s->e->has_listener_id = 1;
		s->e->listener_id = l->e->id;
	}
}

/* s leads to socket:[peer], outside the tree. */
/*
 * Does any process hold socket:[ino] at an fd? An end of a pair that no
 * process holds lives only in flight, in a queue no fd of the tree
 * reaches: its own, sent over its peer and closed (a cycle: the kernel's
 * garbage collector of fds in flight frees it soon, and then this end's
 * peer reads as closed), or one outside the tree.
 */
static bool ino_held(uint32_t ino)
{
	char want[40], path[600], link[64];
	DIR *proc = opendir("/proc");
	struct dirent *p;
	bool held = false;

	if (!proc)
		return true;	/* can't tell: as if held, outside */
	snprintf(want, sizeof(want), "socket:[%u]", ino);
	while (!held && (p = readdir(proc))) {
		DIR *fds;
		struct dirent *f;

		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		fds = opendir(path);
		while (fds && !held && (f = readdir(fds))) {
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%s/fd/%s", p->d_name, f->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			held = n > 0 && (link[n] = 0, !strcmp(link, want));
		}
		if (fds)
			closedir(fds);
	}
	closedir(proc);
	return held;
}

/* Where a peer is looked for: every namespace but skip (asked already). */
struct peer_search {
	uint32_t ino;
	uint64_t skip;
	struct ux_diag *d;
	uint64_t at;		/* found: in this one */
};

static int peer_in(int ns, uint64_t ino, void *arg)
{
	struct peer_search *p = arg;
	int r;

	if (ino == p->skip)
		return 0;
	r = ux_diag_in(ns, p->ino, p->d);
	ux_diag_free(p->d);
	if (!r)
		p->at = ino;
	return r == 1 ? 0 : !r ? 1 : -1;
}

/*
 * sock_diag about peer ino of a socket of network namespace own, asked
 * there first: 0 found (*at: another namespace's inode, or 0), 1 nowhere,
 * -1 error. A socket file is seen from every namespace: a socket
 * connected by path may lead to one of any namespace (crest's, one of
 * the tree's, or a third), and sock_diag answers about its own only.
 */
static int peer_diag(int cfd, uint32_t ino, struct ux_diag *d, uint64_t *at)
{
	struct peer_search ps = { ino, sk_netns_ino(cfd), d, 0 };
	int r = ux_diag(cfd, ino, d);

	*at = 0;
	ux_diag_free(d);
	if (r != 1)
		return r;
	r = sk_netns_each(peer_in, &ps);
	*at = ps.at;
	return r == 1 ? 0 : !r ? 1 : -1;
}

static void set_external(struct dump_files *df, struct uxsk *s)
{
	struct ux_diag pd;
	struct sockaddr_un sa;
	socklen_t salen = sizeof(sa);
	char name[240], what[64], where[96] = "";
	int r, cfd, len;
	uint64_t at = 0;	/* the peer is in that namespace, not the socket's */
	bool elsewhere = false;

	if (s->d.peer) {
		cfd = pidfd_take(s->pid, s->fd);
		if (cfd < 0) {
			s->why = xsprintf("a unix %s socket crest could not take a copy of",
					   ux_type_name(s->e->type));
			return;
		}
		r = peer_diag(cfd, s->d.peer, &pd, &at);
		close(cfd);
		elsewhere = at;
		if (elsewhere)
			snprintf(where, sizeof(where), " in network namespace net:[%llu], not its own",
				 (unsigned long long)at);
		if (r == 1) {
			/*
			 * A closed peer reads as inode 0 (link_socket()): this one
			 * is a live socket of a namespace crest can't reach (one
			 * only sockets or a mount keep), or it closed as crest
			 * looked. Never taken as closed: its data would be lost.
			 */
			s->why = xsprintf("a unix %s socket connected to socket:[%u], which sock_diag finds in none of the network namespaces crest can reach (the socket's, those of the machine's processes and /run/netns: it is in one only sockets or a mount keep, or it closed as crest looked; dump again), not supported",
					   ux_type_name(s->e->type), s->d.peer);
			return;
		}
		if (r < 0) {
			s->why = xsprintf("a unix %s socket connected to socket:[%u], which sock_diag can't tell about",
					   ux_type_name(s->e->type), s->d.peer);
			return;
		}
		if (pd.has_peer && pd.peer == s->e->ino && !pd.name_len &&
		    !ino_held(s->d.peer)) {
			s->why = xsprintf("a unix %s socket whose other end (socket:[%u], %u byte%s queued for it) no process holds: it is only in flight (sent with SCM_RIGHTS, not received), in a queue crest can't reach from the tree (its own, sent over this very end and closed: garbage the kernel frees soon; or that of a socket outside the tree) (receive it, or close this end, before the dump)",
					   ux_type_name(s->e->type), s->d.peer, pd.rqlen,
					   pd.rqlen == 1 ? "" : "s");
			return;
		}
		snprintf(what, sizeof(what), "socket:[%u]", s->d.peer);
	} else {
		snprintf(what, sizeof(what), "a listener, not yet accepted");
	}
	/* The peer's name as the socket sees it (a waiting one's: the listener's). */
	memset(&sa, 0, sizeof(sa));
	cfd = pidfd_take(s->pid, s->fd);
	if (cfd < 0 || getpeername(cfd, (struct sockaddr *)&sa, &salen))
		salen = 0;
	if (cfd >= 0)
		close(cfd);
	len = salen > offsetof(struct sockaddr_un, sun_path) ?
	      (int)(salen - offsetof(struct sockaddr_un, sun_path)) : 0;
	name_words(sa.sun_path, len, name, sizeof(name));
	if (len <= 0 && s->e->has_name && s->e->type != SOCK_DGRAM) {
		char own[240];

		name_words(s->d.name, s->d.name_len, own, sizeof(own));
		s->why = xsprintf("a unix %s connection accepted on %s from a client outside the tree (%s%s)",
				   ux_type_name(s->e->type), own, what, where);
		return;
	}
	if (len <= 0) {
		s->why = xsprintf("a unix %s socket connected outside the tree (to %s%s, bound to no name)",
				   ux_type_name(s->e->type), what, where);
		return;
	}
	if (elsewhere && !sa.sun_path[0]) {
		s->why = xsprintf("a unix %s socket connected outside the tree (to %s bound to %s%s: an abstract name is its namespace's), not supported",
				   ux_type_name(s->e->type), what, name, where);
		return;
	}
	if (sa.sun_path[0] && sa.sun_path[0] != '/') {
		s->why = xsprintf("a unix %s socket connected outside the tree (to %s bound to the relative path %s)",
				   ux_type_name(s->e->type), what, name);
		return;
	}
	if (!ext_allowed(df->opts, s)) {
		s->why = xsprintf("a unix %s socket connected outside the tree (to %s bound to %s%s; --ext-unix-sk connects it to that name again at restore)",
				   ux_type_name(s->e->type), what, name, where);
		return;
	}
	s->e->has_ext_peer = 1;
	s->e->ext_peer.len = sa.sun_path[0] ? strnlen(sa.sun_path, len) : (size_t)len;
	s->e->ext_peer.data = xzalloc(s->e->ext_peer.len + 1);
	memcpy(s->e->ext_peer.data, sa.sun_path, s->e->ext_peer.len);
}

/*
 * The listener in the tree on which client ino waits to be accepted.
 * sock_diag's "icons" of a listener are its waiting clients (the peers of
 * the embryo sockets queued on it), not the embryos.
 */
static struct uxsk *icon_owner(struct uxsk_dump *u, uint32_t ino)
{
	for (int i = 0; i < u->nr; i++)
		for (int j = 0; j < u->sk[i].d.nr_icons; j++)
			if (u->sk[i].d.icons[j] == ino)
				return &u->sk[i];
	return NULL;
}

/* s's connections waiting to be accepted: each a client of the tree. */
static int set_pending(struct uxsk_dump *u, struct uxsk *l)
{
	char name[240];

	name_words(l->d.name, l->d.name_len, name, sizeof(name));
	for (int j = 0; j < l->d.nr_icons && !l->why; j++) {
		uint32_t ino = l->d.icons[j];
		struct uxsk *c = NULL;
		int cfd, outq = 0;

		for (int i = 0; i < u->nr && !c; i++)
			if (u->sk[i].pending_on == l && u->sk[i].e->ino == ino)
				c = &u->sk[i];
		if (!c && !ino) {
			l->why = xsprintf("a listening unix %s socket bound to %s with a connection waiting whose client has closed (crest can't read what it sent)",
					   ux_type_name(l->e->type), name);
			break;
		}
		if (!c) {
			l->why = xsprintf("a listening unix %s socket bound to %s with a connection waiting from outside the tree (socket:[%u])",
					   ux_type_name(l->e->type), name, ino);
			break;
		}
		/* What the client sent is in the embryo, which crest can't read. */
		cfd = pidfd_take(c->pid, c->fd);
		if (cfd < 0)
			return -1;
		if (ioctl(cfd, SIOCOUTQ, &outq)) {
			pr_perror("can't ask socket:[%u] what it sent", ino);
			close(cfd);
			return -1;
		}
		close(cfd);
		if (outq) {
			l->why = xsprintf("a listening unix %s socket bound to %s with a connection waiting whose client already sent data (socket:[%u], %d bytes with overhead)",
					   ux_type_name(l->e->type), name, ino, outq);
			break;
		}
		l->e->pending = xrealloc(l->e->pending, (l->e->n_pending + 1) * sizeof(uint32_t));
		l->e->pending[l->e->n_pending++] = c->e->id;
	}
	return 0;
}

/* Peers of a socket not saved are not saved either: say so. */
static void spread_why(struct uxsk_dump *u)
{
	bool again = true;

	while (again) {
		again = false;
		for (int i = 0; i < u->nr; i++) {
			struct uxsk *s = &u->sk[i], *o = NULL;

			if (s->why)
				continue;
			if (s->e->has_peer_id && by_id(u, s->e->peer_id)->why)
				o = by_id(u, s->e->peer_id);
			else if (s->e->has_dgram_peer_id && by_id(u, s->e->dgram_peer_id)->why)
				o = by_id(u, s->e->dgram_peer_id);
			else if (s->e->has_listener_id && by_id(u, s->e->listener_id)->why)
				o = by_id(u, s->e->listener_id);
			else if (s->pending_on && s->pending_on->why)
				o = s->pending_on;
			for (size_t j = 0; !o && j < s->e->n_pending; j++)
				if (by_id(u, s->e->pending[j])->why)
					o = by_id(u, s->e->pending[j]);
			if (!o)
				continue;
			s->why = xsprintf("a unix %s socket connected to socket:[%llu] of the tree, %s",
					   ux_type_name(s->e->type),
					   (unsigned long long)o->e->ino, o->why);
			again = true;
		}
	}
}

static int set_peek_off(int fd, int off)
{
	if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off))) {
		pr_perror("can't set SO_PEEK_OFF");
		return -1;
	}
	return 0;
}

static void add_msg(UnixSkEntry *e, const char *buf, size_t len,
		    const struct sockaddr_un *from, socklen_t flen)
{
	size_t n = e->n_queue;
	ProtobufCBinaryData *f;

	e->queue = xrealloc(e->queue, (n + 1) * sizeof(*e->queue));
	e->queue[n].len = len;
	e->queue[n].data = xzalloc(len + 1);
	memcpy(e->queue[n].data, buf, len);
	e->n_queue++;
	if (e->type != SOCK_DGRAM)
		return;
	e->queue_from = xrealloc(e->queue_from, (n + 1) * sizeof(*e->queue_from));
	f = &e->queue_from[n];
	f->len = 0;
	f->data = xzalloc(sizeof(from->sun_path) + 1);
	if (flen > offsetof(struct sockaddr_un, sun_path)) {
		f->len = flen - offsetof(struct sockaddr_un, sun_path);
		memcpy(f->data, from->sun_path, f->len);
		if (f->data[0])
			f->len = strnlen((char *)f->data, f->len);
	}
	e->n_queue_from++;
}

/* Room for every control message one peek can give: SCM_RIGHTS with the
 * kernel's most (SCM_MAX_FD, 253), credentials, a pidfd, and more. */
#define UX_CMSG_SPACE	2048
#define UX_SCM_MAX_FD	253

static UnixSkAnc *new_anc(UnixSkEntry *e, size_t msg)
{
	UnixSkAnc *a = xzalloc(sizeof(*a));

	unix_sk_anc__init(a);
	a->msg = msg;
	e->anc = xrealloc(e->anc, (e->n_anc + 1) * sizeof(*e->anc));
	e->anc[e->n_anc++] = a;
	return a;
}

static void keep_own(struct uxsk_dump *u, int fd)
{
	u->own = xrealloc(u->own, (u->nr_own + 1) * sizeof(*u->own));
	u->own[u->nr_own++] = fd;
}

/*
 * The control messages of message msg of s's queue: the fds in flight
 * (installed in crest by the peek: kept open until the dump ends, and
 * dumped once every queue is read), the sender's credentials. Anything
 * else, s->qwhy.
 */
static void take_cmsgs(struct uxsk_dump *u, struct uxsk *s, struct msghdr *mh,
		       size_t msg, bool creds)
{
	UnixSkEntry *e = s->e;
	UnixSkAnc *a = NULL;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		int *fds = (int *)CMSG_DATA(c);
		size_t nr = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			for (size_t i = 0; i < nr; i++)
				keep_own(u, fds[i]);
			if (!a)
				a = new_anc(e, msg);
			for (size_t i = 0; i < nr; i++) {
				u->fly = xrealloc(u->fly, (u->nr_fly + 1) * sizeof(*u->fly));
				u->fly[u->nr_fly++] = (struct uxsk_flying){
					a, a->n_rights + i, fds[i], e->id, msg };
			}
			a->rights = xrealloc(a->rights, (a->n_rights + nr) * sizeof(*a->rights));
			for (size_t i = 0; i < nr; i++)
				a->rights[a->n_rights + i] = NULL;
			a->n_rights += nr;
		} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_PIDFD) {
			/* The sender's pidfd: its pid is in the credentials. */
			if (nr && fds[0] >= 0)
				close(fds[0]);
		} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
			   c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
			struct ucred uc;

			if (!creds)
				continue;
			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			if (!a)
				a = new_anc(e, msg);
			a->has_cred_pid = a->has_cred_uid = a->has_cred_gid = 1;
			a->cred_pid = uc.pid;
			a->cred_uid = uc.uid;
			a->cred_gid = uc.gid;
		} else if (!s->qwhy) {
			s->qwhy = xsprintf("a unix %s socket with a message queued that carries a control message of level %d type %d (%s)",
					   ux_type_name(e->type), c->cmsg_level, c->cmsg_type,
					   c->cmsg_type == SCM_SECURITY ? "SCM_SECURITY, the sender's security context" :
					   "unknown to crest");
		}
	}
	/* The kernel gives the fds of one message in one SCM_RIGHTS. */
	if (a && a->n_rights > UX_SCM_MAX_FD && !s->qwhy)
		s->qwhy = xsprintf("a unix %s socket with a message queued carrying %zu fds",
				   ux_type_name(e->type), a->n_rights);
}

static int passcred_set(int fd, int on)
{
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on))) {
		pr_perror("can't set SO_PASSCRED");
		return -1;
	}
	return 0;
}

/*
 * The receive queue of s, not taken: each peek at an offset crest sets
 * itself, so that a datagram too big for the buffer is peeked again
 * whole, and with a buffer larger than a stream's whole queue, so that
 * each peek ends where the kernel ends it: after a message that carries
 * fds (it never joins one to what follows), or where the sender changes
 * if credentials are passed. The fds in flight are installed in crest by
 * the peek, as the receiver would get them. A socket with SO_PASSPIDFD
 * alone gets SO_PASSCRED for the peeks (what it hands is the pid of the
 * same credentials). Peek offset and SO_PASSCRED are given back as they
 * were, whatever happens.
 */
static int peek_queue(struct uxsk_dump *u, struct uxsk *s, int cfd)
{
	UnixSkEntry *e = s->e;
	bool stream = e->type == SOCK_STREAM;
	bool creds = e->passcred || e->passpidfd, tmp_cred = !e->passcred && e->passpidfd;
	size_t cap = stream && s->d.rqlen >= 65536 ? s->d.rqlen + 1 : 65536, total = 0;
	char *buf, ctl[UX_CMSG_SPACE];
	int off = 0, ret = -1, zeros = 0;

	if (stream && s->d.rqlen > IMG_MAX_RECORD / 2) {
		s->qwhy = xsprintf("a unix %s socket with more than %u MiB queued",
				   ux_type_name(e->type), IMG_MAX_RECORD >> 21);
		return 0;
	}
	if (tmp_cred && passcred_set(cfd, 1))
		return -1;
	buf = xzalloc(cap);
	for (;;) {
		struct sockaddr_un from;
		struct iovec iov = { buf, cap };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_name = &from, .msg_namelen = sizeof(from),
				     .msg_control = ctl, .msg_controllen = sizeof(ctl) };
		ssize_t r;

		if (set_peek_off(cfd, off))
			goto out;
		r = recvmsg(cfd, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC |
			    (stream ? 0 : MSG_TRUNC));
		if (r < 0) {
			if (errno == EAGAIN)
				break;
			pr_perror("can't read the queue of fd %d of process %d (socket:[%llu])",
				  s->fd, s->tpid, (unsigned long long)e->ino);
			goto out;
		}
		if (!stream && (size_t)r > cap) {
			/* Its fds came too, and come again with the next peek. */
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
				if (c->cmsg_level == SOL_SOCKET &&
				    (c->cmsg_type == SCM_RIGHTS || c->cmsg_type == SCM_PIDFD))
					for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
						if (((int *)CMSG_DATA(c))[i] >= 0)
							close(((int *)CMSG_DATA(c))[i]);
			cap = r;
			buf = xrealloc(buf, cap);
			continue;
		}
		take_cmsgs(u, s, &mh, e->n_queue, creds);
		if (mh.msg_flags & MSG_CTRUNC) {
			s->qwhy = xsprintf("a unix %s socket with a message queued whose control messages do not fit in %d bytes",
					   ux_type_name(e->type), UX_CMSG_SPACE);
			break;
		}
		if (!r && (stream || (s->d.shutdown & RCV_SHUTDOWN)))
			break;	/* the end of the stream */
		if (!r && ++zeros > 4096) {
			s->qwhy = xsprintf("a unix %s socket with more than 4096 empty datagrams queued",
					   ux_type_name(e->type));
			break;
		}
		add_msg(e, buf, r, &from, mh.msg_namelen);
		off += r;
		total += r;
		if (total > IMG_MAX_RECORD / 2) {
			s->qwhy = xsprintf("a unix %s socket with more than %u MiB queued",
					   ux_type_name(e->type), IMG_MAX_RECORD >> 21);
			break;
		}
	}
	if (!s->qwhy && e->type != SOCK_DGRAM && total != s->d.rqlen)
		s->qwhy = xsprintf("a unix %s socket with %u bytes queued of which crest could read %zu%s",
				   ux_type_name(e->type), s->d.rqlen, total,
				   stream ? " (out-of-band data, MSG_OOB?)" : "");
	ret = 0;
out:
	free(buf);
	if (set_peek_off(cfd, e->peek_off))
		ret = -1;
	if (tmp_cred && passcred_set(cfd, 0))
		ret = -1;
	return ret;
}

/* Is there a queue to read: not listening, nor a stream never connected. */
static bool has_queue(const struct uxsk *s)
{
	return s->d.state != TCP_LISTEN &&
	       (s->e->type == SOCK_DGRAM || s->d.has_peer);
}

/*
 * Every queue, read before the kinds link their objects: the fds in
 * flight are objects of the tree, and a socket in flight has a queue too
 * (u->sk grows as they are dumped). Each fd received is dumped as an fd
 * of the task holding the socket, for messages.
 */
static int ux_inflight(struct dump_files *df, struct pstree *t)
{
	struct uxsk_dump *u = dump_state(df);

	for (int i = 0; i < u->nr; i++) {
		int cfd, r;

		if (u->sk[i].peeked || !has_queue(&u->sk[i]))
			continue;
		u->sk[i].peeked = true;
		cfd = pidfd_take(u->sk[i].pid, u->sk[i].fd);
		if (cfd < 0)
			return -1;
		r = peek_queue(u, &u->sk[i], cfd);
		close(cfd);
		if (r)
			return -1;
		pr_debug("socket:[%llu]: %zu messages queued, %d fds in flight",
			 (unsigned long long)u->sk[i].e->ino, u->sk[i].e->n_queue, u->nr_fly);
		while (u->nr_fly) {
			struct uxsk_flying fl = u->fly[--u->nr_fly];
			struct uxsk *s = by_id(u, fl.sk);
			struct pstree_item *it = pstree_find(t, s->tpid);
			char *ctx;
			FdEntry *fe;

			ctx = s->e->in_flight ?
			      xsprintf("a unix %s socket in flight (socket:[%llu]) has an fd in flight too (message %zu, fd %zu of %zu; crest's copy is fd %d)",
				       ux_type_name(s->e->type), (unsigned long long)s->e->ino,
				       fl.msg + 1, fl.slot + 1, fl.anc->n_rights, fl.fd) :
			      xsprintf("fd %d (unix %s socket:[%llu]) has an fd in flight (message %zu, fd %zu of %zu; crest's copy is fd %d)",
				       s->fd, ux_type_name(s->e->type), (unsigned long long)s->e->ino,
				       fl.msg + 1, fl.slot + 1, fl.anc->n_rights, fl.fd);
			refuse_context(ctx);
			free(ctx);
			r = it ? files_dump_own_fd(df, it, fl.fd, &fe) : -1;
			refuse_context(NULL);
			if (r)
				return -1;
			if (!fe) {	/* refused: a placeholder, never written */
				fe = xzalloc(sizeof(*fe));
				fd_entry__init(fe);
			}
			fe->fd = fl.fd;
			fl.anc->rights[fl.slot] = fe;
		}
	}
	return 0;
}

/*
 * Each queued datagram comes back from a socket with its sender's name:
 * the sender itself if it is in the tree, a socket made for it if it was
 * unbound, abstract, or bound to a path where nothing is now (the socket
 * made for it is bound there for the moment); a path crest does not hold
 * with a file there is refused.
 */
static void check_senders(struct uxsk_dump *u, struct uxsk *s)
{
	char name[240];

	for (size_t i = 0; i < s->e->n_queue_from; i++) {
		ProtobufCBinaryData *f = &s->e->queue_from[i];

		if (!f->len || !f->data[0] || sender_by_name(u, f))
			continue;
		if (s->e->has_peer_id || s->e->peer_closed)
			continue;	/* a pair's: the other end sends */
		if (f->data[0] == '/') {
			char *path = xsprintf("/proc/%d/root%.*s", s->pid, (int)f->len,
					      (char *)f->data);
			struct stat st;
			int gone = lstat(path, &st) && errno == ENOENT;

			free(path);
			/* Nothing there: sent again from a socket bound there
			 * for the moment (sk-unix-restore.c, sender()). */
			if (gone)
				continue;
		}
		name_words(s->d.name, s->d.name_len, name, sizeof(name));
		refuse(s->tpid, "fd %d is a unix datagram socket bound to %s with a datagram queued from '%.*s', a socket not in the tree %s; not supported yet",
		       s->fd, name, (int)f->len, (char *)f->data,
		       f->data[0] == '/' ? "whose file is still there (crest would have to take the path to send from it)" :
		       "bound to a relative path");
		return;
	}
}

/* "fd 5 is" or "a unix socket in flight (...) is", for refusals. */
static char *sk_words(const struct uxsk *s)
{
	if (s->e->in_flight)
		return xsprintf("a unix socket in flight (sent, not yet received: socket:[%llu]) is",
				(unsigned long long)s->e->ino);
	return xsprintf("fd %d is", s->fd);
}

/*
 * What a saved socket's queue holds that a restore can't send again: what
 * the peek found (s->qwhy), messages to send from outside the tree, the
 * credentials of a sender that is not a process of the tree. A message
 * that came without credentials reads as pid 0 and the overflow uid and
 * gid (65534): it is sent again without.
 */
static void queue_problems(struct uxsk_dump *u, struct pstree *t, struct uxsk *s)
{
	UnixSkEntry *e = s->e;
	char *w = sk_words(s);

	(void)u;
	if (s->qwhy) {
		refuse(s->tpid, "%s %s, not supported yet", w, s->qwhy);
	} else if (e->n_queue && e->has_ext_peer) {
		refuse(s->tpid, "%s a unix %s socket connected outside the tree with %zu messages queued, which crest can't send again from there; not supported yet",
		       w, ux_type_name(e->type), e->n_queue);
	}
	for (size_t i = 0; i < e->n_anc; i++) {
		UnixSkAnc *a = e->anc[i];

		if (!a->has_cred_pid)
			continue;
		if (!a->cred_pid && a->cred_uid == 65534 && a->cred_gid == 65534) {
			a->has_cred_pid = a->has_cred_uid = a->has_cred_gid = 0;
			continue;
		}
		if (a->cred_pid > 0 && pstree_find(t, a->cred_pid))
			continue;
		refuse(s->tpid, "%s a unix %s socket passed credentials (SO_PASSCRED) with message %u of its queue from pid %d (uid %u, gid %u), which is not a process of the tree (outside it, or gone): crest can't send it again as that process; not supported yet",
		       w, ux_type_name(e->type), a->msg + 1, a->cred_pid, a->cred_uid,
		       a->cred_gid);
		break;
	}
	free(w);
}

/*
 * A socketpair's ends show its maker's pid (SO_PEERCRED): if that is a
 * process of the tree, it makes the pair again at restore (made_by). An
 * end whose other end was closed is made again from a pair too.
 */
static void set_makers(struct uxsk_dump *u, struct pstree *t)
{
	for (int i = 0; i < u->nr; i++) {
		UnixSkEntry *e = u->sk[i].e, *p;

		if (u->sk[i].why || e->accepted || !e->has_peer_pid || e->peer_pid <= 0 ||
		    !pstree_find(t, e->peer_pid))
			continue;
		if (e->has_peer_id) {
			p = by_id(u, e->peer_id)->e;
			if (p->accepted || !p->has_peer_pid || p->peer_pid != e->peer_pid)
				continue;
		} else if (!e->peer_closed) {
			continue;
		}
		e->has_made_by = 1;
		e->made_by = e->peer_pid;
	}
}

/* A live process of the tree (zombies make nothing at restore). */
static const struct pstree_item *live_task(struct pstree *t, pid_t pid)
{
	const struct pstree_item *it = pid > 0 ? pstree_find(t, pid) : NULL;

	return it && !it->zombie ? it : NULL;
}

/*
 * SO_PEERCRED of a listener is whoever listened (listen() takes its
 * creds, and its clients get them); of an accepted end, whoever connected
 * its client. A live process of the tree listens again (listen_by), and
 * connects again (connect_by) if it exists by then: it is the listener's
 * process or a descendant of it (a task makes its objects before it
 * forks its children). Connections it makes are accepted only once every
 * task exists: at most backlog + 1 of them per listener, so that no
 * connect() of one waits for an accept.
 */
static void set_listeners(struct uxsk_dump *u, struct pstree *t)
{
	for (int i = 0; i < u->nr; i++) {
		UnixSkEntry *e = u->sk[i].e;

		if (!u->sk[i].why && e->has_backlog && e->has_peer_pid &&
		    live_task(t, e->peer_pid)) {
			e->has_listen_by = 1;
			e->listen_by = e->peer_pid;
		}
	}
	for (int i = 0; i < u->nr; i++) {
		UnixSkEntry *e = u->sk[i].e, *l;
		const struct pstree_item *c;
		unsigned int n = 0;

		if (u->sk[i].why || !e->accepted || !e->has_listener_id || !e->has_peer_pid)
			continue;
		l = by_id(u, e->listener_id)->e;
		c = live_task(t, e->peer_pid);
		if (!l->has_listen_by || !c)
			continue;
		for (int j = 0; j < i; j++)
			n += u->sk[j].e->has_connect_by && u->sk[j].e->has_listener_id &&
			     u->sk[j].e->listener_id == l->id;
		if (n > l->backlog)
			continue;
		while (c && c->pid != l->listen_by)
			c = c->parent;
		if (!c)
			continue;
		e->has_connect_by = 1;
		e->connect_by = e->peer_pid;
	}
}

static void link_socket(struct dump_files *df, struct uxsk_dump *u, struct uxsk *s)
{
	struct uxsk *p, *l;

	if (!s->d.has_peer)
		return;
	l = s->e->type != SOCK_DGRAM ? icon_owner(u, s->e->ino) : NULL;
	if (l) {	/* waiting to be accepted by a listener of the tree */
		s->pending_on = l;
		return;
	}
	/*
	 * Peer inode 0: closed (a stream end left alone is shut down both
	 * ways), or an embryo (no inode) waiting on a listener outside.
	 */
	if (!s->d.peer && (s->e->type == SOCK_DGRAM ||
			   (s->d.shutdown & (RCV_SHUTDOWN | SEND_SHUTDOWN)) ==
			   (RCV_SHUTDOWN | SEND_SHUTDOWN))) {
		s->e->has_peer_closed = s->e->peer_closed = 1;
		return;
	}
	if (!s->d.peer) {
		set_external(df, s);
		return;
	}
	p = by_ino(u, s->d.peer);
	if (p && p->why) {
		/* Not saved itself (perhaps crest's stdio at fds 0-2): nor is s. */
		s->why = xsprintf("a unix %s socket connected to socket:[%u] of the tree, %s",
				   ux_type_name(s->e->type), s->d.peer, p->why);
		return;
	}
	if (p && p->d.has_peer && p->d.peer == s->e->ino) {
		set_pair(u, s, p);
		return;
	}
	if (p) {
		/* A datagram socket connect()ed to a bound one of the tree. */
		if (s->e->type == SOCK_DGRAM && p->e->has_name &&
		    p->d.state != TCP_LISTEN) {
			s->e->has_dgram_peer_id = 1;
			s->e->dgram_peer_id = p->e->id;
		} else {
			s->why = xsprintf("a unix %s socket connected to socket:[%u], which is connected elsewhere",
					   ux_type_name(s->e->type), s->d.peer);
		}
		return;
	}
	set_external(df, s);
}

/*
 * Every socket is saved only if it and what it is connected to are: a
 * pair of the tree (socketpair or accepted connection), a pair whose
 * other end was closed, a client waiting on a listener of the tree, a
 * datagram socket connected to one of the tree, a socket not connected,
 * or with --ext-unix-sk one connected to a name outside. A socket not
 * saved at fds 0-2 leads outside (crest's own fd at restore, as before);
 * anywhere else it is refused.
 */
static int ux_collected(struct dump_files *df, struct pstree *t)
{
	struct uxsk_dump *u = dump_state(df);
	int ret = 0;

	for (int i = 0; i < u->nr; i++)
		u->sk[i].why = own_problem(&u->sk[i]);
	netns_problems(u, t);
	for (int i = 0; i < u->nr; i++)
		if (!u->sk[i].why)
			link_socket(df, u, &u->sk[i]);
	for (int i = 0; i < u->nr; i++) {
		struct uxsk *s = &u->sk[i];

		if (!s->why && s->d.state == TCP_LISTEN && set_pending(u, s))
			return -1;
		if (!s->why && s->e->has_name && s->e->name.data[0] &&
		    (!s->e->accepted || !s->e->has_listener_id))
			dump_file(s);
	}
	spread_why(u);
	set_makers(u, t);
	set_listeners(u, t);
	for (int k = 0; k < t->nr; k++) {
		struct pstree_item *it = t->items[k];

		for (int j = 0; j < it->nr_fds; j++) {
			FdEntry *e = it->fds[j];
			struct uxsk *s;

			if (e->kind != FD_KIND__FD_UNIX_SK)
				continue;
			s = by_id(u, e->file_id);
			if (!s || !s->why)
				continue;
			if (e->fd <= 2) {
				/* BLCR's rule, as before: crest's own fd at restore. */
				e->kind = FD_KIND__FD_EXTERNAL;
				e->has_ext_fd = 1;
				e->ext_fd = e->fd;
				pr_debug("fd %u of %d: %s, crest's fd %u at restore",
					 e->fd, it->pid, s->why, e->ext_fd);
				continue;
			}
			refuse(it->pid, "fd %u is %s, not supported yet",
			       e->fd, s->why);
		}
	}
	for (int i = 0; i < u->nr; i++) {
		struct uxsk *s = &u->sk[i];

		if (s->why && s->e->in_flight)
			refuse(s->tpid, "a unix socket in flight (sent, not yet received: socket:[%llu]) is %s, not supported yet",
			       (unsigned long long)s->e->ino, s->why);
		else if (!s->why)
			queue_problems(u, t, s);
	}
	for (int i = 0; i < u->nr && !ret; i++)
		if (!u->sk[i].why)
			check_senders(u, &u->sk[i]);
	return ret;
}

static int ux_write(struct dump_files *df, struct img_dir *d)
{
	struct uxsk_dump *u = dump_state(df);
	void **msgs = xzalloc((u->nr + 1) * sizeof(*msgs));
	int n = 0, ret;

	for (int i = 0; i < u->nr; i++) {
		UnixSkEntry *e = u->sk[i].e;

		if (u->sk[i].why)
			continue;
		if (u->sk[i].netns) {
			if (ns_net_id(df->ns, u->sk[i].netns, &e->net_ns)) {
				free(msgs);
				return -1;
			}
			e->has_net_ns = 1;
		}
		msgs[n++] = e;
	}
	ret = files_write_msgs(d, IMG_UNIXSK, 0, msgs, n);
	free(msgs);
	return ret;
}

/* crest's copies of the fds in flight: the dump is over. */
static void ux_dump_done(struct dump_files *df, bool kill)
{
	struct uxsk_dump *u = dump_state(df);

	(void)kill;
	for (int i = 0; i < u->nr_own; i++)
		close(u->own[i]);
	u->nr_own = 0;
}

const struct fd_kind_ops unixsk_fd_ops = {
	.name		= "unix socket",
	.kind		= FD_KIND__FD_UNIX_SK,
	.recognise	= ux_recognise,
	.dump		= ux_dump,
	.inflight	= ux_inflight,
	.collected	= ux_collected,
	.write		= ux_write,
	.dump_done	= ux_dump_done,
	.read		= ux_read,
	.check		= ux_check,
	.open		= ux_open,
	.task_early	= ux_task_early,
	.tasks_made	= ux_tasks_made,
	.queues		= ux_queues,
	.threads_made	= ux_threads_made,
	.in_flight_fd	= ux_in_flight_fd,
	.service_fd	= ux_service_fd,
	.post_open	= ux_post_open,
	.show		= ux_show,
};
