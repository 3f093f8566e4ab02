/*
 * Pipes: one pipe_entry per pipe inode, however many fds in however many
 * processes hold its ends. The bytes in its buffer are copied with tee(2)
 * so the running tree loses nothing; at restore the pipe is made once,
 * given its capacity and its bytes, and every holder gets a dup of the end
 * it had. An end whose other end is not in the tree leads outside: it is
 * connected to crest's stdin or stdout (pipe_collected()).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch.h"
#include "files.h"
#include "files-ghost.h"
#include "files-kind.h"
#include "image.h"
#include "log.h"
#include "proc.h"
#include "pstree.h"
#include "util.h"

static int pipe_add(struct dump_files *df, const struct fd_dump *f, FdEntry *e)
{
	int i, n = df->nr_pipes, acc = f->fi->flags & O_ACCMODE;
	struct pipe_state *st;
	PipeEntry *p;

	for (i = 0; i < n; i++)
		if (df->pipes[i]->ino == f->st->st_ino)
			break;
	if (i == n) {
		p = xzalloc(sizeof(*p));
		pipe_entry__init(p);
		p->id = n + 1;
		p->ino = f->st->st_ino;
		if (f->link[0] == '/')
			p->path = xstrdup(f->link);
		if (f->link[0] == '/' && files_link_deleted(f->link) && f->st->st_nlink) {
			/* Linked elsewhere still: that FIFO, by its handle. */
			char src[64], *mnt;
			struct file_handle *fh;
			const char *why;

			snprintf(src, sizeof(src), "/proc/%d/fd/%d", f->pid, f->fd);
			fh = files_linked_handle(src, &mnt, &why);
			if (!fh) {
				pr_err("FIFO '%s': %s", f->link, why);
				return -1;
			}
			p->path[strlen(p->path) - 10] = 0;
			p->has_handle = p->has_handle_type = 1;
			p->handle.len = fh->handle_bytes;
			p->handle.data = xzalloc(fh->handle_bytes);
			memcpy(p->handle.data, fh->f_handle, fh->handle_bytes);
			p->handle_type = fh->handle_type;
			p->handle_mnt = mnt;
			p->has_handle_dev = p->has_handle_ino = 1;
			p->handle_dev = f->st->st_dev;
			p->handle_ino = f->st->st_ino;
			free(fh);
		} else if (f->link[0] == '/' && files_link_deleted(f->link)) {
			/* Deleted while open: made again at restore, removed again. */
			const struct stat *st = f->st;

			p->path[strlen(p->path) - 10] = 0;
			p->has_deleted = p->deleted = 1;
			p->has_mode = p->has_uid = p->has_gid = 1;
			p->mode = st->st_mode;
			p->uid = st->st_uid;
			p->gid = st->st_gid;
			p->has_atime_ns = p->has_mtime_ns = 1;
			p->atime_ns = st->st_atim.tv_sec * 1000000000ULL + st->st_atim.tv_nsec;
			p->mtime_ns = st->st_mtim.tv_sec * 1000000000ULL + st->st_mtim.tv_nsec;
		}
		df->pipes = xrealloc(df->pipes, (n + 1) * sizeof(p));
		df->pipes_st = xrealloc(df->pipes_st, (n + 1) * sizeof(*df->pipes_st));
		df->pipes[n] = p;
		memset(&df->pipes_st[n], 0, sizeof(df->pipes_st[n]));
		df->pipes_st[n].pid = f->pid;
		df->pipes_st[n].fd = f->fd;
		df->nr_pipes++;
	}
	p = df->pipes[i];
	st = &df->pipes_st[i];
	/* O_RDWR (a FIFO, or /proc/PID/fd/N reopened) is both ends. */
	if (acc == O_RDONLY || acc == O_RDWR) {
		/* peek_pipe() tees from a copy of this fd: a read end if any. */
		if (!st->reader) {
			st->pid = f->pid;
			st->fd = f->fd;
		}
		st->reader = true;
	}
	if (acc != O_RDONLY)
		st->writer = true;
	e->file_id = p->id;
	/* Each open file description of it, found with kcmp. */
	e->has_desc_id = 1;
	for (size_t d = 0; d < p->n_descs; d++) {
		if (files_same_description(f->pid, f->fd, st->descs[d].pid,
					   st->descs[d].fd)) {
			e->desc_id = d + 1;
			return 0;
		}
	}
	p->descs = xrealloc(p->descs, (p->n_descs + 1) * sizeof(*p->descs));
	st->descs = xrealloc(st->descs, (p->n_descs + 1) * sizeof(*st->descs));
	p->descs[p->n_descs] = f->fi->flags & ~O_CLOEXEC;
	st->descs[p->n_descs] = (struct file_owner){ 0, 0, f->pid, f->fd, NULL };
	e->desc_id = ++p->n_descs;
	return 0;
}

/* A pipe, or a FIFO (at its path, or deleted: made again). */
static bool pipe_recognise(const struct fd_dump *f)
{
	if (!S_ISFIFO(f->st->st_mode) || (f->fi->flags & O_PATH))
		return false;	/* an O_PATH fd on a FIFO is only a path: files-reg.c */
	return !strncmp(f->link, "pipe:", 5) || f->link[0] == '/';
}

static int pipe_dump(struct dump_files *df, const struct fd_dump *f, FdEntry *e)
{
	char what[32], src[64];

	snprintf(what, sizeof(what), "fd %d", f->fd);
	snprintf(src, sizeof(src), "/proc/%d/fd/%d", f->pid, f->fd);
	if (files_refuse_linked(f->pid, what, f->link, f->st, src))
		return 0;
	return pipe_add(df, f, e);
}

static int pipe_check(const struct restore_files *rf)
{
	int ret = 0;

	for (int i = 0; i < rf->nr_pipes; i++) {
		struct stat st;

		if (!rf->pipes[i]->path || rf->pipes[i]->deleted || rf->pipes[i]->has_handle)
			continue;	/* a pipe, a FIFO crest makes or finds by handle */
		if (stat(rf->pipes[i]->path, &st)) {
			pr_perror("restore needs the FIFO '%s'", rf->pipes[i]->path);
			ret = -1;
		} else if (!S_ISFIFO(st.st_mode)) {
			pr_err("'%s' is no longer a FIFO", rf->pipes[i]->path);
			ret = -1;
		}
	}
	return ret;
}

/*
 * A deleted FIFO the tree also holds with O_PATH (or a watch keeps as a
 * node): that node is an entry of files-reg.c, made again there; the
 * FIFO is opened through it at restore (node_id), one inode for both.
 * The first entry of the inode: any later one is tied to it (ghost_id).
 */
static int tie_nodes(struct dump_files *df)
{
	for (int k = 0; k < df->nr_pipes; k++) {
		PipeEntry *p = df->pipes[k];
		char path[64];
		struct stat st;

		if (!p->deleted)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", df->pipes_st[k].pid,
			 df->pipes_st[k].fd);
		if (stat(path, &st)) {
			pr_perror("can't stat the deleted FIFO '%s' (%s)", p->path, path);
			return -1;
		}
		for (int i = 0; i < df->nr_files; i++) {
			const RegFileEntry *f = df->files[i];

			if (f->deleted && !f->saved && S_ISFIFO(f->mode) &&
			    df->files_own[i].dev == st.st_dev &&
			    df->files_own[i].ino == st.st_ino) {
				p->has_node_id = 1;
				p->node_id = f->id;
				break;
			}
		}
	}
	return 0;
}

static int pipe_collected(struct dump_files *df, struct pstree *t)
{
	for (int k = 0; k < t->nr; k++) {
		struct pstree_item *it = t->items[k];

		for (int j = 0; j < it->nr_fds; j++) {
			FdEntry *e = it->fds[j];
			int i;

			if (e->kind != FD_KIND__FD_PIPE)
				continue;
			for (i = 0; i < df->nr_pipes; i++)
				if (df->pipes[i]->id == e->file_id)
					break;
			/* A FIFO is reopened by its path, whoever holds the other end. */
			if ((df->pipes_st[i].reader && df->pipes_st[i].writer) ||
			    df->pipes[i]->path)
				continue;
			/* BLCR's rule: the outside is crest's stdin or stdout. */
			e->kind = FD_KIND__FD_EXTERNAL;
			e->has_ext_fd = 1;
			e->ext_fd = (e->flags & O_ACCMODE) == O_RDONLY ? 0 : 1;
			pr_debug("fd %u of %d: %s leads outside, crest's fd %u at restore",
				 e->fd, it->pid, e->desc, e->ext_fd);
		}
	}
	return tie_nodes(df);
}

/*
 * An fd of the pipe to tee from. A copy of the task's own fd
 * (pidfd_getfd: crest traces the task, so it may) works whoever made the
 * pipe; opening /proc/PID/fd/N would check the pipe's owner and mode
 * against crest's uid and fail for an unprivileged crest on a pipe
 * another user made (a job's stdin from a daemon). tee(2) with
 * SPLICE_F_NONBLOCK neither blocks nor consumes, whatever the
 * description's flags, so sharing the task's description is harmless.
 * When the tree holds no read end of a pipe its bytes are the outside
 * reader's, who keeps them (*write_only: nothing to read); a FIFO's are
 * read through a read end opened from our copy.
 */
static int pipe_read_fd(pid_t pid, int fd, const PipeEntry *p, char *path,
			size_t len, bool *write_only)
{
	int got = pidfd_take(pid, fd), acc, rfd;

	snprintf(path, len, "fd %d of process %d", fd, pid);
	*write_only = false;
	if (got < 0)
		return -1;
	acc = fcntl(got, F_GETFL);
	if (acc >= 0 && (acc & O_ACCMODE) != O_WRONLY)
		return got;
	if (!p->path) {
		*write_only = true;
		return got;
	}
	snprintf(path, len, "/proc/self/fd/%d", got);
	rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (rfd < 0)
		pr_perror("can't open a read end of the pipe at fd %d of process %d",
			  fd, pid);
	close(got);
	snprintf(path, len, "fd %d of process %d", fd, pid);
	return rfd;
}

/* Read the bytes of a pipe without taking them: tee into our own pipe. */
static int peek_pipe(pid_t pid, int fd, PipeEntry *p, char **data)
{
	char path[64];
	int pfd, tmp[2] = { -1, -1 }, ret = -1;
	bool write_only;
	ssize_t n;

	*data = NULL;
	pfd = pipe_read_fd(pid, fd, p, path, sizeof(path), &write_only);
	if (pfd < 0)
		return -1;
	n = fcntl(pfd, F_GETPIPE_SZ);
	if (n < 0) {
		pr_perror("can't get the size of the pipe at %s", path);
		goto out;
	}
	p->size = n;
	if (write_only) {
		p->data_len = 0;
		*data = xzalloc(1);
		p->crc = arch_crc32c(0, *data, 0);
		ret = 0;
		goto out;
	}
	if (pipe2(tmp, O_CLOEXEC | O_NONBLOCK)) {
		pr_perror("can't create a pipe");
		goto out;
	}
	if (fcntl(tmp[1], F_SETPIPE_SZ, p->size) < 0) {
		pr_perror("can't size a pipe to %u bytes", p->size);
		goto out;
	}
	n = tee(pfd, tmp[1], p->size, SPLICE_F_NONBLOCK);
	if (n < 0 && errno != EAGAIN) {
		pr_perror("can't copy the contents of the pipe at %s", path);
		goto out;
	}
	p->data_len = n > 0 ? n : 0;
	*data = xzalloc(p->data_len + 1);
	if (p->data_len && read_all(tmp[0], *data, p->data_len)) {
		pr_perror("can't read the copy of the pipe at %s", path);
		goto out;
	}
	p->crc = arch_crc32c(0, *data, p->data_len);
	ret = 0;
out:
	close(pfd);
	if (tmp[0] >= 0) {
		close(tmp[0]);
		close(tmp[1]);
	}
	return ret;
}

static int pipe_contents(struct dump_files *df, struct img_dir *d)
{
	struct image *img = img_create(d, IMG_PIPES_DATA, 0);

	if (!img)
		return -1;
	for (int i = 0; i < df->nr_pipes; i++) {
		char *data;

		if (peek_pipe(df->pipes_st[i].pid, df->pipes_st[i].fd,
			      df->pipes[i], &data))
			return -1;
		if (write_all(img->fd, data, df->pipes[i]->data_len)) {
			pr_perror("can't write '%s'", img->path);
			free(data);
			return -1;
		}
		free(data);
	}
	return 0;
}

static int pipe_write(struct dump_files *df, struct img_dir *d)
{
	return files_write_msgs(d, IMG_PIPES, 0, (void **)df->pipes, df->nr_pipes);
}

static int pipe_read(struct restore_files *rf, struct img_dir *d)
{
	return files_read_msgs(d, IMG_PIPES, 0, (void ***)&rf->pipes, &rf->nr_pipes);
}

/* The bytes of pipe p from the image at *off, checked. */
static char *read_data(struct image *img, const PipeEntry *p, uint64_t *off)
{
	char *buf;

	if (p->data_len > p->size || p->size > (256u << 20)) {
		pr_err("image '%s' is corrupt: pipe %u holds %u bytes in %u",
		       img->path, p->id, p->data_len, p->size);
		return NULL;
	}
	buf = xzalloc(p->data_len + 1);
	if (pread(img->fd, buf, p->data_len, *off) != p->data_len) {
		pr_err("image '%s' is truncated at offset %llu", img->path,
		       (unsigned long long)*off);
		free(buf);
		return NULL;
	}
	if (arch_crc32c(0, buf, p->data_len) != p->crc) {
		pr_err("image '%s' is corrupt at offset %llu: pipe data checksum mismatch",
		       img->path, (unsigned long long)*off);
		free(buf);
		return NULL;
	}
	*off += p->data_len;
	return buf;
}

/*
 * A FIFO: held open read-write first, so that opening either end alone
 * never waits for the other, then refilled. Writing to a FIFO sets the
 * mtime of the file: put back as it was before.
 */
static int make_fifo(const PipeEntry *p, const char *path, const char *buf,
		     int fds[2], int base)
{
	struct stat st;
	int keep = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (keep < 0 || fstat(keep, &st)) {
		pr_perror("can't open the FIFO '%s'", p->path);
		goto err;
	}
	fcntl(keep, F_SETPIPE_SZ, p->size);
	if (p->data_len && write_all(keep, buf, p->data_len)) {
		pr_perror("can't refill the FIFO '%s'", p->path);
		goto err;
	}
	if (p->data_len) {
		struct timespec times[2] = { st.st_atim, st.st_mtim };

		if (futimens(keep, times)) {
			pr_perror("can't put back the times of the FIFO '%s'", p->path);
			goto err;
		}
	}
	fds[0] = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	fds[1] = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fds[0] < 0 || fds[1] < 0) {
		pr_perror("can't reopen the FIFO '%s'", p->path);
		goto err;
	}
	/* Held by crest until the end, like every service fd. */
	return files_to_service(keep, base) < 0 ? -1 : 0;
err:
	if (keep >= 0)
		close(keep);
	return -1;
}

static int make_pipe(const PipeEntry *p, const char *buf, int fds[2])
{
	if (pipe2(fds, O_CLOEXEC)) {
		pr_perror("can't create a pipe");
		return -1;
	}
	if (fcntl(fds[1], F_SETPIPE_SZ, p->size) < 0)
		pr_warn("can't give a pipe its %u bytes of capacity: %s",
			p->size, strerror(errno));
	if (p->data_len && write_all(fds[1], buf, p->data_len)) {
		pr_perror("can't refill a pipe");
		return -1;
	}
	return 0;
}

/*
 * Each open file description: the first read-only and write-only ones
 * are the ends made above; any other (O_RDWR, or a second open of the
 * same FIFO or of /proc/PID/fd/N) is opened again, a description of its
 * own. Status flags are the task's to set (files_restore_fds()).
 */
static int open_descs(struct restore_files *rf, int i, const char *fifo,
		      const int fds[2])
{
	const PipeEntry *p = rf->pipes[i];
	bool used[2] = { false, false };

	rf->pipe_desc_fd[i] = xzalloc((p->n_descs + 1) * sizeof(int));
	for (size_t d = 0; d < p->n_descs; d++) {
		int acc = p->descs[d] & O_ACCMODE, fd, end = acc == O_RDONLY ? 0 : 1;
		char path[64];

		if (acc != O_RDWR && !used[end]) {
			used[end] = true;
			rf->pipe_desc_fd[i][d] = rf->pipe_fd[i][end];
			continue;
		}
		if (fifo) {
			fd = open(fifo, acc | O_NONBLOCK | O_CLOEXEC);
		} else {
			snprintf(path, sizeof(path), "/proc/self/fd/%d", rf->pipe_fd[i][0]);
			fd = open(path, acc | O_NONBLOCK | O_CLOEXEC);
		}
		if (fd < 0) {
			pr_perror("can't open pipe %u again (%s)", p->id,
				  p->path ? p->path : "an anonymous pipe");
			return -1;
		}
		rf->pipe_desc_fd[i][d] = files_to_service(fd, rf->base);
		if (rf->pipe_desc_fd[i][d] < 0)
			return -1;
	}
	return 0;
}

/* A FIFO deleted while open, made again as a node (files-ghost.c). */
static int deleted_fifo(const PipeEntry *p, char **made)
{
	RegFileEntry f;

	reg_file_entry__init(&f);
	f.id = p->id;
	f.path = p->path;
	f.mode = p->has_mode ? p->mode : S_IFIFO | 0600;
	if (!S_ISFIFO(f.mode) || !p->path) {
		pr_err("pipe %u: a deleted FIFO of mode %o", p->id, f.mode);
		return -1;
	}
	f.has_uid = p->has_uid;
	f.uid = p->uid;
	f.has_gid = p->has_gid;
	f.gid = p->gid;
	f.has_atime_ns = p->has_atime_ns;
	f.atime_ns = p->atime_ns;
	f.has_mtime_ns = p->has_mtime_ns;
	f.mtime_ns = p->mtime_ns;
	return ghost_node_make(&f, made);
}

/*
 * A FIFO unlinked under its path but linked elsewhere at the dump: an
 * O_PATH fd on it by its handle, linked at its path again for the opens
 * (*made: ghost_node_remove() unlinks it after); where that path is
 * taken, opened through self, its /proc/self/fd link.
 */
static int linked_fifo(const PipeEntry *p, char **made, char self[64])
{
	int fd = files_handle_open(p->path, p->handle_mnt, p->handle_dev,
				   p->handle_ino, &p->handle, p->handle_type);

	*made = NULL;
	if (fd < 0)
		return -1;
	snprintf(self, 64, "/proc/self/fd/%d", fd);
	if (!linkat(AT_FDCWD, self, AT_FDCWD, p->path, AT_SYMLINK_FOLLOW))
		*made = xstrdup(p->path);
	else
		pr_warn("the FIFO '%s' can't be linked again for its opens (%s): /proc names it by another of its links",
			p->path, strerror(errno));
	return fd;
}

static int pipe_open(struct restore_files *rf, struct img_dir *d,
		     MmEntry **mms, int nr_mms)
{
	uint64_t off = IMG_PAGES_OFF;
	struct image *img;
	int ret = -1;

	rf->pipe_fd = xzalloc((rf->nr_pipes + 1) * sizeof(*rf->pipe_fd));
	rf->pipe_desc_fd = xzalloc((rf->nr_pipes + 1) * sizeof(*rf->pipe_desc_fd));
	img = img_open(d, IMG_PIPES_DATA, 0);
	if (!img)
		return -1;
	for (int i = 0; i < rf->nr_pipes; i++) {
		PipeEntry *p = rf->pipes[i];
		char *buf = read_data(img, p, &off);
		int fds[2] = { -1, -1 }, err;
		char *made = NULL, *fifo = p->path, self[64];
		int node = -1;

		if (!buf)
			goto out;
		if (p->deleted && p->has_node_id) {
			/* Its node, made by files-reg.c: opened through it. */
			int nfd = files_exe_fd(rf, p->node_id);

			if (nfd < 0) {
				pr_err("image pipes.img is corrupt: the deleted FIFO %u names file %u, not in files.img",
				       p->id, p->node_id);
				free(buf);
				goto out;
			}
			snprintf(self, sizeof(self), "/proc/self/fd/%d", nfd);
			fifo = self;
		} else if (p->deleted && (node = deleted_fifo(p, &made)) < 0) {
			free(buf);
			goto out;
		}
		if (p->has_handle && (node = linked_fifo(p, &made, self)) < 0) {
			free(buf);
			goto out;
		}
		if (made)
			fifo = made;
		else if (p->has_handle || p->has_node_id)
			fifo = self;
		err = fifo ? make_fifo(p, fifo, buf, fds, rf->base) : make_pipe(p, buf, fds);
		free(buf);
		if (!err) {
			rf->pipe_fd[i][0] = files_to_service(fds[0], rf->base);
			rf->pipe_fd[i][1] = files_to_service(fds[1], rf->base);
			fds[0] = fds[1] = -1;
			err = rf->pipe_fd[i][0] < 0 || rf->pipe_fd[i][1] < 0 ||
			      open_descs(rf, i, fifo, rf->pipe_fd[i]);
		}
		if (node >= 0) {
			/* Every description is open: it can go again. */
			ghost_node_remove(node, made);
			close(node);
		}
		if (err) {
			if (fds[0] >= 0)
				close(fds[0]);
			if (fds[1] >= 0)
				close(fds[1]);
			goto out;
		}
	}
	ret = 0;
out:
	img_close(img);
	return ret;
}

static int pipe_index(const struct restore_files *rf, uint32_t id)
{
	for (int i = 0; i < rf->nr_pipes; i++)
		if (rf->pipes[i]->id == id)
			return i;
	return -1;
}

int files_deleted_fifo_fd(const struct restore_files *rf, uint32_t id)
{
	int i = pipe_index(rf, id);

	if (i < 0 || !rf->pipe_fd || !rf->pipes[i]->deleted)
		return -1;
	return rf->pipe_fd[i][0];
}

static int pipe_service_fd(const struct restore_files *rf, const FdEntry *e)
{
	int i = pipe_index(rf, e->file_id);

	if (i < 0 || !rf->pipe_fd)
		return -1;
	if (e->has_desc_id) {
		if (!e->desc_id || e->desc_id > rf->pipes[i]->n_descs)
			return -1;
		return rf->pipe_desc_fd[i][e->desc_id - 1];
	}
	return rf->pipe_fd[i][(e->flags & O_ACCMODE) == O_RDONLY ? 0 : 1];
}

static void pipe_show(const struct restore_files *rf, const FdEntry *e,
		      char *buf, size_t len)
{
	int i = pipe_index(rf, e->file_id);
	const char *end = (e->flags & O_ACCMODE) == O_RDONLY ? "read" : "write";

	if (i < 0)
		snprintf(buf, len, "pipe %u, not in the images", e->file_id);
	else if (rf->pipes[i]->path)
		snprintf(buf, len, "FIFO '%s', %s end, %u bytes in it",
			 rf->pipes[i]->path, end, rf->pipes[i]->data_len);
	else
		snprintf(buf, len, "pipe:[%llu], %s end, %u bytes in it",
			 (unsigned long long)rf->pipes[i]->ino, end,
			 rf->pipes[i]->data_len);
}

const struct fd_kind_ops pipe_fd_ops = {
	.name		= "pipe",
	.kind		= FD_KIND__FD_PIPE,
	.recognise	= pipe_recognise,
	.dump		= pipe_dump,
	.collected	= pipe_collected,
	.contents	= pipe_contents,
	.write		= pipe_write,
	.read		= pipe_read,
	.check		= pipe_check,
	.open		= pipe_open,
	.service_fd	= pipe_service_fd,
	.show		= pipe_show,
};
