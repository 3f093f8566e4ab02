#ifndef CREST_TIMERS_H
#define CREST_TIMERS_H

#include <sys/types.h>

#include "core.pb-c.h"
#include "pie-abi.h"

struct parasite_ctl;
struct pstree_item;

/*
 * POSIX timers (timer_create): the set, clocks and notification from
 * /proc/PID/timers (before any parasite), time left, interval and
 * overrun from inside (PARASITE_CMD_POSIX_TIMERS), recreated under their
 * own ids and armed by the restorer.
 */
struct posix_timers {
	PosixTimerEntry **t;
	int nr;
};

/*
 * Parse /proc/PID/timers text; tids[] (nr_tids, the leader first) are the
 * threads of the process, to name a SIGEV_THREAD_ID target or a thread's
 * CPU clock by index. Every timer crest can't recreate is reported (one
 * line each, with pid and comm) and makes it fail.
 */
int timers_parse(const char *buf, pid_t pid, const char *comm,
		 const pid_t *tids, int nr_tids, struct posix_timers *pt);
void timers_free(struct posix_timers *pt);

/* Read and check the timers of a process from outside. */
int timers_collect(struct pstree_item *it, struct posix_timers *pt);
/* Ask the parasite for their time left, interval and overrun. */
int timers_dump(struct parasite_ctl *ctl, struct posix_timers *pt);

/* Can this kernel give them back? PR_TIMER_CREATE_RESTORE_IDS (6.14) */
int timers_kernel_has_restore_ids(void);
/* Refuse a process with POSIX timers on a kernel that can't (0 or -1). */
int timers_check_kernel(const CoreEntry *c, pid_t pid);

/*
 * Restore side: how many, and fill rst_posix_timer[] with thread
 * indexes translated for the restorer (zl: a zombie leader, whose
 * threads[] start at the core's thread 0).
 */
int timers_restore_count(const CoreEntry *c);
void timers_fill_restore(const CoreEntry *c, int zl, struct rst_posix_timer *r);

#endif
