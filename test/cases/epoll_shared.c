/*
 * An epoll shared by a parent and the child it forked (one description,
 * one interest list): after the restore it is still one, a watch the
 * child adds shows in the parent's epoll_wait(), and the watch made
 * before the dump still reports its pipe.
 */
#include "caselib.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define KCMP_FILE	0

static void expect_event(int ep, uint64_t want)
{
	struct epoll_event ev;
	int n = epoll_wait(ep, &ev, 1, 30000);

	if (n != 1)
		case_fail("epoll_wait: %d events (%s), want the one of watch %llu", n,
			  n < 0 ? strerror(errno) : "none in 30 s", (unsigned long long)want);
	if (ev.data.u64 != want)
		case_fail("epoll_wait reported watch %llu, want %llu",
			  (unsigned long long)ev.data.u64, (unsigned long long)want);
}

int main(void)
{
	int a[2], b[2], go[2], ep, status;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 1 };
	char c;
	pid_t child;

	case_init();
	if (pipe(a) || pipe(b) || pipe(go))
		case_fail("pipe: %s", strerror(errno));
	ep = epoll_create1(0);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, a[0], &ev))
		case_fail("epoll: %s", strerror(errno));
	child = fork();
	if (child < 0)
		case_fail("fork: %s", strerror(errno));
	if (child == 0) {
		struct epoll_event cev = { .events = EPOLLIN, .data.u64 = 2 };

		if (read(go[0], &c, 1) != 1)
			_exit(2);
		/* After the restore: a watch added here is the parent's too. */
		_exit(epoll_ctl(ep, EPOLL_CTL_ADD, b[0], &cev) ? 3 : 0);
	}
	case_ready();
	case_wait_go();

	if (syscall(SYS_kcmp, getpid(), child, KCMP_FILE, ep, ep) != 0)
		case_fail("the child's epoll is no longer the parent's (kcmp)");
	if (write(go[1], "g", 1) != 1)
		case_fail("write: %s", strerror(errno));
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("the child could not add its watch: status %#x", status);
	if (write(b[1], "x", 1) != 1)
		case_fail("write: %s", strerror(errno));
	expect_event(ep, 2);
	if (read(b[0], &c, 1) != 1 || write(a[1], "y", 1) != 1)
		case_fail("pipes: %s", strerror(errno));
	expect_event(ep, 1);
	case_pass();
}
