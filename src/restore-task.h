#ifndef CREST_RESTORE_TASK_H
#define CREST_RESTORE_TASK_H

#include <stdint.h>
#include <sys/types.h>

#include "core.pb-c.h"
#include "files.h"
#include "image.h"
#include "mm.pb-c.h"
#include "pstree.pb-c.h"

/* Everything needed to rebuild one process, read and checked up front. */
struct restore_task {
	PstreeEntry *pstree;
	CoreEntry *core;
	MmEntry *mm;
	PagemapEntry **runs;
	size_t nr_runs;
	uint64_t pages_bytes;
	char *pages_path;
	struct restore_files files;
	struct img_dir *dir;
	int sync_fd;		/* child reads "go" here */
	int report_fd;		/* child writes its argument block address */
};

/* In the new task: never returns; exits non-zero after reporting. */
void restore_task_child(struct restore_task *t) __attribute__((noreturn));

#endif
