/*
 * Unit tests for the fd kind table (src/files.c, src/files-kind.h): every
 * kind of fd /proc can show is recognised by exactly one kind, or by none
 * (then the dump refuses it), and the kind a restore dispatches to by
 * fd_entry.kind is the one that dumped it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "files.h"
#include "files-kind.h"
#include "proc.h"

/* makedev() as a constant, for majors below 4096 and minors below 256. */
#define DEV(ma, mi)	(((dev_t)(ma) << 8) | (mi))

struct sample {
	const char *link;
	mode_t mode;
	int fd;
	FdKind want;		/* 0: no kind takes it */
	int sock;		/* a real socket of ours at fd: 1 unix, 2 inet, 3 netlink */
	int flags;		/* of the description (O_PATH) */
	dev_t rdev;		/* a device's number */
};

static const struct sample samples[] = {
	{ "/etc/passwd", S_IFREG, 3, FD_KIND__FD_REG },
	{ "/tmp", S_IFDIR, 3, FD_KIND__FD_REG },
	{ "/tmp/gone (deleted)", S_IFREG, 3, FD_KIND__FD_REG },
	/* Deleted directories, FIFOs and device nodes are made again. */
	{ "/tmp/dir (deleted)", S_IFDIR, 3, FD_KIND__FD_REG },
	{ "/memfd:shared (deleted)", S_IFREG, 4, FD_KIND__FD_MEMFD },
	{ "/memfd:a-directory", S_IFDIR, 4, FD_KIND__FD_REG },
	{ "pipe:[1234]", S_IFIFO, 0, FD_KIND__FD_PIPE },
	{ "/tmp/fifo", S_IFIFO, 5, FD_KIND__FD_PIPE },
	{ "/tmp/fifo (deleted)", S_IFIFO, 5, FD_KIND__FD_PIPE },
	{ "/tmp/zero (deleted)", S_IFCHR, 5, FD_KIND__FD_CHR, 0, 0, DEV(1, 5) },
	{ "/dev/null", S_IFCHR, 0, FD_KIND__FD_CHR },
	{ "/dev/urandom", S_IFCHR, 7, FD_KIND__FD_CHR },
	{ "/dev/pts/3", S_IFCHR, 1, FD_KIND__FD_EXTERNAL },
	{ "/dev/pts/3", S_IFCHR, 5, 0 },
	{ "/dev/tty", S_IFCHR, 2, FD_KIND__FD_EXTERNAL },
	/* ptys are tty.c's anywhere (a slave at 0-2 may turn external). */
	{ "/dev/pts/3", S_IFCHR, 1, FD_KIND__FD_TTY, 0, 0, DEV(136, 3) },
	{ "/dev/pts/300", S_IFCHR, 5, FD_KIND__FD_TTY, 0, 0, DEV(137, 44) },
	{ "/dev/ptmx", S_IFCHR, 4, FD_KIND__FD_TTY, 0, 0, DEV(5, 2) },
	/* Other terminals above 2 too: /dev/tty, reopened by path the rest. */
	{ "/dev/tty", S_IFCHR, 5, FD_KIND__FD_TTY, 0, 0, DEV(5, 0) },
	{ "/dev/console", S_IFCHR, 5, FD_KIND__FD_TTY, 0, 0, DEV(5, 1) },
	{ "/dev/ttyS0", S_IFCHR, 9, FD_KIND__FD_TTY, 0, 0, DEV(4, 64) },
	{ "/dev/console", S_IFCHR, 0, FD_KIND__FD_EXTERNAL, 0, 0, DEV(5, 1) },
	/* A unix socket is sk-unix.c's anywhere (at 0-2 it may turn external). */
	{ "socket:[99]", S_IFSOCK, 2, FD_KIND__FD_EXTERNAL, 2 },
	{ "socket:[99]", S_IFSOCK, 2, FD_KIND__FD_UNIX_SK, 1 },
	/* Any other socket above 2 is sk-inet.c's (it refuses what it can't save). */
	{ "socket:[99]", S_IFSOCK, 43, FD_KIND__FD_INET_SK, 2 },
	{ "socket:[99]", S_IFSOCK, 43, FD_KIND__FD_NETLINK_SK, 3 },
	{ "socket:[99]", S_IFSOCK, 2, FD_KIND__FD_EXTERNAL, 3 },
	{ "socket:[99]", S_IFSOCK, 43, FD_KIND__FD_UNIX_SK, 1 },
	{ "anon_inode:[eventfd]", S_IFREG, 3, FD_KIND__FD_ANON },
	{ "anon_inode:[signalfd]", S_IFREG, 3, FD_KIND__FD_ANON },
	{ "anon_inode:[timerfd]", S_IFREG, 3, FD_KIND__FD_ANON },
	{ "anon_inode:[eventpoll]", S_IFREG, 3, FD_KIND__FD_ANON },
	{ "anon_inode:inotify", S_IFREG, 3, FD_KIND__FD_INOTIFY },
	{ "anon_inode:[pidfd]", S_IFREG, 3, FD_KIND__FD_PIDFD },
	{ "anon_inode:[fanotify]", S_IFREG, 3, FD_KIND__FD_FANOTIFY },
	{ "anon_inode:[io_uring]", S_IFREG, 3, 0 },
	{ "/dev/sda", S_IFBLK, 3, 0 },
	/* O_PATH: a path to reopen, whatever it leads to; deleted, made again
	 * (a socket file too; not a memfd). */
	{ "/tmp/link", S_IFLNK, 3, FD_KIND__FD_REG, 0, O_PATH | O_NOFOLLOW },
	{ "/tmp/fifo", S_IFIFO, 3, FD_KIND__FD_REG, 0, O_PATH },
	{ "/tmp/sock", S_IFSOCK, 1, FD_KIND__FD_REG, 0, O_PATH },
	{ "/dev/null", S_IFCHR, 3, FD_KIND__FD_REG, 0, O_PATH },
	{ "/dev/pts/3", S_IFCHR, 1, FD_KIND__FD_REG, 0, O_PATH },
	{ "/dev/sda", S_IFBLK, 3, FD_KIND__FD_REG, 0, O_PATH },
	{ "/memfd:x (deleted)", S_IFREG, 3, 0, 0, O_PATH },
	{ "/tmp/gone (deleted)", S_IFREG, 3, FD_KIND__FD_REG, 0, O_PATH },
	{ "/tmp/dir (deleted)", S_IFDIR, 3, FD_KIND__FD_REG, 0, O_PATH },
	{ "/tmp/fifo (deleted)", S_IFIFO, 3, FD_KIND__FD_REG, 0, O_PATH },
	{ "/tmp/sock (deleted)", S_IFSOCK, 3, FD_KIND__FD_REG, 0, O_PATH },
};

static void test_one_kind_each(void **state)
{
	struct proc_fdinfo fi = { 0, O_RDONLY, 0 };
	int sv[2], socks[4] = { -1, -1, -1, -1 };

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	socks[1] = sv[0];
	socks[2] = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(socks[2] >= 0);
	socks[3] = socket(AF_NETLINK, SOCK_RAW, 0);
	assert_true(socks[3] >= 0);
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		const struct sample *s = &samples[i];
		struct stat st = { .st_mode = s->mode | 0644, .st_rdev = s->rdev };
		struct fd_dump f = { NULL, s->sock ? getpid() : 1, s->fd, s->link, &st, &fi, "" };
		const struct fd_kind_ops *k;
		int n, saved = -1;

		fi.flags = s->flags ? s->flags : O_RDONLY;

		/* Sockets are asked of the real fd (pidfd_getfd: SO_DOMAIN). */
		if (s->sock) {
			saved = dup(s->fd);
			assert_int_equal(dup2(socks[s->sock], s->fd), s->fd);
		}
		n = files_recognise(&f, &k);
		if (s->sock) {
			if (saved >= 0) {
				dup2(saved, s->fd);
				close(saved);
			} else {
				close(s->fd);
			}
		}

		if (!s->want) {
			if (n)
				fail_msg("'%s' (fd %d) taken by %s", s->link, s->fd, k->name);
			continue;
		}
		if (n != 1)
			fail_msg("'%s' (fd %d) recognised by %d kinds", s->link, s->fd, n);
		if (k->kind != s->want)
			fail_msg("'%s' (fd %d) taken by %s", s->link, s->fd, k->name);
	}
}

/* Every kind has what files.c calls unconditionally. */
static void test_required_hooks(void **state)
{
	static const struct fd_kind_ops *const all[] = {
#define FD_KIND(name)	&name##_fd_ops,
#include "files-kinds.h"
#undef FD_KIND
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		assert_non_null(all[i]->name);
		assert_non_null(all[i]->recognise);
		assert_non_null(all[i]->dump);
		assert_non_null(all[i]->service_fd);
		for (size_t j = 0; j < i; j++)
			if (all[j]->kind == all[i]->kind)
				fail_msg("%s and %s share fd_kind %d", all[j]->name,
					 all[i]->name, all[i]->kind);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_kind_each),
		cmocka_unit_test(test_required_hooks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
