/*
 * Authenticated images: --sign-key at dump writes sign.img, an
 * HMAC-SHA256 keyed with the key file's bytes over inventory.img (which
 * holds the size and SHA-256 of every other file); --verify-key at
 * restore refuses a set without it, or whose MAC is not the key's.
 */
#ifndef CREST_SIGN_H
#define CREST_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define SIGN_MAC_SIZE		32
#define SIGN_KEY_MAX		4096
#define SIGN_KEY_MIN_ADVISED	32
#define SIGN_ALG_HMAC_SHA256	1

struct img_dir;
struct image;

struct sign_key {
	unsigned char bytes[SIGN_KEY_MAX];
	size_t len;
};

/*
 * Read a key file: raw bytes, 1 to SIGN_KEY_MAX of them, a regular file
 * its owner alone may read (a key others can read signs for them too).
 * -1: refused, said why.
 */
int sign_key_load(const char *path, struct sign_key *k);
void sign_key_wipe(struct sign_key *k);

/* Pure: HMAC-SHA256 of data with key. 0 or -1. */
int sign_hmac(const unsigned char *key, size_t klen, const void *data,
	      size_t len, unsigned char out[SIGN_MAC_SIZE]);
/* The set's MAC: HMAC-SHA256(key, "crest-sign-1\0" || inventory bytes). */
int sign_mac(const struct sign_key *k, const void *inv, size_t len,
	     unsigned char out[SIGN_MAC_SIZE]);

/* Dump: sign.img over the written (not yet committed) inventory. */
int sign_write(struct img_dir *d, struct image *inv, const struct sign_key *k);
/* Restore: inv_buf/len are inventory.img as read. -1: refused, said why. */
int sign_verify(struct img_dir *d, const void *inv_buf, size_t len,
		const struct sign_key *k);

#endif
