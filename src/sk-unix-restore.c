/*
 * Unix sockets at restore: every socket of unixsk.img is made once in
 * crest, as a service fd every task that holds it inherits, in the
 * network namespace it was made in (ns_of(): crest's thread enters it for
 * the socket() or socketpair(), whatever namespace the holders are in;
 * an accepted end is made in its client's by the kernel). In order:
 *
 *   1. make them: a socketpair for each pair of unnamed ends (and for an
 *      end whose peer was closed: the other end is closed after the
 *      refill), a socket for the rest; the server end of an accepted
 *      connection waits for step 4
 *   2. bind the named ones: a path's stale socket file (bound by no live
 *      socket) is removed first, never anything else; the file gets its
 *      mode and owner back
 *   3. listen, with the backlog
 *   4. accepted connections: the client connects to the listener of the
 *      tree (or to one made for it under the same name, closed after),
 *      the listener accepts: the server end has the listener's name
 *   5. connections waiting to be accepted: each client connects to its
 *      listener, in the order they came
 *   (3-5 of a listener that listened in a live process of the tree,
 *   listen_by: that process listens in ux_task_early; clients its process
 *   or a descendant's connected (connect_by) are connected there too, and
 *   accept_later, in tasks_made, accepts them, then connects and accepts
 *   the other accepted ones, then connects the waiting ones)
 *   6. (steps 6-9 in queues: every kind has made its objects, every
 *      task exists) queues: stream bytes and records written by the
 *      other end; datagrams sent to each socket by a socket with the
 *      sender's name (the sender of the tree, or one made for it); each
 *      message with its fds in flight (the service fds of their objects)
 *      and its sender's credentials (SCM_CREDENTIALS, its pid now)
 *   7. datagram sockets connect to theirs; --ext-unix-sk ones to the
 *      name outside the tree
 *   8. paths whose file was unlinked at the dump are unlinked
 *   9. buffer sizes, peek offset, SO_PASS*, shutdowns (last: a
 *      shutdown would stop the refill)
 *
 * SO_PEERCRED: the kernel gives each end the credentials of whoever made
 * the pair (socketpair), of the listener (a client: the creds listen()
 * took) or of whoever connected (an accepted end). crest makes, listens
 * and connects with the dumped euid and egid as its effective ids for the
 * moment (crest as root), so the uid and gid come back; the pid is crest's
 * unless a restored task makes the socket or makes the call (listen_by,
 * connect_by, made_by): crest(8), LIMITATIONS. A
 * socketpair made by a process of the tree (made_by) is made by it again:
 * ux_task_early, as soon as it exists, at service fd numbers crest
 * reserved in open; crest takes both ends from it in tasks_made, and the
 * holders take them from crest (FD_MADE_LATER, post_open).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "files.h"
#include "files-kind.h"
#include "image.h"
#include "log.h"
#include "namespaces.h"
#include "sk-netns.h"
#include "sk-opts.h"
#include "sk-unix.h"
#include "util.h"

struct uxsk_restore {
	UnixSkEntry **sks;
	int nr;
	int *fd;		/* service fd of each */
	int *ghost;		/* the other end of one whose peer was closed,
				 * until its queue is refilled */
	bool *later;		/* made by the task that made it (made_by):
				 * u->fd[i] (and ghost[i]) reserved until
				 * tasks_made takes it from that task */
	pid_t crest;		/* whose fds the holders take then */
	const struct ns_restore *ns;	/* where each is made (ns_of()) */
};

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

/* "'/path'" or "'@abstract'" of a name, for messages. */
static const char *name_str(const ProtobufCBinaryData *n, char *buf, size_t size)
{
	if (n->len && !n->data[0])
		snprintf(buf, size, "'@%.*s'", (int)n->len - 1, (char *)n->data + 1);
	else
		snprintf(buf, size, "'%.*s'", (int)n->len, (char *)n->data);
	return buf;
}

static int bad_image(const UnixSkEntry *e, const char *what)
{
	pr_err("image unixsk.img is corrupt: socket %u %s", e->id, what);
	return -1;
}

static int check_entry(const struct uxsk_restore *u, int i)
{
	const UnixSkEntry *e = u->sks[i];
	struct sockaddr_un sa;
	int p;

	if (e->type != SOCK_STREAM && e->type != SOCK_DGRAM &&
	    e->type != SOCK_SEQPACKET)
		return bad_image(e, "has an unknown type");
	if ((e->has_name && !ux_addr(&e->name, &sa)) ||
	    (e->has_ext_peer && !ux_addr(&e->ext_peer, &sa)))
		return bad_image(e, "has a name no socket can have");
	if (sk_opts_check(e->opts, e->n_opts))
		return bad_image(e, "has an option that can't be");
	if (e->n_queue_from && e->n_queue_from != e->n_queue)
		return bad_image(e, "has senders for not every message");
	for (size_t j = 0; j < e->n_queue_from; j++)
		if (e->queue_from[j].len && !ux_addr(&e->queue_from[j], &sa))
			return bad_image(e, "has a message from a name no socket can have");
	for (size_t j = 0; j < e->n_anc; j++) {
		const UnixSkAnc *a = e->anc[j];

		if (a->msg >= e->n_queue || a->n_rights > 253 ||
		    (j && a->msg <= e->anc[j - 1]->msg))
			return bad_image(e, "has a control message for no message of its queue");
	}
	if (e->has_backlog && (e->state != TCP_LISTEN || !e->has_name))
		return bad_image(e, "has a backlog and does not listen");
	for (size_t j = 0; j < e->n_pending; j++) {
		p = ux_index(u, e->pending[j]);
		if (!e->has_backlog || p < 0 || p == i || u->sks[p]->has_peer_id ||
		    u->sks[p]->peer_closed || u->sks[p]->type != e->type)
			return bad_image(e, "has a pending connection that can't be");
	}
	if (e->accepted && (!e->has_peer_id || !e->has_name))
		return bad_image(e, "was accepted and has no peer or name");
	if (e->has_listener_id) {
		p = ux_index(u, e->listener_id);
		if (!e->accepted || p < 0 || !u->sks[p]->has_backlog ||
		    u->sks[p]->type != e->type)
			return bad_image(e, "names a listener that can't be");
	}
	if (e->has_dgram_peer_id) {
		p = ux_index(u, e->dgram_peer_id);
		if (e->type != SOCK_DGRAM || p < 0 || p == i ||
		    !u->sks[p]->has_name || u->sks[p]->type != SOCK_DGRAM)
			return bad_image(e, "is connected to a socket that can't be");
	}
	if (!e->has_peer_id)
		return 0;
	p = ux_index(u, e->peer_id);
	if (p < 0 || p == i || u->sks[p]->peer_id != e->id ||
	    u->sks[p]->type != e->type || (e->accepted && u->sks[p]->accepted))
		return bad_image(e, "names another socket as its other end that can't be");
	/* Both ends are made in one namespace (an accepted one in its client's). */
	if (u->sks[p]->has_net_ns != e->has_net_ns || u->sks[p]->net_ns != e->net_ns)
		return bad_image(e, "is of another network namespace than its other end");
	return 0;
}

int ux_read(struct restore_files *rf, struct img_dir *d)
{
	struct uxsk_restore *u = restore_state(rf);

	if (files_read_msgs(d, IMG_UNIXSK, 0, (void ***)&u->sks, &u->nr))
		return -1;
	for (int i = 0; i < u->nr; i++)
		if (check_entry(u, i))
			return -1;
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

static int set_peek_off(int fd, int off)
{
	if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off))) {
		pr_perror("can't set SO_PEEK_OFF");
		return -1;
	}
	return 0;
}

/*
 * The path of a socket to bind is free: nothing there, or a socket file
 * no live socket is bound to (a stale one, left by the process dumped and
 * killed), which goes. Anything else stays and the restore fails.
 */
static int free_path(const char *path, const UnixSkEntry *e, bool remove)
{
	struct stat st;
	char *dir, *slash;
	int r;

	if (lstat(path, &st)) {
		if (errno != ENOENT) {
			pr_perror("can't look at '%s' to bind socket:[%llu] there", path,
				  (unsigned long long)e->ino);
			return -1;
		}
		dir = xstrdup(path);
		slash = strrchr(dir, '/');
		if (slash)
			*(slash == dir ? slash + 1 : slash) = '\0';
		r = slash && stat(dir, &st) ? -1 : 0;
		if (r)
			pr_perror("can't bind unix socket socket:[%llu] to '%s': no directory '%s'",
				  (unsigned long long)e->ino, path, dir);
		free(dir);
		return r;
	}
	if (!S_ISSOCK(st.st_mode)) {
		pr_err("can't bind unix socket socket:[%llu] to '%s': a file that is not a socket is there",
		       (unsigned long long)e->ino, path);
		return -1;
	}
	r = ux_vfs_in_use(st.st_ino);
	if (r < 0)
		return -1;
	if (r) {
		pr_err("can't bind unix socket socket:[%llu] to '%s': a live socket is bound there",
		       (unsigned long long)e->ino, path);
		return -1;
	}
	if (!remove)
		return 0;
	if (unlink(path) && errno != ENOENT) {
		pr_perror("can't remove the stale socket file '%s'", path);
		return -1;
	}
	pr_debug("removed the stale socket file '%s'", path);
	return 0;
}

/* The socket of the tree that sends with name f, or -1. */
static int tree_sender(const struct uxsk_restore *u, const ProtobufCBinaryData *f)
{
	for (int k = 0; u && k < u->nr; k++) {
		const UnixSkEntry *s = u->sks[k];

		if (s->has_name && !s->accepted && !s->has_backlog &&
		    s->name.len == f->len && !memcmp(s->name.data, f->data, f->len))
			return k;
	}
	return -1;
}

/*
 * Before anything is made: every path crest will bind is free or a stale
 * socket file, in a directory that exists; every path an --ext-unix-sk
 * socket connects to is a socket file.
 */
int ux_check(const struct restore_files *rf)
{
	const struct uxsk_restore *u = restore_state_ro(rf);
	int ret = 0;

	for (int i = 0; u && i < u->nr; i++) {
		const UnixSkEntry *e = u->sks[i];
		struct sockaddr_un sa;
		struct stat st;

		if (e->has_net_ns && (!rf->ns || !ns_net_known(rf->ns, e->net_ns))) {
			pr_err("image unixsk.img is corrupt: socket %u is of network namespace %u, which namespaces.img does not hold",
			       e->id, e->net_ns);
			ret = -1;
			continue;
		}
		if (e->has_name && (!e->accepted || !e->has_listener_id) &&
		    ux_addr(&e->name, &sa) && sa.sun_path[0] &&
		    free_path(sa.sun_path, e, false))
			ret = -1;
		/* A sender's path crest binds for the moment: nothing there. */
		for (size_t j = 0; !e->has_peer_id && !e->peer_closed && j < e->n_queue_from; j++) {
			const ProtobufCBinaryData *f = &e->queue_from[j];

			if (!f->len || !f->data[0] || tree_sender(u, f) >= 0 ||
			    !ux_addr(f, &sa) || lstat(sa.sun_path, &st))
				continue;
			pr_err("can't send socket:[%llu] its datagram from '%s' again: something is at that path now",
			       (unsigned long long)e->ino, sa.sun_path);
			ret = -1;
			break;
		}
		if (e->has_ext_peer && ux_addr(&e->ext_peer, &sa) && sa.sun_path[0] &&
		    (stat(sa.sun_path, &st) || !S_ISSOCK(st.st_mode))) {
			pr_err("socket:[%llu] was connected to '%s' outside the tree (--ext-unix-sk), which is no longer a socket",
			       (unsigned long long)e->ino, sa.sun_path);
			ret = -1;
		}
	}
	return ret;
}

static int set_file_attrs(const char *path, const UnixSkEntry *e)
{
	if ((e->has_file_uid && fchownat(AT_FDCWD, path, e->file_uid, e->file_gid,
					 AT_SYMLINK_NOFOLLOW)) ||
	    (e->has_file_mode && chmod(path, e->file_mode))) {
		pr_perror("can't give the socket file '%s' its owner and mode", path);
		return -1;
	}
	return 0;
}

/* Bind fd to name; a path's file gets e's mode and owner if attrs. */
static int bind_name(int fd, const UnixSkEntry *e, const ProtobufCBinaryData *name,
		     bool attrs)
{
	struct sockaddr_un sa;
	socklen_t len = ux_addr(name, &sa);
	bool path = sa.sun_path[0];
	char buf[240];

	if (path && free_path(sa.sun_path, e, true))
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, len)) {
		pr_perror("can't bind unix socket socket:[%llu] to %s",
			  (unsigned long long)e->ino, name_str(name, buf, sizeof(buf)));
		return -1;
	}
	if (!path || !attrs || e->file_gone)
		return 0;
	return set_file_attrs(sa.sun_path, e);
}

static int connect_name(int fd, const ProtobufCBinaryData *name, const UnixSkEntry *e)
{
	struct sockaddr_un sa;
	socklen_t len = ux_addr(name, &sa);
	char buf[240];

	if (connect(fd, (struct sockaddr *)&sa, len)) {
		pr_perror("can't connect unix socket socket:[%llu] to %s",
			  (unsigned long long)e->ino, name_str(name, buf, sizeof(buf)));
		return -1;
	}
	return 0;
}

/*
 * Take the effective uid and gid a peer of e saw (SO_PEERCRED) for the
 * next socketpair, listen or connect: 1 if taken (give them back with
 * creds_back), 0 if there is nothing to take, -1 (reported).
 */
static int creds_as(const UnixSkEntry *e)
{
	if (!e || !e->has_peer_uid || e->peer_uid == (uint32_t)-1 || geteuid() ||
	    (e->peer_uid == 0 && e->peer_gid == getegid()))
		return 0;
	if (setresgid(-1, e->peer_gid, -1) || setresuid(-1, e->peer_uid, -1)) {
		pr_perror("can't take uid %u gid %u to make socket:[%llu]", e->peer_uid,
			  e->peer_gid, (unsigned long long)e->ino);
		if (setresgid(-1, 0, -1))
			pr_perror("can't take gid 0 back");
		return -1;
	}
	return 1;
}

/* crest's own effective ids again; errno as it was. */
static int creds_back(int taken)
{
	int err = errno;

	if (taken <= 0)
		return 0;
	if (setresuid(-1, 0, -1) || setresgid(-1, 0, -1)) {
		pr_perror("can't take crest's own uid and gid back");
		return -1;
	}
	errno = err;
	return 0;
}

/* listen(), with e's SO_PEERCRED to give the clients. */
static int listen_as(int fd, int backlog, const UnixSkEntry *e, const UnixSkEntry *cred)
{
	int as = creds_as(cred), r;

	if (as < 0)
		return -1;
	r = listen(fd, backlog);
	if (creds_back(as))
		return -1;
	if (r)
		pr_perror("can't listen on unix socket socket:[%llu]",
			  (unsigned long long)e->ino);
	return r;
}

/*
 * connect() to name as whoever cred's peer saw connect. Without the
 * rights to the path as that user, as crest (the peer then sees crest).
 */
static int connect_as(int fd, const ProtobufCBinaryData *name, const UnixSkEntry *e,
		      const UnixSkEntry *cred)
{
	struct sockaddr_un sa;
	socklen_t len = ux_addr(name, &sa);
	int as = creds_as(cred), r;

	if (as < 0)
		return -1;
	r = connect(fd, (struct sockaddr *)&sa, len);
	if (creds_back(as))
		return -1;
	if (r && as && errno == EACCES) {
		pr_debug("socket:[%llu]: no access to '%s' as uid %u, connecting as crest",
			 (unsigned long long)e->ino, sa.sun_path, cred->peer_uid);
		return connect_name(fd, name, e);
	}
	if (r) {
		char buf[240];

		pr_perror("can't connect unix socket socket:[%llu] to %s",
			  (unsigned long long)e->ino, name_str(name, buf, sizeof(buf)));
	}
	return r;
}

/*
 * The network namespace e is made in, whoever holds it, an fd of it: the
 * one it was made in at the dump (-1: the calling thread's, for an image
 * that does not say; crest is in the tree's first process's then).
 */
static int ns_of(const struct ns_restore *ns, const UnixSkEntry *e)
{
	return ns ? ns_net_fd(ns, e->has_net_ns, e->net_ns) : -1;
}

/* A unix socket of type made in e's network namespace. */
static int new_socket(const struct uxsk_restore *u, const UnixSkEntry *e, unsigned int type)
{
	int fd = sk_socket_in(ns_of(u->ns, e), AF_UNIX, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		pr_perror("can't create a unix %s socket", ux_type_name(type));
	return fd;
}

/*
 * A socketpair for e, in its network namespace, made with the ids its
 * peer saw (creds_as(): taken once the thread is in the namespace, which
 * a thread that is not root can't enter). -1 reported.
 */
static int make_pair(const struct ns_restore *ns, const UnixSkEntry *e, int sv[2])
{
	int own, as, r;

	if (sk_netns_enter(ns_of(ns, e), &own))
		return -1;
	as = creds_as(e);
	if (as < 0) {
		sk_netns_leave(own);
		return -1;
	}
	r = socketpair(AF_UNIX, e->type | SOCK_CLOEXEC, 0, sv);
	if (creds_back(as) | sk_netns_leave(own)) {
		if (!r) {
			close(sv[0]);
			close(sv[1]);
		}
		return -1;
	}
	if (r)
		pr_perror("can't create a unix %s socketpair", ux_type_name(e->type));
	return r;
}

/*
 * The server end of an accepted connection: its client connects to the
 * listener, which accepts. With no listener in the tree, one is made
 * under the name for the moment (its path left as the dump found it: a
 * stale socket file, or nothing).
 */
static int make_accepted(struct uxsk_restore *u, int i, int base)
{
	UnixSkEntry *e = u->sks[i];
	int c = u->fd[ux_index(u, e->peer_id)], l, s;
	struct sockaddr_un sa;

	ux_addr(&e->name, &sa);
	if (e->has_listener_id) {
		l = u->fd[ux_index(u, e->listener_id)];
	} else {
		l = new_socket(u, e, e->type);
		if (l < 0)
			return -1;
		/* The client sees the listener's creds: its own SO_PEERCRED. */
		if (bind_name(l, e, &e->name, false) ||
		    listen_as(l, 1, e, u->sks[ux_index(u, e->peer_id)])) {
			close(l);
			return -1;
		}
	}
	/* This end sees who connected. */
	if (connect_as(c, &e->name, u->sks[ux_index(u, e->peer_id)], e))
		goto err;
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (s < 0) {
		pr_perror("can't accept the connection of socket:[%llu]",
			  (unsigned long long)e->ino);
		goto err;
	}
	/* Blocking again, as a socket is made; files.c sets the flags. */
	if (fcntl(s, F_SETFL, 0)) {
		pr_perror("can't make socket:[%llu] blocking", (unsigned long long)e->ino);
		close(s);
		goto err;
	}
	u->fd[i] = files_to_service(s, base);
	if (!e->has_listener_id) {
		close(l);
		/* The closed listener's file: stale as it was, or gone. */
		if (sa.sun_path[0] && e->file_gone && unlink(sa.sun_path) && errno != ENOENT) {
			pr_perror("can't remove '%s' (made to accept socket:[%llu])",
				  sa.sun_path, (unsigned long long)e->ino);
			return -1;
		}
		if (sa.sun_path[0] && !e->file_gone && set_file_attrs(sa.sun_path, e))
			return -1;
	}
	return u->fd[i] < 0 ? -1 : 0;
err:
	if (!e->has_listener_id)
		close(l);
	return -1;
}

/* Is e accepted from a listener its process listens on again (listen_by)? */
static bool listens_later(const struct uxsk_restore *u, const UnixSkEntry *e)
{
	return e->accepted && e->has_listener_id &&
	       u->sks[ux_index(u, e->listener_id)]->has_listen_by;
}

/* A service fd number kept for a socket a task will make. */
static int reserve(int *fd, int base)
{
	*fd = files_to_service(open("/dev/null", O_RDONLY | O_CLOEXEC), base);
	return *fd < 0 ? -1 : 0;
}

/* Make every socket, named, listening, accepted, waiting (steps 1-5). */
static int make_sockets(struct uxsk_restore *u, int *ghost, int base)
{
	for (int i = 0; i < u->nr; i++) {
		UnixSkEntry *e = u->sks[i], *p;
		int sv[2];

		p = e->has_peer_id ? u->sks[ux_index(u, e->peer_id)] : NULL;
		if (u->fd[i] >= 0 || e->accepted)
			continue;
		if ((p && !p->accepted) || e->peer_closed) {
			if (e->has_made_by && !e->has_name && (!p || !p->has_name)) {
				/* Its maker makes it (ux_task_early): numbers for now. */
				u->later[i] = true;
				if (p)
					u->later[ux_index(u, e->peer_id)] = true;
				if (reserve(&u->fd[i], base) ||
				    reserve(p ? &u->fd[ux_index(u, e->peer_id)] : &ghost[i], base))
					return -1;
				continue;
			}
			if (make_pair(u->ns, e, sv))
				return -1;
			u->fd[i] = files_to_service(sv[0], base);
			if (p)
				u->fd[ux_index(u, e->peer_id)] = files_to_service(sv[1], base);
			else
				ghost[i] = files_to_service(sv[1], base);
			if (u->fd[i] < 0 || (p && u->fd[ux_index(u, e->peer_id)] < 0) ||
			    (e->peer_closed && ghost[i] < 0))
				return -1;
			continue;
		}
		u->fd[i] = files_to_service(new_socket(u, e, e->type), base);
		if (u->fd[i] < 0)
			return -1;
	}
	for (int i = 0; i < u->nr; i++) {
		UnixSkEntry *e = u->sks[i];

		if (e->has_name && !e->accepted && bind_name(u->fd[i], e, &e->name, true))
			return -1;
		/* Its process listens (ux_task_early): SO_PEERCRED's pid. */
		if (e->has_backlog && !e->has_listen_by &&
		    listen_as(u->fd[i], e->backlog, e, e))
			return -1;
	}
	for (int i = 0; i < u->nr; i++) {
		if (!u->sks[i]->accepted)
			continue;
		/* Accepted once every task exists (accept_later): a number for now. */
		if (listens_later(u, u->sks[i])) {
			u->later[i] = true;
			if (reserve(&u->fd[i], base))
				return -1;
			continue;
		}
		if (make_accepted(u, i, base))
			return -1;
	}
	for (int i = 0; i < u->nr; i++) {
		UnixSkEntry *e = u->sks[i];

		if (e->has_listen_by)
			continue;
		for (size_t j = 0; j < e->n_pending; j++) {
			int c = ux_index(u, e->pending[j]);

			if (connect_name(u->fd[c], &e->name, u->sks[c]))
				return -1;
		}
	}
	return 0;
}

/* Room enough in w's send buffer for a queue of total bytes in nr. */
static int make_room(int w, size_t total, size_t nr, const UnixSkEntry *e)
{
	int big = total + 512 * nr + 65536;

	if (setsockopt(w, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big))) {
		pr_perror("can't make room to refill unix socket socket:[%llu]",
			  (unsigned long long)e->ino);
		return -1;
	}
	return 0;
}

/*
 * Who sends datagram i of e: the other end of its pair (or the ghost of
 * a closed one), the socket of the tree with the sender's name, or a
 * socket made for it (unbound, or bound to its abstract name), which
 * *tmp holds.
 */
static int sender(const struct uxsk_restore *u, const UnixSkEntry *e, int ghost,
		  size_t i, int *tmp)
{
	const ProtobufCBinaryData *f = i < e->n_queue_from ? &e->queue_from[i] : NULL;

	*tmp = -1;
	if (e->has_peer_id)
		return u->fd[ux_index(u, e->peer_id)];
	if (ghost >= 0)
		return ghost;
	if (f && f->len && tree_sender(u, f) >= 0)
		return u->fd[tree_sender(u, f)];
	/* In e's namespace: an abstract name is found in the sender's. */
	*tmp = new_socket(u, e, SOCK_DGRAM);
	if (*tmp >= 0 && f && f->len && bind_name(*tmp, e, f, false)) {
		close(*tmp);
		*tmp = -1;
	}
	return *tmp;
}

/*
 * A socket made to send as a sender bound to a path: closed, and its
 * file removed (the dump found nothing there, ux_check nothing before).
 */
static int close_sender(int tmp, const UnixSkEntry *e, size_t i)
{
	const ProtobufCBinaryData *f = i < e->n_queue_from ? &e->queue_from[i] : NULL;
	struct sockaddr_un sa;

	close(tmp);
	if (!f || !f->len || !f->data[0] || !ux_addr(f, &sa))
		return 0;
	if (unlink(sa.sun_path) && errno != ENOENT) {
		pr_perror("can't remove '%s' (bound to send socket:[%llu] a datagram)",
			  sa.sun_path, (unsigned long long)e->ino);
		return -1;
	}
	return 0;
}

/* What came with message k of e besides its bytes, or NULL. */
static const UnixSkAnc *anc_of(const UnixSkEntry *e, size_t k)
{
	for (size_t j = 0; j < e->n_anc; j++)
		if (e->anc[j]->msg == k)
			return e->anc[j];
	return NULL;
}

/*
 * The control messages of a message to send again: its fds in flight
 * (the service fds of their objects, with the status flags the fds had)
 * and the credentials of its sender (the same process, by its pid now).
 * Length in *len; -1 reported.
 */
static int anc_cmsgs(const struct restore_files *rf, const struct files_pid_map *map,
		     const struct uxsk_restore *u, const UnixSkEntry *e,
		     const UnixSkAnc *a, char *ctl,
		     size_t size, size_t *len)
{
	struct msghdr mh = { .msg_control = ctl, .msg_controllen = size };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	memset(ctl, 0, size);
	*len = 0;
	if (a->n_rights) {
		int *fds = (int *)CMSG_DATA(c);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(a->n_rights * sizeof(int));
		for (size_t i = 0; i < a->n_rights; i++) {
			const FdEntry *fe = a->rights[i];
			char what[160];

			/* crest's own copy, whatever the kind (made later or not). */
			fds[i] = files_in_flight_fd(rf, fe);
			if (fds[i] < 0) {
				files_show_fd(rf, fe, what, sizeof(what));
				pr_err("socket:[%llu]: fd %zu in flight with message %u (%s, %s) can't be made again",
				       (unsigned long long)e->ino, i + 1, a->msg + 1, fe->desc, what);
				return -1;
			}
			if (fe->has_flags && files_set_status(fds[i], fe))
				return -1;
		}
		*len += CMSG_SPACE(a->n_rights * sizeof(int));
		c = CMSG_NXTHDR(&mh, c);
	}
	if (a->has_cred_pid) {
		struct ucred uc = { a->cred_pid, a->cred_uid, a->cred_gid };

		if (map && map->new_pid)
			uc.pid = map->new_pid(map->arg, a->cred_pid);
		if (uc.pid <= 0) {
			pr_err("socket:[%llu]: message %u was sent by process %d, which is not restored",
			       (unsigned long long)e->ino, a->msg + 1, a->cred_pid);
			return -1;
		}
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_CREDENTIALS;
		c->cmsg_len = CMSG_LEN(sizeof(uc));
		memcpy(CMSG_DATA(c), &uc, sizeof(uc));
		*len += CMSG_SPACE(sizeof(uc));
	}
	return 0;
}

/*
 * Write the queue of e, socket fd, from its peers (step 6), each message
 * with what came with it: in a stream, the fds go with the first byte of
 * what the dump read with them (the kernel joins the bytes before them).
 */
static int refill(const struct restore_files *rf, const struct files_pid_map *map,
		  const struct uxsk_restore *u, int i, int ghost)
{
	const UnixSkEntry *e = u->sks[i];
	size_t total = 0;
	struct sockaddr_un sa;
	socklen_t salen = 0;

	if (!e->n_queue)
		return 0;
	for (size_t k = 0; k < e->n_queue; k++)
		total += e->queue[k].len;
	if (!e->has_peer_id && ghost < 0) {
		if (e->type != SOCK_DGRAM || !e->has_name)
			return bad_image(e, "has a queue and nobody to send it");
		salen = ux_addr(&e->name, &sa);
	}
	for (size_t k = 0; k < e->n_queue; k++) {
		const char *p = (const char *)e->queue[k].data;
		size_t left = e->queue[k].len;
		int tmp, w = sender(u, e, ghost, k, &tmp);
		const UnixSkAnc *a = anc_of(e, k);
		char ctl[2048] __attribute__((aligned(8)));
		size_t ctllen = 0;

		if (w < 0 || make_room(w, total, e->n_queue, e))
			goto err;
		if (a && (a->n_rights > 253 || anc_cmsgs(rf, map, u, e, a, ctl, sizeof(ctl), &ctllen)))
			goto err;
		do {
			struct iovec iov = { (void *)p, left };
			struct msghdr mh = { .msg_name = salen ? &sa : NULL, .msg_namelen = salen,
					     .msg_iov = &iov, .msg_iovlen = 1,
					     .msg_control = ctllen ? ctl : NULL,
					     .msg_controllen = ctllen };
			ssize_t n = sendmsg(w, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);

			if (n < 0) {
				pr_perror("can't refill unix socket socket:[%llu] (message %zu of %zu)",
					  (unsigned long long)e->ino, k + 1, e->n_queue);
				goto err;
			}
			if (e->type != SOCK_STREAM && (size_t)n != left) {
				pr_err("unix socket socket:[%llu]: message %zu went in cut",
				       (unsigned long long)e->ino, k + 1);
				goto err;
			}
			p += n;
			left -= n;
			ctllen = 0;	/* sent with the first part */
		} while (left);
		if (tmp >= 0 && close_sender(tmp, e, k))
			return -1;
		continue;
err:
		if (tmp >= 0)
			close_sender(tmp, e, k);
		return -1;
	}
	return 0;
}

static int finish(const UnixSkEntry *e, int fd)
{
	int how = -1;

	if (e->peek_off != -1 && set_peek_off(fd, e->peek_off))
		return -1;
	static const struct { int opt; const char *name; } pass[] = {
		{ SO_PASSCRED, "SO_PASSCRED" }, { SO_PASSSEC, "SO_PASSSEC" },
		{ SO_PASSPIDFD, "SO_PASSPIDFD" },
	};
	bool on[] = { e->passcred, e->passsec, e->passpidfd };

	for (size_t k = 0; k < sizeof(on) / sizeof(on[0]); k++) {
		int one = 1;

		if (on[k] && setsockopt(fd, SOL_SOCKET, pass[k].opt, &one, sizeof(one))) {
			pr_perror("can't set %s on socket:[%llu]", pass[k].name,
				  (unsigned long long)e->ino);
			return -1;
		}
	}
	if (e->n_opts) {
		char what[64];

		snprintf(what, sizeof(what), "unix socket socket:[%llu]",
			 (unsigned long long)e->ino);
		if (sk_opts_set(fd, e->opts, e->n_opts, what))
			return -1;
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

/* Steps 7-9: connections of datagram and external sockets, unlinked
 * paths, then what would have stopped the refill. */
static int connect_and_finish(struct uxsk_restore *u)
{
	for (int i = 0; i < u->nr; i++) {
		UnixSkEntry *e = u->sks[i];

		if (e->has_dgram_peer_id &&
		    connect_name(u->fd[i], &u->sks[ux_index(u, e->dgram_peer_id)]->name, e))
			return -1;
		if (e->has_ext_peer && connect_name(u->fd[i], &e->ext_peer, e))
			return -1;
	}
	for (int i = 0; i < u->nr; i++) {
		UnixSkEntry *e = u->sks[i];
		struct sockaddr_un sa;

		if (!e->file_gone || !e->has_name || e->accepted)
			continue;
		ux_addr(&e->name, &sa);
		if (sa.sun_path[0] && unlink(sa.sun_path)) {
			pr_perror("can't unlink '%s' as socket:[%llu]'s was",
				  sa.sun_path, (unsigned long long)e->ino);
			return -1;
		}
	}
	for (int i = 0; i < u->nr; i++) {
		UnixSkEntry *e = u->sks[i];

		if ((e->has_sndbuf && set_buf(u->fd[i], SO_SNDBUF, SO_SNDBUFFORCE, e->sndbuf, e)) ||
		    (e->has_rcvbuf && set_buf(u->fd[i], SO_RCVBUF, SO_RCVBUFFORCE, e->rcvbuf, e)))
			return -1;
	}
	for (int i = 0; i < u->nr; i++)
		if (finish(u->sks[i], u->fd[i]))
			return -1;
	return 0;
}

/*
 * Steps 1-5 here; the queues and what follows once every kind has made
 * its objects and every task exists (ux_tasks_made): a message may carry
 * any object of the tree in flight, and the credentials of a process.
 */
int ux_open(struct restore_files *rf, struct img_dir *d, MmEntry **mms, int nr_mms)
{
	struct uxsk_restore *u = restore_state(rf);

	(void)d;
	(void)mms;
	(void)nr_mms;
	u->fd = xzalloc((u->nr + 1) * sizeof(int));
	u->ghost = xzalloc((u->nr + 1) * sizeof(int));
	u->later = xzalloc((u->nr + 1) * sizeof(bool));
	u->crest = getpid();
	u->ns = rf->ns;
	for (int i = 0; i < u->nr; i++)
		u->fd[i] = u->ghost[i] = -1;
	return make_sockets(u, u->ghost, rf->base);
}

static void close_ghosts(struct uxsk_restore *u)
{
	for (int i = 0; u->ghost && i < u->nr; i++) {
		if (u->ghost[i] >= 0) {
			close(u->ghost[i]);
			u->ghost[i] = -1;
		}
	}
}

/* Is i the end of a pair made later whose maker makes both ends? */
static bool later_first(const struct uxsk_restore *u, int i)
{
	const UnixSkEntry *e = u->sks[i];

	return u->later && u->later[i] && e->has_made_by &&
	       (!e->has_peer_id || i < ux_index(u, e->peer_id));
}

/*
 * In each task as it is made, before it reports: the socketpairs it made
 * (SO_PEERCRED gives its pid to both ends, and its uid and gid: creds_as),
 * at the numbers crest reserved, which this task inherited.
 */
int ux_task_early(const struct restore_files *rf, pid_t pid)
{
	const struct uxsk_restore *u = restore_state_ro(rf);

	for (int i = 0; u && i < u->nr; i++) {
		const UnixSkEntry *e = u->sks[i];
		int sv[2], other;

		if (!later_first(u, i) || e->made_by != pid)
			continue;
		other = e->has_peer_id ? u->fd[ux_index(u, e->peer_id)] : u->ghost[i];
		/* In its namespace, which may not be the task's own now. */
		if (make_pair(rf->ns, e, sv))
			return -1;
		if (dup3(sv[0], u->fd[i], O_CLOEXEC) < 0 || dup3(sv[1], other, O_CLOEXEC) < 0) {
			pr_perror("can't put the socketpair of socket:[%llu] in place",
				  (unsigned long long)e->ino);
			return -1;
		}
		close(sv[0]);
		close(sv[1]);
	}
	/* Listen, then connect: a task may be both (listen_by, connect_by). */
	for (int i = 0; u && i < u->nr; i++) {
		const UnixSkEntry *e = u->sks[i];

		if (e->has_listen_by && e->listen_by == pid &&
		    listen_as(u->fd[i], e->backlog, e, e))
			return -1;
	}
	for (int i = 0; u && i < u->nr; i++) {
		const UnixSkEntry *e = u->sks[i];
		int c;

		if (!e->has_connect_by || e->connect_by != pid || !listens_later(u, e))
			continue;
		/* Not listening yet (its process comes later): crest connects it. */
		if (getint(u->fd[ux_index(u, e->listener_id)], SO_ACCEPTCONN) != 1) {
			pr_debug("socket:[%llu]: its listener does not listen yet, crest connects it",
				 (unsigned long long)e->ino);
			continue;
		}
		c = ux_index(u, e->peer_id);
		if (connect_as(u->fd[c], &e->name, u->sks[c], e))
			return -1;
	}
	return 0;
}

/* crest's copy of a socket task pid made at fd (its number in both). */
static int take_made(pid_t pid, int fd, const UnixSkEntry *e)
{
	int got = pidfd_take(pid, fd);

	if (got < 0) {
		pr_err("can't take socket:[%llu] from process %d, which made it",
		       (unsigned long long)e->ino, pid);
		return -1;
	}
	if (dup3(got, fd, O_CLOEXEC) < 0) {
		pr_perror("can't put socket:[%llu] in place", (unsigned long long)e->ino);
		close(got);
		return -1;
	}
	close(got);
	return 0;
}

/* The socketpairs the tasks made (ux_task_early), into crest's numbers. */
static int take_later(struct uxsk_restore *u, const struct files_pid_map *map)
{
	for (int i = 0; i < u->nr; i++) {
		const UnixSkEntry *e = u->sks[i];
		pid_t pid;

		if (!later_first(u, i))
			continue;
		pid = map && map->new_pid ? map->new_pid(map->arg, e->made_by) : e->made_by;
		if (pid <= 0) {
			pr_err("socket:[%llu]: its maker %d is not restored",
			       (unsigned long long)e->ino, e->made_by);
			return -1;
		}
		if (take_made(pid, u->fd[i], e) ||
		    take_made(pid, e->has_peer_id ? u->fd[ux_index(u, e->peer_id)] : u->ghost[i], e))
			return -1;
	}
	return 0;
}

/* An accepted socket s as the service fd of i, blocking as a socket is made. */
static int accepted_into(struct uxsk_restore *u, int i, int s)
{
	const UnixSkEntry *e = u->sks[i];

	if (fcntl(s, F_SETFL, 0) || dup3(s, u->fd[i], O_CLOEXEC) < 0) {
		pr_perror("can't put the accepted socket:[%llu] in place",
			  (unsigned long long)e->ino);
		close(s);
		return -1;
	}
	close(s);
	return 0;
}

/* Which accepted end of listener l is the other end of socket s's client? */
static int accepted_of(struct uxsk_restore *u, int l, int s)
{
	struct ux_diag d;
	struct stat st, cst;
	int ret = -1;

	/* In s's namespace, the tree's: crest may be back in its own. */
	if (fstat(s, &st) || ux_diag(s, st.st_ino, &d)) {
		pr_err("can't tell which client an accept of socket:[%llu] took",
		       (unsigned long long)u->sks[l]->ino);
		return -1;
	}
	for (int i = 0; ret < 0 && i < u->nr; i++) {
		const UnixSkEntry *e = u->sks[i];

		if (e->has_connect_by && listens_later(u, e) && e->listener_id == u->sks[l]->id &&
		    !fstat(u->fd[ux_index(u, e->peer_id)], &cst) && d.has_peer &&
		    cst.st_ino == d.peer)
			ret = i;
	}
	ux_diag_free(&d);
	if (ret < 0)
		pr_err("an accept of socket:[%llu] took a client crest did not connect",
		       (unsigned long long)u->sks[l]->ino);
	return ret;
}

/*
 * The listeners whose process listened again (listen_by) once every
 * task exists: the connections their clients' processes made
 * (connect_by) accepted, as many as the backlog holds, told apart by the
 * client each leads to; then crest connects and accepts the other
 * accepted ones (a task that found the listener not listening yet left
 * its connect to crest), then connects the clients still waiting, in the
 * order they came.
 */
static int accept_later(struct uxsk_restore *u)
{
	bool *done = xzalloc((u->nr + 1) * sizeof(bool));
	int ret = -1;

	for (int l = 0; l < u->nr; l++) {
		const UnixSkEntry *le = u->sks[l];

		if (!le->has_listen_by)
			continue;
		/* What the tasks connected (connect_by): the backlog holds nothing else. */
		for (;;) {
			struct pollfd p = { u->fd[l], POLLIN, 0 };
			int s, k;

			/* The listener blocks: accept only what is there. */
			if (poll(&p, 1, 0) != 1)
				break;
			s = accept4(u->fd[l], NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (s < 0) {
				pr_perror("can't accept a connection on socket:[%llu]",
					  (unsigned long long)le->ino);
				goto out;
			}
			k = accepted_of(u, l, s);
			if (k < 0 || done[k]) {
				close(s);
				goto out;
			}
			done[k] = true;
			if (accepted_into(u, k, s))
				goto out;
		}
		for (int i = 0; i < u->nr; i++) {
			const UnixSkEntry *e = u->sks[i];
			int c = e->has_peer_id ? ux_index(u, e->peer_id) : -1, s;

			if (done[i] || !listens_later(u, e) || e->listener_id != le->id)
				continue;
			if (connect_as(u->fd[c], &e->name, u->sks[c], e))
				goto out;
			s = accept4(u->fd[l], NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (s < 0) {
				pr_perror("can't accept the connection of socket:[%llu]",
					  (unsigned long long)e->ino);
				goto out;
			}
			if (accepted_into(u, i, s))
				goto out;
		}
		for (size_t j = 0; j < le->n_pending; j++) {
			int c = ux_index(u, le->pending[j]);

			if (connect_name(u->fd[c], &le->name, u->sks[c]))
				goto out;
		}
	}
	ret = 0;
out:
	free(done);
	return ret;
}

/* In a task: the sockets made later, from crest (files_take_into). */
int ux_post_open(const struct restore_files *rf, FdEntry **fds, int nr)
{
	const struct uxsk_restore *u = restore_state_ro(rf);

	for (int i = 0; u && i < nr; i++) {
		int k;

		if (fds[i]->kind != FD_KIND__FD_UNIX_SK)
			continue;
		k = ux_index(u, fds[i]->file_id);
		if (k >= 0 && u->later[k] && files_take_into(rf, u->crest, u->fd[k], fds[i]))
			return -1;
	}
	return 0;
}

/*
 * The sockets the tasks made are crest's too, and the connections
 * accepted, before any kind's tasks_made that may use them (an epoll in
 * flight watching one).
 */
int ux_tasks_made(struct restore_files *rf, const struct files_pid_map *map)
{
	struct uxsk_restore *u = restore_state(rf);

	if (!u->fd)
		return 0;
	if (take_later(u, map) || accept_later(u)) {
		close_ghosts(u);
		return -1;
	}
	return 0;
}

/*
 * Steps 6-9, once every kind has made its objects (queues: pidfds and
 * epolls in flight are made in tasks_made). The tasks were forked with
 * crest's service fds, the ghosts too: each task closes the ones it does
 * not hold before it runs on.
 */
static int queues_now(struct restore_files *rf, const struct files_pid_map *map)
{
	struct uxsk_restore *u = restore_state(rf);
	int ret = -1;

	if (!u->fd)
		return 0;
	for (int i = 0; i < u->nr; i++)
		if (refill(rf, map, u, i, u->ghost[i]))
			goto out;
	close_ghosts(u);
	if (connect_and_finish(u))
		goto out;
	ret = 0;
out:
	close_ghosts(u);
	return ret;
}

/*
 * A pidfd of a thread in flight exists only once its process's restorer
 * made the thread: then every queue is refilled once every restorer is
 * done (ux_threads_made), before the tree is let go.
 */
int ux_queues(struct restore_files *rf, const struct files_pid_map *map)
{
	return files_pidfd_threads_in_flight(rf) ? 0 : queues_now(rf, map);
}

int ux_threads_made(struct restore_files *rf, const struct files_pid_map *map)
{
	return files_pidfd_threads_in_flight(rf) ? queues_now(rf, map) : 0;
}

/* A socket in flight: crest's, made later (taken in tasks_made) or not. */
int ux_in_flight_fd(const struct restore_files *rf, const FdEntry *e)
{
	const struct uxsk_restore *u = restore_state_ro(rf);
	int i = ux_index(u, e->file_id);

	return i < 0 || !u->fd ? -1 : u->fd[i];
}

int ux_service_fd(const struct restore_files *rf, const FdEntry *e)
{
	const struct uxsk_restore *u = restore_state_ro(rf);
	int i = ux_index(u, e->file_id);

	if (i >= 0 && u->later && u->later[i])
		return FD_MADE_LATER;
	return i < 0 || !u->fd ? -1 : u->fd[i];
}

void ux_show(const struct restore_files *rf, const FdEntry *e, char *buf, size_t len)
{
	const struct uxsk_restore *u = restore_state_ro(rf);
	int i = ux_index(u, e->file_id);
	const UnixSkEntry *s;
	char name[240] = "";

	if (i < 0) {
		snprintf(buf, len, "unix socket %u, not in the images", e->file_id);
		return;
	}
	s = u->sks[i];
	if (s->has_name)
		name_str(&s->name, name, sizeof(name));
	snprintf(buf, len, "unix %s socket:[%llu]%s%s, %s, %zu messages queued",
		 ux_type_name(s->type), (unsigned long long)s->ino,
		 s->has_name ? " at " : "", name,
		 s->has_backlog ? "listening" :
		 s->accepted ? "accepted" :
		 s->has_peer_id ? "one end of a pair" :
		 s->peer_closed ? "its other end closed" :
		 s->has_dgram_peer_id ? "connected" :
		 s->has_ext_peer ? "connected outside the tree" : "not connected",
		 s->n_queue);
}
