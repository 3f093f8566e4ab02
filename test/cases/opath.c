/* O_PATH fds come back as paths on the same objects, checked from inside
 * after the restore: on a directory (used as a dirfd), a regular file, a
 * symlink itself (O_PATH | O_NOFOLLOW: fstat says symlink, readlinkat
 * through it gives the target), the same symlink followed (the file), a
 * FIFO (not opened for I/O), a unix socket's file and /dev/null. Each
 * still has O_PATH, the same inode as its path and /proc's name for it.
 * Everything lives in a directory of $CREST_TMP, kept for a second
 * restore of the same images. */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define NR	7

static char dir[PATH_MAX], paths[NR][PATH_MAX + 16];
static const char *const names[NR] = { "", "file", "link", "link", "fifo",
					"sock", NULL };
static const int nofollow[NR] = { 0, 0, 1, 0, 0, 0, 0 };

static void check(const char *when, int i, int fd)
{
	char proc[64], link[PATH_MAX];
	const char *want = names[i] ? paths[i] : "/dev/null";
	struct stat a, b;
	ssize_t n;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || !(fl & O_PATH))
		case_fail("%s: fd %d (%s) lost O_PATH (flags %#o)", when, fd, want, fl);
	if (fstat(fd, &a) || (nofollow[i] ? lstat : stat)(want, &b))
		case_fail("%s: stat %s: %s", when, want, strerror(errno));
	if (a.st_ino != b.st_ino || a.st_dev != b.st_dev || a.st_mode != b.st_mode)
		case_fail("%s: fd %d is inode %lu mode %o, %s is %lu mode %o", when, fd,
			  (unsigned long)a.st_ino, a.st_mode, want,
			  (unsigned long)b.st_ino, b.st_mode);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, link, sizeof(link) - 1);
	if (n < 0)
		case_fail("%s: readlink %s: %s", when, proc, strerror(errno));
	link[n] = 0;
	/* Followed, the symlink is the file. */
	if (strcmp(link, i == 3 ? paths[1] : want))
		case_fail("%s: fd %d is '%s', want '%s'", when, fd, link,
			  i == 3 ? paths[1] : want);
}

int main(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fds[NR], sk, tmp;
	char buf[64];
	ssize_t n;

	case_init();
	snprintf(dir, sizeof(dir), "%s/crest-opath-XXXXXX", case_tmpdir());
	if (!mkdtemp(dir))
		case_fail("mkdtemp %s: %s", dir, strerror(errno));
	for (int i = 0; i < NR; i++)
		if (names[i])
			snprintf(paths[i], sizeof(paths[i]), "%s%s%s", dir,
				 names[i][0] ? "/" : "", names[i]);
	tmp = open(paths[1], O_WRONLY | O_CREAT, 0640);
	if (tmp < 0 || write(tmp, "data", 4) != 4 || symlink("file", paths[2]) ||
	    mkfifo(paths[4], 0600))
		case_fail("make the files in %s: %s", dir, strerror(errno));
	close(tmp);
	sk = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.*s", (int)sizeof(sa.sun_path) - 1,
		 paths[5]);
	if (sk < 0 || bind(sk, (struct sockaddr *)&sa, sizeof(sa)))
		case_fail("bind %s: %s", paths[5], strerror(errno));
	close(sk);	/* the socket's file stays */
	for (int i = 0; i < NR; i++) {
		const char *p = names[i] ? paths[i] : "/dev/null";

		fds[i] = open(p, O_PATH | (nofollow[i] ? O_NOFOLLOW : 0) |
			      (i ? 0 : O_DIRECTORY));
		if (fds[i] < 0)
			case_fail("open %s O_PATH: %s", p, strerror(errno));
		check("before", i, fds[i]);
	}

	case_ready();
	case_wait_go();

	for (int i = 0; i < NR; i++)
		check("after", i, fds[i]);
	n = readlinkat(fds[2], "", buf, sizeof(buf) - 1);
	if (n != 4 || memcmp(buf, "file", 4))
		case_fail("readlinkat through the symlink's fd: %zd %s", n,
			  n < 0 ? strerror(errno) : "");
	tmp = openat(fds[0], "file", O_RDONLY);
	if (tmp < 0 || read(tmp, buf, 4) != 4 || memcmp(buf, "data", 4))
		case_fail("openat through the directory's fd: %s", strerror(errno));
	close(tmp);
	case_pass();
}
