/*
 * Freezer cgroups, v1 (freezer.state) and v2 (cgroup.freeze): freezing
 * a tree while it is seized (--freeze-cgroup), and finding a cgroup that
 * can be frozen for a tree that forks faster than crest can seize it.
 */
#ifndef CREST_FREEZER_H
#define CREST_FREEZER_H

#include <sys/types.h>

#include "pstree.h"

/*
 * Freeze cg and wait until it is; -1: said why (thawed again). *watcher:
 * the pipe to a process that thaws cg if crest dies before
 * freezer_thaw(cg, *watcher), which lets it go.
 */
int freezer_freeze(const char *cg, int *watcher);
int freezer_thaw(const char *cg, int watcher);
/* 1: cg holds one of crest's processes (said), 0: no. */
int freezer_holds_crest(const char *cg, const struct pstree_policy *pol);

/*
 * The cgroup (v2, else v1 freezer) of the scope's processes, if it holds
 * them and nothing else: *cg, and 1. 0: none can be frozen for them, and
 * *why says which cgroup and why not (both malloc'ed, or NULL).
 */
int freezer_find_own(enum pstree_scope scope, pid_t id,
		     const struct pstree_policy *pol, char **cg, char **why);

#endif
