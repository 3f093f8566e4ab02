#ifndef CREST_FILES_GHOST_H
#define CREST_FILES_GHOST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "fdinfo.pb-c.h"

struct dump_files;
struct img_dir;

/* The contents of every saved file into ghost-ID.img. */
int ghost_dump(struct dump_files *df, struct img_dir *d);
/* A file made from ghost-ID.img, unlinked if it was; an fd or -1. rw: for
 * a shared writable mapping. */
int ghost_open(const RegFileEntry *f, struct img_dir *d, int rw);
/* Another description of the file ghost_open() made as fd (ghost_id). */
int ghost_reopen(const RegFileEntry *f, int fd, int rw);

/*
 * Blocks of the file at fd allocated (fallocate) but holding no data, as
 * offset, length pairs in *out (*n numbers): asked only where st_blocks
 * counts more than SEEK_DATA's data. -1 on a real failure.
 */
int ghost_alloc_ranges(int fd, const struct stat *st, const char *what,
		       uint64_t **out, size_t *n);
/* Those blocks allocated again in fd (FALLOC_FL_KEEP_SIZE). */
int ghost_alloc_again(int fd, const uint64_t *alloc, size_t n, const char *what);

/*
 * A deleted directory, FIFO or device node made again, with its owner,
 * mode and times: at its path if free (so /proc shows "PATH (deleted)"
 * once it is removed), else beside it or in /tmp. An O_PATH fd on it, the
 * name it has in *made, for ghost_node_remove() once it is opened.
 */
int ghost_node_make(const RegFileEntry *f, char **made);
void ghost_node_remove(int fd, char *made);
/* Made, opened as f says (ghost_reopen()) and removed again. */
int ghost_node_open(const RegFileEntry *f);

#endif
