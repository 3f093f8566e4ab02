/* fanotify groups come back with their flags and every mark, checked from
 * inside after the restore:
 *  - a group reporting fds (FAN_CLASS_NOTIF, blocking) with an inode mark
 *    on a directory (FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD), an ignored
 *    mask on one file in it (FAN_MARK_IGNORED_SURV_MODIFY) and a mount
 *    mark on /dev/shm: a file written in the directory and one in
 *    /dev/shm are reported (by this process), the ignored file is not;
 *  - a group reporting names (FAN_REPORT_DFID_NAME, non-blocking) with an
 *    inode mark on the directory (FAN_CREATE | FAN_ONDIR) and a
 *    filesystem mark on /dev/shm's: a directory made in the one and a
 *    file made in the other are reported with their names.
 * Events queued at the dump may be dropped (crest(8)): none is expected.
 * The directory is in $CREST_TMP, kept for a second restore. */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[PATH_MAX], quiet[PATH_MAX + 16];

static void mark(int g, unsigned int how, unsigned long long mask, const char *path)
{
	if (fanotify_mark(g, FAN_MARK_ADD | how, mask, AT_FDCWD, path))
		case_fail("fanotify_mark %s: %s", path, strerror(errno));
}

static void drain(int g)
{
	char buf[8192];
	struct pollfd p = { .fd = g, .events = POLLIN };

	while (poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) {
		ssize_t n = read(g, buf, sizeof(buf));

		if (n <= 0)
			break;
		for (struct fanotify_event_metadata *m = (void *)buf;
		     FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n))
			if (m->fd >= 0)
				close(m->fd);
	}
}

/*
 * Wait (bounded) for an event of this process with mask bit set on
 * path (fd groups) or naming name (name groups). Fails on one for
 * the ignored file.
 */
static void expect(int g, unsigned long long bit, const char *path,
		   const char *name, const char *what)
{
	char buf[16384] __attribute__((aligned(8)));
	time_t end = time(NULL) + 30;

	while (time(NULL) < end) {
		struct pollfd p = { .fd = g, .events = POLLIN };
		int found = 0;
		ssize_t n;

		if (poll(&p, 1, 1000) < 0 && errno != EINTR)
			case_fail("poll: %s", strerror(errno));
		if (!(p.revents & POLLIN))
			continue;
		n = read(g, buf, sizeof(buf));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			case_fail("read fanotify: %s", n ? strerror(errno) : "EOF");
		for (struct fanotify_event_metadata *m = (void *)buf;
		     FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
			char link[64], at[PATH_MAX] = "";

			if (m->mask & FAN_Q_OVERFLOW)
				case_fail("%s: the queue overflowed", what);
			if (m->fd >= 0) {
				ssize_t l;

				snprintf(link, sizeof(link), "/proc/self/fd/%d", m->fd);
				l = readlink(link, at, sizeof(at) - 1);
				at[l > 0 ? l : 0] = 0;
				close(m->fd);
			}
			if (m->pid != getpid() || !(m->mask & bit))
				continue;
			if (path && !strcmp(at, quiet))
				case_fail("%s: an event for the ignored file", what);
			if ((path && !strcmp(at, path)) ||
			    (name && memmem(m, m->event_len, name, strlen(name))))
				found = 1;
		}
		if (found)
			return;
	}
	case_fail("%s: no event %#llx in 30 s", what, bit);
}

static void write_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, "x", 1) != 1 || close(fd))
		case_fail("write %s: %s", path, strerror(errno));
}

int main(void)
{
	char path[PATH_MAX + 80], shm[128], name[64];
	int a, b;

	case_init();
	snprintf(dir, sizeof(dir), "%s/crest-fanotify-XXXXXX", case_tmpdir());
	if (!mkdtemp(dir))
		case_fail("mkdtemp %s: %s", dir, strerror(errno));
	snprintf(quiet, sizeof(quiet), "%s/quiet", dir);
	write_file(quiet);

	a = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC, O_RDONLY);
	b = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_NONBLOCK, O_RDONLY);
	if (a < 0 || b < 0)
		case_fail("fanotify_init: %s", strerror(errno));
	mark(a, 0, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD, dir);
	mark(a, FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY, FAN_CLOSE_WRITE, quiet);
	mark(a, FAN_MARK_MOUNT, FAN_CLOSE_WRITE, "/dev/shm");
	mark(b, 0, FAN_CREATE | FAN_ONDIR, dir);
	mark(b, FAN_MARK_FILESYSTEM, FAN_CREATE, "/dev/shm");
	drain(a);
	drain(b);

	case_ready();
	case_wait_go();

	if ((fcntl(a, F_GETFL) & O_NONBLOCK) || !(fcntl(b, F_GETFL) & O_NONBLOCK) ||
	    !(fcntl(a, F_GETFD) & FD_CLOEXEC))
		case_fail("the groups' flags changed");
	snprintf(name, sizeof(name), "new-%d-%ld", getpid(), (long)time(NULL));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	write_file(quiet);
	write_file(path);
	expect(a, FAN_CLOSE_WRITE, path, NULL, "a file written in the directory");
	snprintf(shm, sizeof(shm), "/dev/shm/crest-fanotify-%s", name);
	write_file(shm);
	expect(a, FAN_CLOSE_WRITE, shm, NULL, "a file written in /dev/shm (mount mark)");
	expect(b, FAN_CREATE, NULL, shm + strlen("/dev/shm/"),
	       "a file made in /dev/shm (filesystem mark)");
	unlink(shm);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s.d", dir, name);
	if (mkdir(path, 0755))
		case_fail("mkdir %s: %s", path, strerror(errno));
	expect(b, FAN_CREATE | FAN_ONDIR, NULL, name, "a directory made in the directory");
	rmdir(path);
	case_pass();
}
