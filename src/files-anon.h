#ifndef CREST_FILES_ANON_H
#define CREST_FILES_ANON_H

#include <stdint.h>
#include <sys/types.h>

struct dump_files;

/*
 * anon_inode fds: eventfd, signalfd, timerfd, epoll (anon_fd_ops). The id
 * of the object behind fd of pid (a description shared between fds gets
 * one id): 1 and *id set, 0 if the kind is not one of those, -1 on error.
 * Exported for the unit tests.
 */
int anon_add(struct dump_files *df, pid_t pid, int fd, const char *link,
	     const char *fdinfo, uint32_t *id);

#endif
