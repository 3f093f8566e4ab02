/*
 * Datagram unix sockets with names, at the dump:
 *  - a receiver bound to an abstract name with datagrams queued from four
 *    senders: an unbound one connect()ed to it, one bound to an abstract
 *    name (sendto), one bound to a path (a 3000-byte datagram), and one
 *    autobound (bind with no name: the kernel picked "@xxxxx"), then the
 *    abstract sender again, then one bound to a path that was closed and
 *    its file removed (nothing of the tree holds that name);
 *  - a receiver bound to a path whose file was then removed, with a
 *    datagram from a sender that was closed (an unbound one);
 *  - a stream socket bound to a path, never connected (its file chmod
 *    0600).
 * After the restore each datagram is there once, whole, in order, with
 * its sender's name; every socket has its name; the connected sender
 * still sends to the receiver; the removed file is still
 * absent (and the closed sender's path too: crest bound a socket there
 * only to send its datagram), the others are socket files with their modes and the path
 * sender can be written to by a new socket.
 */
#include "caselib.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct name {
	struct sockaddr_un sa;
	socklen_t len;
};

static struct name recv_n, abs_n, path_n, gone_n, auto_n, stream_n, left_n;

static void set_abstract(struct name *n, const char *what)
{
	memset(n, 0, sizeof(*n));
	n->sa.sun_family = AF_UNIX;
	snprintf(n->sa.sun_path + 1, sizeof(n->sa.sun_path) - 1, "%s-%d", what, getpid());
	n->len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(n->sa.sun_path + 1);
}

static void set_path(struct name *n, const char *what)
{
	memset(n, 0, sizeof(*n));
	n->sa.sun_family = AF_UNIX;
	snprintf(n->sa.sun_path, sizeof(n->sa.sun_path), "%s/%s-%d.sock", case_tmpdir(),
		 what, getpid());
	unlink(n->sa.sun_path);
	n->len = offsetof(struct sockaddr_un, sun_path) + strlen(n->sa.sun_path) + 1;
}

static int bound(int type, const struct name *n)
{
	int fd = socket(AF_UNIX, type, 0);

	if (fd < 0 || (n && bind(fd, (const struct sockaddr *)&n->sa, n->len)))
		case_fail("bind: %s", strerror(errno));
	return fd;
}

static void name_of(int fd, bool peer, struct name *n)
{
	memset(n, 0, sizeof(*n));
	n->len = sizeof(n->sa);
	if ((peer ? getpeername : getsockname)(fd, (struct sockaddr *)&n->sa, &n->len))
		case_fail("getsockname: %s", strerror(errno));
}

static void same(const char *what, const struct name *got, const struct name *want)
{
	if (got->len != want->len || memcmp(&got->sa, &want->sa, got->len))
		case_fail("%s: '%s%s' (%u bytes), want '%s%s' (%u)", what,
			  got->sa.sun_path[0] || got->len <= 2 ? "" : "@",
			  got->sa.sun_path + !got->sa.sun_path[0], got->len,
			  want->sa.sun_path[0] || want->len <= 2 ? "" : "@",
			  want->sa.sun_path + !want->sa.sun_path[0], want->len);
}

static void send_to(int fd, const struct name *to, const char *buf, size_t len)
{
	if (sendto(fd, buf, len, 0, to ? (const struct sockaddr *)&to->sa : NULL,
		   to ? to->len : 0) != (ssize_t)len)
		case_fail("sendto: %s", strerror(errno));
}

/* The next datagram of fd: exactly want, from the socket named from. */
static void expect(const char *what, int fd, const char *want, size_t len,
		   const struct name *from)
{
	static char buf[8192];
	struct name got;
	ssize_t n;

	memset(&got, 0, sizeof(got));
	got.len = sizeof(got.sa);
	n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
		     (struct sockaddr *)&got.sa, &got.len);
	if (n != (ssize_t)len || memcmp(buf, want, len))
		case_fail("%s: %zd bytes (%s), want %zu", what, n,
			  n < 0 ? strerror(errno) : "other bytes", len);
	if (!from) {
		if (got.len > offsetof(struct sockaddr_un, sun_path))
			case_fail("%s: from a named socket, want an unbound one", what);
		return;
	}
	got.sa.sun_family = AF_UNIX;
	same(what, &got, from);
}

static void empty(const char *what, int fd)
{
	char c;

	if (recv(fd, &c, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN)
		case_fail("%s: more queued than there was", what);
}

static void is_socket_file(const struct name *n, unsigned int mode)
{
	struct stat st;

	if (lstat(n->sa.sun_path, &st) || !S_ISSOCK(st.st_mode) ||
	    (mode && (st.st_mode & 07777) != mode))
		case_fail("'%s' is not a socket file of mode %o", n->sa.sun_path, mode);
}

int main(void)
{
	static char big[3000];
	sa_family_t fam = AF_UNIX;
	struct name got;
	int r, g, c, a, p, au, st, x;

	case_init();
	set_abstract(&recv_n, "crest-dg-recv");
	set_abstract(&abs_n, "crest-dg-abs");
	set_path(&path_n, "sk_unix_dgram-path");
	set_path(&gone_n, "sk_unix_dgram-gone");
	set_path(&stream_n, "sk_unix_dgram-stream");
	set_path(&left_n, "sk_unix_dgram-left");
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = 'a' + i % 23;

	r = bound(SOCK_DGRAM, &recv_n);
	c = bound(SOCK_DGRAM, NULL);
	if (connect(c, (struct sockaddr *)&recv_n.sa, recv_n.len))
		case_fail("connect: %s", strerror(errno));
	a = bound(SOCK_DGRAM, &abs_n);
	p = bound(SOCK_DGRAM, &path_n);
	au = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (au < 0 || bind(au, (struct sockaddr *)&fam, sizeof(fam)))
		case_fail("autobind: %s", strerror(errno));
	name_of(au, false, &auto_n);
	send_to(c, NULL, "connected", 9);
	send_to(a, &recv_n, "abstract", 8);
	send_to(p, &recv_n, big, sizeof(big));
	send_to(au, &recv_n, "auto", 4);
	send_to(a, &recv_n, "", 0);
	x = bound(SOCK_DGRAM, &left_n);
	send_to(x, &recv_n, "from-a-left-path", 16);
	close(x);
	unlink(left_n.sa.sun_path);

	g = bound(SOCK_DGRAM, &gone_n);
	x = bound(SOCK_DGRAM, NULL);
	send_to(x, &gone_n, "from-the-closed", 15);
	close(x);
	unlink(gone_n.sa.sun_path);

	st = bound(SOCK_STREAM, &stream_n);
	if (chmod(stream_n.sa.sun_path, 0600))
		case_fail("chmod: %s", strerror(errno));

	case_ready();
	case_wait_go();

	expect("datagram 1", r, "connected", 9, NULL);
	expect("datagram 2", r, "abstract", 8, &abs_n);
	expect("datagram 3", r, big, sizeof(big), &path_n);
	expect("datagram 4", r, "auto", 4, &auto_n);
	expect("datagram 5 (empty)", r, "", 0, &abs_n);
	expect("datagram 6", r, "from-a-left-path", 16, &left_n);
	empty("receiver", r);
	expect("removed file's datagram", g, "from-the-closed", 15, NULL);
	empty("removed file's receiver", g);

	name_of(r, false, &got);
	same("receiver's name", &got, &recv_n);
	name_of(c, true, &got);
	same("connected sender's peer", &got, &recv_n);
	name_of(au, false, &got);
	same("autobound name", &got, &auto_n);
	name_of(g, false, &got);
	same("removed file's socket name", &got, &gone_n);
	name_of(st, false, &got);
	same("stream socket's name", &got, &stream_n);
	if (!access(gone_n.sa.sun_path, F_OK))
		case_fail("'%s' is there again", gone_n.sa.sun_path);
	if (!access(left_n.sa.sun_path, F_OK))
		case_fail("'%s' is there again", left_n.sa.sun_path);
	is_socket_file(&path_n, 0);
	is_socket_file(&stream_n, 0600);

	/* Still connected to the receiver. */
	send_to(c, NULL, "again", 5);
	expect("after the restore", r, "again", 5, NULL);
	/* A new socket reaches the path-bound one through its file. */
	x = bound(SOCK_DGRAM, NULL);
	send_to(x, &path_n, "new", 3);
	expect("through the file", p, "new", 3, NULL);
	unlink(path_n.sa.sun_path);
	unlink(stream_n.sa.sun_path);
	case_pass();
}
