/*
 * Process attributes: capabilities and securebits, no_new_privs, seccomp,
 * the parent-death signal, timer slack, I/O priority, THP disable,
 * oom_score_adj, loginuid and the cgroup of every hierarchy.
 */
#ifndef CREST_TASK_ATTRS_H
#define CREST_TASK_ATTRS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core.pb-c.h"
#include "opts.h"
#include "pie-abi.h"

struct pstree_item;

/* What /proc/PID/task/TID/status says of a thread's attributes. */
struct attrs_status {
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	int no_new_privs;
	int seccomp;		/* 0 off, 1 strict, 2 filter */
};

int attrs_parse_status(const char *buf, struct attrs_status *st);

/* One line of /proc/PID/cgroup: "ID:controllers:path". */
int attrs_parse_cgroup_line(const char *line, CgroupEntry *e);
/*
 * The directory of cgroup e in the hierarchies mounted as mountinfo says:
 * a new string, or NULL when no mount shows that hierarchy or that path.
 */
char *attrs_cgroup_dir(const char *mountinfo, const CgroupEntry *e);

/* Dump, from outside, before any parasite: refuses what can't be saved. */
int attrs_collect(struct pstree_item *it);
/* Dump, once the parasite told what only a thread can (it->tinfo). */
void attrs_finish(const struct pstree_item *it, CoreEntry *c);

/* Restore, in crest's child that becomes the process, with libc. */
int attrs_restore_self(const CoreEntry *c, pid_t orig_pid, char *const *cg_dirs);
/*
 * --cgroup-root: every process's cgroup at or below the first root's, of
 * each hierarchy named, moved below its new root; -1 (said why) for one
 * outside the first root's.
 */
int attrs_cgroup_root(CoreEntry **cores, const pid_t *pids, int nr, const struct cg_root *r,
		      int nr_r);
/* Restore: does a thread run under seccomp (trace it suspended)? */
bool attrs_has_seccomp(const CoreEntry *c);
/* Restore, the restorer's part: bytes needed, and the fill. */
size_t attrs_args_size(const CoreEntry *c);
void attrs_fill_args(const CoreEntry *c, bool zombie_leader,
		     struct restore_args *ra, struct rst_thread *thr,
		     void *area);
/* Restore, from crest, thread by thread at the end. */
int attrs_restore_thread(pid_t tid, const ThreadCoreEntry *tc);

#endif
