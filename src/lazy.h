#ifndef CREST_LAZY_H
#define CREST_LAZY_H

#include <sys/types.h>

#include "inventory.pb-c.h"
#include "restore-task.h"

/*
 * restore --lazy-pages: fork the lazy-pages server (src/lazy.c) for the
 * tasks; once it has opened every pages image it needs and is ready,
 * *tree_fd is the tasks' end of its socket (a service fd at or above
 * base) and *server its pid. With inv, the server checks each pages
 * image against the inventory's SHA-256 too, as the tree runs.
 */
int lazy_start(struct restore_task *tasks, int nr, const InventoryEntry *inv, int base,
	       int *tree_fd, pid_t *server);

#endif
