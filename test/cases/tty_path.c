/*
 * Terminals other than ptys, held above fd 2 and reopened by their path:
 * /dev/console at fd 5 (write-only) and at fd 6 (another description,
 * O_NONBLOCK), and /dev/tty1 at fd 7 if this machine has it. After the
 * restore each fd leads to the same device with its flags, and the
 * terminal's modes are what they were (crest put the saved ones back).
 */
#include "caselib.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

struct t {
	const char *path;
	int fd, flags;
	bool optional;
	bool open;
	struct termios modes;
	dev_t rdev;
};

static struct t ts[] = {
	{ "/dev/console", 5, O_WRONLY, false },
	{ "/dev/console", 6, O_RDWR | O_NONBLOCK, false },
	{ "/dev/tty1", 7, O_RDWR | O_NONBLOCK, true },
};

int main(void)
{
	case_init();
	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		struct t *t = &ts[i];
		struct stat st;
		int fd = open(t->path, t->flags | O_NOCTTY);

		if (fd < 0) {
			if (t->optional)
				continue;
			case_fail("open %s: %s", t->path, strerror(errno));
		}
		if (dup2(fd, t->fd) != t->fd)
			case_fail("dup2: %s", strerror(errno));
		close(fd);
		if (fstat(t->fd, &st) || tcgetattr(t->fd, &t->modes))
			case_fail("%s: %s", t->path, strerror(errno));
		t->rdev = st.st_rdev;
		t->open = true;
	}
	case_ready();
	case_wait_go();
	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		struct t *t = &ts[i];
		struct termios now;
		char link[64], path[64];
		struct stat st;
		ssize_t n;
		int fl;

		if (!t->open)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", t->fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			case_fail("fd %d: %s", t->fd, strerror(errno));
		link[n] = 0;
		if (strcmp(link, t->path))
			case_fail("fd %d is %s, want %s", t->fd, link, t->path);
		if (fstat(t->fd, &st) || st.st_rdev != t->rdev)
			case_fail("fd %d: another device", t->fd);
		fl = fcntl(t->fd, F_GETFL);
		if ((fl & (O_ACCMODE | O_NONBLOCK)) != (t->flags & (O_ACCMODE | O_NONBLOCK)))
			case_fail("fd %d: flags %#x, want %#x", t->fd, fl, t->flags);
		if (tcgetattr(t->fd, &now))
			case_fail("fd %d: tcgetattr: %s", t->fd, strerror(errno));
		if (now.c_iflag != t->modes.c_iflag || now.c_oflag != t->modes.c_oflag ||
		    now.c_lflag != t->modes.c_lflag || now.c_cflag != t->modes.c_cflag ||
		    memcmp(now.c_cc, t->modes.c_cc, sizeof(now.c_cc)))
			case_fail("%s: its modes changed", t->path);
	}
	case_pass();
}
