#ifndef CREST_DUMP_H
#define CREST_DUMP_H

struct options;
/* Returns an exit code (enum crest_exit). */
int cr_dump(const struct options *opts);

#endif
