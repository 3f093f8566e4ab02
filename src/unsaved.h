#ifndef CREST_UNSAVED_H
#define CREST_UNSAVED_H

#include <stddef.h>

struct pstree_item;

/*
 * Refuse (refuse.h) every /proc field of the process and its threads
 * that crest does not save yet and that differs from what a restored
 * task would get anyway. -1 (reported) only if /proc failed us.
 */
int unsaved_check(const struct pstree_item *it);
/* The value of "Key:" in a status-like text, trimmed, in out; -1 if none. Pure. */
int unsaved_field(const char *text, const char *key, char *out, size_t len);

#endif
