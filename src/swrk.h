#ifndef CREST_SWRK_H
#define CREST_SWRK_H

#include "opts.h"

/* crest swrk FD: serve CRIU's RPC on the socket FD until it closes. */
int cr_swrk(const struct options *opts);

#endif
