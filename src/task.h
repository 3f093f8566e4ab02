#ifndef CREST_TASK_H
#define CREST_TASK_H

#include <sys/types.h>

#include "core.pb-c.h"
#include "mm.pb-c.h"
#include "pie-abi.h"

struct proc_stat;
struct parasite_info;

/* core-PID.img from /proc, ptrace and the parasite's answers. */
CoreEntry *task_dump_core(pid_t pid, const struct proc_stat *st,
			  const struct parasite_info *pi);
/* The mm fields of mm-PID.img (VMAs are added by mem.c). */
int task_dump_mm(pid_t pid, const struct proc_stat *st,
		 const struct parasite_info *pi, MmEntry *mm);

/* Fill the restorer's argument block from the core image. */
void task_fill_restore_args(const CoreEntry *core, struct restore_args *ra);
/* Registers and xstate back into the stopped task, then let it run. */
int task_restore_regs(pid_t pid, const CoreEntry *core);

#endif
