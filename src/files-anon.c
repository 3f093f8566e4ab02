/*
 * Kernel objects behind anon_inode fds: eventfd (its count), signalfd
 * (its mask), timerfd (its clock, settime flags, time left, interval and
 * unread expirations) and epoll (the fds it watches, with their events
 * and data), all read from fdinfo.
 * Eventfds, signalfds and timerfds are made once by crest at restore and
 * shared like files; an epoll is made in each task that holds it, after
 * its fds are in place, since it names them by number.
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
#include <sys/timerfd.h>
#include <unistd.h>

#include "files.h"
#include "files-anon.h"
#include "files-kind.h"
#include "log.h"
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
	return anon_add(df, f->pid, f->fd, f->link, f->fdinfo, &e->file_id) > 0 ? 0 : -1;
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
	for (int i = 0; i < rf->nr_anons; i++) {
		int fd;

		rf->anon_fd[i] = -1;
		if (rf->anons[i]->kind == ANON_KIND__ANON_EPOLL)
			continue;
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
	.write		= anon_write,
	.read		= anon_read,
	.open		= anon_open,
	.service_fd	= anon_service_fd,
	.post_open	= anon_post_open,
	.show		= anon_show,
};
