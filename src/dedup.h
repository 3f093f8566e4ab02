#ifndef CREST_DEDUP_H
#define CREST_DEDUP_H

#include "opts.h"

/*
 * crest dedup -D DIR (CRIU's): the earlier links of the chain ending in
 * DIR give back the room of every page a later link holds anew: holes are
 * punched there (FALLOC_FL_PUNCH_HOLE), their inventories rehashed and
 * marked deduplicated for DIR's dump, which alone restores them from then
 * on. dedup_dir() is the same for dump --auto-dedup. As root without
 * trust (--trust-images), every link and file it writes must be root's
 * and writable by root only. -1 reported.
 */
int cr_dedup(const struct options *opts);
int dedup_dir(const char *dir, bool trust);

#endif
