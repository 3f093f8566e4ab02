/* Not a checkpoint/restore case: unix sockets crest can't save yet, next
 * to a socketpair it could: fd 10 is a socketpair end with two fds in
 * flight (SCM_RIGHTS sent, not received): a pipe end and an epoll
 * instance the process holds too, which crest saves, and a second message
 * to fd 10 carries a pidfd of the parent, outside the tree, which it
 * can't; fd 11 is a datagram socket bound to an abstract name with a
 * datagram queued from a socket bound to a path that has been closed
 * since, its file left there (nothing of the tree can send it again with
 * that name, nor crest without taking the path), fds 12-13 a pair with
 * "abc" queued, and fd 14 a listener with a connection waiting whose
 * client has closed since (what it sent waits where crest can't read it).
 * The errors mode expects one refusal naming fds 10, 11 and 14 and the
 * pidfd, the process left running; after go the fds in flight are
 * received and work, the datagram and "abc" are still queued, once (the
 * failed dump's peeking took nothing), and the waiting connection is
 * accepted and at its end. Two more epolls are in flight to fd 10, each
 * sent alone and closed: one watches, as fd 20, a pipe end only a process
 * outside the tree holds (a grandchild reparented away, waiting for this
 * process to end), one watches, as fd 21, an epoll the process holds; the
 * refusal names both. */
#include "caselib.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void move(int fd, int to)
{
	if (fd != to && (dup2(fd, to) < 0 || close(fd)))
		case_fail("dup2: %s", strerror(errno));
}

int main(void)
{
	union { struct cmsghdr h; char buf[CMSG_SPACE(2 * sizeof(int))]; } cm;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct iovec iov = { "f", 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *c;
	int p[2], q[2], pp[2], d, got[2], ep;
	char buf[8], buf2[256];

	case_init();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, p) || socketpair(AF_UNIX, SOCK_STREAM, 0, q) ||
	    pipe(pp) || (ep = epoll_create1(0)) < 0)
		case_fail("socketpair: %s", strerror(errno));
	move(p[1], 10);
	move(q[0], 12);
	move(q[1], 13);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(c), &pp[1], sizeof(int));
	memcpy(CMSG_DATA(c) + sizeof(int), &ep, sizeof(int));
	if (sendmsg(p[0], &mh, 0) != 1)
		case_fail("sendmsg: %s", strerror(errno));
	d = socket(AF_UNIX, SOCK_DGRAM, 0);
	snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "crest-err-%d", getpid());
	if (d < 0 || bind(d, (struct sockaddr *)&sa,
			  offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sa.sun_path + 1)))
		case_fail("abstract socket: %s", strerror(errno));
	move(d, 11);
	{
		struct sockaddr_un from = { .sun_family = AF_UNIX };
		int x = socket(AF_UNIX, SOCK_DGRAM, 0);

		snprintf(from.sun_path, sizeof(from.sun_path), "%s/err_sk_unix-%d.sock",
			 case_tmpdir(), getpid());
		unlink(from.sun_path);
		if (x < 0 || bind(x, (struct sockaddr *)&from, sizeof(from)) ||
		    sendto(x, "dg", 2, 0, (struct sockaddr *)&sa,
			   offsetof(struct sockaddr_un, sun_path) + 1 +
			   strlen(sa.sun_path + 1)) != 2)
			case_fail("datagram from a path: %s", strerror(errno));
		/* Its file stays: crest can't bind there to send "dg" again. */
		close(x);
	}
	if (write(13, "abc", 3) != 3)
		case_fail("write: %s", strerror(errno));
	{
		int pfd = syscall(SYS_pidfd_open, getppid(), 0);

		if (pfd < 0)
			case_fail("pidfd_open: %s", strerror(errno));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pfd, sizeof(int));
		mh.msg_controllen = CMSG_SPACE(sizeof(int));
		if (sendmsg(p[0], &mh, 0) != 1)
			case_fail("sendmsg of a pidfd: %s", strerror(errno));
		close(pfd);
		mh.msg_controllen = sizeof(cm.buf);
	}
	{
		struct sockaddr_un la = { .sun_family = AF_UNIX };
		socklen_t llen;
		int l = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);

		snprintf(la.sun_path + 1, sizeof(la.sun_path) - 1, "crest-err-l-%d", getpid());
		llen = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(la.sun_path + 1);
		if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&la, llen) || listen(l, 2) ||
		    connect(c, (struct sockaddr *)&la, llen))
			case_fail("listener: %s", strerror(errno));
		close(c);
		move(l, 14);
	}

	{
		/* Epolls in flight crest refuses: each sent alone, then closed. */
		struct epoll_event ev = { .events = EPOLLIN };
		int w[2], e1 = epoll_create1(0), e2 = epoll_create1(0), e3 = epoll_create1(0);
		pid_t me = getpid(), mid;

		if (e1 < 0 || e2 < 0 || e3 < 0 || pipe(w))
			case_fail("epolls: %s", strerror(errno));
		move(w[0], 20);
		close(w[1]);
		move(e3, 21);
		mid = fork();
		if (mid < 0)
			case_fail("fork: %s", strerror(errno));
		if (mid == 0) {
			/* The grandchild, out of the tree, holds fd 20 till we end. */
			if (fork() == 0) {
				for (int fd = 0; fd < 1024; fd++)
					if (fd != 20)
						close(fd);
				while (kill(me, 0) == 0)
					usleep(20000);
				_exit(0);
			}
			_exit(0);
		}
		if (waitpid(mid, NULL, 0) != mid)
			case_fail("waitpid: %s", strerror(errno));
		if (epoll_ctl(e1, EPOLL_CTL_ADD, 20, &ev) || epoll_ctl(e2, EPOLL_CTL_ADD, 21, &ev))
			case_fail("epoll_ctl: %s", strerror(errno));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_len = CMSG_LEN(sizeof(int));
		mh.msg_controllen = CMSG_SPACE(sizeof(int));
		memcpy(CMSG_DATA(c), &e1, sizeof(int));
		if (sendmsg(p[0], &mh, 0) != 1)
			case_fail("sendmsg of an epoll: %s", strerror(errno));
		memcpy(CMSG_DATA(c), &e2, sizeof(int));
		if (sendmsg(p[0], &mh, 0) != 1)
			case_fail("sendmsg of an epoll: %s", strerror(errno));
		close(e1);
		close(e2);
		close(20);
		mh.msg_controllen = sizeof(cm.buf);
	}

	case_ready();
	case_wait_go();

	iov.iov_base = buf;
	mh.msg_controllen = sizeof(cm.buf);
	if (recvmsg(10, &mh, MSG_DONTWAIT) != 1 || !(c = CMSG_FIRSTHDR(&mh)) ||
	    c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(2 * sizeof(int)))
		case_fail("the fds in flight are gone: %s", strerror(errno));
	memcpy(got, CMSG_DATA(c), sizeof(got));
	if (write(got[0], "z", 1) != 1 || read(pp[0], buf, 1) != 1 || buf[0] != 'z')
		case_fail("the fd received does not lead to the pipe");
	{
		struct epoll_event ev = { .events = EPOLLIN };

		if (epoll_ctl(got[1], EPOLL_CTL_ADD, pp[0], &ev))
			case_fail("the second fd received is not an epoll: %s", strerror(errno));
	}
	if (recv(11, buf, sizeof(buf), MSG_DONTWAIT) != 2 || memcmp(buf, "dg", 2) ||
	    recv(11, buf, sizeof(buf), MSG_DONTWAIT) != -1)
		case_fail("the queued datagram is not there as it was");
	{
		int a = accept(14, NULL, NULL);

		if (a < 0 || recv(a, buf, sizeof(buf), MSG_DONTWAIT) != 0)
			case_fail("the waiting connection is not there at its end");
	}
	if (recv(12, buf, sizeof(buf), MSG_DONTWAIT) != 3 || memcmp(buf, "abc", 3))
		case_fail("the queued 'abc' is not there as it was");
	if (recv(12, buf, sizeof(buf), MSG_DONTWAIT) != -1 || errno != EAGAIN)
		case_fail("more than 'abc' queued after the failed dump");
	snprintf(buf2, sizeof(buf2), "%s/err_sk_unix-%d.sock", case_tmpdir(), getpid());
	unlink(buf2);
	case_pass();
}
