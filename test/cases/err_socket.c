/* Not a checkpoint/restore case: holds one end of a unix socketpair on fd 5,
 * which crest can't save yet. The runner's "errors" mode dumps it and expects
 * the dump to be refused with the process left running; after go, the socket
 * must still work. Cases named err_* are run by the errors mode only. */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SOCK_FD	5

int main(void)
{
	static const char msg[] = "still connected";
	char buf[sizeof(msg)];
	int sv[2], peer;

	case_init();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		case_fail("socketpair: %s", strerror(errno));
	/* The peer goes above fd 5, then our end moves to fd 5. */
	peer = fcntl(sv[1], F_DUPFD, SOCK_FD + 1);
	if (peer < 0)
		case_fail("F_DUPFD: %s", strerror(errno));
	close(sv[1]);
	if (sv[0] != SOCK_FD) {
		if (dup2(sv[0], SOCK_FD) < 0)
			case_fail("dup2: %s", strerror(errno));
		close(sv[0]);
	}

	case_ready();
	case_wait_go();

	if (write(SOCK_FD, msg, sizeof(msg)) != (ssize_t)sizeof(msg))
		case_fail("write to fd %d: %s", SOCK_FD, strerror(errno));
	if (read(peer, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		case_fail("read from the peer: %s", strerror(errno));
	if (memcmp(buf, msg, sizeof(msg)))
		case_fail("peer read '%.*s', want '%s'", (int)sizeof(buf), buf, msg);
	case_pass();
}
