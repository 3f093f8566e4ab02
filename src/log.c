/* crest's messages: to stderr, or to the -o file, with a level. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "progress.h"

static int cur_level = LOG_WARN;
static int log_fd = 2;
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
	if (log_fd == 2 || level == LOG_ERROR)
		progress_clear();
	if (write(log_fd, buf, n) < 0)
		return;
	/* Errors also reach the terminal when the log goes to a file. */
	if (level == LOG_ERROR && log_fd != 2 && write(2, buf, n) < 0)
		return;
}

int log_get_fd(void)
{
	return log_fd;
}

int log_copy_fd(int base)
{
	int fd;

	if (log_fd <= 2)
		return 0;
	fd = fcntl(log_fd, F_DUPFD_CLOEXEC, base);
	if (fd < 0)
		return -1;
	log_fd = fd;
	return 0;
}

int log_move_fd(int base)
{
	int fd;

	if (log_fd <= 2)
		return 0;
	fd = fcntl(log_fd, F_DUPFD_CLOEXEC, base);
	if (fd < 0)
		return -1;
	close(log_fd);
	log_fd = fd;
	return 0;
}
