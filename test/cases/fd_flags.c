/*
 * Status flags of every kind of fd come back exactly (F_GETFL): a file
 * open O_WRONLY|O_APPEND|O_NOATIME, one O_RDWR|O_SYNC, one
 * O_DIRECT (if the filesystem has it), /dev/null O_WRONLY|O_NONBLOCK,
 * pipe ends O_NONBLOCK and O_DIRECT (packet mode), an eventfd
 * EFD_SEMAPHORE|EFD_NONBLOCK, an epoll O_NONBLOCK. Restoring the files
 * changes neither their mtime nor their bytes; a file deleted while open
 * (saved in the images) comes back with its mode (0664, whatever the
 * umask of crest) and mtime.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define MASK	(O_ACCMODE | O_APPEND | O_ASYNC | O_DIRECT | O_NOATIME | \
		 O_NONBLOCK | O_SYNC | O_DSYNC)

struct fd_want {
	int fd;
	int flags;
	const char *what;
};

static struct fd_want want[16];
static int nr_want;

static void expect(int fd, const char *what)
{
	int fl = fcntl(fd, F_GETFL);

	if (fd < 0)
		case_fail("%s: %s", what, strerror(errno));
	want[nr_want++] = (struct fd_want){ fd, fl & MASK, what };
}

static void check_file(const char *path, const struct stat *was, const char *data)
{
	struct stat st;
	char buf[64] = "";
	int fd;

	if (stat(path, &st))
		case_fail("stat %s: %s", path, strerror(errno));
	if (st.st_mtim.tv_sec != was->st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != was->st_mtim.tv_nsec)
		case_fail("the mtime of %s changed: %lld.%09ld, was %lld.%09ld", path,
			  (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
			  (long long)was->st_mtim.tv_sec, was->st_mtim.tv_nsec);
	if (st.st_size != was->st_size)
		case_fail("%s is %lld bytes, was %lld", path, (long long)st.st_size,
			  (long long)was->st_size);
	fd = open(path, O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) < 0 || strcmp(buf, data))
		case_fail("%s holds '%s', not '%s'", path, buf, data);
	close(fd);
}

int main(void)
{
	static const char data[] = "some bytes\n";
	struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 123456789 } };
	char path[4][256];
	struct stat was[4], st;
	int p[2], q[2], fd, ep, efd, del;
	uint64_t v;

	case_init();
	for (int i = 0; i < 3; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/crest-fd-flags-%d-%d",
			 case_tmpdir(), getpid(), i);
		fd = open(path[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data))
			case_fail("create %s: %s", path[i], strerror(errno));
		close(fd);
		/* An old mtime: any write or truncation at restore shows. */
		if (utimensat(AT_FDCWD, path[i], old, 0) || stat(path[i], &was[i]))
			case_fail("utimensat %s: %s", path[i], strerror(errno));
	}
	expect(open(path[0], O_WRONLY | O_APPEND | O_NOATIME), "file O_WRONLY|O_APPEND|O_NOATIME");
	expect(open(path[1], O_RDWR | O_SYNC), "file O_RDWR|O_SYNC");
	fd = open(path[2], O_RDONLY | O_DIRECT);
	if (fd >= 0)
		expect(fd, "file O_RDONLY|O_DIRECT");
	else if (errno != EINVAL)
		case_fail("open O_DIRECT: %s", strerror(errno));
	expect(open("/dev/null", O_WRONLY | O_NONBLOCK), "/dev/null O_WRONLY|O_NONBLOCK");
	if (pipe2(p, O_NONBLOCK) || pipe2(q, O_DIRECT))
		case_fail("pipe2: %s", strerror(errno));
	expect(p[0], "pipe read end O_NONBLOCK");
	expect(p[1], "pipe write end O_NONBLOCK");
	expect(q[0], "pipe read end O_DIRECT");
	expect(q[1], "pipe write end O_DIRECT");
	efd = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
	expect(efd, "eventfd EFD_SEMAPHORE|EFD_NONBLOCK");
	ep = epoll_create1(0);
	if (ep >= 0)
		fcntl(ep, F_SETFL, O_NONBLOCK);
	expect(ep, "epoll O_NONBLOCK");

	/* Deleted while open: made again from the images. */
	snprintf(path[3], sizeof(path[3]), "%s/crest-fd-flags-%d-del", case_tmpdir(), getpid());
	umask(0);
	del = open(path[3], O_RDWR | O_CREAT | O_TRUNC, 0664);
	if (del < 0 || write(del, data, strlen(data)) != (ssize_t)strlen(data) ||
	    futimens(del, old) || fstat(del, &was[3]) || unlink(path[3]))
		case_fail("deleted file: %s", strerror(errno));

	case_ready();
	case_wait_go();

	for (int i = 0; i < nr_want; i++) {
		int fl = fcntl(want[i].fd, F_GETFL);

		if (fl < 0)
			case_fail("fd %d (%s): %s", want[i].fd, want[i].what, strerror(errno));
		if ((fl & MASK) != want[i].flags)
			case_fail("fd %d (%s): flags 0%o, want 0%o", want[i].fd,
				  want[i].what, fl & MASK, want[i].flags);
	}
	/* A semaphore eventfd reads 1 at a time; non-blocking when empty. */
	for (int i = 0; i < 3; i++)
		if (read(efd, &v, 8) != 8 || v != 1)
			case_fail("eventfd read %d: %s, value %llu", i, strerror(errno),
				  (unsigned long long)v);
	if (read(efd, &v, 8) != -1 || errno != EAGAIN)
		case_fail("an empty non-blocking eventfd did not say EAGAIN");
	/* Packet mode: two writes stay two reads. */
	if (write(q[1], "ab", 2) != 2 || write(q[1], "cde", 3) != 3)
		case_fail("write to the O_DIRECT pipe: %s", strerror(errno));
	{
		char buf[16];

		if (read(q[0], buf, sizeof(buf)) != 2)
			case_fail("the O_DIRECT pipe lost its packet boundaries");
	}
	if (fstat(del, &st))
		case_fail("fstat the deleted file: %s", strerror(errno));
	if ((st.st_mode & 07777) != 0664)
		case_fail("the deleted file came back with mode %o, not 664", st.st_mode & 07777);
	if (st.st_mtim.tv_sec != was[3].st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != was[3].st_mtim.tv_nsec)
		case_fail("the deleted file's mtime is %lld.%09ld, was %lld.%09ld",
			  (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
			  (long long)was[3].st_mtim.tv_sec, was[3].st_mtim.tv_nsec);
	for (int i = 0; i < 3; i++) {
		check_file(path[i], &was[i], data);
		if (!getenv("CREST_TMP"))
			unlink(path[i]);
	}
	case_pass();
}
