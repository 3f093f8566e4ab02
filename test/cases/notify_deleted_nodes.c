/*
 * inotify watches and fanotify inode marks on a directory, a FIFO and a
 * character device node, each deleted while the process holds it open,
 * come back on the node crest makes again (as deleted nodes are): the
 * watch and the fd are on one inode again (fdinfo), the watch keeps its
 * mask, no event is queued by the restore, and each still reports:
 *  - IN_ATTRIB of a chmod through the fd (the directory, the device);
 *  - IN_OPEN of an open of the FIFO through /proc/self/fd;
 *  - FAN_OPEN (with an fd of that inode) of an open of the directory
 *    through /proc/self/fd (the device's mark is checked on its inode
 *    only: this kernel reports no FAN_OPEN of a device node).
 * (Before the dump the case checks that the kernel kept every watch past
 * the rmdir/unlink: the fds hold the inodes.)
 */
#include "caselib.h"
#include "notify_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* fdinfo's fanotify inode marks: how many are on inode ino. */
static int marks_on(int fan, unsigned long long ino)
{
	char path[64], line[512];
	unsigned long long i;
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fan);
	f = fopen(path, "r");
	if (!f)
		case_fail("can't open %s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "fanotify ino:%llx", &i) == 1 && i == ino)
			n++;
	fclose(f);
	return n;
}

static void want_watch(int in, int wd, int fd, unsigned int want, const char *what)
{
	unsigned long long ino;
	unsigned int mask;
	struct stat st;

	if (!watch_of(in, wd, &ino, &mask))
		case_fail("the watch %d of the %s is gone", wd, what);
	if (mask != want)
		case_fail("the watch %d of the %s has mask %#x, want %#x", wd, what, mask, want);
	if (fstat(fd, &st) || st.st_ino != ino)
		case_fail("the watch of the %s is on inode %llu, its fd on %llu: not one inode",
			  what, ino, (unsigned long long)st.st_ino);
}

/* The next inotify event: wd and mask, within a generous bound. */
static void want_event(int in, int wd, unsigned int mask, const char *what)
{
	struct pollfd pfd = { .fd = in, .events = POLLIN };
	char buf[4096] __attribute__((aligned(8)));
	const struct inotify_event *ev = (const struct inotify_event *)buf;
	ssize_t n;

	if (poll(&pfd, 1, 30000) != 1)
		case_fail("no inotify event for the %s", what);
	n = read(in, buf, sizeof(ev[0]) + NAME_MAX + 1);
	if (n < (ssize_t)sizeof(*ev) || ev->wd != wd || !(ev->mask & mask))
		case_fail("the event for the %s is wd %d mask %#x, want wd %d mask %#x", what,
			  n > 0 ? ev->wd : -1, n > 0 ? ev->mask : 0, wd, mask);
	/* Only one event each: nothing else queued. */
	if (read(in, buf, sizeof(buf)) >= 0 || errno != EAGAIN)
		case_fail("more events than the one for the %s", what);
}

static void want_fan_open(int fan, int fd, const char *what)
{
	struct pollfd pfd = { .fd = fan, .events = POLLIN };
	char buf[4096] __attribute__((aligned(8)));
	struct fanotify_event_metadata *m = (struct fanotify_event_metadata *)buf;
	struct stat st, est;
	ssize_t n;

	if (poll(&pfd, 1, 30000) != 1)
		case_fail("no fanotify event for the %s", what);
	n = read(fan, buf, sizeof(*m));
	if (n < (ssize_t)sizeof(*m) || !(m->mask & FAN_OPEN) || m->fd < 0 ||
	    fstat(m->fd, &est) || fstat(fd, &st) || est.st_ino != st.st_ino ||
	    est.st_dev != st.st_dev)
		case_fail("the fanotify event for the %s is mask %#llx fd %d, not FAN_OPEN of it",
			  what, n > 0 ? (unsigned long long)m->mask : 0ULL, n > 0 ? m->fd : -1);
	close(m->fd);
}

static void open_through(int fd, int flags, const char *what)
{
	char self[64];
	int o;

	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	o = open(self, flags);
	if (o < 0)
		case_fail("open the %s through %s: %s", what, self, strerror(errno));
	close(o);
}

int main(void)
{
	char base[PATH_MAX - 64], dir[PATH_MAX], fifo[PATH_MAX], dev[PATH_MAX], buf[64];
	unsigned int dmask = IN_ATTRIB | IN_DELETE_SELF, fmask = IN_OPEN | IN_MODIFY,
		     cmask = IN_ATTRIB | IN_OPEN;
	int dfd, ffd, cfd, in, fan, wd, wf, wc;
	unsigned long long ino;
	unsigned int mask;
	struct stat st;

	case_init();
	snprintf(base, sizeof(base), "%s/crest-notify-nodes-XXXXXX", case_tmpdir());
	if (!mkdtemp(base))
		case_fail("mkdtemp: %s", strerror(errno));
	snprintf(dir, sizeof(dir), "%s/dir", base);
	snprintf(fifo, sizeof(fifo), "%s/fifo", base);
	snprintf(dev, sizeof(dev), "%s/zero", base);
	if (mkdir(dir, 0700) || mkfifo(fifo, 0600) || mknod(dev, S_IFCHR | 0600, makedev(1, 5)))
		case_fail("make the nodes in %s: %s", base, strerror(errno));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	ffd = open(fifo, O_RDWR | O_NONBLOCK);
	cfd = open(dev, O_RDONLY);
	if (dfd < 0 || ffd < 0 || cfd < 0)
		case_fail("open the nodes: %s", strerror(errno));
	in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (in < 0)
		case_fail("inotify_init1: %s", strerror(errno));
	wd = inotify_add_watch(in, dir, dmask);
	wf = inotify_add_watch(in, fifo, fmask);
	wc = inotify_add_watch(in, dev, cmask);
	if (wd < 0 || wf < 0 || wc < 0)
		case_fail("inotify_add_watch: %s", strerror(errno));
	fan = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY);
	if (fan < 0 ||
	    fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN | FAN_ONDIR, AT_FDCWD, dir) ||
	    fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, dev))
		case_fail("fanotify marks: %s", strerror(errno));
	if (rmdir(dir) || unlink(fifo) || unlink(dev))
		case_fail("delete the nodes: %s", strerror(errno));
	/* Whatever the deletions queued: the watches live on (the fds hold them). */
	{
		char ev[4096] __attribute__((aligned(8)));

		while (read(in, ev, sizeof(ev)) > 0)
			;
	}
	if (!watch_of(in, wd, &ino, &mask) || !watch_of(in, wf, &ino, &mask) ||
	    !watch_of(in, wc, &ino, &mask))
		case_fail("a watch of a deleted node held open ended at its deletion");
	if (fstat(dfd, &st) || marks_on(fan, st.st_ino) != 1 || fstat(cfd, &st) ||
	    marks_on(fan, st.st_ino) != 1)
		case_fail("a fanotify mark of a deleted node held open ended at its deletion");

	case_ready();
	case_wait_go();

	want_watch(in, wd, dfd, dmask, "directory");
	want_watch(in, wf, ffd, fmask, "FIFO");
	want_watch(in, wc, cfd, cmask, "device node");
	if (fstat(dfd, &st) || marks_on(fan, st.st_ino) != 1 || fstat(cfd, &st) ||
	    marks_on(fan, st.st_ino) != 1)
		case_fail("the fanotify marks are not on the inodes of the fds");
	if (read(in, buf, sizeof(buf)) >= 0 || errno != EAGAIN)
		case_fail("the restore queued an inotify event (or read: %s)", strerror(errno));
	if (read(fan, buf, sizeof(buf)) >= 0 || errno != EAGAIN)
		case_fail("the restore queued a fanotify event (or read: %s)", strerror(errno));

	if (fchmod(dfd, 0750))
		case_fail("fchmod the directory: %s", strerror(errno));
	want_event(in, wd, IN_ATTRIB, "directory");
	open_through(ffd, O_RDWR | O_NONBLOCK, "FIFO");
	want_event(in, wf, IN_OPEN, "FIFO");
	if (fchmod(cfd, 0640))
		case_fail("fchmod the device node: %s", strerror(errno));
	want_event(in, wc, IN_ATTRIB, "device node");

	open_through(dfd, O_RDONLY | O_DIRECTORY, "directory");
	want_fan_open(fan, dfd, "directory");
	open_through(cfd, O_RDONLY, "device node");
	want_event(in, wc, IN_OPEN, "device node");
	case_pass();
}
