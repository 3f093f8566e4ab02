/*
 * Open files of the tree: every fd of every task goes to the kind that
 * recognises it (fd_kinds[], files-kinds.h); files.c only dispatches.
 * The kinds and their hooks are described in files-kind.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
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
#include "refuse.h"
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

static FdEntry *new_fd(int fd, const struct proc_fdinfo *fi, const char *desc)
{
	FdEntry *e = xzalloc(sizeof(*e));

	fd_entry__init(e);
	e->fd = fd;
	e->cloexec = !!(fi->flags & O_CLOEXEC);
	e->desc = xstrdup(desc);
	e->has_flags = 1;
	e->flags = fi->flags & ~O_CLOEXEC;
	return e;
}

/*
 * The owner of the description and its signal: not in fdinfo, so asked
 * of a copy of the fd (pidfd_getfd: the same description). Kept only if
 * not the default (no owner, SIGIO). The owner must be a task of the tree
 * for a restore to give it back: another process is refused by name.
 */
static int dump_fown(struct pstree_item *it, pid_t pid, int fd, FdEntry *e)
{
	struct f_owner_ex own;
	int cfd, sig;

	if (e->flags & O_PATH)
		return 0;	/* no owner, no signals */
	cfd = pidfd_take(pid, fd);
	if (cfd < 0)
		return -1;
	if (fcntl(cfd, F_GETOWN_EX, &own) || (sig = fcntl(cfd, F_GETSIG)) < 0) {
		pr_perror("can't read the owner of fd %d of process %d", fd, it->pid);
		close(cfd);
		return -1;
	}
	close(cfd);
	if (!own.pid && !sig)
		return 0;
	e->fown = xzalloc(sizeof(*e->fown));
	fown_entry__init(e->fown);
	e->fown->type = own.type;
	e->fown->pid = own.pid;
	e->fown->signum = sig;
	return 0;
}

static void add_fd(FdEntry ***fds, int *nr, FdEntry *e)
{
	*fds = xrealloc(*fds, (*nr + 1) * sizeof(e));
	(*fds)[(*nr)++] = e;
}

/* Kernel objects behind anon_inode fds that no kind restores, by name. */
static const struct { const char *link, *name; } anon_names[] = {
	{ "anon_inode:[io_uring]", "an io_uring instance" },
	{ "anon_inode:[userfaultfd]", "a userfaultfd" },
	{ "anon_inode:[perf_event]", "a perf event" },
	{ "anon_inode:bpf-map", "a BPF map" },
	{ "anon_inode:bpf-prog", "a BPF program" },
	{ "anon_inode:bpf_link", "a BPF link" },
	{ "anon_inode:[seccomp notify]", "a seccomp notification listener" },
};

/* Name what an fd no kind took is, for the error message. */
static const char *fd_kind_name(pid_t pid, int fd, const struct stat *st,
				const char *link)
{
	for (size_t i = 0; i < ARRAY_SIZE(anon_names); i++)
		if (!strcmp(link, anon_names[i].link))
			return anon_names[i].name;
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
	/* files-reg.c takes every other deleted file, and memfds shmem.c. */
	if (S_ISREG(st->st_mode) && files_is_mqueue(pid, fd))
		return "a POSIX message queue (mq_open)";
	if (S_ISREG(st->st_mode) && files_link_deleted(link))
		return "a deleted file held with O_PATH";
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

/*
 * One fd of the table pid sees: the process's (pid is it->live), or the
 * own table of its thread pid (/proc/TID/fd is that thread's table; kcmp
 * and pidfd_getfd take a TID too). Into *fds.
 */
static int dump_one_fd(struct dump_files *df, struct pstree_item *it, pid_t pid,
		       int fd, FdEntry ***fds, int *nr)
{
	char path[64], *link, *info;
	struct proc_fdinfo fi;
	struct stat st;
	const struct fd_kind_ops *k;
	struct fd_dump f;
	FdEntry *e;
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
		refuse(it->pid, "fd %d is %s ('%s'), not supported yet",
		       fd, fd_kind_name(pid, fd, &st, link), link);
		ret = 0;
		goto out;
	}
	e = new_fd(fd, &fi, link);
	e->kind = k->kind;
	if (k->dump(df, &f, e) || dump_fown(it, pid, fd, e)) {
		fd_entry__free_unpacked(e, NULL);
		goto out;
	}
	add_fd(fds, nr, e);
	if (pid == it->live && it->posix_lock_fd < 0 && strstr(info, " POSIX "))
		it->posix_lock_fd = fd;
	/*
	 * A thread's own table: a POSIX lock is that table's, and would come
	 * back as the process's; OFD locks and flocks would be told apart
	 * from the process's fds of the same description only by luck.
	 */
	if (pid != it->live && (!strncmp(info, "lock:", 5) || strstr(info, "\nlock:"))) {
		refuse(it->pid, "fd %d of thread %d, which has an fd table of its own, holds a lock; not supported yet",
		       fd, pid);
		ret = 0;
		goto out;
	}
	/* Locks are no kind's: any fd may show some, files-lock.c takes them. */
	ret = locks_dump_fd(df, it, e, info);
out:
	free(info);
	free(link);
	return ret;
}

/*
 * An fd of crest's own standing for one that no task holds: received
 * (MSG_PEEK, SCM_RIGHTS) from the queue of a socket of it, where it is in
 * flight. Dumped as a task's fd, by the kind that recognises it: its
 * object is the one of the tree's fds on it (kcmp, inode), or a new one
 * if it is only in flight. Kinds made late or in each task give crest's
 * own copy to send again at restore (in_flight_fd: a pidfd, an epoll made
 * once by crest). What a restore can't give a message is refused (the
 * caller's refuse_context() says where it was): crest's own stdio, an
 * owner or a lock on it.
 */
int files_dump_own_fd(struct dump_files *df, struct pstree_item *it, int fd,
		      FdEntry **out)
{
	pid_t self = getpid();
	char path[64], *link, *info = NULL;
	struct proc_fdinfo fi;
	struct stat st;
	const struct fd_kind_ops *k;
	struct fd_dump f;
	FdEntry *e;
	int ret = -1;

	*out = NULL;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	link = readlink_alloc(path);
	if (!link || stat(path, &st)) {
		pr_perror("can't inspect crest's fd %d (in flight)", fd);
		free(link);
		return -1;
	}
	snprintf(path, sizeof(path), "fdinfo/%d", fd);
	info = read_proc(self, path, NULL);
	if (!info || proc_parse_fdinfo(info, &fi)) {
		pr_err("can't parse crest's /proc/self/fdinfo/%d", fd);
		goto out;
	}
	f = (struct fd_dump){ it, self, fd, link, &st, &fi, info };
	ret = 0;
	if (!files_recognise(&f, &k)) {
		refuse(it->pid, "fd %d is %s ('%s'), not supported yet", fd,
		       fd_kind_name(self, fd, &st, link), link);
		goto out;
	}
	if (k->kind == FD_KIND__FD_EXTERNAL) {
		refuse(it->pid, "fd %d is '%s', which leads outside the tree (crest's own fd at restore) and can't be sent again; not supported yet",
		       fd, link);
		goto out;
	}
	if (!strncmp(info, "lock:", 5) || strstr(info, "\nlock:")) {
		refuse(it->pid, "fd %d ('%s') holds a lock; not supported yet", fd, link);
		goto out;
	}
	e = new_fd(fd, &fi, link);
	e->kind = k->kind;
	if (k->dump(df, &f, e) || dump_fown(it, self, fd, e)) {
		fd_entry__free_unpacked(e, NULL);
		ret = -1;
		goto out;
	}
	if (e->fown) {
		refuse(it->pid, "fd %d ('%s') has an owner for its signals (F_SETOWN); not supported yet",
		       fd, link);
		fd_entry__free_unpacked(e, NULL);
		goto out;
	}
	/* Owned by the message it is in; listed for what watches it (epoll). */
	df->flying = xrealloc(df->flying, (df->nr_flying + 1) * sizeof(*df->flying));
	df->flying[df->nr_flying++] = e;
	*out = e;
out:
	free(info);
	free(link);
	return ret;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Every fd of the table pid sees, in order of fd. */
static int dump_table(struct dump_files *df, struct pstree_item *it, pid_t pid,
		      FdEntry ***out, int *nr_out)
{
	char path[64];
	struct dirent *de;
	int *fds = NULL, nr = 0, ret = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir) {
		pr_perror("can't list the fds of process %d (thread %d)", it->pid, pid);
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
		ret = dump_one_fd(df, it, pid, fds[i], out, nr_out);
	free(fds);
	return ret;
}

static int kcmp_files(pid_t a, pid_t b)
{
	return syscall(SYS_kcmp, a, b, KCMP_FILES, 0, 0);
}

/*
 * The process's table (that of it->live), then the table of each thread
 * that has one of its own: a thread made without CLONE_FILES, or that
 * called unshare(CLONE_FILES). Whether such a table is shared with
 * another task is check_fd_tables()'s.
 */
int files_dump_fds(struct dump_files *df, struct pstree_item *it)
{
	it->posix_lock_fd = -1;
	/* Its parent's table (clone(CLONE_FILES)): the parent's fds are its. */
	it->shares_files = it->parent && !it->parent->zombie &&
			   !kcmp_files(it->live, it->parent->live);
	if (!it->shares_files &&
	    dump_table(df, it, it->live, &it->fds, &it->nr_fds))
		return -1;
	for (int j = 0; j < it->nr_threads; j++) {
		pid_t tid = it->threads[j];
		struct thread_fds *tf;

		if (tid == it->live || !kcmp_files(tid, it->live))
			continue;
		it->tfds = xrealloc(it->tfds, (it->nr_tfds + 1) * sizeof(*it->tfds));
		tf = &it->tfds[it->nr_tfds++];
		*tf = (struct thread_fds){ tid, NULL, 0 };
		if (dump_table(df, it, tid, &tf->fds, &tf->nr_fds))
			return -1;
	}
	return 0;
}

/* The process whose fds a process's table is dumped with. */
static const struct pstree_item *table_owner(const struct pstree_item *it)
{
	while (it->shares_files)
		it = it->parent;
	return it;
}

/*
 * A process sharing its parent's table is made by it with CLONE_FILES.
 * The restorers of both close crest's fds in that one table: a POSIX
 * lock, which any close of the file by the table drops, would not
 * survive that; nor does a zombie leader's table fit the pattern.
 */
static int check_sharer(const struct pstree_item *a)
{
	const struct pstree_item *o = table_owner(a);

	if (a->zombie_leader || a->parent->zombie_leader) {
		pr_err("process %d (%s) shares the fd table of its parent %d (clone(CLONE_FILES)), and one of them has no main thread left; not supported yet",
		       a->pid, a->stat.comm, a->parent->pid);
		return -1;
	}
	if (a->nr_tfds) {
		pr_err("process %d (%s) shares the fd table of its parent %d (clone(CLONE_FILES)) and has a thread with a table of its own, not supported yet",
		       a->pid, a->stat.comm, a->parent->pid);
		return -1;
	}
	if (o->posix_lock_fd >= 0) {
		pr_err("process %d (%s) holds a POSIX lock (fd %d) in an fd table it shares with process %d (%s) (clone(CLONE_FILES)), not supported yet",
		       o->pid, o->stat.comm, o->posix_lock_fd, a->pid, a->stat.comm);
		return -1;
	}
	return 0;
}

static bool own_table(const struct pstree_item *it, pid_t tid)
{
	for (int j = 0; j < it->nr_tfds; j++)
		if (it->tfds[j].tid == tid)
			return true;
	return false;
}

/*
 * A root sharing its table with its parent (or a thread of it), outside
 * the checkpoint: it would come back with a table of its own. Refused.
 */
static int outside_sharer(const struct pstree_item *a)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", a->ppid);
	d = opendir(path);
	if (!d)
		return 0;	/* gone: nobody shares with it any more */
	while (!found && (de = readdir(d))) {
		pid_t tid = atoi(de->d_name);

		found = tid > 0 && !kcmp_files(a->live, tid);
	}
	closedir(d);
	if (found)
		pr_err("process %d (%s) shares its fd table with its parent %d outside the checkpoint (clone(CLONE_FILES)), and would come back with a table of its own: checkpoint the parent too",
		       a->pid, a->stat.comm, a->ppid);
	return found;
}

/*
 * Every process is restored with the fd table it had: its own, shared by
 * the threads that shared it, or its parent's (made with CLONE_FILES); a
 * thread with a table of its own gets it back, if nobody else holds that
 * table. Processes sharing a table but not as parent and child, and a
 * thread's table that another thread or process holds too, would come
 * back otherwise: refused, each by name.
 */
static int check_fd_tables(struct pstree *t)
{
	int ret = 0;

	for (int i = 0; i < t->nr; i++) {
		struct pstree_item *a = t->items[i];

		if (a->zombie)
			continue;
		for (int j = 0; j < a->nr_tfds; j++) {
			pid_t tid = a->tfds[j].tid;

			for (int k = 0; k < t->nr; k++) {
				struct pstree_item *b = t->items[k];

				if (b->zombie)
					continue;
				for (int m = 0; m < b->nr_threads; m++) {
					pid_t other = b->threads[m];

					if (other == tid || (b == a && !own_table(a, other)) ||
					    kcmp_files(tid, other))
						continue;
					pr_err("thread %d of process %d (%s) has an fd table of its own that thread %d of process %d (%s) holds too (clone(CLONE_FILES) from it), not supported yet",
					       tid, a->pid, a->stat.comm, other, b->pid, b->stat.comm);
					ret = -1;
				}
			}
		}
		if (a->shares_files)
			ret |= check_sharer(a);
		if (!a->parent && a->ppid > 0 && outside_sharer(a))
			ret = -1;
		for (int k = 0; k < i; k++) {
			struct pstree_item *b = t->items[k];

			if (b->zombie || table_owner(a) == table_owner(b) ||
			    kcmp_files(a->live, b->live))
				continue;
			pr_err("processes %d (%s) and %d (%s) share one fd table, but neither was made by the other with clone(CLONE_FILES) (a sibling, or a parent that left the table since); not supported yet",
			       b->pid, b->stat.comm, a->pid, a->stat.comm);
			ret = -1;
		}
	}
	return ret;
}

/* Is tid a thread of it other than its main one? */
static bool files_other_thread(const struct pstree_item *it, pid_t tid)
{
	for (int j = 0; j < it->nr_threads; j++)
		if (it->threads[j] == tid && tid != it->pid)
			return true;
	return false;
}

static bool in_tree(struct pstree *t, const struct pstree_item *holder,
		    const FownEntry *o)
{
	/* The restorer gives it once it has made the holder's threads. */
	if (o->type == F_OWNER_TID && files_other_thread(holder, o->pid))
		return true;
	for (int i = 0; i < t->nr; i++) {
		const struct pstree_item *it = t->items[i];

		switch (o->type) {
		case F_OWNER_TID:
			/* A main thread: set with the fds, before the threads. */
			if ((pid_t)o->pid == it->pid && !it->zombie_leader)
				return true;
			break;
		case F_OWNER_PID:
			if ((pid_t)o->pid == it->pid)
				return true;
			break;
		case F_OWNER_PGRP:
			if ((pid_t)o->pid == it->pgid)
				return true;
			break;
		}
	}
	return false;
}

/* Owners and signals that a restore can give back, each fd by name. */
static int check_table_fowns(struct pstree *t, struct pstree_item *it,
			     FdEntry **fds, int nr)
{
	static const char *const types[] = { "thread", "process", "process group" };
	int ret = 0;

	for (int j = 0; j < nr; j++) {
		const FdEntry *e = fds[j];
		const FownEntry *o = e->fown;

		if (e->kind == FD_KIND__FD_EXTERNAL && (o || (e->flags & O_ASYNC))) {
			pr_err("fd %u of process %d (%s) leads outside the tree and has O_ASYNC or an owner, which crest can't give its own fd; not supported yet",
			       e->fd, it->pid, e->desc);
			ret = -1;
			continue;
		}
		if (!o || !o->pid)
			continue;
		if (o->type > F_OWNER_PGRP) {
			pr_err("fd %u of process %d (%s) has an owner of unknown type %u",
			       e->fd, it->pid, e->desc, o->type);
			ret = -1;
		} else if (!in_tree(t, it, o)) {
			pr_err("fd %u of process %d (%s) sends its signals to %s %u, %s; not supported yet",
			       e->fd, it->pid, e->desc, types[o->type], o->pid,
			       o->type == F_OWNER_TID ?
			       "neither a main thread of the tree nor a thread of the process holding the fd" :
			       "which is not in the tree");
			ret = -1;
		}
	}
	return ret;
}

static int check_fowns(struct pstree *t)
{
	int ret = 0;

	for (int i = 0; i < t->nr; i++) {
		struct pstree_item *it = t->items[i];

		ret |= check_table_fowns(t, it, it->fds, it->nr_fds);
		for (int j = 0; j < it->nr_tfds; j++)
			ret |= check_table_fowns(t, it, it->tfds[j].fds, it->tfds[j].nr_fds);
	}
	return ret;
}

/*
 * The kinds' collected hooks walk it->fds: for them the fds of the
 * threads' own tables join the process's for the while (the same
 * entries, so what a hook changes in one stays), then are cut off again.
 */
static void join_tables(struct pstree *t, int *saved)
{
	for (int i = 0; i < t->nr; i++) {
		struct pstree_item *it = t->items[i];

		saved[i] = it->nr_fds;
		for (int j = 0; j < it->nr_tfds; j++)
			for (int k = 0; k < it->tfds[j].nr_fds; k++)
				add_fd(&it->fds, &it->nr_fds, it->tfds[j].fds[k]);
	}
}

static void split_tables(struct pstree *t, const int *saved)
{
	for (int i = 0; i < t->nr; i++)
		t->items[i]->nr_fds = saved[i];
}

int files_dump_collected(struct dump_files *df, struct pstree *t)
{
	int ret = check_fd_tables(t);
	int *saved = xzalloc((t->nr + 1) * sizeof(*saved));

	join_tables(t, saved);
	/* First the fds only in flight: they are the tree's too. */
	for_each_kind(k)
		if ((*k)->inflight && (*k)->inflight(df, t))
			ret = -1;
	for_each_kind(k)
		if ((*k)->collected && (*k)->collected(df, t))
			ret = -1;
	split_tables(t, saved);
	free(saved);
	/* After the pipes: an end leading outside is an external fd now. */
	ret |= check_fowns(t);
	return locks_dump_check(df, t) | ret;
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

/* fdinfo-PID.img, and fdinfo-TID.img for each thread's own table. */
int files_write_fdinfo(struct pstree_item *it, struct img_dir *d)
{
	if (files_write_msgs(d, IMG_FDINFO, it->pid, (void **)it->fds, it->nr_fds))
		return -1;
	for (int j = 0; j < it->nr_tfds; j++)
		if (files_write_msgs(d, IMG_FDINFO, it->tfds[j].tid,
				     (void **)it->tfds[j].fds, it->tfds[j].nr_fds))
			return -1;
	return 0;
}

int files_dump_contents(struct dump_files *df, struct img_dir *d)
{
	for_each_kind(k)
		if ((*k)->contents && (*k)->contents(df, d))
			return -1;
	return 0;
}

void files_dump_done(struct dump_files *df, bool kill)
{
	for_each_kind(k)
		if ((*k)->dump_done)
			(*k)->dump_done(df, kill);
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

int files_take_into(const struct restore_files *rf, pid_t crest, int sfd,
		    const FdEntry *e)
{
	int fd;

	if (rf->crest_pidfd > 0 && crest == rf->crest) {
		fd = syscall(SYS_pidfd_getfd, rf->crest_pidfd, sfd, 0);
		if (fd < 0)
			pr_perror("can't take fd %d of crest (%d)", sfd, crest);
	} else {
		fd = pidfd_take(crest, sfd);
	}
	if (fd < 0)
		return -1;
	if (fd == (int)e->fd) {
		if (!e->cloexec && fcntl(fd, F_SETFD, 0)) {
			pr_perror("can't clear close-on-exec of fd %u", e->fd);
			return -1;
		}
		return 0;
	}
	if (dup3(fd, e->fd, e->cloexec ? O_CLOEXEC : 0) < 0) {
		pr_perror("can't put fd %u (%s) in place", e->fd, e->desc);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
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

int files_make_services(struct restore_files *rf, void *const *objs, int nr,
			int (*make)(const void *obj), int **fds)
{
	*fds = xzalloc((nr + 1) * sizeof(int));
	for (int i = 0; i < nr; i++)
		(*fds)[i] = -1;
	for (int i = 0; i < nr; i++) {
		(*fds)[i] = files_to_service(make(objs[i]), rf->base);
		if ((*fds)[i] < 0)
			return -1;
	}
	return 0;
}

int files_open_all(struct restore_files *rf, struct img_dir *d, int base,
		   MmEntry **mms, int nr_mms)
{
	rf->base = base;
	rf->crest = getpid();
	rf->crest_pidfd = syscall(SYS_pidfd_open, rf->crest, 0);
	if (rf->crest_pidfd < 0) {
		pr_perror("can't open a pidfd of crest itself");
		return -1;
	}
	rf->crest_pidfd = files_to_service(rf->crest_pidfd, base);
	if (rf->crest_pidfd < 0)
		return -1;
	for_each_kind(k)
		if ((*k)->open && (*k)->open(rf, d, mms, nr_mms))
			return -1;
	return 0;
}

int files_task_early(const struct restore_files *rf, pid_t pid)
{
	for_each_kind(k)
		if ((*k)->task_early && (*k)->task_early(rf, pid))
			return -1;
	return 0;
}

int files_ipc_entered(const struct restore_files *rf, uint32_t ipc_ns)
{
	for_each_kind(k)
		if ((*k)->ipc_entered && (*k)->ipc_entered(rf, ipc_ns))
			return -1;
	return 0;
}

int files_tasks_made(struct restore_files *rf, const struct files_pid_map *map)
{
	for_each_kind(k)
		if ((*k)->tasks_made && (*k)->tasks_made(rf, map))
			return -1;
	/* Every kind's objects are there now, those made late too. */
	for_each_kind(k)
		if ((*k)->queues && (*k)->queues(rf, map))
			return -1;
	return 0;
}

int files_threads_made(struct restore_files *rf, const struct files_pid_map *map)
{
	for_each_kind(k)
		if ((*k)->threads_made && (*k)->threads_made(rf, map))
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

int files_in_flight_fd(const struct restore_files *rf, const FdEntry *e)
{
	const struct fd_kind_ops *k = kind_of(e->kind);

	if (!k)
		return -1;
	return k->in_flight_fd ? k->in_flight_fd(rf, e) : k->service_fd(rf, e);
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

/* What F_SETFL can change; the rest is given at open by the kinds. */
#define SETFL_FLAGS	(O_APPEND | O_ASYNC | O_DIRECT | O_NOATIME | O_NONBLOCK)
/* What must be as it was, checked once every fd is in place. */
#define CHECKED_FLAGS	(O_ACCMODE | SETFL_FLAGS | O_SYNC | O_DSYNC | O_PATH)

/*
 * The description's status flags, owner and signal, for every kind. The
 * owner is set first so that O_ASYNC, once on, signals the right task.
 * An fd leading outside is crest's own: left as it is (the dump refused
 * one with O_ASYNC or an owner).
 */
bool files_owner_later(const FdEntry *e, const struct files_pid_map *map)
{
	if (!map || !e->fown || e->fown->type != F_OWNER_TID || !e->fown->pid ||
	    (pid_t)e->fown->pid == map->self)
		return false;
	for (int i = 0; i < map->nr_tids; i++)
		if (map->tids[i] == (pid_t)e->fown->pid)
			return true;
	return false;
}

int files_set_status(int fd, const FdEntry *e)
{
	int cur = fcntl(fd, F_GETFL);

	if (cur < 0 || ((cur & SETFL_FLAGS) != (int)(e->flags & SETFL_FLAGS) &&
			fcntl(fd, F_SETFL, (cur & ~SETFL_FLAGS) | (e->flags & SETFL_FLAGS)))) {
		pr_perror("can't set the flags 0%o of %s", e->flags & SETFL_FLAGS, e->desc);
		return -1;
	}
	return 0;
}

static int restore_fd_state(const FdEntry *e, const struct files_pid_map *map)
{
	int cur, checked = CHECKED_FLAGS;

	if (e->kind == FD_KIND__FD_EXTERNAL || !e->has_flags || (e->flags & O_PATH))
		return 0;
	if (e->fown && files_owner_later(e, map)) {
		/* Its thread does not exist yet: the restorer's (rst_fown). */
		if (fcntl(e->fd, F_SETSIG, e->fown->signum)) {
			pr_perror("can't give fd %u (%s) its signal %u", e->fd, e->desc,
				  e->fown->signum);
			return -1;
		}
	} else if (e->fown) {
		struct f_owner_ex own = { .type = e->fown->type, .pid = e->fown->pid }, got;

		if (own.pid && map && map->new_pid) {
			own.pid = map->new_pid(map->arg, own.pid);
			if (!own.pid) {
				pr_err("fd %u (%s): its owner %u is not restored",
				       e->fd, e->desc, e->fown->pid);
				return -1;
			}
		}
		/*
		 * A group led by a task of the tree exists once its leader
		 * has made it, which may be just after this task got here:
		 * wait for it a while. The kernel takes a group that does
		 * not exist yet and forgets it (checked below).
		 */
		if (own.type == F_OWNER_PGRP && own.pid)
			for (int i = 0; i < 10000 && kill(-own.pid, 0) && errno == ESRCH; i++)
				usleep(1000);
		if (fcntl(e->fd, F_SETOWN_EX, &own)) {
			pr_perror("can't give fd %u (%s) its owner %u", e->fd, e->desc, own.pid);
			return -1;
		}
		if (own.pid && (fcntl(e->fd, F_GETOWN_EX, &got) ||
				got.type != own.type || got.pid != own.pid)) {
			pr_err("fd %u (%s): its owner, %s %d, does not exist after the restore%s",
			       e->fd, e->desc, own.type == F_OWNER_PGRP ? "process group" :
			       own.type == F_OWNER_PID ? "process" : "thread", own.pid,
			       own.type == F_OWNER_PGRP ?
			       " (the root joins crest's group unless --restore-pgid)" : "");
			return -1;
		}
		if (fcntl(e->fd, F_SETSIG, e->fown->signum)) {
			pr_perror("can't give fd %u (%s) its signal %u", e->fd, e->desc,
				  e->fown->signum);
			return -1;
		}
	}
	cur = fcntl(e->fd, F_GETFL);
	if (cur < 0) {
		pr_perror("can't read the flags of fd %u (%s)", e->fd, e->desc);
		return -1;
	}
	if ((cur & SETFL_FLAGS) != (int)(e->flags & SETFL_FLAGS) &&
	    fcntl(e->fd, F_SETFL, (cur & ~SETFL_FLAGS) | (e->flags & SETFL_FLAGS))) {
		pr_perror("can't set the flags 0%o of fd %u (%s)",
			  e->flags & SETFL_FLAGS, e->fd, e->desc);
		return -1;
	}
	/*
	 * A regular file has no fasync: F_SETFL drops O_ASYNC, which only a
	 * lease sets on it (files-lock.c takes the lease back, after this).
	 */
	if (e->kind == FD_KIND__FD_REG)
		checked &= ~O_ASYNC;
	cur = fcntl(e->fd, F_GETFL);
	if (cur < 0 || (cur & checked) != (int)(e->flags & checked)) {
		pr_err("fd %u (%s) has the flags 0%o, not 0%o as at the checkpoint",
		       e->fd, e->desc, cur & checked, e->flags & checked);
		return -1;
	}
	return 0;
}

/*
 * Every source is a service fd, at or above base and so above every fd
 * of the tree: putting one fd in place never closes what another needs.
 */
int files_restore_fds(const struct restore_files *rf, FdEntry **fds, int nr,
		      const struct files_pid_map *map)
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
	for (int i = 0; i < nr; i++)
		if (restore_fd_state(fds[i], map))
			return -1;
	return 0;
}
