/*
 * inotify instances and fanotify groups (below): every watch or mark.
 *
 * inotify: every watch with its mask and its watch descriptor.
 *
 * fdinfo shows each watch as
 *	inotify wd:W ino:I sdev:D mask:M ignored_mask:0 fhandle-bytes:N
 *	fhandle-type:T f_handle:HEX
 * (W, I, D, M in hex). The dump opens the watched inode by its file
 * handle (open_by_handle_at, through a mount of device D in crest's
 * mount table), takes its path from /proc/self/fd and checks that the
 * path leads to that inode still: the restore adds the watch by path. A
 * watched inode that was deleted (which only something holding it keeps:
 * an fd, a cwd, a mapping) is saved or made again as the deleted files
 * are (files-ghost.c: a regular file by content; a directory, FIFO or
 * device node as a node) and watched through /proc/self/fd of crest's fd
 * on it at restore; a deleted FIFO the tree holds open through the read
 * end of that pipe, one inode with it. One without a path on a filesystem
 * without file handles is refused by name.
 *
 * Watch descriptors: the kernel gives each new watch of an instance the
 * next number after the last one it gave (idr_alloc_cyclic), and a watch
 * removed does not give its number back. So the restore adds the watches
 * in the order of their numbers, and while the kernel answers with a
 * smaller number than the saved one it removes that watch and adds the
 * same path again, until the number is the saved one. The IN_IGNORED
 * events those removals queue, and any event queued at the dump, are
 * dropped (crest(8)): the instance comes back with an empty queue. The
 * next number the kernel gives after the restore is one past the highest
 * watch, where before it may have been further on.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "files.h"
#include "files-kind.h"
#include "image.h"
#include "log.h"
#include "proc.h"
#include "pstree.h"
#include "notify.pb-c.h"
#include "refuse.h"
#include "util.h"

#define INOTIFY_LINK	"anon_inode:inotify"
/* What inotify_add_watch() takes back of the mask fdinfo shows. */
#define INOTIFY_KEPT	(IN_ALL_EVENTS | IN_ONLYDIR | IN_DONT_FOLLOW | \
			 IN_EXCL_UNLINK | IN_ONESHOT)

/*
 * The instances (or groups) of one kind, one record each: at the dump with
 * a holder of each description, at the restore with the service fd made
 * for each. Both kinds keep one, in their own slot.
 */
/* A watched deleted FIFO, tied to its pipe once every fd is known. */
struct fifo_watch {
	int fd;				/* crest's O_PATH fd on it */
	struct stat st;
	char *path;
	protobuf_c_boolean *has_file_id, *has_pipe_id;
	uint32_t *file_id, *pipe_id;
};

struct notify_set {
	void **objs;			/* InotifyEntry / FanotifyEntry */
	int nr;
	struct file_owner *own;		/* dump: a holder of each */
	int *fd;			/* restore: service fds, by index */
	struct fifo_watch *fifos;	/* dump: for collected */
	int nr_fifos;
};

static struct notify_set *dump_set(struct dump_files *df, const struct fd_kind_ops *k)
{
	void **p = files_dump_priv(df, k);

	if (!*p)
		*p = xzalloc(sizeof(struct notify_set));
	return *p;
}

static struct notify_set *restore_set(struct restore_files *rf, const struct fd_kind_ops *k)
{
	void **p = files_restore_priv(rf, k);

	if (!*p)
		*p = xzalloc(sizeof(struct notify_set));
	return *p;
}

static const struct notify_set *restore_set_ro(const struct restore_files *rf,
					       const struct fd_kind_ops *k)
{
	return *files_restore_priv_ro(rf, k);
}

/* The index of the record already made for f's description, or -1. */
static int set_shared(const struct notify_set *s, const struct fd_dump *f)
{
	for (int i = 0; i < s->nr; i++)
		if (files_same_description(f->pid, f->fd, s->own[i].pid, s->own[i].fd))
			return i;
	return -1;
}

static void set_add(struct notify_set *s, void *obj, const struct fd_dump *f)
{
	s->objs = xrealloc(s->objs, (s->nr + 1) * sizeof(obj));
	s->own = xrealloc(s->own, (s->nr + 1) * sizeof(*s->own));
	s->objs[s->nr] = obj;
	s->own[s->nr] = (struct file_owner){ 0, 0, f->pid, f->fd, NULL };
	s->nr++;
}

/* Every record made again, by make(), kept as a service fd. */
static int set_open(struct notify_set *s, struct restore_files *rf,
		    int (*make)(const void *obj))
{
	return files_make_services(rf, s->objs, s->nr, make, &s->fd);
}

/* Record id is the (i + 1)th of its set: the dump numbers them so, the
 * restore checks it as it reads them. */
static int set_index(const struct notify_set *s, uint32_t id)
{
	return s && id >= 1 && id <= (uint32_t)s->nr ? (int)id - 1 : -1;
}

static int set_read(struct notify_set *s, struct img_dir *d, enum img_kind kind,
		    const char *img, uint32_t (*id_of)(const void *obj))
{
	if (files_read_msgs(d, kind, 0, &s->objs, &s->nr))
		return -1;
	for (int i = 0; i < s->nr; i++)
		if (id_of(s->objs[i]) != (uint32_t)i + 1) {
			pr_err("image %s is corrupt: record %d has id %u", img, i + 1,
			       id_of(s->objs[i]));
			return -1;
		}
	return 0;
}

static int set_service_fd(const struct restore_files *rf, const struct fd_kind_ops *k,
			  const FdEntry *e)
{
	const struct notify_set *s = restore_set_ro(rf, k);
	int i = set_index(s, e->file_id);

	return i < 0 || !s->fd ? -1 : s->fd[i];
}

#define INS(s)	((InotifyEntry **)(s)->objs)
#define GROUPS(s)	((FanotifyEntry **)(s)->objs)

static bool inotify_recognise(const struct fd_dump *f)
{
	return !strcmp(f->link, INOTIFY_LINK);
}

/* /proc/self/mountinfo escapes blanks and backslashes as \ooo. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0');
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
}

/* A watched inode with no name left: crest's fd on it, to save it by. */
struct deleted_inode {
	int fd;			/* O_PATH, kept until the dump ends; -1 */
	struct stat st;
	char *path;		/* "PATH (deleted)" */
};

/*
 * The inode behind a file handle as a path that leads to it now: tried
 * through every mount of its device, since a bind mount may not reach
 * it. NULL if none does; *deleted if the inode has no name left, and
 * then, for a regular file, directory, FIFO or device node and where
 * gone is given, crest's fd on it.
 */
static char *handle_path(unsigned int sdev, uint64_t ino, struct file_handle *fh,
			 bool *link, bool *deleted, struct deleted_inode *gone)
{
	char *mi = read_file("/proc/self/mountinfo", NULL), *line, *save = NULL, *found = NULL;

	*deleted = *link = false;
	if (!mi)
		return NULL;
	for (line = strtok_r(mi, "\n", &save); line && !found;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned int maj, min;
		char mnt[4096], self[64], *path;
		struct stat st, lst;
		int mfd, fd;

		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &maj, &min, mnt) != 3 ||
		    makedev(maj, min) != makedev(sdev >> 20, sdev & 0xfffff))
			continue;
		unescape(mnt);
		mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);	/* not O_PATH: refused */
		if (mfd < 0)
			continue;
		fd = open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
		close(mfd);
		if (fd < 0)
			continue;
		snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
		path = readlink_alloc(self);
		if (fstat(fd, &st) || st.st_ino != ino || !path) {
			close(fd);
			free(path);
			continue;
		}
		if (files_link_deleted(path)) {
			*deleted = true;
			if (gone && gone->fd < 0 &&
			    (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) ||
			     S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) ||
			     S_ISBLK(st.st_mode))) {
				gone->fd = fd;	/* kept until the dump ends: its source */
				gone->st = st;
				gone->path = path;
				continue;
			}
			close(fd);
		} else if (close(fd), path[0] == '/' && !lstat(path, &lst) &&
			   lst.st_dev == st.st_dev && lst.st_ino == st.st_ino) {
			*link = S_ISLNK(st.st_mode);
			found = path;
			continue;
		}
		free(path);
	}
	free(mi);
	return found;
}

static unsigned char hex_val(char c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/*
 * A watch or mark of gone, a deleted inode: a regular file saved as
 * deleted files are, a directory or device node made again as a node
 * (its file_id), a FIFO tied to its pipe in collected (set_fifos()).
 */
static int watch_deleted(struct dump_files *df, struct notify_set *s,
			 struct deleted_inode *gone, protobuf_c_boolean *has_file_id,
			 uint32_t *file_id, protobuf_c_boolean *has_pipe_id,
			 uint32_t *pipe_id)
{
	char src[64];

	snprintf(src, sizeof(src), "/proc/self/fd/%d", gone->fd);
	if (S_ISFIFO(gone->st.st_mode)) {
		s->fifos = xrealloc(s->fifos, (s->nr_fifos + 1) * sizeof(*s->fifos));
		s->fifos[s->nr_fifos++] = (struct fifo_watch){
			gone->fd, gone->st, gone->path, has_file_id, has_pipe_id,
			file_id, pipe_id };
		return 0;
	}
	if (S_ISREG(gone->st.st_mode) ?
	    files_add_mapped_src(df, gone->path, &gone->st, src, file_id) :
	    files_add_node(df, gone->path, &gone->st, file_id))
		return -1;
	*has_file_id = 1;
	return 0;
}

/*
 * Every fd is known: a watched deleted FIFO the tree holds open is that
 * pipe (the same inode: device and inode of a holder's fd); one held only
 * with O_PATH (files-reg.c) is a node of its own.
 */
static int set_fifos(struct dump_files *df, struct notify_set *s)
{
	for (int i = 0; i < s->nr_fifos; i++) {
		struct fifo_watch *w = &s->fifos[i];

		for (int k = 0; k < df->nr_pipes && !*w->has_pipe_id; k++) {
			char path[64];
			struct stat st;

			snprintf(path, sizeof(path), "/proc/%d/fd/%d", df->pipes_st[k].pid,
				 df->pipes_st[k].fd);
			if (df->pipes[k]->deleted && df->pipes[k]->ino == w->st.st_ino &&
			    !stat(path, &st) && st.st_dev == w->st.st_dev &&
			    st.st_ino == w->st.st_ino) {
				*w->has_pipe_id = 1;
				*w->pipe_id = df->pipes[k]->id;
			}
		}
		if (!*w->has_pipe_id) {
			if (files_add_node(df, w->path, &w->st, w->file_id))
				return -1;
			*w->has_file_id = 1;
		}
	}
	return 0;
}

/* One "inotify wd:..." line; 1 refused, 0 added, -1 not parsed. */
static int parse_watch(struct dump_files *df, struct notify_set *s,
		       const struct fd_dump *f, const char *p, InotifyEntry *in)
{
	struct deleted_inode gone = { .fd = -1 };
	unsigned int wd, sdev, mask, ign, bytes, type;
	unsigned long long ino;
	char hex[2 * MAX_HANDLE_SZ + 1];
	struct file_handle *fh;
	bool link, deleted;
	InotifyWatch *w;
	char *path;

	if (sscanf(p, "inotify wd:%x ino:%llx sdev:%x mask:%x ignored_mask:%x "
		   "fhandle-bytes:%x fhandle-type:%x f_handle:%256s",
		   &wd, &ino, &sdev, &mask, &ign, &bytes, &type, hex) != 8) {
		if (sscanf(p, "inotify wd:%x ino:%llx sdev:%x", &wd, &ino, &sdev) == 3) {
			refuse(f->it->pid, "fd %d is an inotify watching inode %llu of device %u:%u, which has no file handle to find it by; not supported yet",
			       f->fd, ino, sdev >> 20, sdev & 0xfffff);
			return 1;
		}
		return -1;
	}
	if (bytes > MAX_HANDLE_SZ || strlen(hex) != 2 * bytes)
		return -1;
	if (mask & ~INOTIFY_KEPT) {
		refuse(f->it->pid, "fd %d is an inotify whose watch %u has the mask %#x, unknown to crest",
		       f->fd, wd, mask);
		return 1;
	}
	fh = xzalloc(sizeof(*fh) + bytes);
	fh->handle_bytes = bytes;
	fh->handle_type = type;
	for (unsigned int i = 0; i < bytes; i++)
		fh->f_handle[i] = hex_val(hex[2 * i]) << 4 | hex_val(hex[2 * i + 1]);
	path = handle_path(sdev, ino, fh, &link, &deleted, &gone);
	free(fh);
	if (!path && gone.fd >= 0)
		path = gone.path;	/* made again: watch_deleted() below */
	if (!path) {
		refuse(f->it->pid, "fd %d is an inotify watching inode %llu of device %u:%u%s; not supported yet",
		       f->fd, ino, sdev >> 20, sdev & 0xfffff,
		       deleted ? ", a deleted file" : ", which crest can't find by path");
		return 1;
	}
	w = xzalloc(sizeof(*w));
	inotify_watch__init(w);
	w->wd = wd;
	w->mask = mask | (link ? IN_DONT_FOLLOW : 0);
	w->path = path;
	w->has_ino = w->has_dev = 1;
	w->ino = ino;
	w->dev = sdev;
	if (path == gone.path &&
	    watch_deleted(df, s, &gone, &w->has_file_id, &w->file_id,
			  &w->has_pipe_id, &w->pipe_id)) {
		inotify_watch__free_unpacked(w, NULL);
		return -1;
	}
	in->watches = xrealloc(in->watches, (in->n_watches + 1) * sizeof(w));
	in->watches[in->n_watches++] = w;
	return 0;
}

static int cmp_wd(const void *a, const void *b)
{
	const InotifyWatch *x = *(InotifyWatch *const *)a, *y = *(InotifyWatch *const *)b;

	return x->wd < y->wd ? -1 : x->wd > y->wd;
}

static int inotify_dump(struct dump_files *df, const struct fd_dump *f, FdEntry *e)
{
	struct notify_set *s = dump_set(df, &inotify_fd_ops);
	int i = set_shared(s, f), refused = 0;
	InotifyEntry *in;

	if (i >= 0) {
		e->file_id = INS(s)[i]->id;
		return 0;
	}
	in = xzalloc(sizeof(*in));
	inotify_entry__init(in);
	in->id = s->nr + 1;
	in->flags = f->fi->flags & ~O_CLOEXEC;
	for (const char *p = f->fdinfo; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		int r;

		if (strncmp(p, "inotify ", 8))
			continue;
		r = parse_watch(df, s, f, p, in);
		if (r < 0) {
			pr_err("can't parse the fdinfo of fd %d of process %d (inotify)",
			       f->fd, f->it->pid);
			inotify_entry__free_unpacked(in, NULL);
			return -1;
		}
		refused |= r;
	}
	qsort(in->watches, in->n_watches, sizeof(*in->watches), cmp_wd);
	set_add(s, in, f);
	e->file_id = in->id;
	if (!refused)
		pr_debug("fd %d of process %d: inotify with %zu watches", f->fd,
			 f->it->pid, in->n_watches);
	return 0;
}

static int inotify_collected(struct dump_files *df, struct pstree *t)
{
	return set_fifos(df, dump_set(df, &inotify_fd_ops));
}

static int inotify_write(struct dump_files *df, struct img_dir *d)
{
	struct notify_set *s = dump_set(df, &inotify_fd_ops);

	return files_write_msgs(d, IMG_INOTIFY, 0, s->objs, s->nr);
}

static uint32_t inotify_id(const void *obj)
{
	return ((const InotifyEntry *)obj)->id;
}

static int inotify_read(struct restore_files *rf, struct img_dir *d)
{
	struct notify_set *s = restore_set(rf, &inotify_fd_ops);

	if (set_read(s, d, IMG_INOTIFY, "inotify.img", inotify_id))
		return -1;
	for (int i = 0; i < s->nr; i++)
		for (size_t j = 0; j < INS(s)[i]->n_watches; j++) {
			const InotifyWatch *w = INS(s)[i]->watches[j];

			if (!w->wd || (int)w->wd < 0 || (j && w->wd <= INS(s)[i]->watches[j - 1]->wd) ||
			    (w->mask & ~INOTIFY_KEPT)) {
				pr_err("image inotify.img is corrupt: inotify %u has watch %u (mask %#x) out of order",
				       INS(s)[i]->id, w->wd, w->mask);
				return -1;
			}
		}
	return 0;
}

/* Is pipe id a FIFO deleted while open, in the images? */
static bool deleted_fifo_in(const struct restore_files *rf, uint32_t id)
{
	for (int i = 0; i < rf->nr_pipes; i++)
		if (rf->pipes[i]->id == id)
			return rf->pipes[i]->deleted && rf->pipes[i]->path;
	return false;
}

/* Every watched path is there, the same kind of file. */
static int inotify_check(const struct restore_files *rf)
{
	const struct notify_set *s = restore_set_ro(rf, &inotify_fd_ops);
	int ret = 0;

	for (int i = 0; s && i < s->nr; i++)
		for (size_t j = 0; j < INS(s)[i]->n_watches; j++) {
			const InotifyWatch *w = INS(s)[i]->watches[j];
			struct stat st;
			int r;

			if (w->has_pipe_id) {
				/* A deleted FIFO, made again by files-pipe.c. */
				if (w->has_file_id || !deleted_fifo_in(rf, w->pipe_id)) {
					pr_err("image inotify.img is corrupt: inotify %u watches pipe %u, not a deleted FIFO of the images",
					       INS(s)[i]->id, w->pipe_id);
					ret = -1;
				}
				continue;
			}
			if (w->has_file_id) {
				/* A deleted file, made again from the images. */
				if (!files_by_id(rf, w->file_id)) {
					pr_err("image inotify.img is corrupt: inotify %u watches file %u, not in the images",
					       INS(s)[i]->id, w->file_id);
					ret = -1;
				}
				continue;
			}
			r = w->mask & IN_DONT_FOLLOW ? lstat(w->path, &st) : stat(w->path, &st);

			if (r) {
				pr_perror("restore needs '%s' (watched by an inotify)", w->path);
				ret = -1;
			}
		}
	return ret;
}

/* make_inotify()'s and make_fanotify()'s: the files of the restore, for deleted ones. */
static const struct restore_files *inotify_rf;

/*
 * Add w at its own watch descriptor: the kernel's next one is at most
 * it (the watches come in order), and each add-and-remove moves it one on.
 */
static int add_watch(int fd, const InotifyWatch *w)
{
	char self[64];
	const char *path = w->path;

	if (w->has_file_id || w->has_pipe_id) {
		/* The deleted file crest made again: its inode, through its fd. */
		int ffd = w->has_pipe_id ? files_deleted_fifo_fd(inotify_rf, w->pipe_id) :
			  files_exe_fd(inotify_rf, w->file_id);

		if (ffd < 0 || (w->mask & IN_DONT_FOLLOW)) {
			pr_err("no file %u for the inotify watch of '%s'",
			       w->has_pipe_id ? w->pipe_id : w->file_id, w->path);
			return -1;
		}
		snprintf(self, sizeof(self), "/proc/self/fd/%d", ffd);
		path = self;
	}
	for (unsigned int tries = 0; tries <= w->wd; tries++) {
		int wd = inotify_add_watch(fd, path, w->mask);

		if (wd < 0) {
			pr_perror("can't watch '%s' with an inotify (mask %#x)", w->path, w->mask);
			return -1;
		}
		if ((unsigned int)wd == w->wd)
			return 0;
		if ((unsigned int)wd > w->wd)
			break;
		if (inotify_rm_watch(fd, wd)) {
			pr_perror("can't remove watch %d of an inotify", wd);
			return -1;
		}
	}
	pr_err("can't give the inotify watch of '%s' its descriptor %u", w->path, w->wd);
	return -1;
}

static int make_inotify(const void *obj)
{
	const InotifyEntry *in = obj;
	char buf[4096];
	int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);

	if (fd < 0) {
		pr_perror("can't create an inotify");
		return -1;
	}
	for (size_t j = 0; j < in->n_watches; j++)
		if (add_watch(fd, in->watches[j])) {
			close(fd);
			return -1;
		}
	/* The IN_IGNORED of the removals above: the queue starts empty. */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (!(in->flags & O_NONBLOCK) && fcntl(fd, F_SETFL, 0)) {
		pr_perror("can't make an inotify blocking");
		close(fd);
		return -1;
	}
	return fd;
}

static int inotify_open(struct restore_files *rf, struct img_dir *d,
			MmEntry **mms, int nr_mms)
{
	inotify_rf = rf;
	return set_open(restore_set(rf, &inotify_fd_ops), rf, make_inotify);
}

static int inotify_service_fd(const struct restore_files *rf, const FdEntry *e)
{
	return set_service_fd(rf, &inotify_fd_ops, e);
}

static void inotify_show(const struct restore_files *rf, const FdEntry *e,
			 char *buf, size_t len)
{
	const struct notify_set *s = restore_set_ro(rf, &inotify_fd_ops);
	int i = set_index(s, e->file_id);

	if (i < 0)
		snprintf(buf, len, "inotify %u, not in the images", e->file_id);
	else
		snprintf(buf, len, "inotify, %zu watches%s%s", INS(s)[i]->n_watches,
			 INS(s)[i]->n_watches ? ", the first on " : "",
			 INS(s)[i]->n_watches ? INS(s)[i]->watches[0]->path : "");
}

const struct fd_kind_ops inotify_fd_ops = {
	.name		= "inotify",
	.kind		= FD_KIND__FD_INOTIFY,
	.recognise	= inotify_recognise,
	.dump		= inotify_dump,
	.collected	= inotify_collected,
	.write		= inotify_write,
	.read		= inotify_read,
	.check		= inotify_check,
	.open		= inotify_open,
	.service_fd	= inotify_service_fd,
	.show		= inotify_show,
};

/*
 * fanotify groups: their fanotify_init() flags and every mark. fdinfo
 * shows the group as "fanotify flags:F event-flags:E" and each mark as
 *	fanotify ino:I sdev:D mflags:M mask:X ignored_mask:Y fhandle-...
 *	fanotify mnt_id:N mflags:M mask:X ignored_mask:Y
 *	fanotify sdev:D mflags:M mask:X ignored_mask:Y
 * (an inode, a mount, a filesystem; hex). An inode is found by its file
 * handle as for inotify, a mount by its ID in crest's mount table (its
 * mount point, checked to lead to that very mount: one mounted over is
 * refused), a filesystem by any mount of it. The restore marks each path
 * again with the same flags and masks. Events queued at the dump are
 * dropped, permission events too (the kernel allows what the dumped
 * group left unanswered, when it goes).
 */
#define FAN_MFLAGS_KEPT	(FAN_MARK_IGNORED_SURV_MODIFY | FAN_MARK_EVICTABLE | \
			 FAN_MARK_IGNORE)

static bool fanotify_recognise(const struct fd_dump *f)
{
	return !strcmp(f->link, "anon_inode:[fanotify]");
}

/*
 * The mount point of mount id (id >= 0) or of a mount of device sdev, in
 * crest's mount table; a mount point that leads to another mount (one
 * mounted over it) does not count. NULL if none.
 */
char *files_mount_path(int id, unsigned int sdev)
{
	char *mi = read_file("/proc/self/mountinfo", NULL), *line, *save = NULL, *found = NULL;

	if (!mi)
		return NULL;
	for (line = strtok_r(mi, "\n", &save); line && !found;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned int maj, min;
		char mnt[4096];
		struct statx stx;
		int mid;

		if (sscanf(line, "%d %*u %u:%u %*s %4095s", &mid, &maj, &min, mnt) != 4)
			continue;
		if (id >= 0 ? mid != id :
		    makedev(maj, min) != makedev(sdev >> 20, sdev & 0xfffff))
			continue;
		unescape(mnt);
		if (statx(AT_FDCWD, mnt, AT_NO_AUTOMOUNT, STATX_MNT_ID, &stx) ||
		    !(stx.stx_mask & STATX_MNT_ID) || (int)stx.stx_mnt_id != mid)
			continue;
		found = xstrdup(mnt);
	}
	free(mi);
	return found;
}

/* One "fanotify ..." mark line; 1 refused, 0 added, -1 not parsed. */
static int parse_fan_mark(struct dump_files *df, struct notify_set *s,
			  const struct fd_dump *f, const char *p, FanotifyEntry *g)
{
	struct deleted_inode gone = { .fd = -1 };
	unsigned int sdev = 0, mflags, bytes, type, mnt_id;
	unsigned long long ino = 0, mask, ign;
	char hex[2 * MAX_HANDLE_SZ + 1];
	FanotifyMark *m;
	char *path = NULL;
	int kind;

	if (sscanf(p, "fanotify ino:%llx sdev:%x mflags:%x mask:%llx ignored_mask:%llx "
		   "fhandle-bytes:%x fhandle-type:%x f_handle:%256s",
		   &ino, &sdev, &mflags, &mask, &ign, &bytes, &type, hex) == 8) {
		struct file_handle *fh;
		bool link, deleted;

		if (bytes > MAX_HANDLE_SZ || strlen(hex) != 2 * bytes)
			return -1;
		kind = FANOTIFY_MARK_TYPE__FAN_INODE;
		fh = xzalloc(sizeof(*fh) + bytes);
		fh->handle_bytes = bytes;
		fh->handle_type = type;
		for (unsigned int i = 0; i < bytes; i++)
			fh->f_handle[i] = hex_val(hex[2 * i]) << 4 | hex_val(hex[2 * i + 1]);
		path = handle_path(sdev, ino, fh, &link, &deleted, &gone);
		free(fh);
		if (!path && gone.fd >= 0)
			path = gone.path;	/* made again: watch_deleted() below */
		if (!path) {
			refuse(f->it->pid, "fd %d is a fanotify group marking inode %llu of device %u:%u%s; not supported yet",
			       f->fd, ino, sdev >> 20, sdev & 0xfffff,
			       deleted ? ", a deleted file" : ", which crest can't find by path");
			return 1;
		}
		if (link)
			mflags |= FAN_MARK_DONT_FOLLOW;
	} else if (sscanf(p, "fanotify mnt_id:%x mflags:%x mask:%llx ignored_mask:%llx",
			  &mnt_id, &mflags, &mask, &ign) == 4) {
		kind = FANOTIFY_MARK_TYPE__FAN_MOUNT;
		path = files_mount_path(mnt_id, 0);
		if (!path) {
			refuse(f->it->pid, "fd %d is a fanotify group marking mount %u, which crest can't find by path (mounted over?); not supported yet",
			       f->fd, mnt_id);
			return 1;
		}
	} else if (sscanf(p, "fanotify sdev:%x mflags:%x mask:%llx ignored_mask:%llx",
			  &sdev, &mflags, &mask, &ign) == 4) {
		kind = FANOTIFY_MARK_TYPE__FAN_FILESYSTEM;
		path = files_mount_path(-1, sdev);
		if (!path) {
			refuse(f->it->pid, "fd %d is a fanotify group marking the filesystem of device %u:%u, which no mount shows; not supported yet",
			       f->fd, sdev >> 20, sdev & 0xfffff);
			return 1;
		}
	} else if (sscanf(p, "fanotify ino:%llx sdev:%x", &ino, &sdev) == 2) {
		refuse(f->it->pid, "fd %d is a fanotify group marking inode %llu of device %u:%u, which has no file handle to find it by; not supported yet",
		       f->fd, ino, sdev >> 20, sdev & 0xfffff);
		return 1;
	} else {
		refuse(f->it->pid, "fd %d is a fanotify group with a mark crest does not know ('%.*s')",
		       f->fd, (int)strcspn(p, "\n"), p);
		return 1;
	}
	if (mflags & ~(FAN_MFLAGS_KEPT | FAN_MARK_DONT_FOLLOW)) {
		refuse(f->it->pid, "fd %d is a fanotify group with a mark on '%s' of flags %#x, unknown to crest",
		       f->fd, path, mflags);
		free(path);
		return 1;
	}
	m = xzalloc(sizeof(*m));
	fanotify_mark__init(m);
	m->type = kind;
	m->path = path;
	m->mflags = mflags;
	m->mask = mask;
	m->ignored_mask = ign;
	if (kind == FANOTIFY_MARK_TYPE__FAN_INODE) {
		m->has_ino = m->has_dev = 1;
		m->ino = ino;
		m->dev = sdev;
		if (path == gone.path &&
		    watch_deleted(df, s, &gone, &m->has_file_id, &m->file_id,
				  &m->has_pipe_id, &m->pipe_id)) {
			fanotify_mark__free_unpacked(m, NULL);
			return -1;
		}
	}
	g->marks = xrealloc(g->marks, (g->n_marks + 1) * sizeof(m));
	g->marks[g->n_marks++] = m;
	return 0;
}

static int fanotify_dump(struct dump_files *df, const struct fd_dump *f, FdEntry *e)
{
	struct notify_set *s = dump_set(df, &fanotify_fd_ops);
	const char *p = strstr(f->fdinfo, "fanotify flags:");
	int i = set_shared(s, f);
	unsigned int flags, evf;
	FanotifyEntry *g;

	if (i >= 0) {
		e->file_id = GROUPS(s)[i]->id;
		return 0;
	}
	if (!p || sscanf(p, "fanotify flags:%x event-flags:%x", &flags, &evf) != 2) {
		pr_err("can't parse the fdinfo of fd %d of process %d (fanotify)",
		       f->fd, f->it->pid);
		return -1;
	}
	g = xzalloc(sizeof(*g));
	fanotify_entry__init(g);
	g->id = s->nr + 1;
	g->flags = flags;
	g->event_flags = evf;
	g->fflags = f->fi->flags & ~O_CLOEXEC;
	for (p = f->fdinfo; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, "fanotify ", 9) || !strncmp(p, "fanotify flags:", 15))
			continue;
		if (parse_fan_mark(df, s, f, p, g) < 0) {
			pr_err("can't parse the fdinfo of fd %d of process %d (fanotify)",
			       f->fd, f->it->pid);
			fanotify_entry__free_unpacked(g, NULL);
			return -1;
		}
	}
	set_add(s, g, f);
	e->file_id = g->id;
	return 0;
}

static int fanotify_collected(struct dump_files *df, struct pstree *t)
{
	return set_fifos(df, dump_set(df, &fanotify_fd_ops));
}

static int fanotify_write(struct dump_files *df, struct img_dir *d)
{
	struct notify_set *s = dump_set(df, &fanotify_fd_ops);

	return files_write_msgs(d, IMG_FANOTIFY, 0, s->objs, s->nr);
}

static uint32_t fanotify_id(const void *obj)
{
	return ((const FanotifyEntry *)obj)->id;
}

static int fanotify_read(struct restore_files *rf, struct img_dir *d)
{
	struct notify_set *s = restore_set(rf, &fanotify_fd_ops);

	if (set_read(s, d, IMG_FANOTIFY, "fanotify.img", fanotify_id))
		return -1;
	for (int i = 0; i < s->nr; i++)
		for (size_t j = 0; j < GROUPS(s)[i]->n_marks; j++) {
			const FanotifyMark *m = GROUPS(s)[i]->marks[j];

			if ((m->mflags & ~(FAN_MFLAGS_KEPT | FAN_MARK_DONT_FOLLOW)) ||
			    m->type > FANOTIFY_MARK_TYPE__FAN_FILESYSTEM) {
				pr_err("image fanotify.img is corrupt: group %u has a mark of flags %#x, type %d",
				       GROUPS(s)[i]->id, m->mflags, m->type);
				return -1;
			}
		}
	return 0;
}

static int fanotify_check(const struct restore_files *rf)
{
	const struct notify_set *s = restore_set_ro(rf, &fanotify_fd_ops);
	int ret = 0;

	for (int i = 0; s && i < s->nr; i++)
		for (size_t j = 0; j < GROUPS(s)[i]->n_marks; j++) {
			const FanotifyMark *m = GROUPS(s)[i]->marks[j];
			struct stat st;
			int r;

			if (m->has_pipe_id) {
				/* A deleted FIFO, made again by files-pipe.c. */
				if (m->has_file_id || m->type != FANOTIFY_MARK_TYPE__FAN_INODE ||
				    !deleted_fifo_in(rf, m->pipe_id)) {
					pr_err("image fanotify.img is corrupt: fanotify group %u marks pipe %u, not a deleted FIFO of the images",
					       GROUPS(s)[i]->id, m->pipe_id);
					ret = -1;
				}
				continue;
			}
			if (m->has_file_id) {
				/* A deleted file, made again from the images. */
				if (!files_by_id(rf, m->file_id) || m->type != FANOTIFY_MARK_TYPE__FAN_INODE) {
					pr_err("image fanotify.img is corrupt: fanotify group %u marks file %u, not in the images",
					       GROUPS(s)[i]->id, m->file_id);
					ret = -1;
				}
				continue;
			}
			r = m->mflags & FAN_MARK_DONT_FOLLOW ? lstat(m->path, &st) : stat(m->path, &st);

			if (r) {
				pr_perror("restore needs '%s' (marked by a fanotify group)", m->path);
				ret = -1;
			}
		}
	return ret;
}

static int make_fanotify(const void *obj)
{
	const FanotifyEntry *g = obj;
	static const unsigned int types[] = {
		[FANOTIFY_MARK_TYPE__FAN_INODE] = FAN_MARK_INODE,
		[FANOTIFY_MARK_TYPE__FAN_MOUNT] = FAN_MARK_MOUNT,
		[FANOTIFY_MARK_TYPE__FAN_FILESYSTEM] = FAN_MARK_FILESYSTEM,
	};
	/*
	 * The flags as they were, FAN_CLOEXEC and FAN_NONBLOCK too: fdinfo
	 * shows them as given. The description's own O_NONBLOCK, which
	 * F_SETFL may have changed since, is set by files.c; the service
	 * fd this becomes is close-on-exec whatever the flags.
	 */
	unsigned int flags = g->flags;
	int fd = fanotify_init(flags, g->event_flags);

	if (fd < 0) {
		pr_perror("can't create a fanotify group (flags %#x, event flags %#x)",
			  flags, g->event_flags);
		return -1;
	}
	for (size_t j = 0; j < g->n_marks; j++) {
		const FanotifyMark *m = g->marks[j];
		unsigned int how = FAN_MARK_ADD | types[m->type] |
				   (m->mflags & (FAN_MARK_DONT_FOLLOW | FAN_MARK_EVICTABLE));
		const char *path = m->path;
		char self[64];

		if (m->has_file_id || m->has_pipe_id) {
			/* The deleted file crest made again: its inode, through its fd. */
			int ffd = m->has_pipe_id ?
				  files_deleted_fifo_fd(inotify_rf, m->pipe_id) :
				  files_exe_fd(inotify_rf, m->file_id);

			if (ffd < 0 || (m->mflags & FAN_MARK_DONT_FOLLOW)) {
				pr_err("no file %u for the fanotify mark of '%s'",
				       m->has_pipe_id ? m->pipe_id : m->file_id, m->path);
				goto err;
			}
			snprintf(self, sizeof(self), "/proc/self/fd/%d", ffd);
			path = self;
		}

		if (m->mask && fanotify_mark(fd, how, m->mask, AT_FDCWD, path)) {
			pr_perror("can't mark '%s' with a fanotify group (mask %#llx)",
				  m->path, (unsigned long long)m->mask);
			goto err;
		}
		how |= m->mflags & FAN_MARK_IGNORED_SURV_MODIFY;
		how |= m->mflags & FAN_MARK_IGNORE ? FAN_MARK_IGNORE : FAN_MARK_IGNORED_MASK;
		if (m->ignored_mask &&
		    fanotify_mark(fd, how, m->ignored_mask, AT_FDCWD, path)) {
			pr_perror("can't give the fanotify mark of '%s' its ignored mask %#llx",
				  m->path, (unsigned long long)m->ignored_mask);
			goto err;
		}
	}
	return fd;
err:
	close(fd);
	return -1;
}

static int fanotify_open(struct restore_files *rf, struct img_dir *d,
			 MmEntry **mms, int nr_mms)
{
	inotify_rf = rf;
	return set_open(restore_set(rf, &fanotify_fd_ops), rf, make_fanotify);
}

static int fanotify_service_fd(const struct restore_files *rf, const FdEntry *e)
{
	return set_service_fd(rf, &fanotify_fd_ops, e);
}

static void fanotify_show(const struct restore_files *rf, const FdEntry *e,
			  char *buf, size_t len)
{
	const struct notify_set *s = restore_set_ro(rf, &fanotify_fd_ops);
	int i = set_index(s, e->file_id);

	if (i < 0)
		snprintf(buf, len, "fanotify group %u, not in the images", e->file_id);
	else
		snprintf(buf, len, "fanotify group, %zu marks", GROUPS(s)[i]->n_marks);
}

const struct fd_kind_ops fanotify_fd_ops = {
	.name		= "fanotify",
	.kind		= FD_KIND__FD_FANOTIFY,
	.recognise	= fanotify_recognise,
	.dump		= fanotify_dump,
	.collected	= fanotify_collected,
	.write		= fanotify_write,
	.read		= fanotify_read,
	.check		= fanotify_check,
	.open		= fanotify_open,
	.service_fd	= fanotify_service_fd,
	.show		= fanotify_show,
};
