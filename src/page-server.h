/*
 * The page server (CRIU's): `crest page-server -D DIR --port P` takes
 * the pages images of a dump over TCP (`crest dump --page-server
 * --address A --port P`) and writes them into DIR; every other image
 * stays in the dump's own -D, as CRIU does.
 *
 * One connection, one image set. Every message is a header
 *
 *   u32 cmd, u32 handle, u64 len            (little-endian) + len bytes
 *
 *   HELLO  -> OK|ERR   magic, version, the set's id, flags (a lazy
 *                      restore or a dump: the server serves one of them)
 *   OPEN   -> OK|ERR   handle: a new number; bytes: "pages-PID.img"
 *   DATA               bytes: raw pages, appended (spliced both ways)
 *   SYNC   -> OK|ERR   every byte sent so far is in its file: spliced to
 *                      a socket, pages are the target's own till then
 *   CLOSE  -> SUM|ERR  synced; SUM: u64 size, SHA-256 (for the inventory)
 *   COMMIT -> OK|ERR   every file renamed into place, the directory synced
 *   ABORT              or the connection closed before COMMIT: every
 *                      file of the set is removed, nothing is left
 *
 * page-server --lazy-pages serves a restore --lazy-pages instead:
 *
 *   HELLO  -> OK|ERR   as above (the set's id: every file must carry it)
 *   GET    -> OK|ERR   handle: a new number; bytes: size, SHA-256, name
 *   READ   -> DATA|ERR len: bytes wanted, a u64 offset follows; DATA's
 *                      bytes sent from the file (sendfile)
 *   DONE   -> OK|ERR   every page is in: ERR if a file's SHA-256 (hashed
 *                      by the server beside the reads) is not the one GET
 *                      gave
 *
 * ERR carries the server's message. The server writes the header of each
 * file itself (the set's id from HELLO), so a file is a pages image as a
 * local dump would write it.
 */
#ifndef CREST_PAGE_SERVER_H
#define CREST_PAGE_SERVER_H

#include <stdint.h>

#include "image.h"
#include "opts.h"

struct ps_conn;

/* crest page-server: serve one dump, exit 0 once it committed. */
int cr_page_server(const struct options *opts);

/*
 * Dump side. ps_connect() before anything is seized: an unreachable or
 * foreign server, or one serving a lazy restore, stops the dump there
 * (lazy: the restore's side, for a page-server --lazy-pages). -1 reported.
 */
struct ps_conn *ps_connect(const char *address, int port, const uint8_t id[IMG_ID_SIZE],
			   bool nosync, bool lazy);
const char *ps_where(const struct ps_conn *c);
int ps_sock(const struct ps_conn *c);
/*
 * How long a client waits for an answer, or for room to send in (the
 * socket's SO_RCVTIMEO and SO_SNDTIMEO), in ms: 120 s, or
 * CREST_PS_TIMEOUT_MS.
 */
int ps_reply_ms(void);
/* A splice into ps_sock() failed: send nothing more (not even an ABORT). */
void ps_set_broken(struct ps_conn *c);
/* Move the socket to an fd at or above base (a restore's service fds). */
int ps_move_sock(struct ps_conn *c, int base);
int ps_open(struct ps_conn *c, const char *name, uint32_t *handle);
/* len raw bytes follow on ps_sock() (the caller splices or writes them). */
int ps_data(struct ps_conn *c, uint32_t handle, uint64_t len);
/* Every byte sent so far is written by the server. */
int ps_sync(struct ps_conn *c);
int ps_close(struct ps_conn *c, uint32_t handle, uint64_t *size,
	     uint8_t sha256[IMG_HASH_SIZE]);
int ps_commit(struct ps_conn *c);
/*
 * restore --lazy-pages --page-server (the server started with
 * --lazy-pages): name a file to read, with the inventory's size and
 * SHA-256 (the server checks the size now, the hash beside the reads),
 * read len bytes of it at off, and say every page is in: ps_done() fails
 * if a file's SHA-256 was not the inventory's.
 */
int ps_get(struct ps_conn *c, const char *name, uint64_t size,
	   const uint8_t sha256[IMG_HASH_SIZE], uint32_t *handle);
int ps_read(struct ps_conn *c, uint32_t handle, uint64_t off, void *buf, size_t len);
int ps_done(struct ps_conn *c);
/* The server removes what it holds of the set (best effort). */
void ps_abort(struct ps_conn *c);
void ps_disconnect(struct ps_conn *c);

#endif
