/*
 * Authenticated images (--sign-key, --verify-key). The inventory already
 * names every other file of the set with its size and SHA-256, so one MAC
 * over the inventory's bytes (header, id and all) covers the whole set:
 * a changed, swapped, added or missing file is refused by the inventory's
 * checks once the inventory itself is known to be the key holder's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "image.h"
#include "log.h"
#include "sign.h"
#include "util.h"

#include "sign.pb-c.h"

static const char sign_domain[] = "crest-sign-1";	/* and its NUL */

int sign_key_load(const char *path, struct sign_key *k)
{
	struct stat st;
	ssize_t n;
	int fd;

	k->len = 0;
	fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("can't open key file '%s'", path);
		return -1;
	}
	if (fstat(fd, &st)) {
		pr_perror("can't stat key file '%s'", path);
		goto err;
	}
	if (!S_ISREG(st.st_mode)) {
		pr_err("key file '%s' is not a regular file", path);
		goto err;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		pr_err("key file '%s' is accessible by %s (mode %04o): a key others can read signs for them too; chmod 600 it",
		       path, st.st_mode & S_IRWXO ? "others" : "its group",
		       (unsigned)(st.st_mode & 07777));
		goto err;
	}
	if (st.st_size == 0) {
		pr_err("key file '%s' is empty", path);
		goto err;
	}
	if (st.st_size > SIGN_KEY_MAX) {
		pr_err("key file '%s' is %lld bytes: a key is at most %d",
		       path, (long long)st.st_size, SIGN_KEY_MAX);
		goto err;
	}
	n = pread(fd, k->bytes, st.st_size, 0);
	if (n != st.st_size) {
		if (n < 0)
			pr_perror("can't read key file '%s'", path);
		else
			pr_err("key file '%s' changed while crest read it", path);
		goto err;
	}
	k->len = n;
	close(fd);
	if (k->len < SIGN_KEY_MIN_ADVISED)
		pr_warn("key file '%s' holds %zu bytes: %d random bytes or more are advised",
			path, k->len, SIGN_KEY_MIN_ADVISED);
	return 0;
err:
	close(fd);
	sign_key_wipe(k);
	return -1;
}

void sign_key_wipe(struct sign_key *k)
{
	OPENSSL_cleanse(k->bytes, sizeof(k->bytes));
	k->len = 0;
}

int sign_hmac(const unsigned char *key, size_t klen, const void *data,
	      size_t len, unsigned char out[SIGN_MAC_SIZE])
{
	unsigned int olen = 0;

	if (!HMAC(EVP_sha256(), key, klen, data, len, out, &olen) ||
	    olen != SIGN_MAC_SIZE) {
		pr_err("can't compute an HMAC-SHA256");
		return -1;
	}
	return 0;
}

int sign_mac(const struct sign_key *k, const void *inv, size_t len,
	     unsigned char out[SIGN_MAC_SIZE])
{
	unsigned char *buf = xzalloc(sizeof(sign_domain) + len);
	int ret;

	memcpy(buf, sign_domain, sizeof(sign_domain));
	memcpy(buf + sizeof(sign_domain), inv, len);
	ret = sign_hmac(k->bytes, k->len, buf, sizeof(sign_domain) + len, out);
	free(buf);
	return ret;
}

int sign_write(struct img_dir *d, struct image *inv, const struct sign_key *k)
{
	unsigned char mac[SIGN_MAC_SIZE], *buf;
	SignEntry se = SIGN_ENTRY__INIT;
	struct image *img;
	struct stat st;
	int ret = -1;

	if (fstat(inv->fd, &st)) {
		pr_perror("can't stat '%s'", inv->path);
		return -1;
	}
	buf = xzalloc(st.st_size + 1);
	if (pread(inv->fd, buf, st.st_size, 0) != st.st_size) {
		pr_perror("can't read back '%s'", inv->path);
		goto out;
	}
	if (sign_mac(k, buf, st.st_size, mac))
		goto out;
	img = img_create(d, IMG_SIGN, 0);
	if (!img)
		goto out;
	se.alg = SIGN_ALG_HMAC_SHA256;
	se.mac.data = mac;
	se.mac.len = sizeof(mac);
	ret = img_write_msg(img, &se.base);
out:
	free(buf);
	return ret;
}

int sign_verify(struct img_dir *d, const void *inv_buf, size_t len,
		const struct sign_key *k)
{
	unsigned char mac[SIGN_MAC_SIZE];
	SignEntry *se;
	struct stat st;
	int ret = -1;

	if (fstatat(d->dirfd, "sign.img", &st, AT_SYMLINK_NOFOLLOW) && errno == ENOENT) {
		pr_err("'%s' is not signed (no sign.img): --verify-key restores only images dumped with --sign-key",
		       d->path);
		return -1;
	}
	se = img_read_one(d, IMG_SIGN, 0);
	if (!se)
		return -1;
	if (se->alg != SIGN_ALG_HMAC_SHA256 || se->mac.len != SIGN_MAC_SIZE) {
		pr_err("'%s/sign.img' holds a signature of an unknown kind (%u, %zu bytes)",
		       d->path, se->alg, se->mac.len);
		goto out;
	}
	if (sign_mac(k, inv_buf, len, mac))
		goto out;
	if (CRYPTO_memcmp(mac, se->mac.data, SIGN_MAC_SIZE)) {
		pr_err("the signature of '%s' does not match the key: '%s/inventory.img' or '%s/sign.img' was changed after the dump, or it was signed with another key",
		       d->path, d->path, d->path);
		goto out;
	}
	pr_info("'%s' is signed with the key given", d->path);
	ret = 0;
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	sign_entry__free_unpacked(se, NULL);
	return ret;
}
