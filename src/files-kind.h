/*
 * The contract between files.c and each kind of fd (files-KIND.c).
 *
 * files.c knows no kind by name: it walks fd_kinds[] (files.c, one line
 * per kind, from files-kinds.h) and calls the hooks below. A kind keeps
 * one entry per object (a pipe, a file description, an eventfd...), however
 * many fds in however many processes hold it, and gives each fd the id of
 * its object.
 *
 *   dump:     recognise -> dump (per fd) -> inflight -> collected (the whole tree)
 *             -> contents -> write -> dump_done
 *   restore:  read -> check -> open (crest, service fds) -> task_early
 *             (in each task as it is made) -> ipc_entered (in a task that
 *             entered an IPC namespace, once it is filled) -> tasks_made
 *             (crest, every task exists) -> queues (crest: sent again,
 *             fds in flight through in_flight_fd) -> in each task: service_fd,
 *             dup3 into place, then post_open once every fd of the task
 *             is there
 *
 * Every hook but recognise, dump and service_fd may be NULL.
 */
#ifndef CREST_FILES_KIND_H
#define CREST_FILES_KIND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "fdinfo.pb-c.h"
#include "image.h"
#include "mm.pb-c.h"

struct dump_files;
struct pstree;
struct pstree_item;
struct proc_fdinfo;
struct restore_files;
struct files_pid_map;

/* One fd of a task being dumped, as /proc shows it. */
struct fd_dump {
	struct pstree_item *it;
	pid_t pid;			/* a live thread of it->pid */
	int fd;
	const char *link;		/* readlink of /proc/PID/fd/N */
	const struct stat *st;		/* stat of it (the object) */
	const struct proc_fdinfo *fi;	/* parsed fdinfo: pos, flags */
	const char *fdinfo;		/* the fdinfo text */
};

/* service_fd: no service fd, post_open makes this fd (an epoll). */
#define FD_MADE_LATER	(-2)

struct fd_kind_ops {
	const char *name;		/* for messages: "pipe", "eventfd..." */
	FdKind kind;			/* what fd_entry.kind says */

	/* ---- dump ---- */
	/* Is this fd one of ours? The kinds' answers never overlap. */
	bool (*recognise)(const struct fd_dump *f);
	/*
	 * Find or add the object behind the fd and set e->file_id (and what
	 * else of the fd_entry is the kind's: desc_id...); 0/-1 reported.
	 */
	int (*dump)(struct dump_files *df, const struct fd_dump *f, FdEntry *e);
	/*
	 * Every task's fds are known, before any collected: fds no task
	 * holds, in flight, dumped with files_dump_own_fd() (sk-unix.c).
	 */
	int (*inflight)(struct dump_files *df, struct pstree *t);
	/* Every task's fds are known (e.g. pipe ends leading outside). */
	int (*collected)(struct dump_files *df, struct pstree *t);
	/* Contents of the objects (pipe bytes, saved files...). */
	int (*contents)(struct dump_files *df, struct img_dir *d);
	/* The objects' records. */
	int (*write)(struct dump_files *df, struct img_dir *d);
	/*
	 * The dump ends, before the tree is let go: kill says it is killed
	 * (the images are committed and --kill), else it runs on (or the
	 * dump failed). Undo what contents or write did to live objects.
	 */
	void (*dump_done)(struct dump_files *df, bool kill);

	/* ---- restore ---- */
	int (*read)(struct restore_files *rf, struct img_dir *d);
	/* What the objects need outside the images is there (reported). */
	int (*check)(const struct restore_files *rf);
	/* Create every object once, as service fds at or above rf->base. */
	int (*open)(struct restore_files *rf, struct img_dir *d,
		    MmEntry **mms, int nr_mms);
	/*
	 * In each new task as soon as it exists, before it reports so (its
	 * parent and crest wait for that): objects this very process must
	 * make (a socketpair whose SO_PEERCRED names its maker), at service
	 * fd numbers open reserved; crest takes them in tasks_made.
	 */
	int (*task_early)(const struct restore_files *rf, pid_t pid);
	/*
	 * In the task that entered IPC namespace ipc_ns (its id in the
	 * images) once the namespace's objects are made there, before it
	 * forks: objects only a process in it can open (a POSIX message
	 * queue's description), at service fd numbers open reserved. Its
	 * children, the namespace's other processes, inherit them.
	 */
	int (*ipc_entered)(const struct restore_files *rf, uint32_t ipc_ns);
	/*
	 * In crest, once every task of the tree exists and before any puts
	 * its fds in place: objects that name tasks (pidfds).
	 */
	int (*tasks_made)(struct restore_files *rf, const struct files_pid_map *map);
	/*
	 * In crest, after every kind's tasks_made: what is sent again, the
	 * queues of sockets whose messages carry fds in flight of any kind.
	 */
	int (*queues)(struct restore_files *rf, const struct files_pid_map *map);
	/*
	 * In crest, once every restorer is done (every thread exists), the
	 * tree not let go yet: what needs threads (queues carrying a pidfd
	 * of a thread in flight, put off from queues).
	 */
	int (*threads_made)(struct restore_files *rf, const struct files_pid_map *map);
	/*
	 * crest's fd of an object in flight, to send again (from queues), for
	 * a kind whose service_fd is FD_MADE_LATER; NULL: its service_fd.
	 */
	int (*in_flight_fd)(const struct restore_files *rf, const FdEntry *e);
	/* The service fd to dup at e->fd, FD_MADE_LATER, or -1: not there. */
	int (*service_fd)(const struct restore_files *rf, const FdEntry *e);
	/* In a task, once all its fds are in place: fix-ups, late fds. */
	int (*post_open)(const struct restore_files *rf, FdEntry **fds, int nr);
	/* A few words on the fd's object for messages ("pipe 3, 12 bytes"). */
	void (*show)(const struct restore_files *rf, const FdEntry *e,
		     char *buf, size_t len);
	/* The service fd of what a VMA maps if it is ours, else -1. */
	int (*vma_fd)(const struct restore_files *rf, const VmaEntry *v);
};

#define FD_KIND(name)	extern const struct fd_kind_ops name##_fd_ops;
#include "files-kinds.h"
#undef FD_KIND

/*
 * Helpers for the kinds. A kind's own state: the slot of struct
 * dump_files / restore_files kept for it (NULL at first), so a new kind
 * needs no new field in files.h.
 */
void **files_dump_priv(struct dump_files *df, const struct fd_kind_ops *k);
void **files_restore_priv(struct restore_files *rf, const struct fd_kind_ops *k);
void *const *files_restore_priv_ro(const struct restore_files *rf,
				   const struct fd_kind_ops *k);
int files_write_msgs(struct img_dir *d, enum img_kind kind, pid_t pid,
		     void **msgs, int nr);
int files_read_msgs(struct img_dir *d, enum img_kind kind, pid_t pid,
		    void ***out, int *nr);
/* How many kinds recognise f (1, or 0: not supported); *first the first. */
int files_recognise(const struct fd_dump *f, const struct fd_kind_ops **first);
/* Does /proc's name for the object end in " (deleted)"? */
bool files_link_deleted(const char *link);
/* Is the fd an mqd_t (mq_open)? files-reg.c */
bool files_is_mqueue(pid_t pid, int fd);
/* A terminal by its path: /dev/pts/N, /dev/tty*, /dev/console, /dev/ptmx. */
bool files_link_tty(const char *link);
/* Is fd of pid a unix socket? (sk-unix.c; a copy of it is asked) */
bool sk_unix_fd(pid_t pid, int fd);
/* crest's fd of e's object, in flight: to send again; -1 not there. */
int files_in_flight_fd(const struct restore_files *rf, const FdEntry *e);
/* The fd's object for messages, through its kind's show. */
void files_show_fd(const struct restore_files *rf, const FdEntry *e,
		   char *buf, size_t len);

#endif
