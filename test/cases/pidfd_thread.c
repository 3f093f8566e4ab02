/*
 * pidfds of threads other than the main one (PIDFD_THREAD) come back
 * pointing at the restored threads, with their flags, checked from inside
 * after the restore (TIDs asked of the threads themselves, so it holds
 * with --no-restore-pid too):
 *  - of thread A, PIDFD_NONBLOCK, at two fds (one description: kcmp),
 *    one of them not close-on-exec: fdinfo names A's TID, the flags are kept,
 *    pidfd_send_signal() through it is taken by A itself;
 *  - of thread B, blocking: it does not poll readable while B lives, and
 *    does once B has exited;
 *  - of a thread that had exited before the dump: fdinfo shows Pid -1.
 */
#include "caselib.h"
#include "pidfd_util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK	O_NONBLOCK
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD	O_EXCL
#endif

struct worker {
	pthread_t th;
	int ask[2], tell[2];	/* a byte asks: its TID comes back; 'x': exit */
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

	for (;;) {
		ssize_t n = read(w->ask[0], &c, 1);
		pid_t tid = syscall(SYS_gettid);	/* now: a restore may change it */

		if (n < 0 && errno == EINTR)
			continue;
		if (n != 1 || c == 'x')
			return NULL;
		if (write(w->tell[1], &tid, sizeof(tid)) != sizeof(tid))
			return NULL;
	}
}

static void start(struct worker *w)
{
	if (pipe(w->ask) || pipe(w->tell) || pthread_create(&w->th, NULL, work, w))
		case_fail("start a thread: %s", strerror(errno));
}

static pid_t tid_of(struct worker *w)
{
	pid_t tid;
	ssize_t n;

	if (write(w->ask[1], "?", 1) != 1)
		case_fail("ask a thread: %s", strerror(errno));
	while ((n = read(w->tell[0], &tid, sizeof(tid))) < 0 && errno == EINTR)
		;
	if (n != sizeof(tid))
		case_fail("a thread did not tell its TID");
	return tid;
}

static int pidfd_open(pid_t pid, unsigned int flags)
{
	int fd = syscall(SYS_pidfd_open, pid, flags);

	if (fd < 0)
		case_fail("pidfd_open(%d, %#x): %s", pid, flags, strerror(errno));
	return fd;
}

static void want_flags(int fd, int want, int cloexec, const char *what)
{
	int fl = fcntl(fd, F_GETFL), fdf = fcntl(fd, F_GETFD);

	if (fl < 0 || fdf < 0 || (fl & (O_NONBLOCK | O_EXCL)) != want ||
	    !!(fdf & FD_CLOEXEC) != cloexec)
		case_fail("%s: flags 0%o fd flags %d, want 0%o and cloexec %d", what,
			  fl & (O_NONBLOCK | O_EXCL), fdf, want, cloexec);
}

int main(void)
{
	struct worker a, b, c;
	int pa, pa2, pb, pc, i;
	pid_t ta, tb, pid = getpid();
	struct sigaction sa = { .sa_handler = on_usr1 };

	case_init();
	if (sigaction(SIGUSR1, &sa, NULL))
		case_fail("sigaction: %s", strerror(errno));
	start(&a);
	start(&b);
	start(&c);
	pa = pidfd_open(tid_of(&a), PIDFD_THREAD | PIDFD_NONBLOCK);
	pa2 = fcntl(pa, F_DUPFD, 0);	/* pidfd_open() gives O_CLOEXEC */
	pb = pidfd_open(tid_of(&b), PIDFD_THREAD);
	pc = pidfd_open(tid_of(&c), PIDFD_THREAD);
	if (pa2 < 0 || write(c.ask[1], "x", 1) != 1 || pthread_join(c.th, NULL))
		case_fail("dup, or end thread c: %s", strerror(errno));
	/* A thread's pidfd polls readable once it has exited. */
	if (!readable(pc, 30000) || fdinfo_pid(pc) != -1)
		case_fail("before: the pidfd of the thread that exited shows Pid %d", fdinfo_pid(pc));
	if (readable(pb, 0))
		case_fail("before: the pidfd of a live thread polls readable");

	case_ready();
	case_wait_go();

	pid = getpid();		/* another with --no-restore-pid */
	ta = tid_of(&a);
	tb = tid_of(&b);
	if (fdinfo_pid(pa) != ta || fdinfo_pid(pa2) != ta || fdinfo_pid(pb) != tb)
		case_fail("fdinfo shows Pid %d, %d and %d, want %d, %d and %d", fdinfo_pid(pa),
			  fdinfo_pid(pa2), fdinfo_pid(pb), ta, ta, tb);
	if (fdinfo_pid(pc) != -1)
		case_fail("the pidfd of the thread that exited shows Pid %d", fdinfo_pid(pc));
	if (syscall(SYS_kcmp, pid, pid, KCMP_FILE, pa, pa2) != 0 ||
	    syscall(SYS_kcmp, pid, pid, KCMP_FILE, pa, pb) == 0)
		case_fail("the two fds of thread a's pidfd are not one description");
	want_flags(pa, O_NONBLOCK | O_EXCL, 1, "thread a's pidfd");
	want_flags(pa2, O_NONBLOCK | O_EXCL, 0, "its dup");
	want_flags(pb, O_EXCL, 1, "thread b's pidfd");
	want_flags(pc, O_EXCL, 1, "the exited thread's pidfd");

	/* A signal through a thread's pidfd goes to that thread. */
	if (syscall(SYS_pidfd_send_signal, pa2, SIGUSR1, NULL, 0))
		case_fail("pidfd_send_signal: %s", strerror(errno));
	for (i = 0; i < 30000 && got_sig_tid != ta; i++)
		usleep(1000);
	if (got_sig_tid != ta)
		case_fail("SIGUSR1 through thread a's pidfd was taken by %d, not %d",
			  got_sig_tid, ta);
	if (readable(pb, 0) || readable(pa, 0))
		case_fail("a live thread's pidfd polls readable");
	if (write(b.ask[1], "x", 1) != 1 || pthread_join(b.th, NULL))
		case_fail("end thread b: %s", strerror(errno));
	if (!readable(pb, 30000))
		case_fail("thread b exited, its pidfd does not poll readable");
	if (fdinfo_pid(pb) != -1)
		case_fail("thread b exited, its pidfd shows Pid %d", fdinfo_pid(pb));
	case_pass();
}
