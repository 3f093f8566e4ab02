/*
 * The tree's cgroups as directories with properties, dump and restore.
 *
 * A dump saves, for every hierarchy, each cgroup a process of the tree is
 * in, but the root of the hierarchy and crest's own there (the context a
 * tree inherits, as CRIU does), and every cgroup below it (empty ones too:
 * a container's), parents first, with its owner, mode and the properties
 * of every writable file of its directory that cgroup-props.c knows
 * (one it does not, or can't set back, is refused). A restore makes and
 * sets them per
 * --manage-cgroups, CRIU's modes:
 *
 *	ignore	nothing: the processes stay in crest's cgroups
 *	none	they must exist; joined, nothing set
 *	props	they must exist; their properties set
 *	soft	the missing ones made with their properties (the default)
 *	full	the missing ones made; the properties set on all
 *	strict	none of the saved ones may exist: all made with theirs
 *
 * Everything is made and set by crest before the first process exists
 * (cpuset.cpus and .mems must be set before a task can join, and some
 * properties can't change once a cgroup has tasks); each process joins
 * its own (task-attrs.c). A failed restore removes what it made.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"
#include "opts.h"
#include "pstree.h"
#include "refuse.h"
#include "task-attrs.h"
#include "util.h"

#define CG_MAX_DIRS	4096	/* below the tree's cgroups, all told */
#define CG_MAX_DEPTH	64
#define CG_MAX_VALUE	(64 << 10)

/* ---- both ---- */

static bool same_hierarchy(const CgroupDirEntry *d, const char *ctl)
{
	return !strcmp(d->controllers, ctl);
}

/* ---- dump ---- */

static bool saved(const struct cgroup_dump *cg, const char *ctl, const char *path)
{
	for (size_t i = 0; i < cg->nr; i++)
		if (same_hierarchy(cg->dirs[i], ctl) && !strcmp(cg->dirs[i]->path, path))
			return true;
	return false;
}

static int add_dir(struct cgroup_dump *cg, const CgroupEntry *e, const char *path,
		   const char *dir, pid_t pid)
{
	CgroupDirEntry *d;
	struct stat st;

	if (stat(dir, &st)) {
		pr_perror("can't look at cgroup '%s'", dir);
		return -1;
	}
	d = xzalloc(sizeof(*d));
	cgroup_dir_entry__init(d);
	d->id = e->id;
	d->controllers = xstrdup(e->controllers);
	d->path = xstrdup(path);
	d->mode = st.st_mode & 07777;
	d->uid = st.st_uid;
	d->gid = st.st_gid;
	cg->dirs = xrealloc(cg->dirs, (cg->nr + 1) * sizeof(d));
	cg->dirs[cg->nr++] = d;
	return cgroup_props_collect(d, dir, pid);
}

/* dir (path in its hierarchy) and every cgroup below it, parents first. */
static int walk(struct cgroup_dump *cg, const CgroupEntry *e, const char *path,
		const char *dir, int depth, pid_t pid)
{
	struct dirent *de;
	DIR *dp;
	int ret = 0;

	if (!saved(cg, e->controllers, path) && add_dir(cg, e, path, dir, pid))
		return -1;
	if (depth == CG_MAX_DEPTH || cg->nr > CG_MAX_DIRS) {
		pr_err("cgroup '%s' has more than %d cgroups below it, or deeper than %d: crest saves no more",
		       dir, CG_MAX_DIRS, CG_MAX_DEPTH);
		return -1;
	}
	dp = opendir(dir);
	if (!dp) {
		pr_perror("can't list cgroup '%s'", dir);
		return -1;
	}
	while (!ret && (de = readdir(dp))) {
		char *sub, *subdir;

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		sub = strcmp(path, "/") ? xsprintf("%s/%s", path, de->d_name) :
		      xsprintf("/%s", de->d_name);
		subdir = xsprintf("%s/%s", dir, de->d_name);
		ret = walk(cg, e, sub, subdir, depth + 1, pid);
		free(sub);
		free(subdir);
	}
	closedir(dp);
	return ret;
}

/* Is e's cgroup crest's own (self: /proc/self/cgroup)? */
static bool crests_own(const char *self, const CgroupEntry *e)
{
	char *buf = xstrdup(self), *save = NULL, *line;
	bool own = false;

	for (line = strtok_r(buf, "\n", &save); line && !own; line = strtok_r(NULL, "\n", &save)) {
		CgroupEntry m;

		if (attrs_parse_cgroup_line(line, &m))
			continue;
		own = !strcmp(m.controllers, e->controllers) && !strcmp(m.path, e->path);
		free(m.controllers);
		free(m.path);
	}
	free(buf);
	return own;
}

/*
 * /proc/PID/cgroup as a process of its cgroup namespace reads it: paths
 * from the namespace's root (the kernel shows them relative to the
 * reader's), read by a child of crest that setns()es there.
 */
static char *inside_view(pid_t pid)
{
	char path[64], *buf = xzalloc(CG_MAX_VALUE + 1);
	int pfd[2], st;
	ssize_t n = 0, r;
	pid_t child;

	snprintf(path, sizeof(path), "/proc/%d/ns/cgroup", pid);
	if (pipe2(pfd, O_CLOEXEC)) {
		pr_perror("can't make a pipe");
		free(buf);
		return NULL;
	}
	child = fork();
	if (child < 0) {
		pr_perror("can't fork");
		close(pfd[0]);
		close(pfd[1]);
		free(buf);
		return NULL;
	}
	if (!child) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		char *v;

		close(pfd[0]);
		snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
		if (fd < 0 || setns(fd, CLONE_NEWCGROUP) || !(v = read_file(path, NULL)))
			_exit(1);
		_exit(write(pfd[1], v, strlen(v)) == (ssize_t)strlen(v) ? 0 : 1);
	}
	close(pfd[1]);
	while (n < CG_MAX_VALUE && (r = read(pfd[0], buf + n, CG_MAX_VALUE - n)) > 0)
		n += r;
	close(pfd[0]);
	if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st)) {
		pr_err("can't read /proc/%d/cgroup in its cgroup namespace", pid);
		free(buf);
		return NULL;
	}
	return buf;
}

/* Each cgroup's root in the namespace pid entered: its path less inside. */
static int ns_roots(const struct pstree_item *it)
{
	char *in = inside_view(it->live), *save = NULL, *line;
	TaskAttrsEntry *ta = it->attrs;
	int ret = 0;

	if (!in)
		return -1;
	for (line = strtok_r(in, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		CgroupEntry m;

		if (attrs_parse_cgroup_line(line, &m))
			continue;
		for (size_t j = 0; j < ta->n_cgroups; j++) {
			CgroupEntry *e = ta->cgroups[j];
			size_t lo = strlen(e->path), li = strcmp(m.path, "/") ? strlen(m.path) : 0;

			if (strcmp(e->controllers, m.controllers))
				continue;
			if (!strncmp(m.path, "/..", 3) || li > lo ||
			    strcmp(e->path + lo - li, m.path + (li ? 0 : 1))) {
				refuse(it->pid, "its cgroup '%s' (%s) is outside the root of its cgroup namespace ('%s' inside): crest can't make that namespace again",
				       e->path, e->controllers[0] ? e->controllers : "v2", m.path);
				continue;
			}
			e->ns_root = lo == li ? xstrdup("/") :
				     xsprintf("%.*s", (int)(lo - li), e->path);
		}
		free(m.controllers);
		free(m.path);
	}
	free(in);
	return ret;
}

/*
 * Cgroup namespaces: each is entered by one process (whose parent is in
 * another), the others of it its descendants; the entering one keeps its
 * root per hierarchy. A process back in its parent's parent's
 * namespace (setns) is refused.
 */
static int cgroup_ns(const struct pstree *tree)
{
	char own[64] = "", **seen = NULL, **link = xzalloc((tree->nr + 1) * sizeof(*link));
	int nr_seen = 0, ret = 0;
	ssize_t n = readlink("/proc/self/ns/cgroup", own, sizeof(own) - 1);

	if (n < 0) {
		pr_perror("can't read /proc/self/ns/cgroup");
		free(link);
		return -1;
	}
	for (int i = 0; i < tree->nr && !ret; i++) {
		const struct pstree_item *it = tree->items[i];
		char path[64], buf[64] = "";
		int k, parent_ns = 0;

		if (it->zombie || !it->attrs)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/cgroup", it->live);
		if (readlink(path, buf, sizeof(buf) - 1) < 0) {
			pr_perror("can't read %s", path);
			ret = -1;
			break;
		}
		link[i] = xstrdup(buf);
		if (it->parent)
			for (int j = 0; j < i; j++)
				if (tree->items[j] == it->parent && tree->items[j]->attrs)
					parent_ns = tree->items[j]->attrs->cgroup_ns;
		if (!strcmp(buf, own)) {
			if (parent_ns)
				refuse(it->pid, "it is in crest's cgroup namespace, its parent in the tree's: crest can't put it back there");
			continue;
		}
		for (k = 0; k < nr_seen && strcmp(seen[k], buf); k++)
			;
		it->attrs->has_cgroup_ns = 1;
		it->attrs->cgroup_ns = k + 1;
		if ((int)it->attrs->cgroup_ns == parent_ns)
			continue;
		if (k < nr_seen) {
			refuse(it->pid, "ns/cgroup is '%s', which another process of the tree entered too (setns): crest makes each cgroup namespace once, in the process that entered it",
			       buf);
			continue;
		}
		seen = xrealloc(seen, (nr_seen + 1) * sizeof(*seen));
		seen[nr_seen++] = xstrdup(buf);
		ret = ns_roots(it);
	}
	for (int i = 0; i < tree->nr; i++)
		free(link[i]);
	free(link);
	for (int k = 0; k < nr_seen; k++)
		free(seen[k]);
	free(seen);
	return ret;
}

int cgroup_collect(struct cgroup_dump *cg, const struct pstree *tree, int mode)
{
	char *mi = NULL, *self = NULL;
	int ret = -1;

	memset(cg, 0, sizeof(*cg));
	if (cgroup_ns(tree))
		return -1;
	if (mode == CG_MODE_IGNORE)
		return 0;
	mi = read_file("/proc/self/mountinfo", NULL);
	self = read_file("/proc/self/cgroup", NULL);
	if (!mi || !self) {
		pr_perror("can't read /proc/self/mountinfo or cgroup");
		goto out;
	}
	for (int i = 0; i < tree->nr; i++) {
		const struct pstree_item *it = tree->items[i];
		const TaskAttrsEntry *ta = it->attrs;

		for (size_t j = 0; ta && !it->zombie && j < ta->n_cgroups; j++) {
			const CgroupEntry *e = ta->cgroups[j];
			char *dir;

			if (!strcmp(e->path, "/") || crests_own(self, e) ||
			    saved(cg, e->controllers, e->path))
				continue;
			dir = attrs_cgroup_dir(mi, e);
			if (!dir) {
				refuse(it->pid, "its cgroup '%s' of hierarchy %u (%s) is not mounted where crest can read its properties: mount it, or dump with --manage-cgroups=ignore",
				       e->path, e->id, e->controllers[0] ? e->controllers : "v2");
				continue;
			}
			if (walk(cg, e, e->path, dir, 0, it->pid)) {
				free(dir);
				goto out;
			}
			free(dir);
		}
	}
	ret = 0;
out:
	free(mi);
	free(self);
	return ret;
}

int cgroup_write(const struct cgroup_dump *cg, struct img_dir *d)
{
	struct image *img = img_create(d, IMG_CGROUPS, 0);

	if (!img)
		return -1;
	for (size_t i = 0; i < cg->nr; i++)
		if (img_write_msg(img, &cg->dirs[i]->base))
			return -1;
	return 0;
}

/* ---- restore ---- */

static int depth(const char *path)
{
	int n = 0;

	for (; *path; path++)
		n += *path == '/';
	return n;
}

static int by_depth(const void *a, const void *b)
{
	return depth((*(CgroupDirEntry *const *)a)->path) -
	       depth((*(CgroupDirEntry *const *)b)->path);
}

int cgroup_read(struct cgroup_restore *cg, struct img_dir *d, int mode)
{
	struct image *img;
	void *msg;
	int ret;

	memset(cg, 0, sizeof(*cg));
	cg->mode = mode;
	img = img_open(d, IMG_CGROUPS, 0);
	if (!img)
		return -1;
	while ((ret = img_read_msg(img, &msg)) > 0) {
		CgroupDirEntry *e = msg;

		if (e->path[0] != '/' || strstr(e->path, "/../") ||
		    (strlen(e->path) >= 3 && !strcmp(e->path + strlen(e->path) - 3, "/.."))) {
			pr_err("image '%s': cgroup path '%s' is not a path below its hierarchy",
			       img->path, e->path);
			ret = -1;
			break;
		}
		cg->dirs = xrealloc(cg->dirs, (cg->nr + 1) * sizeof(e));
		cg->dirs[cg->nr++] = e;
	}
	img_close(img);
	/* Parents first, whichever process's cgroup each was saved for. */
	if (cg->nr)
		qsort(cg->dirs, cg->nr, sizeof(*cg->dirs), by_depth);
	return ret < 0 ? -1 : 0;
}

void cgroup_move_root(struct cgroup_restore *cg, const char *controllers, const char *old,
		      const char *new)
{
	size_t len = strcmp(old, "/") ? strlen(old) : 0;

	for (int i = 0; i < cg->nr; i++) {
		CgroupDirEntry *d = cg->dirs[i];
		const char *rest;
		char *moved;

		if (!same_hierarchy(d, controllers) || strncmp(d->path, old, len) ||
		    (d->path[len] && d->path[len] != '/'))
			continue;
		rest = strcmp(d->path + len, "/") ? d->path + len : "";
		moved = strcmp(new, "/") ? xsprintf("%s%s", new, rest) :
			xstrdup(*rest ? rest : "/");
		free(d->path);
		d->path = moved;
	}
}

static const char *mode_name(int mode)
{
	static const char *const names[] = {
		[CG_MODE_SOFT] = "soft", [CG_MODE_IGNORE] = "ignore", [CG_MODE_NONE] = "none",
		[CG_MODE_PROPS] = "props", [CG_MODE_FULL] = "full", [CG_MODE_STRICT] = "strict",
	};

	return names[mode];
}

static bool makes(int mode)
{
	return mode == CG_MODE_SOFT || mode == CG_MODE_FULL || mode == CG_MODE_STRICT;
}

static char *dir_of(const char *mi, const CgroupDirEntry *d)
{
	CgroupEntry e = CGROUP_ENTRY__INIT;

	e.id = d->id;
	e.controllers = d->controllers;
	e.path = d->path;
	return attrs_cgroup_dir(mi, &e);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

int cgroup_check(const struct cgroup_restore *cg, CoreEntry **cores, const pid_t *pids,
		 int nr)
{
	char *mi;
	int ret = -1;

	/* ignore: nobody joins anything; the tree stays in crest's. */
	if (cg->mode == CG_MODE_IGNORE) {
		for (int i = 0; i < nr; i++)
			if (cores[i] && cores[i]->attrs)
				cores[i]->attrs->n_cgroups = 0;
		return 0;
	}
	mi = read_file("/proc/self/mountinfo", NULL);
	if (!mi) {
		pr_perror("can't read /proc/self/mountinfo");
		return -1;
	}
	for (int i = 0; i < nr; i++) {
		const TaskAttrsEntry *ta = cores[i] ? cores[i]->attrs : NULL;

		for (size_t j = 0; ta && j < ta->n_cgroups; j++) {
			const CgroupEntry *e = ta->cgroups[j];
			char *dir = attrs_cgroup_dir(mi, e);

			if (!dir) {
				pr_err("process %d was in cgroup '%s' of hierarchy %u (%s), which is not mounted here: mount it",
				       pids[i], e->path, e->id, e->controllers[0] ? e->controllers : "v2");
				goto out;
			}
			if (!makes(cg->mode) && !is_dir(dir)) {
				pr_err("process %d was in cgroup '%s' (%s), which no longer exists: create it, or restore with --manage-cgroups=soft to have crest make it",
				       pids[i], e->path, dir);
				free(dir);
				goto out;
			}
			free(dir);
		}
	}
	for (int i = 0; i < cg->nr; i++) {
		const CgroupDirEntry *d = cg->dirs[i];
		char *dir = dir_of(mi, d);
		bool there = dir && is_dir(dir);
		const char *ctl = d->controllers[0] ? d->controllers : "v2";

		if (!dir) {
			pr_err("cgroup '%s' of hierarchy %s is not mounted here: mount it", d->path, ctl);
			goto out;
		}
		if (cg->mode == CG_MODE_STRICT && there) {
			pr_err("cgroup '%s' (%s) exists, and --manage-cgroups=strict makes every cgroup of the tree anew: remove it, or restore in another mode",
			       d->path, dir);
			free(dir);
			goto out;
		}
		if (!makes(cg->mode) && !there) {
			pr_err("cgroup '%s' (%s) of the tree no longer exists, and --manage-cgroups=%s does not make it: create it, or restore with --manage-cgroups=soft",
			       d->path, dir, mode_name(cg->mode));
			free(dir);
			goto out;
		}
		free(dir);
	}
	ret = 0;
out:
	free(mi);
	return ret;
}

/* mkdir -p of dir, each directory made noted (its parents exist). */
static int make_dir(struct cgroup_restore *cg, const char *dir)
{
	char *p = xstrdup(dir);

	for (char *s = p + 1;; s++) {
		if (*s && *s != '/')
			continue;
		char c = *s;

		*s = 0;
		if (mkdir(p, 0755) == 0) {
			cg->made = xrealloc(cg->made, (cg->nr_made + 1) * sizeof(char *));
			cg->made[cg->nr_made++] = xstrdup(p);
		} else if (errno != EEXIST) {
			pr_perror("can't make cgroup '%s'", p);
			free(p);
			return -1;
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return 0;
}

static bool made_here(const struct cgroup_restore *cg, const char *dir)
{
	for (int i = 0; i < cg->nr_made; i++)
		if (!strcmp(cg->made[i], dir))
			return true;
	return false;
}

static int make_saved(struct cgroup_restore *cg, const char *mi, const CgroupDirEntry *d)
{
	char *dir = dir_of(mi, d);
	bool set;
	int ret = -1;

	if (!dir) {
		pr_err("cgroup '%s' (%s) is not mounted here: mount it", d->path,
		       d->controllers[0] ? d->controllers : "v2");
		return -1;
	}
	if (!is_dir(dir)) {
		if (!makes(cg->mode)) {
			pr_err("cgroup '%s' is gone", dir);
			goto out;
		}
		if (make_dir(cg, dir))
			goto out;
	}
	/* soft sets only what it made; strict made all; none sets nothing. */
	set = cg->mode == CG_MODE_PROPS || cg->mode == CG_MODE_FULL || made_here(cg, dir);
	if (!set) {
		ret = 0;
		goto out;
	}
	if (made_here(cg, dir) && (chmod(dir, d->mode) || chown(dir, d->uid, d->gid))) {
		pr_perror("can't give cgroup '%s' its mode %o and owner %u:%u", dir, d->mode,
			  d->uid, d->gid);
		goto out;
	}
	for (size_t k = 0; k < d->n_props; k++)
		if (cgroup_set_prop(dir, d->props[k]))
			goto out;
	pr_debug("cgroup '%s': %zu properties set", dir, d->n_props);
	ret = 0;
out:
	free(dir);
	return ret;
}

int cgroup_make(struct cgroup_restore *cg, CoreEntry **cores, int nr)
{
	char *mi;
	int ret = -1;

	if (cg->mode == CG_MODE_IGNORE)
		return 0;
	mi = read_file("/proc/self/mountinfo", NULL);
	if (!mi) {
		pr_perror("can't read /proc/self/mountinfo");
		return -1;
	}
	for (int i = 0; i < cg->nr; i++)
		if (make_saved(cg, mi, cg->dirs[i]))
			goto out;
	/* A process's cgroup not saved (crest's own at the dump), made bare. */
	for (int i = 0; makes(cg->mode) && i < nr; i++) {
		const TaskAttrsEntry *ta = cores[i] ? cores[i]->attrs : NULL;

		for (size_t j = 0; ta && j < ta->n_cgroups; j++) {
			char *dir = attrs_cgroup_dir(mi, ta->cgroups[j]);

			if (dir && !is_dir(dir) && make_dir(cg, dir)) {
				free(dir);
				goto out;
			}
			free(dir);
		}
	}
	ret = 0;
out:
	free(mi);
	return ret;
}

void cgroup_undo(struct cgroup_restore *cg)
{
	/* The tree is dead by now; a cgroup still busy is said and left. */
	for (int i = cg->nr_made - 1; i >= 0; i--) {
		if (rmdir(cg->made[i]) && errno != ENOENT)
			pr_warn("can't remove cgroup '%s' the restore made: %s", cg->made[i],
				strerror(errno));
		free(cg->made[i]);
	}
	free(cg->made);
	cg->made = NULL;
	cg->nr_made = 0;
}

char **cgroup_task_dirs(const CoreEntry *c, bool ns)
{
	const TaskAttrsEntry *ta = c ? c->attrs : NULL;
	char *mi, **dirs;

	if (!ta)
		return NULL;
	mi = read_file("/proc/self/mountinfo", NULL);
	if (!mi) {
		pr_perror("can't read /proc/self/mountinfo");
		return NULL;
	}
	dirs = xzalloc((ta->n_cgroups + 1) * sizeof(*dirs));
	for (size_t i = 0; i < ta->n_cgroups; i++) {
		CgroupEntry e = *ta->cgroups[i];

		if (ns && !e.ns_root)
			continue;
		if (ns)
			e.path = e.ns_root;
		dirs[i] = attrs_cgroup_dir(mi, &e);
	}
	free(mi);
	return dirs;
}

int cgroup_ns_enter(const CoreEntry *c, const CoreEntry *parent, char *const *ns_dirs,
		    pid_t orig_pid)
{
	const TaskAttrsEntry *ta = c ? c->attrs : NULL;
	uint32_t mine = ta ? ta->cgroup_ns : 0;
	uint32_t theirs = parent && parent->attrs ? parent->attrs->cgroup_ns : 0;

	if (!mine || mine == theirs)
		return 0;
	/* unshare() roots the namespace where the process is: there first. */
	for (size_t i = 0; ns_dirs && i < ta->n_cgroups; i++) {
		char *procs;
		int fd;

		if (!ns_dirs[i])
			continue;
		procs = xsprintf("%s/cgroup.procs", ns_dirs[i]);
		fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1) {
			pr_perror("can't put process %d into '%s', the root of its cgroup namespace",
				  orig_pid, ns_dirs[i]);
			if (fd >= 0)
				close(fd);
			free(procs);
			return -1;
		}
		close(fd);
		free(procs);
	}
	if (unshare(CLONE_NEWCGROUP)) {
		pr_perror("can't make process %d its cgroup namespace", orig_pid);
		return -1;
	}
	return 0;
}
