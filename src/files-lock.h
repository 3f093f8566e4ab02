#ifndef CREST_FILES_LOCK_H
#define CREST_FILES_LOCK_H

#include <stdint.h>
#include <sys/types.h>

#include "fdinfo.pb-c.h"
#include "filelock.pb-c.h"

struct dump_files;
struct img_dir;
struct pstree;
struct pstree_item;
struct restore_files;
struct rst_lock;

/*
 * File locks: POSIX (fcntl, lockf), OFD, flock and leases, read from the
 * "lock:" lines of /proc/PID/fdinfo/N and checked against /proc/locks at
 * dump, taken back at restore before any task runs:
 *
 *   OFD, flock, lease   by the task holding the fd (on its own fd number),
 *                       once its fds are in place (locks_restore_task());
 *   POSIX               by the restorer, after it closed crest's last fds
 *                       (closing ANY fd of a file drops the process's
 *                       POSIX locks on it), from locks_fill_posix().
 */

/* One parsed "lock:" line (fdinfo or /proc/locks). */
struct lock_line {
	int pending;			/* "->": a request waiting for a lock */
	char kind[8];			/* POSIX OFDLCK FLOCK LEASE DELEG ACCESS... */
	char mode[12];			/* ADVISORY, ACTIVE, BREAKING, BREAKER... */
	char type[8];			/* READ WRITE UNLCK */
	int pid;
	unsigned int dev_major, dev_minor;
	uint64_t ino;
	uint64_t start;
	uint64_t end;			/* UINT64_MAX: EOF */
};

/* Parse the text after "lock:\t" or a /proc/locks line; -1 if malformed. */
int lock_parse_line(const char *line, struct lock_line *l);

/* The locks of an fd whose FdEntry was just made. One crest can't take
 * back is refused (refuse.h), every one of them; -1 only on a failure. */
int locks_dump_fd(struct dump_files *df, struct pstree_item *it,
		  const FdEntry *e, const char *fdinfo);
/* Once every fd is seen: every lock /proc/locks shows for the tree is
 * one crest found through an fd, or is refused; -1 if /proc/locks can't
 * be read. */
int locks_dump_check(struct dump_files *df, const struct pstree *t);
int locks_write(struct dump_files *df, struct img_dir *d);

/* ---- restore ---- */
int locks_read(struct restore_files *rf, struct img_dir *d);
/* Before any task exists: nobody outside holds what the tree must take. */
int locks_check_task(const struct restore_files *rf, pid_t pid,
		     FdEntry **fds, int nr);
/* In the task, fds in place: its OFD locks, flocks and leases. */
int locks_restore_task(const struct restore_files *rf, pid_t pid);
/* Its POSIX locks for the restorer; out may be NULL to count them. */
int locks_fill_posix(const struct restore_files *rf, pid_t pid,
		     struct rst_lock *out);
/* What a restorer's failed lock was, for the message. */
const FileLockEntry *locks_posix_nth(const struct restore_files *rf,
				     pid_t pid, int n);

#endif
