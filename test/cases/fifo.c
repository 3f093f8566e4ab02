/*
 * A named FIFO, held by a reader and a writer in two processes, with
 * bytes in it at the checkpoint: reopened by its path, bytes and all.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	char path[256], buf[64];
	int rfd, wfd, status;
	pid_t child;

	case_init();
	snprintf(path, sizeof(path), "%s/crest-fifo-%d", case_tmpdir(), getpid());
	unlink(path);
	if (mkfifo(path, 0600))
		case_fail("mkfifo: %s", strerror(errno));
	rfd = open(path, O_RDONLY | O_NONBLOCK);
	wfd = open(path, O_WRONLY);
	if (rfd < 0 || wfd < 0)
		case_fail("open fifo: %s", strerror(errno));
	fcntl(rfd, F_SETFL, 0);
	child = fork();
	if (child == 0) {
		close(rfd);
		if (write(wfd, "first;", 6) != 6)
			_exit(2);
		pause();
		_exit(0);
	}
	close(wfd);
	/* Ready once the child's first bytes are in the FIFO. */
	for (int n = 0, i = 0; n < 6; i++) {
		if (ioctl(rfd, FIONREAD, &n))
			case_fail("FIONREAD: %s", strerror(errno));
		if (n < 6) {
			if (i > 60000)
				case_fail("the child wrote nothing");
			usleep(1000);
		}
	}
	case_ready();
	case_wait_go();

	if (read(rfd, buf, 6) != 6 || memcmp(buf, "first;", 6))
		case_fail("the FIFO lost its bytes: '%.6s'", buf);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	/* The child held the only writer: now a read sees the end. */
	if (read(rfd, buf, 1) != 0)
		case_fail("the FIFO still has a writer");
	if (!getenv("CREST_TMP"))
		unlink(path);
	case_pass();
}
