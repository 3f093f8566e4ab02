/* Processes whose root is not /: after the restore each still sees its
 * own root and works where it did.
 *  - child A: chroot'ed into DIR/root, working in /sub, holding /hello
 *    open: "/hello" is its file, getcwd() says /sub, fd still reads;
 *    a unix socket is not what it holds (those are refused in a chroot).
 *  - child B: chroot'ed into DIR/gone, which the parent then removes: its
 *    root and cwd are a deleted directory, made again and removed again
 *    by the restore; "/" has no links, no file can be made in it.
 * The root of the tree is not chroot'ed (it tells the runner it is ready
 * and passes the go on). */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[PATH_MAX - 64];

static void child_a(int ready)
{
	char path[PATH_MAX], buf[16], cwd[PATH_MAX];
	struct stat root_before, st;
	int fd;

	snprintf(path, sizeof(path), "%s/root", dir);
	if (chroot(path) || chdir("/sub"))
		case_fail("A: chroot %s: %s", path, strerror(errno));
	fd = open("/hello", O_RDONLY);
	if (fd < 0 || stat("/", &root_before))
		case_fail("A: open /hello in the chroot: %s", strerror(errno));
	if (write(ready, "a", 1) != 1)
		case_fail("A: tell the parent: %s", strerror(errno));
	case_wait_go();
	if (stat("/", &st) || st.st_ino != root_before.st_ino || st.st_dev != root_before.st_dev)
		case_fail("A: / is another directory after the restore");
	if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, "/sub"))
		case_fail("A: works in '%s', want /sub", getcwd(cwd, sizeof(cwd)) ? cwd : "?");
	memset(buf, 0, sizeof(buf));
	if (pread(fd, buf, sizeof(buf), 0) != 6 || memcmp(buf, "inside", 6))
		case_fail("A: its fd on /hello reads '%s'", buf);
	close(fd);
	fd = open("../hello", O_RDONLY);
	memset(buf, 0, sizeof(buf));
	if (fd < 0 || read(fd, buf, sizeof(buf)) != 6 || memcmp(buf, "inside", 6))
		case_fail("A: ../hello from /sub reads '%s' (%s)", buf, strerror(errno));
	if (access("/root", F_OK) == 0 || access("/gone", F_OK) == 0)
		case_fail("A: sees the directory above its root");
	exit(0);
}

static void child_b(int ready)
{
	char path[PATH_MAX];
	struct stat root, cwd;

	snprintf(path, sizeof(path), "%s/gone", dir);
	if (chroot(path) || chdir("/"))
		case_fail("B: chroot %s: %s", path, strerror(errno));
	if (write(ready, "b", 1) != 1)
		case_fail("B: tell the parent: %s", strerror(errno));
	case_wait_go();
	if (stat("/", &root) || stat(".", &cwd))
		case_fail("B: stat: %s", strerror(errno));
	if (root.st_nlink != 0 || root.st_ino != cwd.st_ino || root.st_mode != (S_IFDIR | 0705))
		case_fail("B: / has %lu links, mode %o, cwd inode %lu of %lu: want a deleted "
			  "directory 0705 it works in", (unsigned long)root.st_nlink, root.st_mode,
			  (unsigned long)cwd.st_ino, (unsigned long)root.st_ino);
	if (open("/new", O_WRONLY | O_CREAT, 0600) >= 0 || errno != ENOENT)
		case_fail("B: its deleted root took a new file (or: %s)", strerror(errno));
	exit(0);
}

int main(void)
{
	char path[PATH_MAX], c;
	pid_t a, b;
	int p[2], fd, st;

	case_init();
	snprintf(dir, sizeof(dir), "%s/crest-chroot-XXXXXX", case_tmpdir());
	if (!mkdtemp(dir) || pipe(p))
		case_fail("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/root", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/root/sub", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/gone", dir);
	mkdir(path, 0705);
	chmod(path, 0705);
	snprintf(path, sizeof(path), "%s/root/hello", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "inside", 6) != 6)
		case_fail("make %s: %s", path, strerror(errno));
	close(fd);
	a = fork();
	if (a == 0)
		child_a(p[1]);
	b = fork();
	if (b == 0)
		child_b(p[1]);
	if (a < 0 || b < 0 || read(p[0], &c, 1) != 1 || read(p[0], &c, 1) != 1)
		case_fail("the children did not get ready");
	close(p[0]);
	close(p[1]);
	snprintf(path, sizeof(path), "%s/gone", dir);
	if (rmdir(path))
		case_fail("rmdir %s: %s", path, strerror(errno));

	case_ready();
	case_wait_go();
	kill(a, SIGUSR2);
	kill(b, SIGUSR2);
	if (waitpid(a, &st, 0) != a || !WIFEXITED(st) || WEXITSTATUS(st))
		case_fail("child A (root %s/root) failed", dir);
	if (waitpid(b, &st, 0) != b || !WIFEXITED(st) || WEXITSTATUS(st))
		case_fail("child B (a deleted root) failed");
	case_pass();
}
