/*
 * Not a checkpoint/restore case: a file and a FIFO each opened by a
 * name that was then unlinked while another hard link to it remains, and
 * the file mapped too. /proc says "(deleted)" but the inode is still on
 * disk: a copy crest made would not be that file. The dump must refuse
 * the fds and the mapping by name and leave the process running; after go
 * the other link still reaches what the fds hold.
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

int main(void)
{
	char a[PATH_MAX - 16], b[PATH_MAX], fa[PATH_MAX], fb[PATH_MAX], buf[8];
	int fd, ffd, bfd;
	char *m;

	case_init();
	snprintf(a, sizeof(a), "%s/crest-linked-XXXXXX", case_tmpdir());
	fd = mkstemp(a);
	snprintf(b, sizeof(b), "%s.other", a);
	snprintf(fa, sizeof(fa), "%s.fifo", a);
	snprintf(fb, sizeof(fb), "%s.fifo2", a);
	if (fd < 0 || write(fd, "linked", 6) != 6 || link(a, b) || mkfifo(fa, 0600) ||
	    link(fa, fb))
		case_fail("make the files: %s", strerror(errno));
	ffd = open(fa, O_RDWR | O_NONBLOCK);
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (ffd < 0 || m == MAP_FAILED || unlink(a) || unlink(fa))
		case_fail("open, map, unlink: %s", strerror(errno));
	case_ready();
	case_wait_go();
	if (pwrite(fd, "LINKED", 6, 0) != 6 || (bfd = open(b, O_RDONLY)) < 0 ||
	    read(bfd, buf, 6) != 6 || memcmp(buf, "LINKED", 6) || memcmp(m, "LINKED", 6))
		case_fail("the other link does not reach the file");
	if (write(ffd, "x", 1) != 1 || (bfd = open(fb, O_RDONLY | O_NONBLOCK)) < 0 ||
	    read(bfd, buf, 1) != 1 || buf[0] != 'x')
		case_fail("the other link does not reach the FIFO");
	case_pass();
}
