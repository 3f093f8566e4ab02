#ifndef CREST_FILES_H
#define CREST_FILES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "fdinfo.pb-c.h"
#include "filelock.pb-c.h"
#include "mm.pb-c.h"

struct options;

struct img_dir;
struct pstree;
struct pstree_item;
struct dump_locks;
struct ns_dump;
struct ns_restore;

/*
 * Everything fds and mappings of the whole tree point at, each once:
 * file descriptions (shared ones found with kcmp), pipes, memfds and
 * shared anonymous memory. Written to files.img, pipes.img, memfds.img,
 * shmem.img; fds to fdinfo-PID.img. Each kind of fd is a files-KIND.c
 * behind the operations of files-kind.h; this is the API for the rest of
 * crest.
 */

/* Room for the state of kinds that keep it in priv[] (files-kind.h). */
#define FD_KINDS_MAX	16
struct file_owner {
	uint64_t dev, ino;
	pid_t pid;		/* a task holding it... */
	int fd;			/* ...at this fd (-1: only mapped) */
	char *src;		/* saved files: where to read the contents */
	pid_t holder;		/* crest's copy of one in flight: the task
				 * holding the socket it is queued on */
};

struct pipe_state {
	pid_t pid;		/* a task holding it */
	int fd;
	bool reader, writer;	/* ends seen inside the tree */
	struct file_owner *descs;	/* a holder of each description (pid, fd) */
};

struct dump_files {
	RegFileEntry **files;
	struct file_owner *files_own;
	int nr_files;
	PipeEntry **pipes;
	struct pipe_state *pipes_st;
	int nr_pipes;
	MemfdEntry **memfds;
	struct file_owner *memfds_own;
	int nr_memfds;
	ShmemEntry **shmems;
	struct file_owner *shmems_own;	/* pid + "map_files" path below */
	char **shmems_path;
	int nr_shmems;
	AnonFileEntry **anons;
	struct file_owner *anons_own;
	int nr_anons;
	void *priv[FD_KINDS_MAX];	/* a kind's own, files_dump_priv() */
	FdEntry **flying;		/* fds only in flight, at crest's fd
					 * numbers (files_dump_own_fd) */
	int nr_flying;
	const struct options *opts;	/* what the kinds may save (--ext-unix-sk) */
	struct dump_locks *locks;	/* files-lock.c: of every fd kind */
	char *netlock;			/* sk-inet.c: the network lock's keeper, for
					 * the inventory; NULL: none */
	const struct ns_dump *ns;	/* the tree's namespaces, known from
					 * ns_collect() on (for write) */
};

/*
 * The id of a mapped (or exe) file; the same file gets the same id. A
 * deleted one ("PATH (deleted)") is saved by content, read from src.
 */
int files_add_mapped(struct dump_files *df, const char *path,
		     const struct stat *st, uint32_t *id);
int files_add_mapped_src(struct dump_files *df, const char *path,
			 const struct stat *st, const char *src, uint32_t *id);
/* A deleted directory, FIFO or device node a watch is on: its entry. */
int files_add_node(struct dump_files *df, const char *path, const struct stat *st,
		   uint32_t *id);
/* Save this file's contents in the image (--save-*). */
void files_save(struct dump_files *df, uint32_t id);
/*
 * A file or FIFO unlinked under the name it was opened or mapped by but
 * linked elsewhere still (st_nlink > 0): a copy would not be that file.
 * A regular file is opened again by its file handle (read through src,
 * its /proc link): refused only where it has none; a FIFO is refused.
 * what: "fd N" or "mapping A-B"; true if refused.
 */
bool files_refuse_linked(pid_t pid, const char *what, const char *link,
			 const struct stat *st, const char *src);
/*
 * The file handle of what src (a /proc link, followed) leads to, and in
 * *mnt the mount point it is found through in crest's table; NULL and
 * *why if it has none.
 */
struct file_handle *files_linked_handle(const char *src, char **mnt, const char **why);
/*
 * An O_PATH fd on the inode of a handle files_linked_handle() gave: found
 * through mnt (of device dev), checked to be inode ino with links left.
 * -1 (said, naming what) if not.
 */
int files_handle_open(const char *what, const char *mnt, uint64_t dev, uint64_t ino,
		      const ProtobufCBinaryData *handle, int type);
/* The mount point of mount id (>= 0) or of device sdev in crest's table. */
char *files_mount_path(int id, unsigned int sdev);
/* A deleted cwd and root of pid as entries of their own (0: not deleted). */
int files_dump_dirs(struct dump_files *df, pid_t pid, uint32_t *cwd_id,
		    uint32_t *root_id);
/* Shared anonymous memory or a memfd mapped at [start, end) of pid. */
int files_add_shmem(struct dump_files *df, pid_t pid, const char *map_path,
		    const struct stat *st, uint32_t *id);
int files_add_memfd_mapping(struct dump_files *df, pid_t pid,
			    const char *name, const char *map_path,
			    const struct stat *st, uint32_t *id);
/* A thread's own fd table (made without CLONE_FILES, or unshared). */
struct thread_fds {
	pid_t tid;
	FdEntry **fds;
	int nr_fds;
};

/*
 * Collect every fd of a task, its threads' own tables too; what is not supported is refused (refuse.h)
 * and the others are still collected. -1 (reported): /proc failed us.
 */
int files_dump_fds(struct dump_files *df, struct pstree_item *it);
/*
 * An fd of crest's own that stands for one in flight (received from a
 * socket's queue of it with MSG_PEEK): dumped as an fd of it; *out NULL
 * if refused. -1 (reported): /proc failed us.
 */
int files_dump_own_fd(struct dump_files *df, struct pstree_item *it, int fd,
		      FdEntry **out);
/* Once every task's fds are known: links between them (pipe ends outside). */
int files_dump_collected(struct dump_files *df, struct pstree *t);
/* Contents: pipe buffers (not consumed) and shared memory objects. */
int files_dump_contents(struct dump_files *df, struct img_dir *d);
/* The dump ends before the tree goes: kill, it is killed (files-kind.h). */
void files_dump_done(struct dump_files *df, bool kill);
int files_write(struct dump_files *df, struct img_dir *d);
int files_write_fdinfo(struct pstree_item *it, struct img_dir *d);

/* ---- restore ---- */

struct restore_files {
	const struct options *opts;	/* the restore's (set after files_read) */
	/*
	 * A pidfd of crest, a service fd every task inherits: a task in a
	 * PID namespace of the tree can't pidfd_open() crest, whose PID is
	 * not in it (files_take_into()). 0: none.
	 */
	int crest_pidfd;
	pid_t crest;			/* whose pidfd that is */
	RegFileEntry **files;
	int nr_files;
	PipeEntry **pipes;
	int nr_pipes;
	MemfdEntry **memfds;
	int nr_memfds;
	ShmemEntry **shmems;
	int nr_shmems;
	AnonFileEntry **anons;
	int nr_anons;
	/* service fds of the objects, opened once by the coordinator */
	int *file_fd;		/* by index in files[] */
	int *file_ro_fd;	/* the same file read-only, for a shared mapping
				   that may not be made writable; -1: none */
	int (*pipe_fd)[2];	/* old images: one description per end */
	int **pipe_desc_fd;	/* [pipe][desc_id - 1] */
	int *memfd_fd;
	int *shmem_fd;
	int *anon_fd;
	pid_t anon_crest;	/* whose anon_fd they are (epolls in flight) */
	int ext_fd[3];		/* crest's own 0-2, for fds leading outside */
	int base;		/* service fds live at and above this */
	void *priv[FD_KINDS_MAX];	/* a kind's own, files_restore_priv() */
	FileLockEntry **locks;		/* filelocks.img (files-lock.c) */
	int nr_locks;
	/*
	 * The sockets are made in a network namespace the restore makes
	 * (ns_enter_objects()): its interfaces are not there to check
	 * before, only as each socket is made.
	 */
	bool own_netns;
	/* The network namespaces a unix socket is made in (ns_net_fd()). */
	const struct ns_restore *ns;
};

int files_read(struct restore_files *rf, struct img_dir *d);
int files_read_fdinfo(struct img_dir *d, pid_t pid, FdEntry ***fds, int *nr);
const RegFileEntry *files_by_id(const struct restore_files *rf, uint32_t id);
/* Every file the images name exists and has not changed (reported). */
int files_check(const struct restore_files *rf);
/* Open and fill every object once, as service fds at or above base. */
int files_open_all(struct restore_files *rf, struct img_dir *d, int base,
		   MmEntry **mms, int nr_mms);
/* The service fd of the object a VMA maps, -1 for anonymous memory. */
int files_vma_fd(const struct restore_files *rf, const VmaEntry *v);
int files_exe_fd(const struct restore_files *rf, uint32_t id);
/* The read end of pipe id, a deleted FIFO made again; -1 if not one. */
int files_deleted_fifo_fd(const struct restore_files *rf, uint32_t id);
/* Owners of fds (F_SETOWN_EX) by their new pid: 0 if not restored. */
struct files_pid_map {
	pid_t (*new_pid)(const void *arg, pid_t orig);	/* NULL: pids kept */
	const void *arg;
	pid_t self;		/* the original pid of the task restoring them */
	const pid_t *tids;	/* ...and of its threads but the main one */
	int nr_tids;
};

/*
 * An owner the restorer gives, once it has made the threads: a thread
 * of the holder other than its main one (map: the holder's ids).
 */
bool files_owner_later(const FdEntry *e, const struct files_pid_map *map);

/* In a new task (its pid at the dump), before it reports: what it makes. */
int files_task_early(const struct restore_files *rf, pid_t pid);
/* In the task that entered IPC namespace ipc_ns, once it is filled. */
int files_ipc_entered(const struct restore_files *rf, uint32_t ipc_ns);
/* In crest, once every task exists: the kinds' objects that name tasks. */
int files_tasks_made(struct restore_files *rf, const struct files_pid_map *map);
/* In crest, every restorer done: the kinds' threads_made. */
int files_threads_made(struct restore_files *rf, const struct files_pid_map *map);
/*
 * In a new task: put every fd in place from the service fds, then the
 * kinds' fix-ups that need them all there, then the status flags, owner
 * and signal of each (checked).
 */
int files_restore_fds(const struct restore_files *rf, FdEntry **fds, int nr,
		      const struct files_pid_map *map);
/* The status flags (O_NONBLOCK...) of e on crest's fd (one sent in flight). */
int files_set_status(int fd, const FdEntry *e);
/* The service fd an fd of a task is made from; -1 if none (an epoll...). */
int files_service_fd(const struct restore_files *rf, const FdEntry *e);
int files_is_service(const struct restore_files *rf, int fd);
/* Move fd to the service range (closing it); the new fd or -1 (reported). */
int files_to_service(int fd, int base);
/*
 * A kind's objects each made by make() and kept as a service fd: *fds,
 * by index, -1 where not made (yet). -1 if one could not be made.
 */
int files_make_services(struct restore_files *rf, void *const *objs, int nr,
			int (*make)(const void *obj), int **fds);
/*
 * In a task: crest's fd sfd (crest: a pidfd of crest) taken with
 * pidfd_getfd and put at e->fd with e's close-on-exec. -1 reported.
 */
int files_take_into(const struct restore_files *rf, pid_t crest, int sfd,
		    const FdEntry *e);
/*
 * A pidfd of a thread other than the main one (files-pidfd.c): made by
 * the restorer of its process (tgid), which sends takes copies of it on
 * the socket send, each other holder's restorer taking one from recv
 * (service fds: one socketpair per pidfd).
 */
struct pidfd_thread_info {
	uint32_t id;
	pid_t tid, tgid;	/* at the dump */
	unsigned int flags;	/* PIDFD_NONBLOCK | PIDFD_THREAD */
	uint32_t takes;
	int send, recv;
};
/* Is e such a pidfd? Then what it is, into *out. */
bool files_pidfd_thread(const struct restore_files *rf, const FdEntry *e,
			struct pidfd_thread_info *out);
/* The n-th such pidfd, false past the last. */
bool files_pidfd_thread_nth(const struct restore_files *rf, int n,
			    struct pidfd_thread_info *out);
/* Is one in flight? Its queues are refilled once the threads exist. */
bool files_pidfd_threads_in_flight(const struct restore_files *rf);
/* Do (p1, fd1) and (p2, fd2) share one open file description? */
int files_same_description(pid_t p1, int fd1, pid_t p2, int fd2);

#endif
