/*
 * A pty with both ends in the tree, as script(1) or a tmux server has it:
 * the parent holds the master, its child is a session leader with the
 * slave as controlling terminal (opened by path at fd 0 and twice more, as two descriptions), in raw
 * mode with a 33x111 window, and its grandchild's process group is the
 * foreground one. At the dump 3000 bytes typed to the slave (written to
 * the master) wait for the child and 1500 bytes the child wrote wait for
 * the parent; the master is O_NONBLOCK.
 * After the restore: each side reads exactly what was queued, then they
 * talk both ways (through /dev/tty too, which the session leader holds
 * open, close-on-exec, and its grandchild inherited: one description for
 * both, kcmp says); the termios, the window size, the session, the
 * foreground group and /dev/tty (the controlling terminal) are as they
 * were.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kcmp.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define TO_SLAVE	3000
#define TO_MASTER	1500

static char pattern(size_t i, int seed)
{
	return (char)('a' + (i * 7 + seed) % 26);
}

static void fill(char *buf, size_t len, int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern(i, seed);
}

/* Exactly len bytes of seed's pattern, then nothing more for now. */
static void read_exact(const char *who, int fd, size_t len, int seed)
{
	static char buf[8192];
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		struct pollfd p = { fd, POLLIN, 0 };

		if (poll(&p, 1, 30000) != 1)
			case_fail("%s: %zu of %zu bytes in 30 s", who, got, len);
		n = read(fd, buf + got, len - got);
		if (n <= 0)
			case_fail("%s: read after %zu of %zu bytes: %zd (%s)", who, got,
				  len, n, strerror(errno));
		got += n;
	}
	for (size_t i = 0; i < len; i++)
		if (buf[i] != pattern(i, seed))
			case_fail("%s: byte %zu is '%c', want '%c'", who, i, buf[i],
				  pattern(i, seed));
	{
		struct pollfd p = { fd, POLLIN, 0 };

		if (poll(&p, 1, 0) != 0)
			case_fail("%s: more than the %zu bytes queued", who, len);
	}
}

static void write_exact(int fd, size_t len, int seed)
{
	char buf[8192];

	fill(buf, len, seed);
	if (write(fd, buf, len) != (ssize_t)len)
		case_fail("write of %zu bytes: %s", len, strerror(errno));
}

static int queued(int fd)
{
	int n = 0;

	if (ioctl(fd, FIONREAD, &n))
		case_fail("FIONREAD: %s", strerror(errno));
	return n;
}

static void wait_queued(int fd, int want)
{
	for (int i = 0; i < 30000 && queued(fd) < want; i++)
		usleep(1000);
	if (queued(fd) != want)
		case_fail("%d bytes queued, want %d", queued(fd), want);
}

static void xread1(int fd)
{
	char c;

	if (read(fd, &c, 1) != 1)
		case_fail("sync read: %s", strerror(errno));
}

static void xwrite1(int fd)
{
	if (write(fd, "x", 1) != 1)
		case_fail("sync write: %s", strerror(errno));
}

/* The session leader: slave at 0 and 3, controlling terminal. */
static int child_main(const char *pts, int ready, int go)
{
	struct termios t, now;
	struct winsize ws;
	int s, s2, fd, tty, gsync[2], gready[2];
	pid_t g;

	if (setsid() < 0)
		case_fail("setsid: %s", strerror(errno));
	s = open(pts, O_RDWR);		/* no O_NOCTTY: our controlling terminal */
	if (s < 0)
		case_fail("open %s: %s", pts, strerror(errno));
	if (dup2(s, 0) < 0)
		case_fail("dup2: %s", strerror(errno));
	s2 = open(pts, O_RDWR | O_NOCTTY);	/* a second description */
	if (s2 < 0)
		case_fail("open %s: %s", pts, strerror(errno));
	if (tcgetattr(s, &t))
		case_fail("tcgetattr: %s", strerror(errno));
	cfmakeraw(&t);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	cfsetospeed(&t, B9600);
	if (tcsetattr(s, TCSANOW, &t))
		case_fail("tcsetattr: %s", strerror(errno));

	tty = open("/dev/tty", O_RDWR | O_CLOEXEC);	/* our controlling terminal */
	if (tty < 0)
		case_fail("open /dev/tty: %s", strerror(errno));
	if (pipe(gsync) || pipe(gready))
		case_fail("pipe: %s", strerror(errno));
	g = fork();
	if (g < 0)
		case_fail("fork: %s", strerror(errno));
	if (g == 0) {
		char c;

		close(gsync[1]);
		close(gready[0]);
		setpgid(0, 0);
		/* Settled (the audit's snapshot sees it so): say so. */
		xwrite1(gready[1]);
		close(gready[1]);
		/* Until the session leader is done: EOF. */
		while (read(gsync[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(gsync[0]);
	close(gready[1]);
	setpgid(g, g);
	xread1(gready[0]);
	close(gready[0]);
	signal(SIGTTOU, SIG_IGN);
	if (tcsetpgrp(s, g))
		case_fail("tcsetpgrp: %s", strerror(errno));
	write_exact(s, TO_MASTER, 2);
	xwrite1(ready);

	xread1(go);	/* restored, the parent read its bytes */
	if (tcgetpgrp(s) != g)
		case_fail("foreground group %d, want %d", tcgetpgrp(s), g);
	/* A background group that is orphaned gets EIO reading: us to the front. */
	if (tcsetpgrp(s, getpgrp()))
		case_fail("tcsetpgrp: %s", strerror(errno));
	read_exact("slave", s, TO_SLAVE, 1);
	if (tcgetattr(s, &now))
		case_fail("tcgetattr after restore: %s", strerror(errno));
	if (now.c_iflag != t.c_iflag || now.c_oflag != t.c_oflag ||
	    now.c_lflag != t.c_lflag || now.c_cflag != t.c_cflag ||
	    memcmp(now.c_cc, t.c_cc, sizeof(t.c_cc)) ||
	    cfgetospeed(&now) != B9600)
		case_fail("termios changed: iflag %o/%o oflag %o/%o lflag %o/%o cflag %o/%o",
			  now.c_iflag, t.c_iflag, now.c_oflag, t.c_oflag, now.c_lflag,
			  t.c_lflag, now.c_cflag, t.c_cflag);
	if (ioctl(s2, TIOCGWINSZ, &ws) || ws.ws_row != 33 || ws.ws_col != 111)
		case_fail("window size %ux%u, want 33x111", ws.ws_row, ws.ws_col);
	if (getsid(0) != getpid() || tcgetsid(s) != getpid())
		case_fail("session %d, tty's %d, want %d", getsid(0), tcgetsid(s),
			  getpid());
	fd = open("/dev/tty", O_RDWR);
	if (fd < 0)
		case_fail("no controlling terminal: /dev/tty: %s", strerror(errno));
	close(fd);
	/* Both descriptions lead to the same terminal. */
	{
		char buf[30];

		fill(buf, sizeof(buf), 3);
		char link[64], path[64];
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", tty);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0 || (link[n] = 0, strcmp(link, "/dev/tty")))
			case_fail("fd %d is %s, want /dev/tty", tty, n < 0 ? "gone" : link);
		if (!(fcntl(tty, F_GETFD) & FD_CLOEXEC))
			case_fail("/dev/tty lost close-on-exec");
		/* One open, inherited by the grandchild: one description still. */
		if (syscall(SYS_kcmp, getpid(), g, KCMP_FILE, tty, tty) != 0)
			case_fail("/dev/tty at fd %d is not the description the grandchild's fd %d is (kcmp: %s)",
				  tty, tty, strerror(errno));
		if (write(s2, buf, 10) != 10 || write(0, buf + 10, 10) != 10 ||
		    write(tty, buf + 20, 10) != 10)
			case_fail("write after restore: %s", strerror(errno));
	}
	read_exact("slave, after", s, 5, 5);
	close(gsync[1]);
	if (waitpid(g, NULL, 0) != g)
		case_fail("waitpid grandchild: %s", strerror(errno));
	return 0;
}

int main(void)
{
	int m, ready[2], go[2], st, fl;
	struct winsize ws = { 33, 111, 0, 0 };
	char pts[64];
	pid_t c;

	case_init();
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, pts, sizeof(pts)))
		case_fail("posix_openpt: %s", strerror(errno));
	if (ioctl(m, TIOCSWINSZ, &ws))
		case_fail("TIOCSWINSZ: %s", strerror(errno));
	if (pipe(ready) || pipe(go))
		case_fail("pipe: %s", strerror(errno));
	c = fork();
	if (c < 0)
		case_fail("fork: %s", strerror(errno));
	if (c == 0) {
		close(m);
		close(ready[0]);
		close(go[1]);
		exit(child_main(pts, ready[1], go[0]));
	}
	close(ready[1]);
	close(go[0]);
	xread1(ready[0]);
	write_exact(m, TO_SLAVE, 1);
	wait_queued(m, TO_MASTER);
	fl = fcntl(m, F_GETFL);
	fcntl(m, F_SETFL, fl | O_NONBLOCK);

	case_ready();
	case_wait_go();

	if (!(fcntl(m, F_GETFL) & O_NONBLOCK))
		case_fail("the master lost O_NONBLOCK");
	read_exact("master", m, TO_MASTER, 2);
	if (ioctl(m, TIOCGWINSZ, &ws) || ws.ws_row != 33 || ws.ws_col != 111)
		case_fail("master: window size %ux%u, want 33x111", ws.ws_row, ws.ws_col);
	xwrite1(go[1]);
	read_exact("master, after", m, 30, 3);
	write_exact(m, 5, 5);
	if (waitpid(c, &st, 0) != c)
		case_fail("waitpid: %s", strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		case_fail("the session leader failed (status %#x)", st);
	case_pass();
}
