/*
 * One updating line on stderr while a long dump or restore runs:
 * processes done, MiB done of the total, rate, time left.
 */
#ifndef CREST_PROGRESS_H
#define CREST_PROGRESS_H

#include <stdint.h>

struct options;

/*
 * Start counting. The line shows only if opts asks for it (--progress),
 * or stderr is a terminal, -q and --no-progress were not given and the
 * operation has run for about a second; what: "dump", "restore"...
 */
void progress_start(const struct options *opts, const char *what,
		    uint64_t total_bytes, int nr_procs);
void progress_add(uint64_t bytes);
void progress_proc_done(void);
/* Draw the line if it is due, nothing counted: time goes on. */
void progress_tick(void);
/* Take the line away (before a message goes to stderr, say). */
void progress_clear(void);
/* Take the line away and stop counting. */
void progress_end(void);

#endif
