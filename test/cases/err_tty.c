/* Not a checkpoint/restore case: ptys crest can't save yet, next to one
 * it could:
 *   fd 10, 11  a pty's master and its slave in canonical mode, a line
 *              typed ("hello\n") and not read yet: crest can save it
 *              (with CAP_SYS_ADMIN), taking the line and putting it back
 *   fd 12      the slave of a pty whose master a process outside the tree
 *              holds (a grandchild that was reparented away)
 *              and, in a child, the controlling terminal of its session
 *   fd 13, 14  a pty's master in packet mode and its slave, which wrote 5
 *              bytes the master has not read
 *   fd 15, 16  a pty's master and slave in raw mode, nothing queued:
 *              crest could save it
 * The errors mode expects fds 12 and 13 and the child's session
 * refused by name, 10 and 15 not, and
 * the process left running with every byte still queued: after go the
 * slave at 11 reads its line and the master at 13 its packet. Cases named
 * err_* are run by the errors mode only. */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static void must(int ok, const char *what)
{
	if (!ok)
		case_fail("%s: %s", what, strerror(errno));
}

/* A pty: master at fd mfd, its slave at sfd (no controlling terminal). */
static void make_pty(int mfd, int sfd)
{
	char pts[64];
	int m = posix_openpt(O_RDWR | O_NOCTTY), s;

	must(m >= 0 && !grantpt(m) && !unlockpt(m) && !ptsname_r(m, pts, sizeof(pts)),
	     "posix_openpt");
	s = open(pts, O_RDWR | O_NOCTTY);
	must(s >= 0, pts);
	must(dup2(m, mfd) == mfd && dup2(s, sfd) == sfd, "dup2");
	close(m);
	close(s);
}

static void wait_queued(int fd, int want)
{
	int n = 0;

	for (int i = 0; i < 30000; i++) {
		must(!ioctl(fd, FIONREAD, &n), "FIONREAD");
		if (n >= want)
			return;
		usleep(1000);
	}
	case_fail("%d bytes queued, want %d", n, want);
}

int main(void)
{
	struct termios t;
	int one = 1, sync[2], alive[2];
	char buf[64], pts[64];
	int lead[2];
	ssize_t n;
	pid_t c, leader;

	case_init();
	make_pty(10, 11);
	must(write(10, "hello\n", 6) == 6, "write to the master");
	wait_queued(11, 6);

	/* fd 12: the master goes to a grandchild that leaves the tree. */
	must(!pipe(sync) && !pipe(alive), "pipe");
	c = fork();
	must(c >= 0, "fork");
	if (c == 0) {
		if (fork() == 0) {
			int m = posix_openpt(O_RDWR | O_NOCTTY);

			close(alive[1]);
			must(m >= 0 && !grantpt(m) && !unlockpt(m) &&
			     !ptsname_r(m, pts, sizeof(pts)), "posix_openpt");
			must(write(sync[1], pts, strlen(pts) + 1) > 0, "write");
			/* Until the case is gone. */
			while (read(alive[0], buf, 1) > 0)
				;
			_exit(0);
		}
		_exit(0);
	}
	close(alive[0]);
	close(sync[1]);
	must(read(sync[0], pts, sizeof(pts)) > 0, "read the pts name");
	close(sync[0]);
	{
		int s = open(pts, O_RDWR | O_NOCTTY);

		must(s >= 0 && dup2(s, 12) == 12, pts);
		close(s);
	}

	/* A session leader whose controlling terminal is that pty. */
	must(pipe(lead) == 0, "pipe");
	leader = fork();
	must(leader >= 0, "fork");
	if (leader == 0) {
		int s;

		close(lead[1]);
		must(setsid() > 0, "setsid");
		s = open(pts, O_RDWR);	/* no O_NOCTTY: it becomes ours */
		must(s >= 0, pts);
		while (read(lead[0], buf, 1) > 0)
			;
		_exit(0);
	}
	close(lead[0]);
	{
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/stat", leader);
		for (int i = 0; i < 30000; i++) {
			FILE *f = fopen(path, "r");
			int tty = 0;

			must(f != NULL, path);
			if (fscanf(f, "%*d (%*[^)]) %*c %*d %*d %*d %d", &tty) != 1)
				tty = 0;
			fclose(f);
			if (tty)
				break;
			usleep(1000);
		}
	}

	make_pty(13, 14);
	must(!tcgetattr(14, &t), "tcgetattr");
	cfmakeraw(&t);
	must(!tcsetattr(14, TCSANOW, &t), "tcsetattr");
	must(!ioctl(13, TIOCPKT, &one), "TIOCPKT");
	must(write(14, "abcde", 5) == 5, "write to the slave");
	wait_queued(13, 5);

	make_pty(15, 16);
	must(!tcgetattr(16, &t), "tcgetattr");
	cfmakeraw(&t);
	must(!tcsetattr(16, TCSANOW, &t), "tcsetattr");

	case_ready();
	case_wait_go();

	n = read(11, buf, sizeof(buf));
	if (n != 6 || memcmp(buf, "hello\n", 6))
		case_fail("the typed line: %zd bytes (%s)", n, strerror(errno));
	n = read(13, buf, sizeof(buf));
	if (n != 6 || buf[0] != TIOCPKT_DATA || memcmp(buf + 1, "abcde", 5))
		case_fail("the packet: %zd bytes (%s)", n, strerror(errno));
	close(lead[1]);
	if (waitpid(leader, NULL, 0) != leader)
		case_fail("waitpid: %s", strerror(errno));
	case_pass();
}
