/*
 * Process attributes, dump and restore together.
 *
 * Per thread (each one's own in the kernel): capabilities (effective,
 * permitted, inheritable, bounding, ambient) and securebits, no_new_privs,
 * the seccomp mode and filters, the parent-death signal, timer slack and
 * I/O priority. Per process: THP disable and membarrier registrations
 * (the mm's), oom_score_adj (the signal struct's), loginuid and the
 * cgroup of every hierarchy.
 *
 * Read from /proc/PID/task/TID/status, ptrace (PTRACE_SECCOMP_GET_FILTER:
 * crest is the tracer) and the parasite's INFO (prctl). Put back by the
 * restorer in each thread (the order matters, see pie/restorer.c
 * set_creds()), by crest's child before it becomes the process (loginuid,
 * oom_score_adj, cgroups: it writes them for itself) and by crest from
 * outside at the end (I/O priority).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "pstree.h"
#include "seize.h"
#include "task-attrs.h"
#include "util.h"

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER	0x420c
#endif
#ifndef PTRACE_SECCOMP_GET_METADATA
#define PTRACE_SECCOMP_GET_METADATA	0x420d
#endif
#define IOPRIO_WHO_PROCESS		1
#define BPF_RET_K			0x06	/* BPF_RET | BPF_K */
#define SECCOMP_RET_ACTION_FULL		0xffff0000U
#define SECCOMP_RET_USER_NOTIF		0x7fc00000U
#define BPF_MAXINSNS			4096

struct bpf_insn_c {
	uint16_t code;
	uint8_t jt, jf;
	uint32_t k;
};

static int hex_field(const char *buf, const char *name, uint64_t *v)
{
	const char *p = proc_field(buf, name);

	if (!p)
		return -1;
	*v = strtoull(p, NULL, 16);
	return 0;
}

int attrs_parse_status(const char *buf, struct attrs_status *st)
{
	const char *p;

	memset(st, 0, sizeof(*st));
	if (hex_field(buf, "CapInh", &st->cap_inh) ||
	    hex_field(buf, "CapPrm", &st->cap_prm) ||
	    hex_field(buf, "CapEff", &st->cap_eff) ||
	    hex_field(buf, "CapBnd", &st->cap_bnd))
		return -1;
	/* Older kernels have no ambient set: then it is empty. */
	hex_field(buf, "CapAmb", &st->cap_amb);
	p = proc_field(buf, "NoNewPrivs");
	if (p)
		st->no_new_privs = atoi(p);
	p = proc_field(buf, "Seccomp");
	if (p)
		st->seccomp = atoi(p);
	return 0;
}

int attrs_parse_cgroup_line(const char *line, CgroupEntry *e)
{
	const char *c1 = strchr(line, ':'), *c2;
	size_t len;

	cgroup_entry__init(e);
	if (!c1 || !(c2 = strchr(c1 + 1, ':')))
		return -1;
	e->id = strtoul(line, NULL, 10);
	e->controllers = xzalloc(c2 - c1);
	memcpy(e->controllers, c1 + 1, c2 - c1 - 1);
	len = strcspn(c2 + 1, "\n");
	e->path = xzalloc(len + 1);
	memcpy(e->path, c2 + 1, len);
	return e->path[0] == '/' ? 0 : -1;
}

/* Does the comma-separated opts hold every controller of want? */
static bool has_controllers(const char *opts, const char *want)
{
	char *w = xstrdup(want), *save = NULL, *tok;
	bool ok = true;

	for (tok = strtok_r(w, ",", &save); tok && ok; tok = strtok_r(NULL, ",", &save)) {
		size_t len = strlen(tok);
		const char *p = opts;

		ok = false;
		while (p && *p) {
			if (!strncmp(p, tok, len) && (p[len] == ',' || !p[len])) {
				ok = true;
				break;
			}
			p = strchr(p, ',');
			if (p)
				p++;
		}
	}
	free(w);
	return ok;
}

char *attrs_cgroup_dir(const char *mountinfo, const CgroupEntry *e)
{
	char *buf = xstrdup(mountinfo), *save = NULL, *line, *dir = NULL;

	for (line = strtok_r(buf, "\n", &save); line && !dir;
	     line = strtok_r(NULL, "\n", &save)) {
		char root[4096], mnt[4096], fstype[64], src[4096], sopts[4096];
		const char *dash = strstr(line, " - ");
		size_t rlen;

		if (!dash || sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 ||
		    sscanf(dash + 3, "%63s %4095s %4095s", fstype, src, sopts) != 3)
			continue;
		if (e->id == 0 && !e->controllers[0]) {
			if (strcmp(fstype, "cgroup2"))
				continue;
		} else if (strcmp(fstype, "cgroup") ||
			   !has_controllers(sopts, e->controllers)) {
			continue;
		}
		/* A mount of a sub-tree shows only what is below its root. */
		rlen = strcmp(root, "/") ? strlen(root) : 0;
		if (strncmp(e->path, root, rlen) ||
		    (e->path[rlen] && e->path[rlen] != '/'))
			continue;
		if (asprintf(&dir, "%s%s", mnt, e->path + rlen) < 0)
			dir = NULL;
	}
	free(buf);
	return dir;
}

/* ---- dump ---- */

static int dump_filters(pid_t pid, pid_t tid, ThreadAttrsEntry *ta)
{
	struct bpf_insn_c *buf = xzalloc(BPF_MAXINSNS * sizeof(*buf));
	int n = 0, ret = -1;

	/* Index 0 is the newest; the image keeps them oldest first. */
	for (;; n++) {
		long len = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)(long)n, buf);
		struct { uint64_t off, flags; } md = { n, 0 };
		SeccompFilterEntry *f;

		if (len < 0 && errno == ENOENT)
			break;
		if (len <= 0 || len > BPF_MAXINSNS) {
			pr_perror("can't read seccomp filter %d of thread %d of process %d (crest needs CAP_SYS_ADMIN and a kernel with CONFIG_CHECKPOINT_RESTORE)",
				  n, tid, pid);
			goto out;
		}
		for (long i = 0; i < len; i++) {
			if (buf[i].code == BPF_RET_K &&
			    (buf[i].k & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_USER_NOTIF) {
				pr_err("thread %d of process %d has a seccomp filter that hands system calls to a supervisor (SECCOMP_RET_USER_NOTIF): crest can't restore the supervisor's side",
				       tid, pid);
				goto out;
			}
		}
		if (ptrace(PTRACE_SECCOMP_GET_METADATA, tid, (void *)sizeof(md), &md) < 0) {
			pr_perror("can't read the flags of seccomp filter %d of thread %d of process %d",
				  n, tid, pid);
			goto out;
		}
		f = xzalloc(sizeof(*f));
		seccomp_filter_entry__init(f);
		f->prog.len = len * sizeof(*buf);
		f->prog.data = xzalloc(f->prog.len);
		memcpy(f->prog.data, buf, f->prog.len);
		f->has_flags = 1;
		f->flags = md.flags;
		ta->seccomp_filters = xrealloc(ta->seccomp_filters, (n + 1) * sizeof(f));
		memmove(ta->seccomp_filters + 1, ta->seccomp_filters, n * sizeof(f));
		ta->seccomp_filters[0] = f;
		ta->n_seccomp_filters = n + 1;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

static ThreadAttrsEntry *collect_thread(struct pstree_item *it, pid_t tid)
{
	ThreadAttrsEntry *ta = xzalloc(sizeof(*ta));
	struct attrs_status st;
	char path[64], *buf;
	long prio;

	thread_attrs_entry__init(ta);
	snprintf(path, sizeof(path), "task/%d/status", tid);
	buf = read_proc(it->live, path, NULL);
	if (!buf || attrs_parse_status(buf, &st)) {
		pr_err("can't read the capabilities of thread %d of process %d in /proc/%d/%s",
		       tid, it->pid, it->live, path);
		free(buf);
		return NULL;
	}
	free(buf);
	ta->caps = xzalloc(sizeof(*ta->caps));
	caps_entry__init(ta->caps);
	ta->caps->inh = st.cap_inh;
	ta->caps->prm = st.cap_prm;
	ta->caps->eff = st.cap_eff;
	ta->caps->bnd = st.cap_bnd;
	ta->caps->amb = st.cap_amb;
	ta->has_no_new_privs = 1;
	ta->no_new_privs = st.no_new_privs;
	ta->has_seccomp_mode = 1;
	ta->seccomp_mode = st.seccomp;
	if (st.seccomp && !seize_suspends_seccomp()) {
		pr_err("thread %d of process %d runs under seccomp, and this kernel or crest's privileges don't let a tracer suspend it (PTRACE_O_SUSPEND_SECCOMP): crest can't run its parasite there",
		       tid, it->pid);
		return NULL;
	}
	if (st.seccomp > 2) {
		pr_err("thread %d of process %d is in seccomp mode %d, which crest does not know",
		       tid, it->pid, st.seccomp);
		return NULL;
	}
	if (st.seccomp == 2 && dump_filters(it->pid, tid, ta))
		return NULL;
	errno = 0;
	prio = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, tid);
	if (prio < 0) {
		pr_perror("can't read the I/O priority of thread %d of process %d", tid, it->pid);
		return NULL;
	}
	ta->has_ioprio = 1;
	ta->ioprio = prio;
	return ta;
}

static char *read_trimmed(pid_t pid, const char *what)
{
	char *buf = read_proc(pid, what, NULL);

	if (buf)
		buf[strcspn(buf, "\n")] = 0;
	else
		pr_perror("can't read /proc/%d/%s", pid, what);
	return buf;
}

static int collect_cgroups(struct pstree_item *it, TaskAttrsEntry *ta)
{
	char *all = read_proc(it->live, "cgroup", NULL), *save = NULL, *line;
	int ret = -1;

	if (!all) {
		pr_perror("can't read /proc/%d/cgroup", it->live);
		return -1;
	}
	/* One cgroup per process: a thread elsewhere can't be put back. */
	for (int k = 0; k < it->nr_threads; k++) {
		char path[64], *mine;

		snprintf(path, sizeof(path), "task/%d/cgroup", it->threads[k]);
		mine = read_proc(it->live, path, NULL);
		if (mine && strcmp(mine, all)) {
			pr_err("thread %d of process %d is in other cgroups than its process: crest restores one set of cgroups per process",
			       it->threads[k], it->pid);
			free(mine);
			goto out;
		}
		free(mine);
	}
	for (line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		CgroupEntry *e = xzalloc(sizeof(*e));

		if (attrs_parse_cgroup_line(line, e)) {
			pr_err("can't parse '%s' in /proc/%d/cgroup", line, it->live);
			goto out;
		}
		ta->cgroups = xrealloc(ta->cgroups, (ta->n_cgroups + 1) * sizeof(e));
		ta->cgroups[ta->n_cgroups++] = e;
	}
	ret = 0;
out:
	free(all);
	return ret;
}

int attrs_collect(struct pstree_item *it)
{
	TaskAttrsEntry *ta = xzalloc(sizeof(*ta));
	char *s;

	task_attrs_entry__init(ta);
	it->tattrs = xzalloc(it->nr_threads * sizeof(*it->tattrs));
	for (int k = 0; k < it->nr_threads; k++) {
		it->tattrs[k] = collect_thread(it, it->threads[k]);
		if (!it->tattrs[k])
			return -1;
	}
	s = read_trimmed(it->live, "oom_score_adj");
	if (!s)
		return -1;
	ta->has_oom_score_adj = 1;
	ta->oom_score_adj = atoi(s);
	free(s);
	/* Without audit there is no loginuid to keep. */
	s = read_proc(it->live, "loginuid", NULL);
	if (s) {
		ta->has_loginuid = 1;
		ta->loginuid = strtoul(s, NULL, 10);
		free(s);
	}
	if (collect_cgroups(it, ta))
		return -1;
	it->attrs = ta;
	return 0;
}

void attrs_finish(const struct pstree_item *it, CoreEntry *c)
{
	c->attrs = it->attrs;
	c->attrs->has_thp_disable = 1;
	c->attrs->thp_disable = it->info.thp_disable;
	c->attrs->has_membarrier = 1;
	c->attrs->membarrier = it->info.membarrier;
	for (size_t k = 0; k < c->n_threads && k < (size_t)it->nr_threads; k++) {
		ThreadAttrsEntry *ta = it->tattrs[k];
		const struct parasite_info *pi = &it->tinfo[k];

		ta->caps->secbits = pi->securebits;
		ta->has_pdeathsig = 1;
		ta->pdeathsig = pi->pdeathsig;
		ta->has_timer_slack = 1;
		ta->timer_slack = pi->timer_slack;
		c->threads[k]->attrs = ta;
	}
}

/* ---- restore ---- */

static int write_str(const char *path, const char *val)
{
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		ret = -1;
	if (fd >= 0)
		close(fd);
	return ret;
}

static int write_self(const char *what, const char *val)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/%s", what);
	return write_str(path, val);
}

/* Is this process already in the cgroup whose cgroup.procs is procs? */
static bool in_cgroup(const char *procs)
{
	char *list = read_file(procs, NULL), *tok, *save = NULL;
	bool in = false;

	for (tok = list ? strtok_r(list, "\n", &save) : NULL; tok && !in;
	     tok = strtok_r(NULL, "\n", &save))
		in = atoi(tok) == getpid();
	free(list);
	return in;
}

/*
 * Join each cgroup: dirs[i] is ta->cgroups[i]'s directory, as crest found
 * it before the process existed (a process in a cgroup namespace sees
 * paths and mount roots from the namespace's root). One it is in already
 * (crest restore's own, which it inherited) needs no write, which a user
 * without write access to cgroup.procs could not make.
 */
static int cgroups_join(const TaskAttrsEntry *ta, pid_t orig_pid, char *const *dirs)
{
	for (size_t i = 0; i < ta->n_cgroups; i++) {
		char *procs;
		uint64_t who;
		bool forced;

		if (!dirs || !dirs[i]) {
			pr_err("process %d: no directory for its cgroup '%s'", orig_pid,
			       ta->cgroups[i]->path);
			return -1;
		}
		procs = xsprintf("%s/cgroup.procs", dirs[i]);
		/*
		 * 0: the writer itself, whichever PID namespace it is in.
		 * CREST_FAULT=cgroup-join[=PID]: refused, as to one without
		 * write access, to every process or to the one of that PID
		 * (tests of what a restoring task says this late).
		 */
		forced = fault_arg("cgroup-join", &who) && (!who || who == (uint64_t)orig_pid);
		if (forced || write_str(procs, "0")) {
			int err = forced ? EACCES : errno;

			if (!forced && in_cgroup(procs)) {
				free(procs);
				continue;
			}
			errno = err;
			pr_perror("can't put process %d into cgroup '%s'", orig_pid, dirs[i]);
			free(procs);
			return -1;
		}
		free(procs);
	}
	return 0;
}

/* Does the hierarchy of these controllers hold ctrl ("": any)? */
static bool hierarchy_of(const char *controllers, const char *ctrl)
{
	char *list = xstrdup(controllers), *tok, *save = NULL;
	bool in = !*ctrl;

	for (tok = strtok_r(list, ",", &save); tok && !in; tok = strtok_r(NULL, ",", &save))
		in = !strcmp(tok, ctrl);
	free(list);
	return in;
}

/*
 * The root for this hierarchy: the first entry naming one of its
 * controllers, else the last without a controller (CRIU's rule: that one
 * applies only to hierarchies no other entry names), else none.
 */
static const struct cg_root *root_for(const char *controllers, const struct cg_root *r, int nr_r)
{
	const struct cg_root *any = NULL;

	for (int k = 0; k < nr_r; k++) {
		if (!*r[k].ctrl)
			any = &r[k];
		else if (hierarchy_of(controllers, r[k].ctrl))
			return &r[k];
	}
	return any;
}

int attrs_cgroup_root(CoreEntry **cores, const pid_t *pids, int nr, const struct cg_root *r,
		      int nr_r)
{
	const TaskAttrsEntry *first = nr && cores[0] ? cores[0]->attrs : NULL;

	for (size_t h = 0; first && h < first->n_cgroups; h++) {
		const char *ctl = first->cgroups[h]->controllers;
		const struct cg_root *to = root_for(ctl, r, nr_r);
		char *old;
		size_t len;

		if (!to)
			continue;
		/* Its own copy: the first root's entry is moved too. */
		old = xstrdup(first->cgroups[h]->path);
		len = strcmp(old, "/") ? strlen(old) : 0;
		for (int i = 0; i < nr; i++) {
			TaskAttrsEntry *ta = cores[i] ? cores[i]->attrs : NULL;

			for (size_t j = 0; ta && j < ta->n_cgroups; j++) {
				CgroupEntry *e = ta->cgroups[j];
				const char *rest;
				char *moved;

				if (strcmp(e->controllers, ctl))
					continue;
				if (strncmp(e->path, old, len) ||
				    (e->path[len] && e->path[len] != '/')) {
					pr_err("process %d was in cgroup '%s' (%s), not below '%s' of the first root: --cgroup-root can't place it",
					       pids[i], e->path, ctl[0] ? ctl : "v2", old);
					free(old);
					return -1;
				}
				rest = strcmp(e->path + len, "/") ? e->path + len : "";
				moved = strcmp(to->path, "/") ? xsprintf("%s%s", to->path, rest) :
					xstrdup(*rest ? rest : "/");
				free(e->path);
				e->path = moved;
			}
		}
		free(old);
	}
	return 0;
}

bool attrs_has_seccomp(const CoreEntry *c)
{
	for (size_t i = 0; i < c->n_threads; i++)
		if (c->threads[i]->attrs && c->threads[i]->attrs->seccomp_mode)
			return true;
	return false;
}

int attrs_restore_self(const CoreEntry *c, pid_t orig_pid, char *const *cg_dirs)
{
	const TaskAttrsEntry *ta = c->attrs;
	char val[32], *cur;

	if (!ta)
		return 0;
	if (cgroups_join(ta, orig_pid, cg_dirs))
		return -1;
	if (ta->has_oom_score_adj) {
		snprintf(val, sizeof(val), "%d", ta->oom_score_adj);
		if (write_self("oom_score_adj", val)) {
			pr_perror("can't give process %d its oom_score_adj %d back%s",
				  orig_pid, ta->oom_score_adj,
				  ta->oom_score_adj < 0 ? " (lowering it takes CAP_SYS_RESOURCE)" : "");
			return -1;
		}
	}
	cur = ta->has_loginuid ? read_file("/proc/self/loginuid", NULL) : NULL;
	if (cur && strtoul(cur, NULL, 10) != ta->loginuid) {
		/* Only the task itself may write it, with CAP_AUDIT_CONTROL. */
		snprintf(val, sizeof(val), "%u", ta->loginuid);
		if (write_self("loginuid", val)) {
			pr_perror("can't give process %d its loginuid %u back", orig_pid,
				  ta->loginuid);
			free(cur);
			return -1;
		}
	}
	free(cur);
	return 0;
}

static size_t chain_size(const ThreadAttrsEntry *ta)
{
	size_t n = 0;

	for (size_t i = 0; ta && i < ta->n_seccomp_filters; i++)
		n += sizeof(struct rst_filter) * 2 + ta->seccomp_filters[i]->prog.len + 8;
	return n;
}

size_t attrs_args_size(const CoreEntry *c)
{
	size_t n = 64;

	for (size_t i = 0; i < c->n_threads; i++)
		n += chain_size(c->threads[i]->attrs);
	return n;
}

static bool same_filter(const SeccompFilterEntry *a, const SeccompFilterEntry *b)
{
	return a->prog.len == b->prog.len && a->flags == b->flags &&
	       !memcmp(a->prog.data, b->prog.data, a->prog.len);
}

/*
 * How many filters, oldest first, every thread has alike: those are
 * taken as one shared chain (what a filter installed before the threads
 * were made, or with SECCOMP_FILTER_FLAG_TSYNC, is), installed by the
 * main thread before it makes the others.
 */
static size_t shared_prefix(const CoreEntry *c)
{
	const ThreadAttrsEntry *first = c->threads[0]->attrs;
	size_t n = first ? first->n_seccomp_filters : 0;

	for (size_t i = 1; i < c->n_threads; i++) {
		const ThreadAttrsEntry *ta = c->threads[i]->attrs;
		size_t k = 0;

		while (ta && k < n && k < ta->n_seccomp_filters &&
		       same_filter(first->seccomp_filters[k], ta->seccomp_filters[k]))
			k++;
		n = ta ? k : 0;
	}
	return n;
}

static uint64_t put_filters(SeccompFilterEntry **f, size_t n, unsigned char **at)
{
	struct rst_filter *rf = (struct rst_filter *)*at;

	*at += (n * sizeof(*rf) + 7) & ~7UL;
	for (size_t i = 0; i < n; i++) {
		memcpy(*at, f[i]->prog.data, f[i]->prog.len);
		rf[i].prog = (uint64_t)*at;
		rf[i].len = f[i]->prog.len / sizeof(struct bpf_insn_c);
		rf[i].flags = f[i]->flags;
		*at += (f[i]->prog.len + 7) & ~7UL;
	}
	return (uint64_t)rf;
}

static void fill_thread(const ThreadAttrsEntry *ta, size_t shared,
			struct rst_thread *r, unsigned char **at)
{
	if (!ta)
		return;
	r->has_caps = 1;
	r->cap_inh = ta->caps->inh;
	r->cap_prm = ta->caps->prm;
	r->cap_eff = ta->caps->eff;
	r->cap_bnd = ta->caps->bnd;
	r->cap_amb = ta->caps->amb;
	r->secbits = ta->caps->secbits;
	r->no_new_privs = ta->no_new_privs;
	r->pdeathsig = ta->pdeathsig;
	r->timer_slack = ta->timer_slack;
	r->seccomp_strict = ta->seccomp_mode == 1;
	r->nr_filters = ta->n_seccomp_filters - shared;
	r->filters = put_filters(ta->seccomp_filters + shared, r->nr_filters, at);
}

void attrs_fill_args(const CoreEntry *c, bool zl, struct restore_args *ra,
		     struct rst_thread *thr, void *area)
{
	unsigned char *at = (unsigned char *)(((uintptr_t)area + 7) & ~7UL);
	size_t shared = shared_prefix(c);

	ra->fsuid = c->creds->fsuid;
	ra->fsgid = c->creds->fsgid;
	if (c->attrs) {
		ra->thp_disable = c->attrs->thp_disable;
		ra->membarrier = c->attrs->membarrier;
	}
	if (shared) {
		ra->nr_shared_filters = shared;
		ra->shared_filters = put_filters(c->threads[0]->attrs->seccomp_filters,
						 shared, &at);
	}
	if (!zl)
		fill_thread(c->threads[0]->attrs, shared, &ra->main, &at);
	for (size_t i = !zl; i < c->n_threads; i++)
		fill_thread(c->threads[i]->attrs, shared, &thr[i - !zl], &at);
}

int attrs_restore_thread(pid_t tid, const ThreadCoreEntry *tc)
{
	const ThreadAttrsEntry *ta = tc->attrs;
	long cur;

	if (!ta || !ta->has_ioprio)
		return 0;
	cur = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, tid);
	if (cur == ta->ioprio)
		return 0;
	if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, tid, ta->ioprio)) {
		pr_perror("can't give thread %d its I/O priority %#x back", tid, ta->ioprio);
		return -1;
	}
	return 0;
}
