/* crest's messages: to stderr, or to the -o file, with a level. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "progress.h"

static int cur_level = LOG_WARN;
static int log_fd = 2;
/* Where errors go too when the log is a file: crest's stderr, or a copy. */
static int err_fd = 2;
/* A copy of crest's stderr out of a restored task's way (log_move_fd()). */
static int stderr_copy = -1;
static bool copied;
static const char *prefix = "crest";
static char last_error[512];
static int last_errno;

int log_init(const char *path, int level)
{
	cur_level = level;
	if (path && strcmp(path, "-")) {
		int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			      0644);

		if (fd < 0) {
			fprintf(stderr, "%s: error: can't open log '%s': %s\n",
				prefix, path, strerror(errno));
			return -1;
		}
		log_fd = fd;
	}
	return 0;
}

void log_set_prefix(const char *p)
{
	prefix = p;
}

int log_level(void)
{
	return cur_level;
}

const char *log_last_error(void)
{
	return last_error;
}

int log_last_errno(void)
{
	return last_errno;
}

void log_set_errno(int e)
{
	last_errno = e;
}

void log_set_last_error(const char *msg)
{
	snprintf(last_error, sizeof(last_error), "%s", msg);
}

void log_msg(int level, const char *fmt, ...)
{
	char buf[4096];
	int n, off;
	va_list ap;

	if (cur_level >= LOG_DEBUG) {
		/* Seconds since the first message: where the time goes. */
		static struct timespec t0;
		struct timespec t;

		clock_gettime(CLOCK_MONOTONIC, &t);
		if (!t0.tv_sec)
			t0 = t;
		n = snprintf(buf, sizeof(buf), "(%8.6f) %s: ",
			     (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9,
			     prefix);
	} else {
		n = snprintf(buf, sizeof(buf), "%s: ", prefix);
	}
	off = n;
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	if (level == LOG_ERROR) {
		snprintf(last_error, sizeof(last_error), "%s",
			 buf + off + (strncmp(buf + off, "error: ", 7) ? 0 : 7));
		last_error[strcspn(last_error, "\n")] = 0;
	}
	if (level > cur_level)
		return;
	/* The progress line goes, the message takes its place. */
	if (log_fd == err_fd || level == LOG_ERROR)
		progress_clear();
	if (write(log_fd, buf, n) < 0)
		return;
	/* Errors also reach the terminal when the log goes to a file. */
	if (level == LOG_ERROR && log_fd != err_fd && write(err_fd, buf, n) < 0)
		return;
}

int log_get_fd(void)
{
	return log_fd;
}

int log_err_fd(void)
{
	return err_fd;
}

/* A copy of fd at or above base; -1 (errno) if fd is open and can't be copied. */
static int copy_above(int fd, int base, int *out)
{
	*out = fcntl(fd, F_DUPFD_CLOEXEC, base);
	if (*out >= 0 || errno == EBADF)
		return 0;
	return -1;
}

int log_copy_fd(int base)
{
	int fd = -1, efd = -1;

	if (log_fd > 2 && copy_above(log_fd, base, &fd))
		return -1;
	if (err_fd > 2 && err_fd != log_fd && copy_above(err_fd, base, &efd)) {
		if (log_fd > 2)
			close(fd);
		return -1;
	}
	if (err_fd == log_fd && log_fd > 2)
		efd = fd;
	if (log_fd > 2)
		log_fd = fd;
	if (err_fd > 2)
		err_fd = efd;
	return 0;
}

int log_move_fd(int base)
{
	int fd;

	if (!copied && copy_above(2, base, &stderr_copy))
		return -1;
	copied = true;
	if (log_fd <= 2)
		return 0;
	if (copy_above(log_fd, base, &fd))
		return -1;
	close(log_fd);
	log_fd = fd;
	return 0;
}

void log_use_copies(void)
{
	if (!copied)
		return;
	/* No stderr to copy (-1): nothing to write to, as crest had not. */
	if (log_fd == 2)
		log_fd = stderr_copy;
	err_fd = stderr_copy;
}

int log_fds(int fds[2])
{
	int n = 0;

	if (log_fd > 2)
		fds[n++] = log_fd;
	if (err_fd > 2 && err_fd != log_fd)
		fds[n++] = err_fd;
	return n;
}

void log_drop_copies(void)
{
	if (!copied)
		return;
	if (log_fd == stderr_copy)
		log_fd = 2;
	if (err_fd == stderr_copy)
		err_fd = 2;
	if (stderr_copy >= 0)
		close(stderr_copy);
	stderr_copy = -1;
	copied = false;
}
