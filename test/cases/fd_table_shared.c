/*
 * Processes sharing one fd table (clone(CLONE_FILES) without CLONE_VM)
 * share it again after the restore.
 *
 * The parent makes the child with clone(CLONE_FILES | SIGCHLD); the
 * child forks a grandchild of its own (a copy of the table, not the
 * table). Before the dump the parent opens a pipe at fds 30/31, the
 * child an eventfd at fd 32: each sees the other's.
 *
 * After the restore, from inside: kcmp KCMP_FILES says parent and child
 * share a table and the grandchild does not; the fds opened before are
 * there for both and work; an eventfd the child opens at fd 40 after
 * the restore shows in the parent, which reads its count; fd 30, which
 * the parent closes, is gone for the child too; the grandchild still
 * has fd 30 and no fd 40.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t poked;

static void on_usr1(int sig)
{
	(void)sig;
	poked = 1;
}

static long kcmp_files(pid_t a, pid_t b)
{
	return syscall(SYS_kcmp, a, b, KCMP_FILES, 0, 0);
}

/* Wait for cond (an expression) a generous while; 0 if it never held. */
#define WAIT_FOR(cond) ({ \
	for (int _i = 0; !(cond) && _i < 10000; _i++) \
		usleep(1000); \
	(cond); })

static int grandchild_fn(void)
{
	while (!poked)
		pause();
	/* A copy of the table as it was at the fork: 30 stays, 40 never came. */
	if (fcntl(30, F_GETFD) < 0 || fcntl(32, F_GETFD) < 0)
		_exit(3);
	if (fcntl(40, F_GETFD) >= 0)
		_exit(4);
	_exit(0);
}

static int child_fn(void *arg)
{
	pid_t gc;
	int status;

	(void)arg;
	if (dup2(eventfd(5, 0), 32) != 32)
		_exit(10);
	gc = fork();
	if (gc < 0)
		_exit(11);
	if (gc == 0)
		grandchild_fn();
	while (!poked)
		pause();
	/* After the restore: an fd opened here shows in the parent... */
	if (dup2(eventfd(42, 0), 40) != 40)
		_exit(12);
	/* ...and one the parent closes goes here too. */
	if (!WAIT_FOR(fcntl(30, F_GETFD) < 0))
		_exit(13);
	kill(gc, SIGUSR1);
	if (waitpid(gc, &status, 0) != gc)
		_exit(14);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		_exit(20 + (WIFEXITED(status) ? WEXITSTATUS(status) : 9));
	_exit(0);
}

int main(void)
{
	static char stack[256 << 10];
	struct sigaction sa = { .sa_handler = on_usr1 };
	int p[2], status;
	uint64_t v;
	pid_t child, gc = 0;
	char c;
	FILE *f;
	char path[64];

	case_init();
	sigaction(SIGUSR1, &sa, NULL);
	if (pipe(p) || dup2(p[0], 30) != 30 || dup2(p[1], 31) != 31)
		case_fail("pipe: %s", strerror(errno));
	close(p[0]);
	close(p[1]);
	child = clone(child_fn, stack + sizeof(stack), CLONE_FILES | SIGCHLD, NULL);
	if (child < 0)
		case_fail("clone(CLONE_FILES): %s", strerror(errno));
	if (!WAIT_FOR(fcntl(32, F_GETFD) >= 0))
		case_fail("the child's eventfd 32 never showed here");
	/* The grandchild, from the child's children file. */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", child, child);
	for (int i = 0; i < 10000 && !gc; i++) {
		f = fopen(path, "re");
		if (f) {
			if (fscanf(f, "%d", &gc) != 1)
				gc = 0;
			fclose(f);
		}
		if (!gc)
			usleep(1000);
	}
	if (!gc)
		case_fail("the grandchild never showed");
	if (kcmp_files(getpid(), child) != 0 || kcmp_files(getpid(), gc) == 0)
		case_fail("setup: the fd tables are not as meant");

	case_ready();
	case_wait_go();

	if (kcmp_files(getpid(), child) != 0)
		case_fail("the child no longer shares the fd table");
	if (kcmp_files(getpid(), gc) == 0 || kcmp_files(child, gc) == 0)
		case_fail("the grandchild shares the table it had a copy of");
	if (write(31, "x", 1) != 1 || read(30, &c, 1) != 1 || c != 'x')
		case_fail("the pipe at 30/31 does not work");
	if (read(32, &v, 8) != 8 || v != 5)
		case_fail("the child's eventfd 32 does not read 5 here");
	kill(child, SIGUSR1);
	if (!WAIT_FOR(fcntl(40, F_GETFD) >= 0))
		case_fail("the eventfd the child opened at 40 never showed here");
	if (read(40, &v, 8) != 8 || v != 42)
		case_fail("fd 40 is not the child's eventfd");
	close(30);
	if (waitpid(child, &status, 0) != child)
		case_fail("waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("the child failed: status %#x", status);
	case_pass();
}
