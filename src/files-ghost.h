#ifndef CREST_FILES_GHOST_H
#define CREST_FILES_GHOST_H

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

#endif
