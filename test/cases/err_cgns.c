/*
 * The three cgroup namespace layouts crest can't make again, in one tree,
 * each to be refused by name in one refusal:
 *  - the root joins crest-test-cgerr/a, unshare()s a cgroup namespace
 *    there and then moves itself to crest-test-cgerr/b, outside its
 *    namespace's root (through a cgroup.procs fd it opened before the
 *    unshare: the kernel checks migrations against the opener's namespace);
 *  - a child goes back to the runner's cgroup namespace (setns), its
 *    parent being in the tree's;
 *  - a child unshare()s a namespace of its own, and a later child enters
 *    that one too (setns): two processes entered one namespace.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOP	"/sys/fs/cgroup/unified/crest-test-cgerr"

static void put(int fd, const char *what)
{
	if (write(fd, "0", 1) != 1)
		case_fail("joining %s: %s", what, strerror(errno));
}

static int rdy[2], go[2], outer;

/* A child that does what it is told, says so and waits for go's EOF. */
static pid_t child(int (*todo)(void *), void *arg)
{
	pid_t pid = fork();
	char c;
	ssize_t r;

	if (pid < 0)
		case_fail("fork: %s", strerror(errno));
	if (pid)
		return pid;
	close(go[1]);
	close(rdy[0]);
	if (todo(arg) || close(outer) || write(rdy[1], "r", 1) != 1)
		_exit(1);
	while ((r = read(go[0], &c, 1)) > 0 || (r < 0 && errno == EINTR))
		;
	_exit(0);
}

static int back_out(void *arg)
{
	(void)arg;
	return setns(outer, CLONE_NEWCGROUP);
}

static int own_ns(void *arg)
{
	(void)arg;
	return unshare(CLONE_NEWCGROUP);
}

static int enter(void *arg)
{
	char path[64];
	int fd, r;

	snprintf(path, sizeof(path), "/proc/%d/ns/cgroup", *(pid_t *)arg);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	r = setns(fd, CLONE_NEWCGROUP);
	close(fd);
	return r;
}

int main(void)
{
	int a, b, st;
	pid_t own;
	char c;

	case_init();
	if ((mkdir(TOP, 0755) && errno != EEXIST) || (mkdir(TOP "/a", 0755) && errno != EEXIST) ||
	    (mkdir(TOP "/b", 0755) && errno != EEXIST))
		case_fail("mkdir %s/{a,b}: %s", TOP, strerror(errno));
	outer = open("/proc/self/ns/cgroup", O_RDONLY);
	a = open(TOP "/a/cgroup.procs", O_WRONLY);
	b = open(TOP "/b/cgroup.procs", O_WRONLY);
	if (outer < 0 || a < 0 || b < 0)
		case_fail("open: %s", strerror(errno));
	put(a, TOP "/a");
	if (unshare(CLONE_NEWCGROUP))
		case_fail("unshare(CLONE_NEWCGROUP): %s", strerror(errno));
	put(b, TOP "/b");
	close(a);
	close(b);
	if (pipe(rdy) || pipe(go))
		case_fail("pipe: %s", strerror(errno));
	child(back_out, NULL);
	own = child(own_ns, NULL);
	/* The namespace must be there before the next child enters it. */
	if (read(rdy[0], &c, 1) != 1 || read(rdy[0], &c, 1) != 1)
		case_fail("a child did not get ready");
	child(enter, &own);
	if (read(rdy[0], &c, 1) != 1)
		case_fail("the last child did not get ready");
	close(outer);
	close(rdy[0]);
	close(rdy[1]);
	close(go[0]);
	case_ready();
	case_wait_go();
	close(go[1]);
	for (int i = 0; i < 3; i++)
		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			case_fail("a child failed (status %#x)", st);
	case_pass();
}
