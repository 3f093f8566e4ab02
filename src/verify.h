#ifndef CREST_VERIFY_H
#define CREST_VERIFY_H

#include "opts.h"

/* crest verify: check a checkpoint without restoring it; EXIT_* */
int cr_verify(const struct options *opts);

#endif
