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

int zpages_plain(int fd, const char *path)
{
	size_t blen = 1 << 20;
	unsigned char hdr[IMG_PAGES_OFF], *buf = NULL;
	ZSTD_DCtx *dc = NULL;
	ZSTD_inBuffer in;
	struct stat st;
	void *map = MAP_FAILED;
	size_t last = 0;
	int out = -1;

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
	in = (ZSTD_inBuffer){ NULL, (size_t)st.st_size - IMG_PAGES_OFF, 0 };
	if (in.size) {
		map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			pr_perror("can't map image '%s'", path);
			goto err;
		}
		in.src = (unsigned char *)map + IMG_PAGES_OFF;
	}
	dc = ZSTD_createDCtx();
	buf = xzalloc(blen);
	/* Until the input is used up and the last output did not fill the buffer. */
	while (in.size) {
		ZSTD_outBuffer o = { buf, blen, 0 };

		last = ZSTD_decompressStream(dc, &o, &in);
		if (ZSTD_isError(last)) {
			pr_err("image '%s' is corrupt at offset %llu: its compressed pages do not decompress (%s)",
			       path, (unsigned long long)(IMG_PAGES_OFF + in.pos),
			       ZSTD_getErrorName(last));
			goto err;
		}
		if (write_all(out, buf, o.pos)) {
			pr_perror("can't fill a memfd with the pages of '%s'", path);
			goto err;
		}
		if (in.pos == in.size && o.pos < blen)
			break;
	}
	if (last) {
		pr_err("image '%s' is truncated: its last compressed run ends before its frame",
		       path);
		goto err;
	}
	ZSTD_freeDCtx(dc);
	free(buf);
	if (map != MAP_FAILED)
		munmap(map, st.st_size);
	lseek(out, 0, SEEK_SET);
	return out;
err:
	ZSTD_freeDCtx(dc);
	free(buf);
	if (map != MAP_FAILED)
		munmap(map, st.st_size);
	if (out >= 0)
		close(out);
	return -1;
}
