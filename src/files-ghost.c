/*
 * Saved files: those deleted while open or mapped (always), and mapped
 * files the user asked to embed (--save-exe, --save-private,
 * --save-shared). Their bytes go into ghost-ID.img; at restore they come
 * from there, whatever is at the path now: a deleted one is made at its
 * old path if that is free (so /proc shows "PATH (deleted)" again) and
 * unlinked at once; one that was not deleted is the file at its path if
 * that holds the same bytes still (it is that file then), else a copy
 * made the same way. Only a path another file holds now gives an
 * anonymous copy ("DIR/#INODE (deleted)" in /proc).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/falloc.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "files-ghost.h"
#include "image.h"
#include "log.h"
#include "util.h"

/*
 * More data ranges than this (a file written in scattered blocks): the
 * rest of the file is saved as one range, holes and all (files.img holds
 * the list, 64 MiB a record at most).
 */
#define GHOST_MAX_RANGES	(1 << 20)

static void add_range(RegFileEntry *f, uint64_t off, uint64_t len)
{
	if (!len)
		return;
	if (f->n_data && f->data[f->n_data - 2] + f->data[f->n_data - 1] == off) {
		f->data[f->n_data - 1] += len;
		return;
	}
	f->data = xrealloc(f->data, (f->n_data + 2) * sizeof(*f->data));
	f->data[f->n_data++] = off;
	f->data[f->n_data++] = len;
}

/*
 * Where the file holds data (SEEK_DATA/SEEK_HOLE), as offset, length
 * pairs in f->data: only those go into the image. A filesystem that
 * knows no holes says the whole file is data.
 */
static int data_ranges(int in, RegFileEntry *f, uint64_t size)
{
	uint64_t off = 0;

	f->has_sparse = 1;
	f->sparse = 1;
	while (off < size) {
		off_t d = lseek(in, off, SEEK_DATA), h;

		if (d < 0 && errno == ENXIO)
			break;	/* a hole to the end */
		if (d < 0 && errno == EINVAL) {
			add_range(f, off, size - off);
			break;	/* no SEEK_DATA here: all data */
		}
		if (d < 0 || (h = lseek(in, d, SEEK_HOLE)) < 0) {
			pr_perror("can't find the data of '%s'", f->path);
			return -1;
		}
		if ((uint64_t)h > size)
			h = size;
		if ((uint64_t)d >= size)
			break;
		if (f->n_data / 2 >= GHOST_MAX_RANGES) {
			add_range(f, d, size - d);
			break;
		}
		add_range(f, d, h - d);
		off = h;
	}
	return 0;
}

static void add_pair(uint64_t **v, size_t *n, uint64_t off, uint64_t len)
{
	if (!len)
		return;
	if (*n && (*v)[*n - 2] + (*v)[*n - 1] == off) {
		(*v)[*n - 1] += len;
		return;
	}
	*v = xrealloc(*v, (*n + 2) * sizeof(**v));
	(*v)[(*n)++] = off;
	(*v)[(*n)++] = len;
}

/* Bytes of data SEEK_DATA finds, page by page; UINT64_MAX: can't tell. */
static uint64_t data_bytes(int fd, uint64_t size)
{
	uint64_t off = 0, bytes = 0;

	for (size_t k = 0; off < size; k++) {
		off_t d = lseek(fd, off, SEEK_DATA), h;

		if (d < 0 && errno == ENXIO)
			return bytes;	/* holes to the end */
		if (d < 0 || k == GHOST_MAX_RANGES || (h = lseek(fd, d, SEEK_HOLE)) < 0)
			return UINT64_MAX;
		d &= ~((off_t)PAGE_SIZE - 1);
		h = (h + PAGE_SIZE - 1) & ~((off_t)PAGE_SIZE - 1);
		bytes += h - d;
		off = h;
	}
	return bytes;
}

/* FIEMAP's unwritten extents: 1 where there is no FIEMAP. */
static int fiemap_unwritten(int fd, uint64_t **out, size_t *n)
{
	enum { NR = 256 };
	struct fiemap *fm = xzalloc(sizeof(*fm) + NR * sizeof(struct fiemap_extent));
	uint64_t start = 0;
	int ret = 0;

	for (;;) {
		memset(fm, 0, sizeof(*fm));
		fm->fm_start = start;
		fm->fm_length = FIEMAP_MAX_OFFSET - start;
		fm->fm_extent_count = NR;
		if (ioctl(fd, FS_IOC_FIEMAP, fm)) {
			ret = errno == EOPNOTSUPP || errno == ENOTTY ? 1 : -1;
			break;
		}
		if (!fm->fm_mapped_extents)
			break;
		for (unsigned int i = 0; i < fm->fm_mapped_extents; i++) {
			const struct fiemap_extent *e = &fm->fm_extents[i];

			if ((e->fe_flags & FIEMAP_EXTENT_UNWRITTEN) && *n / 2 < GHOST_MAX_RANGES)
				add_pair(out, n, e->fe_logical, e->fe_length);
			start = e->fe_logical + e->fe_length;
		}
		if (fm->fm_extents[fm->fm_mapped_extents - 1].fe_flags & FIEMAP_EXTENT_LAST)
			break;
	}
	free(fm);
	return ret;
}

/*
 * No FIEMAP (tmpfs): nothing says where pages fallocated and not written
 * are (not uptodate, they are holes to SEEK_DATA and absent to mincore),
 * only how many there are (st_blocks). So many are taken from its holes
 * in order, then past its end: exact where it allocated every hole, as
 * posix_fallocate() of the whole file does; where some holes were never
 * allocated, the count is kept, not the places (crest(8)).
 */
static int guess_pages(int fd, const struct stat *st, uint64_t data, uint64_t **out,
		       size_t *n)
{
	uint64_t left = ((uint64_t)st->st_blocks * 512 - data) / PAGE_SIZE, off = 0;
	uint64_t size = (st->st_size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);

	while (left && off < size && *n / 2 < GHOST_MAX_RANGES) {
		off_t h = lseek(fd, off, SEEK_HOLE), d;
		uint64_t len;

		if (h < 0)
			return -1;
		h &= ~((off_t)PAGE_SIZE - 1);
		if ((uint64_t)h >= size)
			break;
		d = lseek(fd, h, SEEK_DATA);
		if (d < 0 && errno != ENXIO)
			return -1;
		if (d < 0 || (uint64_t)d > size)
			d = size;
		d = (d + PAGE_SIZE - 1) & ~((off_t)PAGE_SIZE - 1);
		if (d <= h) {
			off = h + PAGE_SIZE;
			continue;
		}
		len = (uint64_t)(d - h) / PAGE_SIZE < left ? (uint64_t)(d - h) : left * PAGE_SIZE;
		add_pair(out, n, h, len);
		left -= len / PAGE_SIZE;
		off = d;
	}
	if (left)
		add_pair(out, n, size, left * PAGE_SIZE);
	return 0;
}

/*
 * A range fallocate(2) allocated and nobody wrote reads as zeros, and
 * SEEK_DATA calls it a hole (ext4, tmpfs here), yet the blocks are the
 * file's: st_blocks counts them, a write there can't fail for space.
 */
int ghost_alloc_ranges(int fd, const struct stat *st, const char *what,
		       uint64_t **out, size_t *n)
{
	uint64_t data = data_bytes(fd, st->st_size);
	int r;

	*out = NULL;
	*n = 0;
	if (data != UINT64_MAX && (uint64_t)st->st_blocks * 512 <= data)
		return 0;	/* nothing allocated beyond the data */
	r = fiemap_unwritten(fd, out, n);
	if (r == 1 && data != UINT64_MAX)
		r = guess_pages(fd, st, data, out, n);
	else if (r == 1)
		r = 0;
	if (r < 0) {
		pr_perror("can't find the blocks allocated to '%s'", what);
		free(*out);
		*out = NULL;
		*n = 0;
		return -1;
	}
	if (*n / 2 >= GHOST_MAX_RANGES)
		pr_warn("'%s' has more than %d ranges allocated: the rest comes back as holes",
			what, GHOST_MAX_RANGES);
	return 0;
}

int ghost_alloc_again(int fd, const uint64_t *alloc, size_t n, const char *what)
{
	if (n % 2) {
		pr_err("the allocated ranges of '%s' in the image are not pairs", what);
		return -1;
	}
	for (size_t k = 0; k < n; k += 2) {
		if (!alloc[k + 1] || alloc[k] + alloc[k + 1] < alloc[k] ||
		    alloc[k] + alloc[k + 1] > (uint64_t)INT64_MAX) {
			pr_err("an allocated range of '%s' in the image is out of bounds", what);
			return -1;
		}
		if (fallocate(fd, FALLOC_FL_KEEP_SIZE, alloc[k], alloc[k + 1])) {
			pr_perror("can't allocate %llu bytes at %llu of '%s' again",
				  (unsigned long long)alloc[k + 1],
				  (unsigned long long)alloc[k], what);
			return -1;
		}
	}
	return 0;
}

/* len bytes of in at *off to the end of out, through the page cache. */
static int copy_range(int out, int in, off_t *off, uint64_t len, const char *what)
{
	while (len) {
		ssize_t n = sendfile(out, in, off, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;	/* shorter than it said */
			pr_perror("can't copy the contents of '%s'", what);
			return -1;
		}
		len -= n;
	}
	return 0;
}

/* An earlier saved entry of the same inode: its contents are this one's. */
static RegFileEntry *same_inode(struct dump_files *df, int i)
{
	for (int j = 0; j < i; j++)
		if ((df->files[j]->saved || df->files[j]->deleted) &&
		    !df->files[j]->has_ghost_id &&
		    df->files_own[j].dev == df->files_own[i].dev &&
		    df->files_own[j].ino == df->files_own[i].ino)
			return df->files[j];
	return NULL;
}

static int dump_one(RegFileEntry *f, const char *src, struct img_dir *d)
{
	struct image *img;
	struct stat st;
	uint64_t bytes = 0;
	int in;

	/* Not to change what is saved: its atime. */
	in = open(src, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (in < 0 && errno == EPERM)
		in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st)) {
		pr_perror("can't read the contents of '%s' (%s)", f->path, src);
		if (in >= 0)
			close(in);
		return -1;
	}
	f->size = st.st_size;
	f->mode = st.st_mode;
	f->has_uid = f->has_gid = f->has_atime_ns = f->has_mtime_ns = 1;
	f->uid = st.st_uid;
	f->gid = st.st_gid;
	f->atime_ns = st.st_atim.tv_sec * 1000000000ULL + st.st_atim.tv_nsec;
	f->mtime_ns = st.st_mtim.tv_sec * 1000000000ULL + st.st_mtim.tv_nsec;
	if (data_ranges(in, f, st.st_size) ||
	    ghost_alloc_ranges(in, &st, f->path, &f->alloc, &f->n_alloc))
		goto err;
	img = img_create(d, IMG_GHOST, f->id);
	if (!img)
		goto err;
	for (size_t k = 0; k < f->n_data; k += 2) {
		off_t off = f->data[k];

		if (copy_range(img->fd, in, &off, f->data[k + 1], f->path))
			goto err;
		bytes += f->data[k + 1];
	}
	close(in);
	pr_debug("saved '%s' (%llu bytes, %llu of data in %zu ranges)%s", f->path,
		 (unsigned long long)f->size, (unsigned long long)bytes,
		 f->n_data / 2, f->deleted ? ", deleted" : "");
	return 0;
err:
	close(in);
	return -1;
}

/*
 * The contents of every saved inode into ghost-ID.img, once: another
 * description or mapping of the same inode names it by ghost_id.
 */
int ghost_dump(struct dump_files *df, struct img_dir *d)
{
	for (int i = 0; i < df->nr_files; i++) {
		RegFileEntry *f = df->files[i], *first;

		if (!f->saved && !f->deleted)
			continue;
		if ((first = same_inode(df, i))) {
			f->has_ghost_id = 1;
			f->ghost_id = first->id;
			continue;
		}
		if (f->saved && dump_one(f, df->files_own[i].src, d))
			return -1;
	}
	return 0;
}

/* Where the file is made: its old path if free, else an anonymous one. */
static int make_file(const RegFileEntry *f, char **made)
{
	char *copy = xstrdup(f->path), *dir = dirname(copy);
	const char *where;
	struct stat st;
	int fd;

	*made = NULL;
	/*
	 * Free: deleted then, or since (so it is "PATH (deleted)" now, truly).
	 * Taken by another file: an anonymous one, "DIR/#INODE (deleted)".
	 */
	fd = open(f->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  f->mode & 07777);
	if (fd >= 0) {
		*made = xstrdup(f->path);
		free(copy);
		return fd;
	}
	where = dir;
	fd = open(dir, O_RDWR | O_TMPFILE | O_CLOEXEC, f->mode & 07777);
	if (fd < 0) {
		where = "/tmp";
		fd = open(where, O_RDWR | O_TMPFILE | O_CLOEXEC, f->mode & 07777);
	}
	/* Not silently: the program's /proc names differ (crest(8)). */
	if (fd >= 0 && !fstat(fd, &st))
		pr_warn("'%s' is taken by another file now: the saved copy of the %s file comes back nameless, '%s/#%llu (deleted)' in /proc",
			f->path, f->deleted ? "deleted" : "saved", where,
			(unsigned long long)st.st_ino);
	free(copy);
	return fd;
}

/*
 * The ranges of data the image holds, checked against the file's size
 * (images are not trusted blindly); *bytes: their sum. Older images: the
 * whole file.
 */
static int check_ranges(const RegFileEntry *f, uint64_t *bytes)
{
	uint64_t end = 0;

	*bytes = f->sparse ? 0 : f->size;
	if (!f->sparse)
		return 0;
	if (f->n_data % 2)
		goto bad;
	for (size_t k = 0; k < f->n_data; k += 2) {
		uint64_t off = f->data[k], len = f->data[k + 1];

		if (off < end || !len || len > f->size || off > f->size - len)
			goto bad;
		end = off + len;
		*bytes += len;
	}
	return 0;
bad:
	pr_err("the saved file '%s' (id %u): its data ranges are not within its %llu bytes",
	       f->path, f->id, (unsigned long long)f->size);
	return -1;
}

/* The data range k of f (older images: one, the whole file). */
static size_t nr_ranges(const RegFileEntry *f)
{
	return f->sparse ? f->n_data / 2 : f->size ? 1 : 0;
}

static void range(const RegFileEntry *f, size_t k, uint64_t *off, uint64_t *len)
{
	*off = f->sparse ? f->data[2 * k] : 0;
	*len = f->sparse ? f->data[2 * k + 1] : f->size;
}

/* Does fd hold at off what img holds at ioff (img < 0: zeros)? */
static bool same_bytes(int fd, uint64_t off, uint64_t len, int img, uint64_t ioff)
{
	static char a[65536], b[65536];

	if (img < 0)
		memset(b, 0, sizeof(b));
	while (len) {
		size_t n = len < sizeof(a) ? len : sizeof(a);

		if (pread(fd, a, n, off) != (ssize_t)n ||
		    (img >= 0 && pread(img, b, n, ioff) != (ssize_t)n) ||
		    memcmp(a, b, n))
			return false;
		off += n;
		ioff += n;
		len -= n;
	}
	return true;
}

/*
 * The file at the path, if it is the saved one still: a regular file of
 * the saved size, mode and mtime, byte for byte the saved contents (its
 * holes zeros). -1 if not (then the copy is made).
 */
static int same_file(const RegFileEntry *f, struct image *img, int rw)
{
	uint64_t at = 0, ioff = IMG_PAGES_OFF;
	struct stat st;
	int fd;

	fd = open(f->path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != f->size ||
	    (st.st_mode & 07777) != (f->mode & 07777) ||
	    (f->has_mtime_ns && (uint64_t)st.st_mtim.tv_sec * 1000000000 +
	     st.st_mtim.tv_nsec != f->mtime_ns))
		goto differs;
	for (size_t k = 0; k < nr_ranges(f); k++) {
		uint64_t off, len;

		range(f, k, &off, &len);
		if (!same_bytes(fd, at, off - at, -1, 0) ||
		    !same_bytes(fd, off, len, img->fd, ioff))
			goto differs;
		ioff += len;
		at = off + len;
	}
	if (!same_bytes(fd, at, f->size - at, -1, 0))
		goto differs;
	return fd;
differs:
	close(fd);
	return -1;
}

/* The saved contents into fd: each range at its offset, holes left holes. */
static int fill(const RegFileEntry *f, int fd, struct image *img)
{
	off_t ioff = IMG_PAGES_OFF;

	for (size_t k = 0; k < nr_ranges(f); k++) {
		uint64_t off, len;

		range(f, k, &off, &len);
		if (lseek(fd, off, SEEK_SET) < 0) {
			pr_perror("can't seek the saved file '%s' to %llu", f->path,
				  (unsigned long long)off);
			return -1;
		}
		if (copy_range(fd, img->fd, &ioff, len, f->path))
			return -1;
	}
	if (ftruncate(fd, f->size)) {
		pr_perror("can't give the saved file '%s' its size %llu", f->path,
			  (unsigned long long)f->size);
		return -1;
	}
	return 0;
}

/*
 * What fstat showed of it: its owner, the mode whole (the umask took
 * bits from the one given to open; chown clears set-id bits, so it goes
 * first) and atime and mtime of the checkpoint (last: writing moved
 * mtime). Through /proc/self/fd: fd may be an O_PATH one (a node).
 */
static int give_attrs(const RegFileEntry *f, int fd)
{
	struct timespec ts[2] = {
		{ .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT },
	};
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (f->has_uid && f->has_gid && chown(path, f->uid, f->gid)) {
		pr_perror("can't give the saved file '%s' its owner %u:%u", f->path,
			  f->uid, f->gid);
		return -1;
	}
	if (chmod(path, f->mode & 07777)) {
		pr_perror("can't give the saved file '%s' its mode %o", f->path,
			  f->mode & 07777);
		return -1;
	}
	if (f->has_atime_ns)
		ts[0] = (struct timespec){ f->atime_ns / 1000000000, f->atime_ns % 1000000000 };
	if (f->has_mtime_ns)
		ts[1] = (struct timespec){ f->mtime_ns / 1000000000, f->mtime_ns % 1000000000 };
	if (utimensat(AT_FDCWD, path, ts, 0)) {
		pr_perror("can't give the saved file '%s' its times", f->path);
		return -1;
	}
	return 0;
}

#define GHOST_REOPEN_FLAGS (O_ACCMODE | O_APPEND | O_NONBLOCK | O_SYNC | O_DSYNC | \
			    O_NOATIME | O_LARGEFILE | O_PATH | O_DIRECTORY)

/*
 * Another description of a made file (fd): reopened through its
 * /proc/self/fd link with its own flags (rw: for a shared writable
 * mapping), at its offset.
 */
int ghost_reopen(const RegFileEntry *f, int fd, int rw)
{
	char path[64];
	int rfd, fl;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	fl = (rw ? O_RDWR | (f->flags & O_NOATIME) : f->flags & GHOST_REOPEN_FLAGS) |
	     O_CLOEXEC;
	rfd = open(path, fl);
	/* O_NOATIME takes the file's owner or CAP_FOWNER. */
	if (rfd < 0 && errno == EPERM && (fl & O_NOATIME))
		rfd = open(path, fl & ~O_NOATIME);
	if (rfd < 0) {
		pr_perror("can't reopen the saved file '%s'", f->path);
		return -1;
	}
	if (f->pos && !(fl & O_PATH) && lseek(rfd, f->pos, SEEK_SET) < 0) {
		pr_perror("can't seek the saved file '%s'", f->path);
		close(rfd);
		return -1;
	}
	return rfd;
}

int ghost_open(const RegFileEntry *f, struct img_dir *d, int rw)
{
	struct image *img = img_open(d, IMG_GHOST, f->id);
	uint64_t bytes;
	char *made;
	int fd, rfd;

	if (!img)
		return -1;
	if (check_ranges(f, &bytes))
		goto err_img;
	if ((uint64_t)(img->size - IMG_PAGES_OFF) != bytes) {
		pr_err("image '%s' is truncated: %zu bytes of '%s', %llu saved",
		       img->path, img->size - IMG_PAGES_OFF, f->path,
		       (unsigned long long)bytes);
		goto err_img;
	}
	if (!f->deleted && (fd = same_file(f, img, rw)) >= 0) {
		img_close(img);
		pr_debug("'%s' is the saved file still: using it", f->path);
		rfd = ghost_reopen(f, fd, rw);
		close(fd);
		return rfd;
	}
	fd = make_file(f, &made);
	if (fd < 0) {
		pr_perror("can't recreate the saved file '%s'", f->path);
		goto err_img;
	}
	if (fill(f, fd, img) || ghost_alloc_again(fd, f->alloc, f->n_alloc, f->path) ||
	    give_attrs(f, fd))
		goto err;
	img_close(img);
	/* Reopen with the description's own flags, then it can go. */
	rfd = ghost_reopen(f, fd, rw);
	close(fd);
	if (made) {
		unlink(made);
		free(made);
	}
	return rfd;
err:
	close(fd);
	if (made) {
		unlink(made);
		free(made);
	}
err_img:
	img_close(img);
	return -1;
}

/* ---- deleted directories, FIFOs and device nodes ---- */

static int make_node_at(const char *path, const RegFileEntry *f)
{
	/* Private until it has its owner and mode. */
	if (S_ISDIR(f->mode))
		return mkdir(path, 0700);
	/* mknod() makes a socket file too: one no socket is bound to. */
	return mknod(path, (f->mode & S_IFMT) | 0600, S_ISSOCK(f->mode) ? 0 : f->rdev);
}

/* A name nobody holds: at the node's own path, else beside it, else in /tmp. */
static char *make_node(const RegFileEntry *f)
{
	char *copy = xstrdup(f->path), *dir = dirname(copy), *path;

	if (!make_node_at(f->path, f)) {
		free(copy);
		return xstrdup(f->path);
	}
	for (int i = 0; i < 200; i++) {
		const char *where = i < 100 ? dir : "/tmp";

		path = xsprintf("%s/.crest-ghost-%d-%u-%d", where, getpid(), f->id, i);
		if (!make_node_at(path, f)) {
			free(copy);
			return path;
		}
		free(path);
		if (errno != EEXIST && i < 100)
			i = 99;		/* the directory is gone too: /tmp */
	}
	free(copy);
	return NULL;
}

/*
 * Remove the node made as name, if it is still the one fd is on (it was
 * made in a directory others may write).
 */
static void remove_node(int fd, const char *name)
{
	struct stat a, b;

	if (fstat(fd, &a) || lstat(name, &b) || a.st_dev != b.st_dev ||
	    a.st_ino != b.st_ino) {
		pr_warn("'%s' is no longer the node crest made: left there", name);
		return;
	}
	if (S_ISDIR(a.st_mode) ? rmdir(name) : unlink(name))
		pr_warn("can't remove '%s' again: %s", name, strerror(errno));
}

int ghost_node_make(const RegFileEntry *f, char **made)
{
	struct stat st;
	char *name;
	int fd;

	*made = NULL;
	if (!S_ISDIR(f->mode) && !S_ISFIFO(f->mode) && !S_ISCHR(f->mode) &&
	    !S_ISBLK(f->mode) && !S_ISSOCK(f->mode)) {
		pr_err("the deleted file '%s' is of mode %o, not one crest makes again",
		       f->path, f->mode);
		return -1;
	}
	name = make_node(f);
	if (!name) {
		pr_perror("can't make the deleted %s '%s' again",
			  S_ISDIR(f->mode) ? "directory" : "node", f->path);
		return -1;
	}
	fd = open(name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || (st.st_mode & S_IFMT) != (f->mode & S_IFMT) ||
	    ((S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) && st.st_rdev != f->rdev)) {
		pr_err("'%s', just made for the deleted '%s', is another file now",
		       name, f->path);
		goto err;
	}
	if (give_attrs(f, fd))
		goto err;
	pr_debug("deleted '%s' made again as '%s'", f->path, name);
	*made = name;
	return fd;
err:
	if (fd >= 0) {
		remove_node(fd, name);
		close(fd);
	}
	free(name);
	return -1;
}

void ghost_node_remove(int fd, char *made)
{
	if (made)
		remove_node(fd, made);
	free(made);
}

int ghost_node_open(const RegFileEntry *f)
{
	char *made;
	int fd = ghost_node_make(f, &made), rfd;

	if (fd < 0)
		return -1;
	rfd = ghost_reopen(f, fd, 0);
	ghost_node_remove(fd, made);
	close(fd);
	return rfd;
}
