/* Deleted objects other than regular files come back deleted, made again
 * and removed again by the restore, under their own names ("PATH
 * (deleted)"), with their owner, mode and mtime:
 *  - a directory held open (twice: O_RDONLY and O_PATH, one inode), still
 *    usable as a dirfd: fstat, fchdir; it takes no new entry (ENOENT);
 *  - a FIFO held read-write, with the bytes that were in it;
 *  - a character device node (1:5, a /dev/zero), that reads zeros;
 *  - a regular file held with O_PATH only, that can be reopened;
 *  - a socket file (its socket closed) held with O_PATH: a socket file
 *    still, to which a connect() through it is refused as before;
 *  - the process's working directory. */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static char base[PATH_MAX - 64];

static void mk(char *path, const char *name)
{
	snprintf(path, PATH_MAX, "%s/%s", base, name);
}

static void want_link(int fd, const char *path)
{
	char proc[64], link[PATH_MAX], want[PATH_MAX + 16];
	ssize_t n;

	snprintf(proc, sizeof(proc), fd < 0 ? "/proc/self/cwd" : "/proc/self/fd/%d", fd);
	n = readlink(proc, link, sizeof(link) - 1);
	if (n < 0)
		case_fail("readlink %s: %s", proc, strerror(errno));
	link[n] = 0;
	snprintf(want, sizeof(want), "%s (deleted)", path);
	if (strcmp(link, want))
		case_fail("%s is '%s', want '%s'", proc, link, want);
}

static void want_stat(const char *what, int fd, mode_t mode, uid_t uid, gid_t gid,
		      time_t mtime)
{
	struct stat st;

	if (fstatat(fd, "", &st, AT_EMPTY_PATH))
		case_fail("fstat %s: %s", what, strerror(errno));
	if (st.st_mode != mode || st.st_uid != uid || st.st_gid != gid ||
	    st.st_mtime != mtime || st.st_nlink != 0)
		case_fail("%s: mode %o owner %u:%u mtime %ld links %lu, want %o %u:%u %ld 0",
			  what, st.st_mode, st.st_uid, st.st_gid, (long)st.st_mtime,
			  (unsigned long)st.st_nlink, mode, uid, gid, (long)mtime);
}

static void set_attrs(const char *path, mode_t mode, uid_t uid, gid_t gid, time_t t)
{
	struct timespec ts[2] = { { t, 0 }, { t, 0 } };

	if (chown(path, uid, gid) || chmod(path, mode) || utimensat(AT_FDCWD, path, ts, 0))
		case_fail("attributes of %s: %s", path, strerror(errno));
}

/* connect() through /proc/self/fd/N of the O_PATH fd on the socket file. */
static int connect_through(int fd)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM, 0), r;

	snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d", fd);
	r = s < 0 ? -1 : connect(s, (struct sockaddr *)&a, sizeof(a));
	r = r ? errno : 0;
	if (s >= 0)
		close(s);
	return r;
}

int main(void)
{
	char dir[PATH_MAX], fifo[PATH_MAX], dev[PATH_MAX], file[PATH_MAX], cwd[PATH_MAX];
	char sock[PATH_MAX];
	int dfd, dfd2, ffd, cfd, ofd, rfd, sfd, status;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[16];
	struct stat a, b;
	pid_t pid;

	case_init();
	snprintf(base, sizeof(base), "%s/crest-nodes-XXXXXX", case_tmpdir());
	if (!mkdtemp(base))
		case_fail("mkdtemp: %s", strerror(errno));
	mk(dir, "dir");
	mk(fifo, "fifo");
	mk(dev, "zero");
	mk(file, "file");
	mk(cwd, "cwd");
	mk(sock, "sock");
	if (strlen(sock) >= sizeof(sa.sun_path))
		case_fail("%s is too long for a socket's name", sock);
	strcpy(sa.sun_path, sock);
	sfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (sfd < 0 || bind(sfd, (struct sockaddr *)&sa, sizeof(sa)))
		case_fail("bind %s: %s", sock, strerror(errno));
	close(sfd);
	if (mkdir(dir, 0700) || mkfifo(fifo, 0600) || mknod(dev, S_IFCHR | 0600, makedev(1, 5)) ||
	    mkdir(cwd, 0700))
		case_fail("make the nodes in %s: %s", base, strerror(errno));
	ofd = open(file, O_WRONLY | O_CREAT, 0600);
	if (ofd < 0 || write(ofd, "opath", 5) != 5)
		case_fail("make %s: %s", file, strerror(errno));
	close(ofd);
	set_attrs(dir, 0751, 1234, 4321, 1000000000);
	set_attrs(fifo, 0640, 1235, 4322, 1000000001);
	set_attrs(dev, 0604, 1236, 4323, 1000000002);
	set_attrs(cwd, 0750, 1237, 4324, 1000000003);
	set_attrs(sock, 0751, 1238, 4325, 1000000004);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	dfd2 = open(dir, O_PATH | O_DIRECTORY);
	ffd = open(fifo, O_RDWR | O_NONBLOCK);
	cfd = open(dev, O_RDONLY);
	ofd = open(file, O_PATH);
	sfd = open(sock, O_PATH);
	if (dfd < 0 || dfd2 < 0 || ffd < 0 || cfd < 0 || ofd < 0 || sfd < 0)
		case_fail("open the nodes: %s", strerror(errno));
	if (write(ffd, "fifo!", 5) != 5)
		case_fail("fill the FIFO: %s", strerror(errno));
	/* Writing moved the FIFO's mtime: set it again. */
	set_attrs(fifo, 0640, 1235, 4322, 1000000001);
	if (chdir(cwd) || rmdir(dir) || unlink(fifo) || unlink(dev) || unlink(file) ||
	    rmdir(cwd) || unlink(sock))
		case_fail("delete the nodes: %s", strerror(errno));
	if (connect_through(sfd) != ECONNREFUSED)
		case_fail("before: connect() through the socket file: %s",
			  strerror(connect_through(sfd)));

	case_ready();
	case_wait_go();

	want_stat("the directory", dfd, S_IFDIR | 0751, 1234, 4321, 1000000000);
	want_link(dfd, dir);
	want_link(dfd2, dir);
	if (fstat(dfd, &a) || fstat(dfd2, &b) || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
		case_fail("the directory's two descriptions are two inodes");
	if ((fcntl(dfd2, F_GETFL) & O_PATH) == 0 || (fcntl(dfd, F_GETFL) & O_PATH))
		case_fail("the directory's descriptions lost their flags");
	if (openat(dfd, "new", O_WRONLY | O_CREAT, 0600) >= 0 || errno != ENOENT)
		case_fail("a deleted directory took a new entry (or: %s)", strerror(errno));
	pid = fork();
	if (pid == 0) {
		struct stat d;

		_exit(fchdir(dfd) || stat(".", &d) || d.st_ino != a.st_ino);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || status)
		case_fail("fchdir to the deleted directory failed");

	want_stat("the FIFO", ffd, S_IFIFO | 0640, 1235, 4322, 1000000001);
	want_link(ffd, fifo);
	if ((fcntl(ffd, F_GETFL) & O_ACCMODE) != O_RDWR)
		case_fail("the FIFO is not read-write");
	memset(buf, 0, sizeof(buf));
	if (read(ffd, buf, sizeof(buf)) != 5 || memcmp(buf, "fifo!", 5))
		case_fail("the FIFO held '%s', want 'fifo!'", buf);
	if (write(ffd, "again", 5) != 5 || read(ffd, buf, 5) != 5 || memcmp(buf, "again", 5))
		case_fail("the FIFO does not pass bytes");

	want_stat("the device node", cfd, S_IFCHR | 0604, 1236, 4323, 1000000002);
	want_link(cfd, dev);
	if (fstat(cfd, &a) || a.st_rdev != makedev(1, 5))
		case_fail("the device node is %u:%u, want 1:5", major(a.st_rdev), minor(a.st_rdev));
	memset(buf, 1, sizeof(buf));
	if (read(cfd, buf, 4) != 4 || buf[0] || buf[3])
		case_fail("the device node does not read zeros");

	want_link(ofd, file);
	if ((fcntl(ofd, F_GETFL) & O_PATH) == 0)
		case_fail("the file lost O_PATH");
	snprintf(buf, sizeof(buf), "/proc/self/fd/%d", ofd);
	rfd = open(buf, O_RDONLY);
	memset(buf, 0, sizeof(buf));
	if (rfd < 0 || read(rfd, buf, sizeof(buf)) != 5 || memcmp(buf, "opath", 5))
		case_fail("the O_PATH file reopened reads '%s'", buf);

	want_stat("the socket file", sfd, S_IFSOCK | 0751, 1238, 4325, 1000000004);
	want_link(sfd, sock);
	if ((fcntl(sfd, F_GETFL) & O_PATH) == 0)
		case_fail("the socket file lost O_PATH");
	if (connect_through(sfd) != ECONNREFUSED)
		case_fail("connect() through the socket file: %s, want ECONNREFUSED",
			  strerror(connect_through(sfd)));

	want_stat("the working directory", AT_FDCWD, S_IFDIR | 0750, 1237, 4324, 1000000003);
	want_link(-1, cwd);
	case_pass();
}
