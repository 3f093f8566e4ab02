/*
 * User namespaces, the shape `unshare --user` makes (with --map-root-user,
 * --map-users/--map-groups or maps written by hand): one level below
 * crest's, owned by crest's user, with its uid and gid maps and its
 * setgroups setting, and no other namespace of the tree owned by it.
 *
 * Every process in it gets its host PID (and the others' set_tid) only
 * from a creator with privileges over crest's namespace, which a process
 * inside has not: so the whole tree is made in crest's user namespace,
 * and each process joins the tree's (setns) in its restorer, after its
 * memory and mm fields and before its ids (translated into the
 * namespace's: set as the process saw them) and capabilities are set.
 * setns() of a user namespace takes a single-threaded process whose fs
 * is not shared, so a multi-threaded one is refused, as are a namespace
 * owned by it (a PID, mount... one made after it: they would come back
 * owned by crest's) but a network, UTS or IPC one (made in it again by a
 * helper that joined it), one nested in another, and ids it does not map.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "namespaces.h"
#include "pie-abi.h"
#include "proc.h"
#include "refuse.h"
#include "util.h"

static IdExtent **parse_map(const char *text, size_t *n)
{
	IdExtent **m = NULL;

	*n = 0;
	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		unsigned int first, lower, count;

		if (sscanf(l, "%u %u %u", &first, &lower, &count) != 3)
			continue;
		m = xrealloc(m, (*n + 1) * sizeof(*m));
		m[*n] = xzalloc(sizeof(**m));
		id_extent__init(m[*n]);
		m[*n]->first = first;
		m[*n]->lower_first = lower;
		m[*n]->count = count;
		(*n)++;
	}
	return m;
}

static uint64_t ino_of_fd(int fd)
{
	struct stat st;

	return fd >= 0 && !fstat(fd, &st) ? st.st_ino : 0;
}

/* The user namespace that owns ns/NAME of pid, or its parent (NS_GET_PARENT). */
static uint64_t owner_of(pid_t pid, const char *name, unsigned long req)
{
	char path[64];
	int fd, u;
	uint64_t ino;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	u = ioctl(fd, req);
	close(fd);
	ino = ino_of_fd(u);
	if (u >= 0)
		close(u);
	return ino;
}

uint64_t userns_owner_ino(pid_t pid, const char *name)
{
	return owner_of(pid, name, NS_GET_USERNS);
}

int userns_collect(struct ns_dump *nd, int k, pid_t pid)
{
	char path[64], *uid, *gid, *sg;
	struct stat own, mine;
	UserNsEntry *e;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	if (stat(path, &own) || stat("/proc/self/ns/user", &mine)) {
		pr_perror("can't stat the user namespace of process %d", pid);
		return -1;
	}
	if (owner_of(pid, "user", NS_GET_PARENT) != mine.st_ino) {
		refuse(pid, "is in a user namespace nested in another than crest's, not supported yet");
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		uid_t owner = (uid_t)-1;

		if (!ioctl(fd, NS_GET_OWNER_UID, &owner) && owner != geteuid())
			refuse(pid, "is in a user namespace owned by uid %u, crest is uid %u: not supported yet",
			       owner, geteuid());
		close(fd);
	}
	/* What else it owns: ns_owners() (namespaces.c). */
	snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
	uid = read_file(path, NULL);
	snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
	gid = read_file(path, NULL);
	snprintf(path, sizeof(path), "/proc/%d/setgroups", pid);
	sg = read_file(path, NULL);
	if (!uid || !gid || !sg) {
		pr_perror("can't read the maps of the user namespace of process %d", pid);
		free(uid);
		free(gid);
		free(sg);
		return -1;
	}
	e = xzalloc(sizeof(*e));
	user_ns_entry__init(e);
	e->uid_map = parse_map(uid, &e->n_uid_map);
	e->gid_map = parse_map(gid, &e->n_gid_map);
	e->setgroups = !strncmp(sg, "allow", 5);
	free(uid);
	free(gid);
	free(sg);
	nd->user[k] = e;
	return 0;
}

/* id in the namespace's terms; -1: not mapped. */
static int64_t inside(IdExtent *const *m, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (id >= m[i]->lower_first && id - m[i]->lower_first < m[i]->count)
			return (int64_t)m[i]->first + (id - m[i]->lower_first);
	return -1;
}

int userns_check_task(const struct ns_dump *nd, int k, const struct pstree_item *it)
{
	const UserNsEntry *e = nd->user[k];
	struct proc_status ps;
	char *buf;

	if (it->nr_threads > 1)
		refuse(it->pid, "has %d threads in a user namespace of its tree: only a single-threaded process can join one (setns), not supported yet",
		       it->nr_threads);
	if (it->shares_files)
		refuse(it->pid, "shares its fd table (CLONE_FILES) in a user namespace of its tree, not supported yet");
	if (!e)
		return 0;
	buf = read_proc(it->live, "status", NULL);
	if (!buf || proc_parse_status(buf, &ps)) {
		pr_perror("can't read the status of process %d", it->pid);
		free(buf);
		return -1;
	}
	free(buf);
	for (int i = 0; i < 4; i++)
		if (inside(e->uid_map, e->n_uid_map, ps.uid[i]) < 0)
			refuse(it->pid, "uid %u is not mapped in its user namespace, not supported", ps.uid[i]);
	for (int i = 0; i < 4; i++)
		if (inside(e->gid_map, e->n_gid_map, ps.gid[i]) < 0)
			refuse(it->pid, "gid %u is not mapped in its user namespace, not supported", ps.gid[i]);
	for (int i = 0; i < ps.nr_groups; i++)
		if (inside(e->gid_map, e->n_gid_map, ps.groups[i]) < 0 ||
		    (!e->setgroups && ps.nr_groups))
			refuse(it->pid, "supplementary group %u is not mapped in its user namespace, or setgroups is denied there: not supported",
			       ps.groups[i]);
	return 0;
}

/*
 * A helper unshare()s a user namespace, crest writes its maps (the
 * parent namespace's privileges), opens it, and the helper goes.
 */
int userns_make(const UserNsEntry *e, uint32_t id)
{
	char path[64], buf[4096];
	int fd = -1, off = 0;
	struct ns_helper h;
	pid_t pid;
	const struct {
		const char *name;
		IdExtent *const *m;
		size_t n;
	} maps[] = { { "uid_map", e->uid_map, e->n_uid_map }, { "gid_map", e->gid_map, e->n_gid_map } };

	if (ns_helper_start(&h, -1, CLONE_NEWUSER, id))
		return -1;
	pid = h.pid;
	snprintf(path, sizeof(path), "/proc/%d/setgroups", pid);
	if (!e->setgroups) {
		int sfd = open(path, O_WRONLY | O_CLOEXEC);

		if (sfd < 0 || write(sfd, "deny", 4) != 4) {
			pr_perror("can't write 'deny' to '%s'", path);
			if (sfd >= 0)
				close(sfd);
			goto out;
		}
		close(sfd);
	}
	for (int i = 0; i < 2; i++) {
		int mfd;

		off = 0;
		for (size_t k = 0; k < maps[i].n && off < (int)sizeof(buf) - 40; k++)
			off += snprintf(buf + off, sizeof(buf) - off, "%u %u %u\n",
					maps[i].m[k]->first, maps[i].m[k]->lower_first,
					maps[i].m[k]->count);
		if (!off)
			continue;	/* none written at the dump either */
		snprintf(path, sizeof(path), "/proc/%d/%s", pid, maps[i].name);
		mfd = open(path, O_WRONLY | O_CLOEXEC);
		if (mfd < 0 || write(mfd, buf, off) != off) {
			pr_perror("can't write the %s of user namespace %u", maps[i].name, id);
			if (mfd >= 0)
				close(mfd);
			goto out;
		}
		close(mfd);
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		pr_perror("can't open '%s'", path);
out:
	ns_helper_end(&h);
	return fd;
}

static uint32_t in_ns(IdExtent *const *m, size_t n, uint32_t id)
{
	int64_t v = inside(m, n, id);

	return v < 0 ? 65534 : (uint32_t)v;	/* the dump refused it */
}

void userns_args(const UserNsEntry *e, int fd, struct restore_args *ra)
{
	ra->userns_fd = fd;
	if (fd < 0 || !e)
		return;
	ra->uid = in_ns(e->uid_map, e->n_uid_map, ra->uid);
	ra->euid = in_ns(e->uid_map, e->n_uid_map, ra->euid);
	ra->suid = in_ns(e->uid_map, e->n_uid_map, ra->suid);
	ra->fsuid = in_ns(e->uid_map, e->n_uid_map, ra->fsuid);
	ra->gid = in_ns(e->gid_map, e->n_gid_map, ra->gid);
	ra->egid = in_ns(e->gid_map, e->n_gid_map, ra->egid);
	ra->sgid = in_ns(e->gid_map, e->n_gid_map, ra->sgid);
	ra->fsgid = in_ns(e->gid_map, e->n_gid_map, ra->fsgid);
	for (uint32_t i = 0; i < ra->nr_groups; i++)
		ra->groups[i] = in_ns(e->gid_map, e->n_gid_map, ra->groups[i]);
}
