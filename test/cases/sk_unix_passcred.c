/*
 * Credentials of queued messages (SCM_CREDENTIALS) and the SO_PASS*
 * options. The parent's ends have SO_PASSCRED; queued for them at the
 * dump, not read:
 *  - on a datagram pair: "c1" from the child, "p1" the parent sent as
 *    uid and gid 65534 (explicit SCM_CREDENTIALS), "c2" from the child;
 *  - on a stream pair whose other end both hold: "aaa" the child wrote,
 *    then "bbb" the parent wrote (the kernel never joins two senders);
 *  - on a datagram pair with SO_PASSPIDFD alone: "pf" from the child.
 * Another socket has SO_PASSSEC. After the restore each message comes
 * with its sender's pid (the child's as it is now), uid and gid, the
 * pidfd names the child, and the options are as they were.
 */
#include "caselib.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD	76
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD	0x04
#endif

static void wait_readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	if (poll(&p, 1, 30000) != 1)
		case_fail("fd %d not readable in 30 s", fd);
}

static void set_opt(int fd, int opt)
{
	int one = 1;

	if (setsockopt(fd, SOL_SOCKET, opt, &one, sizeof(one)))
		case_fail("setsockopt %d: %s", opt, strerror(errno));
}

static int get_opt(int fd, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, opt, &v, &len))
		case_fail("getsockopt %d: %s", opt, strerror(errno));
	return v;
}

static void send_as(int fd, const char *msg, pid_t pid, uid_t uid, gid_t gid)
{
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(struct ucred))]; } cm;
	struct ucred uc = { pid, uid, gid };
	struct iovec iov = { (void *)msg, strlen(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_CREDENTIALS;
	c->cmsg_len = CMSG_LEN(sizeof(uc));
	memcpy(CMSG_DATA(c), &uc, sizeof(uc));
	if (sendmsg(fd, &mh, 0) != (ssize_t)strlen(msg))
		case_fail("sendmsg '%s' as %d: %s", msg, (int)uid, strerror(errno));
}

/* The pid of a pidfd, from its fdinfo. */
static pid_t pidfd_pid(int fd)
{
	char path[64], buf[4096], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		case_fail("%s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strstr(buf, "\nPid:");
	if (!p)
		case_fail("fd %d is not a pidfd", fd);
	return atoi(p + 5);
}

/* One message: want, with the credentials (pid, uid, gid). */
static void expect(int fd, const char *want, pid_t pid, uid_t uid, gid_t gid, bool pidfd)
{
	char buf[64];
	union { struct cmsghdr h; char buf[256]; } cm;
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	bool cred = false, got_pidfd = false;
	ssize_t n;

	wait_readable(fd);
	n = recvmsg(fd, &mh, MSG_DONTWAIT);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		case_fail("read %zd bytes '%.*s', want '%s'", n, n > 0 ? (int)n : 0, buf, want);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred uc;

			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			if (uc.pid != pid || uc.uid != uid || uc.gid != gid)
				case_fail("'%s' came from pid %d uid %d gid %d, want %d %d %d",
					  want, (int)uc.pid, (int)uc.uid, (int)uc.gid,
					  (int)pid, (int)uid, (int)gid);
			cred = true;
		} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_PIDFD) {
			int pfd;

			memcpy(&pfd, CMSG_DATA(c), sizeof(pfd));
			if (pfd < 0 || pidfd_pid(pfd) != pid)
				case_fail("'%s' came with a pidfd of %d, want %d", want,
					  pfd < 0 ? pfd : (int)pidfd_pid(pfd), (int)pid);
			close(pfd);
			got_pidfd = true;
		}
	}
	if (!pidfd && !cred)
		case_fail("'%s' came without credentials", want);
	if (pidfd && !got_pidfd)
		case_fail("'%s' came without a pidfd", want);
}

int main(void)
{
	int dg[2], st[2], pf[2], sec, go[2], done[2], status;
	pid_t child, now;
	char c;

	case_init();
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) || socketpair(AF_UNIX, SOCK_STREAM, 0, st) ||
	    socketpair(AF_UNIX, SOCK_DGRAM, 0, pf) || pipe(go) || pipe(done))
		case_fail("socketpair/pipe: %s", strerror(errno));
	sec = socket(AF_UNIX, SOCK_STREAM, 0);
	if (sec < 0)
		case_fail("socket: %s", strerror(errno));
	set_opt(dg[0], SO_PASSCRED);
	set_opt(st[0], SO_PASSCRED);
	set_opt(pf[0], SO_PASSPIDFD);
	set_opt(sec, SO_PASSSEC);

	child = fork();
	if (child < 0)
		case_fail("fork: %s", strerror(errno));
	if (!child) {
		if (send(dg[1], "c1", 2, 0) != 2 || write(st[1], "aaa", 3) != 3 ||
		    send(pf[1], "pf", 2, 0) != 2 || write(done[1], "r", 1) != 1 ||
		    read(go[0], &c, 1) != 1 || send(dg[1], "c2", 2, 0) != 2 ||
		    write(done[1], "s", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		/* restored: tell the parent who we are now */
		now = getpid();
		if (write(done[1], &now, sizeof(now)) != sizeof(now))
			_exit(2);
		_exit(0);
	}
	if (read(done[0], &c, 1) != 1)
		case_fail("child did not start");
	send_as(dg[1], "p1", getpid(), 65534, 65534);
	if (write(go[1], "g", 1) != 1 || read(done[0], &c, 1) != 1)
		case_fail("child did not send c2");
	if (write(st[1], "bbb", 3) != 3)
		case_fail("write bbb: %s", strerror(errno));

	case_ready();
	case_wait_go();
	if (write(go[1], "g", 1) != 1 || read(done[0], &now, sizeof(now)) != sizeof(now))
		case_fail("the child did not say its pid");
	expect(dg[0], "c1", now, 0, 0, false);
	expect(dg[0], "p1", getpid(), 65534, 65534, false);
	expect(dg[0], "c2", now, 0, 0, false);
	expect(st[0], "aaa", now, 0, 0, false);
	expect(st[0], "bbb", getpid(), 0, 0, false);
	expect(pf[0], "pf", now, 0, 0, true);
	if (!get_opt(dg[0], SO_PASSCRED) || !get_opt(st[0], SO_PASSCRED) ||
	    get_opt(pf[0], SO_PASSCRED) || !get_opt(pf[0], SO_PASSPIDFD) ||
	    !get_opt(sec, SO_PASSSEC) || get_opt(dg[1], SO_PASSCRED))
		case_fail("SO_PASSCRED/PASSPIDFD/PASSSEC are not as they were");
	if (waitpid(now, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("child failed (status %#x)", status);
	case_pass();
}
