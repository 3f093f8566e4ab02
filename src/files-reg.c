/*
 * Files reopened by path: regular files, directories and character
 * devices (/dev/null...), one reg_file_entry per open file description
 * (shared ones found with kcmp) and one per mapped or exe file. Files
 * deleted while open or mapped, and those of --save-*, are saved by
 * content (files-ghost.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "files.h"
#include "files-ghost.h"
#include "files-kind.h"
#include "image.h"
#include "log.h"
#include "proc.h"
#include "pstree.h"
#include "refuse.h"
#include "sk-unix.h"
#include "util.h"

#ifndef MQUEUE_MAGIC
#define MQUEUE_MAGIC	0x19800202	/* linux/magic.h, not in these headers */
#endif

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

/* Mark a file saved by content, read from src when the images are written. */
static void mark_saved(struct dump_files *df, uint32_t id, const char *src, int deleted)
{
	RegFileEntry *f = df->files[id - 1];

	f->has_saved = 1;
	f->saved = 1;
	/*
	 * Only mapped: its description is the restorer's alone. O_NOATIME,
	 * or mapping it at restore would touch the atime given back.
	 */
	if (df->files_own[id - 1].fd < 0)
		f->flags |= O_NOATIME;
	if (deleted) {
		size_t len = strlen(f->path);

		f->has_deleted = 1;
		f->deleted = 1;
		if (files_link_deleted(f->path))
			f->path[len - 10] = 0;
	}
	if (!df->files_own[id - 1].src)
		df->files_own[id - 1].src = xstrdup(src);
}

/*
 * A deleted directory, FIFO or device node: nothing to save but what it
 * is, made again at restore (ghost_node_make()).
 */
static void mark_node(struct dump_files *df, uint32_t id, const struct stat *st)
{
	RegFileEntry *f = df->files[id - 1];

	f->has_deleted = f->deleted = 1;
	if (files_link_deleted(f->path))
		f->path[strlen(f->path) - 10] = 0;
	f->has_uid = f->has_gid = f->has_atime_ns = f->has_mtime_ns = 1;
	f->uid = st->st_uid;
	f->gid = st->st_gid;
	f->atime_ns = st->st_atim.tv_sec * 1000000000ULL + st->st_atim.tv_nsec;
	f->mtime_ns = st->st_mtim.tv_sec * 1000000000ULL + st->st_mtim.tv_nsec;
	f->has_rdev = 1;
	f->rdev = st->st_rdev;
}

static bool node_kind(mode_t m)
{
	return S_ISDIR(m) || S_ISFIFO(m) || S_ISCHR(m) || S_ISBLK(m);
}

/*
 * The file handle of the inode src leads to (a /proc link, followed) and
 * the mount point it is found through: NULL and *why if there is none.
 */
struct file_handle *files_linked_handle(const char *src, char **mnt, const char **why)
{
	struct file_handle *fh = xzalloc(sizeof(*fh) + MAX_HANDLE_SZ);
	int mnt_id;

	*mnt = NULL;
	fh->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(AT_FDCWD, src, fh, &mnt_id, AT_SYMLINK_FOLLOW)) {
		*why = errno == EOPNOTSUPP ? "its filesystem gives no file handles" :
		       "crest can't read its file handle";
		free(fh);
		return NULL;
	}
	*mnt = files_mount_path(mnt_id, 0);
	if (!*mnt) {
		*why = "its mount is not in crest's mount table";
		free(fh);
		return NULL;
	}
	return fh;
}

bool files_refuse_linked(pid_t pid, const char *what, const char *link,
			 const struct stat *st, const char *src)
{
	struct file_handle *fh;
	const char *why = "no /proc link to read it through";
	char *mnt;

	if (!files_link_deleted(link) || (!S_ISREG(st->st_mode) && !S_ISFIFO(st->st_mode)) ||
	    !st->st_nlink || !strncmp(link, "/memfd:", 7))
		return false;
	if (src && (fh = files_linked_handle(src, &mnt, &why))) {
		free(fh);
		free(mnt);
		return false;	/* opened again by its handle */
	}
	refuse(pid, "%s is '%s', unlinked under that name but still linked elsewhere (%lu link%s): a copy would not be that %s, and crest can't open it again by its file handle: %s",
	       what, link, (unsigned long)st->st_nlink, st->st_nlink > 1 ? "s" : "",
	       S_ISFIFO(st->st_mode) ? "FIFO" : "file", why);
	return true;
}

/* Is it a file files_refuse_linked() let through: opened by its handle? */
static bool linked(const char *link, const struct stat *st)
{
	return files_link_deleted(link) && S_ISREG(st->st_mode) && st->st_nlink;
}

/* Not saved: its handle, to open the same inode again (files_refuse_linked). */
static int mark_linked(struct dump_files *df, uint32_t id, const char *src,
		       const struct stat *st)
{
	RegFileEntry *f = df->files[id - 1];
	const char *why;
	struct file_handle *fh;
	char *mnt;

	if (f->has_handle)
		return 0;
	fh = files_linked_handle(src, &mnt, &why);
	if (!fh) {
		pr_err("'%s': %s", f->path, why);
		return -1;
	}
	f->has_handle = 1;
	f->handle.len = fh->handle_bytes;
	f->handle.data = xzalloc(fh->handle_bytes);
	memcpy(f->handle.data, fh->f_handle, fh->handle_bytes);
	f->has_handle_type = 1;
	f->handle_type = fh->handle_type;
	f->handle_mnt = mnt;
	f->has_handle_dev = f->has_handle_ino = 1;
	f->handle_dev = st->st_dev;
	f->handle_ino = st->st_ino;
	free(fh);
	/* Only mapped: the restorer's description; mapping it touches no atime. */
	if (df->files_own[id - 1].fd < 0)
		f->flags |= O_NOATIME;
	if (files_link_deleted(f->path))
		f->path[strlen(f->path) - 10] = 0;
	return 0;
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
	if (linked(path, st) && src)
		return mark_linked(df, *id, src, st);
	if (files_link_deleted(path))
		mark_saved(df, *id, src, 1);
	return 0;
}

/*
 * A deleted directory, FIFO or device node an inotify watch or fanotify
 * mark is on (crest's O_PATH fd at src keeps it until the dump ends): an
 * O_PATH entry of its own, made again at restore as the node, one inode
 * with any fd, cwd or root of the tree on it (ghost_id).
 */
int files_add_node(struct dump_files *df, const char *path, const struct stat *st,
		   uint32_t *id)
{
	if (!node_kind(st->st_mode) || !files_link_deleted(path)) {
		pr_err("'%s' is not a deleted directory, FIFO or device node", path);
		return -1;
	}
	for (int i = 0; i < df->nr_files; i++)
		if (df->files_own[i].fd < 0 && df->files_own[i].dev == st->st_dev &&
		    df->files_own[i].ino == st->st_ino) {
			*id = df->files[i]->id;	/* a deleted cwd or root */
			return 0;
		}
	*id = add_file(df, path, st, O_PATH, 0, 0, -1);
	mark_node(df, *id, st);
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

static uint32_t file_description(struct dump_files *df, const struct fd_dump *f)
{
	const struct stat *st = f->st;

	for (int i = 0; i < df->nr_files; i++) {
		const struct file_owner *o = &df->files_own[i];

		if (o->fd >= 0 && o->dev == st->st_dev && o->ino == st->st_ino &&
		    files_same_description(f->pid, f->fd, o->pid, o->fd))
			return df->files[i]->id;
	}
	return add_file(df, f->link, st, f->fi->flags & ~O_CLOEXEC, f->fi->pos,
			f->pid, f->fd);
}

/* ---- regular files and directories ---- */

/*
 * A POSIX message queue (mq_open) is a regular file whose link reads
 * "/NAME" as if it were a path, on the mqueue filesystem: not ours
 * (files.c refuses it by name).
 */
bool files_is_mqueue(pid_t pid, int fd)
{
	char path[64];
	struct statfs sf;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	return !statfs(path, &sf) && sf.f_type == MQUEUE_MAGIC;
}

static bool reg_recognise(const struct fd_dump *f)
{
	mode_t m = f->st->st_mode;

	if (S_ISREG(m) && files_is_mqueue(f->pid, f->fd))
		return false;

	/*
	 * O_PATH: only a path, whatever it leads to -- a symlink itself
	 * (O_PATH | O_NOFOLLOW), a FIFO, a socket, a device -- reopened
	 * with the same flags. A deleted one is made again: a file by
	 * content, a directory, FIFO, device node or socket file as a node.
	 */
	if (f->fi->flags & O_PATH)
		return f->link[0] == '/' && (!files_link_deleted(f->link) ||
					     S_ISREG(m) || node_kind(m) || S_ISSOCK(m)) &&
		       strncmp(f->link, "/memfd:", 7);
	if (f->link[0] != '/' || (S_ISREG(m) && !strncmp(f->link, "/memfd:", 7)))
		return false;
	return S_ISREG(m) || S_ISDIR(m);
}

static int reg_dump(struct dump_files *df, const struct fd_dump *f, FdEntry *e)
{
	char what[32];

	char path[64];

	snprintf(what, sizeof(what), "fd %d", f->fd);
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", f->pid, f->fd);
	if (files_refuse_linked(f->pid, what, f->link, f->st, path))
		return 0;
	if (files_link_deleted(f->link) && S_ISSOCK(f->st->st_mode)) {
		/*
		 * A socket file: made again as a node, bound to nothing. One a
		 * socket is bound to still would lead to it (connect() through
		 * /proc/PID/fd/N) and the node made again would not.
		 */
		int bound = ux_vfs_in_use(f->st->st_ino);

		if (bound < 0)
			return -1;
		if (bound) {
			refuse(f->pid, "fd %d is '%s', a deleted socket file held with O_PATH that a unix socket is still bound to: the socket file made again would not lead to it; not supported yet",
			       f->fd, f->link);
			return 0;
		}
	}
	e->file_id = file_description(df, f);
	if (linked(f->link, f->st)) {
		/* Linked elsewhere still: the same inode, by its handle. */
		return mark_linked(df, e->file_id, path, f->st);
	} else if (files_link_deleted(f->link) && S_ISREG(f->st->st_mode)) {
		/* Deleted while open: saved by content, back deleted. */
		mark_saved(df, e->file_id, path, 1);
	} else if (files_link_deleted(f->link)) {
		mark_node(df, e->file_id, f->st);	/* a socket file too */
	}
	return 0;
}

/*
 * A cwd or root rmdir'ed while in use: a directory entry of its own
 * (made again at restore as any deleted one), named by the core.
 */
int files_dump_dirs(struct dump_files *df, pid_t pid, uint32_t *cwd_id,
		    uint32_t *root_id)
{
	static const char *const which[] = { "cwd", "root" };
	uint32_t *ids[] = { cwd_id, root_id };

	for (int i = 0; i < 2; i++) {
		char path[64], *link;
		struct stat st;

		*ids[i] = 0;
		snprintf(path, sizeof(path), "/proc/%d/%s", pid, which[i]);
		link = readlink_alloc(path);
		if (!link || stat(path, &st)) {
			pr_perror("can't read the %s of process %d", which[i], pid);
			free(link);
			return -1;
		}
		if (files_link_deleted(link) && S_ISDIR(st.st_mode)) {
			*ids[i] = add_file(df, link, &st, O_PATH | O_DIRECTORY, 0, pid, -1);
			mark_node(df, *ids[i], &st);
		}
		free(link);
	}
	return 0;
}

/*
 * "/proc/N/REST": N, and *rest at REST ("" or "/..."); 0 if not such a
 * path.
 */
static pid_t proc_path_pid(const char *path, const char **rest)
{
	char *end;
	long n;

	if (strncmp(path, "/proc/", 6) || path[6] < '1' || path[6] > '9')
		return 0;
	n = strtol(path + 6, &end, 10);
	if ((*end && *end != '/') || n <= 0 || n > (1 << 22))
		return 0;
	*rest = end;
	return n;
}

/* Is pid a thread, not the main one, of a process of the tree? */
static bool tree_thread(const struct pstree *t, pid_t pid)
{
	for (int j = 0; j < t->nr; j++)
		for (int k = 1; k < t->items[j]->nr_threads; k++)
			if (t->items[j]->threads[k] == pid)
				return true;
	return false;
}

/*
 * fds on /proc/N/... of a process of the tree: N does not exist at the
 * restore until the tree does, and may be another number then. Marked
 * here, opened by crest once every task exists (reg_tasks_made). One of
 * a thread that is not a main thread (the restorer makes those, after
 * the fds) is refused; one of a process outside the tree is reopened by
 * path, as any file.
 */
static int reg_collected(struct dump_files *df, struct pstree *t)
{
	for (int i = 0; i < df->nr_files; i++) {
		RegFileEntry *f = df->files[i];
		const struct file_owner *o = &df->files_own[i];
		const char *rest, *task;
		pid_t pid = proc_path_pid(f->path, &rest), tid;

		if (!pid || o->fd < 0 || f->saved)
			continue;
		if (!pstree_find(t, pid)) {
			if (tree_thread(t, pid))
				refuse(o->pid, "fd %d is '%s', a file of thread %d, not a main thread; not supported yet",
				       o->fd, f->path, pid);
			continue;
		}
		task = !strncmp(rest, "/task/", 6) ? rest + 6 : NULL;
		tid = task ? atoi(task) : 0;
		if (tid && tid != pid && tree_thread(t, tid)) {
			refuse(o->pid, "fd %d is '%s', a file of thread %d, not a main thread; not supported yet",
			       o->fd, f->path, tid);
			continue;
		}
		f->has_proc_pid = 1;
		f->proc_pid = pid;
	}
	return 0;
}

static int reg_contents(struct dump_files *df, struct img_dir *d)
{
	return ghost_dump(df, d);
}

static int reg_write(struct dump_files *df, struct img_dir *d)
{
	return files_write_msgs(d, IMG_FILES, 0, (void **)df->files, df->nr_files);
}

static int reg_read(struct restore_files *rf, struct img_dir *d)
{
	return files_read_msgs(d, IMG_FILES, 0, (void ***)&rf->files, &rf->nr_files);
}

static int file_index(const struct restore_files *rf, uint32_t id)
{
	for (int i = 0; i < rf->nr_files; i++)
		if (rf->files[i]->id == id)
			return i;
	return -1;
}

const RegFileEntry *files_by_id(const struct restore_files *rf, uint32_t id)
{
	int i = file_index(rf, id);

	return i < 0 ? NULL : rf->files[i];
}

static int reg_check(const struct restore_files *rf)
{
	int ret = 0;

	for (int i = 0; i < rf->nr_files; i++) {
		const RegFileEntry *f = rf->files[i];
		struct stat st;

		if (f->saved || f->deleted || f->has_proc_pid || f->has_handle)
			continue;	/* comes from the images, the tree's, by handle */
		/* A symlink itself (O_PATH | O_NOFOLLOW) is not followed. */
		if (S_ISLNK(f->mode) ? lstat(f->path, &st) : stat(f->path, &st)) {
			pr_perror("restore needs '%s'", f->path);
			ret = -1;
			continue;
		}
		if ((st.st_mode & S_IFMT) != (f->mode & S_IFMT)) {
			pr_err("'%s' is no longer the same kind of file", f->path);
			ret = -1;
			continue;
		}
		if (!S_ISREG(st.st_mode) || (f->flags & O_PATH))
			continue;	/* an O_PATH fd reads nothing */
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

/* A shared file mapping that could not be made writable (no "mw"). */
static int vma_shared_ro(const VmaEntry *v)
{
	return v->kind == VMA_KIND__VMA_FILE_SHARED && v->has_maywrite &&
	       !v->maywrite;
}

/*
 * Is this file mapped shared, writable (mw) somewhere? Then open it
 * O_RDWR (old images do not say: any shared mapping). ro: is it also
 * mapped shared where it may not be made writable? That mapping needs
 * the file read-only, or mprotect(PROT_WRITE) would work after restore.
 */
static int mapped_rw(MmEntry **mms, int nr_mms, uint32_t id, int *ro)
{
	int rw = 0;

	*ro = 0;
	for (int m = 0; m < nr_mms; m++)
		for (size_t i = 0; i < mms[m]->n_vmas; i++) {
			const VmaEntry *v = mms[m]->vmas[i];

			if (!v->has_file_id || v->file_id != id ||
			    v->kind != VMA_KIND__VMA_FILE_SHARED)
				continue;
			if (vma_shared_ro(v))
				*ro = 1;
			else
				rw = 1;
		}
	return rw;
}

/* The same open file, read-only: through its /proc/self/fd link. */
static int reopen_ro(const RegFileEntry *f, int fd)
{
	char link[64];
	int ro;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ro = open(link, O_RDONLY | O_CLOEXEC);
	if (ro < 0)
		pr_perror("can't reopen '%s' read-only for its mapping", f->path);
	return ro;
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

/*
 * A file linked elsewhere still when it was unlinked under its path: the
 * same inode, by its handle, linked at its path again for the open (so
 * that /proc names it "PATH (deleted)" as before) and unlinked. Where the
 * path is taken now, or its directory gone, it is opened through the
 * handle alone and /proc names it by another of its links.
 */
int files_handle_open(const char *what, const char *mnt, uint64_t dev, uint64_t ino,
		      const ProtobufCBinaryData *handle, int type)
{
	struct file_handle *fh;
	struct stat st;
	int mfd, hfd;

	if (!mnt || !handle->data || handle->len > MAX_HANDLE_SZ) {
		pr_err("the image of '%s' has no whole file handle", what);
		return -1;
	}
	mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0 || fstat(mfd, &st) || st.st_dev != dev) {
		pr_err("'%s' (unlinked, linked elsewhere): its mount '%s' is %s now",
		       what, mnt, mfd < 0 ? "gone" : "another filesystem");
		if (mfd >= 0)
			close(mfd);
		return -1;
	}
	fh = xzalloc(sizeof(*fh) + handle->len);
	fh->handle_bytes = handle->len;
	fh->handle_type = type;
	memcpy(fh->f_handle, handle->data, handle->len);
	hfd = open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
	free(fh);
	close(mfd);
	if (hfd < 0 || fstat(hfd, &st) || st.st_ino != ino || !st.st_nlink) {
		if (hfd < 0 && errno != ESTALE)
			pr_perror("can't open '%s' by its file handle", what);
		else
			pr_err("'%s' (unlinked, linked elsewhere at the dump) has no link left: its other names were removed since",
			       what);
		if (hfd >= 0)
			close(hfd);
		return -1;
	}
	return hfd;
}

static int open_linked(const RegFileEntry *f, int rw)
{
	char self[64];
	struct stat st;
	int hfd, fd = -1, fl = (f->flags & REOPEN_FLAGS) | O_CLOEXEC;

	if (!f->has_handle) {
		pr_err("the image of file '%s' (id %u) has no file handle", f->path, f->id);
		return -1;
	}
	if (rw)
		fl = (fl & ~O_ACCMODE) | O_RDWR;
	hfd = files_handle_open(f->path, f->handle_mnt, f->handle_dev, f->handle_ino,
				&f->handle, f->handle_type);
	if (hfd < 0 || fstat(hfd, &st)) {
		if (hfd >= 0)
			close(hfd);
		return -1;
	}
	snprintf(self, sizeof(self), "/proc/self/fd/%d", hfd);
	if (!linkat(AT_FDCWD, self, AT_FDCWD, f->path, AT_SYMLINK_FOLLOW)) {
		struct stat now;

		/* Not O_NOFOLLOW: fdinfo would show it; the inode is checked. */
		fd = open(f->path, fl);
		if (fd < 0 && (fl & O_NOATIME) && errno == EPERM)
			fd = open(f->path, fl & ~O_NOATIME);
		if (fd >= 0 && (fstat(fd, &now) || now.st_ino != st.st_ino ||
				now.st_dev != st.st_dev)) {
			close(fd);
			fd = -1;
		}
		unlink(f->path);
	} else {
		pr_warn("'%s' can't be linked again for its open (%s): /proc names it by another of its links",
			f->path, strerror(errno));
	}
	if (fd < 0) {
		fd = open(self, fl);
		if (fd < 0 && (fl & O_NOATIME) && errno == EPERM)
			fd = open(self, fl & ~O_NOATIME);
	}
	close(hfd);
	if (fd < 0) {
		pr_perror("can't open '%s' again", f->path);
		return -1;
	}
	if (!(fl & O_PATH) && lseek(fd, f->pos, SEEK_SET) != (off_t)f->pos) {
		pr_perror("can't seek '%s' to %llu", f->path, (unsigned long long)f->pos);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A saved file: made from its image, or, another description or mapping
 * of an inode made already (ghost_id), reopened from that one.
 */
static int open_saved(const struct restore_files *rf, int i, struct img_dir *d, int rw)
{
	const RegFileEntry *f = rf->files[i];
	int k;

	if (!f->has_ghost_id || f->ghost_id == f->id)
		return f->saved ? ghost_open(f, d, rw) : ghost_node_open(f);
	k = file_index(rf, f->ghost_id);
	if (k < 0 || k >= i || !(rf->files[k]->saved || rf->files[k]->deleted) ||
	    rf->files[k]->has_ghost_id) {
		pr_err("the saved file '%s' (id %u) names file %u for its contents, "
		       "not a saved file before it", f->path, f->id, f->ghost_id);
		return -1;
	}
	return ghost_reopen(f, rf->file_fd[k], rw);
}

/* Whose fds the ones of /proc files are (reg_tasks_made). */
static pid_t *crest_pid(struct restore_files *rf)
{
	void **p = files_restore_priv(rf, &reg_fd_ops);

	if (!*p)
		*p = xzalloc(sizeof(pid_t));
	return *p;
}

static int reg_open(struct restore_files *rf, struct img_dir *d,
		    MmEntry **mms, int nr_mms)
{
	rf->file_fd = xzalloc((rf->nr_files + 1) * sizeof(int));
	rf->file_ro_fd = xzalloc((rf->nr_files + 1) * sizeof(int));
	*crest_pid(rf) = getpid();
	for (int i = 0; i < rf->nr_files; i++) {
		const RegFileEntry *f = rf->files[i];
		int ro, rw = mapped_rw(mms, nr_mms, f->id, &ro);

		rf->file_ro_fd[i] = -1;
		if (f->has_proc_pid) {
			/* A number kept for it: reg_tasks_made opens it there. */
			rf->file_fd[i] = files_to_service(open("/dev/null", O_RDONLY | O_CLOEXEC),
							  rf->base);
			if (rf->file_fd[i] < 0)
				return -1;
			continue;
		}
		rf->file_fd[i] = files_to_service(f->has_handle ? open_linked(f, rw) :
						  f->saved || f->deleted ?
						  open_saved(rf, i, d, rw) :
						  open_reg(f, rw), rf->base);
		if (rf->file_fd[i] < 0)
			return -1;
		if (ro) {
			rf->file_ro_fd[i] = files_to_service(reopen_ro(f, rf->file_fd[i]),
							     rf->base);
			if (rf->file_ro_fd[i] < 0)
				return -1;
		}
	}
	return 0;
}

/* In crest, every task there: the /proc files of the tree's processes. */
static int reg_tasks_made(struct restore_files *rf, const struct files_pid_map *map)
{
	for (int i = 0; i < rf->nr_files; i++) {
		const RegFileEntry *f = rf->files[i];
		const char *rest;
		pid_t pid;
		char *path;
		int fd;

		if (!f->has_proc_pid)
			continue;
		if (*crest_pid(rf) != getpid() || proc_path_pid(f->path, &rest) != (pid_t)f->proc_pid) {
			pr_err("'%s': not the file of /proc/%u the images say", f->path, f->proc_pid);
			return -1;
		}
		pid = map && map->new_pid ? map->new_pid(map->arg, f->proc_pid) : (pid_t)f->proc_pid;
		if (!pid) {
			pr_err("'%s': process %u is not restored", f->path, f->proc_pid);
			return -1;
		}
		path = xsprintf("/proc/%d%s", pid, rest);
		fd = open(path, (f->flags & REOPEN_FLAGS) | O_CLOEXEC);
		if (fd < 0) {
			pr_perror("can't open '%s' (was '%s')", path, f->path);
			free(path);
			return -1;
		}
		if (S_ISREG(f->mode) && !(f->flags & O_PATH) && f->pos &&
		    lseek(fd, f->pos, SEEK_SET) != (off_t)f->pos) {
			pr_perror("can't seek '%s' to %llu", path, (unsigned long long)f->pos);
			close(fd);
			free(path);
			return -1;
		}
		free(path);
		if (dup3(fd, rf->file_fd[i], O_CLOEXEC) < 0) {
			pr_perror("can't put '%s' at fd %d", f->path, rf->file_fd[i]);
			close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

static int reg_service_fd(const struct restore_files *rf, const FdEntry *e)
{
	int i = file_index(rf, e->file_id);

	if (i >= 0 && rf->files[i]->has_proc_pid && e->kind == FD_KIND__FD_REG)
		return FD_MADE_LATER;
	return i < 0 || !rf->file_fd ? -1 : rf->file_fd[i];
}

/* In a task: its fds on /proc files of the tree, crest's (pidfd_getfd). */
static int reg_post_open(const struct restore_files *rf, FdEntry **fds, int nr)
{
	const pid_t *crest = *files_restore_priv_ro(rf, &reg_fd_ops);

	for (int i = 0; i < nr; i++) {
		const FdEntry *e = fds[i];
		int k = e->kind == FD_KIND__FD_REG ? file_index(rf, e->file_id) : -1;

		if (k < 0 || !rf->files[k]->has_proc_pid || !crest)
			continue;
		if (files_take_into(rf, *crest, rf->file_fd[k], e))
			return -1;
	}
	return 0;
}

int files_exe_fd(const struct restore_files *rf, uint32_t id)
{
	int i = file_index(rf, id);

	return i < 0 || !rf->file_fd ? -1 : rf->file_fd[i];
}

static int reg_vma_fd(const struct restore_files *rf, const VmaEntry *v)
{
	int i;

	if (!v->has_file_id)
		return -1;
	i = file_index(rf, v->file_id);
	if (i >= 0 && vma_shared_ro(v) && rf->file_ro_fd &&
	    rf->file_ro_fd[i] >= 0)
		return rf->file_ro_fd[i];
	return files_exe_fd(rf, v->file_id);
}

static void reg_show(const struct restore_files *rf, const FdEntry *e,
		     char *buf, size_t len)
{
	const RegFileEntry *f = files_by_id(rf, e->file_id);

	if (!f)
		snprintf(buf, len, "file %u, not in the images", e->file_id);
	else
		snprintf(buf, len, "'%s'%s at %llu", f->path,
			 f->deleted && f->saved ? " (deleted, saved)" :
			 f->deleted ? " (deleted, made again)" : f->saved ? " (saved)" : "",
			 (unsigned long long)f->pos);
}

const struct fd_kind_ops reg_fd_ops = {
	.name		= "file",
	.kind		= FD_KIND__FD_REG,
	.recognise	= reg_recognise,
	.dump		= reg_dump,
	.collected	= reg_collected,
	.contents	= reg_contents,
	.write		= reg_write,
	.read		= reg_read,
	.check		= reg_check,
	.open		= reg_open,
	.tasks_made	= reg_tasks_made,
	.service_fd	= reg_service_fd,
	.post_open	= reg_post_open,
	.show		= reg_show,
	.vma_fd		= reg_vma_fd,
};

/* ---- character devices other than terminals, reopened by path ---- */

static bool chr_recognise(const struct fd_dump *f)
{
	return S_ISCHR(f->st->st_mode) && f->link[0] == '/' &&
	       !files_link_tty(f->link) && !(f->fi->flags & O_PATH);
}

static int chr_dump(struct dump_files *df, const struct fd_dump *f, FdEntry *e)
{
	e->file_id = file_description(df, f);
	/* A device node deleted while open: made again, removed again. */
	if (files_link_deleted(f->link))
		mark_node(df, e->file_id, f->st);
	return 0;
}

/* Its description is a reg_file_entry too, read, checked and opened above. */
const struct fd_kind_ops chr_fd_ops = {
	.name		= "character device",
	.kind		= FD_KIND__FD_CHR,
	.recognise	= chr_recognise,
	.dump		= chr_dump,
	.service_fd	= reg_service_fd,
	.show		= reg_show,
};
