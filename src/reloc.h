#ifndef CREST_RELOC_H
#define CREST_RELOC_H

#include "opts.h"

/*
 * --relocate OLD=NEW: a new path for path, or NULL if no rule matches.
 * OLD matches whole leading components (/tmp/foo matches /tmp/foo and
 * /tmp/foo/1, not /tmp/fooz); the first matching rule wins.
 */
char *reloc_path(const struct reloc *rules, int nr, const char *path);

#endif
