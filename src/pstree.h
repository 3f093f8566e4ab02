#ifndef CREST_PSTREE_H
#define CREST_PSTREE_H

#include <stdbool.h>
#include <sys/types.h>

#include "core.pb-c.h"
#include "fdinfo.pb-c.h"
#include "files.h"
#include "mem.h"
#include "mm.pb-c.h"
#include "pie-abi.h"
#include "opts.h"
#include "proc.h"
#include "timers.h"

enum pstree_scope { SCOPE_TREE, SCOPE_PID, SCOPE_PGID, SCOPE_SID };

/* The namespace kinds crest saves (namespaces.c), as indexes. */
enum { NSI_UTS, NSI_IPC, NSI_PID, NSI_MNT, NSI_NET, NSI_TIME, NSI_USER, NSI_NR };
#define NS_MAX_LEVEL	8	/* PID namespaces nested below crest's */

/* One process of the checkpoint and what the dump learns about it. */
struct pstree_item {
	pid_t pid, ppid, pgid, sid;
	struct pstree_item *parent;	/* NULL for a root */
	bool zombie;
	int exit_status;		/* zombie: wait(2) status */
	bool stopped;			/* group-stopped when seized */
	int stop_signal;		/* by this signal */
	bool seized;
	pid_t *threads;			/* seized, the leader first */
	int nr_threads;
	bool zombie_leader;		/* the main thread exited, others run */
	pid_t live;			/* a live thread, for /proc and ptrace */
	struct proc_stat stat;
	/* dump state */
	struct mem_layout mem;
	bool pages_dumped;		/* and cured: its memory lies still */
	struct parasite_info info;
	struct parasite_info *tinfo;	/* per thread, as threads[] */
	CoreEntry *core;
	MmEntry mm;
	FdEntry **fds;
	int nr_fds;
	struct thread_fds *tfds;	/* threads with a table of their own */
	int nr_tfds;
	bool shares_files;		/* its parent's fd table: fds are the parent's */
	int posix_lock_fd;		/* an fd showing a POSIX lock, or -1 */
	struct posix_timers ptimers;
	uint32_t cwd_file_id, root_file_id;	/* deleted ones: files.img entries */
	TaskAttrsEntry *attrs;		/* task-attrs.c */
	ThreadAttrsEntry **tattrs;	/* per thread, as threads[] */
	/* namespaces.c: its namespaces (ids in namespaces.img, 0: crest's) */
	uint32_t ns_id[NSI_NR];
	uint64_t ns_ino[NSI_NR];
	uint32_t ns_pids[NS_MAX_LEVEL];	/* NSpid below crest's level */
	int nr_ns_pids;
	bool pid_unshared;		/* unshare(CLONE_NEWPID) for a child of the tree */
	bool time_unshared;		/* unshare(CLONE_NEWTIME) for a child of the tree */
	uint32_t *ns_tids;		/* per thread (threads[]): its nr_ns_pids TIDs */
};

struct pstree {
	struct pstree_item **items;	/* parents before their children */
	int nr;
	pid_t *preseized;		/* --freeze-cgroup: seized while frozen */
	int nr_preseized;
	bool touched;			/* a process was seized (maybe released) */
};

/*
 * Find the processes of the scope and seize each live one. A parent is
 * stopped before its children are listed, so nothing forks past us.
 */
struct pstree_policy {
	int ptraced;		/* enum trace_policy (opts.h) */
	int ptracer;
	bool omit;		/* leave out cr_run --omit processes */
	pid_t crest[2];		/* crest's own processes: never in a scope */
};

/* pstree_seize(): the scope kept changing; nothing is left seized. */
#define PSTREE_UNSETTLED	(-4)

int pstree_seize(struct pstree *t, enum pstree_scope scope, pid_t id,
		 const struct pstree_policy *pol);
/* The same, with the freezer cgroup cg frozen while every task is seized. */
int pstree_seize_frozen(struct pstree *t, const char *cg, enum pstree_scope scope,
			pid_t id, const struct pstree_policy *pol);
/* Detach every seized task (tasks go on as they were). */
void pstree_release(struct pstree *t);
/*
 * The same for good, at the end of a dump (seize.c, let_go_task()): a
 * thread crest found in a syscall is left in it, still traced until
 * crest's worker exits.
 */
void pstree_let_go(struct pstree *t);
/* Continued, and its parent (in the tree) not told yet: 1, 0, -1 on error. */
int pstree_cont_pending(const struct pstree_item *it);
struct pstree_item *pstree_find(const struct pstree *t, pid_t pid);
/* Parse "a b c" of /proc/PID/task/TID/children; pure, unit-tested. */
int pstree_parse_children(const char *buf, pid_t **out);

#endif
