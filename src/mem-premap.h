#ifndef CREST_MEM_PREMAP_H
#define CREST_MEM_PREMAP_H

struct restore_task;

enum {
	PREMAP_INHERITED = 1,	/* holds pages inherited from the parent */
	PREMAP_FOR_CHILD = 2,	/* a child inherits pages of it */
};

/* Which VMAs are mapped before the fork; refuses an inconsistent image. */
int premap_plan(struct restore_task *tasks, int nr);
/* In the new task, before it forks its children: map and fill them. */
int premap_task(struct restore_task *t);

#endif
