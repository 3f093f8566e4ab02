/*
 * A file unlinked under the name it was opened and mapped by while another
 * hard link to it remains is that same file after the restore, not a
 * copy: /proc still names it "PATH (deleted)", it is the inode the other
 * link reaches (a write through the fd is read through the other link and
 * seen in the shared mapping, a write through the other link is read
 * through the fd), the fd keeps its offset and a second, read-only
 * description its own; a file only mapped (its fd closed) is the linked
 * inode too. A FIFO so unlinked is that FIFO: the bytes queued in it are
 * read through the fd, and what is written then through the other link.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char a[PATH_MAX - 32], b[PATH_MAX], c[PATH_MAX], d[PATH_MAX], fa[PATH_MAX], fb[PATH_MAX];

static void check_link(int fd, const char *name)
{
	char path[64], link[PATH_MAX], want[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		case_fail("readlink %s: %s", path, strerror(errno));
	link[n] = 0;
	snprintf(want, sizeof(want), "%s (deleted)", name);
	if (strcmp(link, want))
		case_fail("fd %d is '%s', want '%s'", fd, link, want);
}

static void same_inode(int fd, const char *other)
{
	struct stat fs, os;

	if (fstat(fd, &fs) || stat(other, &os))
		case_fail("stat: %s", strerror(errno));
	if (fs.st_dev != os.st_dev || fs.st_ino != os.st_ino)
		case_fail("fd %d is inode %lu, '%s' is %lu: not the same file",
			  fd, (unsigned long)fs.st_ino, other, (unsigned long)os.st_ino);
	if (fs.st_nlink != 1)
		case_fail("the file has %lu links, want 1", (unsigned long)fs.st_nlink);
}

int main(void)
{
	int fd, ro, bfd, mfd, ffd, fbd;
	char buf[16], *m, *m2;

	case_init();
	snprintf(a, sizeof(a), "%s/crest-dlinked-XXXXXX", case_tmpdir());
	fd = mkstemp(a);
	snprintf(b, sizeof(b), "%s.other", a);
	snprintf(c, sizeof(c), "%s.mapped", a);
	snprintf(d, sizeof(d), "%s.mapped-other", a);
	if (fd < 0 || pwrite(fd, "linked file.....", 16, 0) != 16 || link(a, b))
		case_fail("make the file: %s", strerror(errno));
	ro = open(a, O_RDONLY);
	mfd = open(c, O_RDWR | O_CREAT | O_EXCL, 0640);
	if (ro < 0 || mfd < 0 || pwrite(mfd, "mapped only", 11, 0) != 11 || link(c, d))
		case_fail("open: %s", strerror(errno));
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	m2 = mmap(NULL, 4096, PROT_READ, MAP_SHARED, mfd, 0);
	if (m == MAP_FAILED || m2 == MAP_FAILED)
		case_fail("mmap: %s", strerror(errno));
	close(mfd);
	if (lseek(fd, 7, SEEK_SET) != 7 || lseek(ro, 3, SEEK_SET) != 3 || unlink(a) || unlink(c))
		case_fail("seek, unlink: %s", strerror(errno));
	snprintf(fa, sizeof(fa), "%s.fifo", a);
	snprintf(fb, sizeof(fb), "%s.fifo-other", a);
	if (mkfifo(fa, 0640) || link(fa, fb) || (ffd = open(fa, O_RDWR | O_NONBLOCK)) < 0 ||
	    write(ffd, "fifo", 4) != 4 || unlink(fa))
		case_fail("the FIFO: %s", strerror(errno));
	case_ready();
	case_wait_go();

	check_link(fd, a);
	check_link(ro, a);
	same_inode(fd, b);
	same_inode(ro, b);
	if (lseek(fd, 0, SEEK_CUR) != 7 || lseek(ro, 0, SEEK_CUR) != 3)
		case_fail("offsets %lld and %lld, want 7 and 3",
			  (long long)lseek(fd, 0, SEEK_CUR), (long long)lseek(ro, 0, SEEK_CUR));
	if (fcntl(ro, F_GETFL) & O_ACCMODE)
		case_fail("the read-only description is not read-only");
	/* A write through the fd reaches the other link and the mapping. */
	if (write(fd, "FILE", 4) != 4)
		case_fail("write: %s", strerror(errno));
	bfd = open(b, O_RDWR);
	if (bfd < 0 || pread(bfd, buf, 16, 0) != 16 || memcmp(buf, "linked FILE.....", 16))
		case_fail("the other link does not see the write through the fd");
	if (memcmp(m, "linked FILE.....", 16))
		case_fail("the shared mapping does not see the write");
	if (pwrite(bfd, "LINKED", 6, 0) != 6 || read(ro, buf, 4) != 4 || memcmp(buf, "KED ", 4))
		case_fail("the fd does not see a write through the other link");
	memcpy(m + 12, "WXYZ", 4);
	if (pread(bfd, buf, 16, 0) != 16 || memcmp(buf, "LINKED FILE.WXYZ", 16))
		case_fail("the other link does not see a write to the mapping");
	/* The file only mapped is the other link's inode. */
	mfd = open(d, O_RDWR);
	if (mfd < 0 || pwrite(mfd, "MAPPED", 6, 0) != 6 || memcmp(m2, "MAPPED only", 11))
		case_fail("the mapping of the closed file is not the linked file");
	/* The FIFO: its queued bytes, then one through the other link. */
	check_link(ffd, fa);
	same_inode(ffd, fb);
	if (read(ffd, buf, 4) != 4 || memcmp(buf, "fifo", 4))
		case_fail("the FIFO's queued bytes are not there");
	if (write(ffd, "x", 1) != 1 || (fbd = open(fb, O_RDONLY | O_NONBLOCK)) < 0 ||
	    read(fbd, buf, 2) != 1 || buf[0] != 'x')
		case_fail("the other link does not reach the FIFO");
	/* As it was, for a second restore of the same images (twice). */
	if (pwrite(bfd, "linked file.....", 16, 0) != 16 || pwrite(mfd, "mapped only", 11, 0) != 11)
		case_fail("put the files back: %s", strerror(errno));
	case_pass();
}
