/* A deleted object held both opened and through an O_PATH fd comes back
 * as one inode, both fds on it (fstat: one st_dev and st_ino; the data
 * one writes, the other sees), each with its own flags:
 *  - a FIFO held read-write and with O_PATH: the bytes in it come back,
 *    and a FIFO reopened through the O_PATH fd is the same pipe;
 *  - a regular file held read-write and with O_PATH: a write through one
 *    is read through the file reopened from the other;
 *  - a directory held O_RDONLY and with O_PATH, the O_PATH fd taken
 *    first (the lower number). */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void want_one_inode(const char *what, int a, int b)
{
	struct stat sa, sb;

	if (fstatat(a, "", &sa, AT_EMPTY_PATH) || fstatat(b, "", &sb, AT_EMPTY_PATH))
		case_fail("fstat %s: %s", what, strerror(errno));
	if (sa.st_dev != sb.st_dev || sa.st_ino != sb.st_ino)
		case_fail("%s: its two fds are two inodes (%lu and %lu)", what,
			  (unsigned long)sa.st_ino, (unsigned long)sb.st_ino);
	if (sa.st_nlink != 0)
		case_fail("%s has %lu links, want 0 (deleted)", what,
			  (unsigned long)sa.st_nlink);
}

static void want_flags(const char *what, int fd, int want)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || (fl & (O_PATH | O_ACCMODE)) != want)
		case_fail("%s: flags 0%o, want 0%o", what, fl < 0 ? -1 : fl & (O_PATH | O_ACCMODE),
			  want);
}

/* fd reopened through /proc/self/fd with flags. */
static int reopen(int fd, int flags)
{
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = open(path, flags);
	if (r < 0)
		case_fail("reopen %s: %s", path, strerror(errno));
	return r;
}

int main(void)
{
	char base[PATH_MAX - 64], fifo[PATH_MAX], file[PATH_MAX], dir[PATH_MAX];
	int ffd, fpath, rfd, rpath, dpath, dfd, x;
	char buf[16];

	case_init();
	snprintf(base, sizeof(base), "%s/crest-opath-XXXXXX", case_tmpdir());
	if (!mkdtemp(base))
		case_fail("mkdtemp: %s", strerror(errno));
	snprintf(fifo, sizeof(fifo), "%s/fifo", base);
	snprintf(file, sizeof(file), "%s/file", base);
	snprintf(dir, sizeof(dir), "%s/dir", base);
	if (mkfifo(fifo, 0640) || mkdir(dir, 0750))
		case_fail("make the nodes in %s: %s", base, strerror(errno));
	ffd = open(fifo, O_RDWR | O_NONBLOCK);
	fpath = open(fifo, O_PATH);
	rfd = open(file, O_RDWR | O_CREAT, 0644);
	rpath = open(file, O_PATH);
	dpath = open(dir, O_PATH | O_DIRECTORY);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (ffd < 0 || fpath < 0 || rfd < 0 || rpath < 0 || dpath < 0 || dfd < 0)
		case_fail("open the nodes: %s", strerror(errno));
	if (write(ffd, "fifo!", 5) != 5 || write(rfd, "file!", 5) != 5)
		case_fail("fill the FIFO and the file: %s", strerror(errno));
	if (unlink(fifo) || unlink(file) || rmdir(dir))
		case_fail("delete the nodes: %s", strerror(errno));
	want_one_inode("before: the FIFO", ffd, fpath);
	want_one_inode("before: the file", rfd, rpath);
	want_one_inode("before: the directory", dfd, dpath);

	case_ready();
	case_wait_go();

	want_one_inode("the FIFO", ffd, fpath);
	want_flags("the FIFO", ffd, O_RDWR);
	want_flags("the FIFO's O_PATH fd", fpath, O_PATH);
	memset(buf, 0, sizeof(buf));
	if (read(ffd, buf, sizeof(buf)) != 5 || memcmp(buf, "fifo!", 5))
		case_fail("the FIFO held '%s', want 'fifo!'", buf);
	/* A FIFO opened through the O_PATH fd is the pipe of the other fd. */
	x = reopen(fpath, O_WRONLY | O_NONBLOCK);
	if (write(x, "again", 5) != 5 || read(ffd, buf, 5) != 5 || memcmp(buf, "again", 5))
		case_fail("the FIFO reopened through its O_PATH fd is another pipe");
	close(x);

	want_one_inode("the file", rfd, rpath);
	want_flags("the file", rfd, O_RDWR);
	want_flags("the file's O_PATH fd", rpath, O_PATH);
	if (pwrite(rfd, "FILE", 4, 0) != 4)
		case_fail("write the file: %s", strerror(errno));
	x = reopen(rpath, O_RDONLY);
	memset(buf, 0, sizeof(buf));
	if (read(x, buf, sizeof(buf)) != 5 || memcmp(buf, "FILE!", 5))
		case_fail("the file reopened through its O_PATH fd reads '%s', want 'FILE!'", buf);
	close(x);

	want_one_inode("the directory", dfd, dpath);
	want_flags("the directory", dfd, O_RDONLY);
	want_flags("the directory's O_PATH fd", dpath, O_PATH);
	case_pass();
}
