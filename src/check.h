#ifndef CREST_CHECK_H
#define CREST_CHECK_H
struct options;
int cr_check(const struct options *opts);
/*
 * Can this crest checkpoint or restore at all (what: "checkpoint" or
 * "restore")? -1 (reported, with what to do) if it lacks the privileges.
 */
int check_privileges(const char *what);
#endif
