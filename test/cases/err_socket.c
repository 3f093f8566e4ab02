/* Not a checkpoint/restore case: holds a listening unix stream socket
 * bound to a path on fd 5 with a connection waiting to be accepted whose
 * client is a process outside the tree (a grandchild whose parent exited:
 * the runner's now), which crest can't save (a socketpair between fds 6
 * and 7 it could). The runner's "errors" mode dumps it and expects the
 * dump to be refused by name with the process left running; after go, the
 * waiting connection is accepted and carries the outside client's bytes,
 * a new client connects and is accepted, and the pair still carries bytes.
 * Cases named err_* are run by the errors mode only. */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define SOCK_FD	5

/*
 * A client outside the tree: a grandchild whose parent exits. It connects
 * (and waits to be accepted), sends "outside", says so on a pipe, and
 * exits when the case is gone (EOF on a second pipe, whose write end only
 * the case holds).
 */
static void outside_client(const struct sockaddr_un *sa)
{
	int ready[2], life[2], status;
	pid_t pid;
	char c;

	if (pipe(ready) || pipe(life))
		case_fail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		case_fail("fork: %s", strerror(errno));
	if (!pid) {
		int fd;

		if (fork())
			_exit(0);
		close(ready[0]);
		close(life[1]);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) ||
		    write(fd, "outside", 7) != 7 || write(ready[1], "c", 1) != 1)
			_exit(1);
		close(ready[1]);
		while (read(life[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(ready[1]);
	close(life[0]);
	if (waitpid(pid, &status, 0) != pid || read(ready[0], &c, 1) != 1)
		case_fail("the outside client did not connect");
	close(ready[0]);
}

int main(void)
{
	static const char msg[] = "still connected";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[sizeof(msg)];
	int l, c, a, sv[2];

	case_init();
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/err_socket-%d.sock",
		 case_tmpdir(), getpid());
	unlink(sa.sun_path);
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 4))
		case_fail("listening socket at '%s': %s", sa.sun_path, strerror(errno));
	if (l != SOCK_FD) {
		if (dup2(l, SOCK_FD) < 0)
			case_fail("dup2: %s", strerror(errno));
		close(l);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		case_fail("socketpair: %s", strerror(errno));
	outside_client(&sa);

	case_ready();
	case_wait_go();

	a = accept(SOCK_FD, NULL, NULL);
	if (a < 0 || read(a, buf, 7) != 7 || memcmp(buf, "outside", 7))
		case_fail("the waiting connection from outside is not there as it was");
	close(a);

	c = socket(AF_UNIX, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)))
		case_fail("connect to '%s': %s", sa.sun_path, strerror(errno));
	a = accept(SOCK_FD, NULL, NULL);
	if (a < 0)
		case_fail("accept on fd %d: %s", SOCK_FD, strerror(errno));
	if (write(c, msg, sizeof(msg)) != (ssize_t)sizeof(msg) ||
	    read(a, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || memcmp(buf, msg, sizeof(msg)))
		case_fail("the accepted connection does not carry bytes");
	if (write(sv[0], msg, sizeof(msg)) != (ssize_t)sizeof(msg) ||
	    read(sv[1], buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		case_fail("the socketpair does not carry bytes");
	unlink(sa.sun_path);
	case_pass();
}
