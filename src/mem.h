#ifndef CREST_MEM_H
#define CREST_MEM_H

#include <stdint.h>
#include <sys/types.h>

#include "mm.pb-c.h"

struct dump_files;
struct image;
struct parasite_ctl;
struct proc_stat;

/* The layout of a process: its VMAs as mm_entry. */
struct mem_layout {
	VmaEntry **vmas;
	int nr_vmas;
	uint64_t vdso_start, vdso_end;
};

/* Read /proc/PID/maps; -1 (reported) on anything not supported. */
int mem_collect(pid_t pid, struct mem_layout *ml, struct dump_files *df);
/* Stream every page worth saving through the parasite into the images. */
int mem_dump_pages(struct parasite_ctl *ctl, const struct mem_layout *ml,
		   struct image *pagemap, struct image *pages);
/* Classify one maps line: the pure part, unit-tested. */
int mem_vma_kind(const char *path, int shared, VmaKind *kind);

#endif
