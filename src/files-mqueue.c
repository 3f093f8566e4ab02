/*
 * fds of POSIX message queues (mq_open): an mqd_t is an fd on the
 * mqueue filesystem of the IPC namespace it was opened in, whose link
 * reads "/NAME" (as if a path; "/NAME (deleted)" once mq_unlink'ed).
 * The queue itself, with its messages, is its namespace's (namespaces.c,
 * ipc_posix_mq()); an fd is its name and flags (the access mode, and
 * O_NONBLOCK, which files.c sets again as for any fd).
 *
 * One record per open file description, however many fds of however
 * many processes hold it (dup, or inherited across fork: kcmp tells),
 * with the IPC namespace of its holders. At restore crest can't open it:
 * the queue is made in its namespace by the process that enters it, once
 * the tree is made (ns_restore_entered()). So crest reserves a service fd
 * for each (mq_open), that process opens the description there by name
 * as soon as its namespace's queues are made (mq_ipc_entered), before it
 * forks, and every holder, its descendant as every process of the
 * namespace is (namespaces.c), inherits it and dups it into place like
 * any shared object: one description again, its O_NONBLOCK once.
 *
 * Refused by name: a queue of crest's own IPC namespace (the machine's:
 * not saved), one mq_unlink'ed while open, one of another IPC namespace
 * than its holder's, and one in flight (SCM_RIGHTS).
 *
 * Images of a crest that saved one description per fd (no ipc_ns) are
 * still restored as then: each fd opened by its task in post_open.
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
	struct file_owner *own;		/* a holder of each (pid, fd)... */
	struct pstree_item **its;	/* ...and its process: its IPC namespace */
	int nr;
};

struct mq_restore {
	MqFdEntry **ms;
	int *fd;			/* the service fd of each with an ipc_ns */
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
	/* Each holder passed the checks above, in its own namespace: the same one. */
	for (int i = 0; i < s->nr; i++)
		if (files_same_description(f->pid, f->fd, s->own[i].pid, s->own[i].fd)) {
			e->file_id = s->ms[i]->id;
			return 0;
		}
	m = xzalloc(sizeof(*m));
	mq_fd_entry__init(m);
	m->id = s->nr + 1;
	m->name = xstrdup(f->link);
	m->flags = f->fi->flags & MQ_FLAGS;
	s->ms = xrealloc(s->ms, (s->nr + 1) * sizeof(m));
	s->own = xrealloc(s->own, (s->nr + 1) * sizeof(*s->own));
	s->its = xrealloc(s->its, (s->nr + 1) * sizeof(*s->its));
	s->ms[s->nr] = m;
	s->own[s->nr] = (struct file_owner){ 0, 0, f->pid, f->fd, NULL };
	s->its[s->nr] = f->it;
	s->nr++;
	e->file_id = m->id;
	return 0;
}

static int mq_write(struct dump_files *df, struct img_dir *d)
{
	struct mq_dump *s = dump_state(df);

	/* Known by now (ns_collect() came after the fds): never crest's own. */
	for (int i = 0; i < s->nr; i++) {
		s->ms[i]->has_ipc_ns = 1;
		s->ms[i]->ipc_ns = s->its[i]->ns_id[NSI_IPC];
	}
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
		    strchr(s->ms[i]->name + 1, '/') ||
		    (s->ms[i]->has_ipc_ns && !s->ms[i]->ipc_ns)) {
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

/* In crest: a number for each description, which mq_ipc_entered fills. */
static int mq_open_all(struct restore_files *rf, struct img_dir *d,
		       MmEntry **mms, int nr_mms)
{
	struct mq_restore *s = restore_state(rf);

	s->fd = xzalloc((s->nr + 1) * sizeof(int));
	for (int i = 0; i < s->nr; i++) {
		s->fd[i] = -1;
		if (!s->ms[i]->has_ipc_ns)
			continue;
		s->fd[i] = files_to_service(open("/dev/null", O_RDONLY | O_CLOEXEC), rf->base);
		if (s->fd[i] < 0)
			return -1;
	}
	return 0;
}

/*
 * In the process that entered IPC namespace ipc_ns, its queues just
 * made: each description of one of them, at its number, for the
 * namespace's processes (its children, forked after) to inherit.
 */
static int mq_ipc_entered(const struct restore_files *rf, uint32_t ipc_ns)
{
	const struct mq_restore *s = restore_state_ro(rf);

	for (int i = 0; s && i < s->nr; i++) {
		const MqFdEntry *m = s->ms[i];
		int q;

		if (!m->has_ipc_ns || m->ipc_ns != ipc_ns)
			continue;
		/*
		 * No O_CLOEXEC: the kernel gives every mqd_t close-on-exec,
		 * and one asked for stays in the description's flags (fdinfo
		 * shows it on each fd, a dup without it too) as glibc's
		 * mq_open() does not leave it.
		 */
		q = mq_open(m->name, m->flags & MQ_FLAGS);
		if (q < 0) {
			pr_perror("can't open POSIX message queue '%s' of IPC namespace %u",
				  m->name, ipc_ns);
			return -1;
		}
		if (dup3(q, s->fd[i], O_CLOEXEC) < 0) {
			pr_perror("can't put POSIX message queue '%s' at fd %d", m->name, s->fd[i]);
			close(q);
			return -1;
		}
		close(q);
	}
	return 0;
}

static int mq_service_fd(const struct restore_files *rf, const FdEntry *e)
{
	const struct mq_restore *s = restore_state_ro(rf);
	int k = mq_index(s, e->file_id);

	if (k < 0)
		return -1;
	return s->ms[k]->has_ipc_ns ? s->fd[k] : FD_MADE_LATER;
}

/*
 * In a task, in its IPC namespace, every fd in place: that each is its
 * queue (inherited from the process that entered the namespace, not
 * crest's placeholder: a holder not below it), and each of old images,
 * opened by name.
 */
static int mq_post_open(const struct restore_files *rf, FdEntry **fds, int nr)
{
	const struct mq_restore *s = restore_state_ro(rf);

	for (int i = 0; i < nr; i++) {
		const FdEntry *e = fds[i];
		const MqFdEntry *m;
		struct mq_attr a;
		int k, q;

		if (e->kind != FD_KIND__FD_MQUEUE)
			continue;
		k = mq_index(s, e->file_id);
		if (k < 0)
			return -1;
		m = s->ms[k];
		if (m->has_ipc_ns) {
			if (mq_getattr(e->fd, &a)) {
				pr_perror("fd %u is not POSIX message queue '%s': not opened in IPC namespace %u above its process",
					  e->fd, m->name, m->ipc_ns);
				return -1;
			}
			continue;
		}
		q = mq_open(m->name, m->flags & MQ_FLAGS);	/* as above */
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
	.open		= mq_open_all,
	.ipc_entered	= mq_ipc_entered,
	.service_fd	= mq_service_fd,
	.post_open	= mq_post_open,
	.show		= mq_show,
};
