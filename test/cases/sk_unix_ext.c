/*
 * Unix sockets connected outside the tree, dumped with --ext-unix-sk: a
 * server that is not in the tree (a grandchild whose parent exited, now
 * the runner's) has a datagram "log" socket bound to a path, like
 * /dev/log, and a stream listener bound to an abstract name. The case
 * holds a datagram socket connect()ed to the log and a stream connection
 * to the listener (accepted by the server, nothing queued either way).
 * After the restore both are connected to the same names again: what the
 * case logs reaches the server, which says so on the stream. The server
 * serves every connection until the runner kills it once the case's run
 * is over (its pid is in $CREST_TMP/outside.pids), the runner is gone
 * (its parent changes) or 10 minutes pass, so "twice" and "redump" find
 * it too.
 *
 * With the argument "netns" (test/run's ns_net_sk_unix_ext, the case in a
 * network namespace of its own) the server makes a third one for itself
 * (neither the runner's nor the case's) and binds its listener to a path
 * too (an abstract name is its namespace's). The log socket's peer is a
 * socket of that third namespace, which the sock_diag of the case's and
 * of crest's know nothing of: crest finds it in the server's and
 * connects the socket to the path again; a stream connection's server
 * end is in its client's namespace (the kernel makes it there), found in
 * the case's. Checked after the restore: both sockets are in the case's
 * namespace, the server in its own, and both lead to it.
 */
#include "caselib.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SIOCGSKNS
#define SIOCGSKNS	0x894C
#endif

static struct sockaddr_un log_sa, srv_sa;
static socklen_t log_len, srv_len;
static int third_netns;		/* "netns": the server in a namespace of its own */
static pid_t server;

#define MAX_CONNS	16

static void serve(int logfd, int l)
{
	struct pollfd p[MAX_CONNS + 2];
	char last[128] = "", buf[128];
	int n = 2;
	pid_t parent = getppid();

	alarm(600);
	p[0] = (struct pollfd){ logfd, POLLIN, 0 };
	p[1] = (struct pollfd){ l, POLLIN, 0 };
	while (getppid() == parent) {
		if (poll(p, n, 1000) < 0)
			_exit(1);
		/* Log messages first: a question may follow one. */
		for (ssize_t r; (r = recv(logfd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) >= 0;) {
			buf[r] = '\0';
			snprintf(last, sizeof(last), "%s", buf);
		}
		if ((p[1].revents & POLLIN) && n < MAX_CONNS + 2) {
			int c = accept(l, NULL, NULL);

			if (c >= 0)
				p[n++] = (struct pollfd){ c, POLLIN, 0 };
		}
		for (int i = 2; i < n; i++) {
			ssize_t r;

			if (!p[i].revents)
				continue;
			for (r = 0; r >= 0;) {
				r = recv(logfd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
				if (r >= 0) {
					buf[r] = '\0';
					snprintf(last, sizeof(last), "%s", buf);
				}
			}
			r = recv(p[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (r == 4 && !memcmp(buf, "log?", 4)) {
				snprintf(buf, sizeof(buf), "log:%.123s", last);
				send(p[i].fd, buf, strlen(buf), MSG_NOSIGNAL);
			} else if (r > 0) {
				send(p[i].fd, buf, r, MSG_NOSIGNAL);	/* echo */
			} else if (r == 0 || (r < 0 && errno != EAGAIN)) {
				close(p[i].fd);
				p[i--] = p[--n];
			}
		}
	}
	_exit(0);
}

/* The server, outside the tree: bound and listening before this returns. */
static void start_server(void)
{
	int ready[2], status;
	pid_t pid;

	if (pipe(ready))
		case_fail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		case_fail("fork: %s", strerror(errno));
	if (!pid) {
		pid_t mid = getpid();
		int logfd, l;

		if (fork())
			_exit(0);
		while (getppid() == mid)	/* reparented to the runner */
			usleep(1000);
		close(ready[0]);
		{
			char path[4096];
			FILE *f;

			snprintf(path, sizeof(path), "%s/outside.pids", case_tmpdir());
			f = fopen(path, "a");
			if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f))
				_exit(1);
		}
		if (third_netns && unshare(CLONE_NEWNET))
			_exit(1);
		logfd = socket(AF_UNIX, SOCK_DGRAM, 0);
		l = socket(AF_UNIX, SOCK_STREAM, 0);
		if (logfd < 0 || l < 0 ||
		    bind(logfd, (struct sockaddr *)&log_sa, log_len) ||
		    bind(l, (struct sockaddr *)&srv_sa, srv_len) || listen(l, 8))
			_exit(1);
		server = getpid();
		if (write(ready[1], &server, sizeof(server)) != sizeof(server))
			_exit(1);
		close(ready[1]);
		serve(logfd, l);
	}
	close(ready[1]);
	if (waitpid(pid, &status, 0) != pid ||
	    read(ready[0], &server, sizeof(server)) != sizeof(server))
		case_fail("the server outside the tree did not start");
	close(ready[0]);
}

static void expect(const char *what, int fd, const char *want)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char buf[128];
	ssize_t n;

	if (poll(&p, 1, 30000) != 1)
		case_fail("%s: no answer in 30 s", what);
	n = recv(fd, buf, sizeof(buf), 0);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		case_fail("%s: '%.*s', want '%s'", what, n > 0 ? (int)n : 0, buf, want);
}

static void peer_is(const char *what, int fd, const struct sockaddr_un *want,
		    socklen_t want_len)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);

	memset(&sa, 0, sizeof(sa));
	if (getpeername(fd, (struct sockaddr *)&sa, &len) || len != want_len ||
	    memcmp(&sa, want, len))
		case_fail("%s: connected to another name (%u bytes): %s", what, len,
			  strerror(errno));
}

static unsigned long ino_at(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		case_fail("stat %s: %s", path, strerror(errno));
	return st.st_ino;
}

/* fd is a socket of the case's network namespace; the server in a third. */
static void netns_right(const char *what, int fd)
{
	char path[64];
	unsigned long own = ino_at("/proc/self/ns/net"), srv;
	struct stat st;
	int ns = ioctl(fd, SIOCGSKNS);

	if (ns < 0 || fstat(ns, &st))
		case_fail("%s: SIOCGSKNS: %s", what, strerror(errno));
	close(ns);
	if (st.st_ino != own)
		case_fail("%s is a socket of net:[%lu], the case is in net:[%lu]", what,
			  (unsigned long)st.st_ino, own);
	if (!third_netns)
		return;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", server);
	srv = ino_at(path);
	if (srv == own || !case_own_ns("net"))
		case_fail("the server (net:[%lu]) and the case (net:[%lu]) are not each in a network namespace of their own",
			  srv, own);
}

int main(int argc, char **argv)
{
	int d, s;

	case_init();
	third_netns = argc > 1 && !strcmp(argv[1], "netns");
	memset(&log_sa, 0, sizeof(log_sa));
	log_sa.sun_family = AF_UNIX;
	snprintf(log_sa.sun_path, sizeof(log_sa.sun_path), "%s/sk_unix_ext-log-%d.sock",
		 case_tmpdir(), getpid());
	unlink(log_sa.sun_path);
	log_len = offsetof(struct sockaddr_un, sun_path) + strlen(log_sa.sun_path) + 1;
	memset(&srv_sa, 0, sizeof(srv_sa));
	srv_sa.sun_family = AF_UNIX;
	if (third_netns) {
		snprintf(srv_sa.sun_path, sizeof(srv_sa.sun_path), "%s/sk_unix_ext-srv-%d.sock",
			 case_tmpdir(), getpid());
		unlink(srv_sa.sun_path);
		srv_len = offsetof(struct sockaddr_un, sun_path) + strlen(srv_sa.sun_path) + 1;
	} else {
		snprintf(srv_sa.sun_path + 1, sizeof(srv_sa.sun_path) - 1, "crest-ext-%d", getpid());
		srv_len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(srv_sa.sun_path + 1);
	}
	start_server();

	d = socket(AF_UNIX, SOCK_DGRAM, 0);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (d < 0 || s < 0 || connect(d, (struct sockaddr *)&log_sa, log_len) ||
	    connect(s, (struct sockaddr *)&srv_sa, srv_len))
		case_fail("connect: %s", strerror(errno));
	if (send(d, "before", 6, 0) != 6 || send(s, "hello", 5, 0) != 5)
		case_fail("send: %s", strerror(errno));
	expect("echo", s, "hello");
	if (send(s, "log?", 4, 0) != 4)
		case_fail("send: %s", strerror(errno));
	expect("log before the dump", s, "log:before");
	netns_right("the log socket", d);
	netns_right("the stream", s);

	case_ready();
	case_wait_go();

	peer_is("log socket", d, &log_sa, log_len);
	peer_is("stream", s, &srv_sa, srv_len);
	netns_right("the log socket", d);
	netns_right("the stream", s);
	if (send(d, "after", 5, 0) != 5 || send(s, "log?", 4, 0) != 4)
		case_fail("send after the restore: %s", strerror(errno));
	expect("log after the restore", s, "log:after");
	case_pass();
}
