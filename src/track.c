/* Tracking written pages between dumps of a chain: see track.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "image.h"
#include "log.h"
#include "mem.h"
#include "parasite.h"
#include "track.h"
#include "util.h"

#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED	(1ULL << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC		(1ULL << 15)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY		1
#endif

struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};

struct page_region {
	uint64_t start, end, categories;
};

#define PAGEMAP_SCAN		_IOWR('f', 16, struct pm_scan_arg)
#define PAGE_SZ			4096ULL

static long rsys(struct parasite_ctl *ctl, long nr, unsigned long a0, unsigned long a1,
		 unsigned long a2)
{
	return parasite_rsys(ctl, nr, a0, a1, a2, 0, 0, 0);
}

static int data_vma(const VmaEntry *v)
{
	return v->kind == VMA_KIND__VMA_ANON_PRIVATE || v->kind == VMA_KIND__VMA_FILE_PRIVATE;
}

int track_start(struct parasite_ctl *ctl, const struct mem_layout *ml, int *uffd)
{
	/* The parasite's data area is free once the pages are out. */
	uint64_t remote = ctl->remote + ctl->data_off;
	void *local = ctl->local + ctl->data_off;
	struct uffdio_api api = { .api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED };
	int tracked = 0;
	long fd, r;

	*uffd = -1;
	/*
	 * Until crest has closed it, the process's copy is the parasite's to
	 * close should crest die (extra_fd): its registrations go with the
	 * last copy, and the fd table is as it was.
	 */
	ctl->args->rsys_fd = 1;
	ctl->rsys_die = "die-track-uffd-exit";
	fd = rsys(ctl, SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK, 0, 0);
	if (fd == -EPERM)	/* vm.unprivileged_userfaultfd = 0 */
		fd = rsys(ctl, SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY,
			  0, 0);
	ctl->rsys_die = NULL;
	if (fd >= 0)
		ctl->args->extra_fd = fd;
	ctl->args->rsys_fd = 0;
	fault_die("die-track-uffd");
	if (fd < 0) {
		errno = -fd;
		pr_perror("can't track the writes of process %d: userfaultfd", ctl->pid);
		return -1;
	}
	memcpy(local, &api, sizeof(api));
	r = rsys(ctl, SYS_ioctl, fd, UFFDIO_API, remote);
	memcpy(&api, local, sizeof(api));
	if (r || !(api.features & UFFD_FEATURE_WP_ASYNC)) {
		errno = r ? -r : EOPNOTSUPP;
		pr_perror("can't track the writes of process %d: UFFDIO_API with WP_ASYNC",
			  ctl->pid);
		goto out;
	}
	for (int i = 0; i < ml->nr_vmas; i++) {
		const VmaEntry *v = ml->vmas[i];
		struct uffdio_register reg = { .range = { v->start, v->end - v->start },
					       .mode = UFFDIO_REGISTER_MODE_WP };
		struct uffdio_writeprotect wp = { .range = reg.range,
						  .mode = UFFDIO_WRITEPROTECT_MODE_WP };

		if (!data_vma(v))
			continue;
		memcpy(local, &reg, sizeof(reg));
		r = rsys(ctl, SYS_ioctl, fd, UFFDIO_REGISTER, remote);
		if (r) {
			/* Saved in full by the next dump: nothing is lost. */
			pr_debug("process %d: mapping %llx-%llx not tracked: %s", ctl->pid,
				 (unsigned long long)v->start, (unsigned long long)v->end,
				 strerror((int)-r));
			continue;
		}
		memcpy(local, &wp, sizeof(wp));
		r = rsys(ctl, SYS_ioctl, fd, UFFDIO_WRITEPROTECT, remote);
		if (r) {
			errno = -r;
			pr_perror("can't write-protect %llx-%llx of process %d",
				  (unsigned long long)v->start, (unsigned long long)v->end,
				  ctl->pid);
			goto out;
		}
		tracked++;
	}
	fault_die("die-track-registered");
	*uffd = pidfd_take(ctl->pid, (int)fd);
	if (*uffd < 0)
		goto out;
	pr_debug("process %d: %d mappings tracked", ctl->pid, tracked);
out:
	/* The process keeps nothing of ours; closing its copy keeps crest's. */
	ctl->args->extra_fd = -1;
	rsys(ctl, SYS_close, fd, 0, 0);
	return *uffd < 0 ? -1 : 0;
}

int track_written(int pm_fd, uint64_t start, uint64_t end, uint8_t *written)
{
	enum { NR = 512 };
	struct page_region r[NR];
	uint64_t at = start;

	/* Untracked unless the scan says otherwise. */
	memset(written, 1, (end - start) / PAGE_SZ);
	while (at < end) {
		struct pm_scan_arg a = {
			.size = sizeof(a), .start = at, .end = end,
			.vec = (uint64_t)r, .vec_len = NR,
			.category_mask = PAGE_IS_WPALLOWED,
			.return_mask = PAGE_IS_WPALLOWED | PAGE_IS_WRITTEN,
		};
		long n = ioctl(pm_fd, PAGEMAP_SCAN, &a);

		if (n < 0) {
			pr_perror("can't scan the pagemap at %llx", (unsigned long long)at);
			return -1;
		}
		for (long i = 0; i < n; i++) {
			if (r[i].categories & PAGE_IS_WRITTEN)
				continue;
			for (uint64_t p = r[i].start; p < r[i].end; p += PAGE_SZ)
				written[(p - start) / PAGE_SZ] = 0;
		}
		if (a.walk_end <= at)
			break;
		at = a.walk_end;
	}
	return 0;
}

/* ---- the keeper ---- */

struct track_msg {
	int32_t pid;		/* 0: the end */
	int32_t pad;
};

static void sock_name(struct sockaddr_un *sa, socklen_t *len, const char *name)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	/* Abstract: nothing on disk, gone with the keeper. */
	snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "%s", name);
	*len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

static int send_entry(int sk, const struct track *t)
{
	struct track_msg m = { .pid = t ? t->pid : 0 };
	struct iovec iov = { &m, sizeof(m) };
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (t) {
		struct cmsghdr *c;

		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(2 * sizeof(int));
		memcpy(CMSG_DATA(c), (int[]){ t->uffd, t->pidfd }, 2 * sizeof(int));
	}
	return sendmsg(sk, &mh, MSG_NOSIGNAL) == sizeof(m) ? 0 : -1;
}

/* Serve one dump: every live entry, the end, then its word it took them. */
static bool serve(int sk, struct track *t, int nr)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	char ack;

	/* Only root or the keeper's own user may take the tracking. */
	if (getsockopt(sk, SOL_SOCKET, SO_PEERCRED, &cr, &len) ||
	    (cr.uid != 0 && cr.uid != getuid()))
		return false;
	for (int i = 0; i < nr; i++)
		if (t[i].uffd >= 0 && send_entry(sk, &t[i]))
			return false;
	if (send_entry(sk, NULL))
		return false;
	return read(sk, &ack, 1) == 1 && ack == 'k';
}

static void keeper_main(int lsk, struct track *t, int nr)
{
	struct pollfd *p = xzalloc((nr + 1) * sizeof(*p));
	int live = nr, null = open("/dev/null", O_RDWR | O_CLOEXEC);

	setsid();
	if (chdir("/"))
		_exit(1);
	prctl(PR_SET_NAME, "crest-track");
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	log_init(NULL, -1);
	while (live > 0) {
		p[0].fd = lsk;
		p[0].events = POLLIN;
		for (int i = 0; i < nr; i++) {
			p[i + 1].fd = t[i].uffd >= 0 ? t[i].pidfd : -1;
			p[i + 1].events = POLLIN;
		}
		if (poll(p, nr + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		for (int i = 0; i < nr; i++)
			if (t[i].uffd >= 0 && (p[i + 1].revents & (POLLIN | POLLHUP))) {
				/* The process is gone: so is its tracking. */
				close(t[i].uffd);
				t[i].uffd = -1;
				live--;
			}
		if (live > 0 && (p[0].revents & POLLIN)) {
			int sk = accept4(lsk, NULL, NULL, SOCK_CLOEXEC);

			if (sk >= 0 && serve(sk, t, nr)) {
				/*
				 * Handed over. Our copies go before the socket
				 * does: the dump waits for its end, and only then
				 * is its copy the last (a mapping can't be
				 * registered anew while the old userfaultfd lives).
				 */
				for (int i = 0; i < nr; i++) {
					if (t[i].uffd >= 0)
						close(t[i].uffd);
					close(t[i].pidfd);
				}
				close(sk);
				_exit(0);
			}
			if (sk >= 0)
				close(sk);
		}
	}
	_exit(0);
}

int track_keep(const uint8_t id[16], struct track *t, int nr, char **name)
{
	char idstr[2 * IMG_ID_SIZE + 1];
	struct sockaddr_un sa;
	socklen_t len;
	int lsk, ret, *keep;

	img_id_str(id, idstr);
	*name = xsprintf("crest-track-%s", idstr);
	sock_name(&sa, &len, *name);
	lsk = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (lsk < 0 || bind(lsk, (struct sockaddr *)&sa, len) || listen(lsk, 4)) {
		pr_perror("can't make the tracking socket '@%s'", *name);
		if (lsk >= 0)
			close(lsk);
		return -1;
	}
	/* Nothing of the dump's but its socket and the fds it keeps. */
	keep = xzalloc((2 * nr + 1) * sizeof(int));
	keep[0] = lsk;
	for (int i = 0; i < nr; i++) {
		keep[1 + 2 * i] = t[i].uffd;
		keep[2 + 2 * i] = t[i].pidfd;
	}
	ret = fork_keeper("tracking keeper", keep, 2 * nr + 1);
	free(keep);
	if (ret == 0)
		keeper_main(lsk, t, nr);
	close(lsk);
	if (ret < 0)
		return -1;
	return 0;
}

/* Which pid does this pidfd name (-1: a dead process, 0: unknown)? */
static pid_t pidfd_pid(int pidfd)
{
	char path[64], *buf, *p;
	pid_t pid = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	buf = read_file(path, NULL);
	if (buf && (p = strstr(buf, "\nPid:")))
		pid = (pid_t)strtol(p + 5, NULL, 10);
	free(buf);
	return pid;
}

int track_take(const char *name, struct track **out, int *nr)
{
	struct sockaddr_un sa;
	socklen_t len;
	struct track *t = NULL;
	int sk, n = 0, ret = -1;

	*out = NULL;
	*nr = 0;
	sock_name(&sa, &len, name);
	sk = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sk < 0) {
		pr_perror("can't make a socket");
		return -1;
	}
	if (connect(sk, (struct sockaddr *)&sa, len)) {
		pr_info("no tracking keeper '@%s' (%s): every page is saved", name,
			strerror(errno));
		close(sk);
		return 0;
	}
	for (;;) {
		struct track_msg m;
		struct iovec iov = { &m, sizeof(m) };
		union {
			char buf[CMSG_SPACE(2 * sizeof(int))];
			struct cmsghdr align;
		} u;
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
		struct cmsghdr *c;
		int fds[2];
		ssize_t got = recvmsg(sk, &mh, MSG_CMSG_CLOEXEC);

		if (got != sizeof(m)) {
			pr_err("the tracking keeper '@%s' stopped answering", name);
			goto out;
		}
		if (!m.pid)
			break;
		c = CMSG_FIRSTHDR(&mh);
		if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(2 * sizeof(int))) {
			pr_err("the tracking keeper '@%s' sent process %d without its fds",
			       name, m.pid);
			goto out;
		}
		memcpy(fds, CMSG_DATA(c), sizeof(fds));
		/*
		 * The pidfd names the very process tracked: while it lives, no
		 * other can have its PID.
		 */
		if (pidfd_pid(fds[1]) != m.pid) {
			close(fds[0]);
			close(fds[1]);
			continue;
		}
		t = xrealloc(t, (n + 1) * sizeof(*t));
		t[n++] = (struct track){ .pid = m.pid, .uffd = fds[0], .pidfd = fds[1] };
	}
	if (write(sk, "k", 1) != 1) {
		pr_perror("can't answer the tracking keeper '@%s'", name);
		goto out;
	}
	/* Its end: the keeper has closed its copies by then. */
	{
		struct pollfd p = { sk, POLLIN, 0 };
		char c;

		if (poll(&p, 1, 10000) != 1 || read(sk, &c, 1) != 0)
			pr_warn("the tracking keeper '@%s' did not let go: its mappings may be tracked afresh only in part",
				name);
	}
	ret = 0;
out:
	close(sk);
	if (ret) {
		track_free(t, n);
		return -1;
	}
	*out = t;
	*nr = n;
	return 0;
}

void track_free(struct track *t, int nr)
{
	for (int i = 0; i < nr; i++) {
		if (t[i].uffd >= 0)
			close(t[i].uffd);
		if (t[i].pidfd >= 0)
			close(t[i].pidfd);
	}
	free(t);
}
