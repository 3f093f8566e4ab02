/*
 * Open files: what each fd points at, dumped from /proc/PID/fd and
 * fdinfo, reopened by path at restore. Mapped files share the same table.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "image.h"
#include "log.h"
#include "proc.h"
#include "util.h"

static uint32_t add_file(struct dump_files *df, const char *path,
			 const struct stat *st, uint32_t flags, uint64_t pos)
{
	RegFileEntry *f = xzalloc(sizeof(*f));
	int n = df->nr_files;

	reg_file_entry__init(f);
	f->id = n + 1;
	f->path = xstrdup(path);
	f->flags = flags;
	f->pos = pos;
	f->size = st->st_size;
	f->mode = st->st_mode;
	f->has_mtime_ns = 1;
	f->mtime_ns = st->st_mtim.tv_sec * 1000000000ULL + st->st_mtim.tv_nsec;
	df->files = xrealloc(df->files, (n + 1) * sizeof(*df->files));
	df->dev = xrealloc(df->dev, (n + 1) * sizeof(*df->dev));
	df->ino = xrealloc(df->ino, (n + 1) * sizeof(*df->ino));
	df->files[n] = f;
	df->dev[n] = st->st_dev;
	df->ino[n] = st->st_ino;
	df->nr_files++;
	return f->id;
}

int files_add_mapped(struct dump_files *df, const char *path,
		     const struct stat *st, uint32_t *id)
{
	for (int i = 0; i < df->nr_files; i++) {
		if (df->dev[i] == st->st_dev && df->ino[i] == st->st_ino &&
		    df->files[i]->flags == O_RDONLY) {
			*id = df->files[i]->id;
			return 0;
		}
	}
	*id = add_file(df, path, st, O_RDONLY, 0);
	return 0;
}

static void add_fd(struct dump_files *df, int fd, FdKind kind, uint32_t id,
		   int cloexec, const char *desc)
{
	FdEntry *e = xzalloc(sizeof(*e));

	fd_entry__init(e);
	e->fd = fd;
	e->kind = kind;
	e->file_id = id;
	e->cloexec = cloexec;
	e->desc = xstrdup(desc);
	df->fds = xrealloc(df->fds, (df->nr_fds + 1) * sizeof(*df->fds));
	df->fds[df->nr_fds++] = e;
}

static int is_tty(const char *link)
{
	return !strncmp(link, "/dev/pts/", 9) || !strncmp(link, "/dev/tty", 8) ||
	       !strcmp(link, "/dev/console") || !strcmp(link, "/dev/ptmx");
}

/* Name what an fd we can't handle is, for the error message. */
static const char *fd_kind_name(const struct stat *st, const char *link)
{
	if (S_ISSOCK(st->st_mode))
		return "a socket";
	if (S_ISFIFO(st->st_mode))
		return strncmp(link, "pipe:", 5) ? "a FIFO" : "a pipe";
	if (S_ISCHR(st->st_mode))
		return "a terminal";
	if (S_ISBLK(st->st_mode))
		return "a block device";
	if (!strncmp(link, "anon_inode:", 11))
		return link + 11;
	return "an unknown kind of file";
}

static int dump_one_fd(struct dump_files *df, pid_t pid, int fd)
{
	char path[64], *link, *info;
	struct proc_fdinfo fi;
	struct stat st;
	int ret = -1;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	link = readlink_alloc(path);
	if (!link || stat(path, &st)) {
		pr_perror("can't inspect fd %d of process %d", fd, pid);
		free(link);
		return -1;
	}
	snprintf(path, sizeof(path), "fdinfo/%d", fd);
	info = read_proc(pid, path, NULL);
	if (!info || proc_parse_fdinfo(info, &fi)) {
		pr_err("can't parse /proc/%d/fdinfo/%d", pid, fd);
		goto out;
	}

	if ((S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) && link[0] == '/') {
		size_t len = strlen(link);

		if (len > 10 && !strcmp(link + len - 10, " (deleted)")) {
			pr_err("fd %d of process %d is a deleted file '%s', not supported yet",
			       fd, pid, link);
			goto out;
		}
		add_fd(df, fd, FD_KIND__FD_REG, add_file(df, link, &st, fi.flags, fi.pos),
		       !!(fi.flags & O_CLOEXEC), link);
		ret = 0;
	} else if (fd <= 2 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
			       (S_ISCHR(st.st_mode) && is_tty(link)))) {
		/* A terminal or pipe leading outside: crest's own at restore. */
		add_fd(df, fd, FD_KIND__FD_EXTERNAL, 0, !!(fi.flags & O_CLOEXEC), link);
		ret = 0;
	} else if (S_ISCHR(st.st_mode) && !is_tty(link) && link[0] == '/') {
		add_fd(df, fd, FD_KIND__FD_CHR, add_file(df, link, &st, fi.flags, 0),
		       !!(fi.flags & O_CLOEXEC), link);
		ret = 0;
	} else {
		pr_err("fd %d of process %d is %s (%s), not supported yet",
		       fd, pid, fd_kind_name(&st, link), link);
	}
out:
	free(info);
	free(link);
	return ret;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int files_dump_fds(struct dump_files *df, pid_t pid)
{
	char path[64];
	struct dirent *de;
	int *fds = NULL, nr = 0, ret = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir) {
		pr_perror("can't list the fds of process %d", pid);
		return -1;
	}
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		fds = xrealloc(fds, (nr + 1) * sizeof(*fds));
		fds[nr++] = atoi(de->d_name);
	}
	closedir(dir);
	qsort(fds, nr, sizeof(*fds), cmp_int);
	for (int i = 0; i < nr && !ret; i++)
		ret = dump_one_fd(df, pid, fds[i]);
	free(fds);
	return ret;
}

int files_write(struct dump_files *df, struct img_dir *d, pid_t pid)
{
	struct image *files = img_create(d, IMG_FILES, 0);
	struct image *fdinfo = img_create(d, IMG_FDINFO, pid);
	int i;

	if (!files || !fdinfo)
		return -1;
	for (i = 0; i < df->nr_files; i++)
		if (img_write_msg(files, &df->files[i]->base))
			return -1;
	for (i = 0; i < df->nr_fds; i++)
		if (img_write_msg(fdinfo, &df->fds[i]->base))
			return -1;
	return 0;
}

/* ---- restore ---- */

int files_read(struct restore_files *rf, struct img_dir *d, pid_t pid)
{
	struct image *img;
	void *msg;
	int ret;

	memset(rf, 0, sizeof(*rf));
	img = img_open(d, IMG_FILES, 0);
	if (!img)
		return -1;
	while ((ret = img_read_msg(img, &msg)) > 0) {
		rf->files = xrealloc(rf->files, (rf->nr_files + 1) * sizeof(msg));
		rf->files[rf->nr_files++] = msg;
	}
	img_close(img);
	if (ret < 0)
		return -1;

	img = img_open(d, IMG_FDINFO, pid);
	if (!img)
		return -1;
	while ((ret = img_read_msg(img, &msg)) > 0) {
		FdEntry *e = msg;

		if (e->kind != FD_KIND__FD_EXTERNAL && !files_by_id(rf, e->file_id)) {
			pr_err("image '%s': fd %u names file id %u, which files.img lacks",
			       img->path, e->fd, e->file_id);
			ret = -1;
			break;
		}
		rf->fds = xrealloc(rf->fds, (rf->nr_fds + 1) * sizeof(msg));
		rf->fds[rf->nr_fds++] = msg;
	}
	img_close(img);
	return ret < 0 ? -1 : 0;
}

const RegFileEntry *files_by_id(const struct restore_files *rf, uint32_t id)
{
	for (int i = 0; i < rf->nr_files; i++)
		if (rf->files[i]->id == id)
			return rf->files[i];
	return NULL;
}

int files_check(const struct restore_files *rf)
{
	int ret = 0;

	for (int i = 0; i < rf->nr_files; i++) {
		const RegFileEntry *f = rf->files[i];
		struct stat st;

		if (stat(f->path, &st)) {
			pr_perror("restore needs '%s'", f->path);
			ret = -1;
			continue;
		}
		if ((st.st_mode & S_IFMT) != (f->mode & S_IFMT)) {
			pr_err("'%s' is no longer the same kind of file", f->path);
			ret = -1;
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		/*
		 * A file open for writing may have grown since (a log the
		 * program appends to); it may not have lost what the program
		 * read or wrote up to its offset. Anything else must be as it
		 * was.
		 */
		if ((f->flags & O_ACCMODE) != O_RDONLY) {
			if ((uint64_t)st.st_size < f->pos) {
				pr_err("'%s' has shrunk to %lld bytes, below the saved offset %llu",
				       f->path, (long long)st.st_size,
				       (unsigned long long)f->pos);
				ret = -1;
			}
		} else if ((uint64_t)st.st_size != f->size) {
			pr_err("'%s' has changed size: %llu bytes at checkpoint, %lld now",
			       f->path, (unsigned long long)f->size,
			       (long long)st.st_size);
			ret = -1;
		}
	}
	return ret;
}

#define REOPEN_FLAGS (O_ACCMODE | O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME | \
		      O_SYNC | O_DSYNC | O_DIRECTORY | O_PATH | O_LARGEFILE | O_NOFOLLOW)

int files_restore_fds(const struct restore_files *rf)
{
	for (int i = 0; i < rf->nr_fds; i++) {
		const FdEntry *e = rf->fds[i];
		const RegFileEntry *f;
		int tmp;

		if (e->kind == FD_KIND__FD_EXTERNAL) {
			if (fcntl(e->fd, F_GETFD) < 0) {
				pr_err("fd %u leads outside the checkpoint (%s) but crest has no fd %u to give it",
				       e->fd, e->desc, e->fd);
				return -1;
			}
			if (fcntl(e->fd, F_SETFD, e->cloexec ? FD_CLOEXEC : 0)) {
				pr_perror("can't set flags of fd %u", e->fd);
				return -1;
			}
			continue;
		}
		f = files_by_id(rf, e->file_id);
		tmp = open(f->path, f->flags & REOPEN_FLAGS);
		if (tmp < 0) {
			pr_perror("can't reopen '%s' for fd %u", f->path, e->fd);
			return -1;
		}
		if (S_ISREG(f->mode) && !(f->flags & O_PATH) &&
		    lseek(tmp, f->pos, SEEK_SET) != (off_t)f->pos) {
			pr_perror("can't seek '%s' to %llu", f->path,
				  (unsigned long long)f->pos);
			close(tmp);
			return -1;
		}
		if (tmp != (int)e->fd) {
			if (dup3(tmp, e->fd, e->cloexec ? O_CLOEXEC : 0) < 0) {
				pr_perror("can't put '%s' at fd %u", f->path, e->fd);
				close(tmp);
				return -1;
			}
			close(tmp);
		} else if (e->cloexec && fcntl(tmp, F_SETFD, FD_CLOEXEC)) {
			pr_perror("can't set flags of fd %u", e->fd);
			return -1;
		}
	}
	return 0;
}

int files_open_mapped(const RegFileEntry *f, int shared_write)
{
	int fd = open(f->path, (shared_write ? O_RDWR : O_RDONLY) | O_CLOEXEC);

	if (fd < 0)
		pr_perror("can't open mapped file '%s'", f->path);
	return fd;
}
