/*
 * crest swrk FD: CRIU's RPC, as runc and other container runtimes speak it
 * (criu swrk FD): criu_req messages on a SOCK_SEQPACKET socket, one per
 * packet, each answered by a criu_resp. DUMP, PRE_DUMP and RESTORE run
 * crest dump / pre-dump / restore with the options the request gives;
 * VERSION, CHECK and FEATURE_CHECK are answered here. An option crest does
 * not offer makes the request fail, naming it: never silently ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "opts.h"
#include "restore-task.h"
#include "swrk.h"
#include "util.h"

#include "rpc.pb-c.h"

#define MAX_PACKET	(1 << 20)
#define MAX_ARGS	256

struct argv_buf {
	char *v[MAX_ARGS + 1];
	int n;
};

static void add(struct argv_buf *a, char *s)
{
	if (a->n < MAX_ARGS)
		a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static int send_resp(int sk, CriuResp *r)
{
	size_t len = criu_resp__get_packed_size(r);
	uint8_t *buf = xzalloc(len + 1);
	ssize_t n;

	criu_resp__pack(r, buf);
	n = send(sk, buf, len, MSG_NOSIGNAL);
	free(buf);
	if (n != (ssize_t)len) {
		pr_perror("can't answer on the RPC socket");
		return -1;
	}
	return 0;
}

static int fail_resp(int sk, CriuReqType type, int err, const char *msg)
{
	CriuResp r = CRIU_RESP__INIT;

	r.type = type;
	r.success = 0;
	r.has_cr_errno = err != 0;
	r.cr_errno = err;
	r.cr_errmsg = (char *)msg;
	pr_err("RPC request %d failed: %s", type, msg);
	return send_resp(sk, &r);
}

/*
 * The caller: the process at the other end of the socket. Its fd numbers
 * (images_dir_fd, work_dir_fd, status_fd) are its own, not ours: runc
 * passes us only the socket.
 */
static pid_t peer_pid(int sk)
{
	struct ucred cr = { .pid = 0 };
	socklen_t len = sizeof(cr);

	if (getsockopt(sk, SOL_SOCKET, SO_PEERCRED, &cr, &len))
		return 0;
	return cr.pid;
}

/* /proc/PEER/fd/FD: an fd of the caller's; NULL if it has none there. */
static char *peer_fd_link(int sk, int fd)
{
	pid_t peer = peer_pid(sk);

	if (fd < 0 || peer <= 0)
		return NULL;
	return xsprintf("/proc/%d/fd/%d", peer, fd);
}

/* The directory behind an fd the caller passed (images_dir_fd, work_dir_fd). */
static char *fd_path(int sk, int fd)
{
	char *link = peer_fd_link(sk, fd), *path;
	struct stat st;

	if (!link)
		return NULL;
	path = stat(link, &st) == 0 && S_ISDIR(st.st_mode) ? readlink_alloc(link) : NULL;
	free(link);
	return path;
}

/*
 * A notification (notify_scripts): the caller's hook runs while we wait
 * for its answer, a criu_req of type NOTIFY with notify_success.
 */
static int notify(int sk, const char *script, int pid)
{
	CriuResp r = CRIU_RESP__INIT;
	CriuNotify n = CRIU_NOTIFY__INIT;
	uint8_t *buf = xzalloc(MAX_PACKET);
	CriuReq *req;
	ssize_t len;
	int ok;

	n.script = (char *)script;
	n.has_pid = pid > 0;
	n.pid = pid;
	r.type = CRIU_REQ_TYPE__NOTIFY;
	r.success = 1;
	r.notify = &n;
	if (send_resp(sk, &r)) {
		free(buf);
		return -1;
	}
	len = recv(sk, buf, MAX_PACKET, 0);
	req = len > 0 ? criu_req__unpack(NULL, len, buf) : NULL;
	free(buf);
	ok = req && req->type == CRIU_REQ_TYPE__NOTIFY && req->notify_success;
	if (req)
		criu_req__free_unpacked(req, NULL);
	if (!ok)
		pr_err("the caller's '%s' hook failed", script);
	return ok ? 0 : -1;
}

/*
 * A hook crest calls at its real moment (swrk_hook: the dump's
 * network-lock, the restore's hooks but pre-restore and post-resume),
 * through hook: its name (and the pid it names), then our 'y' once the
 * caller answered it, 'n' if its hook failed. false: hook's end is closed.
 */
static bool serve_hook(int sk, int hook)
{
	char name[64], *sp;
	ssize_t n = recv(hook, name, sizeof(name) - 1, MSG_DONTWAIT);
	int pid = 0;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;	/* every holder of crest's end is gone */
	name[n] = 0;
	/* "NAME PID": a restore's hook that names the restored root. */
	sp = strchr(name, ' ');
	if (sp) {
		*sp = 0;
		pid = atoi(sp + 1);
	}
	if (send(hook, notify(sk, name, pid) ? "n" : "y", 1, MSG_NOSIGNAL) != 1)
		pr_perror("can't answer crest's '%s' hook", name);
	return true;
}

/*
 * Run crest with argv, on our own stdio (a restored job's stdin, stdout
 * and stderr that lead outside are these), its messages also in log; the
 * first error it logged in errmsg. Its exit status. sk >= 0: the caller's
 * hooks crest calls while it runs go to it (CREST_SWRK_HOOK_FD).
 */
static int run_crest(struct argv_buf *a, const char *log, bool no_stdout, char *errmsg,
		     size_t len, int sk)
{
	int status = 0, hook[2] = { -1, -1 }, pidfd;
	bool live = true;
	char *buf, *line;
	pid_t pid;

	errmsg[0] = 0;
	if (sk >= 0 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, hook)) {
		pr_perror("can't make a socketpair");
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = no_stdout ? open("/dev/null", O_WRONLY) : -1;

		if (null >= 0)
			dup2(null, 1);
		if (hook[1] >= 0) {
			char v[16];

			/* Kept across the exec: crest's end. */
			fcntl(hook[1], F_SETFD, 0);
			snprintf(v, sizeof(v), "%d", hook[1]);
			setenv("CREST_SWRK_HOOK_FD", v, 1);
		}
		execv("/proc/self/exe", a->v);
		_exit(127);
	}
	if (hook[1] >= 0)
		close(hook[1]);
	/* Its hooks till it exits (a server it left may hold its end on). */
	pidfd = hook[0] >= 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
	while (pidfd >= 0) {
		struct pollfd p[2] = { { pidfd, POLLIN, 0 }, { hook[0], POLLIN, 0 } };

		if (poll(p, live ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (live && (p[1].revents & POLLIN)) {
			live = serve_hook(sk, hook[0]);
			continue;
		}
		if (live && p[1].revents)
			live = false;
		if (p[0].revents)
			break;		/* crest exited */
	}
	if (pidfd >= 0)
		close(pidfd);
	if (hook[0] >= 0)
		close(hook[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	/*
	 * The first error and the lines of errors right after it: a refusal
	 * is a heading and a line per thing in the way, and the caller wants
	 * them all.
	 */
	buf = log ? read_file(log, NULL) : NULL;
	line = buf ? strstr(buf, "error: ") : NULL;
	for (size_t n = 0; line && n < len;) {
		char *e = line + 7, *end = e + strcspn(e, "\n"), *next;

		e += strspn(e, " ");
		n += snprintf(errmsg + n, len - n, "%s%.*s", n ? "\n" : "", (int)(end - e), e);
		if (!*end)
			break;
		next = end + 1;
		line = strstr(next, "error: ");
		if (!line || memchr(next, '\n', line - next))
			break;		/* not the next line's */
	}
	free(buf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int swrk_hook(const char *name)
{
	return swrk_hook_pid(name, 0);
}

int swrk_hook_pid(const char *name, int pid)
{
	const char *env = getenv("CREST_SWRK_HOOK_FD");
	char msg[64];
	struct pollfd p;
	size_t len;
	char c = 0;
	int fd;

	if (!env)
		return 0;
	fd = atoi(env);
	p.fd = fd;
	p.events = POLLIN;
	if (pid > 0)
		snprintf(msg, sizeof(msg), "%s %d", name, pid);
	else
		snprintf(msg, sizeof(msg), "%s", name);
	len = strlen(msg);
	if (send(fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len || poll(&p, 1, -1) != 1 ||
	    read(fd, &c, 1) != 1 || c != 'y') {
		pr_err("the caller's '%s' hook failed", name);
		return -1;
	}
	return 0;
}

/*
 * The log the request names (log_file in work_dir_fd, else in the images
 * directory), or one of ours for the cause of a failure, removed after.
 * Our own refusals go there too: runc shows its caller only the name of
 * the log, never cr_errmsg.
 */
static int log_path(int sk, const CriuOpts *o, const char *dir, char *log, size_t loglen,
		    char *why, size_t len)
{
	char *logdir;

	if (!o->log_file) {
		snprintf(log, loglen, "/run/.crest-swrk.%d.log", getpid());
		unlink(log);
		return 0;
	}
	if (strchr(o->log_file, '/')) {
		snprintf(why, len, "log_file '%s' has a '/' (it names a file in work_dir_fd)",
			 o->log_file);
		return -1;
	}
	logdir = o->has_work_dir_fd ? fd_path(sk, o->work_dir_fd) : xstrdup(dir);
	if (!logdir) {
		snprintf(why, len, "work_dir_fd %d is not a directory open in the caller",
			 o->work_dir_fd);
		return -1;
	}
	snprintf(log, loglen, "%s/%s", logdir, o->log_file);
	free(logdir);
	return 0;
}

/*
 * The fields that change nothing for crest or that it can't honour: 0 if
 * every one set is fine, -1 with the reason in why.
 */
static int check_fields(int sk, const CriuReq *req, char *why, size_t len)
{
	const CriuOpts *o = req->opts;

	if (o->base.n_unknown_fields) {
		snprintf(why, len, "option field %u of criu_opts is not supported by crest",
			 o->base.unknown_fields[0].tag);
		return -1;
	}
	/*
	 * A page server by address: where a dump sends its pages, or where a
	 * lazy restore reads them (restore --lazy-pages --page-server); an
	 * fd or a pid of one is not crest's.
	 */
	if (o->ps && ((req->type == CRIU_REQ_TYPE__RESTORE && !o->lazy_pages) ||
		      o->ps->has_fd || o->ps->has_pid || !o->ps->address || !o->ps->has_port)) {
		snprintf(why, len, "a page server (criu_opts.ps) is supported by crest by address and port only, for DUMP and PRE_DUMP, and for a RESTORE with lazy_pages");
		return -1;
	}
	if (o->lazy_pages && req->type != CRIU_REQ_TYPE__RESTORE) {
		snprintf(why, len, "criu_opts.lazy_pages at a dump: crest dumps every page into the images (or to the page server, criu_opts.ps); ask for lazy_pages at the RESTORE");
		return -1;
	}
	/* CRIU would punch the restored pages out of the images: crest keeps them. */
	if (o->auto_dedup && req->type == CRIU_REQ_TYPE__RESTORE) {
		snprintf(why, len, "criu_opts.auto_dedup at a RESTORE: crest leaves the images whole (it punches no restored pages out of them); restore without auto_dedup");
		return -1;
	}
	/* CRIU ignores a configuration file that does not exist; runc names one always. */
	if (o->config_file && access(o->config_file, F_OK) == 0) {
		snprintf(why, len, "criu_opts.config_file '%s': crest reads no CRIU configuration file; remove it (runc: /etc/criu/runc.conf or the org.criu.config annotation)",
			 o->config_file);
		return -1;
	}
	if (o->lsm_profile) {
		snprintf(why, len, "criu_opts.lsm_profile '%s': crest restores no LSM profile; not supported yet",
			 o->lsm_profile);
		return -1;
	}
	if (o->n_external) {
		snprintf(why, len, "criu_opts.external '%s': crest has no external resources of that kind; not supported yet",
			 o->external[0]);
		return -1;
	}
	/*
	 * empty_ns: namespaces the caller sets up itself. runc names the
	 * network one always. Not honoured yet: a network namespace of the
	 * tree is saved and made again with its loopback, addresses and
	 * routes, not empty (crest(8)); other bits are refused.
	 */
	if (o->empty_ns & ~(uint32_t)CLONE_NEWNET) {
		snprintf(why, len, "criu_opts.empty_ns 0x%x: crest makes no empty namespace but a network one; not supported yet",
			 o->empty_ns);
		return -1;
	}
	/* inherit_fd: fds of ours, as CRIU's (runc passes its stdio as ours). */
	for (size_t i = 0; i < o->n_inherit_fd; i++)
		if (req->type != CRIU_REQ_TYPE__RESTORE || o->inherit_fd[i]->fd < 0) {
			snprintf(why, len, "criu_opts.inherit_fd '%s' (fd %d): only a RESTORE takes an fd of the caller's",
				 o->inherit_fd[i]->key, o->inherit_fd[i]->fd);
			return -1;
		}
	(void)sk;
	return 0;
}

/*
 * criu_opts.root at a dump: the tree's root, which crest reads from
 * /proc/PID/root itself; it must be that very directory.
 */
static int check_dump_root(const CriuOpts *o, pid_t pid, char *why, size_t len)
{
	char link[64];
	struct stat a, b;

	if (!o->root)
		return 0;
	snprintf(link, sizeof(link), "/proc/%d/root", pid);
	if (stat(o->root, &a) || stat(link, &b)) {
		snprintf(why, len, "criu_opts.root '%s' or the root of process %d can't be looked at: %s",
			 o->root, pid, strerror(errno));
		return -1;
	}
	if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		snprintf(why, len, "criu_opts.root '%s' is not the root directory of process %d",
			 o->root, pid);
		return -1;
	}
	return 0;
}

/* criu_opts.ps: --page-server at its address and port. */
static void add_page_server(struct argv_buf *a, const CriuOpts *o)
{
	static char portbuf[16];

	if (!o->ps)
		return;
	snprintf(portbuf, sizeof(portbuf), "%d", o->ps->port);
	add(a, "--page-server");
	add(a, "--address");
	add(a, o->ps->address);
	add(a, "--port");
	add(a, portbuf);
}

/*
 * FEATURE_CHECK's lazy_pages: a userfaultfd with the events the restorer
 * asks for at restore --lazy-pages (restore-task.h).
 */
static int lazy_pages_work(void)
{
	struct uffdio_api api = { .api = UFFD_API, .features = LAZY_UFFD_FEATURES };
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK), ok;

	if (fd < 0)
		return 0;
	ok = !ioctl(fd, UFFDIO_API, &api);
	close(fd);
	return ok;
}

/* Options of the request into crest's; -1 with the reason in why. */
static int build_args(int sk, const CriuReq *req, struct argv_buf *a, char *dir,
		      char *pidfile, const char *log, char *why, size_t len)
{
	const CriuOpts *o = req->opts;
	static char pidbuf[32], vbuf[16], fdbuf[16];

	if (check_fields(sk, req, why, len))
		return -1;
	add(a, "crest");
	switch (req->type) {
	case CRIU_REQ_TYPE__DUMP:	add(a, "dump"); break;
	case CRIU_REQ_TYPE__PRE_DUMP:	add(a, "pre-dump"); break;
	default:			add(a, "restore"); break;
	}
	add(a, "-D");
	add(a, dir);
	if (req->type != CRIU_REQ_TYPE__RESTORE) {
		/* Unset: the caller itself, as CRIU (the peer of the socket). */
		pid_t pid = o->has_pid ? o->pid : peer_pid(sk);

		if (check_dump_root(o, pid, why, len))
			return -1;
		snprintf(pidbuf, sizeof(pidbuf), "%d", pid);
		add(a, "-t");
		add(a, pidbuf);
		if (o->leave_running && req->type == CRIU_REQ_TYPE__DUMP)
			add(a, "-R");
		if (o->parent_img) {
			add(a, "--prev-images-dir");
			add(a, o->parent_img);
		}
		if (o->track_mem && req->type == CRIU_REQ_TYPE__DUMP)
			add(a, "--track-mem");
		if (o->auto_dedup && o->parent_img)
			add(a, "--auto-dedup");
		add_page_server(a, o);
		if (o->freeze_cgroup) {
			add(a, "--freeze-cgroup");
			add(a, o->freeze_cgroup);
		}
		if (o->has_timeout && o->timeout) {
			snprintf(why, len, "criu_opts.timeout is not supported by crest's dump");
			return -1;
		}
		if (o->ext_unix_sk)
			add(a, "--ext-unix-sk");
		if (o->tcp_established)
			add(a, "--tcp-established");
		if (o->tcp_skip_in_flight && req->type == CRIU_REQ_TYPE__DUMP)
			add(a, "--skip-in-flight");
		if (o->tcp_close) {
			snprintf(why, len, "criu_opts.tcp_close at a dump: crest saves the connections (tcp_established) and closes them at the RESTORE that asks for tcp_close");
			return -1;
		}
	} else {
		/* A container's root filesystem (crest restore --root decides). */
		if (o->root) {
			add(a, "--root");
			add(a, xstrdup(o->root));
		}
		add(a, "-d");
		if (o->lazy_pages)
			add(a, "--lazy-pages");
		add_page_server(a, o);	/* lazy_pages only (check_fields) */
		if (o->evasive_devices)
			add(a, "--evasive-devices");
		if (o->tcp_close)
			add(a, "--tcp-close");
		add(a, "--pidfile");
		add(a, pidfile);
		if (o->has_status_fd) {
			/* The caller's fd, opened here for the child to inherit. */
			char *link = peer_fd_link(sk, o->status_fd);
			int fd = link ? open(link, O_WRONLY) : -1;

			free(link);
			if (fd < 0) {
				snprintf(why, len, "status_fd %d is not open in the caller", o->status_fd);
				return -1;
			}
			snprintf(fdbuf, sizeof(fdbuf), "%d", fd);
			add(a, "--status-fd");
			add(a, fdbuf);
		}
	}
	/*
	 * manage_cgroups: soft if true, ignore if false; manage_cgroups_mode
	 * overrides it (CRIU's rule; DEFAULT is soft). A pre-dump saves none.
	 */
	if (req->type != CRIU_REQ_TYPE__PRE_DUMP &&
	    (o->has_manage_cgroups || o->has_manage_cgroups_mode)) {
		static const char *const modes[] = {
			[CRIU_CG_MODE__IGNORE] = "ignore", [CRIU_CG_MODE__CG_NONE] = "none",
			[CRIU_CG_MODE__PROPS] = "props", [CRIU_CG_MODE__SOFT] = "soft",
			[CRIU_CG_MODE__FULL] = "full", [CRIU_CG_MODE__STRICT] = "strict",
			[CRIU_CG_MODE__DEFAULT] = "soft",
		};
		unsigned m = o->manage_cgroups ? CRIU_CG_MODE__SOFT : CRIU_CG_MODE__IGNORE;

		if (o->has_manage_cgroups_mode)
			m = o->manage_cgroups_mode;
		if (m >= sizeof(modes) / sizeof(*modes) || !modes[m]) {
			snprintf(why, len, "criu_opts.manage_cgroups_mode %u is no mode CRIU knows", m);
			return -1;
		}
		add(a, xsprintf("--manage-cgroups=%s", modes[m]));
	}
	/* cg_root: where the caller wants the tree (runc: the cgroups it made). */
	for (size_t i = 0; req->type == CRIU_REQ_TYPE__RESTORE && i < o->n_cg_root; i++) {
		const char *ctrl = o->cg_root[i]->ctrl ? o->cg_root[i]->ctrl : "";

		add(a, "--cgroup-root");
		add(a, *ctrl ? xsprintf("%s:%s", ctrl, o->cg_root[i]->path) :
			 xstrdup(o->cg_root[i]->path));
	}
	for (size_t i = 0; req->type == CRIU_REQ_TYPE__RESTORE && i < o->n_inherit_fd; i++) {
		add(a, "--inherit-fd");
		add(a, xsprintf("fd[%d]:%s", o->inherit_fd[i]->fd, o->inherit_fd[i]->key));
	}
	/* ext_mnt: at a dump a mount point and its name, at a restore the name and a path. */
	for (size_t i = 0; i < o->n_ext_mnt; i++) {
		add(a, "--external");
		add(a, xsprintf("mnt[%s]:%s", o->ext_mnt[i]->key, o->ext_mnt[i]->val));
	}
	/* IPTABLES (CRIU's default) and NFTABLES: the lock crest has, BPF's. */
	if (o->has_network_lock && o->network_lock == CRIU_NETWORK_LOCK_METHOD__SKIP &&
	    req->type != CRIU_REQ_TYPE__PRE_DUMP) {
		add(a, "--network-lock");
		add(a, "skip");
	}
	if (o->shell_job)
		add(a, "--shell-job");
	if (o->file_locks)
		add(a, "-l");
	snprintf(vbuf, sizeof(vbuf), "-v%d", o->log_level);
	add(a, vbuf);
	add(a, (char *)"-o");
	add(a, (char *)log);
	return 0;
}

/* Our own refusal, into the log the caller reads, and as the answer. */
static int refuse_req(int sk, const CriuReq *req, const char *log, int err, const char *why)
{
	FILE *f = log[0] ? fopen(log, "a") : NULL;

	if (f) {
		fprintf(f, "error: %s\n", why);
		fclose(f);
	}
	return fail_resp(sk, req->type, err, why);
}

/*
 * The caller's hooks, in CRIU's order. crest's dump and restore run
 * whole in a child, which calls those of their real moments itself
 * (swrk_hook): a dump's network-lock as it locks, a restore's
 * setup-namespaces and post-setup-namespaces once every process exists,
 * post-restore and network-unlock once every one is rebuilt, before the
 * dump's network lock goes, pre-resume before they are let go; this
 * process the rest: pre-restore and pre-dump before the child,
 * post-resume and post-dump after it, and a dump's network-unlock (the
 * tree left running) after post-dump, as CRIU's.
 */
static const char *const dump_before[] = { "pre-dump", NULL };
static const char *const restore_after[] = { "post-resume", NULL };

static int notify_all(int sk, const char *const *scripts, int pid)
{
	for (int i = 0; scripts[i]; i++) {
		bool with_pid = !strcmp(scripts[i], "setup-namespaces") ||
				!strcmp(scripts[i], "post-restore");

		if (notify(sk, scripts[i], with_pid ? pid : 0))
			return -1;
	}
	return 0;
}

static int serve_cr(int sk, const CriuReq *req)
{
	CriuResp r = CRIU_RESP__INIT;
	CriuDumpResp dr = CRIU_DUMP_RESP__INIT;
	CriuRestoreResp rr = CRIU_RESTORE_RESP__INIT;
	struct argv_buf a = { .n = 0 };
	char why[4096] = "", pidfile[64], log[PATH_MAX] = "", *dir, *buf;
	bool restore = req->type == CRIU_REQ_TYPE__RESTORE;
	bool leave = req->type == CRIU_REQ_TYPE__PRE_DUMP || req->opts->leave_running;
	int rc, ret, pid = 0, notifies = req->opts && req->opts->notify_scripts;
	static const char *const pre_restore[] = { "pre-restore", NULL };
	static const char *const unlock[] = { "network-unlock", NULL };
	static const char *const post_dump[] = { "post-dump", NULL };

	if (!req->opts)
		return fail_resp(sk, req->type, EINVAL, "the request has no criu_opts");
	dir = fd_path(sk, req->opts->images_dir_fd);
	if (!dir)
		return fail_resp(sk, req->type, EBADF,
				 "images_dir_fd is not a directory open in the caller");
	if (log_path(sk, req->opts, dir, log, sizeof(log), why, sizeof(why))) {
		free(dir);
		return fail_resp(sk, req->type, EBADF, why);
	}
	snprintf(pidfile, sizeof(pidfile), "/run/.crest-swrk.%d.pid", getpid());
	if (build_args(sk, req, &a, dir, pidfile, log, why, sizeof(why))) {
		ret = refuse_req(sk, req, log, EOPNOTSUPP, why);
		goto out;
	}
	if (notifies && notify_all(sk, restore ? pre_restore :
				   dump_before, 0)) {
		ret = refuse_req(sk, req, log, ECANCELED, "the caller's hook failed");
		goto out;
	}
	unlink(pidfile);
	/* Hooks of their real moments come from crest (swrk_hook). */
	rc = run_crest(&a, log, false, why, sizeof(why),
		       notifies && (req->type == CRIU_REQ_TYPE__DUMP || restore) ? sk : -1);
	if (rc) {
		unlink(pidfile);
		ret = fail_resp(sk, req->type, EIO, why[0] ? why : "crest failed");
		goto out;
	}
	if (restore) {
		buf = read_file(pidfile, NULL);
		pid = buf ? atoi(buf) : 0;
		free(buf);
		unlink(pidfile);
		if (pid <= 0) {
			ret = fail_resp(sk, req->type, EIO, "the restored root's PID is unknown");
			goto out;
		}
		if (notifies && notify_all(sk, restore_after, pid)) {
			ret = fail_resp(sk, req->type, ECANCELED, "the caller's hook failed");
			goto out;
		}
		rr.pid = pid;
		r.restore = &rr;
	} else {
		if (notifies && (notify_all(sk, post_dump, 0) ||
				 (req->type == CRIU_REQ_TYPE__DUMP && leave &&
				  notify_all(sk, unlock, 0)))) {
			ret = fail_resp(sk, req->type, ECANCELED, "the caller's hook failed");
			goto out;
		}
		r.dump = &dr;
	}
	r.type = req->type;
	r.success = 1;
	ret = send_resp(sk, &r);
out:
	if (!req->opts->log_file)
		unlink(log);
	free(dir);
	return ret;
}

static int serve_check(int sk, const CriuReq *req)
{
	struct argv_buf a = { .n = 0 };
	CriuResp r = CRIU_RESP__INIT;
	char why[512];

	add(&a, "crest");
	add(&a, "check");
	if (run_crest(&a, NULL, true, why, sizeof(why), -1))
		return fail_resp(sk, req->type, ENOSYS,
				 "this kernel lacks a feature crest needs (see crest check)");
	r.type = req->type;
	r.success = 1;
	return send_resp(sk, &r);
}

int cr_swrk(const struct options *opts)
{
	int sk = opts->swrk_fd, type;
	uint8_t *buf = xzalloc(MAX_PACKET);

	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		ssize_t n = recv(sk, buf, MAX_PACKET, 0);
		CriuResp r = CRIU_RESP__INIT;
		CriuVersion v = CRIU_VERSION__INIT;
		CriuFeatures f = CRIU_FEATURES__INIT;
		CriuReq *req;
		int ret = 0;

		if (n == 0)
			break;		/* the caller is done */
		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("can't read the RPC socket");
			free(buf);
			return EXIT_FAIL;
		}
		req = criu_req__unpack(NULL, n, buf);
		if (!req) {
			fail_resp(sk, CRIU_REQ_TYPE__EMPTY, EINVAL, "a request that is not a criu_req");
			continue;
		}
		type = req->type;
		switch (type) {
		case CRIU_REQ_TYPE__DUMP:
		case CRIU_REQ_TYPE__PRE_DUMP:
		case CRIU_REQ_TYPE__RESTORE:
			ret = serve_cr(sk, req);
			break;
		case CRIU_REQ_TYPE__CHECK:
			ret = serve_check(sk, req);
			break;
		case CRIU_REQ_TYPE__VERSION:
			/* The level of CRIU's interface crest answers to. */
			v.major_number = 3;
			v.minor_number = 17;
			v.name = "crest";
			r.type = type;
			r.success = 1;
			r.version = &v;
			ret = send_resp(sk, &r);
			break;
		case CRIU_REQ_TYPE__FEATURE_CHECK:
			f.has_mem_track = f.mem_track = 1;	/* pre-dump tracks writes */
			f.has_lazy_pages = 1;
			f.lazy_pages = lazy_pages_work();	/* restore --lazy-pages */
			r.type = type;
			r.success = 1;
			r.features = &f;
			ret = send_resp(sk, &r);
			break;
		default: {
			char why[96];

			snprintf(why, sizeof(why), "request type %d is not supported by crest", type);
			ret = fail_resp(sk, type, EOPNOTSUPP, why);
		}
		}
		criu_req__free_unpacked(req, NULL);
		if (ret)
			break;
	}
	free(buf);
	return EXIT_OK;
}
