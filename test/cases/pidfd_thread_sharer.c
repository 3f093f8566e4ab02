/*
 * A pidfd of a thread of a process that shares its parent's fd table
 * (clone(CLONE_FILES) without CLONE_VM) comes back in that table, checked
 * after the restore from the parent (the TID asked of the thread itself,
 * so it holds with --no-restore-pid too):
 *  - the child S starts a thread T and opens a pidfd of T (PIDFD_THREAD)
 *    at fd 50 of the table it shares with the parent P;
 *  - P and S still share one table (kcmp KCMP_FILES), fd 50 is a pidfd of
 *    T with PIDFD_THREAD, it does not poll readable while T lives, and
 *    does (fdinfo Pid -1) once T has exited.
 */
#include "caselib.h"
#include "pidfd_util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD	O_EXCL
#endif

#define PFD	50		/* S's pidfd of T, in the shared table */
#define STACK	(256 * 1024)

static int ask[2], tell[2];	/* to T: '?' its TID comes back, 'x' it exits */

/*
 * T: a bare thread of S (clone(CLONE_THREAD) with S's TLS): raw system
 * calls only, nothing of libc's state of its own.
 */
static int thread_fn(void *arg)
{
	char c;

	for (;;) {
		long n = syscall(SYS_read, ask[0], &c, 1);
		int tid = syscall(SYS_gettid);

		if (n == 1 && c == 'x')
			syscall(SYS_exit, 0);
		if (n == 1 && syscall(SYS_write, tell[1], &tid, sizeof(tid)) != sizeof(tid))
			syscall(SYS_exit, 1);
	}
	return 0;
}

static int sharer_fn(void *arg)
{
	char *stack = mmap(NULL, STACK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	int tid, fd;
	char c = '?';

	if (stack == MAP_FAILED ||
	    clone(thread_fn, stack + STACK, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
		  CLONE_THREAD | CLONE_SYSVSEM, NULL) < 0)
		_exit(2);
	if (write(ask[1], &c, 1) != 1 || read(tell[0], &tid, sizeof(tid)) != sizeof(tid))
		_exit(3);
	fd = syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
	if (fd < 0 || dup2(fd, PFD) != PFD)
		_exit(4);
	close(fd);
	for (;;)
		syscall(SYS_pause);
}

static pid_t tid_of_t(void)
{
	char c = '?';
	pid_t tid;
	ssize_t n;

	if (write(ask[1], &c, 1) != 1)
		case_fail("ask thread T: %s", strerror(errno));
	while ((n = read(tell[0], &tid, sizeof(tid))) < 0 && errno == EINTR)
		;
	if (n != sizeof(tid))
		case_fail("thread T did not tell its TID");
	return tid;
}

/* S now (another PID after --no-restore-pid): our only child. */
static pid_t sharer_now(void)
{
	char path[64];
	int pid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", getpid());
	f = fopen(path, "r");
	if (!f || fscanf(f, "%d", &pid) != 1)
		case_fail("the sharer is not our child");
	fclose(f);
	return pid;
}

int main(void)
{
	char *stack = malloc(STACK);
	pid_t s, t;
	int i;

	case_init();
	if (!stack || pipe(ask) || pipe(tell))
		case_fail("set up: %s", strerror(errno));
	s = clone(sharer_fn, stack + STACK, CLONE_FILES | SIGCHLD, NULL);
	if (s < 0)
		case_fail("clone(CLONE_FILES): %s", strerror(errno));
	for (i = 0; i < 30000 && fcntl(PFD, F_GETFD) < 0; i++)
		usleep(1000);
	if (fcntl(PFD, F_GETFD) < 0)
		case_fail("the sharer did not open its pidfd of its thread at fd %d", PFD);
	t = tid_of_t();
	if (fdinfo_pid(PFD) != t)
		case_fail("before: fd %d shows Pid %d, want %d", PFD, fdinfo_pid(PFD), t);

	case_ready();
	case_wait_go();

	s = sharer_now();
	t = tid_of_t();
	if (syscall(SYS_kcmp, getpid(), s, KCMP_FILES, 0, 0))
		case_fail("the sharer no longer shares our fd table");
	if (fdinfo_pid(PFD) != t || !(fcntl(PFD, F_GETFL) & O_EXCL))
		case_fail("fd %d shows Pid %d flags 0%o, want thread %d with O_EXCL", PFD,
			  fdinfo_pid(PFD), fcntl(PFD, F_GETFL), t);
	if (readable(PFD, 0))
		case_fail("the pidfd of live thread T polls readable");
	if (write(ask[1], "x", 1) != 1)
		case_fail("end thread T: %s", strerror(errno));
	if (!readable(PFD, 30000))
		case_fail("thread T exited, its pidfd does not poll readable");
	if (fdinfo_pid(PFD) != -1)
		case_fail("thread T exited, its pidfd shows Pid %d", fdinfo_pid(PFD));
	kill(s, SIGKILL);
	waitpid(s, NULL, __WALL);
	case_pass();
}
