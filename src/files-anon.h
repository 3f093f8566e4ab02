#ifndef CREST_FILES_ANON_H
#define CREST_FILES_ANON_H

#include <stdint.h>
#include <sys/types.h>

#include "fdinfo.pb-c.h"

struct dump_files;
struct restore_files;
struct pstree_item;
struct proc_fdinfo;

/*
 * anon_inode fds: eventfd, signalfd, timerfd, epoll. The id of the object
 * behind fd of pid (a description shared between fds gets one id), 0 if
 * the kind is not one of those (*kind_name then names it), -1 on error.
 */
int anon_add(struct dump_files *df, pid_t pid, int fd, const char *link,
	     const char *fdinfo, uint32_t *id);
/* Create the shareable ones (all but epoll) as service fds. */
int anon_open_all(struct restore_files *rf, int base);
/* The service fd of an object, or -1 for an epoll (made per task). */
int anon_service_fd(const struct restore_files *rf, uint32_t id);
/* In a task, fds in place: make its epolls and fill them. */
int anon_restore_epolls(const struct restore_files *rf, FdEntry **fds, int nr);

#endif
