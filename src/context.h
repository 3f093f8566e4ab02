/*
 * Context files: a whole image set as one stream (BLCR's single file,
 * crest --file), written and read without seeking so it can go through a
 * pipe or a socket:
 *
 *   "CRESTCTX" u32 version
 *   { u16 name_len, name, u64 size, size bytes }*     one per image file
 *   u16 0, u64 total bytes of the entries before      the end: not truncated
 *
 * Version 2 (dump --compress) puts a u8 encoding after each size: 0, the
 * size bytes follow as in version 1; 1, a zstd frame of them (with its
 * content size and XXH64 checksum) follows, in chunks
 * { u32 len, len bytes }* u32 0, so a reader never reads past it.  The
 * total counts the bytes of the entries as they are in the stream.
 * Pages images are compressed as they are dumped (mem-zpages.h, a frame
 * per run) and go with encoding 0.
 *
 * A dump is written to a staging directory first and packed into the
 * destination with its replacement policy; a restore unpacks into a
 * staging directory and restores from there.
 */
#ifndef CREST_CONTEXT_H
#define CREST_CONTEXT_H

struct options;

/* A directory for a dump to write to before it is packed; NULL: error. */
char *context_staging_dir(const struct options *o);
/* Pack dir into the destination (opts->file or opts->fd); 0 or -1 (reported). */
int context_pack(const struct options *o, const char *dir);
/* Unpack the source (opts->file or opts->fd) into a new staging dir. */
char *context_unpack(const struct options *o);
/* Remove a staging directory and what is in it. */
void context_remove_dir(const char *dir);
/* Does PATH start like a context file? */
int context_is_file(const char *path);

#endif
