/*
 * dump --compress into a directory: pages-PID.img holds one zstd frame
 * per run (pagemap_entry.zlen its length), back to back from
 * IMG_PAGES_OFF, and says so in its header's padding:
 *
 *   0      32              40                 4096
 *   header | "ZPG1" u32 1  | zeros ...        | frame | frame | ...
 *
 * A run that does not shrink is stored as it is (zlen == its length).
 * (the header's crc covers its first 28 bytes; the inventory's SHA-256
 * covers the whole file). A restore makes a memfd of the image as an
 * uncompressed dump would have written it and reads that.
 */
#ifndef CREST_MEM_ZPAGES_H
#define CREST_MEM_ZPAGES_H

#include <stdint.h>

#include "image.h"
#include "mm.pb-c.h"

/* Mark a new pages image compressed (its header is written). */
int zpages_mark(struct image *pages);
/* The compressor of one pages image: zstd contexts and buffers it keeps. */
struct zpages;
struct zpages *zpages_new(void);
void zpages_free(struct zpages *z);
/*
 * Compress nr runs of lens[i] bytes, back to back at src, into one frame
 * each at the end of fd, on two threads; zlens[i]: each frame's length.
 */
int zpages_write(struct zpages *z, int fd, const char *path, const unsigned char *src,
		 const uint32_t *lens, uint32_t nr, uint32_t *zlens);
/* 1: the pages image at fd is compressed, 0: it is not, -1: can't read it. */
int zpages_is(int fd);
/*
 * A run's frame z of zlen bytes into its len bytes at out; zlen == len:
 * the run was stored as it is (it did not shrink). -1: corrupt.
 */
int zpages_frame(const void *z, uint32_t zlen, void *out, size_t len);
/*
 * A memfd holding the image at fd uncompressed (offset 0), its frames
 * found by the runs of its pagemap (nr of them); -1 reported.
 */
int zpages_plain(int fd, const char *path, PagemapEntry **runs, size_t nr);

#endif
