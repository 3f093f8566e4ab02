/*
 * File locks and leases of the tree.
 *
 * At dump every "lock:" line of /proc/PID/fdinfo/N becomes one
 * file_lock_entry (filelocks.img), named by the task and fd that takes it
 * back: a POSIX lock by its owner (fdinfo shows a process only its own),
 * an OFD lock, flock or lease by a holder of the description, the one
 * that took it if it is in the tree (the pid the kernel shows). Then
 * /proc/locks is read: a lock of a tree process that no fd showed (a
 * flock on a description only mapped, or passed away), or any lock on a
 * file the tree holds only through a mapping, makes the dump refuse, as
 * does any line that is not a plain advisory lock or an active lease
 * (delegations, leases being broken, anything unknown).
 *
 * Kernel facts this relies on (fs/locks.c):
 *  - POSIX locks belong to the fd table (files_struct); closing ANY fd of
 *    the file drops all of the process's POSIX locks on it. So they are
 *    taken by the restored process itself, last, after crest's fds are
 *    closed (pie/restorer.c), and nothing of crest closes an fd after.
 *  - OFD locks and flocks belong to the open file description and go with
 *    its last reference; a lease too, and its breaks signal the fd's
 *    owner, which F_SETLEASE makes the caller. So the restored task takes
 *    them itself, on its own fd number, once its fds are in place.
 *  - A task blocked in F_SETLKW/F_OFD_SETLKW/flock() was interrupted by
 *    the seize (-ERESTARTSYS): it is in no list, and its syscall restarts
 *    after the restore against locks already held again.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "files.h"
#include "files-lock.h"
#include "image.h"
#include "log.h"
#include "pie-abi.h"
#include "pstree.h"
#include "refuse.h"
#include "util.h"

#ifndef F_OFD_GETLK
#define F_OFD_GETLK	36
#define F_OFD_SETLK	37
#define F_OFD_SETLKW	38
#endif

/* What the dump has seen, to find duplicates and check /proc/locks. */
struct lock_seen {
	struct lock_line l;
	uint32_t fd_kind, file_id;	/* the description (not POSIX) */
	FileLockEntry *e;
};

struct dump_locks {
	FileLockEntry **locks;
	int nr;
	struct lock_seen *seen;		/* every line, duplicates too */
	int nr_seen;
};

int lock_parse_line(const char *line, struct lock_line *l)
{
	char end[24];
	int n = 0;

	memset(l, 0, sizeof(*l));
	while (*line == ' ' || *line == '\t')
		line++;
	/* "N: " then, for a waiting request, "-> " */
	if (sscanf(line, "%*d:%n", &n) != 0 || !n)
		return -1;
	line += n;
	while (*line == ' ')
		line++;
	if (!strncmp(line, "->", 2)) {
		l->pending = 1;
		line += 2;
	}
	if (sscanf(line, "%7s %11s %7s %d %x:%x:%" SCNu64 " %" SCNu64 " %23s",
		   l->kind, l->mode, l->type, &l->pid, &l->dev_major,
		   &l->dev_minor, &l->ino, &l->start, end) != 9)
		return -1;
	if (!strcmp(end, "EOF")) {
		l->end = UINT64_MAX;
	} else {
		char *p;

		errno = 0;
		l->end = strtoull(end, &p, 10);
		if (errno || *p || l->end < l->start)
			return -1;
	}
	return 0;
}

static FileLockKind lock_kind(const struct lock_line *l)
{
	if (!strcmp(l->kind, "POSIX"))
		return FILE_LOCK_KIND__LOCK_POSIX;
	if (!strcmp(l->kind, "OFDLCK"))
		return FILE_LOCK_KIND__LOCK_OFD;
	if (!strcmp(l->kind, "FLOCK"))
		return FILE_LOCK_KIND__LOCK_FLOCK;
	if (!strcmp(l->kind, "LEASE"))
		return FILE_LOCK_KIND__LOCK_LEASE;
	return 0;
}

static const char *kind_name(FileLockKind k)
{
	switch (k) {
	case FILE_LOCK_KIND__LOCK_POSIX:	return "POSIX lock";
	case FILE_LOCK_KIND__LOCK_OFD:		return "OFD lock";
	case FILE_LOCK_KIND__LOCK_FLOCK:	return "flock";
	case FILE_LOCK_KIND__LOCK_LEASE:	return "lease";
	default:				return "lock";
	}
}

/* Why this line can't be restored, or NULL if it can. */
static const char *unsupported(const struct lock_line *l, FileLockKind k)
{
	if (!strcmp(l->kind, "DELEG"))
		return "an NFS delegation";
	if (!strcmp(l->kind, "ACCESS"))
		return "a mandatory-lock access check";
	if (!k)
		return "a lock of a kind crest does not know";
	if (k == FILE_LOCK_KIND__LOCK_LEASE) {
		if (!strcmp(l->mode, "BREAKING"))
			return "a lease being broken";
		if (strcmp(l->mode, "ACTIVE"))
			return "a lease in a state crest does not know";
	} else if (strcmp(l->mode, "ADVISORY")) {
		return "a lock that is not advisory";
	}
	if (strcmp(l->type, "READ") && strcmp(l->type, "WRITE"))
		return "a lock of a type crest does not know";
	return NULL;
}

static int lockable_fd(FdKind k)
{
	return k == FD_KIND__FD_REG || k == FD_KIND__FD_CHR ||
	       k == FD_KIND__FD_MEMFD;
}

static int same_lock(const struct lock_line *a, const struct lock_line *b)
{
	return !strcmp(a->kind, b->kind) && !strcmp(a->type, b->type) &&
	       a->dev_major == b->dev_major && a->dev_minor == b->dev_minor &&
	       a->ino == b->ino && a->start == b->start && a->end == b->end;
}

static void describe(char *buf, size_t size, const struct lock_line *l)
{
	char end[24] = "EOF";

	if (l->end != UINT64_MAX)
		snprintf(end, sizeof(end), "%" PRIu64, l->end);
	snprintf(buf, size, "%s %s %s %" PRIu64 "-%s", l->kind, l->mode, l->type,
		 l->start, end);
}

static struct dump_locks *dl_of(struct dump_files *df)
{
	if (!df->locks)
		df->locks = xzalloc(sizeof(*df->locks));
	return df->locks;
}

/*
 * A duplicate: a POSIX lock of this process seen through another fd, or
 * the description's lock seen through another fd or process.
 */
static struct lock_seen *find_seen(struct dump_locks *dl, const struct lock_line *l,
				   FileLockKind k, pid_t pid, const FdEntry *e)
{
	for (int i = 0; i < dl->nr_seen; i++) {
		struct lock_seen *s = &dl->seen[i];

		if (!s->e || !same_lock(&s->l, l))
			continue;
		if (k == FILE_LOCK_KIND__LOCK_POSIX ? (pid_t)s->e->pid == pid :
		    (s->fd_kind == (uint32_t)e->kind && s->file_id == e->file_id))
			return s;
	}
	return NULL;
}

static void add_seen(struct dump_locks *dl, const struct lock_line *l,
		     const FdEntry *e, FileLockEntry *fe)
{
	dl->seen = xrealloc(dl->seen, (dl->nr_seen + 1) * sizeof(*dl->seen));
	dl->seen[dl->nr_seen++] = (struct lock_seen){ *l, e->kind, e->file_id, fe };
}

static int dump_one(struct dump_locks *dl, struct pstree_item *it,
		    const FdEntry *e, const struct lock_line *l)
{
	FileLockKind k = lock_kind(l);
	const char *why = unsupported(l, k);
	struct lock_seen *s;
	FileLockEntry *fe;
	char what[96];

	describe(what, sizeof(what), l);
	if (!why && !lockable_fd(e->kind))
		why = "a lock on a kind of file crest does not reopen";
	if (!why && k == FILE_LOCK_KIND__LOCK_POSIX && l->pid != it->pid)
		why = "a POSIX lock of another process sharing its fd table";
	if (why) {
		refuse(it->pid, "fd %u ('%s') holds %s (%s), not supported",
		       e->fd, e->desc, why, what);
		return 0;
	}

	s = find_seen(dl, l, k, it->pid, e);
	if (s) {
		/* The taker itself is in the tree: it takes it back. */
		if (l->pid == it->pid && (pid_t)s->e->pid != it->pid) {
			s->e->pid = it->pid;
			s->e->fd = e->fd;
		}
		add_seen(dl, l, e, NULL);
		return 0;
	}
	fe = xzalloc(sizeof(*fe));
	file_lock_entry__init(fe);
	fe->kind = k;
	fe->type = !strcmp(l->type, "WRITE") ? F_WRLCK : F_RDLCK;
	fe->pid = it->pid;
	fe->fd = e->fd;
	fe->start = l->start;
	fe->len = l->end == UINT64_MAX ? 0 : l->end - l->start + 1;
	{
		size_t len = strlen(what) + strlen(e->desc) + 4;

		fe->desc = xzalloc(len);
		snprintf(fe->desc, len, "%s '%s'", what, e->desc);
	}
	dl->locks = xrealloc(dl->locks, (dl->nr + 1) * sizeof(*dl->locks));
	dl->locks[dl->nr++] = fe;
	add_seen(dl, l, e, fe);
	return 0;
}

int locks_dump_fd(struct dump_files *df, struct pstree_item *it,
		  const FdEntry *e, const char *fdinfo)
{
	const char *p = fdinfo;
	int ret = 0;

	while ((p = strstr(p, "\nlock:"))) {
		struct lock_line l;
		char line[256];
		size_t n;

		p += 6;
		n = strcspn(p, "\n");
		snprintf(line, sizeof(line), "%.*s", (int)n, p);
		if (lock_parse_line(line, &l)) {
			refuse(it->pid, "fd %u ('%s') holds a lock crest can't read: '%s'",
			       e->fd, e->desc, line);
			continue;
		}
		if (dump_one(dl_of(df), it, e, &l))
			ret = -1;
	}
	return ret;
}

/* A process of the tree mapping the file of fo (the root if none). */
static pid_t mapper_of(const struct dump_files *df, const struct pstree *t,
		       const struct file_owner *fo)
{
	for (int i = 0; i < t->nr; i++) {
		const struct pstree_item *it = t->items[i];

		for (int k = 0; k < it->mem.nr_vmas; k++) {
			const VmaEntry *v = it->mem.vmas[k];

			if (v->has_file_id && v->file_id >= 1 &&
			    (int)v->file_id <= df->nr_files &&
			    df->files_own[v->file_id - 1].dev == fo->dev &&
			    df->files_own[v->file_id - 1].ino == fo->ino)
				return it->pid;
		}
	}
	return t->items[0]->pid;
}

/* Is dev:ino held by the tree only through mappings (no fd)? */
static const struct file_owner *only_mapped(const struct dump_files *df,
					    const struct lock_line *l)
{
	const struct file_owner *mapped = NULL;

	for (int i = 0; i < df->nr_files; i++) {
		const struct file_owner *o = &df->files_own[i];

		if (major(o->dev) != l->dev_major || minor(o->dev) != l->dev_minor ||
		    o->ino != l->ino)
			continue;
		if (o->fd >= 0)
			return NULL;
		mapped = o;
	}
	return mapped;
}

/* A path the tree knows dev:ino by, for messages. */
static const char *path_of(const struct dump_files *df, const struct lock_line *l)
{
	for (int i = 0; i < df->nr_files; i++) {
		const struct file_owner *o = &df->files_own[i];

		if (major(o->dev) == l->dev_major && minor(o->dev) == l->dev_minor &&
		    o->ino == l->ino)
			return df->files[i]->path;
	}
	return "a file crest does not see";
}

static int seen_line(const struct dump_locks *dl, const struct lock_line *l)
{
	for (int i = 0; dl && i < dl->nr_seen; i++)
		if (same_lock(&dl->seen[i].l, l) &&
		    (l->pid == -1 || dl->seen[i].l.pid == l->pid))
			return 1;
	return 0;
}

int locks_dump_check(struct dump_files *df, const struct pstree *t)
{
	char *buf = read_file("/proc/locks", NULL), *line, *save = NULL;
	const struct file_owner *fo;

	if (!buf) {
		pr_perror("can't read /proc/locks");
		return -1;
	}
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		const struct pstree_item *it;
		struct lock_line l;
		char what[96];

		if (lock_parse_line(line, &l))
			continue;	/* "<none>" inodes: not a file of ours */
		if (l.pending || seen_line(df->locks, &l))
			continue;
		describe(what, sizeof(what), &l);
		it = l.pid > 0 ? pstree_find(t, l.pid) : NULL;
		if (it && !it->zombie) {
			refuse(it->pid, "holds a lock crest sees through none of its fds (%s on '%s', inode %02x:%02x:%" PRIu64 "; a file only mapped, or an fd passed away), not supported",
			       what, path_of(df, &l), l.dev_major, l.dev_minor, l.ino);
		} else if (strcmp(l.kind, "POSIX") && (fo = only_mapped(df, &l))) {
			refuse(mapper_of(df, t, fo), "maps '%s' (inode %02x:%02x:%" PRIu64 "), locked (%s, pid %d) through a description crest can't see, not supported",
			       path_of(df, &l), l.dev_major, l.dev_minor, l.ino, what, l.pid);
		}
	}
	free(buf);
	return 0;
}

int locks_write(struct dump_files *df, struct img_dir *d)
{
	struct dump_locks *dl = dl_of(df);
	struct image *img = img_create(d, IMG_FILE_LOCKS, 0);

	if (!img)
		return -1;
	for (int i = 0; i < dl->nr; i++)
		if (img_write_msg(img, &dl->locks[i]->base))
			return -1;
	return 0;
}

/* ---- restore ---- */

int locks_read(struct restore_files *rf, struct img_dir *d)
{
	struct image *img = img_open(d, IMG_FILE_LOCKS, 0);
	void *msg;
	int ret;

	rf->locks = NULL;
	rf->nr_locks = 0;
	if (!img)
		return -1;
	while ((ret = img_read_msg(img, &msg)) > 0) {
		FileLockEntry *l = msg;

		if ((l->type != F_RDLCK && l->type != F_WRLCK) ||
		    l->kind < FILE_LOCK_KIND__LOCK_POSIX ||
		    l->kind > FILE_LOCK_KIND__LOCK_LEASE || (int64_t)l->start < 0 ||
		    (int64_t)l->len < 0) {
			pr_err("image '%s' is corrupt near offset %zu: bad lock",
			       img->path, img->off);
			ret = -1;
			break;
		}
		rf->locks = xrealloc(rf->locks, (rf->nr_locks + 1) * sizeof(l));
		rf->locks[rf->nr_locks++] = l;
	}
	img_close(img);
	return ret < 0 ? -1 : 0;
}

static const FdEntry *fd_of(FdEntry **fds, int nr, uint32_t fd)
{
	for (int i = 0; i < nr; i++)
		if (fds[i]->fd == fd)
			return fds[i];
	return NULL;
}

static void to_flock(const FileLockEntry *l, struct flock *fl)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = l->type;
	fl->l_whence = SEEK_SET;
	fl->l_start = l->start;
	fl->l_len = l->len;
}

int locks_check_task(const struct restore_files *rf, pid_t pid,
		     FdEntry **fds, int nr)
{
	int ret = 0;

	for (int i = 0; i < rf->nr_locks; i++) {
		const FileLockEntry *l = rf->locks[i];
		const FdEntry *e;
		struct flock fl;
		int sfd;

		if ((pid_t)l->pid != pid)
			continue;
		e = fd_of(fds, nr, l->fd);
		if (!e || !lockable_fd(e->kind)) {
			pr_err("the images give process %d a %s on fd %u, which it has no file on",
			       pid, kind_name(l->kind), l->fd);
			ret = -1;
			continue;
		}
		if (l->kind != FILE_LOCK_KIND__LOCK_POSIX &&
		    l->kind != FILE_LOCK_KIND__LOCK_OFD)
			continue;	/* no way to ask: the task finds out */
		sfd = files_service_fd(rf, e);
		to_flock(l, &fl);
		/* crest holds no lock: anything it sees is somebody else's. */
		if (sfd < 0 || fcntl(sfd, F_OFD_GETLK, &fl)) {
			pr_perror("can't check the %s of process %d on fd %u (%s)",
				  kind_name(l->kind), pid, l->fd, l->desc);
			ret = -1;
		} else if (fl.l_type != F_UNLCK) {
			pr_err("'%s' is locked now (%s by %s %d, from %lld, %lld bytes): process %d can't take back its %s (%s); stop that process or unlock the file",
			       e->desc, fl.l_type == F_WRLCK ? "WRITE" : "READ",
			       fl.l_pid > 0 ? "process" : "an open file description, pid",
			       fl.l_pid, (long long)fl.l_start, (long long)fl.l_len,
			       pid, kind_name(l->kind), l->desc);
			ret = -1;
		}
	}
	return ret;
}

/*
 * F_SETLEASE makes the caller the fd's owner (who a break signals). An
 * owner the fd already has (put back from the images) was set after the
 * lease in the original, or it would be the taker: it stays.
 */
static int take_lease(const FileLockEntry *l)
{
	struct f_owner_ex own = { 0 };
	int had = !fcntl(l->fd, F_GETOWN_EX, &own) && own.pid;

	if (fcntl(l->fd, F_SETLEASE, l->type))
		return -1;
	return had ? fcntl(l->fd, F_SETOWN_EX, &own) : 0;
}

static int take(const FileLockEntry *l)
{
	struct flock fl;

	switch (l->kind) {
	case FILE_LOCK_KIND__LOCK_OFD:
		to_flock(l, &fl);
		return fcntl(l->fd, F_OFD_SETLK, &fl);
	case FILE_LOCK_KIND__LOCK_FLOCK:
		return flock(l->fd, (l->type == F_WRLCK ? LOCK_EX : LOCK_SH) | LOCK_NB);
	case FILE_LOCK_KIND__LOCK_LEASE:
		return take_lease(l);
	default:
		return 0;	/* POSIX: the restorer's */
	}
}

int locks_restore_task(const struct restore_files *rf, pid_t pid)
{
	for (int i = 0; i < rf->nr_locks; i++) {
		const FileLockEntry *l = rf->locks[i];

		if ((pid_t)l->pid != pid || !take(l))
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			pr_err("process %d can't take back its %s on fd %u (%s): another process holds a conflicting one now%s",
			       pid, kind_name(l->kind), l->fd, l->desc,
			       l->kind == FILE_LOCK_KIND__LOCK_LEASE ?
			       " or has the file open" : "");
		else
			pr_perror("process %d can't take back its %s on fd %u (%s)",
				  pid, kind_name(l->kind), l->fd, l->desc);
		return -1;
	}
	return 0;
}

int locks_fill_posix(const struct restore_files *rf, pid_t pid,
		     struct rst_lock *out)
{
	int n = 0;

	for (int i = 0; i < rf->nr_locks; i++) {
		const FileLockEntry *l = rf->locks[i];

		if ((pid_t)l->pid != pid || l->kind != FILE_LOCK_KIND__LOCK_POSIX)
			continue;
		if (out) {
			out[n].fd = l->fd;
			out[n].type = l->type;
			out[n].start = l->start;
			out[n].len = l->len;
		}
		n++;
	}
	return n;
}

const FileLockEntry *locks_posix_nth(const struct restore_files *rf,
				     pid_t pid, int n)
{
	for (int i = 0; i < rf->nr_locks; i++) {
		const FileLockEntry *l = rf->locks[i];

		if ((pid_t)l->pid != pid || l->kind != FILE_LOCK_KIND__LOCK_POSIX)
			continue;
		if (!n--)
			return l;
	}
	return NULL;
}
