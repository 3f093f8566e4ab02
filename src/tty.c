/*
 * Pseudo-terminals whose master the tree holds (script, tmux, screen and
 * their shells): one tty_entry per pty, however many fds in however many
 * processes hold its master or its slave; fd_entry.desc_id says which
 * open file description (the master, or one open of the slave).
 *
 * Dump, from a copy of the master (pidfd_getfd) and a slave crest opens
 * itself with TIOCGPTPEER (O_NOCTTY, O_NONBLOCK: nothing of the tree's
 * descriptions changes): the slave's termios (TCGETS2; termios ioctls on
 * a master act on its slave), the window size, packet mode and lock of
 * the master, exclusive mode, the session that has it as controlling
 * terminal (TIOCGSID on the master, allowed from outside the session)
 * and its foreground group (TIOCGPGRP on the master). The bytes queued:
 * FIONREAD on the master counts what the slave wrote and nobody read yet,
 * on the slave what was typed (written to the master) and not yet read.
 * The tty layer has no peek: crest reads them and puts them back at once
 * the way they came, so a tree that runs on (--leave-running) still gets
 * them: to the master by a write on the slave with OPOST off for the
 * moment (no output processing twice), to the slave by a write on the
 * master with input processing and echo off. Input of a canonical reader
 * can't be put back with its line boundaries, so typed lines waiting
 * (FIONREAD counts whole lines there) are refused by name; an unfinished
 * line shows nowhere (see crest(8), TERMINALS). Packet mode with output
 * queued is refused (a read there would take a status byte too).
 *
 * A slave whose master is outside the tree at fds 0-2 leads outside like
 * any terminal there (files-ext.c: crest's own fd at restore); elsewhere
 * it is refused by name. So is a pty that is the controlling terminal of
 * a session whose leader is outside the tree, or whose foreground group
 * is.
 *
 * Restore, in crest: /dev/ptmx opened until the kernel (lowest free index
 * first) gives the old index, or another if that one is taken (the
 * processes get /dev/pts/M for /dev/pts/N: their fds lead to the new
 * slave), queues refilled under a raw termios, then the saved one, the
 * window size, each slave description opened with TIOCGPTPEER, then
 * exclusive mode, packet mode and the lock. The session leader takes it
 * as controlling terminal right after its setsid(), before it forks the
 * rest of its session (who inherit it); once its fds are in place it
 * makes the saved group the foreground one.
 */
#include <asm/termbits.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "files.h"
#include "files-kind.h"
#include "image.h"
#include "log.h"
#include "pstree.h"
#include "refuse.h"
#include "tty.h"
#include "util.h"

#include "tty.pb-c.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER	_IO('T', 0x41)
#endif
#ifndef TIOCGPKT
#define TIOCGPKT	_IOR('T', 0x38, int)
#endif
#ifndef TIOCGPTLCK
#define TIOCGPTLCK	_IOR('T', 0x39, int)
#endif
#ifndef TIOCGEXCL
#define TIOCGEXCL	_IOR('T', 0x40, int)
#endif

#define PTY_SLAVE_MAJOR	136	/* UNIX98 slaves: majors 136-143 */
#define PTY_SLAVE_MAJORS	8
#define PTY_MAX_INDEX	4096	/* how far crest opens /dev/ptmx to find an index */
#define TTY_WAIT_MS	5000	/* for the tty layer's worker to move bytes */

/* Input processing and echo off, so bytes written to the master arrive as they are. */
static void raw_input(struct termios2 *t)
{
	t->c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL |
			IXON | IXOFF | IUCLC | INPCK | IMAXBEL);
	t->c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
}

static bool is_master(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(5, 2);
}

static bool is_slave(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && major(st->st_rdev) >= PTY_SLAVE_MAJOR &&
	       major(st->st_rdev) < PTY_SLAVE_MAJOR + PTY_SLAVE_MAJORS;
}

static unsigned int slave_index(const struct stat *st)
{
	return (major(st->st_rdev) - PTY_SLAVE_MAJOR) * 256 + minor(st->st_rdev);
}

static int ioctl_int(int fd, unsigned long req)
{
	int v = 0;

	return ioctl(fd, req, &v) ? -1 : v;
}

static long now_msec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Until FIONREAD on fd says want (the flip buffer is pushed by a worker). */
static int wait_queued(int fd, int want, const char *what)
{
	long end = now_msec() + TTY_WAIT_MS;
	int n = -1;

	for (;;) {
		if (ioctl(fd, FIONREAD, &n)) {
			pr_perror("can't count the bytes %s", what);
			return -1;
		}
		if (n >= want)
			return 0;
		if (now_msec() > end)
			break;
		usleep(1000);
	}
	pr_err("%d bytes %s, %d after %d s", want, what, n, TTY_WAIT_MS / 1000);
	return -1;
}

/* ---- dump ---- */

struct pty_desc {
	pid_t pid;
	int fd;			/* a holder, for kcmp */
};

struct pty {
	TtyEntry *e;
	bool master;		/* its master is the tree's */
	pid_t mpid;		/* who holds it, for messages */
	int mfd;
	struct pty_desc *d;	/* per e->descs[] */
};

struct tty_dump {
	struct pty *p;
	int nr;
};

static struct tty_dump *dump_state(struct dump_files *df)
{
	void **p = files_dump_priv(df, &tty_fd_ops);

	if (!*p)
		*p = xzalloc(sizeof(struct tty_dump));
	return *p;
}

bool tty_is_pty(const struct stat *st)
{
	return is_master(st) || is_slave(st);
}

static bool tty_recognise(const struct fd_dump *f)
{
	if (f->fi->flags & O_PATH)
		return false;	/* only a path: files-reg.c */
	return is_master(f->st) || is_slave(f->st);
}

static struct pty *pty_of(struct tty_dump *u, unsigned int index)
{
	struct pty *p;

	for (int i = 0; i < u->nr; i++)
		if (u->p[i].e->index == index)
			return &u->p[i];
	u->p = xrealloc(u->p, (u->nr + 1) * sizeof(*u->p));
	p = &u->p[u->nr];
	memset(p, 0, sizeof(*p));
	p->e = xzalloc(sizeof(*p->e));
	tty_entry__init(p->e);
	p->e->id = ++u->nr;
	p->e->index = index;
	return p;
}

static int add_desc(struct pty *p, const struct fd_dump *f, bool master)
{
	TtyEntry *e = p->e;
	TtyDesc *d;

	for (size_t i = 0; i < e->n_descs; i++)
		if (e->descs[i]->master == master &&
		    files_same_description(p->d[i].pid, p->d[i].fd, f->pid, f->fd))
			return i + 1;
	e->descs = xrealloc(e->descs, (e->n_descs + 1) * sizeof(*e->descs));
	p->d = xrealloc(p->d, (e->n_descs + 1) * sizeof(*p->d));
	d = xzalloc(sizeof(*d));
	tty_desc__init(d);
	d->master = master;
	d->flags = f->fi->flags & ~O_CLOEXEC;
	p->d[e->n_descs] = (struct pty_desc){ f->pid, f->fd };
	e->descs[e->n_descs++] = d;
	return e->n_descs;
}

/*
 * Bytes waiting for the master's reader: read from the master, written
 * back on the slave with output processing off for the moment.
 */
static int take_to_master(struct pty *p, int m, int s,
			  const struct termios2 *saved, int n)
{
	struct termios2 t = *saved;
	char *buf = xzalloc(n);
	int got = 0, ret = -1;

	while (got < n) {
		struct pollfd pf = { m, POLLIN, 0 };
		ssize_t r;

		if (poll(&pf, 1, TTY_WAIT_MS) != 1) {
			pr_err("pty %u: %d bytes queued for its master, only %d readable",
			       p->e->index, n, got);
			goto out;
		}
		r = read(m, buf + got, n - got);
		if (r <= 0) {
			pr_perror("can't read what waits for the master of pty %u",
				  p->e->index);
			goto out;
		}
		got += r;
	}
	t.c_oflag &= ~OPOST;
	if (ioctl(s, TCSETS2, &t)) {
		pr_perror("can't set pty %u's termios", p->e->index);
		goto out;
	}
	if (write_all(s, buf, n) || wait_queued(m, n, "put back for the master")) {
		pr_err("pty %u: %d bytes for its master could not be put back",
		       p->e->index, n);
		ioctl(s, TCSETS2, saved);
		goto out;
	}
	if (ioctl(s, TCSETS2, saved)) {
		pr_perror("can't set pty %u's termios back", p->e->index);
		goto out;
	}
	p->e->has_to_master = 1;
	p->e->to_master.data = (uint8_t *)buf;
	p->e->to_master.len = n;
	return 0;
out:
	free(buf);
	return ret;
}

/* Bytes typed and not read: from the slave, back through the master. */
static int take_to_slave(struct pty *p, int m, int s, const struct termios2 *saved,
			 int n)
{
	struct termios2 t = *saved;
	char *buf = xzalloc(n);
	int got = 0;

	while (got < n) {
		ssize_t r = read(s, buf + got, n - got);

		if (r <= 0) {
			pr_perror("can't read what waits for the slave of pty %u",
				  p->e->index);
			goto out;
		}
		got += r;
	}
	raw_input(&t);
	if (ioctl(s, TCSETS2, &t)) {
		pr_perror("can't set pty %u's termios", p->e->index);
		goto out;
	}
	if (write_all(m, buf, n) || wait_queued(s, n, "put back for the slave")) {
		pr_err("pty %u: %d bytes for its slave could not be put back",
		       p->e->index, n);
		ioctl(s, TCSETS2, saved);
		goto out;
	}
	if (ioctl(s, TCSETS2, saved)) {
		pr_perror("can't set pty %u's termios back", p->e->index);
		goto out;
	}
	p->e->has_to_slave = 1;
	p->e->to_slave.data = (uint8_t *)buf;
	p->e->to_slave.len = n;
	return 0;
out:
	free(buf);
	return -1;
}

/* A slave of our own, whatever the lock (put back as it was). */
static int open_peer(int m, unsigned int index, int locked)
{
	int unlock = 0, s;

	if (locked && ioctl(m, TIOCSPTLCK, &unlock)) {
		pr_perror("can't unlock pty %u for a moment", index);
		return -1;
	}
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (s < 0)
		pr_perror("can't open the slave of pty %u", index);
	if (locked && ioctl(m, TIOCSPTLCK, &locked)) {
		pr_perror("can't lock pty %u again", index);
		if (s >= 0)
			close(s);
		return -1;
	}
	return s;
}

static int dump_master(const struct fd_dump *f, struct pty *p, int m)
{
	TtyEntry *e = p->e;
	struct termios2 t;
	struct winsize ws;
	struct stat st, pts;
	int s, locked, n, ret = -1;
	pid_t sid = 0, pg = 0;

	locked = ioctl_int(m, TIOCGPTLCK);
	e->packet = ioctl_int(m, TIOCGPKT) > 0;
	if (locked < 0) {
		pr_perror("can't read the lock of pty %u", e->index);
		return -1;
	}
	e->locked = locked;
	s = open_peer(m, e->index, locked);
	if (s < 0)
		return -1;
	if (fstat(s, &st) || stat("/dev/pts", &pts)) {
		pr_perror("can't stat pty %u", e->index);
		goto out;
	}
	if (st.st_dev != pts.st_dev) {
		refuse(f->it->pid, "fd %d is the master of a pty of another devpts instance than /dev/pts; not supported yet",
		       f->fd);
		ret = 0;
		goto out;
	}
	if (ioctl(s, TCGETS2, &t) || ioctl(s, TIOCGWINSZ, &ws)) {
		pr_perror("can't read the modes of pty %u", e->index);
		goto out;
	}
	e->iflag = t.c_iflag;
	e->oflag = t.c_oflag;
	e->cflag = t.c_cflag;
	e->lflag = t.c_lflag;
	e->line = t.c_line;
	e->cc.data = xzalloc(NCCS);
	memcpy(e->cc.data, t.c_cc, NCCS);
	e->cc.len = NCCS;
	e->ispeed = t.c_ispeed;
	e->ospeed = t.c_ospeed;
	e->rows = ws.ws_row;
	e->cols = ws.ws_col;
	e->xpixel = ws.ws_xpixel;
	e->ypixel = ws.ws_ypixel;
	e->exclusive = ioctl_int(s, TIOCGEXCL) > 0;
	if (!ioctl(m, TIOCGSID, &sid) && sid > 0) {
		e->has_sid = 1;
		e->sid = sid;
		if (!ioctl(m, TIOCGPGRP, &pg) && pg > 0) {
			e->has_fg_pgrp = 1;
			e->fg_pgrp = pg;
		}
	}

	if (ioctl(m, FIONREAD, &n)) {
		pr_perror("can't count what waits for the master of pty %u", e->index);
		goto out;
	}
	if (n && e->packet) {
		refuse(f->it->pid, "fd %d is the master of pty %u in packet mode with %d bytes waiting to be read; not supported yet",
		       f->fd, e->index, n);
	} else if (n && take_to_master(p, m, s, &t, n)) {
		goto out;
	}
	if (ioctl(s, FIONREAD, &n)) {
		pr_perror("can't count what waits for the slave of pty %u", e->index);
		goto out;
	}
	if (n && (t.c_lflag & ICANON)) {
		refuse(f->it->pid, "fd %d is the master of pty %u, whose slave has %d bytes of typed lines waiting for a canonical reader; crest can't put back their line boundaries, not supported yet",
		       f->fd, e->index, n);
	} else if (n && take_to_slave(p, m, s, &t, n)) {
		goto out;
	}
	ret = 0;
out:
	close(s);
	return ret;
}

static int tty_dump(struct dump_files *df, const struct fd_dump *f, FdEntry *fe)
{
	struct tty_dump *u = dump_state(df);
	bool master = is_master(f->st);
	unsigned int index;
	struct pty *p;
	int m = -1;

	if (master) {
		m = pidfd_take(f->pid, f->fd);
		if (m < 0)
			return -1;
		if (ioctl(m, TIOCGPTN, &index)) {
			pr_perror("fd %d of %d: can't read its pty's index", f->fd, f->pid);
			close(m);
			return -1;
		}
	} else {
		index = slave_index(f->st);
	}
	p = pty_of(u, index);
	if (master && !p->master) {
		p->master = true;
		p->mpid = f->it->pid;
		p->mfd = f->fd;
		if (dump_master(f, p, m)) {
			close(m);
			return -1;
		}
	}
	if (m >= 0)
		close(m);
	fe->file_id = p->e->id;
	fe->has_desc_id = 1;
	fe->desc_id = add_desc(p, f, master);
	return 0;
}

static bool has_pgrp(const struct pstree *t, pid_t pg)
{
	for (int i = 0; i < t->nr; i++)
		if (t->items[i]->pgid == pg)
			return true;
	return false;
}

static const struct pstree_item *task_of(const struct pstree *t, pid_t pid)
{
	for (int i = 0; i < t->nr; i++)
		if (t->items[i]->pid == pid)
			return t->items[i];
	return NULL;
}

/* Slaves of ptys whose master is outside; sessions and groups of ours. */
static int tty_collected(struct dump_files *df, struct pstree *t)
{
	struct tty_dump *u = dump_state(df);

	for (int k = 0; k < t->nr; k++) {
		struct pstree_item *it = t->items[k];

		for (int j = 0; j < it->nr_fds; j++) {
			FdEntry *e = it->fds[j];

			if (e->kind != FD_KIND__FD_TTY || u->p[e->file_id - 1].master)
				continue;
			if (e->fd <= 2) {
				/* BLCR's rule: a terminal at 0-2 is crest's own. */
				e->kind = FD_KIND__FD_EXTERNAL;
				e->has_ext_fd = 1;
				e->ext_fd = e->fd;
				e->has_desc_id = 0;
				continue;
			}
			refuse(it->pid, "fd %u is %s, a pty whose master is outside the tree; not supported yet",
			       e->fd, e->desc);
		}
	}
	for (int i = 0; i < u->nr; i++) {
		const TtyEntry *e = u->p[i].e;
		const struct pstree_item *l;

		if (!u->p[i].master || !e->has_sid)
			continue;
		l = task_of(t, e->sid);
		if (!l || l->sid != l->pid) {
			refuse(u->p[i].mpid, "fd %d is the master of pty %u, the controlling terminal of session %u, whose leader is outside the tree; not supported yet",
			       u->p[i].mfd, e->index, e->sid);
			continue;
		}
		if (e->has_fg_pgrp && !has_pgrp(t, e->fg_pgrp))
			refuse(u->p[i].mpid, "fd %d is the master of pty %u, whose foreground process group %u is outside the tree; not supported yet",
			       u->p[i].mfd, e->index, e->fg_pgrp);
	}
	return 0;
}

static int tty_write(struct dump_files *df, struct img_dir *d)
{
	struct tty_dump *u = dump_state(df);
	void **msgs = xzalloc((u->nr + 1) * sizeof(*msgs));
	int nr = 0, ret;

	for (int i = 0; i < u->nr; i++)
		if (u->p[i].master)
			msgs[nr++] = u->p[i].e;
	ret = files_write_msgs(d, IMG_TTYS, 0, msgs, nr);
	free(msgs);
	return ret;
}

/* ---- restore ---- */

struct tty_restore {
	TtyEntry **ttys;
	int nr;
	int *master;		/* service fds: the master of each */
	int *ctl;		/* ...a slave of crest's, for ioctls */
	int **desc;		/* ...each description, [tty][desc_id - 1] */
	unsigned int *now;	/* the index it got */
};

static struct tty_restore *restore_state(struct restore_files *rf)
{
	void **p = files_restore_priv(rf, &tty_fd_ops);

	if (!*p)
		*p = xzalloc(sizeof(struct tty_restore));
	return *p;
}

static const struct tty_restore *restore_state_ro(const struct restore_files *rf)
{
	return *files_restore_priv_ro(rf, &tty_fd_ops);
}

static int tty_index(const struct tty_restore *u, uint32_t id)
{
	for (int i = 0; u && i < u->nr; i++)
		if (u->ttys[i]->id == id)
			return i;
	return -1;
}

static int tty_read(struct restore_files *rf, struct img_dir *d)
{
	struct tty_restore *u = restore_state(rf);

	if (files_read_msgs(d, IMG_TTYS, 0, (void ***)&u->ttys, &u->nr))
		return -1;
	for (int i = 0; i < u->nr; i++) {
		const TtyEntry *e = u->ttys[i];
		int masters = 0;

		for (size_t j = 0; j < e->n_descs; j++)
			masters += e->descs[j]->master;
		if (e->cc.len != NCCS || masters != 1 || e->index >= PTY_MAX_INDEX) {
			pr_err("image ttys.img is corrupt: pty %u has %s", e->id,
			       masters != 1 ? "not one master" : "bad modes or index");
			return -1;
		}
	}
	return 0;
}

/*
 * /dev/ptmx until the kernel gives want: it hands out the lowest free
 * index, so the ones below are held open meanwhile. If want is taken, the
 * first index above it is kept.
 */
static int alloc_pty(unsigned int want, unsigned int *got)
{
	int *held = xzalloc((want + 2) * sizeof(int)), nr = 0, fd = -1;

	for (;;) {
		unsigned int n;

		fd = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			pr_perror("can't open /dev/ptmx");
			break;
		}
		if (ioctl(fd, TIOCGPTN, &n)) {
			pr_perror("can't read the index of a new pty");
			close(fd);
			fd = -1;
			break;
		}
		if (n >= want || nr > (int)want) {
			*got = n;
			break;
		}
		held[nr++] = fd;
	}
	while (nr)
		close(held[--nr]);
	free(held);
	if (fd >= 0 && *got != want)
		pr_info("pty %u is taken: its processes get /dev/pts/%u", want, *got);
	return fd;
}

static int set_termios(int s, const TtyEntry *e, bool raw, unsigned int index)
{
	struct termios2 t;

	memset(&t, 0, sizeof(t));
	t.c_iflag = e->iflag;
	t.c_oflag = e->oflag;
	t.c_cflag = e->cflag;
	t.c_lflag = e->lflag;
	t.c_line = e->line;
	memcpy(t.c_cc, e->cc.data, NCCS);
	t.c_ispeed = e->ispeed;
	t.c_ospeed = e->ospeed;
	if (raw) {
		raw_input(&t);
		t.c_oflag &= ~OPOST;
	}
	if (ioctl(s, TCSETS2, &t)) {
		pr_perror("can't set the termios of pty %u", index);
		return -1;
	}
	return 0;
}

static int open_one(struct tty_restore *u, int i, int base)
{
	const TtyEntry *e = u->ttys[i];
	struct winsize ws = { e->rows, e->cols, e->xpixel, e->ypixel };
	int m, s, zero = 0, one = 1;

	m = files_to_service(alloc_pty(e->index, &u->now[i]), base);
	if (m < 0)
		return -1;
	u->master[i] = m;
	if (ioctl(m, TIOCSPTLCK, &zero)) {
		pr_perror("can't unlock pty %u", u->now[i]);
		return -1;
	}
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK);
	if ((s = files_to_service(s, base)) < 0) {
		pr_err("can't open the slave of pty %u", u->now[i]);
		return -1;
	}
	u->ctl[i] = s;
	if (ioctl(m, TIOCSWINSZ, &ws)) {
		pr_perror("can't set the window size of pty %u", u->now[i]);
		return -1;
	}
	if (set_termios(s, e, true, u->now[i]))
		return -1;
	if (e->has_to_slave && (write_all(m, e->to_slave.data, e->to_slave.len) ||
				wait_queued(s, e->to_slave.len, "typed for the slave"))) {
		pr_err("can't refill pty %u", u->now[i]);
		return -1;
	}
	if (e->has_to_master && (write_all(s, e->to_master.data, e->to_master.len) ||
				 wait_queued(m, e->to_master.len, "waiting for the master"))) {
		pr_err("can't refill pty %u", u->now[i]);
		return -1;
	}
	if (set_termios(s, e, false, u->now[i]))
		return -1;

	u->desc[i] = xzalloc((e->n_descs + 1) * sizeof(int));
	for (size_t j = 0; j < e->n_descs; j++) {
		const TtyDesc *d = e->descs[j];
		int fd;

		if (d->master) {
			u->desc[i][j] = m;
			continue;
		}
		/*
		 * Its flags as they were (O_LARGEFILE too, which F_SETFL can't
		 * give); no O_CLOEXEC, which dentry_open() would keep in the
		 * description's flags: the service fd is close-on-exec.
		 */
		fd = ioctl(m, TIOCGPTPEER, (d->flags & ~O_CLOEXEC) | O_NOCTTY);
		if (fd < 0)
			pr_perror("can't open the slave of pty %u", u->now[i]);
		if ((u->desc[i][j] = files_to_service(fd, base)) < 0)
			return -1;
	}
	if ((e->exclusive && ioctl(s, TIOCEXCL)) ||
	    (e->packet && ioctl(m, TIOCPKT, &one)) ||
	    (e->locked && ioctl(m, TIOCSPTLCK, &one))) {
		pr_perror("can't set the modes of pty %u", u->now[i]);
		return -1;
	}
	return 0;
}

static int tty_open(struct restore_files *rf, struct img_dir *d, MmEntry **mms,
		    int nr_mms)
{
	struct tty_restore *u = restore_state(rf);

	u->master = xzalloc((u->nr + 1) * sizeof(int));
	u->ctl = xzalloc((u->nr + 1) * sizeof(int));
	u->desc = xzalloc((u->nr + 1) * sizeof(int *));
	u->now = xzalloc((u->nr + 1) * sizeof(unsigned int));
	for (int i = 0; i < u->nr; i++)
		u->master[i] = u->ctl[i] = -1;
	for (int i = 0; i < u->nr; i++)
		if (open_one(u, i, rf->base))
			return -1;
	return 0;
}

static int tty_service_fd(const struct restore_files *rf, const FdEntry *e)
{
	const struct tty_restore *u = restore_state_ro(rf);
	int i = tty_index(u, e->file_id);

	if (i < 0 || !u->desc || !u->desc[i] || !e->has_desc_id || !e->desc_id ||
	    e->desc_id > u->ttys[i]->n_descs)
		return -1;
	return u->desc[i][e->desc_id - 1];
}

static void tty_show(const struct restore_files *rf, const FdEntry *e, char *buf,
		     size_t len)
{
	const struct tty_restore *u = restore_state_ro(rf);
	int i = tty_index(u, e->file_id);
	bool master;

	if (i < 0 || !e->has_desc_id || !e->desc_id ||
	    e->desc_id > u->ttys[i]->n_descs) {
		snprintf(buf, len, "pty %u, not in the images", e->file_id);
		return;
	}
	master = u->ttys[i]->descs[e->desc_id - 1]->master;
	snprintf(buf, len, "the %s of pty %u (/dev/pts/%u at the dump)",
		 master ? "master" : "slave", u->ttys[i]->id, u->ttys[i]->index);
}

int tty_restore_ctty(const struct restore_files *rf, pid_t orig_pid)
{
	const struct tty_restore *u = restore_state_ro(rf);

	for (int i = 0; u && i < u->nr; i++) {
		if (!u->ttys[i]->has_sid || u->ttys[i]->sid != (uint32_t)orig_pid)
			continue;
		if (ioctl(u->ctl[i], TIOCSCTTY, 0)) {
			pr_perror("can't make pty %u the controlling terminal of %d",
				  u->now[i], orig_pid);
			return -1;
		}
	}
	return 0;
}

int tty_restore_fg(const struct restore_files *rf, pid_t orig_pid,
		   const struct files_pid_map *map)
{
	const struct tty_restore *u = restore_state_ro(rf);

	for (int i = 0; u && i < u->nr; i++) {
		const TtyEntry *e = u->ttys[i];
		long end = now_msec() + TTY_WAIT_MS;
		pid_t pg;

		if (!e->has_sid || e->sid != (uint32_t)orig_pid || !e->has_fg_pgrp)
			continue;
		pg = map->new_pid ? map->new_pid(map->arg, e->fg_pgrp) : (pid_t)e->fg_pgrp;
		/* The group's leader may not have made it yet: wait for it. */
		while (ioctl(u->ctl[i], TIOCSPGRP, &pg)) {
			if ((errno != ESRCH && errno != EPERM) || now_msec() > end) {
				pr_perror("can't make group %d the foreground of pty %u",
					  pg, u->now[i]);
				return -1;
			}
			usleep(1000);
		}
	}
	return 0;
}

const struct fd_kind_ops tty_fd_ops = {
	.name		= "pty",
	.kind		= FD_KIND__FD_TTY,
	.recognise	= tty_recognise,
	.dump		= tty_dump,
	.collected	= tty_collected,
	.write		= tty_write,
	.read		= tty_read,
	.open		= tty_open,
	.service_fd	= tty_service_fd,
	.show		= tty_show,
};
