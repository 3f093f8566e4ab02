/*
 * A fanotify inode mark on a file deleted while the process holds it
 * open: crest does not add it again on the saved file, so the dump must
 * refuse it by name (and leave the process running): "fd N is a fanotify
 * group marking inode ..., a deleted file". Its inotify watch on the same
 * file is saved (as in inotify_deleted), not refused.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <unistd.h>

int main(void)
{
	char path[4096];
	int fd, in, fan;

	case_init();
	snprintf(path, sizeof(path), "%s/crest-notify-del-XXXXXX", case_tmpdir());
	fd = mkstemp(path);
	if (fd < 0)
		case_fail("mkstemp %s: %s", path, strerror(errno));
	in = inotify_init1(IN_CLOEXEC);
	if (in < 0 || inotify_add_watch(in, path, IN_MODIFY | IN_CLOSE_WRITE) < 0)
		case_fail("inotify watch of %s: %s", path, strerror(errno));
	fan = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC, O_RDONLY);
	if (fan < 0 || fanotify_mark(fan, FAN_MARK_ADD, FAN_MODIFY, AT_FDCWD, path))
		case_fail("fanotify mark of %s: %s", path, strerror(errno));
	if (unlink(path))
		case_fail("unlink %s: %s", path, strerror(errno));
	case_ready();
	case_wait_go();
	case_pass();
}
