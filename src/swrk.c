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
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "opts.h"
#include "swrk.h"
#include "util.h"

#include "rpc.pb-c.h"

#define MAX_PACKET	(1 << 20)
#define MAX_ARGS	64

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

/* The path behind an fd the caller passed (images_dir_fd, work_dir_fd). */
static char *fd_path(int fd)
{
	char link[64];

	if (fd < 0 || fcntl(fd, F_GETFD) < 0)
		return NULL;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	return readlink_alloc(link);
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
 * Run crest with argv, on our own stdio (a restored job's stdin, stdout
 * and stderr that lead outside are these), its messages also in log; the
 * first error it logged in errmsg. Its exit status.
 */
static int run_crest(struct argv_buf *a, const char *log, bool no_stdout, char *errmsg,
		     size_t len)
{
	int status = 0;
	char *buf, *line;
	pid_t pid;

	errmsg[0] = 0;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = no_stdout ? open("/dev/null", O_WRONLY) : -1;

		if (null >= 0)
			dup2(null, 1);
		execv("/proc/self/exe", a->v);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	buf = log ? read_file(log, NULL) : NULL;
	line = buf ? strstr(buf, "error: ") : NULL;
	if (line)
		snprintf(errmsg, len, "%.*s", (int)strcspn(line + 7, "\n"), line + 7);
	free(buf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Options of the request into crest's; -1 with the reason in why. */
static int build_args(int sk, const CriuReq *req, struct argv_buf *a, char *dir,
		      char *pidfile, char *log, size_t loglen, char *why, size_t len)
{
	const CriuOpts *o = req->opts;
	static char pidbuf[32], vbuf[16], fdbuf[16];
	char *logdir;

	if (o->base.n_unknown_fields) {
		snprintf(why, len, "option field %u of criu_opts is not supported by crest",
			 o->base.unknown_fields[0].tag);
		return -1;
	}
	if (o->ps) {
		snprintf(why, len, "a page server (criu_opts.ps) is not supported by crest");
		return -1;
	}
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
		struct ucred cr = { .pid = 0 };
		socklen_t crlen = sizeof(cr);

		if (!o->has_pid && getsockopt(sk, SOL_SOCKET, SO_PEERCRED, &cr, &crlen))
			cr.pid = 0;
		snprintf(pidbuf, sizeof(pidbuf), "%d", o->has_pid ? o->pid : cr.pid);
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
	} else {
		add(a, "-d");
		add(a, "--pidfile");
		add(a, pidfile);
		if (o->has_status_fd) {
			snprintf(fdbuf, sizeof(fdbuf), "%d", o->status_fd);
			add(a, "--status-fd");
			add(a, fdbuf);
		}
	}
	if (o->shell_job)
		add(a, "--shell-job");
	if (o->file_locks)
		add(a, "-l");
	snprintf(vbuf, sizeof(vbuf), "-v%d", o->log_level);
	add(a, vbuf);
	if (!o->log_file) {
		/* Our own, for the cause of a failure; removed after. */
		snprintf(log, loglen, "/run/.crest-swrk.%d.log", getpid());
		unlink(log);
		add(a, "-o");
		add(a, log);
	} else {
		if (strchr(o->log_file, '/')) {
			snprintf(why, len, "log_file '%s' has a '/' (it names a file in work_dir_fd)",
				 o->log_file);
			return -1;
		}
		logdir = o->has_work_dir_fd ? fd_path(o->work_dir_fd) : xstrdup(dir);
		if (!logdir) {
			snprintf(why, len, "work_dir_fd %d is not an open directory", o->work_dir_fd);
			return -1;
		}
		snprintf(log, loglen, "%s/%s", logdir, o->log_file);
		add(a, "-o");
		add(a, xstrdup(log));
		free(logdir);
	}
	return 0;
}

static int serve_cr(int sk, const CriuReq *req)
{
	CriuResp r = CRIU_RESP__INIT;
	CriuDumpResp dr = CRIU_DUMP_RESP__INIT;
	CriuRestoreResp rr = CRIU_RESTORE_RESP__INIT;
	struct argv_buf a = { .n = 0 };
	char why[512] = "", pidfile[64], log[PATH_MAX] = "", *dir, *buf;
	bool restore = req->type == CRIU_REQ_TYPE__RESTORE;
	int rc, pid = 0, notifies = req->opts && req->opts->notify_scripts;

	if (!req->opts)
		return fail_resp(sk, req->type, EINVAL, "the request has no criu_opts");
	dir = fd_path(req->opts->images_dir_fd);
	if (!dir)
		return fail_resp(sk, req->type, EBADF, "images_dir_fd is not an open directory");
	snprintf(pidfile, sizeof(pidfile), "/run/.crest-swrk.%d.pid", getpid());
	if (build_args(sk, req, &a, dir, pidfile, log, sizeof(log), why, sizeof(why))) {
		free(dir);
		return fail_resp(sk, req->type, EOPNOTSUPP, why);
	}
	if (notifies && notify(sk, restore ? "pre-restore" : "pre-dump", 0)) {
		free(dir);
		return fail_resp(sk, req->type, ECANCELED, "the caller's hook failed");
	}
	unlink(pidfile);
	rc = run_crest(&a, log, false, why, sizeof(why));
	if (!req->opts->log_file)
		unlink(log);
	if (rc) {
		free(dir);
		unlink(pidfile);
		return fail_resp(sk, req->type, EIO, why[0] ? why : "crest failed");
	}
	if (restore) {
		buf = read_file(pidfile, NULL);
		pid = buf ? atoi(buf) : 0;
		free(buf);
		unlink(pidfile);
		if (pid <= 0) {
			free(dir);
			return fail_resp(sk, req->type, EIO, "the restored root's PID is unknown");
		}
		if (notifies && notify(sk, "post-restore", pid)) {
			free(dir);
			return fail_resp(sk, req->type, ECANCELED, "the caller's hook failed");
		}
		rr.pid = pid;
		r.restore = &rr;
	} else {
		if (notifies && notify(sk, "post-dump", 0)) {
			free(dir);
			return fail_resp(sk, req->type, ECANCELED, "the caller's hook failed");
		}
		r.dump = &dr;
	}
	free(dir);
	r.type = req->type;
	r.success = 1;
	return send_resp(sk, &r);
}

static int serve_check(int sk, const CriuReq *req)
{
	struct argv_buf a = { .n = 0 };
	CriuResp r = CRIU_RESP__INIT;
	char why[512];

	add(&a, "crest");
	add(&a, "check");
	if (run_crest(&a, NULL, true, why, sizeof(why)))
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
			f.lazy_pages = 0;
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
