#ifndef CREST_RESTORE_H
#define CREST_RESTORE_H

struct options;
/* Returns an exit code (enum crest_exit), or the restored root's status. */
int cr_restore(const struct options *opts);

#endif
