#ifndef CREST_SWRK_H
#define CREST_SWRK_H

#include "opts.h"

/* crest swrk FD: serve CRIU's RPC on the socket FD until it closes. */
int cr_swrk(const struct options *opts);
/*
 * A crest run by swrk for a request with notify_scripts: the caller's
 * hook name, called now through swrk (CREST_SWRK_HOOK_FD); 0 without
 * one, -1 (said) if the caller's hook failed.
 */
int swrk_hook(const char *name);
/* The same for a restore's hook that names the restored root (pid > 0). */
int swrk_hook_pid(const char *name, int pid);

#endif
