/* Not a checkpoint/restore case: holds a listening unix stream socket
 * bound to a path on fd 5, which crest can't save yet (a socketpair between
 * fds 6 and 7 it could). The runner's "errors" mode dumps it and expects
 * the dump to be refused by name with the process left running; after go,
 * a client must still connect to the listening socket and be accepted,
 * and the pair must still carry bytes. Cases named err_* are run by the
 * errors mode only. */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SOCK_FD	5

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

	case_ready();
	case_wait_go();

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
