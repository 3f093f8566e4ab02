/*
 * Where crest-lazy reads pages from other than a plain image here.
 *
 * restore --lazy-pages --page-server: the pages images stay on the page
 * server (crest page-server --lazy-pages, where the dump sent them). Each
 * task's pages_path becomes a memfd as large as its pages image, holding
 * the header and every run the restorer itself reads (what is not lazy:
 * premapped runs, file-backed private memory, the stack's arguments);
 * the lazy-pages server reads the other runs from the page server as the
 * tree faults on them (lazy.c). The page server checks each file's size
 * now and its SHA-256 beside the reads; DONE, once every page is in,
 * says whether they held.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sys/stat.h>

#include "files.h"
#include "lazy.h"
#include "log.h"
#include "mem-zpages.h"
#include "page-server.h"
#include "util.h"

static int fetch_task(struct ps_conn *c, struct restore_task *t, int base)
{
	uint64_t size = IMG_PAGES_OFF + t->pages_bytes, bytes = IMG_PAGES_OFF;
	const ImageFile *f = t->pages_remote;
	char *buf = xzalloc(IMG_PAGES_OFF);
	size_t buf_len = IMG_PAGES_OFF;
	int fd, ret = -1;

	if (ps_get(c, f->name, f->size, f->sha256.data, &t->ps_handle))
		goto out;
	fd = files_to_service(memfd_create(f->name, MFD_CLOEXEC), base);
	if (fd < 0 || ftruncate(fd, size)) {
		pr_perror("can't make a memfd for '%s'", f->name);
		goto out;
	}
	if (ps_read(c, t->ps_handle, 0, buf, IMG_PAGES_OFF) ||
	    pwrite(fd, buf, IMG_PAGES_OFF, 0) != IMG_PAGES_OFF)
		goto err_write;
	for (size_t k = 0; k < t->nr_runs; k++) {
		size_t len = (size_t)t->runs[k]->nr_pages * PAGE_SIZE;
		uint64_t off = IMG_PAGES_OFF + t->run_off[k];

		if (t->runs[k]->inherited || (t->run_file && t->run_file[k]) ||
		    restore_run_lazy(t, k))
			continue;
		if (len > buf_len) {
			free(buf);
			buf = xzalloc(len);
			buf_len = len;
		}
		if (ps_read(c, t->ps_handle, off, buf, len))
			goto out;
		if (pwrite(fd, buf, len, off) != (ssize_t)len)
			goto err_write;
		bytes += len;
	}
	/* The task opens it by path, after it changed directory. */
	t->pages_path = t->pages_paths[0] = xsprintf("/proc/%d/fd/%d", getpid(), fd);
	pr_info("process %d: %llu KiB of its pages fetched now, the rest lazily",
		t->pe->pid, (unsigned long long)(bytes >> 10));
	ret = 0;
	goto out;
err_write:
	pr_perror("can't write the pages of %d into a memfd", t->pe->pid);
out:
	free(buf);
	return ret;
}

int lazy_remote_fetch(struct restore_task *tasks, int nr, const struct options *o,
		      const uint8_t id[IMG_ID_SIZE], int base, struct ps_conn **out)
{
	struct ps_conn *c = NULL;

	for (int i = 0; i < nr; i++) {
		if (!tasks[i].pages_remote)
			continue;
		if (!c) {
			c = ps_connect(o->ps_address, o->ps_port, id, true, true);
			if (!c || ps_move_sock(c, base))
				goto err;
		}
		if (fetch_task(c, &tasks[i], base))
			goto err;
	}
	*out = c;
	return 0;
err:
	ps_disconnect(c);
	return -1;
}

/*
 * restore --lazy-pages of a compressed pages image (dump --compress): the
 * memfd gets the header and the runs the restorer reads, each frame
 * found by the zlens before it; crest-lazy decompresses the others from
 * the file (t->run_zoff) as they are needed.
 */
int lazy_zpages_fill(struct restore_task *t, int fd, const char *path, int base)
{
	uint64_t size = IMG_PAGES_OFF + t->pages_bytes, zoff = 0;
	unsigned char hdr[IMG_PAGES_OFF];
	void *zbuf = NULL, *buf = NULL;
	size_t zcap = 0, cap = 0;
	struct stat st;
	int out;

	t->run_zoff = xzalloc((t->nr_runs + 1) * sizeof(*t->run_zoff));
	for (size_t k = 0; k < t->nr_runs; k++) {
		if (t->runs[k]->inherited || (t->run_file && t->run_file[k]))
			continue;
		if (!t->runs[k]->has_zlen) {
			pr_err("image '%s' is compressed, but its pagemap gives no frame length for the run at %#llx",
			       path, (unsigned long long)t->runs[k]->vaddr);
			return -1;
		}
		t->run_zoff[k] = zoff;
		zoff += t->runs[k]->zlen;
	}
	if (fstat(fd, &st) || (uint64_t)st.st_size != IMG_PAGES_OFF + zoff) {
		pr_err("image '%s' is truncated or corrupt: %lld bytes, its pagemap's frames %llu",
		       path, (long long)st.st_size, (unsigned long long)(IMG_PAGES_OFF + zoff));
		return -1;
	}
	out = files_to_service(memfd_create("crest-pages", MFD_CLOEXEC), base);
	if (out < 0 || ftruncate(out, size) || pread(fd, hdr, sizeof(hdr), 0) != sizeof(hdr)) {
		pr_perror("can't make a memfd for '%s'", path);
		goto err;
	}
	memset(hdr + IMG_HDR_SIZE, 0, 8);
	if (pwrite(out, hdr, sizeof(hdr), 0) != sizeof(hdr))
		goto err_write;
	for (size_t k = 0; k < t->nr_runs; k++) {
		size_t len = (size_t)t->runs[k]->nr_pages * PAGE_SIZE, zlen = t->runs[k]->zlen;

		if (t->runs[k]->inherited || (t->run_file && t->run_file[k]) ||
		    restore_run_lazy(t, k))
			continue;
		if (zlen > zcap) {
			free(zbuf);
			zbuf = xzalloc(zcap = zlen);
		}
		if (len > cap) {
			free(buf);
			buf = xzalloc(cap = len);
		}
		if (pread(fd, zbuf, zlen, IMG_PAGES_OFF + t->run_zoff[k]) != (ssize_t)zlen) {
			pr_perror("can't read image '%s'", path);
			goto err;
		}
		if (zpages_frame(zbuf, zlen, buf, len)) {
			pr_err("image '%s' is corrupt at offset %llu: the frame of the run at %#llx does not decompress to its %zu bytes",
			       path, (unsigned long long)(IMG_PAGES_OFF + t->run_zoff[k]),
			       (unsigned long long)t->runs[k]->vaddr, len);
			goto err;
		}
		if (pwrite(out, buf, len, IMG_PAGES_OFF + t->run_off[k]) != (ssize_t)len)
			goto err_write;
	}
	free(zbuf);
	free(buf);
	t->pages_zpath = xstrdup(path);
	return out;
err_write:
	pr_perror("can't write the pages of %d into a memfd", t->pe->pid);
err:
	free(zbuf);
	free(buf);
	if (out >= 0)
		close(out);
	return -1;
}
