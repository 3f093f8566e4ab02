/*
 * Listening unix sockets and the connections made to them, at the dump:
 *  - a stream listener bound to a path (mode 0640, backlog 7) with one
 *    connection accepted (bytes queued both ways) and two clients waiting
 *    in its accept queue (one of them bound to an abstract name);
 *  - a seqpacket listener bound to an abstract name with one connection
 *    accepted (records queued for the server) and one waiting;
 *  - two accepted stream connections whose listener was closed: server
 *    ends named as their listener was, one listener's path removed, the
 *    other's left behind (a stale socket file, as it stays after the
 *    restore: no socket bound to it).
 * After the restore: the socket file is there with its mode and works,
 * every name (getsockname, getpeername) is as it was, the queued bytes
 * and records are there once with their boundaries, the waiting
 * connections are accepted in the order they came, and a process that
 * was not in the tree connects to both listeners and is accepted.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static struct sockaddr_un path_sa, abs_sa, cli_sa, gone_sa, stale_sa;
static socklen_t path_len, abs_len, cli_len, gone_len, stale_len;

static socklen_t set_abstract(struct sockaddr_un *sa, const char *name)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "%s-%d", name, getpid());
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sa->sun_path + 1);
}

static socklen_t set_path(struct sockaddr_un *sa, const char *name)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s-%d.sock", case_tmpdir(),
		 name, getpid());
	unlink(sa->sun_path);
	return offsetof(struct sockaddr_un, sun_path) + strlen(sa->sun_path) + 1;
}

static int listener(int type, const struct sockaddr_un *sa, socklen_t len, int backlog)
{
	int fd = socket(AF_UNIX, type, 0);

	if (fd < 0 || bind(fd, (const struct sockaddr *)sa, len) || listen(fd, backlog))
		case_fail("listener: %s", strerror(errno));
	return fd;
}

static int client(int type, const struct sockaddr_un *sa, socklen_t len,
		  const struct sockaddr_un *own, socklen_t own_len)
{
	int fd = socket(AF_UNIX, type, 0);

	if (fd < 0 || (own && bind(fd, (const struct sockaddr *)own, own_len)) ||
	    connect(fd, (const struct sockaddr *)sa, len))
		case_fail("client: %s", strerror(errno));
	return fd;
}

static void same_name(const char *what, int fd, bool peer,
		      const struct sockaddr_un *want, socklen_t want_len)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);

	memset(&sa, 0, sizeof(sa));
	if ((peer ? getpeername : getsockname)(fd, (struct sockaddr *)&sa, &len))
		case_fail("%s: %s", what, strerror(errno));
	if (!want) {
		if (len != sizeof(sa_family_t))
			case_fail("%s: named (%u bytes), want unnamed", what, len);
		return;
	}
	if (len != want_len || memcmp(&sa, want, len))
		case_fail("%s: '%s%s' (%u bytes), want '%s%s' (%u)", what,
			  sa.sun_path[0] ? "" : "@", sa.sun_path + !sa.sun_path[0], len,
			  want->sun_path[0] ? "" : "@", want->sun_path + !want->sun_path[0],
			  want_len);
}

static void wait_readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	if (poll(&p, 1, 30000) != 1)
		case_fail("fd %d not readable in 30 s", fd);
}

static void expect(const char *what, int fd, const char *want, size_t len)
{
	char buf[256];
	ssize_t n;

	wait_readable(fd);
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n != (ssize_t)len || memcmp(buf, want, len))
		case_fail("%s: read %zd bytes '%.*s', want '%s'", what, n,
			  n > 0 ? (int)n : 0, buf, want);
}

static void nothing_more(const char *what, int fd)
{
	char c;

	if (recv(fd, &c, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN)
		case_fail("%s: more queued than there was", what);
}

static int accept_now(const char *what, int l)
{
	int a;

	wait_readable(l);
	a = accept(l, NULL, NULL);
	if (a < 0)
		case_fail("%s: accept: %s", what, strerror(errno));
	return a;
}

/* A process outside the tree (forked after the restore) connects. */
static void outside_client(int type, const struct sockaddr_un *sa, socklen_t len,
			   const char *msg)
{
	pid_t pid = fork();

	if (pid < 0)
		case_fail("fork: %s", strerror(errno));
	if (!pid) {
		int fd = socket(AF_UNIX, type, 0);

		if (fd < 0 || connect(fd, (const struct sockaddr *)sa, len) ||
		    send(fd, msg, strlen(msg), 0) != (ssize_t)strlen(msg))
			_exit(1);
		_exit(0);
	}
}

int main(void)
{
	int l, a, c1, c2, c3, q, qa, qc, qw, gs, gc, ss, sc;
	int status;
	struct stat st;

	case_init();
	path_len = set_path(&path_sa, "sk_unix_listen");
	abs_len = set_abstract(&abs_sa, "crest-listen-seq");
	cli_len = set_abstract(&cli_sa, "crest-listen-cli");
	gone_len = set_path(&gone_sa, "sk_unix_listen-gone");
	stale_len = set_path(&stale_sa, "sk_unix_listen-stale");

	l = listener(SOCK_STREAM, &path_sa, path_len, 7);
	if (chmod(path_sa.sun_path, 0640))
		case_fail("chmod: %s", strerror(errno));
	c1 = client(SOCK_STREAM, &path_sa, path_len, NULL, 0);
	a = accept_now("stream", l);
	if (write(c1, "to-server", 9) != 9 || write(a, "to-client", 9) != 9)
		case_fail("write: %s", strerror(errno));
	c2 = client(SOCK_STREAM, &path_sa, path_len, NULL, 0);		/* waits */
	c3 = client(SOCK_STREAM, &path_sa, path_len, &cli_sa, cli_len);	/* waits */

	q = listener(SOCK_SEQPACKET, &abs_sa, abs_len, 3);
	qc = client(SOCK_SEQPACKET, &abs_sa, abs_len, NULL, 0);
	qa = accept_now("seqpacket", q);
	if (send(qc, "r1", 2, 0) != 2 || send(qc, "record-2", 8, 0) != 8)
		case_fail("send: %s", strerror(errno));
	qw = client(SOCK_SEQPACKET, &abs_sa, abs_len, NULL, 0);		/* waits */

	/* An accepted connection whose listener is gone, path and all. */
	{
		int gl = listener(SOCK_STREAM, &gone_sa, gone_len, 1);

		gc = client(SOCK_STREAM, &gone_sa, gone_len, NULL, 0);
		gs = accept_now("gone", gl);
		close(gl);
		unlink(gone_sa.sun_path);
		if (write(gc, "orphan", 6) != 6)
			case_fail("write: %s", strerror(errno));
		gl = listener(SOCK_STREAM, &stale_sa, stale_len, 1);
		sc = client(SOCK_STREAM, &stale_sa, stale_len, NULL, 0);
		ss = accept_now("stale", gl);
		close(gl);
	}

	case_ready();
	case_wait_go();

	if (lstat(path_sa.sun_path, &st) || !S_ISSOCK(st.st_mode) ||
	    (st.st_mode & 07777) != 0640)
		case_fail("'%s' is not a socket file of mode 0640 (%o)", path_sa.sun_path,
			  st.st_mode);
	if (!lstat(gone_sa.sun_path, &st))
		case_fail("'%s' exists, it was removed before the dump", gone_sa.sun_path);
	if (lstat(stale_sa.sun_path, &st) || !S_ISSOCK(st.st_mode))
		case_fail("'%s', a stale socket file at the dump, is not there", stale_sa.sun_path);
	{
		int t = socket(AF_UNIX, SOCK_STREAM, 0);

		if (t < 0 || !connect(t, (struct sockaddr *)&stale_sa, stale_len) ||
		    errno != ECONNREFUSED)
			case_fail("'%s' is not stale: connect says %s", stale_sa.sun_path,
				  strerror(errno));
		close(t);
	}
	same_name("stale server end's name", ss, false, &stale_sa, stale_len);
	same_name("stale client's peer", sc, true, &stale_sa, stale_len);
	same_name("listener's name", l, false, &path_sa, path_len);
	same_name("accepted end's name", a, false, &path_sa, path_len);
	same_name("accepted end's peer", a, true, NULL, 0);
	same_name("client's peer", c1, true, &path_sa, path_len);
	same_name("client's name", c1, false, NULL, 0);
	same_name("bound client's name", c3, false, &cli_sa, cli_len);
	same_name("seqpacket listener's name", q, false, &abs_sa, abs_len);
	same_name("seqpacket accepted end's name", qa, false, &abs_sa, abs_len);
	same_name("orphan server end's name", gs, false, &gone_sa, gone_len);
	same_name("orphan client's peer", gc, true, &gone_sa, gone_len);

	expect("accepted end", a, "to-server", 9);
	nothing_more("accepted end", a);
	expect("client", c1, "to-client", 9);
	nothing_more("client", c1);
	expect("seqpacket record 1", qa, "r1", 2);
	expect("seqpacket record 2", qa, "record-2", 8);
	nothing_more("seqpacket", qa);
	expect("orphan server end", gs, "orphan", 6);

	/* The waiting ones, in the order they came. */
	if (write(c3, "three", 5) != 5 || write(c2, "two", 3) != 3)
		case_fail("write: %s", strerror(errno));
	{
		int w2 = accept_now("waiting 1", l), w3 = accept_now("waiting 2", l);

		expect("first waiting connection", w2, "two", 3);
		expect("second waiting connection", w3, "three", 5);
		same_name("second waiting's peer", w3, true, &cli_sa, cli_len);
		if (write(w2, "ok", 2) != 2)
			case_fail("write: %s", strerror(errno));
		expect("waiting client", c2, "ok", 2);
	}
	{
		int w = accept_now("seqpacket waiting", q);

		if (send(qw, "late", 4, 0) != 4)
			case_fail("send: %s", strerror(errno));
		expect("seqpacket waiting", w, "late", 4);
	}
	/* New connections from outside the tree. */
	outside_client(SOCK_STREAM, &path_sa, path_len, "outside");
	outside_client(SOCK_SEQPACKET, &abs_sa, abs_len, "outside-seq");
	a = accept_now("outside", l);
	expect("outside client", a, "outside", 7);
	a = accept_now("outside seqpacket", q);
	expect("outside seqpacket client", a, "outside-seq", 11);
	for (int i = 0; i < 2; i++)
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			case_fail("an outside client failed");
	/* Talk on the old connections. */
	if (send(qa, "back", 4, 0) != 4)
		case_fail("write: %s", strerror(errno));
	expect("seqpacket client", qc, "back", 4);
	unlink(path_sa.sun_path);
	unlink(stale_sa.sun_path);
	case_pass();
}
