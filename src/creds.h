/*
 * A restore never gives a process more privileges than its caller has:
 * the credentials in the images are checked against crest's own before
 * anything is created.
 */
#ifndef CREST_CREDS_H
#define CREST_CREDS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core.pb-c.h"

#define CREDS_MAX_GROUPS	65536

/* What the caller may hand out. */
struct creds_caller {
	uid_t uid[3];		/* real, effective, saved */
	gid_t gid[3];
	gid_t *groups;
	int nr_groups;
	uint64_t prm, bnd;	/* permitted and bounding capability sets */
	bool setuid, setgid, setpcap;	/* may take any uid / gid / inheritable */
	bool secure;		/* crest's privileges came from its file (AT_SECURE) */
};

/*
 * crest's own, as its caller gave them. A crest that gained privileges
 * when it was executed (file capabilities, set-user-ID) stands for its
 * real user alone: the real ids and no capability.
 */
int creds_caller_read(struct creds_caller *c);
void creds_caller_free(struct creds_caller *c);

/*
 * Pure: every problem of process pid's credentials (c) the caller can't
 * give, one refusal line each through report(). Returns their number.
 */
int creds_problems(const struct creds_caller *me, const CoreEntry *c, pid_t pid,
		   void (*report)(pid_t pid, const char *msg));

/* Restore: creds_problems() of every process, reported. -1 if any. */
int creds_check(const CoreEntry *const *cores, const pid_t *pids, int nr);

#endif
