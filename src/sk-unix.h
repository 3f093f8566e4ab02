/*
 * What sk-unix.c (dump, sock_diag) and sk-unix-restore.c share: the
 * kernel's socket states, sock_diag's answer about one unix socket, and
 * the restore hooks of the unix socket kind.
 */
#ifndef CREST_SK_UNIX_H
#define CREST_SK_UNIX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "fdinfo.pb-c.h"
#include "files-kind.h"

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD	76
#endif
#ifndef SO_PEEK_OFF
#define SO_PEEK_OFF	42
#endif

#define TCP_ESTABLISHED	1
#define TCP_CLOSE	7
#define TCP_LISTEN	10
#define RCV_SHUTDOWN	1
#define SEND_SHUTDOWN	2

/* What sock_diag says of one unix socket. */
struct ux_diag {
	uint8_t type, state, shutdown;
	bool has_peer;		/* connected (the peer may be closed: ino 0) */
	uint32_t peer;
	int name_len;		/* 0: unbound, -1: bound to an empty name */
	char name[110];		/* as bound: a path (with its NUL) or '\0'... */
	uint32_t *icons;	/* clients waiting to be accepted (the peers
				 * of the embryos queued), in the order they came */
	int nr_icons;
	uint32_t rqlen;		/* bytes queued; listening: connections */
	uint32_t wqlen;		/* listening: the backlog */
	bool has_vfs;
	uint64_t vfs_ino;	/* the socket file bound to a path */
};

/*
 * sock_diag of the network namespace of socket near (crest's own: -1)
 * about socket ino. 0: found, 1: no such socket (closed, another
 * namespace), -1: error.
 */
int ux_diag(int near, uint32_t ino, struct ux_diag *d);
void ux_diag_free(struct ux_diag *d);
/*
 * Is the socket file of inode ino bound by a live socket of any network
 * namespace crest can reach (its thread's, those of the machine's
 * processes, /run/netns)? 1/0, -1: error.
 */
int ux_vfs_in_use(uint64_t ino);
const char *ux_type_name(unsigned int type);

/* A name of unixsk.img into a sockaddr; its length, 0 if it can't be. */
socklen_t ux_addr(const ProtobufCBinaryData *name, struct sockaddr_un *sa);

/* sk-unix-restore.c */
int ux_read(struct restore_files *rf, struct img_dir *d);
int ux_check(const struct restore_files *rf);
int ux_open(struct restore_files *rf, struct img_dir *d, MmEntry **mms,
	    int nr_mms);
int ux_task_early(const struct restore_files *rf, pid_t pid);
int ux_tasks_made(struct restore_files *rf, const struct files_pid_map *map);
int ux_queues(struct restore_files *rf, const struct files_pid_map *map);
int ux_threads_made(struct restore_files *rf, const struct files_pid_map *map);
int ux_in_flight_fd(const struct restore_files *rf, const FdEntry *e);
int ux_post_open(const struct restore_files *rf, FdEntry **fds, int nr);
int ux_service_fd(const struct restore_files *rf, const FdEntry *e);
void ux_show(const struct restore_files *rf, const FdEntry *e, char *buf,
	     size_t len);

#endif
