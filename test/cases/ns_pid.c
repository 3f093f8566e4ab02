/*
 * A tree in a PID namespace of its own, with UTS and IPC ones (test/run
 * starts it under unshare --pid --fork --uts --ipc: unshare and this
 * case, PID 1 in the namespace, are dumped together). PID 1 forks A
 * (PID 2), which leads a session of its own and forks G (3, a group of
 * its own) and C (4, in G's group). After the restore each one's
 * getpid(), getppid(), getsid() and getpgid() inside are what they were,
 * PID 1 is still the init (its children's parent, reaping them) and the
 * hostname is the namespace's.
 */
#include "caselib.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define HOST	"crest-pid-ns"

struct ids {
	pid_t pid, ppid, sid, pgid;
};

static int go_pipe[2], ready_pipe[2];

static void ids_now(struct ids *i)
{
	i->pid = getpid();
	i->ppid = getppid();
	i->sid = getsid(0);
	i->pgid = getpgid(0);
}

/* A child: say ready, wait for the byte that says go, check its ids. */
static void child_wait_check(const char *name)
{
	struct ids before, after;
	char c;

	ids_now(&before);
	if (write(ready_pipe[1], "r", 1) != 1)
		_exit(10);
	while (read(go_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	ids_now(&after);
	if (memcmp(&before, &after, sizeof(before))) {
		printf("FAIL %s: pid %d ppid %d sid %d pgid %d, were %d %d %d %d\n",
		       name, after.pid, after.ppid, after.sid, after.pgid,
		       before.pid, before.ppid, before.sid, before.pgid);
		fflush(stdout);
		_exit(11);
	}
}

static void wait_ok(pid_t pid, const char *name)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		case_fail("waitpid %s (%d): %s", name, pid, strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		case_fail("%s (%d) ended with status %#x", name, pid, st);
}

int main(void)
{
	pid_t a, g, c;
	char host[64], ch;

	case_init();
	if (getpid() != 1)
		case_fail("pid %d: not the init of a PID namespace (run it under unshare --pid --fork through test/run)",
			  getpid());
	if (sethostname(HOST, strlen(HOST)))
		case_fail("sethostname: %s", strerror(errno));
	if (pipe(go_pipe) || pipe(ready_pipe))
		case_fail("pipe: %s", strerror(errno));
	a = fork();
	if (a == 0) {
		if (setsid() < 0)
			_exit(20);
		g = fork();
		if (g == 0) {
			setpgid(0, 0);
			child_wait_check("G");
			_exit(0);
		}
		setpgid(g, g);
		c = fork();
		if (c == 0) {
			if (setpgid(0, g))
				_exit(21);
			child_wait_check("C");
			_exit(0);
		}
		child_wait_check("A");
		for (int i = 0; i < 2; i++) {
			int st;

			if (waitpid(i ? c : g, &st, 0) != (i ? c : g) ||
			    !WIFEXITED(st) || WEXITSTATUS(st))
				_exit(22);
		}
		_exit(0);
	}
	if (a != 2)
		case_fail("first child is pid %d, want 2", a);
	for (int i = 0; i < 3; i++)
		if (read(ready_pipe[0], &ch, 1) != 1)
			case_fail("a child died before it was ready");

	case_ready();
	case_wait_go();

	if (getpid() != 1)
		case_fail("getpid() %d after the restore, want 1", getpid());
	if (getppid() != 0 || getsid(0) != 0)
		case_fail("getppid() %d getsid() %d, want 0 0 (outside)", getppid(), getsid(0));
	if (gethostname(host, sizeof(host)) || strcmp(host, HOST))
		case_fail("hostname '%s', want '%s'", host, HOST);
	if (write(go_pipe[1], "ggg", 3) != 3)
		case_fail("write: %s", strerror(errno));
	wait_ok(a, "A");
	case_pass();
}
