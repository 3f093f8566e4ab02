#ifndef CREST_LOG_H
#define CREST_LOG_H

#include <errno.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

int log_init(const char *path, int level);
void log_set_prefix(const char *prefix);
int log_level(void);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text of the last error logged, for the closing message. */
const char *log_last_error(void);
/* The errno of the last failure logged with pr_perror(), 0 if none. */
int log_last_errno(void);
void log_set_errno(int e);
void log_set_last_error(const char *msg);
/*
 * A restore: the log fd moved at or above base and a copy of stderr made
 * there, out of the way of the fds a restored task puts in place (its fd
 * 2 becomes the program's); crest itself goes on writing to fd 2.
 */
int log_move_fd(int base);
/* In a restoring task: write through those copies only, never to fd 2. */
void log_use_copies(void);
/* Log through copies of the log's fds at or above base, leaving the old ones. */
int log_copy_fd(int base);
/* The fds above 2 the log writes to (at most 2) into fds; how many. */
int log_fds(int fds[2]);
/* crest done with its restored tasks: the copy of stderr goes. */
void log_drop_copies(void);
/* The fd the log is written to (2: stderr). */
int log_get_fd(void);
/* The terminal's: where errors go too, and the progress line (2 but in a restoring task). */
int log_err_fd(void);

#define pr_err(fmt, ...)   log_msg(LOG_ERROR, "error: " fmt "\n", ##__VA_ARGS__)
#define pr_warn(fmt, ...)  log_msg(LOG_WARN, "warning: " fmt "\n", ##__VA_ARGS__)
#define pr_info(fmt, ...)  log_msg(LOG_INFO, fmt "\n", ##__VA_ARGS__)
#define pr_debug(fmt, ...) log_msg(LOG_DEBUG, fmt "\n", ##__VA_ARGS__)
/* Log with strerror(errno): call it right where the failure happened. */
#define pr_perror(fmt, ...)						\
	do {								\
		int __e = errno;					\
		log_set_errno(__e);					\
		log_msg(LOG_ERROR, "error: " fmt ": %s\n", ##__VA_ARGS__,	\
			strerror(__e));					\
		errno = __e;						\
	} while (0)

#include <string.h>

#endif
