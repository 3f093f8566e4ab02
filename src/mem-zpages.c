/* Compressed pages images: see mem-zpages.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <zstd.h>

#include "log.h"
#include "mem-zpages.h"
#include "util.h"

#define ZPAGES_MARK	"ZPG1\1\0\0\0"
#define ZPAGES_LEVEL	1
#define ZPAGES_THREADS	2	/* both cores of the machines here */

int zpages_mark(struct image *pages)
{
	if (pwrite(pages->fd, ZPAGES_MARK, 8, IMG_HDR_SIZE) != 8) {
		pr_perror("can't write image '%s'", pages->path);
		return -1;
	}
	return 0;
}

/*
 * One thread's share of a batch: every ZPAGES_THREADS-th run from first,
 * its frames back to back in out, kept (with its zstd context) from batch
 * to batch: a fresh buffer per run, zeroed by calloc, cost more than the
 * compression of text.
 */
struct zshare {
	ZSTD_CCtx *cc;
	unsigned char *out;
	size_t cap;
	const char *err;
};

struct zpages {
	struct zshare share[ZPAGES_THREADS];
	uint64_t *offs, *zoffs;	/* each run's bytes in src, its frame in out */
	uint32_t cap;
};

struct zjob {
	struct zshare *sh;
	const unsigned char *src;
	const uint32_t *lens;
	const uint64_t *offs;
	uint64_t *zoffs;
	uint32_t *zlens;
	uint32_t nr, first;
};

struct zpages *zpages_new(void)
{
	return xzalloc(sizeof(struct zpages));
}

void zpages_free(struct zpages *z)
{
	if (!z)
		return;
	for (int t = 0; t < ZPAGES_THREADS; t++) {
		ZSTD_freeCCtx(z->share[t].cc);
		free(z->share[t].out);
	}
	free(z->offs);
	free(z->zoffs);
	free(z);
}

static void *compress_runs(void *arg)
{
	struct zjob *j = arg;
	struct zshare *sh = j->sh;
	size_t need = 0, at = 0;

	sh->err = NULL;
	if (!sh->cc)
		sh->cc = ZSTD_createCCtx();
	if (!sh->cc) {
		sh->err = "out of memory";
		return NULL;
	}
	for (uint32_t i = j->first; i < j->nr; i += ZPAGES_THREADS)
		need += ZSTD_compressBound(j->lens[i]);
	if (need > sh->cap) {
		/* Not zeroed: zstd writes every byte it says it wrote. */
		free(sh->out);
		sh->out = malloc(need);
		sh->cap = sh->out ? need : 0;
		if (!sh->out) {
			sh->err = "out of memory";
			return NULL;
		}
	}
	for (uint32_t i = j->first; i < j->nr; i += ZPAGES_THREADS) {
		size_t bound = ZSTD_compressBound(j->lens[i]);
		size_t n = ZSTD_compressCCtx(sh->cc, sh->out + at, bound, j->src + j->offs[i],
					     j->lens[i], ZPAGES_LEVEL);

		if (ZSTD_isError(n)) {
			sh->err = ZSTD_getErrorName(n);
			break;
		}
		/*
		 * A run that does not shrink is stored as it is: zlen == its
		 * length, written from src (its frame's room is used again).
		 */
		if (n >= j->lens[i]) {
			j->zlens[i] = j->lens[i];
			continue;
		}
		j->zoffs[i] = at;
		j->zlens[i] = n;
		at += n;
	}
	return NULL;
}

/* The frames in the order of their runs, each from its thread's buffer. */
static int write_frames(struct zpages *z, int fd, const char *path, const unsigned char *src,
			const uint32_t *lens, const uint32_t *zlens, uint32_t nr)
{
	struct iovec iov[64];
	uint32_t i = 0;

	while (i < nr) {
		int n = 0;
		size_t want = 0;
		ssize_t done;

		for (; i < nr && n < 64; i++, n++) {
			iov[n].iov_base = zlens[i] == lens[i] ? (void *)(src + z->offs[i]) :
					  z->share[i % ZPAGES_THREADS].out + z->zoffs[i];
			iov[n].iov_len = zlens[i];
			want += zlens[i];
		}
		done = writev(fd, iov, n);
		if (done == (ssize_t)want)
			continue;
		if (done < 0 && errno != EINTR) {
			pr_perror("can't write pages to '%s'", path);
			return -1;
		}
		/* Short (or interrupted): the rest of these frames one by one. */
		for (int k = 0; k < n; k++) {
			size_t l = iov[k].iov_len;

			if (done >= (ssize_t)l) {
				done -= l;
				continue;
			}
			if (write_all(fd, (char *)iov[k].iov_base + (done > 0 ? done : 0),
				      l - (done > 0 ? done : 0))) {
				pr_perror("can't write pages to '%s'", path);
				return -1;
			}
			done = 0;
		}
	}
	return 0;
}

int zpages_write(struct zpages *z, int fd, const char *path, const unsigned char *src,
		 const uint32_t *lens, uint32_t nr, uint32_t *zlens)
{
	struct zjob jobs[ZPAGES_THREADS];
	pthread_t th[ZPAGES_THREADS];
	bool started[ZPAGES_THREADS] = {};

	if (nr > z->cap) {
		z->cap = nr;
		z->offs = xrealloc(z->offs, nr * sizeof(*z->offs));
		z->zoffs = xrealloc(z->zoffs, nr * sizeof(*z->zoffs));
	}
	for (uint32_t i = 0; i < nr; i++)
		z->offs[i] = i ? z->offs[i - 1] + lens[i - 1] : 0;
	for (int t = 0; t < ZPAGES_THREADS; t++) {
		jobs[t] = (struct zjob){ &z->share[t], src, lens, z->offs, z->zoffs, zlens, nr,
					 (uint32_t)t };
		z->share[t].err = NULL;
		/* The first share is this thread's own. */
		if (t && nr > (uint32_t)t)
			started[t] = !pthread_create(&th[t], NULL, compress_runs, &jobs[t]);
		if (t && nr > (uint32_t)t && !started[t])
			compress_runs(&jobs[t]);
	}
	compress_runs(&jobs[0]);
	for (int t = 1; t < ZPAGES_THREADS; t++)
		if (started[t])
			pthread_join(th[t], NULL);
	for (int t = 0; t < ZPAGES_THREADS; t++)
		if (z->share[t].err) {
			pr_err("can't compress pages for '%s': %s", path, z->share[t].err);
			return -1;
		}
	return write_frames(z, fd, path, src, lens, zlens, nr);
}

int zpages_is(int fd)
{
	char m[8];

	if (pread(fd, m, sizeof(m), IMG_HDR_SIZE) != sizeof(m))
		return -1;
	return !memcmp(m, ZPAGES_MARK, sizeof(m));
}

int zpages_frame(const void *z, uint32_t zlen, void *out, size_t len)
{
	size_t n;

	if (zlen == len) {
		memcpy(out, z, len);	/* stored as it is */
		return 0;
	}
	n = ZSTD_decompress(out, len, z, zlen);
	return ZSTD_isError(n) || n != len ? -1 : 0;
}

int zpages_plain(int fd, const char *path, PagemapEntry **runs, size_t nr)
{
	unsigned char hdr[IMG_PAGES_OFF];
	uint64_t zoff = IMG_PAGES_OFF;
	void *buf = NULL, *zbuf = NULL;
	size_t cap = 0, zcap = 0;
	struct stat st;
	int out;

	if (fstat(fd, &st) || pread(fd, hdr, sizeof(hdr), 0) != sizeof(hdr)) {
		pr_perror("can't read image '%s'", path);
		return -1;
	}
	memset(hdr + IMG_HDR_SIZE, 0, 8);
	out = memfd_create("crest-pages", MFD_CLOEXEC);
	if (out < 0 || write_all(out, hdr, sizeof(hdr))) {
		pr_perror("can't make a memfd for the pages of '%s'", path);
		goto err;
	}
	for (size_t i = 0; i < nr; i++) {
		size_t len = (size_t)runs[i]->nr_pages * PAGE_SIZE;
		uint32_t zlen = runs[i]->zlen;

		if (runs[i]->inherited || runs[i]->in_parent)
			continue;	/* no bytes here */
		if (!runs[i]->has_zlen || zoff + zlen > (uint64_t)st.st_size) {
			pr_err("image '%s' is truncated or corrupt at offset %llu: the run at %#llx has %s",
			       path, (unsigned long long)zoff, (unsigned long long)runs[i]->vaddr,
			       runs[i]->has_zlen ? "no room for its frame" : "no frame length");
			goto err;
		}
		if (len > cap)
			buf = xrealloc(buf, cap = len);
		if (zlen > zcap)
			zbuf = xrealloc(zbuf, zcap = zlen);
		if (pread(fd, zbuf, zlen, zoff) != zlen) {
			pr_perror("can't read image '%s'", path);
			goto err;
		}
		if (zpages_frame(zbuf, zlen, buf, len)) {
			pr_err("image '%s' is corrupt at offset %llu: the frame of the run at %#llx does not decompress to its %zu bytes",
			       path, (unsigned long long)zoff, (unsigned long long)runs[i]->vaddr, len);
			goto err;
		}
		if (write_all(out, buf, len)) {
			pr_perror("can't fill a memfd with the pages of '%s'", path);
			goto err;
		}
		zoff += zlen;
	}
	if (zoff != (uint64_t)st.st_size) {
		pr_err("image '%s' is %lld bytes, its pagemap's frames end at %llu",
		       path, (long long)st.st_size, (unsigned long long)zoff);
		goto err;
	}
	free(buf);
	free(zbuf);
	lseek(out, 0, SEEK_SET);
	return out;
err:
	free(buf);
	free(zbuf);
	if (out >= 0)
		close(out);
	return -1;
}
