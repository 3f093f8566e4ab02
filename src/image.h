/*
 * Image files: one framing and one API for every kind.
 *
 *   file   := header record*            (raw kinds: header, padding to 4096, bytes)
 *   header := "CRST" u32 kind-magic u32 version u8 id[16] u32 crc32c(first 28 bytes)
 *
 * id: random, one per dump; every file of a set carries its set's id, and the
 * inventory lists every other file with its size and SHA-256.
 *   record := u32 length u32 crc32c(payload) payload(protobuf)
 *
 * All integers little-endian. A new image set is written under temporary
 * names and put in place by img_set_commit(), inventory.img last: an image
 * set without an inventory is incomplete and never restored.
 */
#ifndef CREST_IMAGE_H
#define CREST_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <protobuf-c/protobuf-c.h>

#include "inventory.pb-c.h"

struct stat;

struct ps_conn;

#define IMG_COMMON_MAGIC	0x54535243u	/* "CRST" */
#define IMG_VERSION		3	/* 3: set id in headers, files hashed in the inventory */
#define IMG_HDR_SIZE		32
#define IMG_ID_SIZE		16
#define IMG_HASH_SIZE		32		/* SHA-256 */
#define IMG_PAGES_OFF		4096		/* first byte of data in a raw image */
#define IMG_MAX_RECORD		(64u << 20)

enum img_kind {
	IMG_INVENTORY,
	IMG_PSTREE,
	IMG_CORE,
	IMG_MM,
	IMG_PAGEMAP,
	IMG_PAGES,
	IMG_FDINFO,
	IMG_FILES,
	IMG_PIPES,
	IMG_PIPES_DATA,
	IMG_MEMFDS,
	IMG_SHMEM,
	IMG_SHMEM_PAGEMAP,
	IMG_SHMEM_PAGES,
	IMG_ANONFILES,
	IMG_GHOST,
	IMG_FILE_LOCKS,
	IMG_UNIXSK,
	IMG_INOTIFY,
	IMG_PIDFDS,
	IMG_FANOTIFY,
	IMG_SIGN,	/* --sign-key: not in the inventory, it is over it */
	IMG_INETSK,
	IMG_TTYS,
	IMG_NETLINKSK,
	IMG_NAMESPACES,
	IMG_UTSNS,
	IMG_IPCNS,
	IMG_IPCOBJS,
	IMG_MNTNS,
	IMG_TMPFS,
	IMG_PACKETSK,
	IMG_NETNS,
	IMG_TIMENS,
	IMG_USERNS,
	IMG_CGROUPS,
	IMG_MQUEUES,
	IMG_NR_KINDS,
};

struct img_desc {
	const char *name;	/* file name; %d is the pid */
	uint32_t magic;
	const ProtobufCMessageDescriptor *msg;	/* NULL: raw pages */
};

extern const struct img_desc img_descs[IMG_NR_KINDS];
const struct img_desc *img_desc_by_magic(uint32_t magic);

/* An image open for writing (under a temporary name) or for reading. */
struct image {
	enum img_kind kind;
	int fd;
	char *path;		/* what messages name */
	char *tmp_name;		/* writing: name inside the directory */
	char *name;
	/* reading: the whole file (metadata images are small) */
	unsigned char *buf;
	size_t size;
	size_t off;
	uint8_t id[IMG_ID_SIZE];	/* from the header */
	struct ps_conn *ps;	/* written by this page server (fd: its socket) */
	uint32_t ps_handle;	/* its handle there; 0: a local file */
	bool zpages;		/* a pages image of zstd frames (mem-zpages.h) */
};

/* The directory an image set is written to or read from. */
struct img_dir {
	int dirfd;
	char *path;		/* what messages name (a context file: its name) */
	char *fs_path;		/* the directory as opened */
	struct image **written;
	int nr_written;
	bool nosync;		/* --nosync: no fsync on commit */
	uint8_t id[IMG_ID_SIZE];	/* the set's: new when writing, the inventory's when reading */
	bool have_id;
	bool check_owner;	/* as root: only root's, only root-writable */
	bool owner_writes;	/* check_owner for crest dedup, which writes into them */
	/*
	 * restore --lazy-pages: the SHA-256 of pages-*.img is the lazy-pages
	 * server's to check, in the background (its size, header and id are
	 * checked here as for any image).
	 */
	bool defer_pages_hash;
	/*
	 * crest verify: img_verify_set() goes on after a bad file, marking
	 * bad_files[i] for the inventory's files[i]; NULL: stop at the first.
	 */
	bool *bad_files;
	/*
	 * dump --page-server: pages images go to this server, the rest
	 * here (page-server.h).
	 */
	struct ps_conn *ps;
	/*
	 * The previous dump of a chain, read by a dump: its pages images
	 * may be on the page server it wrote them to, not here.
	 */
	bool pages_elsewhere_ok;
};

int img_dir_open(struct img_dir *d, const char *path, bool create);
/*
 * With d->check_owner: st (of d itself, name NULL, or of its file name)
 * another uid owns or its group or others can write is refused, naming
 * the owner and --trust-images. -1 reported.
 */
int img_check_owner(const struct img_dir *d, const char *what, const char *name,
		    const struct stat *st);
void img_dir_close(struct img_dir *d);

struct image *img_create(struct img_dir *d, enum img_kind kind, pid_t pid);
int img_write_msg(struct image *img, const ProtobufCMessage *msg);
/*
 * Raw images: bytes at the current end of img->fd. len bytes are about to
 * be written or spliced there: a page server's image announces them.
 */
int img_raw_begin(struct image *img, uint64_t len);
/*
 * Every byte spliced so far is in the file. Spliced to a socket, pages
 * stay the target's own until the page server has written them: the
 * target may not change them before this returns.
 */
int img_raw_sync(struct image *img);
int img_commit_set(struct img_dir *d);
/* Remove what a failed dump wrote; earlier images stay as they were. */
void img_abort_set(struct img_dir *d);

struct image *img_open(struct img_dir *d, enum img_kind kind, pid_t pid);
/* Checks the header; for a pages image also leaves fd open for reading. */
struct image *img_open_path(int dirfd, const char *dir, const char *name,
			    enum img_kind expect);
/* 1: *msg read, 0: end of image, -1: corrupt (reported with path+offset). */
int img_read_msg(struct image *img, void **msg);
/* Dump: list every written image but the inventory, with size and hash. */
int img_list_files(struct img_dir *d, InventoryEntry *inv);
void img_free_list(InventoryEntry *inv);
/*
 * Restore: take the set's id from the inventory and check every file
 * against it: id, size, hash, none missing, none extra. Refuses by name:
 * -1, or with d->bad_files (crest verify) the number of problems found.
 */
int img_verify_set(struct img_dir *d, struct image *inv_img,
		   const InventoryEntry *inv);
/* "core-%d.img", 42 -> "core-42.img" (malloc'ed). */
char *img_name(enum img_kind kind, pid_t pid);
/* Exactly one record expected. */
void *img_read_one(struct img_dir *d, enum img_kind kind, pid_t pid);
void img_close(struct image *img);

/* Pure helpers, unit-tested. */
void img_make_header(unsigned char hdr[IMG_HDR_SIZE], uint32_t magic,
		     const uint8_t id[IMG_ID_SIZE]);
/* id: NULL or where the header's id goes. */
int img_check_header(const unsigned char *buf, size_t len, uint32_t *magic,
		     uint8_t *id, char *why, size_t whylen);
void img_id_str(const uint8_t id[IMG_ID_SIZE], char buf[2 * IMG_ID_SIZE + 1]);
int img_sha256_fd(int fd, uint8_t out[IMG_HASH_SIZE]);

#endif
