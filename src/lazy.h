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
struct ps_conn;
struct options;

/*
 * ps: restore --lazy-pages --page-server: the connection the lazy runs of
 * the tasks whose pages_remote is set are read through; NULL: none.
 */
int lazy_start(struct restore_task *tasks, int nr, const InventoryEntry *inv, int base,
	       struct ps_conn *ps, int *tree_fd, pid_t *server);

/*
 * restore --lazy-pages --page-server (lazy-remote.c): connect to the page
 * server, fill a memfd per task whose pages are there with what the
 * restorer reads itself and make it the task's pages_path. *ps: the
 * connection (a service fd at or above base), NULL if no task needs it.
 */
/*
 * restore --lazy-pages of t's compressed pages image at fd (lazy-remote.c):
 * a memfd (a service fd at or above base) of what the restorer reads,
 * decompressed; the lazy runs stay for crest-lazy to decompress. -1.
 */
int lazy_zpages_fill(struct restore_task *t, int fd, const char *path, int base);

int lazy_remote_fetch(struct restore_task *tasks, int nr, const struct options *o,
		      const uint8_t id[IMG_ID_SIZE], int base, struct ps_conn **ps);

#endif
