/*
 * Input typed for a canonical reader on a pty of the tree: the parent
 * holds the master, its child leads a session whose controlling terminal
 * is the slave (fd 0, cooked: ICANON, ECHO), and the parent has typed
 * complete lines (one ended by a newline, one by EOF, an empty EOF, one
 * with a DEL quoted by LNEXT) and half a line with a typo erased
 * ("half a lix", DEL). After the restore the child reads the lines one by
 * one as they were, the parent types the end of the unfinished line and
 * the child reads it whole ("half a line\n"): its bytes and its erase
 * came back. Nothing was echoed by the restore (the parent reads only the
 * echo of what it typed after), and the termios is the same.
 */
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

static const char lines[] = "first line\n" "x\004" "\004" "lit\026\177\n";
static const char partial[] = "half a lix\177";

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

static ssize_t read_wait(int fd, char *buf, size_t len)
{
	struct pollfd p = { fd, POLLIN, 0 };

	if (poll(&p, 1, 30000) != 1)
		case_fail("nothing to read on fd %d in 30 s", fd);
	return read(fd, buf, len);
}

/* One canonical read: exactly want (len bytes; 0: an end-of-file). */
static void read_line(const char *want, size_t len)
{
	char buf[256];
	ssize_t n = read_wait(0, buf, sizeof(buf));

	if (n < 0)
		case_fail("read of a line: %s", strerror(errno));
	if ((size_t)n != len || memcmp(buf, want, len))
		case_fail("a line read as %zd bytes '%.*s', want %zu '%.*s'", n,
			  (int)(n > 0 ? n : 0), buf, len, (int)len, want);
}

static int child_main(const char *pts, int ready, int go, int done)
{
	struct termios before, after;
	int s;

	if (setsid() < 0)
		case_fail("setsid: %s", strerror(errno));
	s = open(pts, O_RDWR);		/* our controlling terminal */
	if (s < 0 || dup2(s, 0) < 0)
		case_fail("open %s: %s", pts, strerror(errno));
	close(s);
	if (tcgetattr(0, &before))
		case_fail("tcgetattr: %s", strerror(errno));
	if (!(before.c_lflag & ICANON) || !(before.c_lflag & ECHO))
		case_fail("the slave is not cooked");
	xwrite1(ready);

	xread1(go);	/* restored */
	if (tcgetattr(0, &after))
		case_fail("tcgetattr after restore: %s", strerror(errno));
	if (after.c_iflag != before.c_iflag || after.c_oflag != before.c_oflag ||
	    after.c_lflag != before.c_lflag || after.c_cflag != before.c_cflag ||
	    memcmp(after.c_cc, before.c_cc, sizeof(before.c_cc)))
		case_fail("termios changed: lflag %o/%o iflag %o/%o", after.c_lflag,
			  before.c_lflag, after.c_iflag, before.c_iflag);
	read_line("first line\n", 11);
	read_line("x", 1);
	read_line("", 0);
	read_line("lit\177\n", 5);
	xwrite1(done);		/* the parent types the end of the line */
	read_line("half a line\n", 12);
	return 0;
}

/* What the master reads until it ends with tail (the echo of a key). */
static void drain_until(int m, const char *tail)
{
	static char buf[4096];
	size_t got = 0, tl = strlen(tail);

	while (got < tl || memcmp(buf + got - tl, tail, tl)) {
		ssize_t n = read_wait(m, buf + got, sizeof(buf) - got);

		if (n <= 0)
			case_fail("the echo: %zd (%s) after %zu bytes", n, strerror(errno), got);
		got += n;
		if (got == sizeof(buf))
			case_fail("no echo '%s' in %zu bytes", tail, got);
	}
}

int main(void)
{
	int m, ready[2], go[2], done[2], st, n;
	char pts[64], buf[64];
	pid_t c;

	case_init();
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, pts, sizeof(pts)))
		case_fail("posix_openpt: %s", strerror(errno));
	if (pipe(ready) || pipe(go) || pipe(done))
		case_fail("pipe: %s", strerror(errno));
	c = fork();
	if (c < 0)
		case_fail("fork: %s", strerror(errno));
	if (c == 0) {
		close(m);
		close(ready[0]);
		close(go[1]);
		close(done[0]);
		exit(child_main(pts, ready[1], go[0], done[1]));
	}
	close(ready[1]);
	close(go[0]);
	close(done[1]);
	xread1(ready[0]);
	if (write(m, lines, sizeof(lines) - 1) != sizeof(lines) - 1 ||
	    write(m, partial, sizeof(partial) - 1) != sizeof(partial) - 1)
		case_fail("typing: %s", strerror(errno));
	/* Typed and seen: the erase of the x is echoed (ECHOE) last. */
	drain_until(m, "lix\b \b");

	case_ready();
	case_wait_go();

	xwrite1(go[1]);
	xread1(done[0]);
	if (write(m, "ne\n", 3) != 3)
		case_fail("typing the end of the line: %s", strerror(errno));
	for (n = 0; n < 4;) {
		ssize_t r = read_wait(m, buf + n, sizeof(buf) - n);

		if (r <= 0)
			case_fail("the echo: %s", strerror(errno));
		n += r;
	}
	if (n != 4 || memcmp(buf, "ne\r\n", 4))
		case_fail("the master read %d bytes '%.*s', want the echo 'ne\\r\\n'", n,
			  n, buf);
	if (waitpid(c, &st, 0) != c)
		case_fail("waitpid: %s", strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		case_fail("the session leader failed (status %#x)", st);
	case_pass();
}
