/*
 * Open files of the tree: what each fd points at (from /proc/PID/fd and
 * fdinfo), the file descriptions shared between fds (kcmp), and their
 * reopening at restore. Pipes are in files-pipe.c, memfds and shared
 * memory in shmem.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "files.h"
#include "files-anon.h"
#include "files-pipe.h"
#include "files-ghost.h"
#include "image.h"
#include "log.h"
#include "proc.h"
#include "pstree.h"
#include "shmem.h"
#include "util.h"

static uint32_t add_file(struct dump_files *df, const char *path,
			 const struct stat *st, uint32_t flags, uint64_t pos,
			 pid_t pid, int fd)
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
	df->files_own = xrealloc(df->files_own, (n + 1) * sizeof(*df->files_own));
	df->files[n] = f;
	df->files_own[n] = (struct file_owner){ st->st_dev, st->st_ino, pid, fd, NULL };
	df->nr_files++;
	return f->id;
}

static int is_deleted(const char *link);

/* Mark a file saved by content, read from src when the images are written. */
static void mark_saved(struct dump_files *df, uint32_t id, const char *src, int deleted)
{
	RegFileEntry *f = df->files[id - 1];

	f->has_saved = 1;
	f->saved = 1;
	if (deleted) {
		size_t len = strlen(f->path);

		f->has_deleted = 1;
		f->deleted = 1;
		if (is_deleted(f->path))
			f->path[len - 10] = 0;
	}
	if (!df->files_own[id - 1].src)
		df->files_own[id - 1].src = xstrdup(src);
}

int files_add_mapped_src(struct dump_files *df, const char *path,
			 const struct stat *st, const char *src, uint32_t *id)
{
	for (int i = 0; i < df->nr_files; i++) {
		if (df->files_own[i].fd < 0 && df->files_own[i].dev == st->st_dev &&
		    df->files_own[i].ino == st->st_ino) {
			*id = df->files[i]->id;
			return 0;
		}
	}
	*id = add_file(df, path, st, O_RDONLY, 0, 0, -1);
	df->files_own[*id - 1].src = src ? xstrdup(src) : NULL;
	if (is_deleted(path))
		mark_saved(df, *id, src, 1);
	return 0;
}

int files_add_mapped(struct dump_files *df, const char *path,
		     const struct stat *st, uint32_t *id)
{
	return files_add_mapped_src(df, path, st, path, id);
}

void files_save(struct dump_files *df, uint32_t id)
{
	mark_saved(df, id, df->files_own[id - 1].src ? df->files_own[id - 1].src :
		   df->files[id - 1]->path, 0);
}

/* Is (pid, fd) the same open file description as one already seen? */
int files_same_description(pid_t p1, int fd1, pid_t p2, int fd2)
{
	return syscall(SYS_kcmp, p1, p2, KCMP_FILE, fd1, fd2) == 0;
}

static uint32_t file_description(struct dump_files *df, pid_t pid, int fd,
				 const char *path, const struct stat *st,
				 const struct proc_fdinfo *fi)
{
	for (int i = 0; i < df->nr_files; i++) {
		const struct file_owner *o = &df->files_own[i];

		if (o->fd >= 0 && o->dev == st->st_dev && o->ino == st->st_ino &&
		    files_same_description(pid, fd, o->pid, o->fd))
			return df->files[i]->id;
	}
	return add_file(df, path, st, fi->flags & ~O_CLOEXEC, fi->pos, pid, fd);
}

static void add_fd(struct pstree_item *it, int fd, FdKind kind, uint32_t id,
		   const struct proc_fdinfo *fi, const char *desc)
{
	FdEntry *e = xzalloc(sizeof(*e));

	fd_entry__init(e);
	e->fd = fd;
	e->kind = kind;
	e->file_id = id;
	e->cloexec = !!(fi->flags & O_CLOEXEC);
	e->desc = xstrdup(desc);
	e->has_flags = 1;
	e->flags = fi->flags & ~O_CLOEXEC;
	if (kind == FD_KIND__FD_EXTERNAL) {
		e->has_ext_fd = 1;
		e->ext_fd = fd;
	}
	it->fds = xrealloc(it->fds, (it->nr_fds + 1) * sizeof(e));
	it->fds[it->nr_fds++] = e;
}

static int is_tty(const char *link)
{
	return !strncmp(link, "/dev/pts/", 9) || !strncmp(link, "/dev/tty", 8) ||
	       !strcmp(link, "/dev/console") || !strcmp(link, "/dev/ptmx");
}

static int is_deleted(const char *link)
{
	size_t len = strlen(link);

	return len > 10 && !strcmp(link + len - 10, " (deleted)");
}

/* Name what an fd we can't handle is, for the error message. */
static const char *fd_kind_name(const struct stat *st, const char *link)
{
	if (S_ISSOCK(st->st_mode))
		return "a socket";
	if (S_ISFIFO(st->st_mode))
		return "a FIFO";
	if (S_ISCHR(st->st_mode))
		return "a terminal";
	if (S_ISBLK(st->st_mode))
		return "a block device";
	if (!strncmp(link, "anon_inode:", 11))
		return link + 11;
	return "an unknown kind of file";
}

static int dump_one_fd(struct dump_files *df, struct pstree_item *it, int fd)
{
	char path[64], *link, *info;
	struct proc_fdinfo fi;
	struct stat st;
	pid_t pid = it->live;
	uint32_t id;
	int ret = -1, anon = 0;

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

	if (!strncmp(link, "anon_inode:", 11))
		anon = anon_add(df, pid, fd, link, info, &id);
	if (anon < 0) {
		goto out;
	} else if (anon > 0) {
		add_fd(it, fd, FD_KIND__FD_ANON, id, &fi, link);
		ret = 0;
	} else if (S_ISREG(st.st_mode) && !strncmp(link, "/memfd:", 7)) {
		if (shmem_dump_memfd_fd(df, pid, fd, link, &st, &fi, &id))
			goto out;
		add_fd(it, fd, FD_KIND__FD_MEMFD, id, &fi, link);
		ret = 0;
	} else if ((S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) && link[0] == '/') {
		id = file_description(df, pid, fd, link, &st, &fi);
		if (is_deleted(link)) {
			if (!S_ISREG(st.st_mode)) {
				pr_err("fd %d of process %d is a deleted directory '%s', not supported yet",
				       fd, pid, link);
				goto out;
			}
			/* Deleted while open: saved by content, back deleted. */
			snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
			mark_saved(df, id, path, 1);
		}
		add_fd(it, fd, FD_KIND__FD_REG, id, &fi, link);
		ret = 0;
	} else if (S_ISFIFO(st.st_mode) && link[0] == '/' && !is_deleted(link)) {
		add_fd(it, fd, FD_KIND__FD_PIPE,
		       fifo_add(df, pid, fd, st.st_ino, link, &fi), &fi, link);
		ret = 0;
	} else if (S_ISFIFO(st.st_mode) && !strncmp(link, "pipe:", 5)) {
		add_fd(it, fd, FD_KIND__FD_PIPE,
		       pipe_add(df, pid, fd, st.st_ino, &fi), &fi, link);
		ret = 0;
	} else if (fd <= 2 && (S_ISSOCK(st.st_mode) ||
			       (S_ISCHR(st.st_mode) && is_tty(link)))) {
		/* A terminal or socket leading outside: crest's own at restore. */
		add_fd(it, fd, FD_KIND__FD_EXTERNAL, 0, &fi, link);
		ret = 0;
	} else if (S_ISCHR(st.st_mode) && !is_tty(link) && link[0] == '/') {
		add_fd(it, fd, FD_KIND__FD_CHR,
		       file_description(df, pid, fd, link, &st, &fi), &fi, link);
		ret = 0;
	} else {
		pr_err("fd %d of process %d is %s (%s), not supported yet",
		       fd, pid, fd_kind_name(&st, link), link);
		ret = -1;
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

int files_dump_fds(struct dump_files *df, struct pstree_item *it)
{
	char path[64];
	struct dirent *de;
	int *fds = NULL, nr = 0, ret = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", it->live);
	dir = opendir(path);
	if (!dir) {
		pr_perror("can't list the fds of process %d", it->pid);
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
		ret = dump_one_fd(df, it, fds[i]);
	free(fds);
	return ret;
}

static int write_all_msgs(struct img_dir *d, enum img_kind kind, pid_t pid,
			  void **msgs, int nr)
{
	struct image *img = img_create(d, kind, pid);

	if (!img)
		return -1;
	for (int i = 0; i < nr; i++)
		if (img_write_msg(img, msgs[i]))
			return -1;
	return 0;
}

int files_write(struct dump_files *df, struct img_dir *d)
{
	if (write_all_msgs(d, IMG_FILES, 0, (void **)df->files, df->nr_files) ||
	    write_all_msgs(d, IMG_PIPES, 0, (void **)df->pipes, df->nr_pipes) ||
	    write_all_msgs(d, IMG_MEMFDS, 0, (void **)df->memfds, df->nr_memfds) ||
	    write_all_msgs(d, IMG_SHMEM, 0, (void **)df->shmems, df->nr_shmems) ||
	    write_all_msgs(d, IMG_ANONFILES, 0, (void **)df->anons, df->nr_anons))
		return -1;
	return 0;
}

int files_write_fdinfo(struct pstree_item *it, struct img_dir *d)
{
	return write_all_msgs(d, IMG_FDINFO, it->pid, (void **)it->fds, it->nr_fds);
}

int files_dump_contents(struct dump_files *df, struct img_dir *d)
{
	if (pipes_dump_data(df, d) || ghost_dump(df, d))
		return -1;
	return shmem_dump_contents(df, d);
}

/* ---- restore ---- */

static int read_all_msgs(struct img_dir *d, enum img_kind kind, pid_t pid,
			 void ***out, int *nr)
{
	struct image *img = img_open(d, kind, pid);
	void *msg;
	int ret;

	*out = NULL;
	*nr = 0;
	if (!img)
		return -1;
	while ((ret = img_read_msg(img, &msg)) > 0) {
		*out = xrealloc(*out, (*nr + 1) * sizeof(msg));
		(*out)[(*nr)++] = msg;
	}
	img_close(img);
	return ret < 0 ? -1 : 0;
}

int files_read(struct restore_files *rf, struct img_dir *d)
{
	memset(rf, 0, sizeof(*rf));
	if (read_all_msgs(d, IMG_FILES, 0, (void ***)&rf->files, &rf->nr_files) ||
	    read_all_msgs(d, IMG_PIPES, 0, (void ***)&rf->pipes, &rf->nr_pipes) ||
	    read_all_msgs(d, IMG_MEMFDS, 0, (void ***)&rf->memfds, &rf->nr_memfds) ||
	    read_all_msgs(d, IMG_SHMEM, 0, (void ***)&rf->shmems, &rf->nr_shmems) ||
	    read_all_msgs(d, IMG_ANONFILES, 0, (void ***)&rf->anons, &rf->nr_anons))
		return -1;
	return 0;
}

static int find_id(void **msgs, int nr, uint32_t id)
{
	/* Every *_entry starts with its id right after the base. */
	for (int i = 0; i < nr; i++)
		if (((RegFileEntry *)msgs[i])->id == id)
			return i;
	return -1;
}

static int pipe_index(const struct restore_files *rf, uint32_t id)
{
	for (int i = 0; i < rf->nr_pipes; i++)
		if (rf->pipes[i]->id == id)
			return i;
	return -1;
}

static int memfd_index(const struct restore_files *rf, uint32_t id)
{
	for (int i = 0; i < rf->nr_memfds; i++)
		if (rf->memfds[i]->id == id)
			return i;
	return -1;
}

static int shmem_index(const struct restore_files *rf, uint32_t id)
{
	for (int i = 0; i < rf->nr_shmems; i++)
		if (rf->shmems[i]->id == id)
			return i;
	return -1;
}

int files_read_fdinfo(struct img_dir *d, pid_t pid, FdEntry ***fds, int *nr)
{
	return read_all_msgs(d, IMG_FDINFO, pid, (void ***)fds, nr);
}

const RegFileEntry *files_by_id(const struct restore_files *rf, uint32_t id)
{
	int i = find_id((void **)rf->files, rf->nr_files, id);

	return i < 0 ? NULL : rf->files[i];
}

int files_check(const struct restore_files *rf)
{
	int ret = pipes_check(rf);

	for (int i = 0; i < rf->nr_files; i++) {
		const RegFileEntry *f = rf->files[i];
		struct stat st;

		if (f->saved)
			continue;	/* comes from the images */
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

/* Move fd to the service range; -1 reported. */
int files_to_service(int fd, int base)
{
	int nfd;

	if (fd < 0)
		return -1;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, base);
	if (nfd < 0)
		pr_perror("can't move fd %d above %d (RLIMIT_NOFILE too low?)", fd, base);
	close(fd);
	return nfd;
}

/* Is this file mapped shared and writable somewhere? Then open it O_RDWR. */
static int mapped_rw(MmEntry **mms, int nr_mms, uint32_t id)
{
	for (int m = 0; m < nr_mms; m++)
		for (size_t i = 0; i < mms[m]->n_vmas; i++) {
			const VmaEntry *v = mms[m]->vmas[i];

			if (v->has_file_id && v->file_id == id &&
			    v->kind == VMA_KIND__VMA_FILE_SHARED)
				return 1;
		}
	return 0;
}

static int open_reg(const RegFileEntry *f, int rw)
{
	int fd;

	if (rw) {
		fd = open(f->path, O_RDWR | O_CLOEXEC);
		if (fd >= 0 || errno != EACCES)
			goto out;
	}
	fd = open(f->path, (f->flags & REOPEN_FLAGS) | O_CLOEXEC);
out:
	if (fd < 0) {
		pr_perror("can't reopen '%s'", f->path);
		return -1;
	}
	if (S_ISREG(f->mode) && !(f->flags & O_PATH) &&
	    lseek(fd, f->pos, SEEK_SET) != (off_t)f->pos) {
		pr_perror("can't seek '%s' to %llu", f->path, (unsigned long long)f->pos);
		close(fd);
		return -1;
	}
	return fd;
}

int files_open_all(struct restore_files *rf, struct img_dir *d, int base,
		   MmEntry **mms, int nr_mms)
{
	int i;

	rf->base = base;
	rf->file_fd = xzalloc((rf->nr_files + 1) * sizeof(int));
	for (i = 0; i < rf->nr_files; i++) {
		const RegFileEntry *f = rf->files[i];

		int rw = mapped_rw(mms, nr_mms, f->id);

		rf->file_fd[i] = files_to_service(f->saved ? ghost_open(f, d, rw) :
						  open_reg(f, rw), base);
		if (rf->file_fd[i] < 0)
			return -1;
	}
	if (pipes_open_all(rf, d, base) || anon_open_all(rf, base))
		return -1;
	return shmem_open_all(rf, d, base);
}

int files_vma_fd(const struct restore_files *rf, const VmaEntry *v)
{
	int i;

	if (v->has_memfd_id) {
		i = memfd_index(rf, v->memfd_id);
		return i < 0 ? -1 : rf->memfd_fd[i];
	}
	if (v->has_shmem_id) {
		i = shmem_index(rf, v->shmem_id);
		return i < 0 ? -1 : rf->shmem_fd[i];
	}
	if (v->has_file_id) {
		i = find_id((void **)rf->files, rf->nr_files, v->file_id);
		return i < 0 ? -1 : rf->file_fd[i];
	}
	return -1;
}

int files_exe_fd(const struct restore_files *rf, uint32_t id)
{
	int i = find_id((void **)rf->files, rf->nr_files, id);

	return i < 0 ? -1 : rf->file_fd[i];
}

int files_is_service(const struct restore_files *rf, int fd)
{
	return fd >= rf->base;
}

static int source_fd(const struct restore_files *rf, const FdEntry *e)
{
	int i;

	switch (e->kind) {
	case FD_KIND__FD_REG:
	case FD_KIND__FD_CHR:
		i = find_id((void **)rf->files, rf->nr_files, e->file_id);
		return i < 0 ? -1 : rf->file_fd[i];
	case FD_KIND__FD_PIPE:
		i = pipe_index(rf, e->file_id);
		if (i < 0)
			return -1;
		return rf->pipe_fd[i][(e->flags & O_ACCMODE) == O_RDONLY ? 0 : 1];
	case FD_KIND__FD_MEMFD:
		i = memfd_index(rf, e->file_id);
		return i < 0 ? -1 : rf->memfd_fd[i];
	case FD_KIND__FD_EXTERNAL:
		return e->has_ext_fd ? (int)e->ext_fd : (int)e->fd;
	case FD_KIND__FD_ANON:
		return anon_service_fd(rf, e->file_id);
	default:
		return -1;
	}
}

/*
 * Every source is a service fd (at or above base, above every target fd)
 * or one of crest's 0-2 for external ones. Those low ones are copied up
 * first so that putting fd 0 in place can't lose what fd 1 needs.
 */
int files_restore_fds(const struct restore_files *rf, FdEntry **fds, int nr)
{
	int ext[3];

	for (int i = 0; i < 3; i++)
		ext[i] = fcntl(i, F_DUPFD_CLOEXEC, rf->base);
	for (int i = 0; i < nr; i++) {
		const FdEntry *e = fds[i];
		int src = source_fd(rf, e);

		if (e->kind == FD_KIND__FD_ANON && src < 0)
			continue;	/* an epoll: made once every fd is in place */
		if (e->kind == FD_KIND__FD_EXTERNAL && src >= 0 && src <= 2)
			src = ext[src];
		if (src < 0) {
			pr_err("fd %u (%s): %s", e->fd, e->desc,
			       e->kind == FD_KIND__FD_EXTERNAL ?
			       "it leads outside the checkpoint, and crest has no such fd to give it" :
			       "the images name an object that is not there");
			return -1;
		}
		if (dup3(src, e->fd, e->cloexec ? O_CLOEXEC : 0) < 0) {
			pr_perror("can't put fd %u (%s) in place", e->fd, e->desc);
			return -1;
		}
		if (e->kind == FD_KIND__FD_PIPE && e->has_flags &&
		    fcntl(e->fd, F_SETFL, e->flags & (O_NONBLOCK | O_APPEND | O_DIRECT)) < 0) {
			pr_perror("can't set the flags of fd %u", e->fd);
			return -1;
		}
	}
	for (int i = 0; i < 3; i++)
		if (ext[i] >= 0)
			close(ext[i]);
	return anon_restore_epolls(rf, fds, nr);
}
