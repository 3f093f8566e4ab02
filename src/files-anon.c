/*
 * Kernel objects behind anon_inode fds: eventfd (its count), signalfd
 * (its mask), timerfd (its clock, settime flags, time left, interval and
 * unread expirations) and epoll (the fds it watches, with their events
 * and data), all read from fdinfo.
 * Eventfds, signalfds and timerfds are made once by crest at restore and
 * shared like files; an epoll is made in each task that holds it, after
 * its fds are in place, since it names them by number. An epoll only in
 * flight (SCM_RIGHTS, not received) is made once by crest, to be sent
 * again, in a helper that puts what it watches at those numbers; the
 * tasks that hold it too take crest's.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <linux/kcmp.h>
#include <unistd.h>

#include "files.h"
#include "files-anon.h"
#include "files-kind.h"
#include "log.h"
#include "pstree.h"
#include "refuse.h"
#include "util.h"

/* The value of "key" at the start of a line of fdinfo text. */
static const char *line_of(const char *buf, const char *key)
{
	size_t len = strlen(key);

	for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, len))
			return p + len;
	return NULL;
}

static int parse_eventfd(const char *info, AnonFileEntry *a)
{
	const char *p = line_of(info, "eventfd-count:");

	if (!p)
		return -1;
	a->has_count = 1;
	a->count = strtoull(p, NULL, 16);
	p = line_of(info, "eventfd-semaphore:");
	a->has_semaphore = 1;
	a->semaphore = p && atoi(p);
	return 0;
}

static int parse_signalfd(const char *info, AnonFileEntry *a)
{
	const char *p = line_of(info, "sigmask:");

	if (!p)
		return -1;
	a->has_sigmask = 1;
	a->sigmask = strtoull(p, NULL, 16);
	return 0;
}

static int parse_timerfd(const char *info, AnonFileEntry *a)
{
	const char *p;
	unsigned long long vs, vn, is, in;

	p = line_of(info, "clockid:");
	if (!p)
		return -1;
	a->has_clockid = 1;
	a->clockid = atoi(p);
	p = line_of(info, "ticks:");
	a->has_ticks = 1;
	a->ticks = p ? strtoull(p, NULL, 10) : 0;
	p = line_of(info, "settime flags:");
	a->has_settime_flags = 1;
	a->settime_flags = p ? strtoul(p, NULL, 8) : 0;
	p = line_of(info, "it_value:");
	if (!p || sscanf(p, " (%llu, %llu)", &vs, &vn) != 2)
		return -1;
	p = line_of(info, "it_interval:");
	if (!p || sscanf(p, " (%llu, %llu)", &is, &in) != 2)
		return -1;
	a->has_value_sec = a->has_value_nsec = 1;
	a->has_interval_sec = a->has_interval_nsec = 1;
	a->value_sec = vs;
	a->value_nsec = vn;
	a->interval_sec = is;
	a->interval_nsec = in;
	return 0;
}

static int parse_epoll(const char *info, AnonFileEntry *a)
{
	const char *p = info;

	while ((p = strstr(p, "tfd:"))) {
		unsigned int fd, events;
		unsigned long long data;
		EpollTarget *t;

		if (sscanf(p, "tfd: %u events: %x data: %llx", &fd, &events, &data) != 3)
			return -1;
		t = xzalloc(sizeof(*t));
		epoll_target__init(t);
		t->fd = fd;
		t->events = events;
		t->data = data;
		a->targets = xrealloc(a->targets, (a->n_targets + 1) * sizeof(t));
		a->targets[a->n_targets++] = t;
		p += 4;
	}
	return 0;
}

static const struct {
	const char *link;
	AnonKind kind;
	int (*parse)(const char *, AnonFileEntry *);
} kinds[] = {
	{ "anon_inode:[eventfd]", ANON_KIND__ANON_EVENTFD, parse_eventfd },
	{ "anon_inode:[signalfd]", ANON_KIND__ANON_SIGNALFD, parse_signalfd },
	{ "anon_inode:[timerfd]", ANON_KIND__ANON_TIMERFD, parse_timerfd },
	{ "anon_inode:[eventpoll]", ANON_KIND__ANON_EPOLL, parse_epoll },
};

static int kind_index(const char *link)
{
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++)
		if (!strcmp(link, kinds[k].link))
			return k;
	return -1;
}

int anon_add(struct dump_files *df, pid_t pid, int fd, const char *link,
	     const char *info, uint32_t *id)
{
	const char *p = line_of(info, "flags:");
	AnonFileEntry *a;
	int n = df->nr_anons, k = kind_index(link);

	if (k < 0)
		return 0;
	for (int i = 0; i < n; i++) {
		if (df->anons[i]->kind == kinds[k].kind &&
		    files_same_description(pid, fd, df->anons_own[i].pid,
					   df->anons_own[i].fd)) {
			*id = df->anons[i]->id;
			return 1;
		}
	}
	a = xzalloc(sizeof(*a));
	anon_file_entry__init(a);
	a->id = n + 1;
	a->kind = kinds[k].kind;
	a->flags = p ? strtoul(p, NULL, 8) & ~O_CLOEXEC : 0;
	if (kinds[k].parse(info, a)) {
		pr_err("can't parse the fdinfo of fd %d of process %d (%s)", fd, pid, link);
		protobuf_c_message_free_unpacked(&a->base, NULL);
		return -1;
	}
	df->anons = xrealloc(df->anons, (n + 1) * sizeof(a));
	df->anons_own = xrealloc(df->anons_own, (n + 1) * sizeof(*df->anons_own));
	df->anons[n] = a;
	df->anons_own[n] = (struct file_owner){ 0, 0, pid, fd };
	df->nr_anons++;
	*id = a->id;
	return 1;
}

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS	_IOW('T', 0, uint64_t)
#endif

/*
 * A timerfd as it was: clock, flags, settime flags (TFD_TIMER_ABSTIME,
 * TFD_TIMER_CANCEL_ON_SET), interval, time left and the expirations not
 * read yet (TFD_IOC_SET_TICKS). fdinfo shows the time left, so an
 * absolute timer is set from now on its clock. The kernel restarts an
 * expired periodic timerfd only when it is read, and until then shows it
 * with no time left: it is made to expire again at once and wait the
 * same way. Settime is called even for a disarmed one: fdinfo shows the
 * flags of the last call.
 */
static int make_timerfd(const AnonFileEntry *a)
{
	int sflags = a->settime_flags & (TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET);
	struct itimerspec its = {
		.it_value = { a->value_sec, a->value_nsec },
		.it_interval = { a->interval_sec, a->interval_nsec },
	};
	bool expired = !a->value_sec && !a->value_nsec &&
		       (a->interval_sec || a->interval_nsec);
	uint64_t ticks = a->ticks;
	int fd;

	fd = timerfd_create(a->clockid, TFD_CLOEXEC |
			    (a->flags & O_NONBLOCK ? TFD_NONBLOCK : 0));
	if (fd < 0) {
		pr_perror("can't create a timerfd on clock %u", a->clockid);
		return -1;
	}
	if (expired)
		its.it_value.tv_nsec = 1;
	if ((sflags & TFD_TIMER_ABSTIME) && (its.it_value.tv_sec || its.it_value.tv_nsec)) {
		struct timespec now;

		if (clock_gettime(a->clockid, &now)) {
			pr_perror("can't read clock %u", a->clockid);
			goto err;
		}
		its.it_value.tv_sec += now.tv_sec;
		its.it_value.tv_nsec += now.tv_nsec;
		if (its.it_value.tv_nsec >= 1000000000) {
			its.it_value.tv_sec++;
			its.it_value.tv_nsec -= 1000000000;
		}
	}
	if (timerfd_settime(fd, sflags, &its, NULL)) {
		pr_perror("can't set a timerfd (clock %u, flags %#o)", a->clockid, sflags);
		goto err;
	}
	if (expired) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 10000) != 1) {
			pr_err("a restored timerfd did not expire in 10 s");
			goto err;
		}
	}
	if (ticks && ioctl(fd, TFD_IOC_SET_TICKS, &ticks)) {
		pr_perror("can't give a timerfd its %llu unread expirations",
			  (unsigned long long)ticks);
		goto err;
	}
	return fd;
err:
	close(fd);
	return -1;
}

static int make_one(const AnonFileEntry *a)
{
	int nb = a->flags & O_NONBLOCK;

	switch (a->kind) {
	case ANON_KIND__ANON_EVENTFD:
		return eventfd(a->count, EFD_CLOEXEC | (nb ? EFD_NONBLOCK : 0) |
				(a->semaphore ? EFD_SEMAPHORE : 0));
	case ANON_KIND__ANON_SIGNALFD: {
		sigset_t set;

		sigemptyset(&set);
		for (int s = 1; s <= 64; s++)
			if (a->sigmask & (1ULL << (s - 1)))
				sigaddset(&set, s);
		return signalfd(-1, &set, SFD_CLOEXEC | (nb ? SFD_NONBLOCK : 0));
	}
	case ANON_KIND__ANON_TIMERFD:
		return make_timerfd(a);
	default:
		errno = EINVAL;
		return -1;
	}
}

static bool anon_recognise(const struct fd_dump *f)
{
	return kind_index(f->link) >= 0;
}

static int anon_dump(struct dump_files *df, const struct fd_dump *f, FdEntry *e)
{
	AnonFileEntry *a;

	if (anon_add(df, f->pid, f->fd, f->link, f->fdinfo, &e->file_id) <= 0)
		return -1;
	a = df->anons[e->file_id - 1];
	if (a->kind != ANON_KIND__ANON_EPOLL)
		return 0;
	/*
	 * Made once by crest, and taken by every holder: crest's own copy
	 * (one received from a queue, where it is in flight), or an epoll
	 * two processes share (forked with it): one made in each would be
	 * two interest lists.
	 */
	if (f->pid == getpid() || f->pid != df->anons_own[e->file_id - 1].pid) {
		struct file_owner *o = &df->anons_own[e->file_id - 1];

		a->has_in_flight = a->in_flight = 1;
		if (!o->holder)
			o->holder = o->pid == getpid() ? f->it->pid : o->pid;
	}
	return 0;
}

/* Is the file at fd of pid what epoll efd of epid watches as its k-th tfd? */
static bool epoll_watches(pid_t pid, int fd, pid_t epid, int efd, uint32_t tfd,
			  uint32_t toff)
{
	struct {
		uint32_t efd, tfd, toff;
	} slot = { efd, tfd, toff };	/* struct kcmp_epoll_slot */

	return syscall(SYS_kcmp, pid, epid, KCMP_EPOLL_TFD, fd, &slot) == 0;
}

/*
 * The fd of the tree on it: of a process's table, of a thread's, or
 * only in flight (crest's copy).
 */
static const FdEntry *find_watched(const struct dump_files *df, struct pstree *t,
				   pid_t epid, int efd, uint32_t tfd, uint32_t toff)
{
	for (int i = 0; i < df->nr_flying; i++)
		if (epoll_watches(getpid(), df->flying[i]->fd, epid, efd, tfd, toff))
			return df->flying[i];
	for (int i = 0; i < t->nr; i++) {
		const struct pstree_item *it = t->items[i];
		int own = it->nr_fds;

		/* The threads' tables joined it->fds at its end (files.c). */
		for (int j = 0; j < it->nr_tfds; j++)
			own -= it->tfds[j].nr_fds;
		for (int k = 0; k < own; k++)
			if (epoll_watches(it->live, it->fds[k]->fd, epid, efd, tfd, toff))
				return it->fds[k];
		for (int j = 0; j < it->nr_tfds; j++)
			for (int k = 0; k < it->tfds[j].nr_fds; k++)
				if (epoll_watches(it->tfds[j].tid, it->tfds[j].fds[k]->fd,
						  epid, efd, tfd, toff))
					return it->tfds[j].fds[k];
	}
	return NULL;
}

static FdEntry *copy_fd_entry(const FdEntry *e)
{
	size_t len = fd_entry__get_packed_size(e);
	uint8_t *buf = xzalloc(len + 1);
	FdEntry *c;

	fd_entry__pack(e, buf);
	c = fd_entry__unpack(NULL, len, buf);
	free(buf);
	return c;
}

/*
 * An epoll in flight (SCM_RIGHTS, not received) is made once by crest at
 * restore, in a helper that puts each object it watches at the number it
 * was added with: each is found here, once the kinds before this one have
 * linked their fds (a socket at 0-2 leading outside is external now),
 * among the tree's fds (kcmp
 * KCMP_EPOLL_TFD), or among those only in flight (an epoll in flight
 * too is made first, by in_flight_fd). One watching what the tree does
 * not hold, or an epoll a task holds, is refused by name. One held by
 * tasks too is that same epoll in each of them (post_open takes crest's).
 */
static int anon_collected(struct dump_files *df, struct pstree *t)
{
	for (int i = 0; i < df->nr_anons; i++) {
		AnonFileEntry *a = df->anons[i];
		const struct file_owner *o = &df->anons_own[i];
		pid_t holder = o->holder;

		if (!a->in_flight)
			continue;
		for (size_t k = 0; k < a->n_targets; k++) {
			EpollTarget *tg = a->targets[k];
			const FdEntry *w;
			uint32_t toff = 0;

			for (size_t j = 0; j < k; j++)
				toff += a->targets[j]->fd == tg->fd;
			w = find_watched(df, t, o->pid, o->fd, tg->fd, toff);
			if (!w || (w->kind == FD_KIND__FD_ANON &&
				   df->anons[w->file_id - 1]->kind == ANON_KIND__ANON_EPOLL &&
				   !df->anons[w->file_id - 1]->in_flight) ||
			    w->kind == FD_KIND__FD_EXTERNAL) {
				char what[128];

				if (o->pid == getpid())
					snprintf(what, sizeof(what), "in flight (sent with SCM_RIGHTS, not received; crest's copy is fd %d)",
						 o->fd);
				else
					snprintf(what, sizeof(what), "shared with other processes (process %d's fd %d)",
						 o->pid, o->fd);
				refuse(holder, "an epoll %s watches the file it was given as fd %u, %s; not supported yet",
				       what, tg->fd,
				       !w ? "which neither a process of the tree nor a queue of it holds" :
				       w->kind == FD_KIND__FD_EXTERNAL ? "which leads outside the tree" :
				       "an epoll that a task holds (made in each task that holds it)");
				continue;
			}
			tg->obj = copy_fd_entry(w);
		}
	}
	return 0;
}

static int anon_write(struct dump_files *df, struct img_dir *d)
{
	return files_write_msgs(d, IMG_ANONFILES, 0, (void **)df->anons, df->nr_anons);
}

static int anon_read(struct restore_files *rf, struct img_dir *d)
{
	return files_read_msgs(d, IMG_ANONFILES, 0, (void ***)&rf->anons, &rf->nr_anons);
}

static int anon_open(struct restore_files *rf, struct img_dir *d,
		     MmEntry **mms, int nr_mms)
{
	int base = rf->base;

	rf->anon_fd = xzalloc((rf->nr_anons + 1) * sizeof(int));
	rf->anon_crest = getpid();
	for (int i = 0; i < rf->nr_anons; i++) {
		int fd;

		rf->anon_fd[i] = -1;
		/* In flight: made in queues, at a number kept for it now. */
		if (rf->anons[i]->kind == ANON_KIND__ANON_EPOLL && rf->anons[i]->in_flight)
			fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		else if (rf->anons[i]->kind == ANON_KIND__ANON_EPOLL)
			continue;
		else
			fd = make_one(rf->anons[i]);
		if (fd < 0) {
			pr_perror("can't recreate anon file %u (kind %d)",
				  rf->anons[i]->id, rf->anons[i]->kind);
			return -1;
		}
		rf->anon_fd[i] = files_to_service(fd, base);
		if (rf->anon_fd[i] < 0)
			return -1;
	}
	return 0;
}

static int anon_index(const struct restore_files *rf, uint32_t id)
{
	for (int i = 0; i < rf->nr_anons; i++)
		if (rf->anons[i]->id == id)
			return i;
	return -1;
}

static int anon_service_fd(const struct restore_files *rf, const FdEntry *e)
{
	int i = anon_index(rf, e->file_id);

	if (i < 0 || !rf->anon_fd)
		return -1;
	if (rf->anons[i]->kind == ANON_KIND__ANON_EPOLL)
		return FD_MADE_LATER;
	return rf->anon_fd[i];
}

/*
 * A helper of crest's, forked with its service fds: each object the
 * epoll watches at the number it was added with, one after the other
 * (two may have had one number), and the epoll made there; crest takes
 * it (pidfd_getfd) once the helper says its number on pipe rep.
 */
static void epoll_helper(const AnonFileEntry *a, const int *src, int base, int rep,
			 int stay)
{
	int ep = files_to_service(epoll_create1(EPOLL_CLOEXEC), base);

	rep = files_to_service(rep, base);
	stay = files_to_service(stay, base);
	if (ep < 0 || rep < 0 || stay < 0)
		_exit(1);
	for (size_t t = 0; t < a->n_targets; t++) {
		struct epoll_event ev = {
			.events = a->targets[t]->events,
			.data.u64 = a->targets[t]->data,
		};
		int fd = a->targets[t]->fd;

		if (dup2(src[t], fd) != fd || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
			pr_perror("can't watch %s at fd %d with an epoll in flight",
				  a->targets[t]->obj->desc ? a->targets[t]->obj->desc : "a file", fd);
			_exit(1);
		}
		close(fd);
	}
	if (write(rep, &ep, sizeof(ep)) != sizeof(ep))
		_exit(1);
	while (read(stay, &ep, 1) < 0 && errno == EINTR)
		;
	_exit(0);
}

/* An epoll in flight, made in a helper (epoll_helper); crest's fd or -1. */
static int make_in_flight_epoll(const struct restore_files *rf, const AnonFileEntry *a)
{
	int *src = xzalloc((a->n_targets + 1) * sizeof(int));
	int rep[2], stay[2], ep = -1, got = -1, status;
	pid_t pid;

	for (size_t t = 0; t < a->n_targets; t++) {
		const EpollTarget *tg = a->targets[t];

		src[t] = tg->obj ? files_in_flight_fd(rf, tg->obj) : -1;
		if (src[t] < rf->base || tg->fd >= (uint32_t)rf->base) {
			pr_err("anon file %u, an epoll in flight: what it watched at fd %u (%s) can't be made again",
			       a->id, tg->fd, tg->obj && tg->obj->desc ? tg->obj->desc : "not in the images");
			free(src);
			return -1;
		}
	}
	if (pipe2(rep, O_CLOEXEC) || pipe2(stay, O_CLOEXEC)) {
		pr_perror("can't make pipes for an epoll in flight");
		free(src);
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(rep[0]);
		close(stay[1]);
		epoll_helper(a, src, rf->base, rep[1], stay[0]);
	}
	free(src);
	close(rep[1]);
	close(stay[0]);
	if (pid < 0)
		pr_perror("can't fork for an epoll in flight");
	else if (read(rep[0], &ep, sizeof(ep)) != sizeof(ep))
		pr_err("anon file %u: the helper making an epoll in flight failed", a->id);
	else
		got = pidfd_take(pid, ep);
	close(rep[0]);
	close(stay[1]);
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got >= 0 && (a->flags & O_NONBLOCK) && fcntl(got, F_SETFL, O_NONBLOCK)) {
		pr_perror("can't make an epoll in flight non-blocking");
		close(got);
		got = -1;
	}
	return files_to_service(got, rf->base);
}

/* Is crest's fd an epoll yet, or still the number kept for one? */
static bool is_epoll(int fd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	return n > 0 && (link[n] = 0, !strcmp(link, "anon_inode:[eventpoll]"));
}

/*
 * An epoll in flight, made once by crest at the number kept for it, the
 * first time it is asked for (every kind has made its objects then).
 */
static int made_in_flight(const struct restore_files *rf, int i)
{
	int ep;

	if (!rf->anons[i]->in_flight || rf->anon_fd[i] < 0) {
		pr_err("anon file %u, an epoll, is in flight but not marked so",
		       rf->anons[i]->id);
		return -1;
	}
	if (is_epoll(rf->anon_fd[i]))
		return rf->anon_fd[i];
	ep = make_in_flight_epoll(rf, rf->anons[i]);
	if (ep < 0)
		return -1;
	if (dup3(ep, rf->anon_fd[i], O_CLOEXEC) < 0) {
		pr_perror("can't put an epoll in flight at fd %d", rf->anon_fd[i]);
		close(ep);
		return -1;
	}
	close(ep);
	return rf->anon_fd[i];
}

/* An object in flight, to send again. */
static int anon_in_flight_fd(const struct restore_files *rf, const FdEntry *e)
{
	int i = anon_index(rf, e->file_id);

	if (i < 0 || !rf->anon_fd)
		return -1;
	if (rf->anons[i]->kind == ANON_KIND__ANON_EPOLL)
		return made_in_flight(rf, i);
	return rf->anon_fd[i];
}

/*
 * After the unix kind's queues: every epoll in flight is made, also one
 * no queue asked for, before its holders take it (post_open).
 */
static int anon_queues(struct restore_files *rf, const struct files_pid_map *map)
{
	(void)map;
	for (int i = 0; rf->anon_fd && i < rf->nr_anons; i++)
		if (rf->anons[i]->kind == ANON_KIND__ANON_EPOLL && rf->anons[i]->in_flight &&
		    made_in_flight(rf, i) < 0)
			return -1;
	return 0;
}

/* The task's epolls: they name its fds by number, so they come last. */
static int anon_post_open(const struct restore_files *rf, FdEntry **fds, int nr)
{
	for (int i = 0; i < nr; i++) {
		const FdEntry *e = fds[i];
		const AnonFileEntry *a;
		int k, ep;

		if (e->kind != FD_KIND__FD_ANON)
			continue;
		k = anon_index(rf, e->file_id);
		if (k < 0 || rf->anons[k]->kind != ANON_KIND__ANON_EPOLL)
			continue;
		a = rf->anons[k];
		/* Held and in flight too: the one crest made, shared. */
		if (a->in_flight) {
			if (files_take_into(rf, rf->anon_crest, rf->anon_fd[k], e))
				return -1;
			continue;
		}
		ep = epoll_create1(EPOLL_CLOEXEC);
		if (ep < 0) {
			pr_perror("can't create an epoll for fd %u", e->fd);
			return -1;
		}
		for (size_t t = 0; t < a->n_targets; t++) {
			struct epoll_event ev = {
				.events = a->targets[t]->events,
				.data.u64 = a->targets[t]->data,
			};

			if (epoll_ctl(ep, EPOLL_CTL_ADD, a->targets[t]->fd, &ev)) {
				pr_perror("can't watch fd %u with the epoll at fd %u",
					  a->targets[t]->fd, e->fd);
				close(ep);
				return -1;
			}
		}
		if (a->flags & O_NONBLOCK)
			fcntl(ep, F_SETFL, O_NONBLOCK);
		if (ep == (int)e->fd) {
			if (!e->cloexec)
				fcntl(ep, F_SETFD, 0);
			continue;
		}
		if (dup3(ep, e->fd, e->cloexec ? O_CLOEXEC : 0) < 0) {
			pr_perror("can't put the epoll at fd %u", e->fd);
			close(ep);
			return -1;
		}
		close(ep);
	}
	return 0;
}

static void anon_show(const struct restore_files *rf, const FdEntry *e,
		      char *buf, size_t len)
{
	int i = anon_index(rf, e->file_id);
	const AnonFileEntry *a = i < 0 ? NULL : rf->anons[i];

	if (!a) {
		snprintf(buf, len, "anon file %u, not in the images", e->file_id);
		return;
	}
	switch (a->kind) {
	case ANON_KIND__ANON_EVENTFD:
		snprintf(buf, len, "eventfd, count %llu%s", (unsigned long long)a->count,
			 a->semaphore ? ", semaphore" : "");
		break;
	case ANON_KIND__ANON_SIGNALFD:
		snprintf(buf, len, "signalfd, mask %llx", (unsigned long long)a->sigmask);
		break;
	case ANON_KIND__ANON_TIMERFD:
		snprintf(buf, len, "timerfd, clock %u", a->clockid);
		break;
	case ANON_KIND__ANON_EPOLL:
		snprintf(buf, len, "epoll, %zu fds watched", a->n_targets);
		break;
	default:
		snprintf(buf, len, "anon file of kind %d", a->kind);
	}
}

const struct fd_kind_ops anon_fd_ops = {
	.name		= "anon_inode",
	.kind		= FD_KIND__FD_ANON,
	.recognise	= anon_recognise,
	.dump		= anon_dump,
	.collected	= anon_collected,
	.write		= anon_write,
	.read		= anon_read,
	.open		= anon_open,
	.queues		= anon_queues,
	.in_flight_fd	= anon_in_flight_fd,
	.service_fd	= anon_service_fd,
	.post_open	= anon_post_open,
	.show		= anon_show,
};
