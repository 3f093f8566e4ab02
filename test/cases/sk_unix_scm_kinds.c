/*
 * fds in flight of the kinds crest makes itself or in each task: the
 * process sends to itself, over a datagram socketpair, one message with
 *  - an epoll watching the read end of a pipe (EPOLLIN, data 0x5eed),
 *    with a byte in the pipe: the pipe's ends stay open in the process,
 *    the epoll is only in flight; it also watches (data 0x5eef) the read
 *    end of a second pipe with a byte in it, sent in the same message
 *    and closed: only in flight too;
 *  - a pidfd of its child, which waits on a pipe and is never told to go;
 *  - an eventfd with the count 41 (non-blocking);
 * and a second message with
 *  - a signalfd for SIGUSR1 (blocked);
 *  - a timerfd armed for 1 ms, every 1 ms, on CLOCK_MONOTONIC;
 *  - an inotify watching the case's directory for IN_CREATE;
 *  - a memfd holding "memfd-data", at offset 3;
 * and closes them all; over the socketpair it holds at sv[0], sv[1]
 * itself (in flight in its own queue, and held); and an epoll it keeps
 * (watching the first pipe, data 0x5eee), in flight too. Nothing is received
 * before the dump. After the
 * restore it receives them: the epoll reports both pipes readable with
 * their data, the second pipe's end received gives its byte, and the fd
 * number the first was added at is still its key (EPOLL_CTL_MOD of that
 * number works); pidfd_send_signal() through the
 * pidfd kills the child, whose wait status says SIGTERM; the eventfd
 * reads 41, then would block; the signalfd reads SIGUSR1 once raised,
 * the timerfd expires and keeps its interval, the inotify reports a file
 * made in the directory by name, the memfd reads "fd-data" from where it
 * was; the socket received is sv[1] itself (one inode); the epoll
 * received is the one held (one description, kcmp), which reports the
 * pipe with its data.
 */
#include "caselib.h"

#include <linux/kcmp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define EP_DATA		0x5eedULL
#define EV_COUNT	41

static void send_fds(int sock, const int *fds, int nr)
{
	char ctl[CMSG_SPACE(8 * sizeof(int))];
	struct iovec iov = { (void *)"fds", 3 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl,
			     .msg_controllen = CMSG_SPACE(nr * sizeof(int)) };
	struct cmsghdr *c;

	memset(ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(nr * sizeof(int));
	memcpy(CMSG_DATA(c), fds, nr * sizeof(int));
	if (sendmsg(sock, &mh, 0) != 3)
		case_fail("sendmsg: %s", strerror(errno));
}

static void check_more(const int *fds)
{
	struct signalfd_siginfo si;
	struct itimerspec its;
	union { struct inotify_event ev; char buf[512]; } in;
	char path[300], buf[16];
	uint64_t ticks;
	struct pollfd pf;
	ssize_t n;
	int f;

	if (raise(SIGUSR1) || read(fds[0], &si, sizeof(si)) != sizeof(si) ||
	    si.ssi_signo != SIGUSR1)
		case_fail("the signalfd did not read SIGUSR1: %s", strerror(errno));
	pf = (struct pollfd){ fds[1], POLLIN, 0 };
	if (poll(&pf, 1, 30000) != 1 || read(fds[1], &ticks, sizeof(ticks)) != sizeof(ticks) ||
	    !ticks)
		case_fail("the timerfd did not expire in 30 s");
	if (timerfd_gettime(fds[1], &its) || its.it_interval.tv_sec ||
	    its.it_interval.tv_nsec != 1000000)
		case_fail("the timerfd lost its interval of 1 ms");
	snprintf(path, sizeof(path), "%s/scm-kinds-%d", case_tmpdir(), getpid());
	f = open(path, O_CREAT | O_WRONLY, 0600);
	if (f < 0)
		case_fail("create %s: %s", path, strerror(errno));
	close(f);
	unlink(path);
	pf = (struct pollfd){ fds[2], POLLIN, 0 };
	if (poll(&pf, 1, 30000) != 1)
		case_fail("the inotify reported nothing in 30 s");
	n = read(fds[2], &in, sizeof(in));
	if (n < (ssize_t)sizeof(in.ev) || !(in.ev.mask & IN_CREATE) ||
	    strcmp(in.ev.name, strrchr(path, '/') + 1))
		case_fail("the inotify did not report the file made (%zd bytes, mask %#x)", n,
			  n > 0 ? in.ev.mask : 0);
	n = read(fds[3], buf, sizeof(buf));
	if (n != 7 || memcmp(buf, "fd-data", 7))
		case_fail("the memfd read %zd bytes '%.*s', want 'fd-data'", n,
			  n > 0 ? (int)n : 0, buf);
}

static void recv_fds(int sock, int *fds, int nr)
{
	char buf[16], ctl[CMSG_SPACE(8 * sizeof(int))];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct pollfd p = { sock, POLLIN, 0 };
	struct cmsghdr *c;
	ssize_t n;

	if (poll(&p, 1, 30000) != 1)
		case_fail("the socket is not readable in 30 s");
	n = recvmsg(sock, &mh, MSG_DONTWAIT);
	if (n != 3 || memcmp(buf, "fds", 3))
		case_fail("read %zd bytes, want 'fds'", n);
	c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(nr * sizeof(int)) || (mh.msg_flags & MSG_CTRUNC))
		case_fail("the message came without its %d fds", nr);
	memcpy(fds, CMSG_DATA(c), nr * sizeof(int));
}

static void check_epoll(int ep, int rd, int rd2)
{
	struct epoll_event evs[4], ev;
	int n = epoll_wait(ep, evs, 4, 30000), seen = 0;
	char c;

	for (int i = 0; i < n; i++)
		if (evs[i].events & EPOLLIN)
			seen |= evs[i].data.u64 == EP_DATA ? 1 :
				evs[i].data.u64 == EP_DATA + 2 ? 2 : 4;
	if (n != 2 || seen != 3)
		case_fail("the epoll gave %d events (%#x), want EPOLLIN with data %#llx and %#llx",
			  n, seen, EP_DATA, EP_DATA + 2);
	if (read(rd2, &c, 1) != 1 || c != 'y')
		case_fail("the pipe end in flight did not give its byte");
	ev.events = EPOLLIN;
	ev.data.u64 = EP_DATA + 1;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, rd, &ev))
		case_fail("EPOLL_CTL_MOD of fd %d, the number it watched: %s", rd,
			  strerror(errno));
	n = epoll_wait(ep, &ev, 1, 30000);
	if (n != 1 || ev.data.u64 != EP_DATA + 1)
		case_fail("the epoll gave %d events after EPOLL_CTL_MOD", n);
}

int main(void)
{
	struct itimerspec its = { { 0, 1000000 }, { 0, 1000000 } };
	int sv[2], p[2], q[2], hold[2], fds[4], more[4], status, self, held, held2;
	struct stat st1, st2;
	char buf[16];
	sigset_t set;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EP_DATA };
	uint64_t v;
	pid_t child;
	char c;

	case_init();
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) || pipe(p) || pipe(q) || pipe(hold))
		case_fail("socketpair/pipe: %s", strerror(errno));
	child = fork();
	if (child < 0)
		case_fail("fork: %s", strerror(errno));
	if (!child) {
		close(hold[1]);
		while (read(hold[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(hold[0]);
	fds[0] = epoll_create1(0);
	fds[1] = syscall(SYS_pidfd_open, child, 0);
	fds[2] = eventfd(EV_COUNT, EFD_NONBLOCK);
	if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0)
		case_fail("epoll/pidfd/eventfd: %s", strerror(errno));
	if (epoll_ctl(fds[0], EPOLL_CTL_ADD, p[0], &ev) || write(p[1], "x", 1) != 1)
		case_fail("epoll_ctl: %s", strerror(errno));
	ev.data.u64 = EP_DATA + 2;
	if (epoll_ctl(fds[0], EPOLL_CTL_ADD, q[0], &ev) || write(q[1], "y", 1) != 1)
		case_fail("epoll_ctl: %s", strerror(errno));
	fds[3] = q[0];
	send_fds(sv[0], fds, 4);
	for (int i = 0; i < 4; i++)
		close(fds[i]);

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		case_fail("sigprocmask: %s", strerror(errno));
	more[0] = signalfd(-1, &set, 0);
	more[1] = timerfd_create(CLOCK_MONOTONIC, 0);
	more[2] = inotify_init1(IN_NONBLOCK);
	more[3] = memfd_create("scm-kinds", 0);
	if (more[0] < 0 || more[1] < 0 || more[2] < 0 || more[3] < 0 ||
	    timerfd_settime(more[1], 0, &its, NULL) ||
	    inotify_add_watch(more[2], case_tmpdir(), IN_CREATE) < 0 ||
	    write(more[3], "memfd-data", 10) != 10 || lseek(more[3], 3, SEEK_SET) != 3)
		case_fail("signalfd/timerfd/inotify/memfd: %s", strerror(errno));
	send_fds(sv[0], more, 4);
	for (int i = 0; i < 4; i++)
		close(more[i]);
	send_fds(sv[0], &sv[1], 1);
	held = epoll_create1(0);
	ev.data.u64 = EP_DATA + 3;
	if (held < 0 || epoll_ctl(held, EPOLL_CTL_ADD, p[0], &ev))
		case_fail("epoll: %s", strerror(errno));
	send_fds(sv[0], &held, 1);

	case_ready();
	case_wait_go();

	recv_fds(sv[1], fds, 4);
	recv_fds(sv[1], more, 4);
	recv_fds(sv[1], &self, 1);
	recv_fds(sv[1], &held2, 1);
	if (recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT) != -1 || errno != EAGAIN)
		case_fail("more than three messages queued");
	if (fstat(self, &st1) || fstat(sv[1], &st2) || st1.st_ino != st2.st_ino)
		case_fail("the socket sent in its own queue came back as another");
	if (syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, held, held2))
		case_fail("the epoll in flight and the one held are not one description");
	if (epoll_wait(held2, &ev, 1, 30000) != 1 || ev.data.u64 != EP_DATA + 3)
		case_fail("the epoll in flight and held does not report the pipe");
	check_more(more);
	check_epoll(fds[0], p[0], fds[3]);
	if (syscall(SYS_pidfd_send_signal, fds[1], SIGTERM, NULL, 0))
		case_fail("pidfd_send_signal: %s", strerror(errno));
	if (waitpid(child, &status, 0) != child || !WIFSIGNALED(status) ||
	    WTERMSIG(status) != SIGTERM)
		case_fail("the child was not killed by SIGTERM through the pidfd (status %#x)",
			  status);
	if (read(fds[2], &v, sizeof(v)) != sizeof(v) || v != EV_COUNT)
		case_fail("the eventfd read %llu, want %d", (unsigned long long)v, EV_COUNT);
	if (read(fds[2], &v, sizeof(v)) != -1 || errno != EAGAIN)
		case_fail("the eventfd is not non-blocking and empty after its read");
	case_pass();
}
