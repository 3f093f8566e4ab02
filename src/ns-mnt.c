/*
 * Mount namespaces: a copy of crest's own (as unshare --mount makes it),
 * every mount private, plus the mounts a container runtime makes in it:
 * tmpfs mounts (their files saved, walked in a clone of the mount alone
 * so that a directory a mount sits on is seen as it is), proc, sysfs (one
 * per network namespace: crest's), devpts instances with no pty in them,
 * the mqueue of the entering task's IPC namespace, and binds of part of
 * a mount made there (runc's masked and read-only paths); a mount the
 * caller names (--external mnt[MP]:NAME) is saved by that name and bound
 * again from where the restore's caller says. Anything else --
 * a shared, slave or unbindable mount, a mount of another kind, a bind of
 * a filesystem crest has (a host directory, a container's root), a root
 * that is not the namespace's, hard links or sockets on a tmpfs, an fd,
 * cwd or mapping of the tree on a new mount -- is refused by name.
 *
 * At restore the entering task is made with CLONE_NEWNS (a copy of the
 * restoring crest's namespace) and makes every mount private. The rest
 * waits till every restorer is done -- a new tmpfs could hide the images,
 * a new proc the /proc/self the restore reads -- and is a helper's, a
 * child of crest that joins the namespace: it checks that every mount of
 * crest's the images name is there, detaches what they do not have, and
 * makes the others in their order, filling each tmpfs. A proc shows the
 * PID namespace of whoever mounts it: one of a PID namespace of the tree
 * is mounted by a child of the helper born there (setns() of its
 * pid_for_children), which puts ns_last_pid back; an mqueue is mounted
 * by a child in the entering task's IPC namespace.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include "files-kind.h"
#include "log.h"
#include "namespaces.h"
#include "refuse.h"
#include "util.h"

#define TMPFS_MAX_FILE	(IMG_MAX_RECORD - (1u << 20))

struct mi {
	int id, parent;
	unsigned int maj, min;
	char *root, *mp, *opts, *optional, *fstype, *source, *super;
};

struct mnt_dump {
	MntEntry **m;
	dev_t *devs;		/* per m[]: its device */
	int nr;
	dev_t *new_devs;	/* of the tmpfs and proc mounts made in it */
	char **new_mps;
	int nr_new;
	int *ext_ids;		/* the caller's mounts (--external): ids... */
	char **ext_mps;		/* ...and mount points, unescaped */
	int nr_ext;
	int *ids;		/* the namespace's mount ids */
	int nr_ids;
	/* per tmpfs: its files */
	uint32_t *tmpfs_ids;
	TmpfsFile ***files;
	int *nr_files;
	int nr_tmpfs;
};

static uint32_t next_tmpfs_id;

/* "\040" and the like back to bytes. */
static char *unescape(const char *s)
{
	char *out = xzalloc(strlen(s) + 1), *o = out;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] && s[3]) {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	return out;
}

static void mi_free(struct mi *m, int nr)
{
	for (int i = 0; i < nr; i++) {
		free(m[i].root);
		free(m[i].mp);
		free(m[i].opts);
		free(m[i].optional);
		free(m[i].fstype);
		free(m[i].source);
		free(m[i].super);
	}
	free(m);
}

/* id parent maj:min root mp opts [optional...] - fstype source super */
static int parse_mountinfo(const char *path, struct mi **out, int *nr)
{
	char *text = read_file(path, NULL), *line, *save = NULL;

	*out = NULL;
	*nr = 0;
	if (!text) {
		pr_perror("can't read '%s'", path);
		return -1;
	}
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char root[4096], mp[4096], opts[1024], fstype[256], source[4096], super[4096];
		char *dash = strstr(line, " - "), optional[1024] = "";
		struct mi m = {};
		int n = 0;

		if (!dash || sscanf(line, "%d %d %u:%u %4095s %4095s %1023s %n", &m.id, &m.parent,
				    &m.maj, &m.min, root, mp, opts, &n) < 7 ||
		    sscanf(dash + 3, "%255s %4095s %4095s", fstype, source, super) < 2) {
			pr_err("'%s': can't parse '%s'", path, line);
			free(text);
			return -1;
		}
		if (line + n < dash)
			snprintf(optional, sizeof(optional), "%.*s", (int)(dash - line - n), line + n);
		if (sscanf(dash + 3, "%*s %*s %4095s", super) < 1)
			super[0] = 0;
		m.root = xstrdup(root);
		m.mp = xstrdup(mp);
		m.opts = xstrdup(opts);
		m.optional = xstrdup(optional);
		m.fstype = xstrdup(fstype);
		m.source = xstrdup(source);
		m.super = xstrdup(super);
		*out = xrealloc(*out, (*nr + 1) * sizeof(m));
		(*out)[(*nr)++] = m;
	}
	free(text);
	return 0;
}

static bool same_mount(const struct mi *a, const struct mi *b)
{
	return !strcmp(a->mp, b->mp) && !strcmp(a->root, b->root) &&
	       !strcmp(a->fstype, b->fstype) && !strcmp(a->source, b->source) &&
	       !strcmp(a->opts, b->opts);
}

static bool same_entry(const MntEntry *e, const struct mi *b)
{
	return !strcmp(e->mountpoint, b->mp) && !strcmp(e->root, b->root) &&
	       !strcmp(e->fstype, b->fstype) && !strcmp(e->source, b->source) &&
	       !strcmp(e->options, b->opts);
}

/* ---------------------------------------------------------------- dump */

static void add_file(struct mnt_dump *md, int t, TmpfsFile *f)
{
	md->files[t] = xrealloc(md->files[t], (md->nr_files[t] + 1) * sizeof(f));
	md->files[t][md->nr_files[t]++] = f;
}

static TmpfsFile *new_file(const char *path, const struct stat *st)
{
	TmpfsFile *f = xzalloc(sizeof(*f));

	tmpfs_file__init(f);
	f->path = xstrdup(path);
	f->mode = st->st_mode;
	f->uid = st->st_uid;
	f->gid = st->st_gid;
	f->mtime_sec = st->st_mtim.tv_sec;
	f->mtime_nsec = st->st_mtim.tv_nsec;
	return f;
}

/* Every file below dirfd (path: where, for the records), parents first. */
static int walk_tmpfs(struct mnt_dump *md, int t, int dirfd, const char *path,
		      dev_t dev, pid_t pid, const char *mp)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;
	int ret = 0;

	if (!d) {
		pr_perror("can't list '%s' of the tmpfs at %s", path, mp);
		close(dirfd);
		return -1;
	}
	while (!ret && (de = readdir(d))) {
		char *sub;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		sub = *path ? xsprintf("%s/%s", path, de->d_name) : xstrdup(de->d_name);
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
			pr_perror("can't stat '%s' on the tmpfs at %s", sub, mp);
			ret = -1;
		} else if (st.st_dev != dev) {
			refuse(pid, "the tmpfs at %s of its mount namespace has a mount at '%s', not supported yet",
			       mp, sub);
		} else if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			add_file(md, t, new_file(sub, &st));
			ret = fd < 0 ? -1 : walk_tmpfs(md, t, fd, sub, dev, pid, mp);
		} else if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n = readlinkat(dirfd, de->d_name, target, sizeof(target) - 1);
			TmpfsFile *f;

			if (n < 0) {
				pr_perror("can't read the link '%s' on the tmpfs at %s", sub, mp);
				ret = -1;
			} else {
				target[n] = 0;
				f = new_file(sub, &st);
				f->target = xstrdup(target);
				add_file(md, t, f);
			}
		} else if (S_ISREG(st.st_mode) && st.st_nlink == 1 && st.st_size <= TMPFS_MAX_FILE) {
			int fd = openat(dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			TmpfsFile *f = new_file(sub, &st);

			f->has_data = 1;
			f->data.len = st.st_size;
			f->data.data = xzalloc(st.st_size + 1);
			if (fd < 0 || read_all(fd, f->data.data, st.st_size)) {
				pr_perror("can't read '%s' on the tmpfs at %s", sub, mp);
				ret = -1;
			}
			if (fd >= 0)
				close(fd);
			add_file(md, t, f);
		} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
			/* A node only: what holds it open is refused as on a new mount. */
			TmpfsFile *f = new_file(sub, &st);

			f->has_rdev = 1;
			f->rdev = st.st_rdev;
			add_file(md, t, f);
		} else {
			refuse(pid, "'%s' on the tmpfs at %s of its mount namespace is %s, not supported yet",
			       sub, mp, S_ISREG(st.st_mode) ?
			       (st.st_nlink > 1 ? "a file with hard links" : "a file too big to save") :
			       "a socket");
		}
		free(sub);
	}
	closedir(d);
	return ret;
}

/*
 * A child of crest in pid's namespace of that kind (mnt, ipc) runs fn
 * there and hands back one fd (-1: it failed, having said why).
 */
static int fd_from_ns(pid_t pid, const char *kind, int (*fn)(const char *arg), const char *arg)
{
	char path[64], cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, c = 0;
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	int sk[2], ns, fd = -1, status;
	pid_t child;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, kind);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	if (ns < 0 || socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sk)) {
		pr_perror("can't open '%s'", path);
		if (ns >= 0)
			close(ns);
		return -1;
	}
	fflush(NULL);
	child = fork();
	if (child == 0) {
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		int out;

		close(sk[0]);
		if (setns(ns, 0)) {
			pr_perror("can't join the %s namespace of %d", kind, pid);
			_exit(1);
		}
		out = fn(arg);
		if (out < 0)
			_exit(1);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &out, sizeof(int));
		_exit(sendmsg(sk[1], &mh, 0) == 1 ? 0 : 1);
	}
	close(sk[1]);
	close(ns);
	if (child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) &&
	    !WEXITSTATUS(status) && recvmsg(sk[0], &mh, MSG_CMSG_CLOEXEC) == 1) {
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

		if (cm && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	}
	close(sk[0]);
	return fd;
}

/* In the namespace: the mount at mp alone, cloned (no mount on it). */
static int clone_one(const char *mp)
{
	int fd = (int)syscall(SYS_open_tree, AT_FDCWD, mp, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);

	if (fd < 0)
		pr_perror("can't clone the mount at '%s'", mp);
	return fd;
}

/*
 * Its files, walked in a clone of it alone: a directory some mount sits
 * on (/dev/pts on runc's /dev) is seen as it is below that mount.
 */
static int dump_tmpfs(struct mnt_dump *md, MntEntry *e, pid_t pid, dev_t dev)
{
	char *path = xsprintf("/proc/%d/root%s", pid, e->mountpoint), *mp = unescape(path);
	char *inside = unescape(e->mountpoint);
	int t = md->nr_tmpfs, fd;
	struct stat st;

	free(path);
	md->tmpfs_ids = xrealloc(md->tmpfs_ids, (t + 1) * sizeof(*md->tmpfs_ids));
	md->files = xrealloc(md->files, (t + 1) * sizeof(*md->files));
	md->nr_files = xrealloc(md->nr_files, (t + 1) * sizeof(*md->nr_files));
	md->files[t] = NULL;
	md->nr_files[t] = 0;
	md->tmpfs_ids[t] = e->tmpfs_id = ++next_tmpfs_id;
	e->has_tmpfs_id = 1;
	md->nr_tmpfs++;
	if (stat(mp, &st)) {
		pr_perror("can't look at the tmpfs at '%s'", mp);
		free(mp);
		free(inside);
		return -1;
	}
	free(mp);
	if (st.st_dev != dev) {
		refuse(pid, "the tmpfs at %s of its mount namespace is covered by another mount, not supported yet",
		       e->mountpoint);
		free(inside);
		return 0;
	}
	fd = fd_from_ns(pid, "mnt", clone_one, inside);
	free(inside);
	if (fd >= 0) {
		/* open_tree() gives an O_PATH fd: one to read the directory by. */
		int dir = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		close(fd);
		fd = dir;
	}
	if (fd < 0 || fstat(fd, &st)) {
		pr_err("can't open the tmpfs at %s of the mount namespace of %d", e->mountpoint, pid);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	add_file(md, t, new_file("", &st));
	return walk_tmpfs(md, t, fd, "", dev, pid, e->mountpoint);
}

/* In an IPC namespace: a detached mount of its mqueue. */
static int mqueue_mount(const char *unused)
{
	int fs = (int)syscall(SYS_fsopen, "mqueue", FSOPEN_CLOEXEC), m = -1;

	(void)unused;
	if (fs >= 0 && !syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		m = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
	if (m < 0)
		pr_perror("can't mount an mqueue");
	if (fs >= 0)
		close(fs);
	return m;
}

/* The device of the mqueue of pid's IPC namespace; 0 if unknown. */
dev_t ipc_mqueue_dev(pid_t pid)
{
	int fd = fd_from_ns(pid, "ipc", mqueue_mount, NULL);
	struct stat st;
	dev_t dev = 0;

	if (fd >= 0 && !fstat(fd, &st))
		dev = st.st_dev;
	if (fd >= 0)
		close(fd);
	return dev;
}

/* A devpts instance with a pty in it can't be made again empty. */
static void devpts_empty(pid_t pid, const MntEntry *e)
{
	char *p = xsprintf("/proc/%d/root%s", pid, e->mountpoint), *path = unescape(p);
	DIR *d = opendir(path);
	struct dirent *de;

	free(p);
	free(path);
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, "ptmx"))
			refuse(pid, "the devpts at %s of its mount namespace holds pty %s, not supported yet",
			       e->mountpoint, de->d_name);
	if (d)
		closedir(d);
}

/* The PID namespace a proc shows: that of its PID 1. */
static int proc_pid_ns(const struct ns_dump *nd, MntEntry *e, pid_t pid)
{
	char *p = xsprintf("/proc/%d/root%s/1/ns/pid", pid, e->mountpoint), *path = unescape(p);
	struct stat st, own;
	int ret = -1;

	free(p);
	if (stat(path, &st) || stat("/proc/self/ns/pid", &own)) {
		refuse(pid, "the proc at %s of its mount namespace shows a PID namespace whose init is gone, not supported",
		       e->mountpoint);
		free(path);
		return 0;
	}
	free(path);
	e->has_pid_ns = 1;
	if (st.st_ino == own.st_ino)
		return 0;
	for (int k = 0; k < nd->nr; k++)
		if (nd->ns[k]->kind == NS_KIND__NS_PID && nd->ino[k] == st.st_ino) {
			e->pid_ns = nd->ns[k]->id;
			ret = 0;
		}
	if (ret)
		refuse(pid, "the proc at %s of its mount namespace shows a PID namespace neither crest's nor the tree's, not supported",
		       e->mountpoint);
	return 0;
}

static bool propagates(const char *optional)
{
	return strstr(optional, "shared:") || strstr(optional, "master:") ||
	       strstr(optional, "propagate_from:") || strstr(optional, "unbindable");
}

/* Where crest sees what mount t shows: one of its mounts of t's filesystem. */
static char *host_path(const struct mi *own, int nr_own, const struct mi *t)
{
	for (int i = 0; i < nr_own; i++) {
		size_t len = strcmp(own[i].root, "/") ? strlen(own[i].root) : 0;

		if (own[i].maj != t->maj || own[i].min != t->min ||
		    strncmp(t->root, own[i].root, len) || (t->root[len] && t->root[len] != '/'))
			continue;
		if (!strcmp(own[i].mp, "/") && !t->root[len])
			return xstrdup("/");
		return xsprintf("%s%s", strcmp(own[i].mp, "/") ? own[i].mp : "", t->root + len);
	}
	return NULL;
}

/*
 * The name the caller gave the mount at t's mount point (--external
 * mnt[MP]:NAME), NULL if none; remembered in md the first time, for the
 * check of what the tree holds on it.
 */
static const char *external(const struct ns_dump *nd, struct mnt_dump *md, const struct mi *t)
{
	char *mp = unescape(t->mp);
	const char *name = NULL;

	for (int i = 0; i < nd->nr_ext && !name; i++)
		if (!strcmp(nd->ext[i].key, mp))
			name = nd->ext[i].val;
	for (int i = 0; name && i < md->nr_ext; i++)
		if (md->ext_ids[i] == t->id) {
			free(mp);
			return name;
		}
	if (name) {
		md->ext_ids = xrealloc(md->ext_ids, (md->nr_ext + 1) * sizeof(int));
		md->ext_mps = xrealloc(md->ext_mps, (md->nr_ext + 1) * sizeof(char *));
		md->ext_ids[md->nr_ext] = t->id;
		md->ext_mps[md->nr_ext++] = mp;
		return name;
	}
	free(mp);
	return NULL;
}

/*
 * What a mount made in the namespace is (e->kind, e->bind_of); -1 when
 * it is refused (said so).
 */
static int kind_of(const struct mnt_dump *md, const struct mi *t, MntEntry *e, pid_t pid)
{
	static const struct { const char *fstype; MntKind kind; } fs[] = {
		{ "tmpfs", MNT_KIND__MNT_TMPFS }, { "proc", MNT_KIND__MNT_PROC },
		{ "sysfs", MNT_KIND__MNT_SYSFS }, { "devpts", MNT_KIND__MNT_DEVPTS },
		{ "mqueue", MNT_KIND__MNT_MQUEUE },
	};
	dev_t dev = makedev(t->maj, t->min);

	/* A second mount of a filesystem made there: a bind of the first. */
	for (int i = 0; i < md->nr; i++) {
		const MntEntry *s = md->m[i];
		size_t len = strcmp(s->root, "/") ? strlen(s->root) : 0;

		if (md->devs[i] != dev || s->kind == MNT_KIND__MNT_HOST)
			continue;
		if (strncmp(t->root, s->root, len) || (t->root[len] && t->root[len] != '/' && len)) {
			refuse(pid, "mount %d at %s of its mount namespace binds %s of the %s at %s, which shows only %s, not supported yet",
			       t->id, t->mp, t->root, s->fstype, s->mountpoint, s->root);
			return -1;
		}
		e->kind = MNT_KIND__MNT_BIND;
		e->has_bind_of = 1;
		e->bind_of = i + 1;
		return 0;
	}
	if (strcmp(t->root, "/")) {
		refuse(pid, "mount %d at %s of its mount namespace binds %s of a %s (%s) made outside the tree, not supported yet",
		       t->id, t->mp, t->root, t->fstype, t->source);
		return -1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(fs); i++) {
		if (strcmp(t->fstype, fs[i].fstype))
			continue;
		e->kind = fs[i].kind;
		if (e->kind == MNT_KIND__MNT_MQUEUE && ipc_mqueue_dev(pid) != dev) {
			refuse(pid, "the mqueue at %s of its mount namespace is not that of its IPC namespace, not supported yet",
			       t->mp);
			return -1;
		}
		return 0;
	}
	refuse(pid, "mount %d at %s of its mount namespace (%s %s %s, root %s) is neither crest's nor a tmpfs, proc, sysfs, devpts or mqueue made there, not supported yet",
	       t->id, t->mp, t->fstype, t->source, t->opts, t->root);
	return -1;
}

/*
 * Parents before their children: mountinfo lists a namespace's mounts in
 * the order they joined it, and a mount moved in (move_mount(), as a
 * restore binds the caller's) may come before the mount it sits on.
 * Stable otherwise.
 */
static void parents_first(struct mi *m, int nr)
{
	struct mi *out = xzalloc((nr + 1) * sizeof(*out));
	bool *done = xzalloc((nr + 1) * sizeof(*done));
	int n = 0;

	while (n < nr) {
		int before = n;

		for (int i = 0; i < nr; i++) {
			bool ready = true;

			if (done[i])
				continue;
			for (int j = 0; j < nr; j++)
				if (!done[j] && j != i && m[j].id == m[i].parent)
					ready = false;
			if (ready) {
				out[n++] = m[i];
				done[i] = true;
			}
		}
		if (n == before)	/* a loop: as it was */
			for (int i = 0; i < nr; i++)
				if (!done[i]) {
					out[n++] = m[i];
					done[i] = true;
				}
	}
	memcpy(m, out, nr * sizeof(*m));
	free(out);
	free(done);
}

int mntns_collect(struct ns_dump *nd, int k, pid_t pid)
{
	struct mnt_dump *md = xzalloc(sizeof(*md));
	struct mi *own, *tgt;
	int nr_own, nr_tgt, ret = 0;
	char path[64], *root;

	nd->mnt[k] = md;
	snprintf(path, sizeof(path), "/proc/%d/root", pid);
	root = readlink_alloc(path);
	if (!root || strcmp(root, "/"))
		refuse(pid, "its root is '%s' in its mount namespace (chroot, pivot_root), not supported yet",
		       root ? root : "?");
	free(root);
	snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	if (parse_mountinfo("/proc/self/mountinfo", &own, &nr_own))
		return -1;
	if (parse_mountinfo(path, &tgt, &nr_tgt)) {
		mi_free(own, nr_own);
		return -1;
	}
	parents_first(tgt, nr_tgt);
	md->ids = xzalloc((nr_tgt + 1) * sizeof(int));
	for (int j = 0; j < nr_tgt; j++)
		md->ids[md->nr_ids++] = tgt[j].id;
	/*
	 * A mount of crest's the namespace lacks (unmounted there, or made
	 * on the host since) is simply not in the images: the restore
	 * detaches what they do not name from its copy of crest's.
	 */
	for (int j = 0; j < nr_tgt && !ret; j++) {
		struct mi *t = &tgt[j];
		MntEntry *e;
		bool host = false;

		for (int i = 0; i < nr_own; i++)
			if (same_mount(&own[i], t) && own[i].maj == t->maj && own[i].min == t->min)
				host = true;
		/*
		 * What the tree holds on a filesystem mounted there is refused
		 * too (not on a bind of one of crest's: that is refused itself).
		 */
		bool new_fs = !host;

		for (int i = 0; i < nr_own; i++)
			if (own[i].maj == t->maj && own[i].min == t->min)
				new_fs = false;
		if (new_fs) {
			md->new_devs = xrealloc(md->new_devs, (md->nr_new + 1) * sizeof(dev_t));
			md->new_mps = xrealloc(md->new_mps, (md->nr_new + 1) * sizeof(char *));
			md->new_devs[md->nr_new] = makedev(t->maj, t->min);
			md->new_mps[md->nr_new++] = t->mp;
		}
		if (propagates(t->optional)) {
			refuse(pid, "mount %d at %s of its mount namespace propagates (%s): only private mounts are supported yet",
			       t->id, t->mp, t->optional);
			continue;
		}
		if (external(nd, md, t)) {
			e = xzalloc(sizeof(*e));
			mnt_entry__init(e);
			e->kind = MNT_KIND__MNT_EXTERNAL;
			e->ext_name = xstrdup(external(nd, md, t));
			goto add;
		}
		/*
		 * A sysfs or an mqueue is one filesystem per network or IPC
		 * namespace: one mounted anew in crest's is crest's own.
		 */
		if (!host && !new_fs && !strcmp(t->root, "/") &&
		    (!strcmp(t->fstype, "sysfs") || !strcmp(t->fstype, "mqueue")))
			new_fs = true;
		if (!host && !new_fs && !strcmp(t->mp, "/")) {
			/* A container's root filesystem: bound from restore --root. */
			char *where = host_path(own, nr_own, t);

			e = xzalloc(sizeof(*e));
			mnt_entry__init(e);
			e->kind = MNT_KIND__MNT_ROOT;
			e->host_path = where ? where : xstrdup(t->root);
			pr_info("process %d: its mount namespace's root is %s of crest's (%s %s) bound there and pivot_root'ed into; a restore binds it from --root",
				pid, e->host_path, t->fstype, t->source);
			goto add;
		}
		if (!host && !new_fs) {
			refuse(pid, "mount %d at %s of its mount namespace (%s %s, root %s) binds a filesystem crest has mounted, not as crest has it, not supported yet",
			       t->id, t->mp, t->fstype, t->source, t->root);
			continue;
		}
		e = xzalloc(sizeof(*e));
		mnt_entry__init(e);
		e->kind = MNT_KIND__MNT_HOST;
		if (!host && kind_of(md, t, e, pid)) {
			free(e);
			continue;
		}
add:
		e->mountpoint = xstrdup(t->mp);
		e->root = xstrdup(t->root);
		e->fstype = xstrdup(t->fstype);
		e->source = xstrdup(t->source);
		e->options = xstrdup(t->opts);
		e->super_options = xstrdup(t->super);
		md->m = xrealloc(md->m, (md->nr + 1) * sizeof(e));
		md->devs = xrealloc(md->devs, (md->nr + 1) * sizeof(dev_t));
		md->devs[md->nr] = makedev(t->maj, t->min);
		md->m[md->nr++] = e;
		if (e->kind == MNT_KIND__MNT_PROC)
			ret = proc_pid_ns(nd, e, pid);
		else if (e->kind == MNT_KIND__MNT_TMPFS)
			ret = dump_tmpfs(md, e, pid, makedev(t->maj, t->min));
		else if (e->kind == MNT_KIND__MNT_DEVPTS)
			devpts_empty(pid, e);
	}
	/* The paths stay the mountinfo's (new_mps); the rest goes. */
	for (int j = 0; j < nr_tgt; j++)
		tgt[j].mp = xstrdup(tgt[j].mp);
	mi_free(own, nr_own);
	mi_free(tgt, nr_tgt);
	return ret;
}

static const char *on_new_mount(const struct mnt_dump *md, dev_t dev)
{
	for (int i = 0; i < md->nr_new; i++)
		if (md->new_devs[i] == dev)
			return md->new_mps[i];
	return NULL;
}

/* The external mount point path is below, or NULL. */
static const char *path_under(const struct mnt_dump *md, const char *path)
{
	for (int i = 0; i < md->nr_ext; i++) {
		size_t len = strlen(md->ext_mps[i]);

		if (!strncmp(path, md->ext_mps[i], len) && (path[len] == '/' || !path[len]))
			return md->ext_mps[i];
	}
	return NULL;
}

static const char *under_external(const struct mnt_dump *md, const char *link)
{
	char *target = md->nr_ext ? readlink_alloc(link) : NULL;
	const char *mp = target ? path_under(md, target) : NULL;

	free(target);
	return mp;
}

static int fd_mnt_id(pid_t pid, int fd)
{
	char path[64], *info, *p;
	int id;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	info = read_file(path, NULL);
	p = info ? strstr(info, "mnt_id:") : NULL;
	id = p ? atoi(p + 7) : -1;
	free(info);
	return id;
}

/* Is the fd on a mount outside the namespace (crest's, as a restore opened it)? */
static bool outside(const struct mnt_dump *md, pid_t pid, int fd)
{
	int id = fd_mnt_id(pid, fd);

	for (int i = 0; i < md->nr_ids; i++)
		if (md->ids[i] == id)
			return false;
	return id >= 0;
}

/* The external mount an fd is on (fdinfo's mnt_id), or NULL. */
static const char *on_external(const struct mnt_dump *md, pid_t pid, int fd)
{
	int id;

	if (!md->nr_ext)
		return NULL;
	id = fd_mnt_id(pid, fd);
	for (int i = 0; i < md->nr_ext; i++)
		if (md->ext_ids[i] == id)
			return md->ext_mps[i];
	return NULL;
}

/*
 * An fd of a character device on a mount made in the namespace (the
 * /dev/null on runc's /dev) whose path is, in crest's namespace, a node
 * of the same device -- not a terminal, whose numbers name a pty of
 * another devpts: crest reopens that one (CRIU's evasive devices).
 */
static bool same_device_here(const char *fd_link, const struct stat *st)
{
	char *link = S_ISCHR(st->st_mode) ? readlink_alloc(fd_link) : NULL;
	struct stat here;
	bool same;

	same = link && link[0] == '/' && !files_link_tty(link) && !stat(link, &here) &&
	       S_ISCHR(here.st_mode) && here.st_rdev == st->st_rdev;
	free(link);
	return same;
}

/*
 * Noted on the mount it is on, for the restore: which can't make it there
 * (the mount comes once every fd is open) and refuses it unless a node of
 * the same device will do (--evasive-devices).
 */
static void note_evasive(MntEntry *e, const struct pstree_item *it, int fd)
{
	e->evasive_fds = xrealloc(e->evasive_fds, (e->n_evasive_fds + 1) * sizeof(char *));
	e->evasive_fds[e->n_evasive_fds++] = xsprintf("%d:%d", it->pid, fd);
}

static void evasive_fd(const struct mnt_dump *md, const struct pstree_item *it, int fd,
		       dev_t dev)
{
	for (int i = 0; i < md->nr; i++) {
		MntEntry *e = md->m[i];

		if (md->devs[i] != dev)
			continue;
		e->evasive_fds = xrealloc(e->evasive_fds,
					  (e->n_evasive_fds + 1) * sizeof(char *));
		e->evasive_fds[e->n_evasive_fds++] = xsprintf("%d:%d", it->pid, fd);
		pr_info("process %d: fd %d is a device node on the %s at %s made in its mount namespace; a restore with --evasive-devices opens crest's node of its path instead",
			it->pid, fd, e->fstype, e->mountpoint);
		return;
	}
}

/*
 * A pipe (not a FIFO) is on the kernel's pipefs, a mount of no namespace:
 * it has no path to be outside of (a container's stdio, runc -d's pipes).
 */
static bool anon_pipe(const FdEntry *e, const struct stat *st)
{
	return S_ISFIFO(st->st_mode) && e->desc && !strncmp(e->desc, "pipe:[", 6);
}

/* Its fds, cwd, exe and mappings must be on crest's mounts. */
int mntns_check_task(const struct ns_dump *nd, int k, const struct pstree_item *it)
{
	const struct mnt_dump *md = nd->mnt[k];
	const char *links[] = { "cwd", "exe" };
	char path[128], *maps, *line, *save = NULL;
	struct stat st;
	const char *mp;

	if (!md)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
		snprintf(path, sizeof(path), "/proc/%d/%s", it->live, links[i]);
		if (!stat(path, &st) && (mp = on_new_mount(md, st.st_dev)))
			refuse(it->pid, "its %s is on the %s made in its mount namespace, not supported yet",
			       links[i], mp);
	}
	for (int j = 0; j < it->nr_fds; j++) {
		/* On its IPC namespace's own mqueue, whatever is mounted (files-mqueue.c). */
		if (it->fds[j]->kind == FD_KIND__FD_MQUEUE)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%u", it->live, it->fds[j]->fd);
		if (!stat(path, &st) && (mp = on_new_mount(md, st.st_dev))) {
			if (same_device_here(path, &st))
				evasive_fd(md, it, it->fds[j]->fd, st.st_dev);
			else
				refuse(it->pid, "fd %u is on the mount at %s made in its mount namespace, not supported yet",
				       it->fds[j]->fd, mp);
		} else if (md->nr && md->m[0]->kind == MNT_KIND__MNT_ROOT && !stat(path, &st) &&
			   !anon_pipe(it->fds[j], &st) && outside(md, it->live, it->fds[j]->fd)) {
			/*
			 * A node of crest's, as a restore with --evasive-devices
			 * opened it (the namespace has its own root): again so.
			 */
			if (same_device_here(path, &st))
				note_evasive(md->m[0], it, it->fds[j]->fd);
			else
				refuse(it->pid, "fd %u is on a mount of crest's outside its mount namespace, not supported yet",
				       it->fds[j]->fd);
		} else if ((mp = on_external(md, it->live, it->fds[j]->fd))) {
			/* Reopened below the path the restore's caller gives for it. */
			pr_info("process %d: fd %u is on the external mount at %s of its mount namespace",
				it->pid, it->fds[j]->fd, mp);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
		snprintf(path, sizeof(path), "/proc/%d/%s", it->live, links[i]);
		if ((mp = under_external(md, path)))
			refuse(it->pid, "its %s is below the external mount at %s of its mount namespace, not supported yet",
			       links[i], mp);
	}
	snprintf(path, sizeof(path), "/proc/%d/maps", it->live);
	maps = read_file(path, NULL);
	for (line = maps ? strtok_r(maps, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned int maj, min;
		unsigned long ino;

		char *file = strchr(line, '/');

		if (sscanf(line, "%*s %*s %*s %x:%x %lu", &maj, &min, &ino) == 3 && ino &&
		    (mp = on_new_mount(md, makedev(maj, min))))
			refuse(it->pid, "a mapping is of a file on the mount at %s made in its mount namespace, not supported yet",
			       mp);
		else if (ino && file && (mp = path_under(md, file)))
			refuse(it->pid, "a mapping is of '%s', below the external mount at %s of its mount namespace, not supported yet",
			       file, mp);
	}
	free(maps);
	return 0;
}

int mntns_write(const struct ns_dump *nd, int k, struct img_dir *d)
{
	const struct mnt_dump *md = nd->mnt[k];
	struct image *img = img_create(d, IMG_MNTNS, nd->ns[k]->id);

	if (!img)
		return -1;
	for (int i = 0; i < md->nr; i++)
		if (img_write_msg(img, &md->m[i]->base))
			return -1;
	for (int t = 0; t < md->nr_tmpfs; t++) {
		img = img_create(d, IMG_TMPFS, md->tmpfs_ids[t]);
		if (!img)
			return -1;
		for (int i = 0; i < md->nr_files[t]; i++)
			if (img_write_msg(img, &md->files[t][i]->base))
				return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- restore */

struct mnt_restore {
	MntEntry **m;
	int nr;
	TmpfsFile ***files;	/* per m[]: a tmpfs's */
	int *nr_files;
	bool rooted;		/* m[0] is its MNT_ROOT */
	bool *early;		/* per m[]: made by the holder (the root, binds on it) */
	pid_t holder;		/* rooted: the process of crest's holding it */
	char *prefix;		/* "/proc/HOLDER/root" */
};

/*
 * A file's parent is a directory listed before it (the root for the
 * root's entries): no path of the images leads through a symlink they
 * made, out of the tmpfs.
 */
static bool parent_listed(TmpfsFile **files, int nr, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) : 0;

	if (!*path)
		return nr == 0;
	for (int i = 0; i < nr; i++)
		if (S_ISDIR(files[i]->mode) && strlen(files[i]->path) == len &&
		    !strncmp(files[i]->path, path, len))
			return true;
	return false;
}

/* --external mnt[NAME]:PATH for the external mount e; NULL if not given. */
static const char *ext_path(const struct ns_restore *nr, const MntEntry *e)
{
	for (int i = 0; e->ext_name && i < nr->nr_ext; i++)
		if (!strcmp(nr->ext[i].key, e->ext_name))
			return nr->ext[i].val;
	return NULL;
}

static bool below(const char *path, const char *mp)
{
	size_t len = strcmp(mp, "/") ? strlen(mp) : 0;

	return !strncmp(path, mp, len) && (path[len] == '/' || !path[len]);
}

/*
 * The root, and the caller's mounts sitting on it (the deepest earlier
 * mount their path is below is the root): the holder makes them, so the
 * tree's files on them are opened through them.
 */
static bool early_mount(const struct mnt_restore *mr, int j)
{
	const MntEntry *e = mr->m[j];
	int on = 0;

	if (e->kind == MNT_KIND__MNT_ROOT)
		return true;
	if (e->kind != MNT_KIND__MNT_EXTERNAL)
		return false;
	for (int i = 1; i < j; i++)
		if (below(e->mountpoint, mr->m[i]->mountpoint))
			on = i;
	return on == 0;
}

int mntns_read(struct ns_restore *nr, int k, struct img_dir *d)
{
	struct mnt_restore *mr = xzalloc(sizeof(*mr));
	struct image *img = img_open(d, IMG_MNTNS, nr->ns[k]->id);
	void *msg;
	int ret;

	nr->mnt[k] = mr;
	if (!img)
		return -1;
	while ((ret = img_read_msg(img, &msg)) > 0) {
		mr->m = xrealloc(mr->m, (mr->nr + 1) * sizeof(msg));
		mr->m[mr->nr++] = msg;
	}
	img_close(img);
	if (ret < 0)
		return -1;
	mr->files = xzalloc((mr->nr + 1) * sizeof(*mr->files));
	mr->nr_files = xzalloc((mr->nr + 1) * sizeof(*mr->nr_files));
	mr->early = xzalloc((mr->nr + 1) * sizeof(*mr->early));
	for (int i = 0; i < mr->nr; i++) {
		const MntEntry *e = mr->m[i];

		if (e->mountpoint[0] != '/' || strstr(e->mountpoint, "/../")) {
			pr_err("%s: a mount at '%s'", img_descs[IMG_MNTNS].name, e->mountpoint);
			return -1;
		}
		if (e->kind == MNT_KIND__MNT_ROOT && (i || strcmp(e->mountpoint, "/"))) {
			pr_err("%s: a root mount at '%s', record %d", img_descs[IMG_MNTNS].name,
			       e->mountpoint, i + 1);
			return -1;
		}
		if (e->kind == MNT_KIND__MNT_ROOT && !nr->root) {
			pr_err("the mount namespace's root was %s (%s %s), bound there and pivot_root'ed into (a container's root filesystem): give the directory to bind as its root with --root DIR",
			       e->host_path ? e->host_path : e->root, e->fstype, e->source);
			return -1;
		}
		if (e->kind == MNT_KIND__MNT_ROOT)
			mr->rooted = true;
		if (mr->rooted && e->kind == MNT_KIND__MNT_HOST) {
			pr_err("%s: mount %d at %s is one of crest's, in a namespace with a root of its own",
			       img_descs[IMG_MNTNS].name, i + 1, e->mountpoint);
			return -1;
		}
		if (e->n_evasive_fds && !nr->evasive && e->kind == MNT_KIND__MNT_ROOT) {
			pr_err("process %s held a device node of crest's outside its mount namespace (as a restore with --evasive-devices opened it): restore with --evasive-devices again",
			       e->evasive_fds[0]);
			return -1;
		}
		if (e->n_evasive_fds && !nr->evasive) {
			pr_err("process %s held a device node on the %s at %s of its mount namespace, which is made only once its fds are open: restore with --evasive-devices to open crest's node of that path and device instead",
			       e->evasive_fds[0], e->fstype, e->mountpoint);
			return -1;
		}
		if (e->kind == MNT_KIND__MNT_EXTERNAL && !ext_path(nr, e)) {
			pr_err("the mount at %s is the caller's, saved as '%s': give the path to bind there with --external mnt[%s]:PATH",
			       e->mountpoint, e->ext_name ? e->ext_name : "", e->ext_name ? e->ext_name : "");
			return -1;
		}
		if (e->kind == MNT_KIND__MNT_BIND &&
		    (!e->has_bind_of || e->bind_of < 1 || (int)e->bind_of > i)) {
			pr_err("%s: the bind at '%s' is of mount %u", img_descs[IMG_MNTNS].name,
			       e->mountpoint, e->bind_of);
			return -1;
		}
		if (mr->rooted)
			mr->early[i] = early_mount(mr, i);
		if (e->kind != MNT_KIND__MNT_TMPFS)
			continue;
		img = img_open(d, IMG_TMPFS, e->tmpfs_id);
		if (!img)
			return -1;
		while ((ret = img_read_msg(img, &msg)) > 0) {
			TmpfsFile *f = msg;

			if (f->path[0] == '/' || strstr(f->path, "..") ||
			    !parent_listed(mr->files[i], mr->nr_files[i], f->path)) {
				pr_err("%s: a file at '%s' (not below a directory listed before it)",
				       img->path, f->path);
				ret = -1;
				break;
			}
			mr->files[i] = xrealloc(mr->files[i], (mr->nr_files[i] + 1) * sizeof(msg));
			mr->files[i][mr->nr_files[i]++] = msg;
		}
		img_close(img);
		if (ret < 0)
			return -1;
	}
	return 0;
}

/* Mount flags of mountinfo's per-mount options; the rest is the data. */
static unsigned long mount_flags(const char *opts)
{
	static const struct { const char *name; unsigned long flag; } f[] = {
		{ "ro", MS_RDONLY }, { "nosuid", MS_NOSUID }, { "nodev", MS_NODEV },
		{ "noexec", MS_NOEXEC }, { "noatime", MS_NOATIME },
		{ "nodiratime", MS_NODIRATIME }, { "relatime", MS_RELATIME },
		{ "strictatime", MS_STRICTATIME }, { "sync", MS_SYNCHRONOUS },
	};
	char *copy = xstrdup(opts), *tok, *save = NULL;
	unsigned long flags = 0;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		for (size_t i = 0; i < ARRAY_SIZE(f); i++)
			if (!strcmp(tok, f[i].name))
				flags |= f[i].flag;
	free(copy);
	/* mountinfo names no atime mode for strictatime; a mount's default is relatime. */
	if (!(flags & (MS_NOATIME | MS_RELATIME)))
		flags |= MS_STRICTATIME;
	return flags;
}

static char *fs_data(const char *super)
{
	char *copy = xstrdup(super), *tok, *save = NULL, *out = xzalloc(strlen(super) + 2);

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "rw") || !strcmp(tok, "ro"))
			continue;
		if (*out)
			strcat(out, ",");
		strcat(out, tok);
	}
	free(copy);
	return out;
}

static int fill_tmpfs(const char *mp, TmpfsFile **files, int nr)
{
	int dir = open(mp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dir < 0) {
		pr_perror("can't open the new tmpfs at '%s'", mp);
		return -1;
	}
	for (int i = 0; i < nr; i++) {
		const TmpfsFile *f = files[i];
		const char *p = *f->path ? f->path : ".";
		int fd, ret = 0;

		if (S_ISDIR(f->mode)) {
			if (*f->path && mkdirat(dir, p, 0700))
				ret = -1;
		} else if (S_ISLNK(f->mode)) {
			ret = symlinkat(f->target ? f->target : "", dir, p);
		} else if (S_ISREG(f->mode)) {
			fd = openat(dir, p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (fd < 0 || (f->has_data && write_all(fd, f->data.data, f->data.len)))
				ret = -1;
			if (fd >= 0)
				close(fd);
		} else if ((S_ISCHR(f->mode) || S_ISBLK(f->mode) || S_ISFIFO(f->mode)) &&
			   f->has_rdev) {
			ret = mknodat(dir, p, f->mode & S_IFMT, (dev_t)f->rdev);
		} else {
			pr_err("tmpfs at '%s': '%s' has mode %o", mp, p, f->mode);
			close(dir);
			return -1;
		}
		if (ret || fchownat(dir, p, f->uid, f->gid, AT_SYMLINK_NOFOLLOW) ||
		    (!S_ISLNK(f->mode) && fchmodat(dir, p, f->mode & 07777, 0))) {
			pr_perror("can't make '%s' on the tmpfs at '%s'", p, mp);
			close(dir);
			return -1;
		}
	}
	/* Times last, deepest first: making a file changes its directory's. */
	for (int i = nr - 1; i >= 0; i--) {
		const TmpfsFile *f = files[i];
		struct timespec ts[2] = { { 0, UTIME_OMIT }, { f->mtime_sec, f->mtime_nsec } };

		if (utimensat(dir, *f->path ? f->path : ".", ts, AT_SYMLINK_NOFOLLOW)) {
			pr_perror("can't set the times of '%s' on the tmpfs at '%s'", f->path, mp);
			close(dir);
			return -1;
		}
	}
	close(dir);
	return 0;
}

static int mount_one(const struct mnt_restore *mr, int i)
{
	const MntEntry *e = mr->m[i];
	char *mp = unescape(e->mountpoint), *data = fs_data(e->super_options);
	int ret = 0;

	if (mount(e->source, mp, e->fstype, mount_flags(e->options) & ~MS_RDONLY, data)) {
		pr_perror("can't mount %s on '%s' (%s)", e->fstype, mp, data);
		ret = -1;
	} else if (e->kind == MNT_KIND__MNT_TMPFS &&
		   fill_tmpfs(mp, mr->files[i], mr->nr_files[i])) {
		ret = -1;
	} else if ((mount_flags(e->options) & MS_RDONLY) &&
		   mount(NULL, mp, NULL, MS_REMOUNT | MS_BIND | mount_flags(e->options), NULL)) {
		pr_perror("can't make the mount at '%s' read-only", mp);
		ret = -1;
	}
	free(mp);
	free(data);
	return ret;
}

/*
 * A proc of a PID namespace of the tree: mounted by a child born there
 * (pidns, own: that namespace and the helper's, opened before it joined
 * the mount namespace, which may have no /proc yet).
 */
static int mount_proc_in(const struct ns_restore *nr, const struct mnt_restore *mr,
			 int j, int pidns, int own)
{
	const NsEntry *e = NULL;
	int status;
	pid_t pid;

	for (int k = 0; k < nr->nr; k++)
		if (nr->ns[k]->id == mr->m[j]->pid_ns)
			e = nr->ns[k];
	if (!e || pidns < 0 || own < 0 || setns(pidns, CLONE_NEWPID)) {
		pr_perror("can't join the PID namespace of the proc at %s", mr->m[j]->mountpoint);
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int ret = mount_one(mr, j);
		char *mp = unescape(mr->m[j]->mountpoint), *sys, v[16];
		int l;

		/* Our birth took a PID: the namespace's last one goes back. */
		sys = xsprintf("%s/sys/kernel/ns_last_pid", strcmp(mp, "/") ? mp : "");
		if (!ret && e->has_last_pid) {
			int sfd = open(sys, O_WRONLY);

			l = snprintf(v, sizeof(v), "%u", e->last_pid);
			if (sfd < 0 || write(sfd, v, l) != l)
				ret = -1;
			if (sfd >= 0)
				close(sfd);
		}
		_exit(ret ? 1 : 0);
	}
	setns(own, CLONE_NEWPID);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		pr_err("can't mount the proc at %s", mr->m[j]->mountpoint);
		return -1;
	}
	return 0;
}

/*
 * A bind of part of an earlier mount: from where that one is mounted, the
 * path below its root; then this mount's own flags.
 */
static int bind_one(const struct mnt_restore *mr, int j, const char *ext, int tree)
{
	const MntEntry *e = mr->m[j], *s = ext ? NULL : mr->m[e->bind_of - 1];
	size_t len = s && strcmp(s->root, "/") ? strlen(s->root) : 0;
	char *mp = unescape(e->mountpoint), *smp = s ? unescape(s->mountpoint) : NULL;
	char *rel = s ? unescape(e->root + len) : NULL, *src;
	int ret = 0;

	if (ext) {
		src = xstrdup(ext);
	} else {
		src = xsprintf("%s%s", strcmp(smp, "/") ? smp : "", *rel ? rel : "");
		if (!*src) {
			free(src);
			src = xstrdup("/");
		}
	}
	if (tree >= 0 ? syscall(SYS_move_mount, tree, "", AT_FDCWD, mp, MOVE_MOUNT_F_EMPTY_PATH) :
	    mount(src, mp, NULL, MS_BIND, NULL)) {
		pr_perror("can't bind '%s' on '%s'", src, mp);
		ret = -1;
	} else if (mount(NULL, mp, NULL, MS_REMOUNT | MS_BIND | mount_flags(e->options), NULL)) {
		pr_perror("can't give the bind at '%s' its flags (%s)", mp, e->options);
		ret = -1;
	}
	free(mp);
	free(smp);
	free(rel);
	free(src);
	return ret;
}

/*
 * The mqueue shows the IPC namespace of who mounts it: the entering
 * task's (ipc, opened while /proc was still crest's).
 */
static int mount_mqueue_in(const struct mnt_restore *mr, int j, int ipc)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (setns(ipc, CLONE_NEWIPC)) {
			pr_perror("can't join the IPC namespace of the mount namespace");
			_exit(1);
		}
		_exit(mount_one(mr, j) ? 1 : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		pr_err("can't mount the mqueue at %s", mr->m[j]->mountpoint);
		return -1;
	}
	return 0;
}

/* What the helper opens before it joins: a rooted namespace has no /proc yet. */
struct pre_open {
	int *pidns;		/* per m[]: a proc's PID namespace */
	int *tree;		/* per m[]: a clone of an external mount's path */
	int own;		/* the helper's PID namespace */
};

static void pre_close(struct pre_open *po, int n)
{
	for (int j = 0; j < n; j++) {
		if (po->pidns[j] >= 0)
			close(po->pidns[j]);
		if (po->tree[j] >= 0)
			close(po->tree[j]);
	}
	free(po->pidns);
	free(po->tree);
	if (po->own >= 0)
		close(po->own);
}

static int pre_open(const struct ns_restore *nr, int k, const pid_t *host, struct pre_open *po)
{
	const struct mnt_restore *mr = nr->mnt[k];
	int ret = 0;

	po->pidns = xzalloc((mr->nr + 1) * sizeof(int));
	po->tree = xzalloc((mr->nr + 1) * sizeof(int));
	po->own = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	for (int j = 0; j < mr->nr; j++) {
		const MntEntry *e = mr->m[j];
		char path[64];

		po->pidns[j] = po->tree[j] = -1;
		if (e->kind == MNT_KIND__MNT_PROC && e->pid_ns) {
			snprintf(path, sizeof(path), "/proc/%d/ns/pid", host[e->pid_ns - 1]);
			po->pidns[j] = open(path, O_RDONLY | O_CLOEXEC);
			if (po->pidns[j] < 0) {
				pr_perror("can't open '%s'", path);
				ret = -1;
			}
		} else if (e->kind == MNT_KIND__MNT_EXTERNAL && mr->rooted && !mr->early[j]) {
			const char *src = ext_path(nr, e);

			po->tree[j] = (int)syscall(SYS_open_tree, AT_FDCWD, src,
						   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
			if (po->tree[j] < 0) {
				pr_perror("can't clone the mount at '%s' for %s", src, e->mountpoint);
				ret = -1;
			}
		}
	}
	if (po->own < 0)
		ret = -1;
	return ret;
}

/*
 * A copy of crest's: every mount of crest's the images name must be
 * there, what they do not name is detached.
 */
static int trim_copy(const struct mnt_restore *mr)
{
	struct mi *own;
	int nr_own;

	if (parse_mountinfo("/proc/self/mountinfo", &own, &nr_own))
		return -1;
	for (int j = 0; j < mr->nr; j++) {
		bool there = mr->m[j]->kind != MNT_KIND__MNT_HOST;

		for (int i = 0; i < nr_own; i++)
			there |= same_entry(mr->m[j], &own[i]);
		if (!there) {
			pr_err("the mount namespace had %s at %s (%s, %s); crest has none here",
			       mr->m[j]->fstype, mr->m[j]->mountpoint, mr->m[j]->source,
			       mr->m[j]->options);
			mi_free(own, nr_own);
			return -1;
		}
	}
	/* What crest has and the namespace had not: away, deepest first. */
	for (int i = nr_own - 1; i >= 0; i--) {
		bool keep = false;

		for (int j = 0; j < mr->nr; j++)
			keep |= mr->m[j]->kind == MNT_KIND__MNT_HOST && same_entry(mr->m[j], &own[i]);
		if (!keep) {
			char *mp = unescape(own[i].mp);

			if (umount2(mp, MNT_DETACH))
				pr_perror("can't detach crest's mount at '%s' from the new mount namespace", mp);
			free(mp);
		}
	}
	mi_free(own, nr_own);
	return 0;
}

/* In the helper, in mount namespace k: make it what the images say. */
static int apply(const struct ns_restore *nr, int k, const struct pre_open *po, int ipc)
{
	const struct mnt_restore *mr = nr->mnt[k];

	/* A rooted one is the holder's, made from nothing: no copy to trim. */
	if (!mr->rooted && trim_copy(mr))
		return -1;
	for (int j = 0; j < mr->nr; j++) {
		const MntEntry *e = mr->m[j];
		int ret = 0;

		if (e->kind == MNT_KIND__MNT_HOST || mr->early[j])
			continue;
		if (e->kind == MNT_KIND__MNT_PROC && e->pid_ns)
			ret = mount_proc_in(nr, mr, j, po->pidns[j], po->own);
		else if (e->kind == MNT_KIND__MNT_BIND)
			ret = bind_one(mr, j, NULL, -1);
		else if (e->kind == MNT_KIND__MNT_EXTERNAL)
			ret = bind_one(mr, j, ext_path(nr, e), po->tree[j]);
		else if (e->kind == MNT_KIND__MNT_MQUEUE)
			ret = mount_mqueue_in(mr, j, ipc);
		else
			ret = mount_one(mr, j);
		if (ret)
			return -1;
	}
	return 0;
}

int mntns_restore_mounts(const struct ns_restore *nr, const pid_t *host)
{
	for (int k = 0; k < nr->nr; k++) {
		char path[64];
		int fd, ipc, status;
		pid_t pid;

		if (nr->ns[k]->kind != NS_KIND__NS_MNT)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/ipc", host[k]);
		ipc = open(path, O_RDONLY | O_CLOEXEC);
		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", host[k]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || ipc < 0) {
			pr_perror("can't open '%s' or its ipc", path);
			if (fd >= 0)
				close(fd);
			if (ipc >= 0)
				close(ipc);
			return -1;
		}
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			struct pre_open po;

			if (pre_open(nr, k, host, &po))
				_exit(1);
			if (setns(fd, CLONE_NEWNS)) {
				pr_perror("can't join the new mount namespace of %d", host[k]);
				_exit(1);
			}
			if (apply(nr, k, &po, ipc))
				_exit(1);
			pre_close(&po, nr->mnt[k]->nr);
			_exit(0);
		}
		close(fd);
		close(ipc);
		if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			pr_err("can't make the mounts of mount namespace %u", nr->ns[k]->id);
			return -1;
		}
	}
	return 0;
}

bool mntns_rooted(const struct ns_restore *nr, int k)
{
	return nr->mnt && nr->mnt[k] && nr->mnt[k]->rooted;
}

const char *mntns_root_prefix(const struct ns_restore *nr, int k)
{
	return mntns_rooted(nr, k) ? nr->mnt[k]->prefix : NULL;
}

int mntns_root_fd(const struct ns_restore *nr, int k)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", nr->mnt[k]->holder);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		pr_perror("can't open '%s'", path);
	return fd;
}

bool mntns_evasive_fd(const struct ns_restore *nr, int k, uint32_t pid, uint32_t fd)
{
	const struct mnt_restore *mr = nr->mnt ? nr->mnt[k] : NULL;
	char want[32];

	snprintf(want, sizeof(want), "%u:%u", pid, fd);
	for (int j = 0; mr && j < mr->nr; j++)
		for (size_t i = 0; i < mr->m[j]->n_evasive_fds; i++)
			if (!strcmp(mr->m[j]->evasive_fds[i], want))
				return true;
	return false;
}

/*
 * The holder, in a mount namespace of its own: the root bound from
 * --root, the caller's mounts on it bound from their paths, then
 * pivot_root'ed into (as runc does: the old root goes below the new and
 * is detached), the root's own flags last.
 */
static int make_root(const struct ns_restore *nr, const struct mnt_restore *mr)
{
	const MntEntry *r = mr->m[0];
	char *dir = realpath(nr->root, NULL);

	if (!dir) {
		pr_perror("--root '%s'", nr->root);
		return -1;
	}
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		pr_perror("can't make a mount namespace for the root '%s'", dir);
		return -1;
	}
	if (mount(dir, dir, NULL, MS_BIND, NULL)) {
		pr_perror("can't bind --root '%s' as the mount namespace's root", dir);
		return -1;
	}
	for (int j = 1; j < mr->nr; j++) {
		const MntEntry *e = mr->m[j];
		char *mp, *at;
		int ret;

		if (!mr->early[j])
			continue;
		mp = unescape(e->mountpoint);
		at = xsprintf("%s%s", dir, mp);
		ret = mount(ext_path(nr, e), at, NULL, MS_BIND, NULL) ||
		      mount(NULL, at, NULL, MS_REMOUNT | MS_BIND | mount_flags(e->options), NULL);
		if (ret)
			pr_perror("can't bind '%s' at %s (%s) of the root '%s'", ext_path(nr, e),
				  mp, e->ext_name, dir);
		free(mp);
		free(at);
		if (ret)
			return -1;
	}
	if (chdir(dir) || syscall(SYS_pivot_root, ".", ".") || umount2(".", MNT_DETACH) ||
	    chdir("/")) {
		pr_perror("can't pivot_root into '%s'", dir);
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | mount_flags(r->options), NULL)) {
		pr_perror("can't give the root '%s' its flags (%s)", dir, r->options);
		return -1;
	}
	free(dir);
	return 0;
}

int mntns_make_roots(struct ns_restore *nr)
{
	for (int k = 0; k < nr->nr; k++) {
		struct mnt_restore *mr = nr->mnt ? nr->mnt[k] : NULL;
		int p[2];
		char c = 0;

		if (!mr || !mr->rooted || mr->holder)
			continue;
		if (pipe2(p, O_CLOEXEC)) {
			pr_perror("can't make a pipe");
			return -1;
		}
		fflush(NULL);
		mr->holder = fork();
		if (mr->holder < 0) {
			pr_perror("can't fork the holder of mount namespace %u", nr->ns[k]->id);
			return -1;
		}
		if (mr->holder == 0) {
			close(p[0]);
			prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
			if (make_root(nr, mr) || write(p[1], "r", 1) != 1)
				_exit(1);
			for (;;)
				pause();
		}
		close(p[1]);
		if (read(p[0], &c, 1) != 1 || c != 'r') {
			close(p[0]);
			pr_err("can't make mount namespace %u with its root '%s'", nr->ns[k]->id,
			       nr->root);
			mntns_end_roots(nr);
			return -1;
		}
		close(p[0]);
		mr->prefix = xsprintf("/proc/%d/root", mr->holder);
		pr_info("mount namespace %u: its root '%s' bound and pivot_root'ed into by process %d",
			nr->ns[k]->id, nr->root, mr->holder);
	}
	return 0;
}

void mntns_end_roots(struct ns_restore *nr)
{
	for (int k = 0; nr->mnt && k < nr->nr; k++) {
		struct mnt_restore *mr = nr->mnt[k];

		if (!mr || mr->holder <= 0)
			continue;
		kill(mr->holder, SIGKILL);
		waitpid(mr->holder, NULL, 0);
		mr->holder = -1;
	}
}

char *mntns_ext_file(const struct ns_restore *nr, int k, const char *path)
{
	const struct mnt_restore *mr = nr->mnt ? nr->mnt[k] : NULL;
	const MntEntry *on = NULL;

	for (int j = 0; mr && j < mr->nr; j++)
		if (below(path, mr->m[j]->mountpoint))
			on = mr->m[j];
	if (!on || on->kind != MNT_KIND__MNT_EXTERNAL || !ext_path(nr, on))
		return NULL;
	return xsprintf("%s%s", ext_path(nr, on), path + strlen(on->mountpoint));
}
