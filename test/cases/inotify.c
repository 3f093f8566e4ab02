/* inotify instances come back with every watch, its mask and its watch
 * descriptor, checked from inside after the restore:
 *  - a blocking instance watching a directory (IN_CREATE | IN_DELETE),
 *    a file (IN_MODIFY | IN_ONESHOT) and a symlink itself (IN_ATTRIB |
 *    IN_DONT_FOLLOW), with watches removed in between so the descriptors
 *    have gaps (1, 3, 6);
 *  - a second, non-blocking instance shared by a dup, watching the same
 *    directory under descriptor 2 after a first watch went away;
 *  - a new file in the directory is reported to both with their own
 *    descriptors and its name, writing the file to the first with the
 *    file's descriptor, touching the symlink (not its target) likewise;
 *  - the next watch added gets a descriptor past every old one.
 * Events queued at the dump may be dropped (crest(8)): none is expected.
 * Everything lives in a directory of $CREST_TMP, left for a second
 * restore of the same images. */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[PATH_MAX], file[PATH_MAX + 16], link_[PATH_MAX + 16];

static int watch(int fd, const char *path, unsigned int mask)
{
	int wd = inotify_add_watch(fd, path, mask);

	if (wd < 0)
		case_fail("inotify_add_watch %s: %s", path, strerror(errno));
	return wd;
}

/* Wait (bounded) for an event of wd with this mask bit (and name). */
static void expect(int fd, int wd, unsigned int bit, const char *name,
		   const char *what)
{
	char buf[8192] __attribute__((aligned(8)));
	time_t end = time(NULL) + 30;

	while (time(NULL) < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 1000) < 0 && errno != EINTR)
			case_fail("poll: %s", strerror(errno));
		if (!(p.revents & POLLIN))
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			case_fail("read inotify: %s", n ? strerror(errno) : "EOF");
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->wd == wd && (ev->mask & bit) &&
			    (!name || (ev->len && !strcmp(ev->name, name))))
				return;
			if (ev->mask & IN_Q_OVERFLOW)
				case_fail("%s: the queue overflowed", what);
			p += sizeof(*ev) + ev->len;
		}
	}
	case_fail("%s: no event %#x for watch %d in 30 s", what, bit, wd);
}

int main(void)
{
	int a, b, bdup, wdir, wfile, wlink, w2, wnew, tmp;
	char name[64], path[PATH_MAX + 80];

	case_init();
	snprintf(dir, sizeof(dir), "%s/crest-inotify-XXXXXX", case_tmpdir());
	if (!mkdtemp(dir))
		case_fail("mkdtemp %s: %s", dir, strerror(errno));
	snprintf(file, sizeof(file), "%s/file", dir);
	snprintf(link_, sizeof(link_), "%s/link", dir);
	tmp = open(file, O_WRONLY | O_CREAT, 0644);
	if (tmp < 0 || symlink("file", link_))
		case_fail("make %s: %s", file, strerror(errno));
	close(tmp);

	a = inotify_init1(IN_CLOEXEC);
	b = inotify_init1(IN_NONBLOCK);
	if (a < 0 || b < 0)
		case_fail("inotify_init1: %s", strerror(errno));
	wdir = watch(a, dir, IN_CREATE | IN_DELETE);			/* 1 */
	tmp = watch(a, "/", IN_ACCESS);					/* 2 */
	inotify_rm_watch(a, tmp);
	wfile = watch(a, file, IN_MODIFY | IN_ONESHOT);			/* 3 */
	tmp = watch(a, "/", IN_ACCESS);					/* 4 */
	inotify_rm_watch(a, tmp);
	tmp = watch(a, "/", IN_ACCESS);					/* 5 */
	inotify_rm_watch(a, tmp);
	wlink = watch(a, link_, IN_ATTRIB | IN_DONT_FOLLOW);		/* 6 */
	tmp = watch(b, "/", IN_ACCESS);					/* 1 */
	inotify_rm_watch(b, tmp);
	w2 = watch(b, dir, IN_CREATE | IN_MOVED_TO | IN_EXCL_UNLINK);	/* 2 */
	if (wdir != 1 || wfile != 3 || wlink != 6 || w2 != 2)
		case_fail("watch descriptors %d %d %d %d, want 1 3 6 2",
			  wdir, wfile, wlink, w2);
	bdup = dup(b);
	/* Nothing queued at the dump: read the IN_IGNORED of the removals. */
	expect(a, tmp = 5, IN_IGNORED, NULL, "before");
	expect(b, 1, IN_IGNORED, NULL, "before");

	case_ready();
	case_wait_go();

	if ((fcntl(a, F_GETFL) & O_NONBLOCK) || !(fcntl(b, F_GETFL) & O_NONBLOCK) ||
	    !(fcntl(a, F_GETFD) & FD_CLOEXEC) || (fcntl(b, F_GETFD) & FD_CLOEXEC))
		case_fail("the instances' flags changed");
	snprintf(name, sizeof(name), "new-%d-%ld", getpid(), (long)time(NULL));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	tmp = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (tmp < 0)
		case_fail("create %s: %s", path, strerror(errno));
	close(tmp);
	expect(a, wdir, IN_CREATE, name, "a new file, first instance");
	expect(bdup, w2, IN_CREATE, name, "a new file, second instance");
	tmp = open(file, O_WRONLY | O_APPEND);
	if (tmp < 0 || write(tmp, "x", 1) != 1)
		case_fail("write %s: %s", file, strerror(errno));
	close(tmp);
	expect(a, wfile, IN_MODIFY, NULL, "the watched file written");
	/* The symlink itself is watched: touch it, not the file. */
	if (utimensat(AT_FDCWD, link_, NULL, AT_SYMLINK_NOFOLLOW))
		case_fail("utimensat %s: %s", link_, strerror(errno));
	expect(a, wlink, IN_ATTRIB, NULL, "the symlink touched");
	wnew = watch(a, path, IN_DELETE_SELF);
	if (wnew <= wlink)
		case_fail("a new watch got descriptor %d, an old one's", wnew);
	unlink(path);
	expect(a, wdir, IN_DELETE, name, "the new file removed");
	case_pass();
}
