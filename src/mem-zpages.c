/* Compressed pages images: see mem-zpages.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

struct zjob {
	const unsigned char *src;
	const uint32_t *lens;
	uint64_t *offs;
	unsigned char **outs;
	uint32_t *zlens;
	uint32_t nr, first;
	const char *err;
};

/* Every ZPAGES_THREADS-th run from first. */
static void *compress_runs(void *arg)
{
	struct zjob *j = arg;
	ZSTD_CCtx *c = ZSTD_createCCtx();

	if (!c) {
		j->err = "out of memory";
		return NULL;
	}
	for (uint32_t i = j->first; i < j->nr; i += ZPAGES_THREADS) {
		size_t bound = ZSTD_compressBound(j->lens[i]);
		size_t n;

		j->outs[i] = xzalloc(bound);
		n = ZSTD_compressCCtx(c, j->outs[i], bound, j->src + j->offs[i], j->lens[i],
				      ZPAGES_LEVEL);
		if (ZSTD_isError(n)) {
			j->err = ZSTD_getErrorName(n);
			break;
		}
		/* A run that does not shrink is stored as it is: zlen == its length. */
		if (n >= j->lens[i]) {
			memcpy(j->outs[i], j->src + j->offs[i], j->lens[i]);
			n = j->lens[i];
		}
		j->zlens[i] = n;
	}
	ZSTD_freeCCtx(c);
	return NULL;
}

int zpages_write(int fd, const char *path, const unsigned char *src, const uint32_t *lens,
		 uint32_t nr, uint32_t *zlens)
{
	struct zjob jobs[ZPAGES_THREADS];
	pthread_t th[ZPAGES_THREADS];
	bool started[ZPAGES_THREADS] = {};
	unsigned char **outs = xzalloc((nr + 1) * sizeof(*outs));
	uint64_t *offs = xzalloc((nr + 1) * sizeof(*offs));
	int ret = -1;

	for (uint32_t i = 1; i < nr; i++)
		offs[i] = offs[i - 1] + lens[i - 1];
	for (int t = 0; t < ZPAGES_THREADS; t++) {
		jobs[t] = (struct zjob){ src, lens, offs, outs, zlens, nr, (uint32_t)t, NULL };
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
		if (jobs[t].err) {
			pr_err("can't compress pages for '%s': %s", path, jobs[t].err);
			goto out;
		}
	for (uint32_t i = 0; i < nr; i++)
		if (write_all(fd, outs[i], zlens[i])) {
			pr_perror("can't write pages to '%s'", path);
			goto out;
		}
	ret = 0;
out:
	for (uint32_t i = 0; i < nr; i++)
		free(outs[i]);
	free(outs);
	free(offs);
	return ret;
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
