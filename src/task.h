#ifndef CREST_TASK_H
#define CREST_TASK_H

#include <sys/types.h>

#include "core.pb-c.h"
#include "mm.pb-c.h"
#include "pie-abi.h"

struct proc_stat;
struct parasite_info;
struct pstree_item;

/* core-PID.img from /proc, ptrace and the parasite's answers, all threads. */
CoreEntry *task_dump_core(const struct pstree_item *it);
/* The mm fields of mm-PID.img (VMAs are added by mem.c). */
int task_dump_mm(pid_t pid, const struct proc_stat *st,
		 const struct parasite_info *pi, MmEntry *mm);

/* What is a thread's own (altstack, rseq, clear_tid, robust list). */
void task_fill_thread(const ThreadCoreEntry *th, struct rst_thread *r);
/* Fill the restorer's argument block from the core image. */
void task_fill_restore_args(const CoreEntry *core, struct restore_args *ra);
/* Registers, xstate, mask, scheduling and name back into a stopped thread. */
int task_restore_thread(pid_t pid, pid_t tid, const ThreadCoreEntry *tc);

#endif
