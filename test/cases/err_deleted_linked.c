/*
 * Not a checkpoint/restore case: a file and a FIFO on ramfs, which gives
 * no file handles, each opened by a name that was then unlinked while
 * another hard link to it remains. /proc says "(deleted)" but the inode
 * is still there: a copy would not be it, and crest can't find it again
 * without a handle. The dump must refuse both fds by name and leave the
 * process running; after go the other links still reach what the fds
 * hold. (On filesystems with handles: deleted_linked.)
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[PATH_MAX - 32];

static void gone(void)
{
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

int main(void)
{
	char a[PATH_MAX], b[PATH_MAX], fa[PATH_MAX], fb[PATH_MAX], buf[8];
	int fd, ffd, bfd;

	case_init();
	snprintf(dir, sizeof(dir), "%s/crest-linked-%d", case_tmpdir(), (int)getpid());
	if (mkdir(dir, 0700) || mount("crest-ramfs", dir, "ramfs", 0, NULL))
		case_fail("mount a ramfs at '%s': %s", dir, strerror(errno));
	atexit(gone);
	snprintf(a, sizeof(a), "%s/file", dir);
	snprintf(b, sizeof(b), "%s/file.other", dir);
	snprintf(fa, sizeof(fa), "%s/fifo", dir);
	snprintf(fb, sizeof(fb), "%s/fifo.other", dir);
	fd = open(a, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, "linked", 6) != 6 || link(a, b) || mkfifo(fa, 0600) ||
	    link(fa, fb))
		case_fail("make the files: %s", strerror(errno));
	ffd = open(fa, O_RDWR | O_NONBLOCK);
	if (ffd < 0 || unlink(a) || unlink(fa))
		case_fail("open, unlink: %s", strerror(errno));
	case_ready();
	case_wait_go();
	if (pwrite(fd, "LINKED", 6, 0) != 6 || (bfd = open(b, O_RDONLY)) < 0 ||
	    read(bfd, buf, 6) != 6 || memcmp(buf, "LINKED", 6))
		case_fail("the other link does not reach the file");
	if (write(ffd, "x", 1) != 1 || (bfd = open(fb, O_RDONLY | O_NONBLOCK)) < 0 ||
	    read(bfd, buf, 1) != 1 || buf[0] != 'x')
		case_fail("the other link does not reach the FIFO");
	case_pass();
}
