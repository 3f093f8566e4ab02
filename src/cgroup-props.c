/*
 * A cgroup's properties: which files of its directory are, how each is
 * read at a dump and written back at a restore (issue 13).
 *
 * A dump goes over every regular file of a saved cgroup whose mode has
 * a w (the kernel makes a file writable exactly when writing it does
 * something) and finds it in the table below, first match wins:
 *
 *	SAVE	its text, written back as is
 *	LINES	a line per key (its first word: a block device MAJ:MIN, an
 *		interface, a resource), each line written on its own; a key
 *		the cgroup has at the restore and the dump's value lacks is
 *		put back to the kernel's default with .reset
 *	SKIP	not a property: membership, an action, a counter that a
 *		write resets; each says why
 *	REFUSE	a state crest can't make again: the dump is refused unless
 *		the file says .dflt, the kernel's default
 *
 * A writable file the table does not name is refused by name with its
 * value: crest can't tell whether a restore would set it back.
 *
 * The table's order is the order of the writes at a restore: a
 * cgroup's type before anything, cpuset.cpus and .mems before their
 * exclusive and partition files, a period before its quota and a quota
 * before its burst, a v1 memory limit before memory+swap's. After each
 * write the file is read again and must say what the dump saved.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include "cgroup.h"
#include "log.h"
#include "refuse.h"
#include "util.h"

#define CG_MAX_VALUE	(64 << 10)

enum cgp_kind { CGP_SAVE, CGP_LINES, CGP_SKIP, CGP_REFUSE };

struct cgp {
	const char *pat;	/* fnmatch(): '*' is one word ("2MB") */
	enum cgp_kind kind;
	const char *dflt;	/* REFUSE: the default; SAVE: the words it may say */
	const char *reset;	/* LINES: a key's line back to the default */
	bool blkdev;		/* LINES: keyed by a block device's MAJ:MIN */
};

static const struct cgp cg_table[] = {
	/*
	 * v2's type: "threaded", and "domain threaded" or "domain invalid"
	 * that a threaded child makes of its parent. crest makes domain
	 * cgroups (a thread in another cgroup than its process is refused
	 * by task-attrs.c; a whole process in a threaded one is here).
	 */
	{ "cgroup.type", CGP_REFUSE, "domain" },
	{ "cgroup.subtree_control", CGP_SAVE },
	{ "cgroup.max.depth", CGP_SAVE },
	{ "cgroup.max.descendants", CGP_SAVE },
	{ "cgroup.pressure", CGP_SAVE },	/* PSI on or off, 1 by default */
	/*
	 * Frozen by someone else than crest (crest thaws what it froze
	 * before it reads this): a restored tree would freeze in its
	 * cgroup before its restore ends.
	 */
	{ "cgroup.freeze", CGP_REFUSE, "0" },
	{ "freezer.state", CGP_REFUSE, "THAWED" },
	/* Membership: which process is where is task-attrs.c's. */
	{ "cgroup.procs", CGP_SKIP },
	{ "cgroup.threads", CGP_SKIP },
	{ "tasks", CGP_SKIP },
	/* Actions, no state: kill all, reclaim now, empty, reset stats. */
	{ "cgroup.kill", CGP_SKIP },
	{ "memory.reclaim", CGP_SKIP },
	{ "memory.force_empty", CGP_SKIP },
	{ "blkio.reset_stats", CGP_SKIP },
	/*
	 * Registrations of whoever writes, held by the fd written through:
	 * an eventfd for v1 memory events, a PSI trigger (a poll()able
	 * fd on cpu/io/memory/irq.pressure; reading gives the stall
	 * counts). An fd of the tree on such a file is files-reg.c's.
	 */
	{ "cgroup.event_control", CGP_SKIP },
	{ "*.pressure", CGP_SKIP },
	/* Only in a hierarchy's root, which crest never saves. */
	{ "release_agent", CGP_SKIP },
	{ "cgroup.clone_children", CGP_SAVE },
	{ "notify_on_release", CGP_SAVE },
	/* cpus and mems first: nothing joins a v1 cpuset without them. */
	{ "cpuset.cpus", CGP_SAVE },
	{ "cpuset.mems", CGP_SAVE },
	{ "cpuset.cpus.exclusive", CGP_SAVE },
	/* "root invalid (why)" is the kernel's verdict, not a setting. */
	{ "cpuset.cpus.partition", CGP_SAVE, "member root isolated" },
	{ "cpuset.cpu_exclusive", CGP_SAVE },
	{ "cpuset.mem_exclusive", CGP_SAVE },
	{ "cpuset.mem_hardwall", CGP_SAVE },
	{ "cpuset.memory_migrate", CGP_SAVE },
	{ "cpuset.memory_spread_page", CGP_SAVE },
	{ "cpuset.memory_spread_slab", CGP_SAVE },
	{ "cpuset.sched_load_balance", CGP_SAVE },
	{ "cpuset.sched_relax_domain_level", CGP_SAVE },
	{ "cpu.shares", CGP_SAVE },
	{ "cpu.weight", CGP_SAVE },
	/* cpu.weight seen as a nice value: written after it, it rounds it. */
	{ "cpu.weight.nice", CGP_SKIP },
	{ "cpu.cfs_period_us", CGP_SAVE },
	{ "cpu.cfs_quota_us", CGP_SAVE },
	{ "cpu.cfs_burst_us", CGP_SAVE },
	{ "cpu.max", CGP_SAVE },
	{ "cpu.max.burst", CGP_SAVE },
	{ "cpu.rt_period_us", CGP_SAVE },
	{ "cpu.rt_runtime_us", CGP_SAVE },
	{ "cpu.idle", CGP_SAVE },
	{ "cpu.uclamp.min", CGP_SAVE },
	{ "cpu.uclamp.max", CGP_SAVE },
	/* CPU time used, a count (a write of 0 resets it). */
	{ "cpuacct.usage", CGP_SKIP },
	/* v1 memory: the limit before memory+swap's, which can't be less. */
	{ "memory.limit_in_bytes", CGP_SAVE },
	{ "memory.memsw.limit_in_bytes", CGP_SAVE },
	{ "memory.soft_limit_in_bytes", CGP_SAVE },
	/* The kernel takes no write of it since 6.1 (EINVAL here). */
	{ "memory.kmem.limit_in_bytes", CGP_REFUSE, "9223372036854771712" },
	{ "memory.kmem.tcp.limit_in_bytes", CGP_SAVE },
	{ "memory.swappiness", CGP_SAVE },
	{ "memory.oom_control", CGP_SAVE },	/* its oom_kill_disable */
	{ "memory.use_hierarchy", CGP_SAVE },
	{ "memory.move_charge_at_immigrate", CGP_SAVE },
	{ "memory.shown_ram_in_bytes", CGP_SAVE },	/* this kernel's own */
	/* Counts and high-water marks; a write resets them. */
	{ "memory.failcnt", CGP_SKIP },
	{ "memory.max_usage_in_bytes", CGP_SKIP },
	{ "memory.*.failcnt", CGP_SKIP },
	{ "memory.*.max_usage_in_bytes", CGP_SKIP },
	{ "memory.kmem.tcp.failcnt", CGP_SKIP },
	{ "memory.kmem.tcp.max_usage_in_bytes", CGP_SKIP },
	{ "memory.peak", CGP_SKIP },
	{ "memory.swap.peak", CGP_SKIP },
	/* v2 memory. */
	{ "memory.min", CGP_SAVE },
	{ "memory.low", CGP_SAVE },
	{ "memory.high", CGP_SAVE },
	{ "memory.max", CGP_SAVE },
	{ "memory.swap.high", CGP_SAVE },
	{ "memory.swap.max", CGP_SAVE },
	{ "memory.zswap.max", CGP_SAVE },
	{ "memory.zswap.writeback", CGP_SAVE },
	{ "memory.oom.group", CGP_SAVE },
	/* v2 io: "default N" and a line per device that differs. */
	{ "io.weight", CGP_LINES, NULL, "%s default", true },
	{ "io.bfq.weight", CGP_LINES, NULL, "%s default", true },
	{ "io.max", CGP_LINES, NULL, "%s rbps=max wbps=max riops=max wiops=max", true },
	{ "io.latency", CGP_LINES, NULL, "%s target=max", true },
	{ "io.prio.class", CGP_SAVE },
	/* v1 blkio. */
	{ "blkio.weight", CGP_SAVE },
	{ "blkio.weight_device", CGP_LINES, NULL, "%s 0", true },
	{ "blkio.leaf_weight", CGP_SAVE },
	{ "blkio.leaf_weight_device", CGP_LINES, NULL, "%s 0", true },
	{ "blkio.bfq.weight", CGP_SAVE },
	{ "blkio.bfq.weight_device", CGP_LINES, NULL, "%s default", true },
	{ "blkio.throttle.read_bps_device", CGP_LINES, NULL, "%s 0", true },
	{ "blkio.throttle.write_bps_device", CGP_LINES, NULL, "%s 0", true },
	{ "blkio.throttle.read_iops_device", CGP_LINES, NULL, "%s 0", true },
	{ "blkio.throttle.write_iops_device", CGP_LINES, NULL, "%s 0", true },
	{ "pids.max", CGP_SAVE },
	/* hugetlb per page size: v2's, then v1's. */
	{ "hugetlb.*.max", CGP_SAVE },
	{ "hugetlb.*.rsvd.max", CGP_SAVE },
	{ "hugetlb.*.limit_in_bytes", CGP_SAVE },
	{ "hugetlb.*.rsvd.limit_in_bytes", CGP_SAVE },
	{ "hugetlb.*.failcnt", CGP_SKIP },
	{ "hugetlb.*.max_usage_in_bytes", CGP_SKIP },
	{ "hugetlb.*.rsvd.failcnt", CGP_SKIP },
	{ "hugetlb.*.rsvd.max_usage_in_bytes", CGP_SKIP },
	/* Keyed by a resource, a device, a region or an interface name. */
	{ "misc.max", CGP_LINES, NULL, "%s max" },
	{ "rdma.max", CGP_LINES, NULL, "%s hca_handle=max hca_object=max" },
	{ "dmem.max", CGP_LINES, NULL, "%s max" },
	{ "dmem.min", CGP_LINES, NULL, "%s 0" },
	{ "dmem.low", CGP_LINES, NULL, "%s 0" },
	{ "net_cls.classid", CGP_SAVE },
	{ "net_prio.ifpriomap", CGP_LINES, NULL, "%s 0" },
	/*
	 * devices.list, read-only, is what allow and deny (write-only)
	 * made: saved under its name through allow's entry, written back
	 * as deny all and allow each line.
	 */
	{ "devices.allow", CGP_SAVE },
	{ "devices.deny", CGP_SKIP },
};

#define CG_TABLE_NR	(sizeof(cg_table) / sizeof(*cg_table))

static int dots(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '.';
	return n;
}

static int lookup(const char *name)
{
	/* An old image's devices.list: where devices.allow saves it. */
	if (!strcmp(name, "devices.list"))
		name = "devices.allow";
	/* '*' stands for one word: as many dots in the name as the pattern. */
	for (size_t i = 0; i < CG_TABLE_NR; i++)
		if (!fnmatch(cg_table[i].pat, name, 0) && dots(cg_table[i].pat) == dots(name))
			return (int)i;
	return -1;
}

char *cgroup_read_prop(const char *dir, const char *name, bool *missing)
{
	char *path = xsprintf("%s/%s", dir, name), *buf = xzalloc(CG_MAX_VALUE + 1);
	ssize_t n = 0, r = 0;
	int fd;

	*missing = false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*missing = errno == ENOENT;
		if (!*missing)
			pr_perror("can't open '%s'", path);
		goto err;
	}
	while (n < CG_MAX_VALUE && (r = read(fd, buf + n, CG_MAX_VALUE - n)) > 0)
		n += r;
	if (r < 0 || n == CG_MAX_VALUE) {
		pr_err("can't read '%s'%s", path, n == CG_MAX_VALUE ? ": too long" : "");
		close(fd);
		goto err;
	}
	close(fd);
	while (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	if (!strcmp(name, "memory.oom_control")) {
		int off;

		if (sscanf(buf, "oom_kill_disable %d", &off) != 1) {
			pr_err("'%s' says '%s', not oom_kill_disable", path, buf);
			goto err;
		}
		snprintf(buf, CG_MAX_VALUE, "%d", off);
	}
	free(path);
	return buf;
err:
	free(path);
	free(buf);
	return NULL;
}

/* ---- dump ---- */

static bool one_of(const char *words, const char *v)
{
	size_t n = strlen(v);

	for (const char *w = words; *w; w += strcspn(w, " "), w += *w == ' ')
		if (strcspn(w, " ") == n && !strncmp(w, v, n))
			return true;
	return false;
}

static int by_table(const void *a, const void *b)
{
	const CgroupPropEntry *x = *(CgroupPropEntry *const *)a;
	const CgroupPropEntry *y = *(CgroupPropEntry *const *)b;
	int i = lookup(x->name), j = lookup(y->name);

	return i != j ? i - j : strcmp(x->name, y->name);
}

static void add(CgroupDirEntry *d, const char *name, char *v)
{
	CgroupPropEntry *p = xzalloc(sizeof(*p));

	cgroup_prop_entry__init(p);
	p->name = xstrdup(name);
	p->value = v;
	d->props = xrealloc(d->props, (d->n_props + 1) * sizeof(p));
	d->props[d->n_props++] = p;
}

int cgroup_props_collect(CgroupDirEntry *d, const char *dir, pid_t pid)
{
	const char *ctl = d->controllers[0] ? d->controllers : "v2";
	struct dirent *de;
	int ret = 0;
	DIR *dp = opendir(dir);

	if (!dp) {
		pr_perror("can't list cgroup '%s'", dir);
		return -1;
	}
	while (!ret && (de = readdir(dp))) {
		const char *name = de->d_name;
		struct stat st;
		bool missing;
		char *v;
		int i;

		if (fstatat(dirfd(dp), name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode) ||
		    !(st.st_mode & 0222))
			continue;
		i = lookup(name);
		if (i >= 0 && cg_table[i].kind == CGP_SKIP)
			continue;
		if (i >= 0 && !strcmp(name, "devices.allow"))
			name = "devices.list";
		v = cgroup_read_prop(dir, name, &missing);
		if (!v) {
			if (missing)
				continue;	/* gone since readdir */
			if (i >= 0) {
				ret = -1;
				break;
			}
			v = xstrdup("(unreadable)");
		}
		if (i < 0) {
			refuse(pid, "its cgroup '%s' (%s) has '%s', '%s', a property crest does not know: it can't say a restore would set it back",
			       d->path, ctl, name, v);
		} else if (cg_table[i].kind == CGP_REFUSE && strcmp(v, cg_table[i].dflt)) {
			refuse(pid, "its cgroup '%s' (%s) has '%s' '%s', not the kernel's '%s': crest can't make that again, not supported yet",
			       d->path, ctl, name, v, cg_table[i].dflt);
		} else if (cg_table[i].kind == CGP_SAVE && cg_table[i].dflt &&
			   !one_of(cg_table[i].dflt, v)) {
			refuse(pid, "its cgroup '%s' (%s) has '%s' '%s', which crest can't write back (it takes %s)",
			       d->path, ctl, name, v, cg_table[i].dflt);
		} else if (cg_table[i].kind != CGP_REFUSE) {
			add(d, name, v);
			continue;
		}
		free(v);
	}
	closedir(dp);
	if (d->n_props > 1)
		qsort(d->props, d->n_props, sizeof(*d->props), by_table);
	return ret;
}

/* ---- restore ---- */

static int write_val(const char *dir, const char *name, const char *val, size_t len)
{
	char *path = xsprintf("%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0 || write(fd, val, len) != (ssize_t)len) {
		pr_perror("can't set '%s' to '%.*s'", path, (int)len, val);
		ret = -1;
	}
	if (fd >= 0)
		close(fd);
	free(path);
	return ret;
}

/* One line per write: the kernel takes the first line of each only. */
static int write_lines(const char *dir, const char *name, const char *val, const char *pre)
{
	while (*val) {
		size_t n = strcspn(val, "\n");
		char *line = xsprintf("%s%.*s", pre, (int)n, val);

		if (n && write_val(dir, name, line, strlen(line))) {
			free(line);
			return -1;
		}
		free(line);
		val += n + !!val[n];
	}
	return 0;
}

static bool has_key(const char *val, const char *key, size_t n)
{
	for (const char *l = val; *l; l += strcspn(l, "\n"), l += *l == '\n')
		if (strcspn(l, " \n") == n && !strncmp(l, key, n))
			return true;
	return false;
}

/* Keyed lines: the dump's, each device there; keys it lacks reset. */
static int set_lines(const char *dir, const struct cgp *t, const char *name, const char *cur,
		     const char *val)
{
	for (const char *l = val; *l; l += strcspn(l, "\n"), l += *l == '\n') {
		size_t n = strcspn(l, " \n");
		unsigned maj, min;
		char *line, dev[32];

		if (t->blkdev && n < sizeof(dev) && sscanf(l, "%u:%u", &maj, &min) == 2) {
			snprintf(dev, sizeof(dev), "/sys/dev/block/%u:%u", maj, min);
			if (access(dev, F_OK)) {
				pr_err("cgroup '%s': the dump's %s line '%.*s' is for block device %u:%u, which is not here (a device number names a disk only on its machine)",
				       dir, name, (int)strcspn(l, "\n"), l, maj, min);
				return -1;
			}
		}
		line = xsprintf("%.*s", (int)strcspn(l, "\n"), l);
		if (write_val(dir, name, line, strlen(line))) {
			free(line);
			return -1;
		}
		free(line);
	}
	for (const char *l = cur; t->reset && *l; l += strcspn(l, "\n"), l += *l == '\n') {
		size_t n = strcspn(l, " \n");
		char *key, *line;
		int ret;

		if (has_key(val, l, n))
			continue;
		key = xsprintf("%.*s", (int)n, l);
		line = xsprintf(t->reset, key);
		ret = write_val(dir, name, line, strlen(line));
		free(key);
		free(line);
		if (ret)
			return -1;
	}
	return 0;
}

int cgroup_set_prop(const char *dir, const CgroupPropEntry *p)
{
	bool missing;
	char *cur = cgroup_read_prop(dir, p->name, &missing);
	int i = lookup(p->name), ret;

	if (!cur) {
		if (missing)
			pr_err("cgroup '%s' has no '%s' here (the dump's was '%s'): its controller is not enabled or not this kernel's",
			       dir, p->name, p->value);
		return -1;
	}
	if (!strcmp(cur, p->value)) {
		free(cur);
		return 0;
	}
	if (i >= 0 && cg_table[i].kind != CGP_SAVE && cg_table[i].kind != CGP_LINES) {
		pr_err("cgroup '%s': the image has '%s' '%s', which crest does not set",
		       dir, p->name, p->value);
		free(cur);
		return -1;
	}
	/* An allow list is made from nothing: deny all, allow each line. */
	if (!strcmp(p->name, "devices.list")) {
		ret = write_val(dir, "devices.deny", "a", 1) ||
		      write_lines(dir, "devices.allow", p->value, "");
	} else if (!strcmp(p->name, "cgroup.subtree_control")) {
		/* "cpu memory" is read, "+cpu +memory" written (a word at a time). */
		char *words = xstrdup(p->value);

		for (char *s = words; *s; s++)
			if (*s == ' ')
				*s = '\n';
		ret = write_lines(dir, p->name, words, "+");
		free(words);
	} else if (i >= 0 && cg_table[i].kind == CGP_LINES) {
		ret = set_lines(dir, &cg_table[i], p->name, cur, p->value);
	} else {
		/* oom_control's saved value is the oom_kill_disable switch. */
		ret = write_val(dir, p->name, p->value, strlen(p->value));
	}
	free(cur);
	if (ret)
		return -1;
	/* What the kernel made of it must be what the dump saw. */
	cur = cgroup_read_prop(dir, p->name, &missing);
	if (!cur)
		return -1;
	if (strcmp(cur, p->value)) {
		pr_err("cgroup '%s': '%s' is '%s' after crest set it to the dump's '%s'",
		       dir, p->name, cur, p->value);
		ret = -1;
	}
	free(cur);
	return ret;
}
