/*
 * Chains of dumps: a pre-dump, maybe more, then a dump, each naming the one
 * before it (--prev-images-dir, CRIU's meaning: relative to the images
 * directory, or absolute). Pages not written since the previous dump are
 * left in it (pagemap in_parent); a restore reads them there.
 */
#ifndef CREST_CHAIN_H
#define CREST_CHAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "image.h"
#include "inventory.pb-c.h"
#include "mm.pb-c.h"

struct mem_layout;
struct pstree_item;
struct sign_key;
struct track;

/* The previous dump, as a dump of the chain sees it. */
struct chain_prev {
	const char *arg;		/* --prev-images-dir, as given */
	char *path;			/* as opened */
	struct img_dir dir;
	InventoryEntry *inv;
	struct chain_pid {
		pid_t pid;
		uint64_t (*ranges)[2];	/* the pages it holds, [start, end), sorted */
		size_t nr;
	} *pids;
	size_t nr_pids;
	struct track *trk;		/* handed over by its keeper */
	int nr_trk;
};

/* The directory of a chain link: arg as given, relative to dir. malloc'ed. */
char *chain_path(const char *dir, const char *arg);

/*
 * Open and check the previous dump of a dump into dir (before anything is
 * seized): its whole set, what pages it holds of each process, and the
 * tracking its keeper hands over. -1 reported.
 */
int chain_prev_open(struct chain_prev *p, const char *dir, const char *arg);
void chain_prev_close(struct chain_prev *p);

/* Set ml->tracked / prev for process pid from what p holds of it. */
void chain_attach(struct chain_prev *p, pid_t pid, struct mem_layout *ml);

/* The tracking of pid handed over by the keeper (closed by the caller), or -1. */
int chain_take_uffd(struct chain_prev *p, pid_t pid);

#endif

/* ---- restore: the links of a chain, and where each in_parent page lies ---- */

#define CHAIN_MAX	16	/* links a restore follows, the set itself included */

struct chain_link {
	char *path;
	struct img_dir dir;
	InventoryEntry *inv;
	struct chain_runs {
		pid_t pid;
		bool loaded;
		PagemapEntry **runs;
		uint64_t *off;		/* of each run's bytes in pages-PID.img */
		size_t nr;
	} *pids;
	size_t nr_pids;
};

struct chain {
	struct chain_link link[CHAIN_MAX];	/* [0] unused: the set restored */
	int nr;					/* links: 1 + parents */
};

/* A piece of an in_parent run: its bytes in link's pages-PID.img at off. */
struct chain_piece {
	int link;
	uint64_t vaddr, off;
	uint32_t nr_pages, crc;
	bool has_crc;			/* crc covers exactly this piece */
};

/*
 * The previous dumps of the set in dir whose inventory is inv: each opened
 * and checked whole (id, hashes, ownership if check_owner, key's signature
 * if key->len) before anything is made. The first link's prev_dir is
 * relative to base (NULL: d's directory; a stream's set: the restore's -D).
 */
int chain_open(struct chain *c, const struct img_dir *d, const InventoryEntry *inv,
	       const struct sign_key *key, const char *base, bool check_owner);
/* Where the pages [start, end) of pid, in_parent in link-1, lie. -1 reported. */
int chain_resolve(struct chain *c, int link, pid_t pid, uint64_t start, uint64_t end,
		  struct chain_piece **out, size_t *nr);
/* The pages image of pid in a link (absolute, malloc'ed). */
char *chain_pages_path(struct chain *c, int link, pid_t pid);
void chain_close(struct chain *c);
