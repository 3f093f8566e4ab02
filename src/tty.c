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
 * master with input processing and echo off. Input of a canonical
 * reader keeps its lines and its unfinished line (take_canon(),
 * put_canon(): TIOCSTI, with CAP_SYS_ADMIN; without, typed lines are
 * refused). Packet mode with output queued is refused (a read there
 * would take a status byte too).
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
 * makes the saved group the foreground one. Opens of /dev/tty on it are
 * made once per description, shared like any object (open_dev_ttys()).
 */
#include <asm/termbits.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
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
#define PTY_QUEUE_MAX	4096	/* N_TTY_BUF_SIZE: what FIONREAD can count */
#define TTY_WAIT_MS	5000	/* for the tty layer's worker to move bytes */
#define DEV_TTY_ID	0xffffffffu	/* dump: an fd on /dev/tty, not resolved yet */

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
	bool shell;		/* --shell-job: the job's terminal */
	bool bypath;		/* another terminal, reopened by its path */
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

static bool is_dev_tty(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(5, 0);
}

/* /dev/console, /dev/ttyN, a serial line... */
static bool is_path_tty(const struct fd_dump *f)
{
	return S_ISCHR(f->st->st_mode) && files_link_tty(f->link) &&
	       !is_master(f->st) && !is_slave(f->st) && !is_dev_tty(f->st) &&
	       strncmp(f->link, "/dev/pts/", 9) && strcmp(f->link, "/dev/ptmx") &&
	       strcmp(f->link, "/dev/tty");
}

/* A terminal at 0-2 leads outside like any terminal there (files-ext.c). */
static bool tty_recognise(const struct fd_dump *f)
{
	if (f->fi->flags & O_PATH)
		return false;	/* only a path: files-reg.c */
	return is_master(f->st) || is_slave(f->st) ||
	       (f->fd > 2 && (is_dev_tty(f->st) || is_path_tty(f)));
}

static struct pty *pty_of(struct tty_dump *u, unsigned int index)
{
	struct pty *p;

	for (int i = 0; i < u->nr; i++)
		if (!u->p[i].bypath && u->p[i].e->index == index)
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
 * Bytes waiting for one end's reader, taken and put back: those for the
 * master's reader are read from the master and written back on the slave
 * with output processing off for the moment; those typed for the slave
 * (and not read) are read from the slave and typed again through the
 * master with input processing off.
 */
static int take_queue(struct pty *p, int m, int s, const struct termios2 *saved,
		      int n, bool for_master)
{
	const char *end = for_master ? "master" : "slave";
	int from = for_master ? m : s, to = for_master ? s : m;
	struct termios2 t = *saved;
	ProtobufCBinaryData *keep = for_master ? &p->e->to_master : &p->e->to_slave;
	char *buf = xzalloc(n);
	int got = 0;

	while (got < n) {
		struct pollfd pf = { from, POLLIN, 0 };
		ssize_t r;

		if (poll(&pf, 1, TTY_WAIT_MS) != 1) {
			pr_err("pty %u: %d bytes queued for its %s, only %d readable",
			       p->e->index, n, end, got);
			goto out;
		}
		r = read(from, buf + got, n - got);
		if (r <= 0) {
			pr_perror("can't read what waits for the %s of pty %u", end,
				  p->e->index);
			goto out;
		}
		got += r;
	}
	if (for_master)
		t.c_oflag &= ~OPOST;
	else
		raw_input(&t);
	if (ioctl(s, TCSETS2, &t)) {
		pr_perror("can't set pty %u's termios", p->e->index);
		goto out;
	}
	if (write_all(to, buf, n) || wait_queued(from, n, for_master ?
			"put back for the master" : "put back for the slave")) {
		pr_err("pty %u: %d bytes for its %s could not be put back",
		       p->e->index, n, end);
		ioctl(s, TCSETS2, saved);
		goto out;
	}
	if (ioctl(s, TCSETS2, saved)) {
		pr_perror("can't set pty %u's termios back", p->e->index);
		goto out;
	}
	if (for_master)
		p->e->has_to_master = 1;
	else
		p->e->has_to_slave = 1;
	keep->data = (uint8_t *)buf;
	keep->len = n;
	return 0;
out:
	free(buf);
	return -1;
}

/*
 * Input typed for a canonical reader (ICANON): complete lines and a line
 * not ended yet, which FIONREAD does not count. The line boundaries are
 * the line discipline's own (flags beside its buffer, and the EOF
 * character stored as no byte): they are taken by reading one line per
 * read() (a canonical read ends at a line's end; a line ended by EOF
 * alone reads as 0 bytes), then, with ICANON off for a moment (which
 * makes every byte left readable), the unfinished line. They are put
 * back by TIOCSTI: each byte goes through the line discipline at once,
 * in order, under a termios of crest's (put_canon()). TIOCSTI on a
 * terminal that is not crest's controlling one needs CAP_SYS_ADMIN
 * (/proc/sys/dev/tty/legacy_tiocsti aside); a master's write would go
 * through the flip buffer, whose processing of an unfinished line can't
 * be waited for.
 */
static bool is_terminator(const struct termios2 *t, uint8_t c)
{
	return c == '\n' || (t->c_cc[VEOL] && c == t->c_cc[VEOL]) ||
	       ((t->c_lflag & IEXTEN) && t->c_cc[VEOL2] && c == t->c_cc[VEOL2]);
}

/* A control character for the refill: want if free, else another. */
static cc_t spare_cc(const struct termios2 *t, cc_t want, cc_t other)
{
	for (int c = 0; c < 32; c++) {
		cc_t v = c ? (cc_t)c : want;

		if (v && v != '\n' && v != t->c_cc[VEOL] && v != t->c_cc[VEOL2] &&
		    v != other)
			return v;
	}
	return want;
}

static bool can_tiocsti(void)
{
	char *st = read_file("/proc/self/status", NULL), *p;
	unsigned long long eff = 0;

	p = st ? strstr(st, "\nCapEff:") : NULL;
	if (p)
		eff = strtoull(p + 8, NULL, 16);
	free(st);
	return eff & (1ULL << 21);	/* CAP_SYS_ADMIN */
}

/*
 * The lines and the unfinished line back into the slave s, as the line
 * discipline had them: echo, signals and input mapping off, every byte
 * that is special to the refill quoted with its LNEXT, each line's
 * terminator as it is (EOF for a line ended by it), then saved.
 */
static int put_canon(int s, const struct termios2 *saved, const uint8_t *data,
		     size_t len, TtyLine **lines, size_t nr, unsigned int index)
{
	struct termios2 r = *saved;
	size_t at = 0, end, total = 0;
	cc_t lnext, eof;
	int n = -1;

	r.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL |
		       IXON | IXOFF | IUCLC | INPCK | IMAXBEL);
	r.c_lflag &= ~(ECHO | ECHONL | ISIG);
	r.c_lflag |= ICANON | IEXTEN;
	lnext = spare_cc(saved, saved->c_cc[VLNEXT] ? saved->c_cc[VLNEXT] : 026, 0);
	eof = spare_cc(saved, saved->c_cc[VEOF] ? saved->c_cc[VEOF] : 004, lnext);
	r.c_cc[VLNEXT] = lnext;
	r.c_cc[VEOF] = eof;
	r.c_cc[VERASE] = r.c_cc[VKILL] = r.c_cc[VWERASE] = r.c_cc[VREPRINT] = 0;
	if (ioctl(s, TCSETS2, &r)) {
		pr_perror("can't set pty %u's termios", index);
		return -1;
	}
	for (size_t i = 0; i <= nr; i++) {
		bool last = i == nr;

		end = last ? len : at + lines[i]->len;
		for (size_t k = at; k < end; k++) {
			uint8_t c = data[k];
			bool term = !last && !lines[i]->eof && k == end - 1;

			if (!term && (c == '\n' || c == r.c_cc[VEOL] ||
				      c == r.c_cc[VEOL2] || c == eof || c == lnext) &&
			    c && ioctl(s, TIOCSTI, &lnext))
				goto err;
			if (ioctl(s, TIOCSTI, &c))
				goto err;
		}
		if (!last && lines[i]->eof && ioctl(s, TIOCSTI, &eof))
			goto err;
		if (!last)
			total += lines[i]->len;
		at = end;
	}
	if (ioctl(s, TCSETS2, saved)) {
		pr_perror("can't set pty %u's termios back", index);
		return -1;
	}
	if (ioctl(s, FIONREAD, &n) || (size_t)n != total) {
		pr_err("pty %u: %zu bytes of typed lines put back, %d there", index,
		       total, n);
		return -1;
	}
	return 0;
err:
	pr_perror("can't put back what was typed on pty %u (TIOCSTI)", index);
	ioctl(s, TCSETS2, saved);
	return -1;
}

static int take_canon(struct pty *p, int s, const struct termios2 *saved)
{
	TtyEntry *e = p->e;
	uint8_t *buf = xzalloc(PTY_QUEUE_MAX + 1);
	struct termios2 t = *saved;
	size_t len = 0;
	int n = 0;

	/* Each line by a read of its own; EAGAIN: no line left. */
	for (;;) {
		ssize_t r = len < PTY_QUEUE_MAX ? read(s, buf + len, PTY_QUEUE_MAX - len) : -1;
		TtyLine *l;

		if (r < 0 && errno == EAGAIN)
			break;
		if (r < 0 || e->n_lines >= PTY_QUEUE_MAX) {
			pr_perror("can't read the lines typed on pty %u", e->index);
			goto err;
		}
		l = xzalloc(sizeof(*l));
		tty_line__init(l);
		l->len = r;
		l->has_eof = l->eof = !r || !is_terminator(saved, buf[len + r - 1]);
		e->lines = xrealloc(e->lines, (e->n_lines + 1) * sizeof(*e->lines));
		e->lines[e->n_lines++] = l;
		len += r;
	}
	/* The line not ended yet: readable once ICANON is off. */
	t.c_lflag &= ~ICANON;
	t.c_cc[VMIN] = t.c_cc[VTIME] = 0;
	if (ioctl(s, TCSETS2, &t) || ioctl(s, FIONREAD, &n)) {
		pr_perror("can't read the line typed on pty %u", e->index);
		ioctl(s, TCSETS2, saved);
		goto err;
	}
	while (n > 0 && len < PTY_QUEUE_MAX) {
		ssize_t r = read(s, buf + len, PTY_QUEUE_MAX - len);

		if (r <= 0)
			break;
		len += r;
		n -= r;
	}
	if (ioctl(s, TCSETS2, saved)) {
		pr_perror("can't set pty %u's termios back", e->index);
		goto err;
	}
	if (n > 0) {
		pr_err("pty %u: the line typed on it could not be read whole", e->index);
		goto err;
	}
	if (!len && !e->n_lines) {
		free(buf);
		return 0;
	}
	if (put_canon(s, saved, buf, len, e->lines, e->n_lines, e->index))
		goto err;
	e->has_canon = e->canon = 1;
	e->has_to_slave = 1;
	e->to_slave.data = buf;
	e->to_slave.len = len;
	return 0;
err:
	pr_err("pty %u: what was typed on it may be lost", e->index);
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
	} else if (n && take_queue(p, m, s, &t, n, true)) {
		goto out;
	}
	if (ioctl(s, FIONREAD, &n)) {
		pr_perror("can't count what waits for the slave of pty %u", e->index);
		goto out;
	}
	if ((t.c_lflag & ICANON) && (t.c_lflag & EXTPROC)) {
		if (n)
			refuse(f->it->pid, "fd %d is the master of pty %u, whose slave has %d bytes typed for a reader in canonical mode with EXTPROC; not supported yet",
			       f->fd, e->index, n);
	} else if ((t.c_lflag & ICANON) && can_tiocsti()) {
		/* An unfinished line does not count in n: taken as well. */
		if (take_canon(p, s, &t))
			goto out;
	} else if (t.c_lflag & ICANON) {
		/*
		 * Without TIOCSTI: typed lines refused; an unfinished line
		 * can't even be seen without making it a line (crest(8)).
		 */
		if (n)
			refuse(f->it->pid, "fd %d is the master of pty %u, whose slave has %d bytes of typed lines waiting for a canonical reader; crest puts them back only with CAP_SYS_ADMIN (TIOCSTI), not supported yet",
			       f->fd, e->index, n);
	} else if (n && take_queue(p, m, s, &t, n, false)) {
		goto out;
	}
	ret = 0;
out:
	close(s);
	return ret;
}

/* A terminal reopened by its path: one entry per device, its modes. */
static int dump_path_tty(struct tty_dump *u, const struct fd_dump *f, FdEntry *fe)
{
	struct termios2 t;
	struct winsize ws;
	struct pty *p = NULL;
	int fd;

	for (int i = 0; i < u->nr; i++)
		if (u->p[i].bypath && u->p[i].e->rdev == f->st->st_rdev)
			p = &u->p[i];
	if (!p) {
		p = pty_of(u, PTY_MAX_INDEX);	/* a new entry: no pty has it */
		p->e->index = 0;
		p->bypath = true;
		p->e->path = xstrdup(f->link);
		p->e->has_rdev = 1;
		p->e->rdev = f->st->st_rdev;
		fd = pidfd_take(f->pid, f->fd);
		if (fd < 0)
			return -1;
		if (ioctl(fd, TCGETS2, &t) || ioctl(fd, TIOCGWINSZ, &ws)) {
			pr_perror("fd %d of %d: can't read the modes of '%s'", f->fd,
				  f->pid, f->link);
			close(fd);
			return -1;
		}
		close(fd);
		p->e->iflag = t.c_iflag;
		p->e->oflag = t.c_oflag;
		p->e->cflag = t.c_cflag;
		p->e->lflag = t.c_lflag;
		p->e->line = t.c_line;
		p->e->cc.data = xzalloc(NCCS);
		memcpy(p->e->cc.data, t.c_cc, NCCS);
		p->e->cc.len = NCCS;
		p->e->ispeed = t.c_ispeed;
		p->e->ospeed = t.c_ospeed;
		p->e->rows = ws.ws_row;
		p->e->cols = ws.ws_col;
		p->e->xpixel = ws.ws_xpixel;
		p->e->ypixel = ws.ws_ypixel;
	}
	fe->file_id = p->e->id;
	fe->has_desc_id = 1;
	fe->desc_id = add_desc(p, f, false);
	return 0;
}

static int tty_dump(struct dump_files *df, const struct fd_dump *f, FdEntry *fe)
{
	struct tty_dump *u = dump_state(df);
	bool master = is_master(f->st);
	unsigned int index;
	struct pty *p;
	int m = -1;

	if (is_dev_tty(f->st)) {
		/* Whose terminal it is: once the tree is known (collected). */
		fe->file_id = DEV_TTY_ID;
		return 0;
	}
	if (is_path_tty(f))
		return dump_path_tty(u, f, fe);
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

/* The controlling terminal of a task (stat's tty_nr, tpgid): dev 0: none. */
static int ctty_of(pid_t pid, dev_t *dev, pid_t *tpgid)
{
	char *st = read_proc(pid, "stat", NULL), *p;
	unsigned int nr = 0;
	int ret = -1;

	*dev = 0;
	*tpgid = -1;
	if (!st)
		return -1;
	p = strrchr(st, ')');
	if (p && sscanf(p + 1, " %*c %*d %*d %*d %u %d", &nr, tpgid) == 2) {
		*dev = makedev((nr >> 8) & 0xfff, (nr & 0xff) | ((nr >> 12) & 0xfff00));
		ret = 0;
	} else {
		pr_err("can't parse /proc/%d/stat", pid);
	}
	free(st);
	return ret;
}

static bool dev_is_slave(dev_t d)
{
	return major(d) >= PTY_SLAVE_MAJOR && major(d) < PTY_SLAVE_MAJOR + PTY_SLAVE_MAJORS;
}

static unsigned int dev_index(dev_t d)
{
	return (major(d) - PTY_SLAVE_MAJOR) * 256 + minor(d);
}

/*
 * The job's terminal (--shell-job): the root's controlling terminal, a pty
 * whose master is outside, in a session led outside the tree. Its modes
 * from a copy of an fd of the tree on it (any holder, 0-2 too).
 */
static struct pty *job_terminal(struct tty_dump *u, struct pstree *t, bool *fg)
{
	const struct pstree_item *root = t->items[0];
	struct termios2 tm;
	struct winsize ws;
	struct pty *p;
	pid_t tpgid;
	dev_t dev;
	int fd;

	*fg = false;
	if (task_of(t, root->sid) || ctty_of(root->pid, &dev, &tpgid) ||
	    !dev_is_slave(dev))
		return NULL;
	p = pty_of(u, dev_index(dev));
	if (p->master)
		return NULL;
	*fg = tpgid == root->pgid;
	/*
	 * The group of the tree in its foreground: the root's, or another (a
	 * nested shell's command).
	 */
	if (tpgid > 0 && has_pgrp(t, tpgid)) {
		p->e->has_fg_pgrp = 1;
		p->e->fg_pgrp = tpgid;
	}
	if (!p->e->n_descs) {
		p->e->has_no_modes = p->e->no_modes = 1;
		p->e->cc.data = xzalloc(NCCS);
		p->e->cc.len = NCCS;
		return p;
	}
	fd = pidfd_take(p->d[0].pid, p->d[0].fd);
	if (fd < 0)
		return NULL;
	if (ioctl(fd, TCGETS2, &tm) || ioctl(fd, TIOCGWINSZ, &ws)) {
		pr_perror("can't read the modes of the job's terminal /dev/pts/%u",
			  p->e->index);
		close(fd);
		return NULL;
	}
	close(fd);
	p->e->iflag = tm.c_iflag;
	p->e->oflag = tm.c_oflag;
	p->e->cflag = tm.c_cflag;
	p->e->lflag = tm.c_lflag;
	p->e->line = tm.c_line;
	p->e->cc.data = xzalloc(NCCS);
	memcpy(p->e->cc.data, tm.c_cc, NCCS);
	p->e->cc.len = NCCS;
	p->e->ispeed = tm.c_ispeed;
	p->e->ospeed = tm.c_ospeed;
	p->e->rows = ws.ws_row;
	p->e->cols = ws.ws_col;
	p->e->xpixel = ws.ws_xpixel;
	p->e->ypixel = ws.ws_ypixel;
	return p;
}

/* A description of the job's terminal kept at restore (kcmp: shared ones once). */
static int job_desc(struct pty *p, pid_t pid, const FdEntry *e, bool dev_tty)
{
	int id;

	for (size_t i = 0; i < p->e->n_descs; i++)
		if (!!p->e->descs[i]->dev_tty == dev_tty &&
		    files_same_description(p->d[i].pid, p->d[i].fd, pid, e->fd))
			return i + 1;
	p->e->descs = xrealloc(p->e->descs, (p->e->n_descs + 1) * sizeof(*p->e->descs));
	p->d = xrealloc(p->d, (p->e->n_descs + 1) * sizeof(*p->d));
	p->e->descs[p->e->n_descs] = xzalloc(sizeof(TtyDesc));
	tty_desc__init(p->e->descs[p->e->n_descs]);
	p->e->descs[p->e->n_descs]->flags = e->flags;
	if (dev_tty)
		p->e->descs[p->e->n_descs]->has_dev_tty = p->e->descs[p->e->n_descs]->dev_tty = 1;
	p->d[p->e->n_descs] = (struct pty_desc){ pid, e->fd };
	id = ++p->e->n_descs;
	return id;
}

/* The pty of the tree that is dev, or NULL. */
static const struct pty *tree_pty(const struct tty_dump *u, dev_t dev)
{
	for (int i = 0; dev_is_slave(dev) && i < u->nr; i++)
		if (u->p[i].master && u->p[i].e->index == dev_index(dev))
			return &u->p[i];
	return NULL;
}

#define SHELL_HINT "dump it with --shell-job to give it crest's terminal at restore"

/*
 * The terminal an fd on /dev/tty leads to: the controlling terminal of
 * whoever opened it, then (TIOCGDEV on a copy), not always the holder's
 * now. 0 if it has none (hung up).
 */
static int dev_tty_dev(pid_t pid, int fd, dev_t *dev)
{
	unsigned int d;
	int t = pidfd_take(pid, fd);

	*dev = 0;
	if (t < 0)
		return -1;
	if (!ioctl(t, TIOCGDEV, &d))
		*dev = d;	/* new_encode_dev(), as glibc's dev_t */
	close(t);
	return 0;
}

/* /dev/tty at fd: a pty of the tree, the job's terminal or refused. */
static void dev_tty_fd(struct tty_dump *u, struct pstree_item *it, FdEntry *e,
		       struct pty *job, bool shell_job)
{
	dev_t dev;

	if (dev_tty_dev(it->pid, e->fd, &dev))
		return;
	if (job && dev_is_slave(dev) && dev_index(dev) == job->e->index) {
		if (!shell_job) {
			refuse(it->pid, "fd %u is /dev/tty, the terminal /dev/pts/%u the job runs on, outside the tree: " SHELL_HINT,
			       e->fd, job->e->index);
			return;
		}
		job->shell = true;
		e->file_id = job->e->id;
		e->has_desc_id = 1;
		e->desc_id = job_desc(job, it->pid, e, true);
		return;
	}
	if (tree_pty(u, dev)) {
		struct pty *p = (struct pty *)tree_pty(u, dev);

		/* Opened once at restore, where the pty is a terminal (open_dev_ttys()). */
		e->file_id = p->e->id;
		e->has_desc_id = 1;
		e->desc_id = job_desc(p, it->pid, e, true);
		return;
	}
	if (!dev)
		refuse(it->pid, "fd %u is /dev/tty, on no terminal now (hung up); not supported yet",
		       e->fd);
	else
		refuse(it->pid, "fd %u is /dev/tty, on the terminal %u:%u, %s; not supported yet",
		       e->fd, major(dev), minor(dev),
		       dev_is_slave(dev) ? "a pty that is not the job's terminal" :
		       "not a pty");
}

/*
 * Sessions led inside the tree get back only a controlling terminal that
 * is a pty of the tree (the leader takes it again, its session inherits
 * it): any other is refused, and so is a member without the terminal of
 * its session (it dropped it, TIOCNOTTY) or with another one.
 */
static int sessions_checked(const struct tty_dump *u, const struct pstree *t)
{
	for (int i = 0; i < t->nr; i++) {
		const struct pstree_item *it = t->items[i], *l = task_of(t, it->sid);
		dev_t dev, ldev;
		pid_t tpgid;

		if (!l || it->zombie)
			continue;
		if (ctty_of(it->pid, &dev, &tpgid))
			return -1;
		if (it == l) {
			if (dev && !tree_pty(u, dev))
				refuse(it->pid, "leads session %d, whose controlling terminal %u:%u is %s; crest can't give it back, not supported yet",
				       it->sid, major(dev), minor(dev),
				       dev_is_slave(dev) ? "a pty whose master is outside the tree" :
				       "not a pty");
			continue;
		}
		if (l->zombie || ctty_of(l->pid, &ldev, &tpgid))
			continue;
		if (dev != ldev)
			refuse(it->pid, "has %s controlling terminal than the leader of its session %d; not supported yet",
			       dev ? "another" : "no", it->sid);
	}
	return 0;
}

/* Slaves of ptys whose master is outside; sessions and groups of ours. */
static int tty_collected(struct dump_files *df, struct pstree *t)
{
	struct tty_dump *u = dump_state(df);
	bool shell_job = df->opts && df->opts->shell_job, fg;
	struct pty *job = job_terminal(u, t, &fg);

	if (job) {
		/* Only the opens kept at restore: those above fd 2. */
		for (size_t i = 0; i < job->e->n_descs; i++)
			tty_desc__free_unpacked(job->e->descs[i], NULL);
		job->e->n_descs = 0;
		job->e->has_foreground = 1;
		job->e->foreground = fg;
		job->e->has_shell_job = 1;
		job->e->shell_job = 1;
		if (shell_job)
			job->shell = true;
	}
	for (int k = 0; k < t->nr; k++) {
		struct pstree_item *it = t->items[k];

		for (int j = 0; j < it->nr_fds; j++) {
			FdEntry *e = it->fds[j];

			if (e->kind != FD_KIND__FD_TTY)
				continue;
			if (e->file_id == DEV_TTY_ID) {
				dev_tty_fd(u, it, e, job, shell_job);
				continue;
			}
			if (u->p[e->file_id - 1].master || u->p[e->file_id - 1].bypath)
				continue;
			if (e->fd <= 2) {
				/* BLCR's rule: a terminal at 0-2 is crest's own. */
				e->kind = FD_KIND__FD_EXTERNAL;
				e->has_ext_fd = 1;
				e->ext_fd = e->fd;
				e->has_desc_id = 0;
				continue;
			}
			if (job && &u->p[e->file_id - 1] == job) {
				if (shell_job)
					e->desc_id = job_desc(job, it->pid, e, false);
				else
					refuse(it->pid, "fd %u is %s, the terminal the job runs on, whose master is outside the tree: " SHELL_HINT,
					       e->fd, e->desc);
				continue;
			}
			refuse(it->pid, "fd %u is %s, a pty whose master is outside the tree%s; not supported yet",
			       e->fd, e->desc, job ? " and that is not the job's terminal" : "");
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
	return sessions_checked(u, t);
}

static int tty_write(struct dump_files *df, struct img_dir *d)
{
	struct tty_dump *u = dump_state(df);
	void **msgs = xzalloc((u->nr + 1) * sizeof(*msgs));
	int nr = 0, ret;

	for (int i = 0; i < u->nr; i++)
		if (u->p[i].master || u->p[i].shell || u->p[i].bypath)
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
	/* crest's terminal's own modes, put back when the job ends */
	struct tty_modes *own;
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

/* Lines that fit in to_slave, each ended as its termios ends lines. */
static bool canon_bad(const TtyEntry *e)
{
	struct termios2 t;
	size_t at = 0;

	if (e->cc.len != NCCS || !(e->lflag & ICANON) || (e->lflag & EXTPROC) ||
	    e->n_lines > PTY_QUEUE_MAX)
		return true;
	memset(&t, 0, sizeof(t));
	t.c_lflag = e->lflag;
	memcpy(t.c_cc, e->cc.data, NCCS);
	for (size_t i = 0; i < e->n_lines; i++) {
		const TtyLine *l = e->lines[i];

		if (l->len > e->to_slave.len - at ||
		    (!l->eof && (!l->len ||
				 !is_terminator(&t, e->to_slave.data[at + l->len - 1]))))
			return true;
		at += l->len;
	}
	return false;
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
		if (e->canon && canon_bad(e)) {
			pr_err("image ttys.img is corrupt: pty %u has bad typed lines", e->id);
			return -1;
		}
		if (e->cc.len != NCCS || masters != (e->shell_job || e->path ? 0 : 1) ||
		    e->index >= PTY_MAX_INDEX ||
		    /* more than a pty holds: writing it back would block */
		    e->to_slave.len > PTY_QUEUE_MAX || e->to_master.len > PTY_QUEUE_MAX) {
			pr_err("image ttys.img is corrupt: pty %u has %s", e->id,
			       masters != (e->shell_job || e->path ? 0 : 1) ?
			       "a wrong number of masters" :
			       "bad modes, index or queues");
			return -1;
		}
	}
	return 0;
}

/*
 * /dev/ptmx until the kernel gives want: it hands out the lowest free
 * index, so the ones below are held open meanwhile. If want is taken, the
 * first index above it is kept -- unless /dev/pts/want is gone: the pty's
 * last master was closed (pty_close() removes the name at once) and the
 * kernel frees the index a moment later, from a work queue. That is the
 * pty of processes just killed (the dump's --kill, a restore after a
 * crash): it is waited for, as their PIDs are.
 */
#define PTY_FREED_MS	10000

static int alloc_pty(unsigned int want, unsigned int *got)
{
	int *held = xzalloc((want + 2) * sizeof(int)), nr = 0, fd = -1;
	char name[32];
	long deadline = now_ms() + PTY_FREED_MS;

	snprintf(name, sizeof(name), "/dev/pts/%u", want);
	for (bool said = false;;) {
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
		if (n > want && access(name, F_OK) &&
		    errno == ENOENT && now_ms() < deadline) {
			if (!said)
				pr_info("pty %u is on its way out; waiting", want);
			said = true;
			close(fd);
			usleep(2000);
			continue;
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

/*
 * The job's terminal is crest's: its controlling terminal (/dev/tty,
 * where TIOCGDEV says which it is). Its modes become the job's, crest's
 * own are kept to be put back (tty_restore_done()).
 */
static int open_job_terminal(struct tty_restore *u, int i, int base)
{
	const TtyEntry *e = u->ttys[i];
	struct winsize ws = { e->rows, e->cols, e->xpixel, e->ypixel };
	unsigned int dev;
	char path[64];
	int t;

	t = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (t < 0) {
		pr_perror("the checkpoint is a job of a terminal (dump --shell-job) and crest has no controlling terminal to give it (/dev/tty)");
		return -1;
	}
	if ((t = files_to_service(t, base)) < 0)
		return -1;
	u->ctl[i] = t;
	if (ioctl(t, TIOCGDEV, &dev)) {
		pr_perror("can't tell which terminal crest runs on");
		return -1;
	}
	if (dev_is_slave(dev))
		snprintf(path, sizeof(path), "/dev/pts/%u", dev_index(dev));
	else
		snprintf(path, sizeof(path), "/dev/char/%u:%u", major(dev), minor(dev));
	u->now[i] = dev_index(dev);
	if (!e->no_modes && (set_termios(t, e, false, u->now[i]) ||
			     ioctl(t, TIOCSWINSZ, &ws))) {
		pr_perror("can't give crest's terminal %s the job's modes", path);
		return -1;
	}
	pr_info("the job's terminal /dev/pts/%u is crest's, %s", e->index, path);

	u->desc[i] = xzalloc((e->n_descs + 1) * sizeof(int));
	for (size_t j = 0; j < e->n_descs; j++) {
		const TtyDesc *d = e->descs[j];
		const char *what = d->dev_tty ? "/dev/tty" : path;
		int fd = open(what, (d->flags & ~O_CLOEXEC) | O_NOCTTY);

		if (fd < 0)
			pr_perror("can't open '%s'", what);
		if ((u->desc[i][j] = files_to_service(fd, base)) < 0)
			return -1;
	}
	return 0;
}

/* Another terminal: each description opened by its path, then its modes. */
static int open_path_tty(struct tty_restore *u, int i, int base)
{
	const TtyEntry *e = u->ttys[i];
	struct winsize ws = { e->rows, e->cols, e->xpixel, e->ypixel };
	struct stat st;

	u->desc[i] = xzalloc((e->n_descs + 1) * sizeof(int));
	for (size_t j = 0; j < e->n_descs; j++) {
		int fd = open(e->path, (e->descs[j]->flags & ~O_CLOEXEC) | O_NOCTTY);

		if (fd < 0)
			pr_perror("can't open the terminal '%s'", e->path);
		if ((u->desc[i][j] = files_to_service(fd, base)) < 0)
			return -1;
		if (fstat(u->desc[i][j], &st) || st.st_rdev != e->rdev) {
			pr_err("'%s' is not the terminal it was (device %u:%u, now %u:%u)",
			       e->path, major(e->rdev), minor(e->rdev), major(st.st_rdev),
			       minor(st.st_rdev));
			return -1;
		}
	}
	if (e->n_descs && (set_termios(u->desc[i][0], e, false, 0) ||
			   ioctl(u->desc[i][0], TIOCSWINSZ, &ws))) {
		pr_perror("can't give '%s' its modes", e->path);
		return -1;
	}
	return 0;
}

/*
 * The opens of /dev/tty on a pty of the tree: only a process whose
 * controlling terminal it is can make them, and crest keeps its own. A
 * child of crest takes the new pty as its controlling terminal
 * (setsid(), TIOCSCTTY), opens /dev/tty once per description and waits;
 * crest takes each with pidfd_getfd() and lets it exit. The exit of a
 * session leader whose terminal is a pty hangs nothing up: the pty is
 * nobody's terminal again (disassociate_ctty()), for the tree's session
 * leader to take, and the descriptions, shared like any service fd, lead
 * to it as /dev/tty does.
 */
static int open_dev_ttys(struct tty_restore *u, int i, int base)
{
	const TtyEntry *e = u->ttys[i];
	int res[2], ack[2], ret = -1, st = 0;
	size_t nr = 0, got = 0;
	pid_t pid;

	for (size_t j = 0; j < e->n_descs; j++)
		nr += !e->descs[j]->master && e->descs[j]->dev_tty;
	if (!nr)
		return 0;
	if (pipe2(res, O_CLOEXEC)) {
		pr_perror("can't make a pipe");
		return -1;
	}
	if (pipe2(ack, O_CLOEXEC)) {
		pr_perror("can't make a pipe");
		goto out_res;
	}
	pid = fork();
	if (pid < 0) {
		pr_perror("can't fork to open /dev/tty on pty %u", u->now[i]);
		goto out_ack;
	}
	if (pid == 0) {
		char c;

		close(res[0]);
		close(ack[1]);
		if (setsid() < 0 || ioctl(u->ctl[i], TIOCSCTTY, 0))
			_exit(1);
		for (size_t j = 0; j < e->n_descs; j++) {
			const TtyDesc *d = e->descs[j];
			int fd;

			if (d->master || !d->dev_tty)
				continue;
			fd = open("/dev/tty", (d->flags & ~O_CLOEXEC) | O_NOCTTY);
			if (fd < 0 || write(res[1], &fd, sizeof(fd)) != sizeof(fd))
				_exit(1);
		}
		while (read(ack[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(res[1]);
	res[1] = -1;
	close(ack[0]);
	ack[0] = -1;
	for (size_t j = 0; j < e->n_descs; j++) {
		const TtyDesc *d = e->descs[j];
		int fd;

		if (d->master || !d->dev_tty)
			continue;
		if (read(res[0], &fd, sizeof(fd)) != sizeof(fd)) {
			pr_err("can't open /dev/tty on pty %u in a session of its own",
			       u->now[i]);
			break;
		}
		fd = pidfd_take(pid, fd);
		if (fd < 0 || (u->desc[i][j] = files_to_service(fd, base)) < 0)
			break;
		got++;
	}
	close(ack[1]);
	ack[1] = -1;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		pr_err("the opener of /dev/tty on pty %u failed (status %#x)",
		       u->now[i], st);
	else if (got == nr)
		ret = 0;
out_ack:
	if (ack[0] >= 0)
		close(ack[0]);
	if (ack[1] >= 0)
		close(ack[1]);
out_res:
	close(res[0]);
	if (res[1] >= 0)
		close(res[1]);
	return ret;
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
	if (e->has_to_slave && !e->canon &&
	    (write_all(m, e->to_slave.data, e->to_slave.len) ||
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
	if (e->canon) {
		struct termios2 t;

		if (ioctl(s, TCGETS2, &t) ||
		    put_canon(s, &t, e->to_slave.data, e->to_slave.len, e->lines,
			      e->n_lines, u->now[i])) {
			pr_err("can't refill pty %u", u->now[i]);
			return -1;
		}
	}

	u->desc[i] = xzalloc((e->n_descs + 1) * sizeof(int));
	for (size_t j = 0; j < e->n_descs; j++) {
		const TtyDesc *d = e->descs[j];
		int fd;

		if (d->master) {
			u->desc[i][j] = m;
			continue;
		}
		if (d->dev_tty)
			continue;	/* open_dev_ttys() */
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
	if (open_dev_ttys(u, i, base))
		return -1;
	if ((e->exclusive && ioctl(s, TIOCEXCL)) ||
	    (e->packet && ioctl(m, TIOCPKT, &one)) ||
	    (e->locked && ioctl(m, TIOCSPTLCK, &one))) {
		pr_perror("can't set the modes of pty %u", u->now[i]);
		return -1;
	}
	return 0;
}

struct tty_modes;
static void keep_own_modes(struct tty_restore *u);

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
	keep_own_modes(u);
	for (int i = 0; i < u->nr; i++)
		if (u->ttys[i]->shell_job ? open_job_terminal(u, i, rf->base) :
		    u->ttys[i]->path ? open_path_tty(u, i, rf->base) :
		    open_one(u, i, rf->base))
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
	if (u->ttys[i]->path) {
		snprintf(buf, len, "the terminal %s", u->ttys[i]->path);
		return;
	}
	if (u->ttys[i]->shell_job) {
		snprintf(buf, len, "the job's terminal (/dev/pts/%u at the dump): crest's",
			 u->ttys[i]->index);
		return;
	}
	master = u->ttys[i]->descs[e->desc_id - 1]->master;
	snprintf(buf, len, "the %s of pty %u (/dev/pts/%u at the dump)",
		 master ? "master" : "slave", u->ttys[i]->id, u->ttys[i]->index);
}

struct tty_modes {
	struct termios2 t;
	struct winsize ws;
};

struct tty_modes *tty_modes_keep(void)
{
	struct tty_modes *m;
	int t;

	t = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (t < 0)
		return NULL;	/* no terminal: nothing to put back */
	m = xzalloc(sizeof(*m));
	if (ioctl(t, TCGETS2, &m->t) || ioctl(t, TIOCGWINSZ, &m->ws)) {
		free(m);
		m = NULL;
	}
	close(t);
	return m;
}

void tty_modes_put_back(const struct tty_modes *m)
{
	sigset_t ttou, old;
	pid_t fg = 0;
	int t;

	if (!m)
		return;
	t = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (t < 0)
		return;	/* the terminal is gone (hung up): nothing to put back */
	/*
	 * Only in the foreground: crest sent to the background (the job
	 * stopped, then bg) leaves the terminal to whoever has it; its shell
	 * puts its own modes back when it gets it.
	 */
	if (ioctl(t, TIOCGPGRP, &fg) || fg != getpgrp()) {
		pr_debug("crest is not in its terminal's foreground: its modes stay");
		close(t);
		return;
	}
	/* No SIGTTOU for this (it is ours to set, in the foreground). */
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	if (ioctl(t, TCSETS2, &m->t) || ioctl(t, TIOCSWINSZ, &m->ws))
		pr_perror("can't put back the modes of crest's terminal");
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(t);
}

/*
 * crest's own terminal modes, to put back when the job ends (a restored
 * program killed in raw mode must not leave its terminal so).
 */
static void keep_own_modes(struct tty_restore *u)
{
	if (!u->own)
		u->own = tty_modes_keep();
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
		/*
		 * Every task exists (phase 2), but the group's leader may not
		 * have made its group yet (its setpgid() follows its own go):
		 * wait for it. The session is led in the tree, so a group of
		 * it whose leader is a task of the tree is made; one whose
		 * leader is no task (gone at the dump) never is.
		 */
		if (pg <= 0 || (kill(pg, 0) && errno == ESRCH))
			continue;
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

/*
 * In crest, once every task is in its group and before they run: the
 * group of the job that was in the foreground at the dump gets the
 * foreground of crest's terminal, if crest has it: one of its own groups
 * (a nested shell running a command), or the root's kept with
 * --restore-pgid; the root's in crest's group already is.
 */
int tty_restore_job_fg(const struct restore_files *rf, const struct files_pid_map *map)
{
	const struct tty_restore *u = restore_state_ro(rf);
	sigset_t ttou, old;
	pid_t pg, fg = 0;
	int ret = 0;

	for (int i = 0; u && i < u->nr; i++) {
		const TtyEntry *e = u->ttys[i];

		if (!e->shell_job || !e->has_fg_pgrp || u->ctl[i] < 0)
			continue;
		if (ioctl(u->ctl[i], TIOCGPGRP, &fg) || fg != getpgrp())
			continue;	/* crest is not in the foreground: leave it */
		pg = map->new_pid ? map->new_pid(map->arg, e->fg_pgrp) : (pid_t)e->fg_pgrp;
		if (pg <= 0 || getpgid(pg) != pg)
			continue;	/* its leader joined crest's group: it is */
		sigemptyset(&ttou);
		sigaddset(&ttou, SIGTTOU);
		sigprocmask(SIG_BLOCK, &ttou, &old);
		if (ioctl(u->ctl[i], TIOCSPGRP, &pg)) {
			pr_perror("can't make the job's group %d the foreground of crest's terminal",
				  pg);
			ret = -1;
		}
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	return ret;
}

bool tty_shell_job(const struct restore_files *rf)
{
	const struct tty_restore *u = restore_state_ro(rf);

	for (int i = 0; u && i < u->nr; i++)
		if (u->ttys[i]->shell_job)
			return true;
	return false;
}

bool tty_job_control(const struct restore_files *rf, pid_t root)
{
	pid_t pg = getpgid(root);

	/* In crest's group, the job stops and goes on with crest: nothing to do. */
	return tty_shell_job(rf) && pg > 0 && pg != getpgrp();
}

/* The terminal's foreground to pg, quietly (crest may be in the background). */
static int give_terminal(int t, pid_t pg)
{
	sigset_t ttou, old;
	int ret;

	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	ret = ioctl(t, TIOCSPGRP, &pg);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}

/* pid is root or one of its descendants. */
static bool of_job(pid_t root, pid_t pid)
{
	for (int depth = 0; pid > 1 && depth < 4096; depth++) {
		char *st, *p;
		pid_t ppid = 0;

		if (pid == root)
			return true;
		st = read_proc(pid, "stat", NULL);
		p = st ? strrchr(st, ')') : NULL;
		if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1) {
			free(st);
			return false;
		}
		free(st);
		pid = ppid;
	}
	return false;
}

/* What the job had of the terminal when it last had it. */
static struct {
	struct termios2 t;
	bool modes;
	pid_t fg;
	bool behind;	/* crest was in the background when it went on */
} job_had;

/* crest has its terminal: the job gets it (and its modes) back, and goes on. */
static void job_resume(pid_t root, int t)
{
	pid_t pg = getpgid(root), fg = 0;

	if (pg <= 0)
		return;
	job_had.behind = true;
	if (t >= 0 && !ioctl(t, TIOCGPGRP, &fg) && fg == getpgrp()) {
		sigset_t ttou, old;

		job_had.behind = false;

		if (job_had.fg <= 0 || getpgid(job_had.fg) != job_had.fg)
			job_had.fg = pg;
		sigemptyset(&ttou);
		sigaddset(&ttou, SIGTTOU);
		sigprocmask(SIG_BLOCK, &ttou, &old);
		if (job_had.modes && ioctl(t, TCSETS2, &job_had.t))
			pr_perror("can't give the terminal the job's modes back");
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (give_terminal(t, job_had.fg))
			pr_perror("can't give the terminal back to the job's group %d",
				  job_had.fg);
	}
	if (kill(-pg, SIGCONT) ||
	    (job_had.fg > 0 && job_had.fg != pg && kill(-job_had.fg, SIGCONT)))
		pr_perror("can't continue the job's group %d", pg);
}

void tty_job_stopped(const struct restore_files *rf, pid_t root, int sig)
{
	const struct tty_restore *u = restore_state_ro(rf);
	pid_t fg = 0;
	int t;

	t = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (t >= 0 && !ioctl(t, TIOCGPGRP, &fg) && fg > 0 && fg != getpgrp() &&
	    of_job(root, fg)) {
		/* A group of the job had the terminal: crest's gets it back. */
		job_had.fg = fg;
		job_had.modes = !ioctl(t, TCGETS2, &job_had.t);
		if (give_terminal(t, getpgrp()))
			pr_perror("can't take the terminal back from the stopped job");
		if (u)
			tty_modes_put_back(u->own);
	} else if (fg == getpgrp() && (sig == SIGTTIN || sig == SIGTTOU)) {
		/* Brought to the foreground (fg) while the job ran behind. */
		job_resume(root, t);
		close(t);
		return;
	}
	pr_debug("the job stopped by signal %d: crest stops too", sig);
	/* As the job did: its shell sees crest stop, for fg or bg. */
	if (kill(getpid(), sig))
		pr_perror("can't stop");
	job_resume(root, t);
	if (t >= 0)
		close(t);
}

bool tty_job_behind(void)
{
	return job_had.behind;
}

void tty_job_continued(pid_t root)
{
	int t = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	pid_t fg = 0;

	/* Only if crest has the terminal: fg after bg. */
	if (t >= 0 && !ioctl(t, TIOCGPGRP, &fg) && fg == getpgrp())
		job_resume(root, t);
	if (t >= 0)
		close(t);
}

void tty_restore_done(const struct restore_files *rf)
{
	const struct tty_restore *u = restore_state_ro(rf);

	if (u)
		tty_modes_put_back(u->own);
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
