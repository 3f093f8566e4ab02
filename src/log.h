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
/* Move the log fd at or above base, out of a restored task's way. */
int log_move_fd(int base);
/* Log through a copy of the log fd at or above base, leaving the old one. */
int log_copy_fd(int base);
/* The fd the log is written to (2: stderr). */
int log_get_fd(void);

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
