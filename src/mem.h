#ifndef CREST_MEM_H
#define CREST_MEM_H

#include <stdbool.h>
#include <stddef.h>
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
	/*
	 * A dump of a chain (--prev-images-dir): crest's write tracking is on
	 * in the process (a pre-dump started it and its keeper handed it
	 * over), and the previous dump holds the pages of prev[] ([start,
	 * end), sorted): a page not written since is saved as in_parent.
	 */
	bool tracked;
	uint64_t (*prev)[2];
	size_t nr_prev;
};

/* The parent of a process being dumped, for copy-on-write sharing. */
struct mem_parent {
	pid_t pid;			/* a live thread of it */
	const struct mem_layout *ml;
};

/*
 * Read /proc/PID/maps; a mapping of a kind crest can't restore is
 * refused (refuse.h). -1 (reported): /proc failed us.
 */
int mem_collect(pid_t pid, struct mem_layout *ml, struct dump_files *df);
/* Stream every page worth saving through the parasite into the images. */
int mem_dump_pages(struct parasite_ctl *ctl, const struct mem_layout *ml,
		   const struct mem_parent *par,
		   struct image *pagemap, struct image *pages);
/* A VMA whose pages a child can share with its parent (anonymous private). */
int mem_cow_candidate(const VmaEntry *v);
/* Index of the parent VMA (sorted pvmas) that holds all of v and can share; -1. */
int mem_cow_parent_vma(VmaEntry *const *pvmas, size_t n, const VmaEntry *v);
/*
 * Refuse every mapping of ml whose VmFlags (smaps) crest would not
 * restore; note in ml those it restores through mmap flags.
 */
int mem_check_flags(pid_t pid, const struct mem_layout *ml);
/* The flags of vmflags ("rd wr lo ...") crest can't restore for a mapping
 * of path, named with their meaning in out; their number. Pure. */
/*
 * mlockall(MCL_FUTURE) of pid: does the mapping at addr that crest just
 * made in it (its parasite) come locked? Sets mm->mcl_future; -1 reported.
 */
int mem_future_lock(pid_t pid, uint64_t addr, MmEntry *mm);
/* prctl(PR_SET_MEMORY_MERGE) of pid, from /proc/PID/ksm_stat. */
int mem_ksm(pid_t pid, MmEntry *mm);
int mem_flags_unsupported(const char *path, const char *vmflags,
			  char *out, size_t len);
/* Classify one maps line: the pure part, unit-tested. */
int mem_vma_kind(const char *path, int shared, VmaKind *kind);

/* Linux AIO rings (src/mem-aio.c). */
struct rst_aio;
/* Its bytes and the io_setup() size into v; refuses one it can't save. */
int aio_dump_ring(pid_t pid, VmaEntry *v);
int aio_reread(pid_t pid, const struct mem_layout *ml);
int aio_nr_rings(const MmEntry *mm);
/* Room the restorer's arguments need for mm's rings. */
size_t aio_args_size(const MmEntry *mm);
struct parasite_ctl;
/* Each ring is a context of the process, not its parent's (refused). */
int aio_check_owned(struct parasite_ctl *ctl, pid_t pid, const struct mem_layout *ml);
/* The restorer's view of ring v, its saved bytes copied to ring. */
int aio_fill_arg(pid_t pid, const VmaEntry *v, struct rst_aio *a, void *ring);

#endif
