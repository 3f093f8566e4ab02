/*
 * Open files of the tree: every fd of every task goes to the kind that
 * recognises it (fd_kinds[], files-kinds.h); files.c only dispatches.
 * The kinds and their hooks are described in files-kind.h.
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
#include "files-kind.h"
#include "files-lock.h"
#include "image.h"
#include "log.h"
#include "proc.h"
#include "pstree.h"
#include "util.h"

static const struct fd_kind_ops *const fd_kinds[] = {
#define FD_KIND(name)	&name##_fd_ops,
#include "files-kinds.h"
#undef FD_KIND
};

#define for_each_kind(k) \
	for (const struct fd_kind_ops *const *k = fd_kinds; \
	     k < fd_kinds + ARRAY_SIZE(fd_kinds); k++)

_Static_assert(ARRAY_SIZE(fd_kinds) <= FD_KINDS_MAX, "raise FD_KINDS_MAX");

static int slot_of(const struct fd_kind_ops *ops)
{
	for (size_t i = 0; i < ARRAY_SIZE(fd_kinds); i++)
		if (fd_kinds[i] == ops)
			return i;
	BUG_ON(1);	/* a kind not in files-kinds.h */
}

void **files_dump_priv(struct dump_files *df, const struct fd_kind_ops *k)
{
	return &df->priv[slot_of(k)];
}

void **files_restore_priv(struct restore_files *rf, const struct fd_kind_ops *k)
{
	return &rf->priv[slot_of(k)];
}

void *const *files_restore_priv_ro(const struct restore_files *rf,
				   const struct fd_kind_ops *k)
{
	return &rf->priv[slot_of(k)];
}

static const struct fd_kind_ops *kind_of(FdKind kind)
{
	for_each_kind(k)
		if ((*k)->kind == kind)
			return *k;
	return NULL;
}

/* Is (pid, fd) the same open file description as one already seen? */
int files_same_description(pid_t p1, int fd1, pid_t p2, int fd2)
{
	return syscall(SYS_kcmp, p1, p2, KCMP_FILE, fd1, fd2) == 0;
}

bool files_link_deleted(const char *link)
{
	size_t len = strlen(link);

	return len > 10 && !strcmp(link + len - 10, " (deleted)");
}

bool files_link_tty(const char *link)
{
	return !strncmp(link, "/dev/pts/", 9) || !strncmp(link, "/dev/tty", 8) ||
	       !strcmp(link, "/dev/console") || !strcmp(link, "/dev/ptmx");
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

/* Name what an fd no kind took is, for the error message. */
static const char *fd_kind_name(const struct stat *st, const char *link)
{
	if (S_ISSOCK(st->st_mode))
		return "a socket";
	if (S_ISFIFO(st->st_mode))
		return files_link_deleted(link) ? "a deleted FIFO" : "a FIFO";
	if (S_ISCHR(st->st_mode))
		return "a terminal";
	if (S_ISBLK(st->st_mode))
		return "a block device";
	if (S_ISDIR(st->st_mode) && link[0] == '/')
		return "a deleted directory";
	if (!strncmp(link, "anon_inode:", 11))
		return link + 11;
	return "an unknown kind of file";
}

int files_recognise(const struct fd_dump *f, const struct fd_kind_ops **first)
{
	int n = 0;

	*first = NULL;
	for_each_kind(k) {
		if (!(*k)->recognise(f))
			continue;
		if (!n++)
			*first = *k;
	}
	return n;
}

static int dump_one_fd(struct dump_files *df, struct pstree_item *it, int fd)
{
	char path[64], *link, *info;
	struct proc_fdinfo fi;
	struct stat st;
	const struct fd_kind_ops *k;
	struct fd_dump f;
	pid_t pid = it->live;
	uint32_t id;
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
	f = (struct fd_dump){ it, pid, fd, link, &st, &fi, info };
	if (!files_recognise(&f, &k)) {
		pr_err("fd %d of process %d is %s (%s), not supported yet",
		       fd, pid, fd_kind_name(&st, link), link);
		goto out;
	}
	if (k->dump(df, &f, &id))
		goto out;
	add_fd(it, fd, k->kind, id, &fi, link);
	/* Locks are no kind's: any fd may show some, files-lock.c takes them. */
	ret = locks_dump_fd(df, it, it->fds[it->nr_fds - 1], info);
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

int files_dump_collected(struct dump_files *df, struct pstree *t)
{
	for_each_kind(k)
		if ((*k)->collected && (*k)->collected(df, t))
			return -1;
	return locks_dump_check(df, t);
}

int files_write_msgs(struct img_dir *d, enum img_kind kind, pid_t pid,
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
	for_each_kind(k)
		if ((*k)->write && (*k)->write(df, d))
			return -1;
	return locks_write(df, d);
}

int files_write_fdinfo(struct pstree_item *it, struct img_dir *d)
{
	return files_write_msgs(d, IMG_FDINFO, it->pid, (void **)it->fds, it->nr_fds);
}

int files_dump_contents(struct dump_files *df, struct img_dir *d)
{
	for_each_kind(k)
		if ((*k)->contents && (*k)->contents(df, d))
			return -1;
	return 0;
}

/* ---- restore ---- */

int files_read_msgs(struct img_dir *d, enum img_kind kind, pid_t pid,
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
	for_each_kind(k)
		if ((*k)->read && (*k)->read(rf, d))
			return -1;
	return locks_read(rf, d);
}

int files_read_fdinfo(struct img_dir *d, pid_t pid, FdEntry ***fds, int *nr)
{
	return files_read_msgs(d, IMG_FDINFO, pid, (void ***)fds, nr);
}

int files_check(const struct restore_files *rf)
{
	int ret = 0;

	/* Every kind, so that every problem is told at once. */
	for_each_kind(k)
		if ((*k)->check && (*k)->check(rf))
			ret = -1;
	return ret;
}

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

int files_open_all(struct restore_files *rf, struct img_dir *d, int base,
		   MmEntry **mms, int nr_mms)
{
	rf->base = base;
	for_each_kind(k)
		if ((*k)->open && (*k)->open(rf, d, mms, nr_mms))
			return -1;
	return 0;
}

int files_vma_fd(const struct restore_files *rf, const VmaEntry *v)
{
	for_each_kind(k) {
		int fd;

		if ((*k)->vma_fd && (fd = (*k)->vma_fd(rf, v)) >= 0)
			return fd;
	}
	return -1;
}

int files_service_fd(const struct restore_files *rf, const FdEntry *e)
{
	const struct fd_kind_ops *k = kind_of(e->kind);

	return k ? k->service_fd(rf, e) : -1;
}

int files_is_service(const struct restore_files *rf, int fd)
{
	return fd >= rf->base;
}

void files_show_fd(const struct restore_files *rf, const FdEntry *e,
		   char *buf, size_t len)
{
	const struct fd_kind_ops *k = kind_of(e->kind);

	if (k && k->show)
		k->show(rf, e, buf, len);
	else
		snprintf(buf, len, "%s", k ? k->name : "an unknown kind of fd");
}

/*
 * Every source is a service fd, at or above base and so above every fd
 * of the tree: putting one fd in place never closes what another needs.
 */
int files_restore_fds(const struct restore_files *rf, FdEntry **fds, int nr)
{
	for (int i = 0; i < nr; i++) {
		const FdEntry *e = fds[i];
		const struct fd_kind_ops *k = kind_of(e->kind);
		int src = k ? k->service_fd(rf, e) : -1;
		char what[160];

		if (src == FD_MADE_LATER)
			continue;
		if (src < 0) {
			files_show_fd(rf, e, what, sizeof(what));
			pr_err("fd %u (%s, %s): %s", e->fd, e->desc, what,
			       e->kind == FD_KIND__FD_EXTERNAL ?
			       "it leads outside the checkpoint, and crest has no such fd to give it" :
			       "the images name an object that is not there");
			return -1;
		}
		if (dup3(src, e->fd, e->cloexec ? O_CLOEXEC : 0) < 0) {
			pr_perror("can't put fd %u (%s) in place", e->fd, e->desc);
			return -1;
		}
	}
	for_each_kind(k)
		if ((*k)->post_open && (*k)->post_open(rf, fds, nr))
			return -1;
	return 0;
}
