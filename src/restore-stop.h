/*
 * Stopped processes come back stopped, continued ones continued, with
 * their parents' reports (restore-stop.c).
 */
#ifndef CREST_RESTORE_STOP_H
#define CREST_RESTORE_STOP_H

#include "restore-task.h"

/* The signal that had stopped it, 0 if it was not (older images: SIGSTOP). */
long restore_stop_signal(const PstreeEntry *pe);
/* Every thread at its last int3: each stopped process group-stops again. */
int stop_tasks(struct restore_task *tasks, int nr);
/*
 * After stop_tasks(): each process continued before the dump whose parent
 * had not waited for that (WCONTINUED) is stopped and continued again.
 */
int cont_tasks(struct restore_task *tasks, const struct restore_args *ras, int nr);
/* In p (at its int3, restorer mapped): its children's reports as they were. */
int stop_reports(struct restore_task *p, const struct restore_args *ra);
/* After the detach: crest, the parent of the roots, does the same for them. */
int stop_roots(struct restore_task *tasks, int nr);

#endif
