/* The page server and its client: see page-server.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "log.h"
#include "page-server.h"
#include "util.h"

#define PS_MAGIC	0x31565350u	/* "PSV1" */
#define PS_CONNECT_MS	10000
#define PS_REPLY_MS	120000		/* a CLOSE hashes the whole file */
#define PS_MAX_MSG	4096
#define PS_CHUNK	(1 << 20)

enum ps_cmd {
	PS_HELLO = 1, PS_OPEN, PS_DATA, PS_CLOSE, PS_COMMIT, PS_ABORT, PS_SYNC,
	/* restore --lazy-pages --page-server: the server's files read back */
	PS_GET, PS_READ, PS_DONE,
	PS_OK = 64, PS_ERR, PS_SUM,
};

#define PS_NOSYNC	1u
#define PS_LAZY		2u	/* a lazy restore, not a dump */

struct ps_hdr {
	uint32_t cmd;
	uint32_t handle;
	uint64_t len;
};
_Static_assert(sizeof(struct ps_hdr) == 16, "ps_hdr is 16 bytes on the wire");

struct ps_hello {
	uint32_t magic;
	uint32_t version;	/* IMG_VERSION: the files are this crest's */
	uint8_t id[IMG_ID_SIZE];
	uint32_t flags;
	uint32_t pad;
};
_Static_assert(sizeof(struct ps_hello) == 32, "ps_hello is 32 bytes on the wire");

struct ps_sum {
	uint64_t size;
	uint8_t sha256[IMG_HASH_SIZE];
};
_Static_assert(sizeof(struct ps_sum) == 40, "ps_sum is 40 bytes on the wire");

/* A send that goes out in part timed out (SO_SNDTIMEO) for the rest. */
static int send_all(int sk, const void *buf, size_t len, int flags)
{
	ssize_t n = send(sk, buf, len, MSG_NOSIGNAL | flags);

	if (n >= 0 && n != (ssize_t)len)
		errno = EAGAIN;
	return n == (ssize_t)len ? 0 : -1;
}

static int send_msg(int sk, uint32_t cmd, uint32_t handle, const void *buf, size_t len)
{
	struct ps_hdr h = { cmd, handle, len };

	if (send_all(sk, &h, sizeof(h), len ? MSG_MORE : 0))
		return -1;
	return len ? send_all(sk, buf, len, 0) : 0;
}

/* ---- the server ---- */

static volatile sig_atomic_t ps_stop;

static void on_stop(int sig)
{
	ps_stop = sig;
}

struct ps_server {
	struct img_dir dir;
	int sk;
	int pipe[2];
	bool hello, nosync, committed;
	bool stopped;			/* CREST_FAULT=page-server-stop did */
	struct image **files;		/* by handle - 1 */
	uint32_t nr_files;
	uint64_t received;	/* bytes of pages */
	char peer[128];
	/* page-server --lazy-pages: files served, each hashed by a thread */
	struct ps_served {
		char name[64];
		int fd;
		uint64_t size;
		uint8_t sha256[IMG_HASH_SIZE];
		pthread_t hasher;
		int bad;	/* 0 good, 1 changed, else an errno */
	} *served;
	uint32_t nr_served;
	bool lazy, done;
};

/* GET's payload: what the client's inventory says of the file. */
struct ps_get {
	uint64_t size;
	uint8_t sha256[IMG_HASH_SIZE];
	char name[64];
};
_Static_assert(sizeof(struct ps_get) == 104, "ps_get is 104 bytes on the wire");

/* Tell the client why, once; the caller removes the set. */
static int serve_err(struct ps_server *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int serve_err(struct ps_server *s, const char *fmt, ...)
{
	char msg[PS_MAX_MSG];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pr_err("%s", msg);
	send_msg(s->sk, PS_ERR, 0, msg, strlen(msg));
	return -1;
}

static struct image *serve_file(struct ps_server *s, uint32_t handle)
{
	if (!handle || handle > s->nr_files || !s->files[handle - 1])
		return NULL;
	return s->files[handle - 1];
}

static int serve_open(struct ps_server *s, const struct ps_hdr *h)
{
	char name[64] = "";
	struct image *img;
	int pid, end = 0;
	char *want;

	if (h->len >= sizeof(name) || read_all(s->sk, name, h->len))
		return serve_err(s, "page server: a bad OPEN from %s", s->peer);
	/* Pages images only: nothing else of a set is the page server's. */
	if (sscanf(name, "pages-%d.img%n", &pid, &end) != 1 || pid <= 0 ||
	    (size_t)end != h->len)
		return serve_err(s, "page server: '%s' is not a pages image name", name);
	want = img_name(IMG_PAGES, pid);
	end = strcmp(want, name);
	free(want);
	if (end || h->handle != s->nr_files + 1)
		return serve_err(s, "page server: a bad OPEN of '%s' (handle %u)", name, h->handle);
	for (uint32_t i = 0; i < s->nr_files; i++)
		if (!strcmp(s->files[i]->name, name))
			return serve_err(s, "page server: '%s' sent twice", name);
	img = img_create(&s->dir, IMG_PAGES, pid);
	if (!img)
		return serve_err(s, "page server: can't create '%s/%s': %s", s->dir.path, name,
				 strerror(errno));
	s->files = xrealloc(s->files, (s->nr_files + 1) * sizeof(*s->files));
	s->files[s->nr_files++] = img;
	pr_debug("page server: receiving '%s'", img->path);
	return send_msg(s->sk, PS_OK, h->handle, NULL, 0);
}

/* len bytes from the socket into the file, through a pipe: no copy. */
static int serve_data(struct ps_server *s, const struct ps_hdr *h)
{
	struct image *img = serve_file(s, h->handle);
	uint64_t left = h->len, die;

	if (!img)
		return serve_err(s, "page server: DATA for no open file (handle %u)", h->handle);
	while (left) {
		size_t want = left < PS_CHUNK ? left : PS_CHUNK;
		ssize_t n = splice(s->sk, NULL, s->pipe[1], NULL, want, SPLICE_F_MOVE);

		if (n < 0 && errno == EINTR && !ps_stop)
			continue;
		if (n <= 0) {
			if (n == 0)
				pr_err("page server: %s went away with %llu bytes of '%s' to come",
				       s->peer, (unsigned long long)left, img->name);
			else
				pr_perror("page server: can't read pages of '%s' from %s",
					  img->name, s->peer);
			return -1;
		}
		left -= n;
		s->received += n;
		/* Tests of a server that dies mid-dump: after N bytes of pages. */
		if (fault_arg("page-server-die", &die) && s->received >= die)
			kill(getpid(), SIGKILL);
		/* ... and of one that stops (its socket fills): once, after N bytes. */
		if (fault_arg("page-server-stop", &die) && s->received >= die && !s->stopped) {
			s->stopped = true;
			kill(getpid(), SIGSTOP);
		}
		while (n) {
			ssize_t m = splice(s->pipe[0], NULL, img->fd, NULL, n, SPLICE_F_MOVE);

			if (m < 0 && errno == EINTR)
				continue;
			if (m <= 0)
				return serve_err(s, "page server: can't write '%s': %s", img->path,
						 m ? strerror(errno) : "short write");
			n -= m;
			img->off += m;
		}
	}
	return 0;
}

static int serve_close(struct ps_server *s, const struct ps_hdr *h)
{
	struct image *img = serve_file(s, h->handle);
	struct ps_sum sum = {};
	struct stat st;

	if (!img)
		return serve_err(s, "page server: CLOSE of no open file (handle %u)", h->handle);
	if ((!s->nosync && fsync(img->fd)) || fstat(img->fd, &st) ||
	    img_sha256_fd(img->fd, sum.sha256))
		return serve_err(s, "page server: can't sync and hash '%s': %s", img->path,
				 strerror(errno));
	sum.size = st.st_size;
	s->files[h->handle - 1] = NULL;		/* stays in s->dir.written */
	return send_msg(s->sk, PS_SUM, h->handle, &sum, sizeof(sum));
}

/* pages-*.img of an earlier set the new one does not replace. */
static void remove_stale_pages(struct ps_server *s)
{
	int fd = openat(s->dir.dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!dir) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		int i;

		if (strncmp(de->d_name, "pages-", 6) || len < 10 ||
		    strcmp(de->d_name + len - 4, ".img"))
			continue;
		for (i = 0; i < s->dir.nr_written; i++)
			if (!strcmp(s->dir.written[i]->name, de->d_name))
				break;
		if (i < s->dir.nr_written)
			continue;
		if (!unlinkat(s->dir.dirfd, de->d_name, 0))
			pr_debug("page server: removed '%s/%s' of an earlier set",
				 s->dir.path, de->d_name);
	}
	closedir(dir);
}

static int serve_commit(struct ps_server *s)
{
	for (uint32_t i = 0; i < s->nr_files; i++)
		if (s->files[i])
			return serve_err(s, "page server: COMMIT with '%s' still open",
					 s->files[i]->name);
	for (int i = 0; i < s->dir.nr_written; i++) {
		struct image *img = s->dir.written[i];

		if (renameat(s->dir.dirfd, img->tmp_name, s->dir.dirfd, img->name))
			return serve_err(s, "page server: can't move '%s' in place: %s",
					 img->path, strerror(errno));
		free(img->tmp_name);
		img->tmp_name = NULL;
	}
	remove_stale_pages(s);
	if (!s->nosync && fsync(s->dir.dirfd))
		return serve_err(s, "page server: can't sync '%s': %s", s->dir.path,
				 strerror(errno));
	s->committed = true;
	return send_msg(s->sk, PS_OK, 0, NULL, 0);
}

static int serve_hello(struct ps_server *s, const struct ps_hdr *h)
{
	struct ps_hello hi;
	char id[2 * IMG_ID_SIZE + 1];

	if (h->len != sizeof(hi) || read_all(s->sk, &hi, sizeof(hi)) || hi.magic != PS_MAGIC)
		return serve_err(s, "page server: %s does not speak crest's page server protocol",
				 s->peer);
	if (hi.version != IMG_VERSION)
		return serve_err(s, "page server: the dump writes images of version %u, this crest version %u: use the same crest on both sides",
				 hi.version, IMG_VERSION);
	memcpy(s->dir.id, hi.id, IMG_ID_SIZE);
	s->nosync = hi.flags & PS_NOSYNC;
	if (s->lazy != !!(hi.flags & PS_LAZY))
		return serve_err(s, s->lazy ?
				 "page server: this one serves a lazy restore (page-server --lazy-pages), not a dump" :
				 "page server: this one takes a dump; start page-server --lazy-pages for a lazy restore");
	s->hello = true;
	img_id_str(hi.id, id);
	pr_info("page server: a dump from %s, set %s", s->peer, id);
	return send_msg(s->sk, PS_OK, 0, NULL, 0);
}

/* The whole served file against the client's SHA-256, beside the reads. */
static void *serve_hash(void *arg)
{
	struct ps_served *f = arg;
	uint8_t got[IMG_HASH_SIZE];

	if (img_sha256_fd(f->fd, got))
		f->bad = errno ? errno : EIO;
	else if (memcmp(got, f->sha256, IMG_HASH_SIZE))
		f->bad = 1;
	return NULL;
}

static int serve_get(struct ps_server *s, const struct ps_hdr *h)
{
	struct ps_get g;
	unsigned char hdr[IMG_HDR_SIZE];
	struct ps_served *f;
	char why[128];
	uint8_t id[IMG_ID_SIZE];
	uint32_t magic;
	struct stat st;
	int pid, end = 0;

	if (h->len != sizeof(g) || read_all(s->sk, &g, sizeof(g)) ||
	    h->handle != s->nr_served + 1)
		return serve_err(s, "page server: a bad GET from %s", s->peer);
	g.name[sizeof(g.name) - 1] = 0;
	if (sscanf(g.name, "pages-%d.img%n", &pid, &end) != 1 || pid <= 0 ||
	    (size_t)end != strlen(g.name))
		return serve_err(s, "page server: '%s' is not a pages image name", g.name);
	s->served = xrealloc(s->served, (s->nr_served + 1) * sizeof(*s->served));
	f = &s->served[s->nr_served];
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", g.name);
	f->fd = openat(s->dir.dirfd, g.name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (f->fd < 0)
		return serve_err(s, "page server: can't open '%s/%s': %s", s->dir.path, g.name,
				 strerror(errno));
	s->nr_served++;
	if (fstat(f->fd, &st) || pread(f->fd, hdr, sizeof(hdr), 0) != sizeof(hdr))
		return serve_err(s, "page server: can't read '%s/%s': %s", s->dir.path, g.name,
				 strerror(errno));
	if (img_check_header(hdr, sizeof(hdr), &magic, id, why, sizeof(why)))
		return serve_err(s, "page server: image '%s/%s' at offset 0: %s", s->dir.path,
				 g.name, why);
	if (magic != img_descs[IMG_PAGES].magic || memcmp(id, s->dir.id, IMG_ID_SIZE))
		return serve_err(s, "page server: '%s/%s' belongs to another checkpoint",
				 s->dir.path, g.name);
	if ((uint64_t)st.st_size != g.size)
		return serve_err(s, "page server: '%s/%s' is %lld bytes, the inventory says %llu",
				 s->dir.path, g.name, (long long)st.st_size,
				 (unsigned long long)g.size);
	f->size = g.size;
	memcpy(f->sha256, g.sha256, IMG_HASH_SIZE);
	if (pthread_create(&f->hasher, NULL, serve_hash, f)) {
		close(f->fd);
		f->fd = -1;
		return serve_err(s, "page server: can't start a thread to hash '%s'", g.name);
	}
	pr_debug("page server: serving '%s/%s'", s->dir.path, g.name);
	return send_msg(s->sk, PS_OK, h->handle, NULL, 0);
}

/* READ: u64 offset; the answer a DATA of len bytes, sent from the page cache. */
static int serve_read(struct ps_server *s, const struct ps_hdr *h)
{
	struct ps_hdr d = { PS_DATA, h->handle, h->len };
	struct ps_served *f;
	uint64_t off;
	off_t at;

	if (read_all(s->sk, &off, sizeof(off)) || !h->handle || h->handle > s->nr_served)
		return serve_err(s, "page server: a bad READ from %s", s->peer);
	f = &s->served[h->handle - 1];
	if (off > f->size || h->len > f->size - off)
		return serve_err(s, "page server: a READ past the end of '%s'", f->name);
	if (send(s->sk, &d, sizeof(d), MSG_NOSIGNAL | MSG_MORE) != sizeof(d))
		return -1;
	at = off;
	for (uint64_t left = h->len; left; ) {
		ssize_t n = sendfile(s->sk, f->fd, &at, left);

		if (n < 0 && errno == EINTR && !ps_stop)
			continue;
		if (n <= 0) {
			pr_perror("page server: can't send '%s' to %s", f->name, s->peer);
			return -1;
		}
		left -= n;
	}
	return 0;
}

static int join_hashers(struct ps_server *s)
{
	int ret = 0;

	for (uint32_t i = 0; i < s->nr_served; i++) {
		struct ps_served *f = &s->served[i];

		if (f->fd < 0)
			continue;
		pthread_join(f->hasher, NULL);
		close(f->fd);
		f->fd = -1;
		if (f->bad && !ret)
			ret = f->bad == 1 ?
			      serve_err(s, "page server: image '%s/%s' was changed after the dump (its SHA-256 is not the inventory's)",
					s->dir.path, f->name) :
			      serve_err(s, "page server: can't read '%s/%s': %s", s->dir.path,
					f->name, strerror(f->bad));
	}
	return ret;
}

/* DONE: every page is in; the answer says whether every file was sound. */
static int serve_done(struct ps_server *s)
{
	if (join_hashers(s))
		return -1;
	s->done = true;
	return send_msg(s->sk, PS_OK, 0, NULL, 0);
}

/* 0: the set is committed and the client gone; -1: it is not. */
static int serve(struct ps_server *s)
{
	for (;;) {
		struct ps_hdr h;
		int ret;

		if (read_all(s->sk, &h, sizeof(h))) {
			if ((s->committed || s->done) && errno == ENODATA)
				return 0;
			if (ps_stop)
				pr_err("page server: stopped by signal %d", (int)ps_stop);
			else if (errno == ENODATA)
				pr_err("page server: %s went away before its dump committed", s->peer);
			else
				pr_perror("page server: can't read from %s", s->peer);
			return -1;
		}
		if (!s->hello && h.cmd != PS_HELLO)
			return serve_err(s, "page server: %s does not speak crest's page server protocol",
					 s->peer);
		if (s->committed || s->done)
			return serve_err(s, "page server: a message after the end");
		/* HELLO said which; every message after must be of it. */
		if (s->hello && s->lazy != (h.cmd == PS_GET || h.cmd == PS_READ ||
					    h.cmd == PS_DONE))
			return serve_err(s, "page server: message %u from %s is not of a %s",
					 h.cmd, s->peer, s->lazy ? "lazy restore" : "dump");
		switch (h.cmd) {
		case PS_HELLO:	ret = serve_hello(s, &h); break;
		case PS_GET:	ret = serve_get(s, &h); break;
		case PS_READ:	ret = serve_read(s, &h); break;
		case PS_DONE:	ret = serve_done(s); break;
		case PS_OPEN:	ret = serve_open(s, &h); break;
		case PS_DATA:	ret = serve_data(s, &h); break;
		case PS_CLOSE:	ret = serve_close(s, &h); break;
		case PS_SYNC:	ret = send_msg(s->sk, PS_OK, 0, NULL, 0); break;
		case PS_COMMIT:	ret = serve_commit(s); break;
		case PS_ABORT:
			pr_err("page server: the dump from %s failed", s->peer);
			return -1;
		default:
			return serve_err(s, "page server: unknown message %u from %s", h.cmd, s->peer);
		}
		if (ret)
			return -1;
	}
}

static int listen_on(const char *address, int port, char *where, size_t len)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	char serv[16], host[NI_MAXHOST];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int sk = -1, one = 1, err;

	snprintf(serv, sizeof(serv), "%d", port);
	if (!address)
		hints.ai_family = AF_INET;
	err = getaddrinfo(address, serv, &hints, &res);
	if (err) {
		pr_err("page-server --address '%s': %s", address, gai_strerror(err));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		sk = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (sk < 0)
			continue;
		setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!bind(sk, ai->ai_addr, ai->ai_addrlen) && !listen(sk, 1))
			break;
		err = errno;
		close(sk);
		sk = -1;
		errno = err;
	}
	freeaddrinfo(res);
	if (sk < 0) {
		pr_perror("page server: can't listen on %s port %d",
			  address ? address : "any address", port);
		return -1;
	}
	if (getsockname(sk, (struct sockaddr *)&ss, &sl) ||
	    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV)) {
		pr_perror("page server: can't read its own address");
		close(sk);
		return -1;
	}
	snprintf(where, len, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
	return sk;
}

int cr_page_server(const struct options *opts)
{
	struct ps_server s = { .sk = -1, .pipe = { -1, -1 } };
	struct sigaction sa = { .sa_handler = on_stop };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char where[96], serv[16];
	int lsk, ret = EXIT_FAIL;

	signal(SIGPIPE, SIG_IGN);
	/* No SA_RESTART: a signal stops a splice, and the set is removed. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/*
	 * The directory first: for a dump it is locked for this one set and
	 * stale temporaries go; a lazy restore only reads it.
	 */
	s.lazy = opts->lazy_pages;
	if (img_dir_open(&s.dir, opts->dir, !s.lazy))
		return EXIT_FAIL;
	s.dir.nosync = opts->nosync;
	lsk = listen_on(opts->ps_address, opts->ps_port, where, sizeof(where));
	if (lsk < 0)
		goto out;
	printf("crest page-server: listening on %s, pages %s '%s'\n", where,
	       s.lazy ? "served from" : "into", opts->dir);
	fflush(stdout);
	if (opts->status_fd >= 0) {
		if (write(opts->status_fd, "", 1) != 1)
			pr_perror("can't write to --status-fd %d", opts->status_fd);
		close(opts->status_fd);
	}
	do
		s.sk = accept4(lsk, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	while (s.sk < 0 && errno == EINTR && !ps_stop);
	close(lsk);
	if (s.sk < 0) {
		if (ps_stop)
			pr_err("page server: stopped by signal %d before any dump came", (int)ps_stop);
		else
			pr_perror("page server: can't accept a connection");
		goto out;
	}
	if (getnameinfo((struct sockaddr *)&ss, sl, where, sizeof(where), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(s.peer, sizeof(s.peer), "the dump");
	else
		snprintf(s.peer, sizeof(s.peer), "%s port %s", where, serv);
	if (pipe2(s.pipe, O_CLOEXEC)) {
		pr_perror("page server: can't make a pipe");
		goto out;
	}
	fcntl(s.pipe[1], F_SETPIPE_SZ, PS_CHUNK);
	if (!serve(&s)) {
		if (s.lazy)
			pr_info("page server: %u pages image%s served from '%s'", s.nr_served,
				s.nr_served == 1 ? "" : "s", s.dir.path);
		else
			pr_info("page server: %d pages image%s committed into '%s'",
				s.dir.nr_written, s.dir.nr_written == 1 ? "" : "s", s.dir.path);
		ret = EXIT_OK;
	}
	join_hashers(&s);
out:
	if (ret != EXIT_OK) {
		/* Nothing of a set that did not commit stays. */
		img_abort_set(&s.dir);
		if (s.dir.nr_written)
			pr_err("page server: the %d pages image%s of the failed dump removed from '%s'",
			       s.dir.nr_written, s.dir.nr_written == 1 ? "" : "s", s.dir.path);
	}
	if (s.sk >= 0)
		close(s.sk);
	if (s.pipe[0] >= 0) {
		close(s.pipe[0]);
		close(s.pipe[1]);
	}
	free(s.files);
	free(s.served);
	img_dir_close(&s.dir);
	return ret;
}

/* ---- the client (crest dump --page-server) ---- */

/*
 * How long the client waits for any answer (SO_RCVTIMEO), and for room
 * to send in (SO_SNDTIMEO: a send, or a splice of pages into the socket,
 * whose buffer a server that stopped reading has let fill): a server that
 * stopped or whose host went away without a reset fails the dump, or the
 * lazy restore (whose tree is then killed), instead of hanging it.
 * CREST_PS_TIMEOUT_MS: a shorter one, for the test suite.
 */
int ps_reply_ms(void)
{
	const char *env = getenv("CREST_PS_TIMEOUT_MS");
	int ms = env ? atoi(env) : 0;

	return ms > 0 ? ms : PS_REPLY_MS;
}

struct ps_conn {
	int sk;
	char where[96];
	uint32_t nr_open;
	bool broken;		/* a message failed: the server says no more */
};

/* What a failed read of an answer says. */
static void conn_read_failed(struct ps_conn *c, const char *what)
{
	if (errno == ENODATA)
		pr_err("the page server %s closed the connection (%s)", c->where, what);
	else if (errno == EAGAIN || errno == EWOULDBLOCK)
		pr_err("the page server %s did not answer in %.1f s (%s): is it stopped, or its host gone?",
		       c->where, ps_reply_ms() / 1000.0, what);
	else
		pr_perror("can't read from the page server %s (%s)", c->where, what);
}

/*
 * What a failed send says: a send that timed out (or went out in part:
 * the rest timed out) is a server that stopped reading.
 */
static void conn_send_failed(struct ps_conn *c, const char *what)
{
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		pr_err("can't %s the page server %s: it took nothing in %.1f s: is it stopped, or its host gone?",
		       what, c->where, ps_reply_ms() / 1000.0);
	else
		pr_perror("can't %s the page server %s", what, c->where);
}

void ps_set_broken(struct ps_conn *c)
{
	c->broken = true;
}

const char *ps_where(const struct ps_conn *c)
{
	return c->where;
}

int ps_sock(const struct ps_conn *c)
{
	return c->sk;
}

int ps_move_sock(struct ps_conn *c, int base)
{
	int fd = fcntl(c->sk, F_DUPFD_CLOEXEC, base);

	if (fd < 0) {
		pr_perror("can't move the page server's socket above %d", base);
		return -1;
	}
	close(c->sk);
	c->sk = fd;
	return 0;
}

static int conn_send(struct ps_conn *c, uint32_t cmd, uint32_t handle, const void *buf,
		     size_t len)
{
	if (c->broken) {
		pr_err("page server %s: the connection failed already", c->where);
		return -1;
	}
	if (send_msg(c->sk, cmd, handle, buf, len)) {
		c->broken = true;
		conn_send_failed(c, "send to");
		return -1;
	}
	return 0;
}

/* The answer to what was sent: want, or ERR with the server's reason. */
static int conn_reply(struct ps_conn *c, uint32_t want, void *buf, size_t len)
{
	struct ps_hdr h;
	char msg[PS_MAX_MSG + 1] = "";

	if (read_all(c->sk, &h, sizeof(h))) {
		c->broken = true;
		conn_read_failed(c, "waiting for its answer");
		return -1;
	}
	if (h.cmd == PS_ERR) {
		c->broken = true;
		if (h.len > PS_MAX_MSG || read_all(c->sk, msg, h.len))
			snprintf(msg, sizeof(msg), "(its message lost)");
		pr_err("the page server %s refused: %s", c->where, msg);
		return -1;
	}
	if (h.cmd != want || h.len != len || (len && read_all(c->sk, buf, len))) {
		c->broken = true;
		pr_err("the page server %s answered %u (%llu bytes), not %u: is it crest page-server?",
		       c->where, h.cmd, (unsigned long long)h.len, want);
		return -1;
	}
	return 0;
}

static int connect_timeout(int sk, const struct sockaddr *sa, socklen_t len)
{
	int fl = fcntl(sk, F_GETFL), err = 0;
	socklen_t el = sizeof(err);
	struct pollfd p = { sk, POLLOUT, 0 };

	fcntl(sk, F_SETFL, fl | O_NONBLOCK);
	if (connect(sk, sa, len)) {
		if (errno != EINPROGRESS)
			return -1;
		if (poll(&p, 1, PS_CONNECT_MS) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (getsockopt(sk, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
			errno = err ? err : errno;
			return -1;
		}
	}
	fcntl(sk, F_SETFL, fl);
	return 0;
}

struct ps_conn *ps_connect(const char *address, int port, const uint8_t id[IMG_ID_SIZE],
			   bool nosync, bool lazy)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICSERV, .ai_socktype = SOCK_STREAM };
	struct ps_conn *c = xzalloc(sizeof(*c));
	struct ps_hello hi = { PS_MAGIC, IMG_VERSION, {},
			       (nosync ? PS_NOSYNC : 0) | (lazy ? PS_LAZY : 0), 0 };
	struct timeval tv = { ps_reply_ms() / 1000, ps_reply_ms() % 1000 * 1000 };
	struct addrinfo *res, *ai;
	char serv[16];
	int err, one = 1;

	/* A page server that dies mid-dump is an error of a write, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	c->sk = -1;
	snprintf(c->where, sizeof(c->where), strchr(address, ':') ? "[%s]:%d" : "%s:%d",
		 address, port);
	snprintf(serv, sizeof(serv), "%d", port);
	err = getaddrinfo(address, serv, &hints, &res);
	if (err) {
		pr_err("can't reach the page server %s: %s", c->where, gai_strerror(err));
		free(c);
		return NULL;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		c->sk = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (c->sk < 0)
			continue;
		if (!connect_timeout(c->sk, ai->ai_addr, ai->ai_addrlen))
			break;
		err = errno;
		close(c->sk);
		c->sk = -1;
		errno = err;
	}
	freeaddrinfo(res);
	if (c->sk < 0) {
		pr_perror("can't reach the page server %s (start 'crest page-server -D DIR --port %d' there first)",
			  c->where, port);
		free(c);
		return NULL;
	}
	setsockopt(c->sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->sk, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(c->sk, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memcpy(hi.id, id, IMG_ID_SIZE);
	if (conn_send(c, PS_HELLO, 0, &hi, sizeof(hi)) || conn_reply(c, PS_OK, NULL, 0)) {
		ps_disconnect(c);
		return NULL;
	}
	pr_debug("page server %s: connected", c->where);
	return c;
}

int ps_open(struct ps_conn *c, const char *name, uint32_t *handle)
{
	if (conn_send(c, PS_OPEN, c->nr_open + 1, name, strlen(name)) ||
	    conn_reply(c, PS_OK, NULL, 0))
		return -1;
	*handle = ++c->nr_open;
	return 0;
}

/* A message whose bytes follow it (DATA), or that carries its own (READ). */
static int conn_raw(struct ps_conn *c, const void *m, size_t len, int flags, const char *what)
{
	if (c->broken) {
		pr_err("page server %s: the connection failed already", c->where);
		return -1;
	}
	if (send_all(c->sk, m, len, flags)) {
		c->broken = true;
		conn_send_failed(c, what);
		return -1;
	}
	return 0;
}

/* A message of no bytes, answered OK. */
static int conn_ask(struct ps_conn *c, uint32_t cmd)
{
	return conn_send(c, cmd, 0, NULL, 0) || conn_reply(c, PS_OK, NULL, 0) ? -1 : 0;
}

int ps_data(struct ps_conn *c, uint32_t handle, uint64_t len)
{
	struct ps_hdr h = { PS_DATA, handle, len };

	return conn_raw(c, &h, sizeof(h), MSG_MORE, "send pages to");
}

int ps_sync(struct ps_conn *c)
{
	return conn_ask(c, PS_SYNC);
}

int ps_close(struct ps_conn *c, uint32_t handle, uint64_t *size,
	     uint8_t sha256[IMG_HASH_SIZE])
{
	struct ps_sum sum;

	if (conn_send(c, PS_CLOSE, handle, NULL, 0) ||
	    conn_reply(c, PS_SUM, &sum, sizeof(sum)))
		return -1;
	*size = sum.size;
	memcpy(sha256, sum.sha256, IMG_HASH_SIZE);
	return 0;
}

int ps_commit(struct ps_conn *c)
{
	if (fault("page-server-commit")) {
		pr_err("page server %s: commit failed (fault injected)", c->where);
		return -1;
	}
	return conn_ask(c, PS_COMMIT);
}

int ps_get(struct ps_conn *c, const char *name, uint64_t size,
	   const uint8_t sha256[IMG_HASH_SIZE], uint32_t *handle)
{
	struct ps_get g = { .size = size };

	memcpy(g.sha256, sha256, IMG_HASH_SIZE);
	snprintf(g.name, sizeof(g.name), "%s", name);
	if (conn_send(c, PS_GET, c->nr_open + 1, &g, sizeof(g)) ||
	    conn_reply(c, PS_OK, NULL, 0))
		return -1;
	*handle = ++c->nr_open;
	return 0;
}

/* READ's header carries the length wanted; the offset follows it. */
int ps_read(struct ps_conn *c, uint32_t handle, uint64_t off, void *buf, size_t len)
{
	struct { struct ps_hdr h; uint64_t off; } m = { { PS_READ, handle, len }, off };
	struct ps_hdr h = { 0, 0, 0 };

	if (conn_raw(c, &m, sizeof(m), 0, "ask for pages from"))
		return -1;
	if (read_all(c->sk, &h, sizeof(h))) {
		c->broken = true;
		conn_read_failed(c, "asked for pages");
		return -1;
	}
	if (h.cmd != PS_DATA || h.len != len) {
		char msg[PS_MAX_MSG + 1] = "";

		c->broken = true;
		if (h.cmd == PS_ERR && h.len <= PS_MAX_MSG && !read_all(c->sk, msg, h.len))
			pr_err("the page server %s refused: %s", c->where, msg);
		else
			pr_err("the page server %s did not send the %zu bytes at offset %llu",
			       c->where, len, (unsigned long long)off);
		return -1;
	}
	if (read_all(c->sk, buf, len)) {
		c->broken = true;
		conn_read_failed(c, "sending pages");
		return -1;
	}
	return 0;
}

int ps_done(struct ps_conn *c)
{
	return conn_ask(c, PS_DONE);
}

void ps_abort(struct ps_conn *c)
{
	if (c && !c->broken)
		send_msg(c->sk, PS_ABORT, 0, NULL, 0);
	if (c)
		c->broken = true;
}

void ps_disconnect(struct ps_conn *c)
{
	if (!c)
		return;
	if (c->sk >= 0)
		close(c->sk);
	free(c);
}
