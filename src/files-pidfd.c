/*
 * pidfds (pidfd_open, clone(CLONE_PIDFD)): of a process of the tree, of
 * the holder itself, or of a process that is dead and reaped. fdinfo
 * shows the process as "Pid: N" (-1 once reaped; 0 in another pid
 * namespace) and PIDFD_NONBLOCK / PIDFD_THREAD as O_NONBLOCK / O_EXCL in
 * its flags. A pidfd of a process outside the tree is refused by name;
 * one of a thread other than a main thread (PIDFD_THREAD) is saved when
 * only that thread's own process holds it (below).
 *
 * A pidfd can only be made once the process it refers to exists, and
 * one open file description may be held by several processes (fds are
 * inherited across fork). So crest makes each one itself, once every
 * task of the tree exists (tasks_made): pidfd_open() of the restored
 * process, or of a child of crest's that it reaps at once for a dead one,
 * placed at a service fd number kept for it when the objects were opened.
 * Each task holding it then takes crest's fd with pidfd_getfd(): the
 * same description, wherever it is held; one in flight (SCM_RIGHTS not
 * received) is crest's fd sent again.
 *
 * A thread other than the main one exists only once the restorer made
 * it, after the fds: its pidfd is made by the restorer of its process
 * (rst_pidfd), over a placeholder each holder puts at its number in
 * post_open (a pidfd of itself with the same flags, so the flags are
 * checked as any fd's). Every other holder gets it from there: crest
 * makes a socketpair for each such pidfd in open, and the maker's
 * restorer sends one copy (SCM_RIGHTS) per fd of it outside its own
 * table ("takes", counted at the dump); the restorer of another process
 * holding it, or a thread with a table of its own (rst_fd.sock), takes
 * one and dup3()s it over its placeholder, blocking until it is there.
 * Every maker sends before it takes, so nobody waits on a taker. One in
 * flight is one more copy, which crest takes once every restorer is done
 * (threads_made): the queues carrying one are refilled only then
 * (sk-unix-restore.c). A thread of a process sharing its parent's table
 * (CLONE_FILES) is no different: the process holding the table (its
 * installer) takes it, the sharer's restorer sends it from a copy of the
 * socket it made before the table was put in place.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "files.h"
#include "files-kind.h"
#include "image.h"
#include "log.h"
#include "pidfd.pb-c.h"
#include "pstree.h"
#include "refuse.h"
#include "util.h"

#define PIDFD_LINK	"anon_inode:[pidfd]"
#define PIDFD_THREAD_FLAG	O_EXCL
#define PIDFD_FLAGS	(O_NONBLOCK | PIDFD_THREAD_FLAG)

struct pidfd_dump {
	PidfdEntry **ps;
	struct file_owner *own;
	pid_t *holder;			/* the process holding it first */
	bool *flying;			/* only in flight: own is crest's copy */
	int nr;
};

struct pidfd_restore {
	PidfdEntry **ps;
	int nr;
	int *fd;			/* crest's fd numbers kept for them */
	int (*sk)[2];			/* of a thread's: its maker sends on 0 */
	pid_t crest;			/* whose fds those are */
};

static struct pidfd_dump *dump_state(struct dump_files *df)
{
	void **p = files_dump_priv(df, &pidfd_fd_ops);

	if (!*p)
		*p = xzalloc(sizeof(struct pidfd_dump));
	return *p;
}

static struct pidfd_restore *restore_state(struct restore_files *rf)
{
	void **p = files_restore_priv(rf, &pidfd_fd_ops);

	if (!*p)
		*p = xzalloc(sizeof(struct pidfd_restore));
	return *p;
}

static const struct pidfd_restore *restore_state_ro(const struct restore_files *rf)
{
	return *files_restore_priv_ro(rf, &pidfd_fd_ops);
}

static bool pidfd_recognise(const struct fd_dump *f)
{
	return !strcmp(f->link, PIDFD_LINK);
}

static int pidfd_dump(struct dump_files *df, const struct fd_dump *f, FdEntry *e)
{
	struct pidfd_dump *s = dump_state(df);
	const char *p = strstr(f->fdinfo, "\nPid:");
	PidfdEntry *pe;

	for (int i = 0; i < s->nr; i++)
		if (files_same_description(f->pid, f->fd, s->own[i].pid, s->own[i].fd)) {
			e->file_id = s->ps[i]->id;
			if (f->pid == getpid())
				s->ps[i]->has_in_flight = s->ps[i]->in_flight = 1;
			return 0;
		}
	if (!p) {
		pr_err("can't parse the fdinfo of fd %d of process %d (pidfd)",
		       f->fd, f->it->pid);
		return -1;
	}
	pe = xzalloc(sizeof(*pe));
	pidfd_entry__init(pe);
	pe->id = s->nr + 1;
	pe->flags = f->fi->flags & ~O_CLOEXEC;
	pe->pid = atoi(p + 5);
	pe->has_holder = 1;
	pe->holder = f->it->pid;
	if (pe->flags & ~(PIDFD_FLAGS | O_ACCMODE))
		refuse(f->it->pid, "fd %d is a pidfd of process %d with the flags 0%o, unknown to crest",
		       f->fd, pe->pid, pe->flags);
	s->ps = xrealloc(s->ps, (s->nr + 1) * sizeof(pe));
	s->own = xrealloc(s->own, (s->nr + 1) * sizeof(*s->own));
	s->holder = xrealloc(s->holder, (s->nr + 1) * sizeof(*s->holder));
	s->flying = xrealloc(s->flying, (s->nr + 1) * sizeof(*s->flying));
	s->flying[s->nr] = f->pid == getpid();
	if (s->flying[s->nr])
		pe->has_in_flight = pe->in_flight = 1;
	s->ps[s->nr] = pe;
	s->own[s->nr] = (struct file_owner){ 0, 0, f->pid, f->fd, NULL };
	s->holder[s->nr] = f->it->pid;
	s->nr++;
	e->file_id = pe->id;
	return 0;
}

/* The process of thread tid of the tree, other than a main thread; NULL. */
static struct pstree_item *thread_of(struct pstree *t, pid_t tid)
{
	for (int j = 0; j < t->nr; j++)
		for (int k = 1; k < t->items[j]->nr_threads; k++)
			if (t->items[j]->threads[k] == tid)
				return t->items[j];
	return NULL;
}

/*
 * Why a pidfd of a thread of process it can't be saved, NULL if it can:
 * with PIDFD_THREAD (its restorer makes it, and sends it to the other
 * holders: their count into *takes).
 */
static const char *thread_pidfd_problem(struct pstree *t, const struct pidfd_dump *s,
					int i, const struct pstree_item *it,
					uint32_t *takes)
{
	if (!(s->ps[i]->flags & PIDFD_THREAD_FLAG))
		return "a thread other than a main thread, without PIDFD_THREAD";
	*takes = s->ps[i]->in_flight ? 1 : 0;
	for (int j = 0; j < t->nr; j++) {
		const struct pstree_item *o = t->items[j];

		for (int k = 0; k < o->nr_fds; k++)
			if (o->fds[k]->kind == FD_KIND__FD_PIDFD &&
			    o->fds[k]->file_id == s->ps[i]->id && o != it)
				(*takes)++;
		for (int m = 0; m < o->nr_tfds; m++)
			for (int k = 0; k < o->tfds[m].nr_fds; k++)
				if (o->tfds[m].fds[k]->kind == FD_KIND__FD_PIDFD &&
				    o->tfds[m].fds[k]->file_id == s->ps[i]->id)
					(*takes)++;
	}
	return NULL;
}

/* The process each pidfd refers to is one of the tree (or dead). */
static int pidfd_collected(struct dump_files *df, struct pstree *t)
{
	struct pidfd_dump *s = dump_state(df);

	for (int i = 0; i < s->nr; i++) {
		const PidfdEntry *pe = s->ps[i];
		pid_t pid = pe->pid;
		const char *why = NULL;

		if (pid < 0)
			continue;	/* dead and reaped: made dead again */
		if (pid == 0) {
			why = "in a pid namespace crest does not see";
		} else if (!pstree_find(t, pid)) {
			struct pstree_item *it = thread_of(t, pid);
			uint32_t takes = 0;

			why = it ? thread_pidfd_problem(t, s, i, it, &takes) : "which is not in the tree";
			if (!why) {
				s->ps[i]->has_tgid = 1;
				s->ps[i]->tgid = it->pid;
				s->ps[i]->has_takes = 1;
				s->ps[i]->takes = takes;
			}
		}
		if (why && s->flying[i])
			refuse(s->holder[i], "a pidfd in flight (sent with SCM_RIGHTS, not received; crest's copy is fd %d) is of process %d, %s; not supported yet",
			       s->own[i].fd, pid, why);
		else if (why)
			refuse(s->holder[i], "fd %d is a pidfd of process %d, %s; not supported yet",
			       s->own[i].fd, pid, why);
	}
	return 0;
}

static int pidfd_write(struct dump_files *df, struct img_dir *d)
{
	struct pidfd_dump *s = dump_state(df);

	return files_write_msgs(d, IMG_PIDFDS, 0, (void **)s->ps, s->nr);
}

static int pidfd_read(struct restore_files *rf, struct img_dir *d)
{
	struct pidfd_restore *s = restore_state(rf);

	if (files_read_msgs(d, IMG_PIDFDS, 0, (void ***)&s->ps, &s->nr))
		return -1;
	for (int i = 0; i < s->nr; i++)
		if ((s->ps[i]->flags & ~(PIDFD_FLAGS | O_ACCMODE)) || !s->ps[i]->pid ||
		    s->ps[i]->pid < -1 || (s->ps[i]->has_tgid &&
		    (s->ps[i]->pid < 0 || !(s->ps[i]->flags & PIDFD_THREAD_FLAG))) ||
		    (s->ps[i]->has_takes && (!s->ps[i]->has_tgid || s->ps[i]->takes > 65536))) {
			pr_err("image pidfds.img is corrupt: pidfd %u of process %d, flags 0%o",
			       s->ps[i]->id, s->ps[i]->pid, s->ps[i]->flags);
			return -1;
		}
	return 0;
}

/*
 * The socketpair a thread's pidfd goes to its other holders by: a stream
 * (a datagram socket takes no more than max_dgram_qlen unread), a byte
 * and the fd per copy, room enough for every copy unread.
 */
static int thread_socket(struct pidfd_restore *s, int i, int base)
{
	int sv[2], room = 65536 + 4096 * (int)s->ps[i]->takes;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		pr_perror("can't create a socketpair for the pidfd of thread %d", s->ps[i]->pid);
		return -1;
	}
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &room, sizeof(room)) &&
	    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &room, sizeof(room))) {
		pr_perror("can't make room for %u copies of the pidfd of thread %d",
			  s->ps[i]->takes, s->ps[i]->pid);
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	s->sk[i][0] = files_to_service(sv[0], base);
	s->sk[i][1] = files_to_service(sv[1], base);
	return s->sk[i][0] < 0 || s->sk[i][1] < 0 ? -1 : 0;
}

/* Keep an fd number of crest's for each; tasks_made puts the pidfd there. */
static int pidfd_open_all(struct restore_files *rf, struct img_dir *d,
			  MmEntry **mms, int nr_mms)
{
	struct pidfd_restore *s = restore_state(rf);

	s->crest = getpid();
	s->fd = xzalloc((s->nr + 1) * sizeof(int));
	s->sk = xzalloc((s->nr + 1) * sizeof(*s->sk));
	for (int i = 0; i < s->nr; i++) {
		s->sk[i][0] = s->sk[i][1] = -1;
		s->fd[i] = files_to_service(open("/dev/null", O_RDONLY | O_CLOEXEC), rf->base);
		if (s->fd[i] < 0 || (s->ps[i]->has_tgid && thread_socket(s, i, rf->base)))
			return -1;
	}
	return 0;
}

/*
 * A pidfd of a process that is dead and reaped: a child of crest's, made
 * in the PID namespace of holder (its PID now; 0: crest's own).
 */
static int dead_pidfd(unsigned int flags, pid_t holder)
{
	int fd, status, own = -1;
	pid_t pid;

	if (holder > 0) {
		char path[64];
		int ns;

		snprintf(path, sizeof(path), "/proc/%d/ns/pid", holder);
		own = open("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC);
		ns = open(path, O_RDONLY | O_CLOEXEC);
		if (own < 0 || ns < 0 || setns(ns, CLONE_NEWPID)) {
			pr_perror("can't enter the PID namespace of process %d for a pidfd of a dead process",
				  holder);
			if (ns >= 0)
				close(ns);
			if (own >= 0)
				close(own);
			return -1;
		}
		close(ns);
	}
	pid = fork();
	if (own >= 0) {
		if (pid && setns(own, CLONE_NEWPID))
			pr_perror("can't go back to crest's PID namespace for its children");
		close(own);
	}

	if (pid < 0) {
		pr_perror("can't fork for a pidfd of a dead process");
		return -1;
	}
	if (pid == 0)
		_exit(0);
	fd = syscall(SYS_pidfd_open, pid, flags);
	if (fd < 0)
		pr_perror("can't open a pidfd of crest's child %d", pid);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return fd;
}

static int pidfd_tasks_made(struct restore_files *rf, const struct files_pid_map *map)
{
	struct pidfd_restore *s = restore_state(rf);

	if (s->nr && s->crest != getpid()) {
		pr_err("pidfds: the fds kept for them are process %d's, not %d's",
		       s->crest, getpid());
		return -1;
	}
	for (int i = 0; i < s->nr; i++) {
		const PidfdEntry *pe = s->ps[i];
		unsigned int flags = pe->flags & PIDFD_FLAGS;
		pid_t pid = pe->pid;
		int fd;

		if (pe->has_tgid)
			continue;	/* its thread's restorer makes it (rst_pidfd) */
		if (pid > 0 && map && map->new_pid)
			pid = map->new_pid(map->arg, pid);
		if (!pid) {
			pr_err("pidfd %u: its process %d is not restored", pe->id, pe->pid);
			return -1;
		}
		if (pid < 0) {
			pid_t holder = pe->has_holder && map && map->new_pid ?
				       map->new_pid(map->arg, pe->holder) :
				       pe->has_holder ? (pid_t)pe->holder : 0;

			fd = dead_pidfd(flags, holder);
		} else {
			fd = syscall(SYS_pidfd_open, pid, flags);
		}
		if (fd < 0) {
			if (pid > 0)
				pr_perror("can't open a pidfd of restored process %d (flags 0%o)",
					  pid, flags);
			return -1;
		}
		if (dup3(fd, s->fd[i], O_CLOEXEC) < 0) {
			pr_perror("can't put a pidfd at fd %d", s->fd[i]);
			close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

static int pidfd_index(const struct pidfd_restore *s, uint32_t id)
{
	for (int i = 0; s && i < s->nr; i++)
		if (s->ps[i]->id == id)
			return i;
	return -1;
}

static int pidfd_service_fd(const struct restore_files *rf, const FdEntry *e)
{
	const struct pidfd_restore *s = restore_state_ro(rf);

	return pidfd_index(s, e->file_id) < 0 || !s->fd ? -1 : FD_MADE_LATER;
}

/* Is crest's fd a pidfd yet, or still the number kept for one? */
static bool is_pidfd(int fd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	return n > 0 && (link[n] = 0, !strcmp(link, PIDFD_LINK));
}

/*
 * crest's copy of a thread's pidfd, which its process's restorer sent
 * (all are done: it is there or never comes), at the number kept for it.
 */
static int take_thread_pidfd(const struct pidfd_restore *s, int k)
{
	char byte, ctl[CMSG_SPACE(sizeof(int))] __attribute__((aligned(8)));
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;
	int fd;

	if (is_pidfd(s->fd[k]))
		return s->fd[k];
	if (recvmsg(s->sk[k][1], &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1 ||
	    !(c = CMSG_FIRSTHDR(&mh)) || c->cmsg_level != SOL_SOCKET ||
	    c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int))) {
		pr_err("the pidfd of thread %d did not come from the restorer of process %u",
		       s->ps[k]->pid, s->ps[k]->tgid);
		return -1;
	}
	memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	if (dup3(fd, s->fd[k], O_CLOEXEC) < 0) {
		pr_perror("can't put the pidfd of thread %d at fd %d", s->ps[k]->pid, s->fd[k]);
		close(fd);
		return -1;
	}
	close(fd);
	return s->fd[k];
}

/* A pidfd in flight: crest's, sent again as it is. */
static int pidfd_in_flight_fd(const struct restore_files *rf, const FdEntry *e)
{
	const struct pidfd_restore *s = restore_state_ro(rf);
	int k = pidfd_index(s, e->file_id);

	if (k < 0 || !s->fd)
		return -1;
	return s->ps[k]->has_tgid ? take_thread_pidfd(s, k) : s->fd[k];
}

/* A pidfd of a thread in flight: its queue waits for the threads. */
bool files_pidfd_threads_in_flight(const struct restore_files *rf)
{
	const struct pidfd_restore *s = restore_state_ro(rf);

	for (int i = 0; s && i < s->nr; i++)
		if (s->ps[i]->has_tgid && s->ps[i]->in_flight)
			return true;
	return false;
}

/* In a task: its pidfds, each the one crest holds (pidfd_getfd). */
static int pidfd_post_open(const struct restore_files *rf, FdEntry **fds, int nr)
{
	const struct pidfd_restore *s = restore_state_ro(rf);

	for (int i = 0; i < nr; i++) {
		const FdEntry *e = fds[i];
		int k;

		if (e->kind != FD_KIND__FD_PIDFD)
			continue;
		k = pidfd_index(s, e->file_id);
		if (k < 0)
			return -1;
		if (s->ps[k]->has_tgid) {
			/* The restorer puts its thread's pidfd here (rst_pidfd). */
			int fd = syscall(SYS_pidfd_open, getpid(), s->ps[k]->flags & PIDFD_FLAGS);

			/* dup3() onto itself is EINVAL: the number may have been free. */
			if (fd < 0 || ((unsigned int)fd == e->fd ?
				       fcntl(fd, F_SETFD, e->cloexec ? FD_CLOEXEC : 0) :
				       dup3(fd, e->fd, e->cloexec ? O_CLOEXEC : 0)) < 0) {
				pr_perror("can't put a placeholder for the pidfd of thread %d at fd %u",
					  s->ps[k]->pid, e->fd);
				if (fd >= 0 && (unsigned int)fd != e->fd)
					close(fd);
				return -1;
			}
			if ((unsigned int)fd != e->fd)
				close(fd);
			continue;
		}
		if (files_take_into(rf, s->crest, s->fd[k], e))
			return -1;
	}
	return 0;
}

static void thread_info(const struct pidfd_restore *s, int k,
			struct pidfd_thread_info *out)
{
	*out = (struct pidfd_thread_info){
		s->ps[k]->id, s->ps[k]->pid, s->ps[k]->tgid, s->ps[k]->flags & PIDFD_FLAGS,
		s->ps[k]->takes, s->sk ? s->sk[k][0] : -1, s->sk ? s->sk[k][1] : -1 };
}

bool files_pidfd_thread(const struct restore_files *rf, const FdEntry *e,
			struct pidfd_thread_info *out)
{
	const struct pidfd_restore *s = restore_state_ro(rf);
	int k = e->kind == FD_KIND__FD_PIDFD ? pidfd_index(s, e->file_id) : -1;

	if (k < 0 || !s->ps[k]->has_tgid)
		return false;
	thread_info(s, k, out);
	return true;
}

bool files_pidfd_thread_nth(const struct restore_files *rf, int n,
			    struct pidfd_thread_info *out)
{
	const struct pidfd_restore *s = restore_state_ro(rf);

	for (int k = 0; s && k < s->nr; k++)
		if (s->ps[k]->has_tgid && n-- == 0) {
			thread_info(s, k, out);
			return true;
		}
	return false;
}

static void pidfd_show(const struct restore_files *rf, const FdEntry *e,
		       char *buf, size_t len)
{
	const struct pidfd_restore *s = restore_state_ro(rf);
	int i = pidfd_index(s, e->file_id);

	if (i < 0)
		snprintf(buf, len, "pidfd %u, not in the images", e->file_id);
	else if (s->ps[i]->pid < 0)
		snprintf(buf, len, "pidfd of a dead process");
	else if (s->ps[i]->has_tgid)
		snprintf(buf, len, "pidfd of thread %d of process %u", s->ps[i]->pid,
			 s->ps[i]->tgid);
	else
		snprintf(buf, len, "pidfd of process %d", s->ps[i]->pid);
}

const struct fd_kind_ops pidfd_fd_ops = {
	.name		= "pidfd",
	.kind		= FD_KIND__FD_PIDFD,
	.recognise	= pidfd_recognise,
	.dump		= pidfd_dump,
	.collected	= pidfd_collected,
	.write		= pidfd_write,
	.read		= pidfd_read,
	.open		= pidfd_open_all,
	.tasks_made	= pidfd_tasks_made,
	.in_flight_fd	= pidfd_in_flight_fd,
	.service_fd	= pidfd_service_fd,
	.post_open	= pidfd_post_open,
	.show		= pidfd_show,
};
