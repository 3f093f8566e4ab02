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
#include <unistd.h>

#include "arch.h"
#include "files.h"
#include "files-kind.h"
#include "image.h"
#include "log.h"
#include "proc.h"
#include "pstree.h"
#include "util.h"

static uint32_t pipe_add(struct dump_files *df, pid_t pid, int fd, uint64_t ino,
			 const struct proc_fdinfo *fi)
{
	int i, n = df->nr_pipes;
	PipeEntry *p;

	for (i = 0; i < n; i++)
		if (df->pipes[i]->ino == ino)
			break;
	if (i == n) {
		p = xzalloc(sizeof(*p));
		pipe_entry__init(p);
		p->id = n + 1;
		p->ino = ino;
		df->pipes = xrealloc(df->pipes, (n + 1) * sizeof(p));
		df->pipes_st = xrealloc(df->pipes_st, (n + 1) * sizeof(*df->pipes_st));
		df->pipes[n] = p;
		memset(&df->pipes_st[n], 0, sizeof(df->pipes_st[n]));
		df->pipes_st[n].pid = pid;
		df->pipes_st[n].fd = fd;
		df->nr_pipes++;
	}
	if ((fi->flags & O_ACCMODE) == O_RDONLY)
		df->pipes_st[i].reader = true;
	else
		df->pipes_st[i].writer = true;
	return df->pipes[i]->id;
}

static uint32_t fifo_add(struct dump_files *df, pid_t pid, int fd, uint64_t ino,
			 const char *path, const struct proc_fdinfo *fi)
{
	uint32_t id = pipe_add(df, pid, fd, ino, fi);
	PipeEntry *p = df->pipes[id - 1];

	if (!p->path)
		p->path = xstrdup(path);
	return id;
}

/* A pipe, or a FIFO still at its path (a deleted one is refused). */
static bool pipe_recognise(const struct fd_dump *f)
{
	if (!S_ISFIFO(f->st->st_mode))
		return false;
	return !strncmp(f->link, "pipe:", 5) ||
	       (f->link[0] == '/' && !files_link_deleted(f->link));
}

static int pipe_dump(struct dump_files *df, const struct fd_dump *f, uint32_t *id)
{
	if (f->link[0] == '/')
		*id = fifo_add(df, f->pid, f->fd, f->st->st_ino, f->link, f->fi);
	else
		*id = pipe_add(df, f->pid, f->fd, f->st->st_ino, f->fi);
	return 0;
}

static int pipe_check(const struct restore_files *rf)
{
	int ret = 0;

	for (int i = 0; i < rf->nr_pipes; i++) {
		struct stat st;

		if (!rf->pipes[i]->path)
			continue;
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
	return 0;
}

/* Read the bytes of a pipe without taking them: tee into our own pipe. */
static int peek_pipe(pid_t pid, int fd, PipeEntry *p, char **data)
{
	char path[64];
	int pfd, tmp[2] = { -1, -1 }, ret = -1;
	ssize_t n;

	*data = NULL;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	pfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (pfd < 0) {
		pr_perror("can't open pipe '%s'", path);
		return -1;
	}
	n = fcntl(pfd, F_GETPIPE_SZ);
	if (n < 0) {
		pr_perror("can't get the size of pipe '%s'", path);
		goto out;
	}
	p->size = n;
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
		pr_perror("can't copy the contents of pipe '%s'", path);
		goto out;
	}
	p->data_len = n > 0 ? n : 0;
	*data = xzalloc(p->data_len + 1);
	if (p->data_len && read_all(tmp[0], *data, p->data_len)) {
		pr_perror("can't read the copy of pipe '%s'", path);
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

static int pipe_open(struct restore_files *rf, struct img_dir *d,
		     MmEntry **mms, int nr_mms)
{
	int base = rf->base;
	struct image *img;
	uint64_t off = IMG_PAGES_OFF;
	int ret = -1;

	rf->pipe_fd = xzalloc((rf->nr_pipes + 1) * sizeof(*rf->pipe_fd));
	img = img_open(d, IMG_PIPES_DATA, 0);
	if (!img)
		return -1;
	for (int i = 0; i < rf->nr_pipes; i++) {
		PipeEntry *p = rf->pipes[i];
		char *buf = xzalloc(p->data_len + 1);
		int fds[2];

		if (p->data_len > p->size || p->size > (256u << 20)) {
			pr_err("image '%s' is corrupt: pipe %u holds %u bytes in %u",
			       img->path, p->id, p->data_len, p->size);
			free(buf);
			goto out;
		}
		if (pread(img->fd, buf, p->data_len, off) != p->data_len) {
			pr_err("image '%s' is truncated at offset %llu", img->path,
			       (unsigned long long)off);
			free(buf);
			goto out;
		}
		if (arch_crc32c(0, buf, p->data_len) != p->crc) {
			pr_err("image '%s' is corrupt at offset %llu: pipe data checksum mismatch",
			       img->path, (unsigned long long)off);
			free(buf);
			goto out;
		}
		off += p->data_len;
		if (p->path) {
			/*
			 * Held open read-write first, so that opening either
			 * end alone never waits for the other.
			 */
			int keep = open(p->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);

			if (keep < 0) {
				pr_perror("can't open the FIFO '%s'", p->path);
				free(buf);
				goto out;
			}
			fcntl(keep, F_SETPIPE_SZ, p->size);
			if (p->data_len && write_all(keep, buf, p->data_len)) {
				pr_perror("can't refill the FIFO '%s'", p->path);
				close(keep);
				free(buf);
				goto out;
			}
			free(buf);
			fds[0] = open(p->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
			fds[1] = open(p->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
			if (fds[0] < 0 || fds[1] < 0) {
				pr_perror("can't reopen the FIFO '%s'", p->path);
				close(keep);
				goto out;
			}
			if (files_to_service(keep, base) < 0)
				goto out;
			rf->pipe_fd[i][0] = files_to_service(fds[0], base);
			rf->pipe_fd[i][1] = files_to_service(fds[1], base);
			if (rf->pipe_fd[i][0] < 0 || rf->pipe_fd[i][1] < 0)
				goto out;
			continue;
		}
		if (pipe2(fds, O_CLOEXEC)) {
			pr_perror("can't create a pipe");
			free(buf);
			goto out;
		}
		if (fcntl(fds[1], F_SETPIPE_SZ, p->size) < 0)
			pr_warn("can't give a pipe its %u bytes of capacity: %s",
				p->size, strerror(errno));
		if (p->data_len && write_all(fds[1], buf, p->data_len)) {
			pr_perror("can't refill a pipe");
			free(buf);
			goto out;
		}
		free(buf);
		rf->pipe_fd[i][0] = files_to_service(fds[0], base);
		rf->pipe_fd[i][1] = files_to_service(fds[1], base);
		if (rf->pipe_fd[i][0] < 0 || rf->pipe_fd[i][1] < 0)
			goto out;
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

static int pipe_service_fd(const struct restore_files *rf, const FdEntry *e)
{
	int i = pipe_index(rf, e->file_id);

	if (i < 0 || !rf->pipe_fd)
		return -1;
	return rf->pipe_fd[i][(e->flags & O_ACCMODE) == O_RDONLY ? 0 : 1];
}

/* The status flags of the description, once it is in place. */
static int pipe_post_open(const struct restore_files *rf, FdEntry **fds, int nr)
{
	for (int i = 0; i < nr; i++) {
		const FdEntry *e = fds[i];

		if (e->kind != FD_KIND__FD_PIPE || !e->has_flags)
			continue;
		if (fcntl(e->fd, F_SETFL, e->flags & (O_NONBLOCK | O_APPEND | O_DIRECT)) < 0) {
			pr_perror("can't set the flags of fd %u", e->fd);
			return -1;
		}
	}
	return 0;
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
	.post_open	= pipe_post_open,
	.show		= pipe_show,
};
