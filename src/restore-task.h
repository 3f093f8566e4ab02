#ifndef CREST_RESTORE_TASK_H
#define CREST_RESTORE_TASK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "chain.h"
#include "core.pb-c.h"
#include "files.h"
#include "image.h"
#include "mm.pb-c.h"
#include "pie-abi.h"
#include "pstree.pb-c.h"

/* Everything needed to rebuild one process, read and checked up front. */
struct restore_task {
	PstreeEntry *pe;
	CoreEntry *core;
	MmEntry *mm;
	PagemapEntry **runs;
	size_t nr_runs;
	uint64_t *run_off;		/* bytes before each run in pages-PID.img */
	uint64_t pages_bytes;
	/* copy-on-write sharing with parent and children (mem-premap.c) */
	bool premap;			/* some VMA is mapped before the fork */
	uint8_t *vma_premap;		/* per mm->vmas[]: PREMAP_* */
	uint64_t *vma_cur;		/* per mm->vmas[]: where it was premapped */
	uint8_t *run_early;		/* per run: inherited or filled premapped */
	char *pages_path;
	/* A chain of dumps: run k's bytes are in pages_paths[run_file[k]] */
	uint8_t *run_file;		/* NULL: all in pages_path */
	uint8_t *run_nocrc;		/* a piece of a run: no checksum of its own */
	char *pages_paths[CHAIN_MAX];	/* [0]: pages_path */
	/*
	 * restore --lazy-pages --page-server: pages_path is a memfd holding
	 * the runs the restorer reads, fetched from the page server; the
	 * lazy-pages server reads the others there (lazy-remote.c).
	 */
	const ImageFile *pages_remote;	/* the inventory's file; NULL: local */
	bool pages_z;			/* dump --compress: decompressed into a memfd */
	/*
	 * ... and with --lazy-pages: the memfd holds only what the restorer
	 * reads; crest-lazy decompresses each lazy run's frame (at run_zoff[k]
	 * from IMG_PAGES_OFF in pages_zpath) as it is needed.
	 */
	char *pages_zpath;
	uint64_t *run_zoff;
	uint32_t ps_handle;
	FdEntry **fds;
	int nr_fds;
	struct thread_fds *tfds;	/* threads' own tables, fdinfo-TID.img */
	int nr_tfds;
	struct rst_fd **tfd_copies;	/* per tfds[]: where the process holds them */
	/* pe->shares_files: its copies of crest's fds it needs (sharer_copies()) */
	int (*fd_copy)[2];		/* [orig, copy] */
	int nr_fd_copy;
	struct files_pid_map pid_map;	/* owners of its fds (task_pid_map()) */
	int *early_chain_fds;		/* its pages images, opened then; NULL: none */
	int table_wait_fd;		/* the installer says "done" here */
	int table_pipe[2];		/* an installer's: one byte per sharer */
	/* per core->attrs->cgroups[]: its directory, and its namespace root's */
	char **cg_dirs;
	char **cg_ns_dirs;		/* NULL entries: it enters no cgroup namespace */
	struct restore_task *parent;
	struct restore_task **children;	/* created by this task, in order */
	int nr_children;
	int aio_null_fd;		/* /dev/null for its AIO rings' restorer, or -1 */
	int sync_fd;			/* the task reads "go" here (twice) */
	int sync_wfd;			/* crest writes it */
	pid_t new_pid;
	bool restore_pid;		/* threads get their TIDs back too */
	pid_t *tids;			/* the threads as restored, image order */
	/* sessions and groups, decided before anything is created */
	bool setsid;			/* call setsid() */
	bool own_group;			/* call setpgid(0, 0) */
	pid_t join_pgid;		/* phase 2: join this group (0: stay) */
	pid_t join_pgid_orig;		/* ...named by its original leader */
	pid_t join_pgid_ns;		/* ...by its PID in our PID namespace (0: outside it) */
	/* filled as the restore goes */
	uint64_t args_addr;
	pid_t live;			/* a thread that stopped for us: ptrace, /proc */
	bool lazy;			/* --lazy-pages: anonymous memory by the server */
	bool seized, stopped_at_trap;
};

struct pid_map_entry {
	pid_t orig, now;
};

/* What every task of a restore shares: read-only but for map[].now. */
struct ns_restore;

struct restore_shared {
	const struct restore_files *files;
	const struct ns_restore *ns;	/* namespaces.c */
	int report_fd;
	int lazy_fd;			/* --lazy-pages: socket to the server; -1 */
	int top;			/* every fd crest held at the fork is below */
	bool restore_pid;
	struct pid_map_entry *map;	/* MAP_SHARED: tasks fill .now */
	int nr;
};

enum { REPORT_CREATED = 1, REPORT_RESTORER };

struct restore_report {
	int32_t type;
	int32_t pid;			/* the original pid */
	uint64_t val;			/* new pid, or argument block address */
};

/* Address ranges in use, and a hole among them (restore-task.c). */
struct busy {
	struct rst_range *r;
	int nr;
};

void busy_add(struct busy *b, uint64_t start, uint64_t end);
/* The lowest hole of at least size above the floor; 0 if none. */
uint64_t busy_find_hole(struct busy *b, uint64_t size);
/* Our own mappings, and where our vDSO/vvar are if ra is not NULL. */
int busy_own_layout(struct busy *b, struct restore_args *ra);

/*
 * --lazy-pages (src/lazy.c): what the lazy-pages server fills, decided
 * the same way in crest's side and in the server.
 */
#define LAZY_UFFD_FEATURES	((1ULL << 1) | (1ULL << 2) | (1ULL << 3) | (1ULL << 6))
						/* EVENT_FORK, _REMAP, _REMOVE, _UNMAP */
bool restore_vma_lazy(const struct restore_task *t, size_t vma);
bool restore_run_lazy(const struct restore_task *t, size_t run);
int restore_run_vma(const struct restore_task *t, size_t run);

/*
 * Make task t, by crest (a root) or by its parent: with its PID if
 * with_pid, in the namespaces it enters, sharing the caller's fd table
 * if it did (CLONE_FILES).
 */
pid_t restore_clone(const struct restore_shared *sh, const struct restore_task *t,
		    bool with_pid);
pid_t restore_new_pid(const struct restore_shared *sh, pid_t orig);
/* In the new task: never returns; exits non-zero after reporting. */
void restore_task_child(struct restore_task *t, struct restore_shared *sh)
	__attribute__((noreturn));

#endif
