/*
 * Not a checkpoint/restore case: a FIFO opened by a name that was then
 * unlinked while another hard link to it remains. /proc says "(deleted)"
 * but the inode is still on disk: a new FIFO crest made would not be that
 * one (a file is opened again by its handle: deleted_linked). The dump
 * must refuse the fd by name and leave the process running; after go the
 * other link still reaches the FIFO the fd holds.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
	char fa[PATH_MAX - 16], fb[PATH_MAX], buf[8];
	int ffd, bfd;

	case_init();
	snprintf(fa, sizeof(fa), "%s/crest-linked-%d.fifo", case_tmpdir(), (int)getpid());
	snprintf(fb, sizeof(fb), "%s2", fa);
	if (mkfifo(fa, 0600) || link(fa, fb))
		case_fail("make the FIFO: %s", strerror(errno));
	ffd = open(fa, O_RDWR | O_NONBLOCK);
	if (ffd < 0 || unlink(fa))
		case_fail("open, unlink: %s", strerror(errno));
	case_ready();
	case_wait_go();
	if (write(ffd, "x", 1) != 1 || (bfd = open(fb, O_RDONLY | O_NONBLOCK)) < 0 ||
	    read(bfd, buf, 1) != 1 || buf[0] != 'x')
		case_fail("the other link does not reach the FIFO");
	unlink(fb);
	case_pass();
}
