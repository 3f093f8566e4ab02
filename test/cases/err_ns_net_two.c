/*
 * What of a tree over several network namespaces crest does not make
 * again yet, each to be refused by name (test/run's errors mode starts it
 * under unshare --net): its child C made a namespace B, a unix socket
 * there, then another namespace B2 and a UDP socket there. No process of
 * the tree is in B now: its socket can't be made again in it. An inet
 * socket is made in the first process's namespace only: C's is refused.
 * A unix socketpair of the case's namespace that C holds an end of is
 * saved (no refusal names it).
 */
#include "caselib.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	int ready[2], pair[2];
	pid_t c;
	char r;

	case_init();
	if (!case_own_ns("net"))
		case_fail("not in a network namespace of its own (test/run runs it under unshare --net)");
	if (pipe(ready) || socketpair(AF_UNIX, SOCK_STREAM, 0, pair))
		case_fail("pipe/socketpair: %s", strerror(errno));
	c = fork();
	if (c < 0)
		case_fail("fork: %s", strerror(errno));
	if (!c) {
		int u, d;

		close(ready[0]);
		close(pair[0]);
		if (unshare(CLONE_NEWNET) || (u = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0 ||
		    unshare(CLONE_NEWNET) || (d = socket(AF_INET, SOCK_DGRAM, 0)) < 0 ||
		    write(ready[1], "r", 1) != 1)
			_exit(1);
		/* Until the case goes (EOF on its end of the pair). */
		while (read(pair[1], &r, 1) > 0)
			;
		_exit(0);
	}
	close(ready[1]);
	close(pair[1]);
	if (read(ready[0], &r, 1) != 1)
		case_fail("the child did not make its sockets");
	case_ready();
	case_wait_go();
	close(pair[0]);
	if (waitpid(c, NULL, 0) != c)
		case_fail("waitpid: %s", strerror(errno));
	case_pass();
}
