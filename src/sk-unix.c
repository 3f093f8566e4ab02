/*
 * Unix sockets whose ends are both in the tree: socketpairs (stream,
 * datagram, seqpacket), a pair whose other end was closed, and sockets
 * never connected. One unix_sk_entry per socket, however many fds in
 * however many processes hold it.
 *
 * Dump: the family from a copy of the fd (pidfd_getfd, SO_DOMAIN), the
 * rest from sock_diag (unix_diag: name, peer, pending connections, queue
 * length, shutdown) and getsockopt on the copy. Each receive queue is read
 * without taking it: MSG_PEEK at an SO_PEEK_OFF that crest moves itself,
 * message by message (the offset is given back as it was). Whatever else
 * (bound, listening, connected outside the tree, fds or credentials in
 * flight) is refused by name in collected (refuse.h); at fds 0-2 a socket
 * leading outside is crest's own stdio at restore, as before.
 *
 * Restore: every pair is made once in crest with socketpair(), buffers
 * set, each queue refilled by writing from the other end, then the
 * shutdowns, peek offset and SO_PASSCRED; a closed peer is made and
 * closed after the refill.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
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
#include "pstree.h"
#include "refuse.h"
#include "util.h"

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD	76
#endif
#ifndef SO_PEEK_OFF
#define SO_PEEK_OFF	42
#endif

#define TCP_ESTABLISHED	1
#define TCP_CLOSE	7
#define TCP_LISTEN	10
#define RCV_SHUTDOWN	1
#define SEND_SHUTDOWN	2

/* What sock_diag says of one unix socket. */
struct ux_diag {
	uint8_t type, state, shutdown;
	bool has_peer;		/* connected (the peer may be closed: ino 0) */
	uint32_t peer;
	int name_len;		/* 0: unbound */
	char name[110];
	uint32_t icons;		/* connections waiting to be accepted */
	uint32_t rqlen;
};

struct uxsk {
	UnixSkEntry *e;
	struct ux_diag d;
	pid_t pid;		/* a thread of a task holding it... */
	int fd;			/* ...at this fd */
	pid_t tpid;		/* that task, for messages */
	bool passsec, passpidfd;
	char *why;		/* not supported: what it is */
};

struct uxsk_dump {
	struct uxsk *sk;
	int nr;
};

struct uxsk_restore {
	UnixSkEntry **sks;
	int nr;
	int *fd;		/* service fd of each */
};

static const char *type_name(unsigned int type)
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
	int cfd = pidfd_take(pid, fd), dom = -1;
	socklen_t len = sizeof(dom);

	if (cfd < 0)
		return false;
	if (getsockopt(cfd, SOL_SOCKET, SO_DOMAIN, &dom, &len))
		dom = -1;
	close(cfd);
	return dom == AF_UNIX;
}

/* 0: found, 1: no such socket (closed, or another namespace), -1: error. */
static int ux_diag(uint32_t ino, struct ux_diag *d)
{
	struct {
		struct nlmsghdr h;
		struct unix_diag_req r;
	} req;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[16384] __attribute__((aligned(4)));
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct unix_diag_msg *m;
	struct rtattr *a;
	ssize_t n;
	int nl, len, ret = -1;

	memset(d, 0, sizeof(*d));
	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.h.nlmsg_flags = NLM_F_REQUEST;
	req.r.sdiag_family = AF_UNIX;
	req.r.udiag_states = ~0u;
	req.r.udiag_ino = ino;
	req.r.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS |
			   UDIAG_SHOW_RQLEN;
	req.r.udiag_cookie[0] = req.r.udiag_cookie[1] = ~0u;
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0) {
		pr_perror("can't open a sock_diag netlink socket");
		return -1;
	}
	if (sendto(nl, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		pr_perror("can't ask sock_diag about socket:[%u]", ino);
		goto out;
	}
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
	d->type = m->udiag_type;
	d->state = m->udiag_state;
	len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
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
		case UNIX_DIAG_PEER:
			d->has_peer = true;
			d->peer = *(uint32_t *)RTA_DATA(a);
			break;
		case UNIX_DIAG_ICONS:
			d->icons = plen / 4;
			break;
		case UNIX_DIAG_RQLEN:
			d->rqlen = ((struct unix_diag_rqlen *)RTA_DATA(a))->udiag_rqueue;
			break;
		case UNIX_DIAG_SHUTDOWN:
			d->shutdown = *(uint8_t *)RTA_DATA(a);
			break;
		}
	}
	ret = 0;
out:
	close(nl);
	return ret;
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

static int ux_dump(struct dump_files *df, const struct fd_dump *f, FdEntry *e)
{
	struct uxsk_dump *u = dump_state(df);
	int i, cfd, type, snd, rcv, cred, sec, pidfd, peek;
	struct uxsk *s;

	for (i = 0; i < u->nr; i++)
		if (u->sk[i].e->ino == f->st->st_ino) {
			e->file_id = u->sk[i].e->id;
			return 0;
		}
	u->sk = xrealloc(u->sk, (u->nr + 1) * sizeof(*u->sk));
	s = &u->sk[u->nr];
	memset(s, 0, sizeof(*s));
	switch (ux_diag(f->st->st_ino, &s->d)) {
	case 1:
		refuse(f->it->pid, "fd %d is a unix socket sock_diag does not know ('%s': in another network namespace?), not supported yet",
		       f->fd, f->link);
		return 0;
	case -1:
		return -1;
	}
	cfd = pidfd_take(f->pid, f->fd);
	if (cfd < 0)
		return -1;
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
	s->e->has_peek_off = 1;
	s->e->peek_off = peek;
	s->passsec = !!sec;
	s->passpidfd = !!pidfd;
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

/* What makes s impossible to save on its own, or NULL. */
static char *own_problem(struct uxsk *s)
{
	const char *type = type_name(s->e->type);
	char name[240];

	if (s->d.name_len) {
		if (s->d.name_len < 0)
			snprintf(name, sizeof(name), "an empty abstract name");
		else if (s->d.name[0] == '\0')
			snprintf(name, sizeof(name), "the abstract name '@%.*s'",
				 s->d.name_len - 1, s->d.name + 1);
		else
			snprintf(name, sizeof(name), "'%.*s'", s->d.name_len, s->d.name);
		if (s->d.state == TCP_LISTEN)
			return xsprintf("a listening unix %s socket bound to %s (%u connections waiting)",
					 type, name, s->d.icons);
		return xsprintf("a unix %s socket bound to %s", type, name);
	}
	if (s->d.state == TCP_LISTEN)
		return xsprintf("a listening unix %s socket", type);
	if (s->e->type != SOCK_STREAM && s->e->type != SOCK_DGRAM &&
	    s->e->type != SOCK_SEQPACKET)
		return xsprintf("a unix socket of type %u", s->e->type);
	if (s->passsec)
		return xsprintf("a unix %s socket with SO_PASSSEC", type);
	if (s->passpidfd)
		return xsprintf("a unix %s socket with SO_PASSPIDFD", type);
	if (s->d.has_peer && s->d.state != TCP_ESTABLISHED && s->e->type != SOCK_DGRAM)
		return xsprintf("a unix %s socket in state %u", type, s->d.state);
	if (!s->d.has_peer && s->e->type != SOCK_DGRAM && s->d.state != TCP_CLOSE)
		return xsprintf("a unix %s socket in state %u", type, s->d.state);
	return NULL;
}

static int set_peek_off(int fd, int off)
{
	if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off))) {
		pr_perror("can't set SO_PEEK_OFF");
		return -1;
	}
	return 0;
}

static void add_msg(UnixSkEntry *e, const char *buf, size_t len)
{
	e->queue = xrealloc(e->queue, (e->n_queue + 1) * sizeof(*e->queue));
	e->queue[e->n_queue].len = len;
	e->queue[e->n_queue].data = xzalloc(len + 1);
	memcpy(e->queue[e->n_queue].data, buf, len);
	e->n_queue++;
}

/*
 * The receive queue of s, not taken: each peek at an offset crest sets
 * itself, so that a datagram too big for the buffer is peeked again
 * whole. No control buffer: MSG_CTRUNC says fds (or credentials) are
 * attached. The peek offset is given back as it was, whatever happens.
 */
static int peek_queue(struct uxsk *s, int cfd)
{
	UnixSkEntry *e = s->e;
	bool stream = e->type == SOCK_STREAM;
	size_t cap = 65536, total = 0;
	char *buf = xzalloc(cap);
	int off = 0, ret = -1, zeros = 0;

	for (;;) {
		struct iovec iov = { buf, cap };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t r;

		if (set_peek_off(cfd, off))
			goto out;
		r = recvmsg(cfd, &mh, MSG_PEEK | MSG_DONTWAIT | (stream ? 0 : MSG_TRUNC));
		if (r < 0) {
			if (errno == EAGAIN)
				break;
			pr_perror("can't read the queue of fd %d of process %d (socket:[%llu])",
				  s->fd, s->tpid, (unsigned long long)e->ino);
			goto out;
		}
		if (mh.msg_flags & MSG_CTRUNC) {
			refuse(s->tpid, "fd %d is a unix %s socket with fds in flight (SCM_RIGHTS sent, not yet received), not supported yet",
			       s->fd, type_name(e->type));
			ret = 0;
			goto out;
		}
		if (!stream && (size_t)r > cap) {
			cap = r;
			buf = xrealloc(buf, cap);
			continue;
		}
		if (!r && (stream || (s->d.shutdown & RCV_SHUTDOWN)))
			break;	/* the end of the stream */
		if (!r && ++zeros > 4096) {
			refuse(s->tpid, "fd %d is a unix %s socket with more than 4096 empty datagrams queued, not supported yet",
			       s->fd, type_name(e->type));
			ret = 0;
			goto out;
		}
		add_msg(e, buf, r);
		off += r;
		total += r;
		if (total > IMG_MAX_RECORD / 2) {
			refuse(s->tpid, "fd %d is a unix %s socket with more than %u MiB queued, not supported yet",
			       s->fd, type_name(e->type), IMG_MAX_RECORD >> 21);
			ret = 0;
			goto out;
		}
	}
	if (e->type != SOCK_DGRAM && total != s->d.rqlen) {
		refuse(s->tpid, "fd %d is a unix %s socket with %u bytes queued of which crest could read %zu%s, not supported yet",
		       s->fd, type_name(e->type), s->d.rqlen, total,
		       stream ? " (out-of-band data, MSG_OOB?)" : "");
		ret = 0;
		goto out;
	}
	if (e->n_queue && e->passcred) {
		refuse(s->tpid, "fd %d is a unix %s socket with SO_PASSCRED and %zu messages queued, whose credentials crest can't give back; not supported yet",
		       s->fd, type_name(e->type), e->n_queue);
		ret = 0;
		goto out;
	}
	ret = 0;
out:
	free(buf);
	if (set_peek_off(cfd, e->peek_off))
		ret = -1;
	return ret;
}

/*
 * Every socket is saved only if it and its peer are: a pair both of
 * whose ends are in the tree, a pair whose other end was closed, or a
 * socket never connected. A socket not saved at fds 0-2 leads outside
 * (crest's own fd at restore, as before); anywhere else it is refused.
 */
static int ux_collected(struct dump_files *df, struct pstree *t)
{
	struct uxsk_dump *u = dump_state(df);
	int ret = 0;

	for (int i = 0; i < u->nr; i++)
		u->sk[i].why = own_problem(&u->sk[i]);
	for (int i = 0; i < u->nr; i++) {
		struct uxsk *s = &u->sk[i], *p;
		struct ux_diag pd;

		if (s->why || !s->d.has_peer)
			continue;
		if (!s->d.peer) {
			s->e->has_peer_closed = s->e->peer_closed = 1;
			continue;
		}
		p = by_ino(u, s->d.peer);
		if (!p) {
			int r = ux_diag(s->d.peer, &pd);

			if (r < 0)
				return -1;
			if (r == 1) {	/* gone: closed, only this end is left */
				s->e->has_peer_closed = s->e->peer_closed = 1;
				continue;
			}
			if (pd.name_len > 0 && pd.name[0])
				s->why = xsprintf("a unix %s socket connected outside the tree (to socket:[%u] bound to '%.*s')",
						   type_name(s->e->type), s->d.peer,
						   pd.name_len, pd.name);
			else
				s->why = xsprintf("a unix %s socket connected outside the tree (to socket:[%u])",
						   type_name(s->e->type), s->d.peer);
			continue;
		}
		if (p->why)
			s->why = xsprintf("a unix %s socket connected to socket:[%u] of the tree, %s",
					   type_name(s->e->type), s->d.peer, p->why);
		else if (!p->d.has_peer || p->d.peer != s->e->ino)
			s->why = xsprintf("a unix %s socket connected to socket:[%u], which is connected elsewhere",
					   type_name(s->e->type), s->d.peer);
		else
			s->e->has_peer_id = 1, s->e->peer_id = p->e->id;
	}
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
			refuse(it->pid, "fd %u is %s, not supported yet (crest saves unix socketpairs with both ends in the tree)",
			       e->fd, s->why);
		}
	}
	/* The queues of what is saved: refusals of their own (fds in flight). */
	for (int i = 0; i < u->nr && !ret; i++) {
		struct uxsk *s = &u->sk[i];
		int cfd;

		if (s->why)
			continue;
		cfd = pidfd_take(s->pid, s->fd);
		if (cfd < 0)
			return -1;
		ret = peek_queue(s, cfd);
		close(cfd);
	}
	return ret;
}

static int ux_write(struct dump_files *df, struct img_dir *d)
{
	struct uxsk_dump *u = dump_state(df);
	void **msgs = xzalloc((u->nr + 1) * sizeof(*msgs));
	int n = 0, ret;

	for (int i = 0; i < u->nr; i++)
		if (!u->sk[i].why)
			msgs[n++] = u->sk[i].e;
	ret = files_write_msgs(d, IMG_UNIXSK, 0, msgs, n);
	free(msgs);
	return ret;
}

/* ---- restore ---- */

static struct uxsk_restore *restore_state(struct restore_files *rf)
{
	void **p = files_restore_priv(rf, &unixsk_fd_ops);

	if (!*p)
		*p = xzalloc(sizeof(struct uxsk_restore));
	return *p;
}

static const struct uxsk_restore *restore_state_ro(const struct restore_files *rf)
{
	return *files_restore_priv_ro(rf, &unixsk_fd_ops);
}

static int ux_index(const struct uxsk_restore *u, uint32_t id)
{
	for (int i = 0; u && i < u->nr; i++)
		if (u->sks[i]->id == id)
			return i;
	return -1;
}

static int ux_read(struct restore_files *rf, struct img_dir *d)
{
	struct uxsk_restore *u = restore_state(rf);

	if (files_read_msgs(d, IMG_UNIXSK, 0, (void ***)&u->sks, &u->nr))
		return -1;
	for (int i = 0; i < u->nr; i++) {
		UnixSkEntry *e = u->sks[i];
		int p;

		if (e->type != SOCK_STREAM && e->type != SOCK_DGRAM &&
		    e->type != SOCK_SEQPACKET) {
			pr_err("image unixsk.img is corrupt: socket %u has type %u", e->id, e->type);
			return -1;
		}
		if (!e->has_peer_id)
			continue;
		p = ux_index(u, e->peer_id);
		if (p < 0 || p == i || u->sks[p]->peer_id != e->id ||
		    u->sks[p]->type != e->type) {
			pr_err("image unixsk.img is corrupt: socket %u names %u as its other end",
			       e->id, e->peer_id);
			return -1;
		}
	}
	return 0;
}

static int getint(int fd, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, opt, &v, &len))
		return -1;
	return v;
}

/* A buffer size as getsockopt said it (twice what was asked). */
static int set_buf(int fd, int opt, int force, uint32_t val, const UnixSkEntry *e)
{
	int half = val / 2;

	if (getint(fd, opt) == (int)val)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, force, &half, sizeof(half)) ||
	    getint(fd, opt) != (int)val) {
		pr_err("can't give unix socket socket:[%llu] its %s of %u bytes (got %d)",
		       (unsigned long long)e->ino, opt == SO_SNDBUF ? "SO_SNDBUF" : "SO_RCVBUF",
		       val, getint(fd, opt));
		return -1;
	}
	return 0;
}

/* Write the queue of e into its socket through w, the other end. */
static int refill(const UnixSkEntry *e, int w)
{
	size_t total = 0;
	int big;

	for (size_t i = 0; i < e->n_queue; i++)
		total += e->queue[i].len;
	if (!e->n_queue)
		return 0;
	/* Room enough for all of it while crest writes; set back after. */
	big = total + 256 * e->n_queue + 65536;
	if (setsockopt(w, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big))) {
		pr_perror("can't make room to refill unix socket socket:[%llu]",
			  (unsigned long long)e->ino);
		return -1;
	}
	for (size_t i = 0; i < e->n_queue; i++) {
		const char *p = (const char *)e->queue[i].data;
		size_t left = e->queue[i].len;

		do {
			ssize_t n = send(w, p, left, MSG_DONTWAIT | MSG_NOSIGNAL);

			if (n < 0) {
				pr_perror("can't refill unix socket socket:[%llu] (message %zu of %zu)",
					  (unsigned long long)e->ino, i + 1, e->n_queue);
				return -1;
			}
			if (e->type != SOCK_STREAM && (size_t)n != left) {
				pr_err("unix socket socket:[%llu]: message %zu went in cut",
				       (unsigned long long)e->ino, i + 1);
				return -1;
			}
			p += n;
			left -= n;
		} while (left);
	}
	return 0;
}

static int finish(const UnixSkEntry *e, int fd)
{
	int how = -1;

	if (e->peek_off != -1 && set_peek_off(fd, e->peek_off))
		return -1;
	if (e->passcred) {
		int one = 1;

		if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one))) {
			pr_perror("can't set SO_PASSCRED on socket:[%llu]",
				  (unsigned long long)e->ino);
			return -1;
		}
	}
	switch (e->shutdown & (RCV_SHUTDOWN | SEND_SHUTDOWN)) {
	case RCV_SHUTDOWN:			how = SHUT_RD; break;
	case SEND_SHUTDOWN:			how = SHUT_WR; break;
	case RCV_SHUTDOWN | SEND_SHUTDOWN:	how = SHUT_RDWR; break;
	}
	if (how >= 0 && shutdown(fd, how)) {
		pr_perror("can't shut unix socket socket:[%llu] down (%u)",
			  (unsigned long long)e->ino, e->shutdown);
		return -1;
	}
	return 0;
}

static int ux_open(struct restore_files *rf, struct img_dir *d,
		   MmEntry **mms, int nr_mms)
{
	struct uxsk_restore *u = restore_state(rf);
	int *ghost, ret = -1;

	(void)d;
	(void)mms;
	(void)nr_mms;
	u->fd = xzalloc((u->nr + 1) * sizeof(int));
	ghost = xzalloc((u->nr + 1) * sizeof(int));
	for (int i = 0; i < u->nr; i++)
		u->fd[i] = ghost[i] = -1;
	/* Make them: pairs once, a closed peer as a ghost end. */
	for (int i = 0; i < u->nr; i++) {
		UnixSkEntry *e = u->sks[i];
		int sv[2];

		if (u->fd[i] >= 0)
			continue;
		if (e->has_peer_id || e->peer_closed) {
			if (socketpair(AF_UNIX, e->type | SOCK_CLOEXEC, 0, sv)) {
				pr_perror("can't create a unix %s socketpair", type_name(e->type));
				goto out;
			}
			u->fd[i] = files_to_service(sv[0], rf->base);
			if (e->has_peer_id)
				u->fd[ux_index(u, e->peer_id)] = files_to_service(sv[1], rf->base);
			else
				ghost[i] = files_to_service(sv[1], rf->base);
		} else {
			u->fd[i] = socket(AF_UNIX, e->type | SOCK_CLOEXEC, 0);
			if (u->fd[i] < 0) {
				pr_perror("can't create a unix %s socket", type_name(e->type));
				goto out;
			}
			u->fd[i] = files_to_service(u->fd[i], rf->base);
		}
		if (u->fd[i] < 0 || (e->has_peer_id && u->fd[ux_index(u, e->peer_id)] < 0) ||
		    (e->peer_closed && ghost[i] < 0))
			goto out;
	}
	/* Their queues, written by the other end. */
	for (int i = 0; i < u->nr; i++) {
		UnixSkEntry *e = u->sks[i];
		int w = e->has_peer_id ? u->fd[ux_index(u, e->peer_id)] : ghost[i];

		if (e->n_queue && w < 0) {
			pr_err("image unixsk.img is corrupt: socket %u has a queue and no other end",
			       e->id);
			goto out;
		}
		if (refill(e, w))
			goto out;
	}
	for (int i = 0; i < u->nr; i++) {
		UnixSkEntry *e = u->sks[i];

		if (ghost[i] >= 0) {
			close(ghost[i]);
			ghost[i] = -1;
		}
		if ((e->has_sndbuf && set_buf(u->fd[i], SO_SNDBUF, SO_SNDBUFFORCE, e->sndbuf, e)) ||
		    (e->has_rcvbuf && set_buf(u->fd[i], SO_RCVBUF, SO_RCVBUFFORCE, e->rcvbuf, e)))
			goto out;
	}
	/* Last: what would stop the refill. */
	for (int i = 0; i < u->nr; i++)
		if (finish(u->sks[i], u->fd[i]))
			goto out;
	ret = 0;
out:
	for (int i = 0; i < u->nr; i++)
		if (ghost[i] >= 0)
			close(ghost[i]);
	free(ghost);
	return ret;
}

static int ux_service_fd(const struct restore_files *rf, const FdEntry *e)
{
	const struct uxsk_restore *u = restore_state_ro(rf);
	int i = ux_index(u, e->file_id);

	return i < 0 || !u->fd ? -1 : u->fd[i];
}

static void ux_show(const struct restore_files *rf, const FdEntry *e,
		    char *buf, size_t len)
{
	const struct uxsk_restore *u = restore_state_ro(rf);
	int i = ux_index(u, e->file_id);
	const UnixSkEntry *s;

	if (i < 0) {
		snprintf(buf, len, "unix socket %u, not in the images", e->file_id);
		return;
	}
	s = u->sks[i];
	snprintf(buf, len, "unix %s socket:[%llu], %s, %zu messages queued",
		 type_name(s->type), (unsigned long long)s->ino,
		 s->has_peer_id ? "one end of a pair" :
		 s->peer_closed ? "its other end closed" : "not connected",
		 s->n_queue);
}

const struct fd_kind_ops unixsk_fd_ops = {
	.name		= "unix socket",
	.kind		= FD_KIND__FD_UNIX_SK,
	.recognise	= ux_recognise,
	.dump		= ux_dump,
	.collected	= ux_collected,
	.write		= ux_write,
	.read		= ux_read,
	.open		= ux_open,
	.service_fd	= ux_service_fd,
	.show		= ux_show,
};
