/*
 * The network lock: established TCP connections, over IPv4 and (when the
 * machine has ::1) IPv6 loopback, each to a peer outside the tree that
 * never stops sending. The peer (a grandchild of the case whose parent
 * exited) sends a numbered line ("N\n") every few milliseconds, before,
 * during and after the dump: while the tree is frozen, after its
 * connection was read, and, with --kill, after it is gone and before the
 * restore. Without a lock the kernel would acknowledge what comes after
 * the read (lost: a gap) and, once the socket is gone, answer with a
 * reset (the peer's next send fails). After the restore the case reads
 * every line: each number exactly once, in order from 1; then it says
 * "stop" and the peer answers "end N" with N its last number, proving it
 * never saw an error and that this is the same connection (the peer of a
 * read line reset or said nothing more exits: the line after is EOF).
 * A third, half closed (its peer outside sent "x" and its FIN: CLOSE_WAIT),
 * is restored while the lock holds: the peer's FIN crest sends it again by
 * hand passes the lock (marked); after the restore the case reads "x" and
 * end of file, and its "bye" reaches the peer ($CREST_TMP/half.ok).
 */
#include "caselib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void must(int ok, const char *what)
{
	if (!ok)
		case_fail("%s: %s", what, strerror(errno));
}

/* The peer: one connection; numbered lines till "stop", then "end N". */
static void peer(int l, int ready)
{
	struct timespec nap = { 0, 5 * 1000 * 1000 };
	char in[16];
	size_t got = 0;
	long n = 0, quiet = 0;
	int a;

	if (write(ready, "r", 1) != 1)
		_exit(1);
	close(ready);
	a = accept(l, NULL, NULL);
	if (a < 0)
		_exit(1);
	close(l);
	/* Gone after two minutes without a word: never outlives a failed run long. */
	while (quiet < 120 * 200) {
		char out[32];
		int len = snprintf(out, sizeof(out), "%ld\n", n + 1);
		ssize_t r = send(a, out, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r == len)
			n++;
		else if (r >= 0 || errno != EAGAIN)
			_exit(2);	/* an error (a reset), or half a line */
		r = recv(a, in + got, sizeof(in) - got, MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN))
			_exit(3);
		if (r > 0) {
			quiet = 0;
			got += r;
			if (got >= 5 && !memcmp(in, "stop\n", 5)) {
				len = snprintf(out, sizeof(out), "end %ld\n", n);
				if (send(a, out, len, MSG_NOSIGNAL) != len)
					_exit(4);
				_exit(0);
			}
			if (got == sizeof(in))
				_exit(5);
		}
		quiet++;
		nanosleep(&nap, NULL);
	}
	_exit(6);
}

/* The next line of fd into buf, within 30 s. */
static void read_line(int fd, char *buf, size_t size, const char *what)
{
	size_t n = 0;

	while (n < size - 1) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&p, 1, 30000) != 1)
			case_fail("%s: nothing to read in 30 s after '%.*s'", what, (int)n, buf);
		r = recv(fd, buf + n, 1, 0);
		if (r <= 0)
			case_fail("%s: %s", what, r ? strerror(errno) : "EOF (the peer went)");
		if (buf[n] == '\n') {
			buf[n] = 0;
			return;
		}
		n++;
	}
	case_fail("%s: a line too long", what);
}

/* Lines numbered from *last + 1 on, till one that is not a number (kept in buf). */
static void read_numbers(int fd, long *last, long want_past, char *buf, size_t size)
{
	for (;;) {
		char *end;
		long v;

		read_line(fd, buf, size, "the peer's lines");
		v = strtol(buf, &end, 10);
		if (*end || end == buf)
			return;
		if (v != *last + 1)
			case_fail("line %ld came after line %ld: %s", v, *last,
				  v <= *last ? "a line twice" : "lines lost");
		*last = v;
		if (want_past && v >= want_past)
			return;
	}
}

/*
 * The half-closed one: "x" and its FIN at once (the case's end is
 * CLOSE_WAIT at the dump, and its restore sends it that FIN again, made
 * by hand: it passes the lock by its mark); then it waits for the case's
 * "bye", which can come only once the lock is gone, and says it got it
 * in $CREST_TMP/half.ok.
 */
static void half_peer(int l, int ready)
{
	char buf[8], path[4096];
	size_t got = 0;
	int a;
	FILE *f;

	if (write(ready, "r", 1) != 1)
		_exit(1);
	close(ready);
	a = accept(l, NULL, NULL);
	if (a < 0 || send(a, "x\n", 2, 0) != 2 || shutdown(a, SHUT_WR))
		_exit(1);
	close(l);
	while (got < 4) {
		struct pollfd p = { a, POLLIN, 0 };
		ssize_t r;

		if (poll(&p, 1, 120000) != 1)
			_exit(1);
		r = recv(a, buf + got, sizeof(buf) - got, 0);
		if (r <= 0)
			_exit(2);
		got += r;
	}
	if (memcmp(buf, "bye\n", 4))
		_exit(3);
	snprintf(path, sizeof(path), "%s/half.ok", case_tmpdir());
	f = fopen(path, "w");
	_exit(!f || fclose(f));
}

/* A peer on loopback of fam, and the case's connection to it; -1 if no such loopback. */
static void half_peer(int l, int ready);

static int connect_peer(int fam, bool half)
{
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in sa4 = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr *sa = fam == AF_INET6 ? (struct sockaddr *)&sa6 : (struct sockaddr *)&sa4;
	socklen_t len = fam == AF_INET6 ? sizeof(sa6) : sizeof(sa4);
	int l, c, ready[2], status;
	pid_t pid;
	char r;

	l = socket(fam, SOCK_STREAM, 0);
	if (l < 0 || bind(l, sa, len)) {
		if (fam == AF_INET)
			case_fail("the peer's listener on 127.0.0.1: %s", strerror(errno));
		if (l >= 0)
			close(l);
		return -1;	/* no ::1 here */
	}
	must(!listen(l, 1) && !getsockname(l, sa, &len), "the peer's listener");
	must(!pipe(ready), "pipe");
	pid = fork();
	must(pid >= 0, "fork");
	if (!pid) {
		if (fork())
			_exit(0);
		char path[4096];
		FILE *f;

		/* Nothing of the case's but these: not the other peer's connection. */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != l && fd != ready[1])
				close(fd);
		/* The runner kills it when the run is over. */
		snprintf(path, sizeof(path), "%s/outside.pids", case_tmpdir());
		f = fopen(path, "a");
		if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f))
			_exit(1);
		if (half)
			half_peer(l, ready[1]);
		peer(l, ready[1]);
	}
	close(ready[1]);
	if (waitpid(pid, &status, 0) != pid || read(ready[0], &r, 1) != 1)
		case_fail("the peer did not start");
	close(ready[0]);
	c = socket(fam, SOCK_STREAM, 0);
	must(c >= 0 && !connect(c, sa, len), "connect to the peer");
	close(l);
	return c;
}

int main(void)
{
	static const int fams[2] = { AF_INET, AF_INET6 };
	const char *names[2] = { "IPv4", "IPv6" };
	int c[2];
	long last[2] = { 0, 0 };
	char buf[64], want[64], path[4096];
	struct tcp_info ti;
	socklen_t len;
	int half;

	case_init();
	for (int i = 0; i < 2; i++) {
		c[i] = connect_peer(fams[i], false);
		/* The stream runs: a few lines read, the rest queue while we wait. */
		if (c[i] >= 0)
			read_numbers(c[i], &last[i], 3, buf, sizeof(buf));
	}

	half = connect_peer(AF_INET, true);
	for (int n = 0;; n++) {
		len = sizeof(ti);
		must(!getsockopt(half, IPPROTO_TCP, TCP_INFO, &ti, &len), "TCP_INFO");
		if (ti.tcpi_state == 8)
			break;
		if (n > 30000)
			case_fail("the half-closed connection is in state %u, not CLOSE_WAIT",
				  ti.tcpi_state);
		usleep(1000);
	}

	case_ready();
	case_wait_go();

	len = sizeof(ti);
	must(!getsockopt(half, IPPROTO_TCP, TCP_INFO, &ti, &len), "TCP_INFO");
	if (ti.tcpi_state != 8)
		case_fail("the half-closed connection: TCP state %u, want CLOSE_WAIT (8)",
			  ti.tcpi_state);
	read_line(half, buf, sizeof(buf), "the half-closed connection");
	if (strcmp(buf, "x"))
		case_fail("the half-closed connection: read '%s', want 'x'", buf);
	if (recv(half, buf, 1, MSG_DONTWAIT) != 0)
		case_fail("the half-closed connection: no end of file after 'x'");
	must(send(half, "bye\n", 4, 0) == 4, "send bye on the half-closed connection");

	for (int i = 0; i < 2; i++) {
		if (c[i] < 0)
			continue;
		len = sizeof(ti);
		must(!getsockopt(c[i], IPPROTO_TCP, TCP_INFO, &ti, &len), "TCP_INFO");
		if (ti.tcpi_state != 1)
			case_fail("%s: TCP state %u, want ESTABLISHED (1)", names[i], ti.tcpi_state);
		/* Everything sent since, and more lines that come after the restore. */
		read_numbers(c[i], &last[i], last[i] + 20, buf, sizeof(buf));
		must(send(c[i], "stop\n", 5, 0) == 5, "send stop");
		read_numbers(c[i], &last[i], 0, buf, sizeof(buf));
		snprintf(want, sizeof(want), "end %ld", last[i]);
		if (strcmp(buf, want))
			case_fail("%s: the peer said '%s' after line %ld, want '%s'", names[i], buf,
				  last[i], want);
	}
	/* Its peer got "bye": the restored connection's bytes pass. */
	snprintf(path, sizeof(path), "%s/half.ok", case_tmpdir());
	for (int n = 0; access(path, F_OK); n++) {
		if (n > 30000)
			case_fail("the half-closed connection's peer did not get 'bye' in 30 s");
		usleep(1000);
	}
	case_pass();
}
