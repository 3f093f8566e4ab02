/*
 * An inotify watch and a fanotify inode mark on a file deleted while the
 * process holds it open come back on the file crest makes again from the
 * images (as deleted files are): its fd, the watch and the mark are on
 * one inode again, a write through the fd is reported by both (inotify
 * with the old watch descriptor, fanotify with an fd of that inode), the
 * watch keeps its mask (fdinfo), and no event is queued by the restore.
 * (A watch is all that holds a deleted file no fd holds: the kernel ends
 * it, IN_DELETE_SELF, IN_IGNORED, at the unlink; the case checks that.)
 */
#include "caselib.h"
#include "notify_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

static void drain(int in)
{
	char buf[4096];

	while (read(in, buf, sizeof(buf)) > 0)
		;
}

int main(void)
{
	char a[4096], b[4096], link[4096], self[64], buf[4096];
	unsigned long long ino;
	unsigned int mask;
	int fd, bfd, in, fan, wa, wb;
	struct stat st;
	struct pollfd pfd;
	ssize_t n;

	case_init();
	snprintf(a, sizeof(a), "%s/crest-inotify-del-a-XXXXXX", case_tmpdir());
	snprintf(b, sizeof(b), "%s/crest-inotify-del-b-XXXXXX", case_tmpdir());
	fd = mkstemp(a);
	bfd = mkstemp(b);
	if (fd < 0 || bfd < 0 || write(fd, "held open", 9) != 9 || write(bfd, "watched only", 12) != 12)
		case_fail("mkstemp/write: %s", strerror(errno));
	close(bfd);
	in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	wa = in < 0 ? -1 : inotify_add_watch(in, a, IN_MODIFY | IN_CLOSE_WRITE);
	wb = in < 0 ? -1 : inotify_add_watch(in, b, IN_ATTRIB | IN_MODIFY);
	if (wa < 0 || wb < 0)
		case_fail("inotify_add_watch: %s", strerror(errno));
	fan = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY);
	if (fan < 0 || fanotify_mark(fan, FAN_MARK_ADD, FAN_MODIFY, AT_FDCWD, a))
		case_fail("fanotify mark of %s: %s", a, strerror(errno));
	if (unlink(a) || unlink(b))
		case_fail("unlink: %s", strerror(errno));
	drain(in);
	if (watch_of(in, wb, &ino, &mask))
		case_fail("watch %d of the file no fd holds outlived its unlink", wb);
	case_ready();
	case_wait_go();

	if (!watch_of(in, wa, &ino, &mask) || mask != (IN_MODIFY | IN_CLOSE_WRITE))
		case_fail("watch %d of the open file: %s, mask %#x", wa, "gone or changed", mask);
	if (fstat(fd, &st) || st.st_ino != ino)
		case_fail("the watch is on inode %llu, the fd on %llu: not one file", ino,
			  (unsigned long long)st.st_ino);
	if (watch_of(in, wb, &ino, &mask))
		case_fail("watch %d of the file no fd holds is back (mask %#x)", wb, mask);
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	n = readlink(self, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	if (n <= 0 || !strstr(link, "(deleted)"))
		case_fail("fd %d is '%s', not a deleted file", fd, link);
	if (pread(fd, buf, 9, 0) != 9 || memcmp(buf, "held open", 9))
		case_fail("the open file lost its bytes");
	if (read(in, buf, sizeof(buf)) >= 0 || errno != EAGAIN)
		case_fail("the restore queued an event (or read failed: %s)", strerror(errno));
	if (read(fan, buf, sizeof(buf)) >= 0 || errno != EAGAIN)
		case_fail("the restore queued a fanotify event (or read failed: %s)", strerror(errno));
	if (pwrite(fd, "!", 1, 9) != 1)
		case_fail("pwrite: %s", strerror(errno));
	pfd.fd = in;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 30000) != 1)
		case_fail("no event for a write to the watched deleted file");
	n = read(in, buf, sizeof(buf));
	if (n < (ssize_t)sizeof(struct inotify_event) ||
	    ((struct inotify_event *)buf)->wd != wa ||
	    !(((struct inotify_event *)buf)->mask & IN_MODIFY))
		case_fail("the event is wd %d mask %#x, want wd %d IN_MODIFY",
			  n > 0 ? ((struct inotify_event *)buf)->wd : -1,
			  n > 0 ? ((struct inotify_event *)buf)->mask : 0, wa);
	pfd.fd = fan;
	if (poll(&pfd, 1, 30000) != 1)
		case_fail("no fanotify event for a write to the marked deleted file");
	n = read(fan, buf, sizeof(buf));
	{
		struct fanotify_event_metadata *m = (struct fanotify_event_metadata *)buf;
		struct stat est;

		if (n < (ssize_t)sizeof(*m) || !(m->mask & FAN_MODIFY) || m->fd < 0 ||
		    fstat(m->fd, &est) || est.st_ino != st.st_ino)
			case_fail("the fanotify event is mask %#llx fd %d, not FAN_MODIFY of the file",
				  n > 0 ? (unsigned long long)m->mask : 0ULL, n > 0 ? m->fd : -1);
		close(m->fd);
	}
	case_pass();
}
