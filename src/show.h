#ifndef CREST_SHOW_H
#define CREST_SHOW_H
struct options;
int cr_show(const struct options *opts);
#endif
