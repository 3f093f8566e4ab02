#ifndef CREST_NAMESPACES_H
#define CREST_NAMESPACES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "opts.h"
#include "image.h"
#include "ns.pb-c.h"
#include "pstree.h"
#include "pstree.pb-c.h"

struct mnt_dump;
struct mnt_restore;

/* What a dump keeps of the tree's namespaces (namespaces.c). */
struct ns_dump {
	NsEntry **ns;			/* namespaces.img, ns[i]->id == i + 1 */
	uint64_t *ino;			/* per ns: its inode at the dump */
	UtsNsEntry **uts;		/* per ns: a UTS one's names */
	IpcNsEntry **ipc;		/* per ns: an IPC one's limits... */
	IpcObjEntry ***objs;		/* ...and objects */
	int *nr_objs;
	struct mnt_dump **mnt;		/* per ns: a mount one's (ns-mnt.c) */
	NetNsEntry **net;		/* per ns: a network one's (ns-net.c) */
	TimeNsEntry **time;		/* per ns: a time one's offsets */
	UserNsEntry **user;		/* per ns: a user one's maps */
	int nr;
	const struct ext_mnt *ext;	/* --external mnt[MP]:NAME */
	int nr_ext;
	IpcObjEntry **host_shm;		/* segments of crest's IPC namespace the tree attaches */
	int nr_host_shm;
};

/*
 * Which namespaces each process is in (it->ns_id[], it->ns_pids),
 * each one that is not crest's own read whole (a UTS namespace's
 * names, an IPC namespace's objects). What can't be saved is refused;
 * -1 only when /proc or a helper fails.
 */
int ns_collect(struct ns_dump *nd, struct pstree *t);
/* The size of System V segment id of IPC namespace ipc_ns in the images: 0, or -1. */
struct ns_restore;
int ns_sysv_shm_size(const struct ns_restore *nr, uint32_t ipc_ns, int32_t id, uint64_t *size);
/*
 * Once every process is restored, the segments of the IPC namespace pe
 * entered (now pid) that were removed while attached are removed again
 * (they go with their last attach); 0 if there are none.
 */
int ns_sysv_remove(const struct ns_restore *nr, const PstreeEntry *pe, pid_t pid);
/*
 * The segments of crest's own IPC namespace (the machine's) the tree
 * attaches: found as they were (same key, size and owner, attached by
 * nobody: refilled with their bytes) or made again under their id. Done
 * before the tree is made; undone (what was made removed) if the restore
 * fails; finished (those removed while attached removed again) at its end.
 */
int ns_host_shm_prepare(const struct ns_restore *nr);
void ns_host_shm_undo(const struct ns_restore *nr);
int ns_host_shm_finish(const struct ns_restore *nr);
/* namespaces.img and one image per namespace; pe's fields from it. */
int ns_write(const struct ns_dump *nd, struct img_dir *d);
/* crest's PID as pid sees it, for the parasite's wait: a watch's inside. */
pid_t ns_tracer_pid(pid_t pid);
/* The dump is over: the watches go; keep_counters: the tree runs on. */
void ns_dump_done(bool keep_counters);
void ns_fill_pstree(const struct pstree_item *it, PstreeEntry *pe);
/*
 * The id a socket's network namespace (inode ino) has in the images: one
 * of the tree's, or 0 for crest's own; -1 if neither (reported).
 */
int ns_net_id(const struct ns_dump *nd, uint64_t ino, uint32_t *id);

/*
 * ns-mqueue-notify.c: the mq_notify registrations of the tree's POSIX
 * message queues. At the end of ns_collect(): each is refused unless
 * its process is one of the tree's, holds an fd of the queue, has its
 * own fd table and no instance of the signal pending.
 */
void mq_notify_collect(struct ns_dump *nd, struct pstree *t);
/*
 * While it is infected (ctl): the registrations process it made, a
 * signal's sigev_value learned by firing it (a message sent into the
 * empty queue and taken back, the signal taken by it) and each made
 * again by it as it was. -1 reported.
 */
struct parasite_ctl;
int mq_notify_dump(struct ns_dump *nd, struct pstree_item *it, struct parasite_ctl *ctl);

/* The restore's side. */
struct ns_restore {
	NsEntry **ns;
	UtsNsEntry **uts;
	IpcNsEntry **ipc;
	IpcObjEntry ***objs;
	int *nr_objs;
	struct mnt_restore **mnt;
	NetNsEntry **net;
	TimeNsEntry **time;
	UserNsEntry **user;
	int *fd;			/* per ns: made by ns_prepare() (net, time), or -1 */
	int own_net;			/* crest's own network namespace, when it makes
					 * others (a service fd), or -1 */
	int nr;
	IpcObjEntry **host_shm;		/* ipcobjs-0.img: of crest's IPC namespace */
	int nr_host_shm;
	bool *host_made;		/* made by ns_host_shm_prepare(): undone on failure */
	const struct ext_mnt *ext;	/* --external mnt[NAME]:PATH */
	int nr_ext;
	bool evasive;			/* --evasive-devices */
	const char *root;		/* --root: a container's root filesystem */
};

/* How a task is made: clone3 flags and set_tid (innermost first). */
struct ns_clone {
	uint64_t flags;
	pid_t set_tid[NS_MAX_LEVEL + 1];
	int nr_set_tid;			/* 0: any PID */
};

int ns_read(struct ns_restore *nr, struct img_dir *d);
/* Checks that the images' namespaces name real processes, and kernel support. */
int ns_check(const struct ns_restore *nr, PstreeEntry **pes, int nr_pes);
/*
 * The clone of pe by a task in crest's namespaces (parent NULL) or by its
 * parent: the namespaces it enters, and its PID at every level from the
 * caller's down (with_pid: the caller's level too).
 */
void ns_clone_for(const struct ns_restore *nr, const PstreeEntry *pe,
		  const PstreeEntry *parent, bool with_pid, struct ns_clone *nc);
/*
 * A thread of pe in a PID namespace: its set_tid (innermost first, the
 * host TID last with with_pid) and how many; 0: not in one; -1: no TIDs.
 */
int ns_thread_set_tid(const PstreeEntry *pe, pid_t tid, bool with_pid, int32_t *set_tid);
/* pe is the init of a PID namespace of its own. */
bool ns_enters_pid(const struct ns_restore *nr, const PstreeEntry *pe);
/* Does pe enter an IPC namespace of the tree (made by or for it)? */
bool ns_enters_ipc(const struct ns_restore *nr, const PstreeEntry *pe);
/*
 * In the new task, its fds in place and crest's service fds closed (an
 * owner's close of any fd of a queue drops its registration): the
 * registrations it made, again, through its fds fds of its queues.
 */
int ns_mq_notify_restore(const struct ns_restore *nr, const PstreeEntry *pe,
			 FdEntry *const *fds, int nr_fds);
/* Phase 2, every task made: what a namespace's entering task sets last. */
int ns_restore_late(const struct ns_restore *nr, const PstreeEntry *pe);
/*
 * In the new task first: join the network namespace it entered (made by
 * crest), so the sockets it makes itself are made in it.
 */
int ns_restore_net(const struct ns_restore *nr, const PstreeEntry *pe);
/* In the new task, made in the namespaces it entered: fill them. */
int ns_restore_entered(const struct ns_restore *nr, const PstreeEntry *pe,
		       const PstreeEntry *parent);
/*
 * parent unshare()d for child (PID, time): it forks child after its other
 * children, once ns_unshare_for() made the namespaces it is born in.
 */
bool ns_unshared_for(const struct ns_restore *nr, const PstreeEntry *parent,
		     const PstreeEntry *child);
int ns_unshare_for(const struct ns_restore *nr, const PstreeEntry *parent,
		   const PstreeEntry *child);
/* Before the objects: the network and time namespaces, made by crest. */
int ns_prepare(struct ns_restore *nr, int base);
/*
 * crest in the first process's network namespace while it makes the
 * tree's objects (its sockets), then back (own: crest's, or -1).
 */
int ns_enter_objects(const struct ns_restore *nr, const PstreeEntry *root, int *own);
int ns_leave_objects(int own);
/*
 * The network namespace a socket saved in namespace id (0: crest's own)
 * is made in, an fd of it; -1: the calling thread's (has false: an image
 * from before sockets named theirs; crest's own while crest makes none).
 */
int ns_net_fd(const struct ns_restore *nr, bool has, uint32_t id);
/* Is id 0 or a network namespace of the images? */
bool ns_net_known(const struct ns_restore *nr, uint32_t id);
/* Are the sockets made in a network namespace the restore makes? */
bool ns_objects_netns(const struct ns_restore *nr, const PstreeEntry *root);

/* For the ns-*.c helpers that run in a namespace (in_ns()). */
int send_msg(int fd, const ProtobufCMessage *m);
void send_text(int fd, char type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Write value to /proc/sys/NAME; reported. */
int ns_write_sys(const char *name, const char *value);
/* The sysctls of names there are, as read in the caller's namespaces. */
IpcVar **ns_read_vars(const char *const *names, size_t nr, size_t *n_vars);
/* Each written back; one not in names is an image's fault. */
int ns_write_vars(IpcVar *const *vars, size_t n_vars, const char *const *names,
		  size_t nr, const char *what, uint32_t id);

/*
 * A namespace of kind i (NSI_*) made and filled by make() in crest, its fd
 * (/proc/self/ns/MADE); crest is back in its own then, or -1.
 */
int ns_make_in_crest(int i, const char *made, int (*make)(const void *e, uint32_t id),
		     const void *e, uint32_t id);
/* One of kind flag (ns/NAME) owned by the user namespace userns_fd, or -1. */
int ns_make_in_user(int userns_fd, int flag, const char *name, uint32_t id);
/*
 * A helper, a child of crest, that joined userns_fd (-1: crest's) and
 * unshare()d flag, waiting while crest looks at it (its /proc), until
 * ns_helper_end(); -1 reported.
 */
struct ns_helper {
	pid_t pid;
	int rfd, wfd;
};
int ns_helper_start(struct ns_helper *h, int userns_fd, int flag, uint32_t id);
void ns_helper_end(struct ns_helper *h);

/* ns-net.c: the helper that reads a network namespace; one made again (its fd). */
int netns_helper(int out);
int netns_make(const NetNsEntry *e, uint32_t id);
int netns_make_in(const NetNsEntry *e, uint32_t id, int userns_fd);
/* ns-time.c: a time namespace's offsets, ns k entered by pid; one made again. */
int timens_collect(struct ns_dump *nd, int k, pid_t pid);
int timens_make(const TimeNsEntry *e, uint32_t id);
/* unshare(CLONE_NEWTIME) with e's offsets, staying: for the caller's children. */
int timens_unshare(const TimeNsEntry *e, uint32_t id);
/*
 * The offsets (ns) for e's namespace made now, the host's clocks reading
 * mono_now/boot_now ns in boot boot_id: e's own in the boot it was dumped
 * in (1 is not returned), else moved so its clocks go on from their values
 * at the dump (returns 1); -1 for an image with values out of range.
 */
int timens_offsets_now(const TimeNsEntry *e, const char *boot_id, long long mono_now,
		       long long boot_now, long long *mono_off, long long *boot_off);
/* ns-user.c: a user namespace, ns k, entered by pid; each process in it. */
struct restore_args;
int userns_collect(struct ns_dump *nd, int k, pid_t pid);
/* The inode of the user namespace owning ns/NAME of pid (0: can't tell). */
uint64_t userns_owner_ino(pid_t pid, const char *name);
int userns_check_task(const struct ns_dump *nd, int k, const struct pstree_item *it);
int userns_make(const UserNsEntry *e, uint32_t id);
/* ra's ids in the namespace's terms and its fd (-1: none), joined in the restorer. */
void userns_args(const UserNsEntry *e, int fd, struct restore_args *ra);
/* The restore of pe: the fd of its user namespace, to keep for the restorer, or -1. */
int ns_user_fd(const struct ns_restore *nr, const PstreeEntry *pe);
void ns_user_args(const struct ns_restore *nr, const PstreeEntry *pe, struct restore_args *ra);

/* ns-mnt.c: a mount namespace, ns k, entered by pid. */
int mntns_collect(struct ns_dump *nd, int k, pid_t pid);
int mntns_check_task(const struct ns_dump *nd, int k, const struct pstree_item *it);
int mntns_write(const struct ns_dump *nd, int k, struct img_dir *d);
int mntns_read(struct ns_restore *nr, int k, struct img_dir *d);
/*
 * crest, once every restorer is done: each mount namespace's mounts, by
 * a helper in it; host[k]: the host PID of the task that entered ns k.
 */
int mntns_restore_mounts(const struct ns_restore *nr, const pid_t *host);
/*
 * A mount namespace whose root was pivot_root'ed into (MNT_ROOT), made up
 * front by a holder process of crest's: --root bound as its root, the
 * caller's mounts on it bound too, so that the tree's files are opened
 * through it (mntns_root_prefix()) and its tasks join it (mntns_join()).
 */
bool mntns_rooted(const struct ns_restore *nr, int k);
int mntns_make_roots(struct ns_restore *nr);
/* "/proc/HOLDER/root" of ns k, or NULL when it is not rooted. */
const char *mntns_root_prefix(const struct ns_restore *nr, int k);
/* The holder's namespace, opened for the tasks (ns_prepare()). */
int mntns_root_fd(const struct ns_restore *nr, int k);
/* Was "PID:FD" an fd reopened as crest's node (--evasive-devices)? */
bool mntns_evasive_fd(const struct ns_restore *nr, int k, uint32_t pid, uint32_t fd);
/*
 * A file of ns k at path, on an external mount of it (--external
 * mnt[NAME]:PATH): where it is below PATH (malloc'd), or NULL.
 */
char *mntns_ext_file(const struct ns_restore *nr, int k, const char *path);
/* The holders go, once the tasks are in their namespaces. */
void mntns_end_roots(struct ns_restore *nr);
/* The task joins its rooted mount namespace: 1 if so, 0 not rooted, -1. */
int ns_mnt_join(const struct ns_restore *nr, const PstreeEntry *pe);
/* The fd of pe's rooted mount namespace, to keep till set_task_dirs(), or -1. */
int ns_mnt_fd(const struct ns_restore *nr, const PstreeEntry *pe);

#endif
