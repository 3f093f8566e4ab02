/*
 * pidfds of threads other than the main one (PIDFD_THREAD) held outside
 * their process's own table come back, one description wherever it is
 * held, pointing at the restored threads (TIDs asked of the threads
 * themselves, so it holds with --no-restore-pid too), checked after the
 * restore:
 *  - of thread A, PIDFD_NONBLOCK, held by the process, by a child that
 *    inherited it (kcmp: one description), by thread W's own fd table
 *    (W unshared CLONE_FILES) and in flight (SCM_RIGHTS not received):
 *    fdinfo names A in the child, the copy received is the same
 *    description;
 *  - of thread B, held only by a second child that opened it: fdinfo
 *    there names B, with PIDFD_THREAD;
 *  - of thread B again, only in flight: received after the restore, it
 *    names B and a signal through it is taken by B, and it polls readable
 *    once B has exited;
 *  - of thread W itself, in W's own table: fdinfo of W's table names W
 *    and a signal W sends through it is taken by W.
 */
#include "caselib.h"
#include "pidfd_util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK	O_NONBLOCK
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD	O_EXCL
#endif

#define CHILD_FD	100	/* the second child's pidfd of thread B */

struct worker {
	pthread_t th;
	int ask[2], tell[2];	/* '?': its TID comes back; 's': signal; 'x': exit */
	int own;		/* W: unshare its fd table and open a pidfd of itself */
	int self_pidfd;
};

static volatile pid_t got_sig_tid;

static void on_usr1(int sig)
{
	got_sig_tid = syscall(SYS_gettid);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	char c;

	if (w->own) {
		if (unshare(CLONE_FILES))
			return NULL;
		w->self_pidfd = syscall(SYS_pidfd_open, syscall(SYS_gettid), PIDFD_THREAD);
		if (w->self_pidfd < 0)
			return NULL;
	}
	for (;;) {
		ssize_t n = read(w->ask[0], &c, 1);
		pid_t tid = syscall(SYS_gettid);	/* now: a restore may change it */
		int r = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n != 1 || c == 'x')
			return NULL;
		if (c == 's')	/* through its own pidfd of itself, in its own table */
			r = syscall(SYS_pidfd_send_signal, w->self_pidfd, SIGUSR1, NULL, 0) ? -errno : 0;
		if (write(w->tell[1], c == 's' ? &r : &tid, sizeof(tid)) != sizeof(tid))
			return NULL;
	}
}

static void start(struct worker *w, int own)
{
	w->own = own;
	w->self_pidfd = -1;
	if (pipe(w->ask) || pipe(w->tell) || pthread_create(&w->th, NULL, work, w))
		case_fail("start a thread: %s", strerror(errno));
}

static pid_t ask(struct worker *w, char c)
{
	pid_t tid;
	ssize_t n;

	if (write(w->ask[1], &c, 1) != 1)
		case_fail("ask a thread: %s", strerror(errno));
	while ((n = read(w->tell[0], &tid, sizeof(tid))) < 0 && errno == EINTR)
		;
	if (n != sizeof(tid))
		case_fail("a thread did not answer");
	return tid;
}

static int pidfd_open(pid_t pid, unsigned int flags)
{
	int fd = syscall(SYS_pidfd_open, pid, flags);

	if (fd < 0)
		case_fail("pidfd_open(%d, %#x): %s", pid, flags, strerror(errno));
	return fd;
}

static void send_fds(int sk, int a, int b)
{
	char ctl[CMSG_SPACE(2 * sizeof(int))] __attribute__((aligned(8))) = { 0 };
	struct iovec iov = { "p", 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	int fds[2] = { a, b };

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	if (sendmsg(sk, &mh, 0) != 1)
		case_fail("sendmsg: %s", strerror(errno));
}

static void recv_fds(int sk, int fds[2])
{
	char byte, ctl[CMSG_SPACE(2 * sizeof(int))] __attribute__((aligned(8)));
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;

	if (recvmsg(sk, &mh, MSG_DONTWAIT) != 1 || !(c = CMSG_FIRSTHDR(&mh)) ||
	    c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(2 * sizeof(int)))
		case_fail("the message in flight did not come back with its two fds (%s)",
			  strerror(errno));
	memcpy(fds, CMSG_DATA(c), 2 * sizeof(int));
}

static pid_t child(int hold_pidfd_of)
{
	pid_t pid = fork();

	if (pid < 0)
		case_fail("fork: %s", strerror(errno));
	if (pid == 0) {
		if (hold_pidfd_of > 0) {
			int fd = syscall(SYS_pidfd_open, hold_pidfd_of, PIDFD_THREAD);

			if (fd < 0 || dup2(fd, CHILD_FD) != CHILD_FD)
				_exit(1);
			close(fd);
		}
		for (;;)
			pause();
	}
	return pid;
}

/* Has child pid its fd fd open yet? */
static int has_fd(pid_t pid, int fd)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	return access(path, F_OK) == 0;
}

/* The children now (other PIDs after --no-restore-pid): the one with CHILD_FD is c2. */
static void children_now(pid_t *c1, pid_t *c2)
{
	char path[64];
	int n = 0, pid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", getpid());
	f = fopen(path, "r");
	while (f && fscanf(f, "%d", &pid) == 1) {
		*(has_fd(pid, CHILD_FD) ? c2 : c1) = pid;
		n++;
	}
	if (f)
		fclose(f);
	if (n != 2)
		case_fail("%d children, want 2", n);
}

static void wait_sig(pid_t tid, const char *what)
{
	for (int i = 0; i < 30000 && got_sig_tid != tid; i++)
		usleep(1000);
	if (got_sig_tid != tid)
		case_fail("SIGUSR1 through %s was taken by %d, not %d", what, got_sig_tid, tid);
}

int main(void)
{
	struct worker a, b, w;
	struct sigaction sa = { .sa_handler = on_usr1 };
	pid_t pid = getpid(), ta, tb, tw, c1, c2;
	int pa, pfly, sv[2], got[2], fl, i;

	case_init();
	if (sigaction(SIGUSR1, &sa, NULL))
		case_fail("sigaction: %s", strerror(errno));
	start(&a, 0);
	start(&b, 0);
	pa = pidfd_open(ask(&a, '?'), PIDFD_THREAD | PIDFD_NONBLOCK);
	tb = ask(&b, '?');
	c1 = child(0);			/* inherits pa */
	c2 = child(tb);			/* opens its own of thread B */
	start(&w, 1);			/* its own table: a copy of pa, and its own pidfd */
	tw = ask(&w, '?');
	if (w.self_pidfd < 0)
		case_fail("thread W could not unshare its table or open its pidfd");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		case_fail("socketpair: %s", strerror(errno));
	pfly = pidfd_open(tb, PIDFD_THREAD);
	send_fds(sv[0], pa, pfly);
	close(pfly);			/* in flight only */
	for (i = 0; i < 30000 && !has_fd(c2, CHILD_FD); i++)
		usleep(1000);
	if (!has_fd(c2, CHILD_FD))
		case_fail("the second child did not open its pidfd of thread B");
	(void)c1;

	case_ready();
	case_wait_go();

	pid = getpid();		/* another with --no-restore-pid */
	ta = ask(&a, '?');
	tb = ask(&b, '?');
	tw = ask(&w, '?');
	children_now(&c1, &c2);
	if (fdinfo_pid(pa) != ta)
		case_fail("the process's pidfd of thread A shows Pid %d, want %d", fdinfo_pid(pa), ta);

	/* The child that inherited it: the same description, of A. */
	{
		char proc[32];

		snprintf(proc, sizeof(proc), "%d", c1);
		if (fdinfo_of(proc, pa, &fl) != ta || (fl & (O_NONBLOCK | O_EXCL)) != (O_NONBLOCK | O_EXCL))
			case_fail("the child's pidfd of thread A shows Pid %d flags 0%o, want %d 0%o",
				  fdinfo_of(proc, pa, &fl), fl, ta, O_NONBLOCK | O_EXCL);
		if (syscall(SYS_kcmp, pid, c1, KCMP_FILE, pa, pa))
			case_fail("the child's pidfd of thread A is not the process's description");
		snprintf(proc, sizeof(proc), "%d", c2);
		if (fdinfo_of(proc, CHILD_FD, &fl) != tb || !(fl & O_EXCL))
			case_fail("the second child's pidfd of thread B shows Pid %d flags 0%o, want %d with O_EXCL",
				  fdinfo_of(proc, CHILD_FD, &fl), fl, tb);
	}

	/* Thread W's own table: A's (one description) and its own. */
	{
		char proc[48];

		if (syscall(SYS_kcmp, pid, tw, KCMP_FILE, pa, pa))
			case_fail("thread W's copy of the pidfd of thread A is another description");
		snprintf(proc, sizeof(proc), "%d/task/%d", pid, tw);
		if (fdinfo_of(proc, pa, &fl) != ta)
			case_fail("thread W's pidfd of thread A shows Pid %d, want %d",
				  fdinfo_of(proc, pa, &fl), ta);
		if (fdinfo_of(proc, w.self_pidfd, &fl) != tw || !(fl & O_EXCL))
			case_fail("thread W's pidfd of itself shows Pid %d flags 0%o, want %d with O_EXCL",
				  fdinfo_of(proc, w.self_pidfd, &fl), fl, tw);
		got_sig_tid = 0;
		if ((i = ask(&w, 's')))
			case_fail("pidfd_send_signal through W's own pidfd: %s", strerror(-i));
		wait_sig(tw, "thread W's pidfd of itself");
	}

	/* In flight: A's, the same description, and B's, of its own. */
	recv_fds(sv[1], got);
	if (syscall(SYS_kcmp, pid, pid, KCMP_FILE, got[0], pa))
		case_fail("the pidfd of thread A received is not the one the process holds");
	if (fdinfo_pid(got[1]) != tb || !(fcntl(got[1], F_GETFL) & O_EXCL) ||
	    (fcntl(got[1], F_GETFL) & O_NONBLOCK))
		case_fail("the pidfd of thread B received shows Pid %d flags 0%o, want %d, O_EXCL",
			  fdinfo_pid(got[1]), fcntl(got[1], F_GETFL), tb);
	got_sig_tid = 0;
	if (syscall(SYS_pidfd_send_signal, got[1], SIGUSR1, NULL, 0))
		case_fail("pidfd_send_signal through B's pidfd: %s", strerror(errno));
	wait_sig(tb, "the pidfd of thread B received");
	if (readable(got[1], 0))
		case_fail("the pidfd of live thread B polls readable");
	if (write(b.ask[1], "x", 1) != 1 || pthread_join(b.th, NULL))
		case_fail("end thread b: %s", strerror(errno));
	if (!readable(got[1], 30000))
		case_fail("thread B exited, its pidfd received does not poll readable");
	kill(c1, SIGKILL);
	kill(c2, SIGKILL);
	waitpid(c1, NULL, 0);
	waitpid(c2, NULL, 0);
	case_pass();
}
