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
	int nr;
	const struct ext_mnt *ext;	/* --external mnt[MP]:NAME */
	int nr_ext;
};

/*
 * Which namespaces each process is in (it->ns_id[], it->ns_pids),
 * each one that is not crest's own read whole (a UTS namespace's
 * names, an IPC namespace's objects). What can't be saved is refused;
 * -1 only when /proc or a helper fails.
 */
int ns_collect(struct ns_dump *nd, struct pstree *t);
/* namespaces.img and one image per namespace; pe's fields from it. */
int ns_write(const struct ns_dump *nd, struct img_dir *d);
/* crest's PID as pid sees it, for the parasite's wait: a watch's inside. */
pid_t ns_tracer_pid(pid_t pid);
/* The dump is over: the watches go; keep_counters: the tree runs on. */
void ns_dump_done(bool keep_counters);
void ns_fill_pstree(const struct pstree_item *it, PstreeEntry *pe);

/* The restore's side. */
struct ns_restore {
	NsEntry **ns;
	UtsNsEntry **uts;
	IpcNsEntry **ipc;
	IpcObjEntry ***objs;
	int *nr_objs;
	struct mnt_restore **mnt;
	int nr;
	const struct ext_mnt *ext;	/* --external mnt[NAME]:PATH */
	int nr_ext;
	bool evasive;			/* --evasive-devices */
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
/* Phase 2, every task made: what a namespace's entering task sets last. */
int ns_restore_late(const struct ns_restore *nr, const PstreeEntry *pe);
/* In the new task, made in the namespaces it entered: fill them. */
int ns_restore_entered(const struct ns_restore *nr, const PstreeEntry *pe);

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

#endif
