#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zstd.h>

#include "context.h"
#include "log.h"
#include "mem-zpages.h"
#include "opts.h"
#include "util.h"

#define CTX_MAGIC	"CRESTCTX"
#define CTX_VERSION	1	/* every image as it is */
#define CTX_VERSION_ENC	2	/* each image says how it is encoded */
#define CTX_MAX_NAME	255

/* A version 2 image's encoding byte. */
enum { CTX_ENC_RAW = 0, CTX_ENC_ZSTD = 1 };

/*
 * zstd's fast end and both cores of the machines crest runs on: a dump's
 * tree is frozen until its stream is out, so speed counts more than ratio.
 */
#define CTX_ZSTD_LEVEL	1
#define CTX_ZSTD_WORKERS 2
#define CTX_BUF		(1 << 20)
/* No chunk the packer writes is bigger than its output buffer. */
#define CTX_MAX_CHUNK	CTX_BUF

static const char *tmp_base(void)
{
	const char *t = getenv("TMPDIR");

	return t && *t ? t : "/var/tmp";
}

/* Next to the destination file (same filesystem), else TMPDIR. */
char *context_staging_dir(const struct options *o)
{
	char *copy = NULL, *dir, *path;
	const char *base = tmp_base();

	if (o->file && strcmp(o->file, "-")) {
		copy = xstrdup(o->file);
		base = dirname(copy);
	}
	path = xsprintf("%s/.crest-staging.%d.XXXXXX", base, getpid());
	dir = mkdtemp(path);
	if (!dir) {
		pr_perror("can't create a staging directory in '%s'", base);
		free(path);
	}
	free(copy);
	return dir;
}

void context_remove_dir(const char *dir)
{
	DIR *d;
	struct dirent *de;

	if (!dir)
		return;
	d = opendir(dir);
	if (d) {
		while ((de = readdir(d)))
			if (de->d_name[0] != '.' || (strcmp(de->d_name, ".") &&
						     strcmp(de->d_name, "..")))
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	rmdir(dir);
}

static int put(int fd, const void *buf, size_t len, uint64_t *total)
{
	if (write_all(fd, buf, len)) {
		pr_perror("can't write the context");
		return -1;
	}
	if (total)
		*total += len;
	return 0;
}

static int pack_raw(int fd, int in, uint64_t size, const char *name)
{
	off_t off = 0;

	while ((uint64_t)off < size) {
		ssize_t n = sendfile(fd, in, &off, size - off > (1 << 30) ? (1 << 30) : size - off);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			pr_perror("can't copy image '%s' into the context", name);
			return -1;
		}
	}
	return 0;
}

struct packer {
	ZSTD_CCtx *cc;		/* NULL: images go in as they are */
	char *in, *out;
};

static int packer_init(struct packer *pk, bool compress)
{
	size_t r;

	memset(pk, 0, sizeof(*pk));
	if (!compress)
		return 0;
	pk->cc = ZSTD_createCCtx();
	if (!pk->cc) {
		pr_err("can't set up zstd compression (out of memory)");
		return -1;
	}
	r = ZSTD_CCtx_setParameter(pk->cc, ZSTD_c_compressionLevel, CTX_ZSTD_LEVEL);
	if (!ZSTD_isError(r))
		/* zstd's XXH64 of the image, checked as it is decompressed */
		r = ZSTD_CCtx_setParameter(pk->cc, ZSTD_c_checksumFlag, 1);
	if (ZSTD_isError(r)) {
		pr_err("can't set up zstd compression: %s", ZSTD_getErrorName(r));
		ZSTD_freeCCtx(pk->cc);
		pk->cc = NULL;
		return -1;
	}
	/* A libzstd built without threads says so here: compress in one. */
	r = ZSTD_CCtx_setParameter(pk->cc, ZSTD_c_nbWorkers, CTX_ZSTD_WORKERS);
	if (ZSTD_isError(r))
		pr_debug("zstd compresses in one thread: %s", ZSTD_getErrorName(r));
	pk->in = xzalloc(CTX_BUF);
	pk->out = xzalloc(CTX_BUF);
	return 0;
}

static void packer_fini(struct packer *pk)
{
	ZSTD_freeCCtx(pk->cc);
	free(pk->in);
	free(pk->out);
}

/* One image as one zstd frame, cut into chunks: { u32 len, len bytes }*, u32 0. */
static int pack_zstd(int fd, int in, uint64_t size, const char *name,
		     struct packer *pk, uint64_t *total)
{
	uint64_t left = size;
	uint32_t end = 0;
	size_t r;

	ZSTD_CCtx_reset(pk->cc, ZSTD_reset_session_only);
	/* The frame records the size; the unpacker checks it. */
	r = ZSTD_CCtx_setPledgedSrcSize(pk->cc, size);
	if (ZSTD_isError(r)) {
		pr_err("can't compress image '%s': %s", name, ZSTD_getErrorName(r));
		return -1;
	}
	do {
		size_t n = left > CTX_BUF ? CTX_BUF : left;
		ZSTD_inBuffer ib = { pk->in, n, 0 };
		ZSTD_EndDirective mode;

		if (n && read_all(in, pk->in, n)) {
			pr_perror("can't read image '%s'", name);
			return -1;
		}
		left -= n;
		mode = left ? ZSTD_e_continue : ZSTD_e_end;
		for (;;) {
			ZSTD_outBuffer ob = { pk->out, CTX_BUF, 0 };
			uint32_t len;

			r = ZSTD_compressStream2(pk->cc, &ob, &ib, mode);
			if (ZSTD_isError(r)) {
				pr_err("can't compress image '%s': %s", name, ZSTD_getErrorName(r));
				return -1;
			}
			len = ob.pos;
			if (len && (put(fd, &len, 4, total) || put(fd, pk->out, len, total)))
				return -1;
			/* continue: until zstd took all input; end: until all is out */
			if (mode == ZSTD_e_end ? !r : ib.pos == ib.size)
				break;
		}
	} while (left);
	return put(fd, &end, 4, total);
}

/* Stream every image of dir into fd, inventory.img last. */
static int pack_into(int fd, const char *dir, bool compress)
{
	uint32_t version = compress ? CTX_VERSION_ENC : CTX_VERSION;
	uint64_t total = 0;
	struct dirent *de;
	struct packer pk;
	char **names = NULL;
	int nr = 0, ret = -1;
	DIR *d;

	if (packer_init(&pk, compress))
		return -1;
	d = opendir(dir);
	if (!d) {
		pr_perror("can't open '%s'", dir);
		packer_fini(&pk);
		return -1;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		names = xrealloc(names, (nr + 1) * sizeof(char *));
		names[nr++] = xstrdup(de->d_name);
	}
	/* The inventory last: a reader that sees it has seen everything. */
	for (int i = 0; i < nr; i++)
		if (!strcmp(names[i], "inventory.img") && i != nr - 1) {
			char *t = names[i];

			names[i] = names[nr - 1];
			names[nr - 1] = t;
		}
	if (put(fd, CTX_MAGIC, 8, NULL) || put(fd, &version, 4, NULL))
		goto out;
	for (int i = 0; i < nr; i++) {
		uint16_t len = strlen(names[i]);
		uint8_t enc;
		bool zpages;
		struct stat st;
		uint64_t size;
		int in = openat(dirfd(d), names[i], O_RDONLY | O_CLOEXEC), err;

		if (in < 0 || fstat(in, &st)) {
			pr_perror("can't read image '%s/%s'", dir, names[i]);
			if (in >= 0)
				close(in);
			goto out;
		}
		size = st.st_size;
		/* A pages image of zstd frames (mem-zpages.h) goes as it is. */
		zpages = compress && !strncmp(names[i], "pages-", 6) && zpages_is(in) == 1;
		enc = zpages ? CTX_ENC_RAW : CTX_ENC_ZSTD;
		if (put(fd, &len, 2, &total) || put(fd, names[i], len, &total) ||
		    put(fd, &size, 8, &total) ||
		    (compress && put(fd, &enc, 1, &total))) {
			close(in);
			goto out;
		}
		if (compress && !zpages) {
			err = pack_zstd(fd, in, size, names[i], &pk, &total);
		} else {
			err = pack_raw(fd, in, size, names[i]);
			total += size;
		}
		close(in);
		if (err)
			goto out;
	}
	{
		uint16_t end = 0;

		if (put(fd, &end, 2, NULL) || put(fd, &total, 8, NULL))
			goto out;
	}
	ret = 0;
out:
	for (int i = 0; i < nr; i++)
		free(names[i]);
	free(names);
	closedir(d);
	packer_fini(&pk);
	return ret;
}

static int sync_dir_of(const char *path)
{
	char *copy = xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	free(copy);
	if (fd < 0)
		return 0;
	if (fsync(fd) && errno != EROFS && errno != EINVAL) {
		pr_perror("can't sync the directory of '%s'", path);
		ret = -1;
	}
	close(fd);
	return ret;
}

/* BLCR's numbering: the first free NAME.~N~ above every one in use. */
static char *backup_path(const char *file)
{
	char *copy = xstrdup(file), *dir = xstrdup(file), *base;
	int max = 0;
	struct dirent *de;
	DIR *d;

	base = basename(copy);
	d = opendir(dirname(dir));
	while (d && (de = readdir(d))) {
		size_t bl = strlen(base);
		int n;

		if (!strncmp(de->d_name, base, bl) &&
		    sscanf(de->d_name + bl, ".~%d~", &n) == 1 && n > max)
			max = n;
	}
	if (d)
		closedir(d);
	free(dir);
	free(copy);
	return xsprintf("%s.~%d~", file, max + 1);
}

int context_pack(const struct options *o, const char *dir)
{
	const char *file = o->file;
	char *tmp = NULL, *tmp_name = NULL, *copy, *base;
	struct stat st;
	int fd, dfd = -1, ret = -1, direct;

	if (o->fd >= 0 || (file && !strcmp(file, "-"))) {
		/* An fd given: the policies don't apply (BLCR ignores them). */
		fd = o->fd >= 0 ? o->fd : 1;
		if (pack_into(fd, dir, o->compress))
			return -1;
		if (!o->nosync && fsync(fd) && errno != EINVAL && errno != EROFS) {
			pr_perror("can't sync the context");
			return -1;
		}
		return 0;
	}
	if (!stat(file, &st) && S_ISDIR(st.st_mode)) {
		pr_err("'%s' is a directory, not a context file", file);
		errno = EISDIR;
		return -1;
	}
	/* A FIFO or a socket is written as it is. */
	direct = !stat(file, &st) && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
	if (direct || o->replace == REPLACE_CLOBBER || o->replace == REPLACE_NOCLOBBER) {
		int flags = O_WRONLY | O_CLOEXEC;

		/* The file itself, never what a symlink in its place names. */
		if (!direct)
			flags |= O_CREAT | O_NOFOLLOW |
				 (o->replace == REPLACE_NOCLOBBER ? O_EXCL : O_TRUNC);
		fd = open(file, flags, 0400);
		if (fd < 0) {
			if (errno == EEXIST)
				pr_err("'%s' exists and --noclobber forbids replacing it", file);
			else if (errno == ELOOP)
				pr_err("'%s' is a symlink; crest writes a context only as a file of its own",
				       file);
			else
				pr_perror("can't create '%s'", file);
			return -1;
		}
		ret = pack_into(fd, dir, o->compress);
		if (!ret && !direct && !o->nosync && (fsync(fd) || sync_dir_of(file))) {
			pr_perror("can't sync '%s'", file);
			ret = -1;
		}
		close(fd);
		if (ret && !direct)
			unlink(file);	/* a partial context is no context */
		return ret;
	}

	/*
	 * Atomic (and backup): a temporary beside it, renamed on success,
	 * made through a directory fd with O_EXCL|O_NOFOLLOW: a symlink
	 * planted at the temporary's name is removed, never followed.
	 */
	copy = xstrdup(file);
	{
		char *d = xstrdup(file);

		dfd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			pr_perror("can't open the directory of '%s'", file);
		free(d);
	}
	if (dfd < 0)
		goto out;
	base = basename(copy);
	tmp_name = xsprintf(".%s.tmp", base);
	{
		char *d = xstrdup(file);

		tmp = xsprintf("%s/%s", dirname(d), tmp_name);
		free(d);
	}
	if (unlinkat(dfd, tmp_name, 0) && errno != ENOENT) {
		pr_perror("can't remove '%s'", tmp);
		goto out;
	}
	fd = openat(dfd, tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0400);
	if (fd < 0) {
		pr_perror("can't create '%s'", tmp);
		goto out;
	}
	if (fault("context-pack")) {
		errno = EIO;
		pr_perror("can't write '%s' (fault injected)", tmp);
		close(fd);
		goto err_unlink;
	}
	if (pack_into(fd, dir, o->compress) || (!o->nosync && fsync(fd))) {
		if (errno)
			pr_perror("can't write '%s'", tmp);
		close(fd);
		goto err_unlink;
	}
	close(fd);
	if (o->replace == REPLACE_BACKUP && !fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW)) {
		char *bak = o->backup_name ? xstrdup(o->backup_name) : backup_path(file);

		if (rename(file, bak)) {
			pr_perror("can't keep '%s' as '%s'", file, bak);
			free(bak);
			goto err_unlink;
		}
		pr_info("kept the previous checkpoint as '%s'", bak);
		free(bak);
	}
	if (renameat(dfd, tmp_name, dfd, base)) {
		pr_perror("can't put '%s' in place", file);
		goto err_unlink;
	}
	if (!o->nosync && fsync(dfd) && errno != EROFS && errno != EINVAL) {
		pr_perror("can't sync the directory of '%s'", file);
		goto out;
	}
	ret = 0;
	goto out;
err_unlink:
	unlinkat(dfd, tmp_name, 0);
out:
	if (dfd >= 0)
		close(dfd);
	free(tmp_name);
	free(tmp);
	free(copy);
	return ret;
}

static int get(int fd, void *buf, size_t len, const char *src, uint64_t off)
{
	if (read_all(fd, buf, len)) {
		if (errno == ENODATA)
			pr_err("context '%s' is truncated at offset %llu", src,
			       (unsigned long long)off);
		else
			pr_perror("can't read context '%s'", src);
		errno = EIO;
		return -1;
	}
	return 0;
}

static int corrupt(const char *src, uint64_t off, const char *what, const char *name)
{
	pr_err("context '%s' is corrupt at offset %llu: %s '%s'", src,
	       (unsigned long long)off, what, name);
	errno = EINVAL;
	return -1;
}

/* The chunks pack_zstd() wrote, into out: exactly size bytes, checksummed. */
static int unpack_zstd(int fd, int out, uint64_t size, const char *name, const char *src,
		       uint64_t *off, uint64_t *total, ZSTD_DCtx *dc, char *cbuf, char *obuf)
{
	uint64_t done = 0;
	size_t r = 1;	/* 0: the frame is complete */

	ZSTD_DCtx_reset(dc, ZSTD_reset_session_only);
	for (;;) {
		ZSTD_inBuffer ib = { cbuf, 0, 0 };
		uint32_t len;
		bool full = false;

		if (get(fd, &len, 4, src, *off))
			return -1;
		*off += 4;
		*total += 4;
		if (!len)
			break;
		if (len > CTX_MAX_CHUNK)
			return corrupt(src, *off - 4, "a compressed chunk too big in", name);
		if (get(fd, cbuf, len, src, *off))
			return -1;
		ib.size = len;
		for (;;) {
			ZSTD_outBuffer ob = { obuf, CTX_BUF, 0 };

			/* zstd may hold output back until it is given room. */
			if (ib.pos == ib.size && (!full || !r))
				break;
			if (!r)
				return corrupt(src, *off, "data after the end of compressed image", name);
			r = ZSTD_decompressStream(dc, &ob, &ib);
			if (ZSTD_isError(r)) {
				pr_err("context '%s' is corrupt at offset %llu: image '%s' does not decompress: %s",
				       src, (unsigned long long)*off, name, ZSTD_getErrorName(r));
				errno = EINVAL;
				return -1;
			}
			if (ob.pos > size - done)
				return corrupt(src, *off, "more bytes than its size in image", name);
			if (write_all(out, obuf, ob.pos)) {
				pr_perror("can't unpack '%s'", name);
				return -1;
			}
			done += ob.pos;
			full = ob.pos == ob.size;
		}
		*off += len;
		*total += len;
	}
	if (r || done != size)
		return corrupt(src, *off, "a compressed stream that ends early in image", name);
	return 0;
}

char *context_unpack(const struct options *o)
{
	const char *src = o->file && strcmp(o->file, "-") ? o->file : "stdin";
	char magic[8], name[CTX_MAX_NAME + 1], *dir, *buf = NULL, *cbuf = NULL;
	uint64_t off = 12, total = 0;
	ZSTD_DCtx *dc = NULL;
	uint32_t version;
	int fd, dfd = -1, own = 0;

	if (o->fd >= 0) {
		fd = o->fd;
		src = "(fd)";
	} else if (!o->file || !strcmp(o->file, "-")) {
		fd = 0;
	} else {
		fd = open(o->file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			pr_perror("can't open context '%s'", o->file);
			return NULL;
		}
		own = 1;
	}
	dir = xsprintf("%s/.crest-restore.%d.XXXXXX", tmp_base(), getpid());
	if (!mkdtemp(dir)) {
		pr_perror("can't create a staging directory in '%s'", tmp_base());
		goto err;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (get(fd, magic, 8, src, 0) || get(fd, &version, 4, src, 8))
		goto err;
	if (memcmp(magic, CTX_MAGIC, 8)) {
		pr_err("'%s' is not a crest context file (bad magic)", src);
		errno = EINVAL;
		goto err;
	}
	if (version != CTX_VERSION && version != CTX_VERSION_ENC) {
		pr_err("context '%s' has version %u, this crest reads %u and %u", src, version,
		       CTX_VERSION, CTX_VERSION_ENC);
		errno = EINVAL;
		goto err;
	}
	buf = xzalloc(CTX_BUF);
	for (;;) {
		uint16_t len;
		uint64_t size, left;
		uint8_t enc = CTX_ENC_RAW;
		int out;

		if (get(fd, &len, 2, src, off))
			goto err;
		if (!len)
			break;
		if (len > CTX_MAX_NAME) {
			pr_err("context '%s' is corrupt at offset %llu: an image name of %u bytes",
			       src, (unsigned long long)off, len);
			errno = EINVAL;
			goto err;
		}
		if (get(fd, name, len, src, off + 2) ||
		    get(fd, &size, 8, src, off + 2 + len))
			goto err;
		name[len] = 0;
		if (strchr(name, '/') || name[0] == '.') {
			pr_err("context '%s' is corrupt at offset %llu: bad image name",
			       src, (unsigned long long)off);
			errno = EINVAL;
			goto err;
		}
		off += 2 + len + 8;
		total += 2 + len + 8;
		if (version == CTX_VERSION_ENC) {
			if (get(fd, &enc, 1, src, off))
				goto err;
			if (enc != CTX_ENC_RAW && enc != CTX_ENC_ZSTD) {
				corrupt(src, off, "an unknown encoding of image", name);
				goto err;
			}
			off++;
			total++;
		}
		out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (out < 0) {
			pr_perror("can't unpack '%s'", name);
			goto err;
		}
		if (enc == CTX_ENC_ZSTD) {
			if (!dc) {
				dc = ZSTD_createDCtx();
				cbuf = xzalloc(CTX_MAX_CHUNK);
			}
			if (!dc) {
				pr_err("can't set up zstd decompression (out of memory)");
				close(out);
				goto err;
			}
			if (unpack_zstd(fd, out, size, name, src, &off, &total, dc, cbuf, buf)) {
				close(out);
				goto err;
			}
			close(out);
			continue;
		}
		total += size;
		for (left = size; left;) {
			size_t n = left > CTX_BUF ? CTX_BUF : left;

			if (get(fd, buf, n, src, off) || write_all(out, buf, n)) {
				if (errno != EIO)
					pr_perror("can't unpack '%s'", name);
				close(out);
				goto err;
			}
			left -= n;
			off += n;
		}
		close(out);
	}
	{
		uint64_t want;

		if (get(fd, &want, 8, src, off + 2))
			goto err;
		if (want != total) {
			pr_err("context '%s' is corrupt: %llu bytes of images, its end says %llu",
			       src, (unsigned long long)total, (unsigned long long)want);
			errno = EINVAL;
			goto err;
		}
	}
	/*
	 * From a pipe, wait for the writer to close it: a checkpoint piped
	 * into a restart kills its processes only after the context is out,
	 * and their PIDs are not free before that.
	 */
	{
		struct stat st;

		if (!fstat(fd, &st) && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
			while (read(fd, buf, CTX_BUF) > 0)
				;
	}
	ZSTD_freeDCtx(dc);
	free(cbuf);
	free(buf);
	close(dfd);
	if (own)
		close(fd);
	return dir;
err:
	ZSTD_freeDCtx(dc);
	free(cbuf);
	free(buf);
	if (dfd >= 0)
		close(dfd);
	if (own)
		close(fd);
	context_remove_dir(dir);
	free(dir);
	return NULL;
}

int context_is_file(const char *path)
{
	char magic[8] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), ok;

	if (fd < 0)
		return 0;
	ok = read(fd, magic, 8) == 8 && !memcmp(magic, CTX_MAGIC, 8);
	close(fd);
	return ok;
}
