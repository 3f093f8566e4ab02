/* Small helpers for the file lock cases (locks_*.c). */
#ifndef CREST_LOCKS_UTIL_H
#define CREST_LOCKS_UTIL_H

#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef F_OFD_GETLK
#define F_OFD_GETLK	36
#define F_OFD_SETLK	37
#define F_OFD_SETLKW	38
#endif

/* A temp file of size bytes; its path in path (4096). */
static inline void lk_mkfile(char *path, const char *tag, int size)
{
	char buf[4096] = { 0 };
	int fd;

	snprintf(path, 4096, "%s/crest-lk-%s-XXXXXX", case_tmpdir(), tag);
	fd = mkstemp(path);
	if (fd < 0)
		case_fail("mkstemp %s: %s", path, strerror(errno));
	while (size > 0) {
		int n = size < (int)sizeof(buf) ? size : (int)sizeof(buf);

		if (write(fd, buf, n) != n)
			case_fail("write %s: %s", path, strerror(errno));
		size -= n;
	}
	close(fd);
}

static inline void lk_unlink(const char *path)
{
	if (!getenv("CREST_TMP"))
		unlink(path);
}

static inline int lk_open(const char *path, int flags)
{
	int fd = open(path, flags);

	if (fd < 0)
		case_fail("open %s: %s", path, strerror(errno));
	return fd;
}

static inline struct flock lk_range(int type, off_t start, off_t len)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	return fl;
}

static inline void lk_set(int fd, int cmd, int type, off_t start, off_t len)
{
	struct flock fl = lk_range(type, start, len);

	if (fcntl(fd, cmd, &fl))
		case_fail("fcntl(%d, %d, type %d, %lld+%lld): %s", fd, cmd, type,
			  (long long)start, (long long)len, strerror(errno));
}

/*
 * The "lock:" lines of one of our fds without their id and pid: "POSIX
 * ADVISORY WRITE 0 9", one per line, into out (size). Returns how many.
 * *pid_out: the pid of the last line.
 */
static inline int lk_fdinfo(int fd, char *out, size_t size, int *pid_out)
{
	char path[64], buf[8192], *p, *line;
	int n = 0, f;
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY);
	if (f < 0)
		case_fail("open %s: %s", path, strerror(errno));
	len = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (len < 0)
		case_fail("read %s: %s", path, strerror(errno));
	buf[len] = 0;
	out[0] = 0;
	for (line = strtok_r(buf, "\n", &p); line; line = strtok_r(NULL, "\n", &p)) {
		char kind[16], mode[16], type[16], end[32];
		long long start;
		unsigned long long ino;
		unsigned int ma, mi;
		int pid;

		if (strncmp(line, "lock:", 5))
			continue;
		if (sscanf(line, "lock: %*d: %15s %15s %15s %d %x:%x:%llu %lld %31s",
			   kind, mode, type, &pid, &ma, &mi, &ino, &start, end) != 9)
			case_fail("fd %d: a lock line I can't read: '%s'", fd, line);
		snprintf(out + strlen(out), size - strlen(out), "%s %s %s %lld %s\n",
			 kind, mode, type, start, end);
		if (pid_out)
			*pid_out = pid;
		n++;
	}
	return n;
}

/* fork() a checker that runs fn() and exits with its result; wait for it. */
static inline void lk_check(const char *what, int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		case_fail("fork: %s", strerror(errno));
	if (!pid)
		_exit(fn(arg));
	while (waitpid(pid, &st, 0) != pid)
		if (errno != EINTR)
			case_fail("waitpid: %s", strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		case_fail("%s: the outside checker failed (status %#x)", what, st);
}

/* In a checker: complain and return 1. */
#define lk_bad(...) (fprintf(stderr, "FAIL: " __VA_ARGS__), fputc('\n', stderr), 1)

/* Count "->" lines (waiting requests) of pid (or pid -1) on inode ino in
 * /proc/locks. */
static inline int lk_waiting(pid_t pid, unsigned long long ino)
{
	char buf[1 << 16], *p, *line;
	int f = open("/proc/locks", O_RDONLY), n = 0;
	ssize_t len, got = 0;

	if (f < 0)
		case_fail("open /proc/locks: %s", strerror(errno));
	while ((len = read(f, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += len;
	close(f);
	buf[got] = 0;
	for (line = strtok_r(buf, "\n", &p); line; line = strtok_r(NULL, "\n", &p)) {
		char *arrow = strstr(line, "->");
		unsigned long long lino;
		int lpid;

		if (!arrow || sscanf(arrow + 2, " %*s %*s %*s %d %*x:%*x:%llu",
				     &lpid, &lino) != 2)
			continue;
		if ((lpid == pid || lpid == -1) && lino == ino)
			n++;
	}
	return n;
}

#endif
