/*
 * Tracking the pages a tree writes between a pre-dump and the dump that
 * follows it: userfaultfd write-protect in asynchronous mode (the kernel
 * only notes a write, the program never stops) read back with the
 * PAGEMAP_SCAN ioctl. The userfaultfd must stay open from one dump to the
 * next -- closing it marks every page written -- so a small keeper
 * process holds it, one per pre-dump, and hands it over to the next dump
 * of the chain.
 */
#ifndef CREST_TRACK_H
#define CREST_TRACK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct mem_layout;
struct parasite_ctl;

/* One tracked process: its userfaultfd and a pidfd naming it exactly. */
struct track {
	pid_t pid;
	int uffd;
	int pidfd;
};

/*
 * In the infected, stopped process: a userfaultfd registering every
 * mapping that holds data for asynchronous write-protect, all of it
 * protected now; the fd is crest's (*uffd), the process keeps none. A
 * mapping that can't be registered stays untracked (saved in full next
 * time). -1 reported: no tracking for this process.
 */
int track_start(struct parasite_ctl *ctl, const struct mem_layout *ml, int *uffd);

/*
 * The pre-dump is committed: a keeper process takes the fds of t[] and
 * waits for the next dump of the chain (or for the processes to exit).
 * *name: its socket's abstract name, for the inventory. -1 reported.
 */
int track_keep(const uint8_t id[16], struct track *t, int nr, char **name);

/*
 * A dump with --prev-images-dir: take the tracked processes from the
 * keeper named name (the previous inventory's). Only those that are the
 * very processes the keeper tracked, alive, are returned. 0 and *nr 0 if
 * there is no keeper any more (every page is saved then).
 */
int track_take(const char *name, struct track **t, int *nr);

void track_free(struct track *t, int nr);

/* Page categories of PAGEMAP_SCAN (linux/fs.h, absent from older headers). */
#define PAGE_IS_WPALLOWED	(1ULL << 0)
#define PAGE_IS_WRITTEN		(1ULL << 1)
#define PAGE_IS_PRESENT		(1ULL << 3)
#define PAGE_IS_SWAPPED		(1ULL << 4)

/*
 * For each page of [start, end) of the process whose pagemap is pm_fd,
 * written[i] = 1 unless it is write-protected by crest's tracking and not
 * written since (untracked pages count as written). -1 reported.
 */
int track_written(int pm_fd, uint64_t start, uint64_t end, uint8_t *written);

#endif
