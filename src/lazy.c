/*
 * restore --lazy-pages: the lazy-pages server.
 *
 * crest forks it before the tree (lazy_start()); it opens every pages
 * image it may read, says it is ready, and drops every other fd. Each
 * restorer registers its lazy mappings (restore_vma_lazy()) with a
 * userfaultfd before touching them and sends it here with who it is
 * (struct rst_lazy_hello, SCM_RIGHTS). From then on:
 *
 *   fault      the run (<= 1 MiB, one crc) holding the page is read,
 *              checked and put in with UFFDIO_COPY; a page no run holds
 *              was never written: UFFDIO_ZEROPAGE
 *   idle       the next run is copied in the background: after the last
 *              fault's run, else the largest mappings first
 *   FORK       the child's userfaultfd comes with the event: it gets a
 *              copy of the parent's state (what the parent lacks at the
 *              fork, the child lacks too; the kernel makes UFFDIO_COPY
 *              say EAGAIN between the fork's copy of the page tables and
 *              our read of the event, so no copy falls in between)
 *   REMAP      pages still to come are put in at their new address at
 *              once, and are gone from the old one
 *   REMOVE,    (MADV_DONTNEED, munmap) those pages are gone: never
 *   UNMAP      copied, a fault there gets zeros, as without us
 *
 * EAGAIN (an event unread, or its process not yet on past it) is
 * retried after the events; one message is read at a time (faults come
 * before events in a read). A page present already (EEXIST) is the
 * process's own: it stays. A
 * page that can't be read or whose run fails its crc kills the whole
 * restored tree (and what it forked) before any userfaultfd closes:
 * closing one would let the faults in as zeros. When every page of every
 * process is in, the server closes the userfaultfds and exits.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "arch-crc.h"
#include "image.h"
#include "lazy.h"
#include "log.h"
#include "mem-zpages.h"
#include "page-server.h"
#include "restore-task.h"
#include "util.h"

/* A run of the images: where its bytes are. */
struct lazy_run {
	uint64_t vaddr;
	uint64_t off;		/* of its bytes in its file, from IMG_PAGES_OFF */
	uint32_t nr_pages;
	uint32_t crc;
	uint8_t file;		/* lazy_src.fds[file] */
	bool check;		/* it has a crc of its own */
	uint64_t zoff;		/* compressed: its frame in lazy_src.zfd, from IMG_PAGES_OFF */
	uint32_t zlen;
};

/*
 * Pages [first, first + count) of a run, still to come, now at addr (a
 * mremap moves them, a munmap or MADV_DONTNEED takes them out). An
 * address space's pieces are exactly the pages it lacks that the images
 * hold: disjoint, sorted by addr.
 */
struct lazy_piece {
	uint64_t addr;
	uint32_t run;		/* in lazy_src.runs */
	uint32_t first, count;
};

/* One process of the images. */
struct lazy_src {
	pid_t orig, now;
	int fds[CHAIN_MAX];
	bool hash;		/* fds[0]'s SHA-256 is ours to check (sha256) */
	uint8_t sha256[32];
	const char *pages_path;
	uint32_t ps_handle;	/* fds[0]'s lazy runs are on the page server */
	int zfd;		/* ... or frames of this compressed image; -1 */
	struct lazy_run *runs;	/* sorted by vaddr */
	size_t nr_runs;
	size_t *order;		/* background order: largest mappings first */
	bool hello;
};

/* One address space being filled: a restored process or a fork of one. */
struct lazy_mm {
	int uffd;
	int id;			/* the guard's name for it */
	struct lazy_src *src;
	struct lazy_piece *p;
	size_t nr;		/* pieces left */
	size_t cursor;		/* in src->order */
	uint64_t hint;		/* where the last fault's piece ended */
};

struct lazy_server {
	int sock;
	struct lazy_src *src;
	int nr_src;
	struct lazy_mm **mms;
	int nr_mms;
	int expect;		/* hellos still to come */
	char **bufs;		/* one per nesting of copies (events during a copy) */
	size_t *buf_sizes;
	int nr_bufs, depth;
	long pace_ms;		/* CREST_LAZY_PACE_MS: a pause before each background run */
	size_t rr;
	uint64_t copied, zeroed, faults;
	uint64_t events;	/* messages read from the userfaultfds */
	int guard;		/* socket to crest-lazy-guard; -1: none */
	struct ps_conn *ps;	/* restore --lazy-pages --page-server */
	/* The hasher thread: a byte on hash_pipe[0] when it is done. */
	int hash_pipe[2];
	bool hashing;
	volatile int hash_bad;	/* -1 none, else index in src[] */
	volatile int hash_errno;
};

static volatile sig_atomic_t hurry;

static void on_term(int sig)
{
	(void)sig;
	hurry = 1;
}

static int cmp_run(const void *a, const void *b)
{
	const struct lazy_run *x = a, *y = b;

	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

static int cmp_piece(const void *a, const void *b)
{
	const struct lazy_piece *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static uint64_t piece_end(const struct lazy_piece *p)
{
	return p->addr + (uint64_t)p->count * PAGE_SIZE;
}

/* ---- killing the tree: a page that can't come in ---- */

static void kill_subtree(pid_t pid, int depth)
{
	char path[64];
	DIR *d;
	struct dirent *de;

	if (pid <= 0 || depth > 64)
		return;
	kill(pid, SIGKILL);
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char cp[320];
		FILE *f;
		int child;

		if (de->d_name[0] == '.')
			continue;
		snprintf(cp, sizeof(cp), "/proc/%d/task/%s/children", pid, de->d_name);
		f = fopen(cp, "r");
		if (!f)
			continue;
		while (fscanf(f, "%d", &child) == 1)
			kill_subtree(child, depth + 1);
		fclose(f);
	}
	closedir(d);
}

/* Gone, or a zombie: it runs no more code (and touches no page). */
static bool finished(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return !p || p[2] == 'Z' || p[2] == 'X';
}

/*
 * Everything restored, and what it forked since, is killed before any
 * userfaultfd closes (at our exit): a fault would then be filled with
 * zeros, which is exactly what must never happen.
 */
/* crest-lazy-guard's messages (see guard_main()) */
enum { GUARD_UFFD = 1, GUARD_PID, GUARD_CLOSE, GUARD_DONE };

static void guard_send(struct lazy_server *s, int type, int id, pid_t pid, int fd);

static void __attribute__((noreturn)) lazy_die(struct lazy_server *s)
{
	struct timespec ts = { 0, 2 * 1000000L };
	int tries;

	for (int i = 0; i < s->nr_src; i++)
		kill_subtree(s->src[i].now, 0);
	for (tries = 0; tries < 5000; tries++) {
		bool all = true;

		for (int i = 0; i < s->nr_src; i++)
			if (s->src[i].now > 0 && !finished(s->src[i].now))
				all = false;
		if (all)
			break;
		nanosleep(&ts, NULL);
	}
	/* Nothing left to guard: the tree is gone. */
	if (s->guard >= 0)
		guard_send(s, GUARD_DONE, 0, 0, -1);
	log_msg(LOG_ERROR, "error: lazy-pages: the restored processes were killed: their memory could not be put in as it was saved (see above)\n");
	_exit(1);
}

/* ---- the guard ---- */

/*
 * crest-lazy-guard, a child of the server, holds a copy of every
 * userfaultfd: if the server dies (SIGKILL, the OOM killer), a fault then
 * waits instead of coming in as zeros, and the guard kills the tree. The
 * server says when a process has all its pages (the guard closes its
 * copy, then the server its own) and when it is done.
 */
struct guard_msg {
	int32_t type;
	int32_t id;		/* GUARD_UFFD, GUARD_CLOSE */
	int32_t pid;		/* GUARD_PID: a restored process */
	int32_t pad;
};

static void guard_send(struct lazy_server *s, int type, int id, pid_t pid, int fd)
{
	struct guard_msg g = { type, id, pid, 0 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { &g, sizeof(g) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (s->guard < 0)
		return;
	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	}
	do
		n = sendmsg(s->guard, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != sizeof(g)) {
		/* No guard any more: the tree is only as safe as we are. */
		pr_warn("lazy-pages: the guard is gone (%s)", n < 0 ? strerror(errno) : "short");
		close(s->guard);
		s->guard = -1;
	}
}

static void __attribute__((noreturn)) guard_main(int sk)
{
	struct lazy_server g = { .sock = -1, .guard = -1 };
	int *fds = NULL, nr_fds = 0;
	bool done = false;
	DIR *d;

	prctl(PR_SET_NAME, "crest-lazy-guard", 0, 0, 0);
	signal(SIGTERM, SIG_IGN);
	log_set_prefix("crest-lazy-guard");
	d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *de;

		while ((de = readdir(d))) {
			int fd = atoi(de->d_name);

			if (de->d_name[0] != '.' && fd > 2 && fd != dirfd(d) && fd != sk &&
			    fd != log_get_fd())
				close(fd);
		}
		closedir(d);
	}
	for (;;) {
		struct guard_msg m;
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} cm;
		struct iovec iov = { &m, sizeof(m) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
		struct cmsghdr *c;
		int fd = -1;
		ssize_t n = recvmsg(sk, &mh, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n != sizeof(m))
			break;		/* the server is gone */
		c = CMSG_FIRSTHDR(&mh);
		if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(c), sizeof(fd));
		if (m.type == GUARD_UFFD && fd >= 0 && m.id >= 0 && m.id < 1 << 20) {
			if (m.id >= nr_fds) {
				fds = xrealloc(fds, (m.id + 1) * sizeof(*fds));
				while (nr_fds <= m.id)
					fds[nr_fds++] = -1;
			}
			fds[m.id] = fd;
			continue;
		}
		if (fd >= 0)
			close(fd);
		if (m.type == GUARD_PID) {
			g.src = xrealloc(g.src, (g.nr_src + 1) * sizeof(*g.src));
			memset(&g.src[g.nr_src], 0, sizeof(*g.src));
			g.src[g.nr_src++].now = m.pid;
		} else if (m.type == GUARD_CLOSE && m.id >= 0 && m.id < nr_fds && fds[m.id] >= 0) {
			close(fds[m.id]);
			fds[m.id] = -1;
		} else if (m.type == GUARD_DONE) {
			done = true;
		}
	}
	if (done)
		_exit(0);
	log_msg(LOG_ERROR, "error: lazy-pages: the server died with pages still to come\n");
	lazy_die(&g);
}

/* Fork the guard; the server keeps going without one if it can't. */
static void guard_start(struct lazy_server *s)
{
	int sk[2];
	pid_t pid;

	s->guard = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk)) {
		pr_perror("lazy-pages: can't create the guard's socket");
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(sk[0]);
		guard_main(sk[1]);
	}
	close(sk[1]);
	if (pid < 0) {
		pr_perror("lazy-pages: can't fork the guard");
		close(sk[0]);
		return;
	}
	s->guard = sk[0];
}

/* ---- pieces ---- */

static void add_piece(struct lazy_piece **v, size_t *n, size_t *cap, struct lazy_piece p)
{
	if (!p.count)
		return;
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[(*n)++] = p;
}

/*
 * What [start, end) holds moves by delta (a mremap), or goes (drop: a
 * munmap, MADV_DONTNEED: zeros there from now on).
 */
static void pieces_change(struct lazy_mm *m, uint64_t start, uint64_t end, int64_t delta,
			  bool drop)
{
	struct lazy_piece *v = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < m->nr; i++) {
		struct lazy_piece p = m->p[i], in;
		uint64_t pe = piece_end(&p), lo, hi;

		if (pe <= start || p.addr >= end) {
			add_piece(&v, &n, &cap, p);
			continue;
		}
		lo = p.addr < start ? (start - p.addr) / PAGE_SIZE : 0;
		hi = pe > end ? (end - p.addr + PAGE_SIZE - 1) / PAGE_SIZE : p.count;
		add_piece(&v, &n, &cap, (struct lazy_piece){ p.addr, p.run, p.first, lo });
		in = (struct lazy_piece){ p.addr + lo * PAGE_SIZE + delta, p.run,
					  p.first + lo, hi - lo };
		if (!drop)
			add_piece(&v, &n, &cap, in);
		add_piece(&v, &n, &cap, (struct lazy_piece){ p.addr + hi * PAGE_SIZE, p.run,
							     p.first + hi, p.count - hi });
	}
	if (delta)
		qsort(v, n, sizeof(*v), cmp_piece);
	free(m->p);
	m->p = v;
	m->nr = n;
}

static void piece_del(struct lazy_mm *m, size_t i)
{
	memmove(&m->p[i], &m->p[i + 1], (m->nr - i - 1) * sizeof(*m->p));
	m->nr--;
}

/* The piece holding addr, or the first after it; m->nr if none. */
static size_t piece_at(const struct lazy_mm *m, uint64_t addr)
{
	size_t lo = 0, hi = m->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (piece_end(&m->p[mid]) <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A piece of run r (its pages from page on), or -1. */
static long piece_of_run(const struct lazy_mm *m, uint32_t r, uint32_t page)
{
	const struct lazy_run *run = &m->src->runs[r];
	size_t i = piece_at(m, run->vaddr + (uint64_t)page * PAGE_SIZE);

	if (i < m->nr && m->p[i].run == r)
		return (long)i;
	for (i = 0; i < m->nr; i++)	/* moved (mremap) */
		if (m->p[i].run == r)
			return (long)i;
	return -1;
}

/* ---- pages ---- */

/* A run's bytes from its pages image here. */
static int read_local(const struct lazy_mm *m, const struct lazy_run *r, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(m->src->fds[r->file], buf + got, len - got,
				  IMG_PAGES_OFF + r->off + got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				pr_perror("lazy-pages: can't read the pages of %d at %#llx (pages image offset %llu)",
					  m->src->orig, (unsigned long long)r->vaddr,
					  (unsigned long long)(IMG_PAGES_OFF + r->off + got));
			else
				pr_err("lazy-pages: the pages image of %d ends before the pages at %#llx (offset %llu): truncated after the restore began",
				       m->src->orig, (unsigned long long)r->vaddr,
				       (unsigned long long)(IMG_PAGES_OFF + r->off + got));
			return -1;
		}
		got += n;
	}
	return 0;
}

/* A lazy run of a compressed image: its frame, decompressed into buf. */
static int read_frame(const struct lazy_mm *m, const struct lazy_run *r, char *buf, size_t len)
{
	void *z = xzalloc(r->zlen ? r->zlen : 1);
	ssize_t n = pread(m->src->zfd, z, r->zlen, IMG_PAGES_OFF + r->zoff);
	int bad = n != (ssize_t)r->zlen || zpages_frame(z, r->zlen, buf, len);

	free(z);
	if (bad) {
		if (n < 0)
			pr_perror("lazy-pages: can't read the pages of %d at %#llx",
				  m->src->orig, (unsigned long long)r->vaddr);
		else
			pr_err("lazy-pages: the compressed pages of %d at %#llx (pages image offset %llu) are cut short or do not decompress",
			       m->src->orig, (unsigned long long)r->vaddr,
			       (unsigned long long)(IMG_PAGES_OFF + r->zoff));
		return -1;
	}
	return 0;
}

/* A run's bytes, checked, in the buffer of this nesting depth. */
static char *read_run(struct lazy_server *s, struct lazy_mm *m, const struct lazy_run *r)
{
	size_t len = (size_t)r->nr_pages * PAGE_SIZE;
	char *buf;

	/*
	 * Each nesting depth its own buffer, grown alone: a copy interrupted
	 * by events (EAGAIN) still holds the one below.
	 */
	if (s->depth >= s->nr_bufs) {
		s->bufs = xrealloc(s->bufs, (s->depth + 1) * sizeof(*s->bufs));
		s->buf_sizes = xrealloc(s->buf_sizes, (s->depth + 1) * sizeof(*s->buf_sizes));
		while (s->nr_bufs <= s->depth) {
			s->bufs[s->nr_bufs] = NULL;
			s->buf_sizes[s->nr_bufs++] = 0;
		}
	}
	if (len > s->buf_sizes[s->depth]) {
		free(s->bufs[s->depth]);
		s->bufs[s->depth] = xzalloc(len);
		s->buf_sizes[s->depth] = len;
	}
	buf = s->bufs[s->depth];
	/* Lazy runs of a page server's image are read there. */
	if (m->src->ps_handle && !r->file) {
		if (ps_read(s->ps, m->src->ps_handle, IMG_PAGES_OFF + r->off, buf, len)) {
			pr_err("lazy-pages: can't fetch the pages of %d at %#llx from the page server",
			       m->src->orig, (unsigned long long)r->vaddr);
			return NULL;
		}
	} else if (m->src->zfd >= 0 && !r->file) {
		if (read_frame(m, r, buf, len))
			return NULL;
	} else if (read_local(m, r, buf, len)) {
		return NULL;
	}
	if (r->check && arch_crc32c_pages(buf, len) != r->crc) {
		pr_err("lazy-pages: the pages of %d at %#llx (%u pages, pages image offset %llu) fail their checksum",
		       m->src->orig, (unsigned long long)r->vaddr, r->nr_pages,
		       (unsigned long long)(IMG_PAGES_OFF + r->off));
		return NULL;
	}
	return buf;
}

static int mm_events(struct lazy_server *s, struct lazy_mm *m);

static void mm_drop(struct lazy_server *s, struct lazy_mm *m)
{
	if (m->uffd >= 0) {
		guard_send(s, GUARD_CLOSE, m->id, 0, -1);
		close(m->uffd);
	}
	m->uffd = -1;
	m->nr = 0;
}

/*
 * UFFDIO_COPY or UFFDIO_ZEROPAGE said EAGAIN: the kernel's mmap_changing
 * is up from a fork, mremap, munmap or MADV_DONTNEED of m's process until
 * we have read its event and the process has gone on past it. The events
 * first (they may move, cut or drop pieces); none to read: the event was
 * read, its process has yet to run on, so wait for it (or for its next
 * event) a moment before the caller tries again.
 */
static int changing(struct lazy_server *s, struct lazy_mm *m)
{
	uint64_t before = s->events;
	struct pollfd p = { m->uffd, POLLIN, 0 };

	if (mm_events(s, m))
		return -1;
	if (s->events == before && m->uffd >= 0)
		poll(&p, 1, 1);
	return 0;
}

/*
 * Every piece left of run r goes in, wherever it is now. EEXIST: the
 * page is the process's own already, it stays. EAGAIN: the address
 * space is changing (see changing()), then on with what is left of the
 * run. ENOENT: the range is not one mapping (an mprotect() or mlock()
 * of a part split it, without an event): halves, down to a page; a page
 * of a piece that no mapping holds is an event we missed, an error.
 * ESRCH: it exited or exec'd.
 */
static int copy_run(struct lazy_server *s, struct lazy_mm *m, uint32_t r, uint32_t page)
{
	const char *buf = read_run(s, m, &m->src->runs[r]);
	uint32_t span = UINT32_MAX;	/* pages at most per UFFDIO_COPY */
	int ret = 0;
	long i;

	if (!buf)
		return -1;
	s->depth++;
	while (m->uffd >= 0 && (i = piece_of_run(m, r, page)) >= 0) {
		struct lazy_piece *p = &m->p[i];
		uint32_t n = p->count < span ? p->count : span, done;
		struct uffdio_copy c = {
			.dst = p->addr, .src = (uint64_t)(buf + (size_t)p->first * PAGE_SIZE),
			.len = (uint64_t)n * PAGE_SIZE, .mode = 0, .copy = 0,
		};

		if (!ioctl(m->uffd, UFFDIO_COPY, &c)) {
			s->copied += c.len;
			p->addr += c.len;
			p->first += n;
			p->count -= n;
			if (!p->count)
				piece_del(m, i);
			continue;
		}
		done = c.copy > 0 ? c.copy / PAGE_SIZE : 0;
		if (errno == EEXIST && !done)
			done = 1;
		s->copied += c.copy > 0 ? c.copy : 0;
		p->addr += (uint64_t)done * PAGE_SIZE;
		p->first += done;
		p->count -= done;
		if (!p->count)
			piece_del(m, i);
		if (errno == EAGAIN) {
			if (changing(s, m)) {
				ret = -1;
				break;
			}
			continue;
		}
		if (errno == EEXIST)
			continue;
		if (errno == ENOENT && (done || n > 1)) {
			if (!done)
				span = n / 2;
			continue;
		}
		if (errno == ESRCH) {
			mm_drop(s, m);
			break;
		}
		pr_perror("lazy-pages: can't put in the pages of %d at %#llx",
			  m->src->orig, (unsigned long long)c.dst);
		ret = -1;
		break;
	}
	s->depth--;
	return ret;
}

/*
 * A zero page for a fault at addr that no piece holds (never written
 * before the dump, or dropped since). ENOENT: addr is in no mapping any
 * more, unmapped or moved since the fault: the fault is only woken, to be
 * taken again (at its new place, or as the SIGSEGV it is). 1: a piece
 * came to addr meanwhile (an mremap read at EAGAIN).
 */
static int zero_page(struct lazy_server *s, struct lazy_mm *m, uint64_t addr)
{
	while (m->uffd >= 0) {
		size_t i = piece_at(m, addr);
		struct uffdio_zeropage z = { { addr, PAGE_SIZE }, 0, 0 };
		struct uffdio_range w = { addr, PAGE_SIZE };

		if (i < m->nr && m->p[i].addr <= addr)
			return 1;
		if (!ioctl(m->uffd, UFFDIO_ZEROPAGE, &z)) {
			s->zeroed += PAGE_SIZE;
			return 0;
		}
		if (errno == EAGAIN) {
			if (changing(s, m))
				return -1;
			continue;
		}
		if (errno == EEXIST || errno == ENOENT) {
			/* In already (we raced the fault), or gone: just wake it. */
			if (ioctl(m->uffd, UFFDIO_WAKE, &w) && errno != ESRCH)
				break;
			return 0;
		}
		if (errno == ESRCH) {
			mm_drop(s, m);
			return 0;
		}
		break;
	}
	if (m->uffd < 0)
		return 0;
	pr_perror("lazy-pages: can't put a zero page in %d at %#llx", m->src->orig,
		  (unsigned long long)addr);
	return -1;
}

static int on_fault(struct lazy_server *s, struct lazy_mm *m, uint64_t addr)
{
	addr &= ~(PAGE_SIZE - 1);
	s->faults++;
	for (;;) {
		size_t i = piece_at(m, addr);
		int ret;

		if (i < m->nr && m->p[i].addr <= addr) {
			struct uffdio_range w = { addr, PAGE_SIZE };
			struct lazy_piece p = m->p[i];

			if (copy_run(s, m, p.run, p.first))
				return -1;
			m->hint = piece_end(&p);
			/* A page of it that was in already (EEXIST) wakes nobody. */
			if (m->uffd >= 0)
				ioctl(m->uffd, UFFDIO_WAKE, &w);
			return 0;
		}
		ret = zero_page(s, m, addr);
		if (ret <= 0)
			return ret;
	}
}

static struct lazy_mm *mm_new(struct lazy_server *s, struct lazy_src *src, int uffd,
			      const struct lazy_mm *parent)
{
	struct lazy_mm *m = xzalloc(sizeof(*m));

	m->uffd = uffd;
	m->src = src;
	if (parent) {
		m->nr = parent->nr;
		m->p = xzalloc((m->nr + 1) * sizeof(*m->p));
		memcpy(m->p, parent->p, m->nr * sizeof(*m->p));
		m->cursor = parent->cursor;
		m->hint = parent->hint;
	} else {
		m->nr = src->nr_runs;
		m->p = xzalloc((m->nr + 1) * sizeof(*m->p));
		for (size_t i = 0; i < m->nr; i++)
			m->p[i] = (struct lazy_piece){ src->runs[i].vaddr, (uint32_t)i, 0,
						       src->runs[i].nr_pages };
	}
	m->id = s->nr_mms;
	guard_send(s, GUARD_UFFD, m->id, 0, uffd);
	s->mms = xrealloc(s->mms, (s->nr_mms + 1) * sizeof(*s->mms));
	s->mms[s->nr_mms++] = m;
	return m;
}

static int on_msg(struct lazy_server *s, struct lazy_mm *m, const struct uffd_msg *msg)
{
	if (msg->event != UFFD_EVENT_PAGEFAULT)
		pr_debug("lazy-pages: %d: event %#x %#llx %#llx %#llx", m->src->orig, msg->event,
			 (unsigned long long)msg->arg.remap.from,
			 (unsigned long long)msg->arg.remap.to,
			 (unsigned long long)msg->arg.remap.len);
	switch (msg->event) {
	case UFFD_EVENT_PAGEFAULT:
		return on_fault(s, m, msg->arg.pagefault.address);
	case UFFD_EVENT_FORK: {
		int fd = (int)msg->arg.fork.ufd;

		fcntl(fd, F_SETFL, O_NONBLOCK);
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		mm_new(s, m->src, fd, m);
		return 0;
	}
	case UFFD_EVENT_REMAP:
		pieces_change(m, msg->arg.remap.from, msg->arg.remap.from + msg->arg.remap.len,
			      (int64_t)(msg->arg.remap.to - msg->arg.remap.from), false);
		return 0;
	case UFFD_EVENT_REMOVE:
	case UFFD_EVENT_UNMAP:
		pieces_change(m, msg->arg.remove.start, msg->arg.remove.end, 0, true);
		return 0;
	}
	pr_err("lazy-pages: process %d: unknown userfaultfd event %u", m->src->orig,
	       msg->event);
	return -1;
}

/*
 * Every message waiting on m's userfaultfd, one read each: the kernel
 * hands out the faults before the events, so a batch may hold a fault
 * and then an event that came before it. Served from a batch, the fault
 * would be served from a map that the event has already changed (a copy
 * into a range that moved or went, ENOENT; or a page copied into the
 * parent after a fork and before our copy of its map for the child,
 * which the child would then lack for good). One at a time, serving the
 * fault meets EAGAIN and reads the event (changing()) first.
 */
static int mm_events(struct lazy_server *s, struct lazy_mm *m)
{
	while (m->uffd >= 0) {
		struct uffd_msg msg;
		ssize_t n = read(m->uffd, &msg, sizeof(msg));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n != sizeof(msg)) {
			pr_perror("lazy-pages: can't read the userfaultfd of %d", m->src->orig);
			return -1;
		}
		s->events++;
		if (on_msg(s, m, &msg))
			return -1;
	}
	return 0;
}

/* The next run of m for the background: after the last fault, else in order. */
static int background(struct lazy_server *s, struct lazy_mm *m)
{
	size_t i = piece_at(m, m->hint);
	long k;

	if (m->hint && i < m->nr && m->p[i].addr == m->hint) {
		m->hint = piece_end(&m->p[i]);
		return copy_run(s, m, m->p[i].run, m->p[i].first);
	}
	m->hint = 0;
	while (m->cursor < m->src->nr_runs) {
		k = piece_of_run(m, (uint32_t)m->src->order[m->cursor], 0);
		if (k >= 0)
			return copy_run(s, m, m->p[k].run, m->p[k].first);
		m->cursor++;
	}
	/* What fork and mremap left out of the order. */
	return m->nr ? copy_run(s, m, m->p[0].run, m->p[0].first) : 0;
}

/*
 * The hasher: each pages image read from start to end against the
 * inventory's SHA-256, on the other core while the pages go in.
 */
static void *hasher(void *arg)
{
	struct lazy_server *s = arg;
	char *buf = xzalloc(1 << 20);
	char c = 'h';

	for (int i = 0; i < s->nr_src && s->hash_bad < 0; i++) {
		struct lazy_src *src = &s->src[i];
		EVP_MD_CTX *md;
		unsigned char out[32];
		unsigned int len = 0;
		off_t off = 0;
		ssize_t n;

		if (!src->hash)
			continue;
		md = EVP_MD_CTX_new();
		if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
			s->hash_bad = i;
			break;
		}
		while ((n = pread(src->fds[0], buf, 1 << 20, off)) > 0) {
			EVP_DigestUpdate(md, buf, n);
			off += n;
		}
		if (n < 0)
			s->hash_errno = errno;
		if (n < 0 || !EVP_DigestFinal_ex(md, out, &len) || len != 32 ||
		    memcmp(out, src->sha256, 32))
			s->hash_bad = i;
		EVP_MD_CTX_free(md);
	}
	free(buf);
	if (write(s->hash_pipe[1], &c, 1) != 1)
		s->hash_bad = s->hash_bad < 0 ? 0 : s->hash_bad;
	return NULL;
}

static int hash_done(struct lazy_server *s)
{
	char c;

	if (read(s->hash_pipe[0], &c, 1) != 1) {
		pr_perror("lazy-pages: can't hear from the hasher");
		return -1;
	}
	s->hashing = false;
	if (s->hash_bad >= 0) {
		errno = s->hash_errno;
		if (errno)
			pr_perror("lazy-pages: can't read '%s'", s->src[s->hash_bad].pages_path);
		else
			pr_err("lazy-pages: image '%s' was changed after the dump (its SHA-256 is not the inventory's)",
			       s->src[s->hash_bad].pages_path);
		return -1;
	}
	return 0;
}

/* A restorer's hello, with its userfaultfd. */
static int on_hello(struct lazy_server *s)
{
	struct rst_lazy_hello h;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
	} cm;
	struct iovec iov = { &h, sizeof(h) };
	pid_t sender = 0;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *c;
	struct lazy_src *src = NULL;
	int fd = -1;
	ssize_t n;

	n = recvmsg(s->sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n == 0) {
		s->expect = 0;	/* crest and the restorers are gone */
		return 0;
	}
	/*
	 * The sender's pid as the kernel gives it (SO_PASSCRED), in our PID
	 * namespace: in a namespace of the tree's own, h.new_pid is its pid
	 * there, another process here.
	 */
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(c), sizeof(fd));
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred uc;

			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			sender = uc.pid;
		}
	}
	for (int i = 0; n == sizeof(h) && i < s->nr_src; i++)
		if (s->src[i].orig == h.orig_pid && !s->src[i].hello)
			src = &s->src[i];
	if (!src || (h.nr_lazy && fd < 0) || sender <= 0) {
		pr_err("lazy-pages: a restorer's hello makes no sense (%zd bytes, pid %d)",
		       n, n >= 4 ? h.orig_pid : 0);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	src->hello = true;
	src->now = sender;
	pr_debug("lazy-pages: process %d is %d here (%d in its own PID namespace), %u lazy mappings",
		 src->orig, sender, h.new_pid, h.nr_lazy);
	guard_send(s, GUARD_PID, 0, sender, -1);
	s->expect--;
	if (fd >= 0) {
		fcntl(fd, F_SETFL, O_NONBLOCK);
		mm_new(s, src, fd, NULL);
	}
	return 0;
}

static bool all_in(const struct lazy_server *s)
{
	for (int i = 0; i < s->nr_mms; i++)
		if (s->mms[i]->nr)
			return false;
	return !s->expect && !s->hashing;
}

static int serve(struct lazy_server *s)
{
	struct pollfd *pfd = NULL;

	while (!all_in(s)) {
		int n, np = 0, timeout;
		bool work = false;

		pfd = xrealloc(pfd, (s->nr_mms + 2) * sizeof(*pfd));
		if (s->expect)
			pfd[np++] = (struct pollfd){ s->sock, POLLIN, 0 };
		if (s->hashing)
			pfd[np++] = (struct pollfd){ s->hash_pipe[0], POLLIN, 0 };
		for (int i = 0; i < s->nr_mms; i++) {
			if (s->mms[i]->uffd >= 0)
				pfd[np++] = (struct pollfd){ s->mms[i]->uffd, POLLIN, 0 };
			work |= s->mms[i]->nr > 0;
		}
		timeout = !work ? -1 : hurry ? 0 : s->pace_ms;
		n = poll(pfd, np, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("lazy-pages: poll");
			goto err;
		}
		if (n > 0) {
			for (int i = 0; i < np; i++) {
				if (!pfd[i].revents)
					continue;
				if (pfd[i].fd == s->sock && s->expect) {
					if (on_hello(s))
						goto err;
					continue;
				}
				if (s->hashing && pfd[i].fd == s->hash_pipe[0]) {
					if (hash_done(s))
						goto err;
					continue;
				}
				for (int k = 0; k < s->nr_mms; k++)
					if (s->mms[k]->uffd == pfd[i].fd && mm_events(s, s->mms[k]))
						goto err;
			}
			continue;	/* faults before the background */
		}
		for (int k = 0; k < s->nr_mms; k++) {
			struct lazy_mm *m = s->mms[(s->rr + k) % s->nr_mms];

			if (m->nr) {
				s->rr = (s->rr + k + 1) % s->nr_mms;
				if (background(s, m))
					goto err;
				break;
			}
		}
	}
	free(pfd);
	/* Every page is in: were the page server's files the dump's? */
	if (s->ps && ps_done(s->ps))
		return -1;
	/* A fork under way is read before its parent's userfaultfd goes. */
	for (int k = 0; k < s->nr_mms; k++) {
		if (mm_events(s, s->mms[k]))
			return -1;
		mm_drop(s, s->mms[k]);
	}
	return 0;
err:
	free(pfd);
	return -1;
}

/* ---- crest's side ---- */

static int src_init(struct lazy_src *src, const struct restore_task *t,
		    const InventoryEntry *inv)
{
	char *name = img_name(IMG_PAGES, t->pe->pid);
	uint64_t *vsize;

	src->orig = t->pe->pid;
	src->pages_path = t->pages_paths[0];
	/* The page server hashes its file (DONE says how it went). */
	src->ps_handle = t->pages_remote ? t->ps_handle : 0;
	src->zfd = -1;
	if (t->run_zoff) {
		src->zfd = open(t->pages_zpath, O_RDONLY | O_CLOEXEC);
		if (src->zfd < 0) {
			pr_perror("lazy-pages: can't open '%s'", t->pages_zpath);
			return -1;
		}
	}
	/* A compressed image was hashed before it was decompressed. */
	if (src->ps_handle || t->pages_z)
		inv = NULL;
	for (size_t i = 0; inv && i < inv->n_files; i++)
		if (!strcmp(inv->files[i]->name, name) && inv->files[i]->sha256.len == 32) {
			src->hash = true;
			memcpy(src->sha256, inv->files[i]->sha256.data, 32);
		}
	free(name);
	if (inv && !src->hash) {
		pr_err("lazy-pages: the inventory has no SHA-256 of the pages of %d", src->orig);
		return -1;
	}
	for (int i = 0; i < CHAIN_MAX; i++) {
		src->fds[i] = -1;
		if (!t->pages_paths[i])
			continue;
		src->fds[i] = open(t->pages_paths[i], O_RDONLY | O_CLOEXEC);
		if (src->fds[i] < 0) {
			pr_perror("lazy-pages: can't open '%s'", t->pages_paths[i]);
			return -1;
		}
	}
	src->runs = xzalloc((t->nr_runs + 1) * sizeof(*src->runs));
	for (size_t k = 0; k < t->nr_runs; k++) {
		struct lazy_run *r = &src->runs[src->nr_runs];

		if (!restore_run_lazy(t, k))
			continue;
		r->vaddr = t->runs[k]->vaddr;
		r->nr_pages = t->runs[k]->nr_pages;
		r->crc = t->runs[k]->crc;
		r->off = t->run_off[k];
		r->file = t->run_file ? t->run_file[k] : 0;
		r->check = !(t->run_nocrc && t->run_nocrc[k]);
		r->zoff = t->run_zoff ? t->run_zoff[k] : 0;
		r->zlen = t->run_zoff ? t->runs[k]->zlen : 0;
		if (r->file >= CHAIN_MAX || src->fds[r->file] < 0) {
			pr_err("lazy-pages: the pages of %d at %#llx are in no image",
			       src->orig, (unsigned long long)r->vaddr);
			return -1;
		}
		src->nr_runs++;
	}
	qsort(src->runs, src->nr_runs, sizeof(*src->runs), cmp_run);
	/* The background goes through the largest mappings first. */
	vsize = xzalloc((src->nr_runs + 1) * sizeof(*vsize));
	src->order = xzalloc((src->nr_runs + 1) * sizeof(*src->order));
	for (size_t k = 0; k < src->nr_runs; k++) {
		src->order[k] = k;
		for (size_t v = 0; v < t->mm->n_vmas; v++)
			if (t->mm->vmas[v]->start <= src->runs[k].vaddr &&
			    src->runs[k].vaddr < t->mm->vmas[v]->end)
				vsize[k] = t->mm->vmas[v]->end - t->mm->vmas[v]->start;
	}
	/* Insertion sort keeps the address order within a mapping; few mappings. */
	for (size_t k = 1; k < src->nr_runs; k++) {
		size_t o = src->order[k], j = k;

		while (j > 0 && vsize[src->order[j - 1]] < vsize[o]) {
			src->order[j] = src->order[j - 1];
			j--;
		}
		src->order[j] = o;
	}
	free(vsize);
	return 0;
}

/* Every fd but those the server needs goes: it holds nothing of the tree. */
static void close_others(const struct lazy_server *s)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
	}
	if (!d)
		return;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		bool keep = de->d_name[0] == '.' || fd == dirfd(d) || fd <= 2 ||
			    fd == s->sock || fd == log_get_fd() || fd == s->hash_pipe[0] ||
			    fd == s->hash_pipe[1] || (s->ps && fd == ps_sock(s->ps));

		for (int i = 0; !keep && i < s->nr_src; i++) {
			for (int k = 0; k < CHAIN_MAX; k++)
				keep |= s->src[i].fds[k] == fd;
			keep |= s->src[i].zfd == fd;
		}
		if (!keep)
			close(fd);
	}
	closedir(d);
}

static void __attribute__((noreturn)) server_main(struct lazy_server *s,
						  struct restore_task *tasks, int nr,
						  const InventoryEntry *inv)
{
	struct sigaction sa = { .sa_handler = on_term };
	const char *pace = getenv("CREST_LAZY_PACE_MS");
	sigset_t none;
	char ok = 'r';

	setsid();
	prctl(PR_SET_NAME, "crest-lazy", 0, 0, 0);
	/*
	 * Not crest's stdin and stdout: a pipeline reading them ends when
	 * crest does, not when the last page is in. stderr stays, for a page
	 * that can't be had.
	 */
	{
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0) {
			pr_perror("lazy-pages: can't put its stdin and stdout on /dev/null");
			_exit(1);
		}
		if (null > 2)
			close(null);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTSTP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	/* SIGTERM: every page in at once, then go. Never before. */
	sigaction(SIGTERM, &sa, NULL);
	log_set_prefix("crest-lazy");
	s->pace_ms = pace ? atol(pace) : 0;
	s->src = xzalloc((nr + 1) * sizeof(*s->src));
	for (int i = 0; i < nr; i++) {
		if (tasks[i].pe->zombie)
			continue;
		if (src_init(&s->src[s->nr_src++], &tasks[i], inv))
			_exit(1);
		s->expect++;
	}
	s->hash_bad = -1;
	s->hash_pipe[0] = s->hash_pipe[1] = -1;
	if (inv && pipe2(s->hash_pipe, O_CLOEXEC)) {
		pr_perror("lazy-pages: can't create a pipe");
		_exit(1);
	}
	close_others(s);
	guard_start(s);		/* before any thread */
	if (inv) {
		pthread_t th;

		if (pthread_create(&th, NULL, hasher, s)) {
			pr_err("lazy-pages: can't start the hasher thread");
			_exit(1);
		}
		pthread_detach(th);
		s->hashing = true;
	}
	if (write(s->sock, &ok, 1) != 1)
		_exit(1);
	if (serve(s))
		lazy_die(s);
	guard_send(s, GUARD_DONE, 0, 0, -1);
	pr_info("lazy-pages: done: %llu MiB put in, %llu faults, %llu KiB of zeros",
		(unsigned long long)(s->copied >> 20), (unsigned long long)s->faults,
		(unsigned long long)(s->zeroed >> 10));
	_exit(0);
}

int lazy_start(struct restore_task *tasks, int nr, const InventoryEntry *inv, int base,
	       struct ps_conn *ps, int *tree_fd, pid_t *server)
{
	struct lazy_server s = { .sock = -1, .guard = -1, .ps = ps };
	int sk[2];
	char c;
	ssize_t n;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk)) {
		pr_perror("can't create the lazy-pages socket");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		pr_perror("can't fork the lazy-pages server");
		close(sk[0]);
		close(sk[1]);
		return -1;
	}
	if (pid == 0) {
		int on = 1;

		close(sk[1]);
		s.sock = sk[0];
		if (setsockopt(s.sock, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on))) {
			pr_perror("lazy-pages: can't ask for the restorers' credentials");
			_exit(1);
		}
		server_main(&s, tasks, nr, inv);
	}
	close(sk[0]);
	do
		n = read(sk[1], &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1) {
		pr_err("the lazy-pages server did not start (see above)");
		close(sk[1]);
		kill(pid, SIGKILL);
		return -1;
	}
	*tree_fd = files_to_service(sk[1], base);
	*server = pid;
	return *tree_fd < 0 ? -1 : 0;
}
