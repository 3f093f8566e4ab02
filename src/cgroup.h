/*
 * The tree's cgroups as directories with properties (cgroups.img): saved
 * at a dump, made and set at a restore per --manage-cgroups (CRIU's
 * modes). Which cgroup each process is in is task-attrs.c's.
 */
#ifndef CREST_CGROUP_H
#define CREST_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cgroup.pb-c.h"
#include "core.pb-c.h"
#include "image.h"

struct pstree;

struct cgroup_dump {
	CgroupDirEntry **dirs;
	size_t nr;
};

/* Dump: the processes' cgroups but crest's own and each root, and below. */
int cgroup_collect(struct cgroup_dump *cg, const struct pstree *tree, int mode);
int cgroup_write(const struct cgroup_dump *cg, struct img_dir *d);

/*
 * cgroup-props.c: every writable file of dir saved into d (in the order
 * a restore writes them), or refused for pid; 0 also when refused.
 */
int cgroup_props_collect(CgroupDirEntry *d, const char *dir, pid_t pid);
/* The value as saved (less its newline; memory.oom_control's switch). */
char *cgroup_read_prop(const char *dir, const char *name, bool *missing);
/* p written into dir unless it says so already, then read back. */
int cgroup_set_prop(const char *dir, const CgroupPropEntry *p);

struct cgroup_restore {
	CgroupDirEntry **dirs;
	int nr;
	int mode;		/* enum cg_mode */
	char **made;		/* directories this restore made, in order */
	int nr_made;
};

int cgroup_read(struct cgroup_restore *cg, struct img_dir *d, int mode);
/* --cgroup-root: the saved directories moved as the processes' cgroups. */
void cgroup_move_root(struct cgroup_restore *cg, const char *controllers, const char *old,
		      const char *new);
/*
 * Restore, before anything is made: each process's cgroup is there or
 * may be made in this mode (attrs: every process's), strict finds none.
 */
int cgroup_check(const struct cgroup_restore *cg, CoreEntry **cores, const pid_t *pids,
		 int nr);
/* Make what the mode makes, set what it sets; undone by cgroup_undo(). */
int cgroup_make(struct cgroup_restore *cg, CoreEntry **cores, int nr);
void cgroup_undo(struct cgroup_restore *cg);
/*
 * Restore, in crest: each of c's cgroups' directories (ns: the roots of
 * the cgroup namespace it enters, NULL where it enters none).
 */
char **cgroup_task_dirs(const CoreEntry *c, bool ns);
/* In the process: join its namespace's roots, unshare(CLONE_NEWCGROUP). */
int cgroup_ns_enter(const CoreEntry *c, const CoreEntry *parent, char *const *ns_dirs,
		    pid_t orig_pid);

#endif
