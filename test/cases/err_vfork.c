/*
 * Not a checkpoint/restore case: a child that called vfork() and waits
 * there, killable but not interruptible, for its own child, stopped
 * (SIGSTOP) before it exec'd, in its parent's memory. crest can't stop
 * the vfork() parent nor save one memory for two processes: the dump of
 * the tree refuses the parent by name, a dump of the vfork() child alone
 * refuses the child; neither hangs. After go the child, continued, exits,
 * and its parent returns from vfork() and exits 0.
 */
#include "caselib.h"
#include "stop_util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child_of(pid_t pid)
{
	char path[64];
	int c = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%d", &c) != 1)
		c = 0;
	fclose(f);
	return c;
}

int main(void)
{
	int pfd[2], st;
	pid_t a, b = 0;
	char c;

	case_init();
	if (pipe(pfd))
		case_fail("pipe: %s", strerror(errno));
	a = fork();
	if (a == 0) {
		pid_t v = vfork();

		if (v == 0) {
			/* Only what a vfork() child may do: raw calls, _exit. */
			kill(getpid(), SIGSTOP);
			_exit(0);
		}
		if (v < 0 || waitpid(v, &st, 0) != v || !WIFEXITED(st))
			_exit(2);
		_exit(write(pfd[1], "a", 1) == 1 ? 0 : 3);
	}
	if (a < 0)
		case_fail("fork: %s", strerror(errno));
	close(pfd[1]);
	for (int i = 0; i < 20000 && !(b = child_of(a)); i++)
		usleep(1000);
	for (int i = 0; i < 20000 && b && proc_state(b) != 'T'; i++)
		usleep(1000);
	if (!b || proc_state(b) != 'T')
		case_fail("the vfork() child did not stop");
	case_ready();
	case_wait_go();
	if (proc_state(a) != 'D' || proc_state(b) != 'T')
		case_fail("after the dumps: parent %c, child %c, want D and T",
			  proc_state(a), proc_state(b));
	kill(b, SIGCONT);
	if (read(pfd[0], &c, 1) != 1 || c != 'a')
		case_fail("the vfork() parent did not come back");
	if (waitpid(a, &st, 0) != a || !WIFEXITED(st) || WEXITSTATUS(st))
		case_fail("the vfork() parent failed (status %#x)", st);
	case_pass();
}
