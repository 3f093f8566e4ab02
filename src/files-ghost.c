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
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "files-ghost.h"
#include "image.h"
#include "log.h"
#include "util.h"

int ghost_dump(struct dump_files *df, struct img_dir *d)
{
	for (int i = 0; i < df->nr_files; i++) {
		RegFileEntry *f = df->files[i];
		const char *src = df->files_own[i].src;
		struct image *img;
		struct stat st;
		off_t off = 0;
		int in;

		if (!f->saved)
			continue;
		in = open(src, O_RDONLY | O_CLOEXEC);
		if (in < 0 || fstat(in, &st)) {
			pr_perror("can't read the contents of '%s' (%s)", f->path, src);
			if (in >= 0)
				close(in);
			return -1;
		}
		img = img_create(d, IMG_GHOST, f->id);
		if (!img) {
			close(in);
			return -1;
		}
		f->size = st.st_size;
		while (off < st.st_size) {
			ssize_t n = sendfile(img->fd, in, &off, st.st_size - off);

			if (n <= 0) {
				if (n < 0 && errno == EINTR)
					continue;
				pr_perror("can't save the contents of '%s'", f->path);
				close(in);
				return -1;
			}
		}
		close(in);
		pr_debug("saved '%s' (%lld bytes)%s", f->path, (long long)st.st_size,
			 f->deleted ? ", deleted" : "");
	}
	return 0;
}

/* Where the file is made: its old path if free, else an anonymous one. */
static int make_file(const RegFileEntry *f, char **made)
{
	char *copy = xstrdup(f->path), *dir = dirname(copy);
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
	fd = open(dir, O_RDWR | O_TMPFILE | O_CLOEXEC, f->mode & 07777);
	if (fd < 0)
		fd = open("/tmp", O_RDWR | O_TMPFILE | O_CLOEXEC, f->mode & 07777);
	free(copy);
	return fd;
}

/*
 * The file at the path, if it is the saved one still: a regular file of
 * the saved size, mode and mtime, byte for byte the saved contents. -1
 * if not (then the copy is made).
 */
static int same_file(const RegFileEntry *f, struct image *img, int rw)
{
	char a[65536], b[65536];
	uint64_t done = 0;
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
	while (done < f->size) {
		size_t n = f->size - done < sizeof(a) ? f->size - done : sizeof(a);

		if (pread(fd, a, n, done) != (ssize_t)n ||
		    pread(img->fd, b, n, IMG_PAGES_OFF + done) != (ssize_t)n ||
		    memcmp(a, b, n))
			goto differs;
		done += n;
	}
	return fd;
differs:
	close(fd);
	return -1;
}

int ghost_open(const RegFileEntry *f, struct img_dir *d, int rw)
{
	struct image *img = img_open(d, IMG_GHOST, f->id);
	char *made, path[64];
	off_t off = IMG_PAGES_OFF;
	int fd, rfd;

	if (!img)
		return -1;
	if ((uint64_t)(img->size - IMG_PAGES_OFF) != f->size) {
		pr_err("image '%s' is truncated: %zu bytes of '%s', %llu saved",
		       img->path, img->size - IMG_PAGES_OFF, f->path,
		       (unsigned long long)f->size);
		img_close(img);
		return -1;
	}
	if (!f->deleted && (fd = same_file(f, img, rw)) >= 0) {
		img_close(img);
		made = NULL;
		pr_debug("'%s' is the saved file still: using it", f->path);
		goto reopen;
	}
	fd = make_file(f, &made);
	if (fd < 0) {
		pr_perror("can't recreate the saved file '%s'", f->path);
		img_close(img);
		return -1;
	}
	while ((uint64_t)(off - IMG_PAGES_OFF) < f->size) {
		ssize_t n = sendfile(fd, img->fd, &off, f->size - (off - IMG_PAGES_OFF));

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			pr_perror("can't recreate the saved file '%s'", f->path);
			goto err;
		}
	}
	img_close(img);
	img = NULL;
	/*
	 * What fstat showed of it: the mode whole (the umask took bits from
	 * the one given to open) and the mtime of the checkpoint.
	 */
	if (fchmod(fd, f->mode & 07777) ||
	    (f->has_mtime_ns && futimens(fd, (struct timespec[2]){
			{ .tv_nsec = UTIME_OMIT },
			{ f->mtime_ns / 1000000000, f->mtime_ns % 1000000000 } }))) {
		pr_perror("can't give the saved file '%s' its mode and mtime", f->path);
		goto err;
	}
reopen:
	/* Reopen with the description's own flags, then it can go. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rfd = open(path, rw ? O_RDWR | O_CLOEXEC :
		   (f->flags & (O_ACCMODE | O_APPEND | O_NONBLOCK | O_SYNC | O_DSYNC |
				O_NOATIME | O_LARGEFILE)) | O_CLOEXEC);
	if (rfd < 0) {
		pr_perror("can't reopen the saved file '%s'", f->path);
		goto err;
	}
	close(fd);
	if (made) {
		unlink(made);
		free(made);
	}
	if (lseek(rfd, f->pos, SEEK_SET) < 0) {
		pr_perror("can't seek the saved file '%s'", f->path);
		close(rfd);
		return -1;
	}
	return rfd;
err:
	img_close(img);
	close(fd);
	if (made) {
		unlink(made);
		free(made);
	}
	return -1;
}
