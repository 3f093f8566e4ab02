#ifndef CREST_BLCR_H
#define CREST_BLCR_H

#include <stdbool.h>

/*
 * BLCR's command line on top of crest: cr_checkpoint, cr_restart and
 * cr_run (crest is installed under those names, or symlinked to them).
 * The spelling and meaning of every option is BLCR 0.8's.
 */

/* Is NAME (a basename) one of the BLCR tools? */
bool blcr_is_tool(const char *name);
/* Run the tool argv[0] names; returns the exit status. */
int blcr_main(int argc, char **argv, const char *version);

/* cr_restart --relocate OLD=NEW: parse into *from, *to (malloc'ed).
 * 1: added, 0: identity map dropped, -1: error (message in err). */
int blcr_parse_reloc(const char *arg, char **from, char **to,
		     char *err, unsigned long errlen);
/* crest exit class (enum crest_exit) -> errno, as BLCR exits with it. */
int blcr_exit_errno(int crest_exit);

#endif
