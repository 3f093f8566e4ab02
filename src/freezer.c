/*
 * Freezer cgroups. v1: freezer.state FROZEN/THAWED, read back until it
 * says so. v2: cgroup.freeze 1/0, then "frozen 1"/"frozen 0" in
 * cgroup.events (a v2 cgroup freezes its descendants too). Either way a
 * frozen task takes a PTRACE_INTERRUPT as it thaws, before it runs an
 * instruction.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "freezer.h"
#include "log.h"
#include "proc.h"
#include "util.h"

#define FREEZE_WAIT_MS	5000

static bool is_v2(const char *cg)
{
	char *p = xsprintf("%s/cgroup.freeze", cg);
	bool ret = access(p, F_OK) == 0;

	free(p);
	return ret;
}

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val)) {
		pr_perror("can't write %s to '%s'", val, path);
		ret = -1;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

/* Does file (under cg) hold want, at the start of a line? */
static bool says(const char *cg, const char *file, const char *want)
{
	char *path = xsprintf("%s/%s", cg, file), *now = read_file(path, NULL), *p;
	bool ret = false;

	for (p = now; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, want, strlen(want)))
			ret = true;
	free(now);
	free(path);
	return ret;
}

static int set_state(const char *cg, bool frozen)
{
	bool v2 = is_v2(cg);
	const char *file = v2 ? "cgroup.events" : "freezer.state";
	const char *want = v2 ? (frozen ? "frozen 1" : "frozen 0") :
			   (frozen ? "FROZEN" : "THAWED");
	char *path = xsprintf("%s/%s", cg, v2 ? "cgroup.freeze" : "freezer.state");
	int ret = write_str(path, v2 ? (frozen ? "1" : "0") : want);

	free(path);
	if (ret)
		return -1;
	for (int i = 0; i < FREEZE_WAIT_MS; i++) {
		if (says(cg, file, want))
			return 0;
		usleep(1000);
	}
	pr_err("the cgroup '%s' did not become %s in %d s", cg,
	       frozen ? "frozen" : "thawed", FREEZE_WAIT_MS / 1000);
	return -1;
}

/*
 * A cgroup stays frozen when whoever froze it dies: a crest killed (an
 * OOM kill, kill -9 of its process groups) between freeze and thaw
 * would leave the tree frozen for good. So before freezing, crest starts
 * a watcher: a process of its own session, nobody's child here (so a
 * kill of crest's groups or of its descendants misses it), holding a
 * pidfd of crest and the read end of a pipe. A byte on the pipe: crest
 * thawed, the watcher just exits. crest's pidfd readable or the pipe's
 * EOF without a byte: crest died, the watcher thaws the cgroup (the
 * tracees, detached by their tracer's death, run on) and exits.
 */
static void __attribute__((noreturn)) watch(const char *cg, int crest, int rd)
{
	struct pollfd pfd[2] = { { .fd = crest, .events = POLLIN },
				 { .fd = rd, .events = POLLIN } };
	int sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGTSTP,
		       SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2 };
	char c;

	setsid();
	prctl(PR_SET_NAME, "crest-thaw", 0, 0, 0);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_IGN);
	log_set_prefix("crest-thaw");
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents && read(rd, &c, 1) == 1)
			_exit(0);
		if (pfd[0].revents || pfd[1].revents)
			break;
	}
	pr_warn("crest died with the cgroup '%s' frozen: thawing it", cg);
	_exit(set_state(cg, false) ? 1 : 0);
}

/* The watcher's pipe (write end), or -1 (said why). */
static int watch_start(const char *cg)
{
	int self = syscall(SYS_pidfd_open, getpid(), 0), p[2], ret;

	if (self < 0) {
		pr_perror("can't open a pidfd of crest itself");
		return -1;
	}
	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("can't create a pipe");
		close(self);
		return -1;
	}
	ret = fork_keeper("watcher that thaws the cgroup if crest dies",
			  (int[]){ self, p[0], log_get_fd() }, 3);
	if (ret == 0)
		watch(cg, self, p[0]);
	close(self);
	close(p[0]);
	if (ret < 0) {
		close(p[1]);
		return -1;
	}
	return p[1];
}

/* Thawed: the watcher may go. */
static void watch_end(int wr)
{
	if (write(wr, "t", 1) != 1)
		pr_perror("can't tell the cgroup's watcher it is thawed");
	close(wr);
}

int freezer_freeze(const char *cg, int *watcher)
{
	*watcher = watch_start(cg);
	if (*watcher < 0)
		return -1;
	if (set_state(cg, true)) {
		freezer_thaw(cg, *watcher);
		return -1;
	}
	return 0;
}

int freezer_thaw(const char *cg, int watcher)
{
	if (set_state(cg, false))
		return -1;	/* the watcher tries again when crest exits */
	watch_end(watcher);
	return 0;
}

/* Every PID of cg and the cgroups below it; -1 if unreadable. */
static int cg_pids(const char *cg, pid_t **pids, int *nr)
{
	char *path = xsprintf("%s/cgroup.procs", cg), *buf = read_file(path, NULL);
	struct dirent *de;
	pid_t *some;
	DIR *d;
	int n;

	free(path);
	if (!buf)
		return -1;
	n = pstree_parse_children(buf, &some);
	free(buf);
	if (n < 0)
		return -1;
	*pids = xrealloc(*pids, (*nr + n + 1) * sizeof(pid_t));
	memcpy(*pids + *nr, some, n * sizeof(pid_t));
	*nr += n;
	free(some);
	d = opendir(cg);
	while (d && (de = readdir(d))) {
		char *sub;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		sub = xsprintf("%s/%s", cg, de->d_name);
		if (!lstat(sub, &st) && S_ISDIR(st.st_mode) && cg_pids(sub, pids, nr)) {
			free(sub);
			closedir(d);
			return -1;
		}
		free(sub);
	}
	if (d)
		closedir(d);
	return 0;
}

int freezer_holds_crest(const char *cg, const struct pstree_policy *pol)
{
	pid_t *pids = NULL;
	int nr = 0, ret = 0;

	if (cg_pids(cg, &pids, &nr))
		return 0;	/* not readable: freezing says why */
	for (int i = 0; i < nr && !ret; i++)
		for (int k = 0; k < 2; k++)
			if (pol->crest[k] && pids[i] == pol->crest[k]) {
				pr_err("the cgroup '%s' holds crest itself (process %d): crest can't freeze it; run crest from outside it",
				       cg, pids[i]);
				ret = 1;
				break;
			}
	free(pids);
	return ret;
}

/* Where the hierarchy is mounted: cgroup2, or the v1 one with freezer. */
static char *mount_point(bool v2)
{
	char *buf = read_file("/proc/self/mountinfo", NULL), *line, *save, *ret = NULL;

	for (line = buf ? strtok_r(buf, "\n", &save) : NULL; line && !ret;
	     line = strtok_r(NULL, "\n", &save)) {
		char mnt[4096], *sep = strstr(line, " - ");
		char fstype[64], src[256], sopts[1024];

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s %255s %1023s", fstype, src, sopts) != 3)
			continue;
		if (v2 ? !strcmp(fstype, "cgroup2") :
		    !strcmp(fstype, "cgroup") && strstr(sopts, "freezer"))
			ret = xstrdup(mnt);
	}
	free(buf);
	return ret;
}

/* The cgroup of pid in the hierarchy (v2: "0::", v1: the freezer's line). */
static char *cgroup_of(pid_t pid, bool v2)
{
	char *buf = read_proc(pid, "cgroup", NULL), *line, *save, *ret = NULL;

	for (line = buf ? strtok_r(buf, "\n", &save) : NULL; line && !ret;
	     line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		bool match;

		if (!c2)
			continue;
		*c2 = 0;
		if (v2) {
			match = !strncmp(line, "0:", 2) && c2 == c1 + 1;
		} else {
			char *ctl, *s2;

			match = false;
			for (ctl = strtok_r(c1 + 1, ",", &s2); ctl; ctl = strtok_r(NULL, ",", &s2))
				if (!strcmp(ctl, "freezer"))
					match = true;
		}
		if (match)
			ret = xstrdup(c2 + 1);
	}
	free(buf);
	return ret;
}

static bool in_scope(pid_t pid, enum pstree_scope scope, pid_t id)
{
	struct proc_stat st;

	for (int depth = 0; depth < 4096; depth++) {
		char *buf = read_proc(pid, "stat", NULL);
		int bad = !buf || proc_parse_stat(buf, &st);

		free(buf);
		if (bad)
			return true;	/* gone: no longer in the way */
		switch (scope) {
		case SCOPE_PGID:	return st.pgid == id;
		case SCOPE_SID:		return st.sid == id;
		case SCOPE_PID:		return pid == id;
		default:
			if (pid == id)
				return true;
			if (st.ppid <= 1)
				return false;
			pid = st.ppid;
		}
	}
	return false;
}

/* Does cg hold processes of the scope and nothing else? why if not. */
static int holds_only(const char *cg, enum pstree_scope scope, pid_t id,
		      const struct pstree_policy *pol, char **why)
{
	pid_t *pids = NULL;
	int nr = 0, ret = 1;

	if (cg_pids(cg, &pids, &nr)) {
		*why = xsprintf("'%s' can't be read", cg);
		return 0;
	}
	for (int i = 0; i < nr && ret; i++) {
		if (pids[i] == pol->crest[0] || pids[i] == pol->crest[1]) {
			*why = xsprintf("'%s' holds crest itself", cg);
			ret = 0;
		} else if (!in_scope(pids[i], scope, id)) {
			*why = xsprintf("'%s' holds process %d too, which is not one of them",
					cg, pids[i]);
			ret = 0;
		}
	}
	free(pids);
	return ret;
}

int freezer_find_own(enum pstree_scope scope, pid_t id,
		     const struct pstree_policy *pol, char **cg, char **why)
{
	*cg = *why = NULL;
	for (int v2 = 1; v2 >= 0; v2--) {
		char *mnt = mount_point(v2), *rel = mnt ? cgroup_of(id, v2) : NULL;
		char *path, *no = NULL;

		if (!rel) {
			if (mnt && !*why)
				*why = xsprintf("the cgroup of process %d can't be read", id);
			free(mnt);
			continue;
		}
		path = xsprintf("%s%s", mnt, strcmp(rel, "/") ? rel : "");
		free(mnt);
		if (!strcmp(rel, "/")) {
			no = xsprintf("they are in the root cgroup '%s', with every other process",
				      path);
		} else if (holds_only(path, scope, id, pol, &no)) {
			free(rel);
			free(*why);
			*why = NULL;
			*cg = path;
			return 1;
		}
		free(rel);
		free(path);
		/* The first hierarchy's reason (v2's) is the one to give. */
		if (!*why)
			*why = no;
		else
			free(no);
	}
	if (!*why)
		*why = xstrdup("no freezer cgroup (v1 or v2) is mounted");
	return 0;
}
