#ifndef CREST_CHECK_H
#define CREST_CHECK_H
struct options;
int cr_check(const struct options *opts);
#endif
