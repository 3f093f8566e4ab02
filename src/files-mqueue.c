/*
 * fds of POSIX message queues (mq_open): an mqd_t is an fd on the
 * mqueue filesystem of the IPC namespace it was opened in, whose link
 * reads "/NAME" (as if a path; "/NAME (deleted)" once mq_unlink'ed).
 * The queue itself, with its messages, is its namespace's (namespaces.c,
 * ipc_posix_mq()); an fd is its name and flags (the access mode, and
 * O_NONBLOCK, which files.c sets again as for any fd).
 *
 * At restore each task opens its own with mq_open() in post_open: it is
 * in its IPC namespace by then, and the queue was made there when the
 * task that entered it started (ns_restore_entered()). So a description
 * is one fd's: one held by two fds (dup, or inherited across fork) is
 * refused by name, as are a queue of crest's own IPC namespace (the
 * machine's: not saved), one mq_unlink'ed while open, one of another
 * IPC namespace than its holder's, and one in flight (SCM_RIGHTS).
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"
#include "files-kind.h"
#include "image.h"
#include "log.h"
#include "mqueue.pb-c.h"
#include "pstree.h"
#include "refuse.h"
#include "util.h"

dev_t ipc_mqueue_dev(pid_t pid);	/* ns-mnt.c */

#define MQ_FLAGS	(O_ACCMODE | O_NONBLOCK)

struct mq_dump {
	MqFdEntry **ms;
	struct file_owner *own;
	int nr;
};

struct mq_restore {
	MqFdEntry **ms;
	int nr;
};

static struct mq_dump *dump_state(struct dump_files *df)
{
	void **p = files_dump_priv(df, &mqueue_fd_ops);

	if (!*p)
		*p = xzalloc(sizeof(struct mq_dump));
	return *p;
}

static struct mq_restore *restore_state(struct restore_files *rf)
{
	void **p = files_restore_priv(rf, &mqueue_fd_ops);

	if (!*p)
		*p = xzalloc(sizeof(struct mq_restore));
	return *p;
}

static const struct mq_restore *restore_state_ro(const struct restore_files *rf)
{
	return *files_restore_priv_ro(rf, &mqueue_fd_ops);
}

static bool mq_recognise(const struct fd_dump *f)
{
	return S_ISREG(f->st->st_mode) && !(f->fi->flags & O_PATH) &&
	       files_is_mqueue(f->pid, f->fd);
}

static bool same_ns(pid_t pid, const char *kind)
{
	char a[64], b[64], la[64] = "", lb[64] = "";

	snprintf(a, sizeof(a), "/proc/%d/ns/%s", pid, kind);
	snprintf(b, sizeof(b), "/proc/self/ns/%s", kind);
	return readlink(a, la, sizeof(la) - 1) > 0 && readlink(b, lb, sizeof(lb) - 1) > 0 &&
	       !strcmp(la, lb);
}

static int mq_dump(struct dump_files *df, const struct fd_dump *f, FdEntry *e)
{
	struct mq_dump *s = dump_state(df);
	pid_t pid = f->it->pid;
	MqFdEntry *m;

	e->file_id = 0;
	for (int i = 0; i < s->nr; i++)
		if (files_same_description(f->pid, f->fd, s->own[i].pid, s->own[i].fd)) {
			refuse(pid, "fd %d is POSIX message queue '%s', the same open file description as fd %d of process %d (dup, or inherited across fork): not supported yet",
			       f->fd, f->link, s->own[i].fd, s->own[i].pid);
			return 0;
		}
	if (f->pid == getpid()) {
		refuse(pid, "a POSIX message queue '%s' in flight (sent with SCM_RIGHTS, not received): not supported yet",
		       f->link);
		return 0;
	}
	if (files_link_deleted(f->link) || strchr(f->link + 1, '/')) {
		refuse(pid, "fd %d is POSIX message queue '%s', removed (mq_unlink) while open: not supported yet",
		       f->fd, f->link);
		return 0;
	}
	if (same_ns(f->pid, "ipc")) {
		refuse(pid, "fd %d is POSIX message queue '%s' of the machine's IPC namespace (crest's own), whose queues are not saved yet",
		       f->fd, f->link);
		return 0;
	}
	if (ipc_mqueue_dev(f->pid) != f->st->st_dev) {
		refuse(pid, "fd %d is POSIX message queue '%s' of another IPC namespace than its process's (opened before an unshare): not supported yet",
		       f->fd, f->link);
		return 0;
	}
	if (f->fi->flags & ~(MQ_FLAGS | O_CLOEXEC | O_LARGEFILE)) {
		refuse(pid, "fd %d is POSIX message queue '%s' with the flags 0%o, unknown to crest",
		       f->fd, f->link, f->fi->flags);
		return 0;
	}
	m = xzalloc(sizeof(*m));
	mq_fd_entry__init(m);
	m->id = s->nr + 1;
	m->name = xstrdup(f->link);
	m->flags = f->fi->flags & MQ_FLAGS;
	s->ms = xrealloc(s->ms, (s->nr + 1) * sizeof(m));
	s->own = xrealloc(s->own, (s->nr + 1) * sizeof(*s->own));
	s->ms[s->nr] = m;
	s->own[s->nr] = (struct file_owner){ 0, 0, f->pid, f->fd, NULL };
	s->nr++;
	e->file_id = m->id;
	return 0;
}

static int mq_write(struct dump_files *df, struct img_dir *d)
{
	struct mq_dump *s = dump_state(df);

	return files_write_msgs(d, IMG_MQUEUES, 0, (void **)s->ms, s->nr);
}

static int mq_read(struct restore_files *rf, struct img_dir *d)
{
	struct mq_restore *s = restore_state(rf);

	if (faccessat(d->dirfd, img_descs[IMG_MQUEUES].name, F_OK, AT_SYMLINK_NOFOLLOW))
		return 0;	/* images of a crest before mq fds: none */
	if (files_read_msgs(d, IMG_MQUEUES, 0, (void ***)&s->ms, &s->nr))
		return -1;
	for (int i = 0; i < s->nr; i++)
		if ((s->ms[i]->flags & ~MQ_FLAGS) || s->ms[i]->name[0] != '/' ||
		    strchr(s->ms[i]->name + 1, '/')) {
			pr_err("image %s is corrupt: queue fd %u '%s', flags 0%o",
			       img_descs[IMG_MQUEUES].name, s->ms[i]->id,
			       s->ms[i]->name, s->ms[i]->flags);
			return -1;
		}
	return 0;
}

static int mq_index(const struct mq_restore *s, uint32_t id)
{
	for (int i = 0; s && i < s->nr; i++)
		if (s->ms[i]->id == id)
			return i;
	return -1;
}

static int mq_service_fd(const struct restore_files *rf, const FdEntry *e)
{
	return mq_index(restore_state_ro(rf), e->file_id) < 0 ? -1 : FD_MADE_LATER;
}

/* In a task, in its IPC namespace: each of its queue fds, opened by name. */
static int mq_post_open(const struct restore_files *rf, FdEntry **fds, int nr)
{
	const struct mq_restore *s = restore_state_ro(rf);

	for (int i = 0; i < nr; i++) {
		const FdEntry *e = fds[i];
		const MqFdEntry *m;
		int k, q;

		if (e->kind != FD_KIND__FD_MQUEUE)
			continue;
		k = mq_index(s, e->file_id);
		if (k < 0)
			return -1;
		m = s->ms[k];
		q = mq_open(m->name, (m->flags & MQ_FLAGS) | O_CLOEXEC);
		if (q < 0) {
			pr_perror("can't open POSIX message queue '%s' for fd %u", m->name, e->fd);
			return -1;
		}
		if (q == (int)e->fd && !e->cloexec && fcntl(q, F_SETFD, 0)) {
			pr_perror("can't clear close-on-exec of fd %u", e->fd);
			return -1;
		}
		if (q != (int)e->fd && dup3(q, e->fd, e->cloexec ? O_CLOEXEC : 0) < 0) {
			pr_perror("can't put POSIX message queue '%s' at fd %u", m->name, e->fd);
			close(q);
			return -1;
		}
		if (q != (int)e->fd)
			close(q);
	}
	return 0;
}

static void mq_show(const struct restore_files *rf, const FdEntry *e,
		    char *buf, size_t len)
{
	const struct mq_restore *s = restore_state_ro(rf);
	int i = mq_index(s, e->file_id);

	if (i < 0)
		snprintf(buf, len, "POSIX message queue fd %u, not in the images", e->file_id);
	else
		snprintf(buf, len, "POSIX message queue '%s'", s->ms[i]->name);
}

const struct fd_kind_ops mqueue_fd_ops = {
	.name		= "POSIX message queue",
	.kind		= FD_KIND__FD_MQUEUE,
	.recognise	= mq_recognise,
	.dump		= mq_dump,
	.write		= mq_write,
	.read		= mq_read,
	.service_fd	= mq_service_fd,
	.post_open	= mq_post_open,
	.show		= mq_show,
};
