/*
 * The process tree of a checkpoint: which processes, in which order, and
 * seizing them so that none forks or escapes while we look.
 * pstree_seize() returns 0, -1 on failure, -2 on something unsupported,
 * -3 on a traced task or a tracer the policy refuses, PSTREE_UNSETTLED
 * when the scope kept changing for SEIZE_MAX_PASSES passes.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "freezer.h"
#include "log.h"
#include "pstree.h"
#include "seize.h"
#include "util.h"

#define MAX_TASKS	(1 << 16)
/*
 * How many times the scope may change under us before we give up: a
 * group, a session or a thread list listed again that still shows new
 * members (each stops once seized, so a real tree settles in a few).
 */
#define SEIZE_MAX_PASSES	64

int pstree_parse_children(const char *buf, pid_t **out)
{
	int nr = 0;

	*out = NULL;
	while (*buf) {
		char *end;
		long v;

		while (*buf == ' ' || *buf == '\n')
			buf++;
		if (!*buf)
			break;
		v = strtol(buf, &end, 10);
		if (end == buf || v <= 0 || v > INT_MAX) {
			free(*out);
			*out = NULL;
			return -1;
		}
		*out = xrealloc(*out, (nr + 1) * sizeof(pid_t));
		(*out)[nr++] = v;
		buf = end;
	}
	return nr;
}

struct pstree_item *pstree_find(const struct pstree *t, pid_t pid)
{
	for (int i = 0; i < t->nr; i++)
		if (t->items[i]->pid == pid)
			return t->items[i];
	return NULL;
}

static int read_stat(pid_t pid, struct proc_stat *st)
{
	char *buf = read_proc(pid, "stat", NULL);
	int ret;

	if (!buf)
		return -1;
	ret = proc_parse_stat(buf, st);
	free(buf);
	return ret;
}

/* Exit status of a zombie, as its parent's wait() would see it. */
static int zombie_status(pid_t pid)
{
	char *buf = read_proc(pid, "stat", NULL), *p;
	int status = 0;

	if (!buf)
		return 0;
	p = strrchr(buf, ' ');
	if (p)
		status = atoi(p + 1);
	free(buf);
	return status;
}

static struct pstree_item *add_item(struct pstree *t, pid_t pid,
				    struct pstree_item *parent)
{
	struct pstree_item *it;
	struct proc_stat st;

	if (read_stat(pid, &st))
		return NULL;	/* gone already */
	if (t->nr >= MAX_TASKS) {
		pr_err("more than %d processes in the tree", MAX_TASKS);
		return NULL;
	}
	it = xzalloc(sizeof(*it));
	it->pid = pid;
	it->stat = st;
	it->ppid = st.ppid;
	it->pgid = st.pgid;
	it->sid = st.sid;
	it->parent = parent;
	mm_entry__init(&it->mm);
	t->items = xrealloc(t->items, (t->nr + 1) * sizeof(it));
	t->items[t->nr++] = it;
	return it;
}

static int read_tids(pid_t pid, pid_t **tids)
{
	char path[64];
	struct dirent *de;
	int nr = 0;
	DIR *d;

	*tids = NULL;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		*tids = xrealloc(*tids, (nr + 1) * sizeof(pid_t));
		(*tids)[nr++] = atoi(de->d_name);
	}
	closedir(d);
	return nr;
}

static int has_thread(const struct pstree_item *it, pid_t tid)
{
	for (int i = 0; i < it->nr_threads; i++)
		if (it->threads[i] == tid)
			return 1;
	return 0;
}

/*
 * Every thread, the leader first. A thread we have not stopped yet may
 * make another: list again until a pass finds none new.
 */
/* Seize a task, unless --freeze-cgroup did already: then wait for it. */
static int seize_one(struct pstree *t, pid_t tid, int *stopsig)
{
	for (int i = 0; i < t->nr_preseized; i++)
		if (t->preseized[i] == tid) {
			t->preseized[i] = 0;
			return seize_wait(tid, stopsig);
		}
	return seize_task(tid, stopsig);
}

static int seize_threads(struct pstree *t, struct pstree_item *it)
{
	for (int round = 0;; round++) {
		pid_t *tids;
		int nr = read_tids(it->pid, &tids), added = 0;

		if (nr < 0) {
			pr_perror("can't list the threads of %d", it->pid);
			return -1;
		}
		for (int i = 0; i < nr; i++) {
			int stopped;
			int ret;

			if (has_thread(it, tids[i]) ||
			    (it->zombie_leader && tids[i] == it->pid))
				continue;
			ret = seize_one(t, tids[i], &stopped);
			if (ret == 1)
				continue;	/* exited as we came */
			if (ret) {
				free(tids);
				return ret;	/* -2: refused */
			}
			/*
			 * With its leader gone, the group stop is seen only
			 * in the threads: each reports the stop signal.
			 */
			if (it->zombie_leader && stopped && !it->stop_signal) {
				it->stop_signal = stopped;
				it->stopped = true;
			}
			it->threads = xrealloc(it->threads, (it->nr_threads + 1) * sizeof(pid_t));
			it->threads[it->nr_threads++] = tids[i];
			added++;
		}
		free(tids);
		if (!added)
			return 0;
		if (round == SEIZE_MAX_PASSES) {
			pr_debug("process %d still makes threads after %d rounds",
				 it->pid, round);
			return PSTREE_UNSETTLED;
		}
	}
}

static pid_t tracer_of(pid_t pid)
{
	char *buf = read_proc(pid, "status", NULL), *p;
	pid_t tracer = 0;

	if (buf && (p = strstr(buf, "TracerPid:")))
		tracer = atoi(p + 10);
	free(buf);
	return tracer;
}

/* Who traces whom, read once: tracers[i] traces tracees[i]. */
struct trace_map {
	pid_t *tracers, *tracees;
	int nr;
};

static void read_trace_map(struct trace_map *m)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	memset(m, 0, sizeof(*m));
	while (d && (de = readdir(d))) {
		pid_t pid, tracer;

		if (!isdigit(de->d_name[0]))
			continue;
		pid = atoi(de->d_name);
		tracer = tracer_of(pid);
		if (!tracer || tracer == getpid())
			continue;
		m->tracers = xrealloc(m->tracers, (m->nr + 1) * sizeof(pid_t));
		m->tracees = xrealloc(m->tracees, (m->nr + 1) * sizeof(pid_t));
		m->tracers[m->nr] = tracer;
		m->tracees[m->nr++] = pid;
	}
	if (d)
		closedir(d);
}

static pid_t tracee_of(const struct trace_map *m, pid_t pid)
{
	for (int i = 0; i < m->nr; i++)
		if (m->tracers[i] == pid)
			return m->tracees[i];
	return 0;
}

/* cr_run --omit marks a command and what it starts: leave them out. */
static int omitted(pid_t pid)
{
	size_t len;
	char *env = read_proc(pid, "environ", &len);
	int ret = 0;

	if (!env)
		return 0;
	for (size_t off = 0; off < len; off += strlen(env + off) + 1)
		if (!strcmp(env + off, "CREST_OMIT=1"))
			ret = 1;
	free(env);
	return ret;
}

/* BLCR's rules for traced tasks and tracers: 0 take, 1 skip, -1 refuse. */
static int check_policy(struct pstree_item *it, const struct pstree_policy *pol,
			const struct trace_map *tm)
{
	pid_t other;

	if (pol->omit && omitted(it->pid)) {
		pr_info("process %d was started with cr_run --omit: left out", it->pid);
		return 1;
	}
	other = tracer_of(it->pid);
	if (other && other != getpid()) {	/* us: --freeze-cgroup seized it */
		if (pol->ptraced == TRACE_SKIP) {
			pr_info("process %d is traced by %d: left out", it->pid, other);
			return 1;
		}
		pr_err("process %d is traced by process %d%s", it->pid, other,
		       pol->ptraced == TRACE_ALLOW ?
		       ": crest needs to trace it itself, and a process has one tracer" :
		       "; leave it out with --ptraced-skip");
		return -1;
	}
	if (pol->ptracer != TRACE_ALLOW && (other = tracee_of(tm, it->pid))) {
		if (pol->ptracer == TRACE_SKIP) {
			pr_info("process %d traces %d: left out", it->pid, other);
			return 1;
		}
		pr_err("process %d traces process %d; leave it out with --ptracer-skip",
		       it->pid, other);
		return -1;
	}
	return 0;
}

static const char *scope_desc(enum pstree_scope scope)
{
	switch (scope) {
	case SCOPE_PGID:	return "process group";
	case SCOPE_SID:		return "session";
	default:		return "the tree of";
	}
}

/*
 * Never in a checkpoint: init (killing it, or stopping it for long, takes
 * the machine or the container with it, and no restore can give PID 1
 * back) and crest itself (it can't trace or stop itself; "dump --pid" of
 * crest would write an image of crest, or kill it). -1: refused.
 */
static int check_guards(const struct pstree_item *it, const struct pstree_policy *pol,
			enum pstree_scope scope, pid_t id)
{
	if (it->pid == 1) {
		pr_err("process 1 is init: crest can't checkpoint PID 1 or a scope that holds it; checkpoint a tree below it (-t PID)");
		return -1;
	}
	for (int k = 0; k < 2; k++) {
		if (!pol->crest[k] || it->pid != pol->crest[k])
			continue;
		if (it->pid == id && (scope == SCOPE_TREE || scope == SCOPE_PID))
			pr_err("process %d is crest itself: crest can't checkpoint itself", id);
		else
			pr_err("process %d is crest itself, and %s %d holds it: crest can't checkpoint a scope it runs in; run crest from outside it (e.g. from another session)",
			       it->pid, scope_desc(scope), id);
		return -1;
	}
	return 0;
}

/* Seize and stop one task; a zombie is only recorded. 1: gone. */
static int seize_item(struct pstree *t, struct pstree_item *it)
{
	int ret, exit_code;

	if ((it->stat.state == 'Z' || it->stat.state == 'X') && it->stat.num_threads <= 1) {
		it->zombie = true;
		it->exit_status = zombie_status(it->pid);
		return 0;
	}
	if (it->stat.state == 'Z') {
		/* The main thread is gone, the others run: seize those. */
		it->zombie_leader = true;
		it->seized = true;
		if ((ret = seize_threads(t, it)))
			return ret;
		if (!it->nr_threads)
			return 1;
		it->live = it->threads[0];
		/*
		 * The leader's stat shows no memory any more: a thread's does.
		 * Only the leader's, the whole group's, shows the stop not
		 * waited for yet (group_exit_code) as exit_code; a thread's
		 * is its own, 0.
		 */
		if (read_stat(it->pid, &it->stat))
			return -1;
		exit_code = it->stat.exit_code;
		if (read_stat(it->live, &it->stat))
			return -1;
		it->stat.exit_code = exit_code;
		it->pgid = it->stat.pgid;
		it->sid = it->stat.sid;
		pr_info("process %d: its main thread has exited; %d threads run on",
			it->pid, it->nr_threads);
		return 0;
	}
	ret = seize_one(t, it->pid, &it->stop_signal);
	it->stopped = it->stop_signal != 0;
	if (ret == 1) {
		/* It died between listing and seizing: a zombie now? */
		if (!read_stat(it->pid, &it->stat) && it->stat.state == 'Z') {
			it->zombie = true;
			it->exit_status = zombie_status(it->pid);
			return 0;
		}
		return 1;
	}
	if (ret)
		return ret;	/* -2: refused */
	it->seized = true;
	it->live = it->pid;
	it->threads = xzalloc(sizeof(pid_t));
	it->threads[0] = it->pid;
	it->nr_threads = 1;
	if ((ret = seize_threads(t, it)))
		return ret;
	/* Now stopped: its state and children can't change under us. */
	if (read_stat(it->pid, &it->stat))
		return -1;
	it->pgid = it->stat.pgid;
	it->sid = it->stat.sid;
	return 0;
}

/* Children of every thread of the process. */
static int list_children(const struct pstree_item *it, pid_t **kids)
{
	int nr = 0;

	*kids = NULL;
	for (int i = 0; i < it->nr_threads; i++) {
		char path[64], *buf;
		pid_t *some;
		int n;

		snprintf(path, sizeof(path), "task/%d/children", it->threads[i]);
		buf = read_proc(it->pid, path, NULL);
		if (!buf)
			continue;
		n = pstree_parse_children(buf, &some);
		free(buf);
		if (n <= 0)
			continue;
		*kids = xrealloc(*kids, (nr + n) * sizeof(pid_t));
		memcpy(*kids + nr, some, n * sizeof(pid_t));
		nr += n;
		free(some);
	}
	return nr;
}

static int item_matches(const struct proc_stat *st, enum pstree_scope scope,
			pid_t id)
{
	switch (scope) {
	case SCOPE_PGID:	return st->pgid == id;
	case SCOPE_SID:		return st->sid == id;
	default:		return 0;
	}
}

/* Every process of a group or session, from a scan of /proc. */
static int scan_members(struct pstree *t, enum pstree_scope scope, pid_t id)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int found = 0;

	if (!d) {
		pr_perror("can't list /proc");
		return -1;
	}
	while ((de = readdir(d))) {
		struct proc_stat st;
		pid_t pid;

		if (!isdigit(de->d_name[0]))
			continue;
		pid = atoi(de->d_name);
		if (pid == getpid() || pstree_find(t, pid) || read_stat(pid, &st))
			continue;
		if (!item_matches(&st, scope, id))
			continue;
		if (add_item(t, pid, NULL))
			found++;
	}
	closedir(d);
	return found;
}

/* Parents before children; a task whose parent is in the tree points at it. */
static void link_and_order(struct pstree *t)
{
	struct pstree_item **sorted = xzalloc(t->nr * sizeof(*sorted));
	int n = 0;

	for (int i = 0; i < t->nr; i++) {
		t->items[i]->parent = pstree_find(t, t->items[i]->ppid);
		if (t->items[i]->parent == t->items[i])
			t->items[i]->parent = NULL;
	}
	/* Roots first, then repeatedly the children of what is placed. */
	for (int i = 0; i < t->nr; i++)
		if (!t->items[i]->parent)
			sorted[n++] = t->items[i];
	for (int k = 0; k < n; k++)
		for (int i = 0; i < t->nr; i++)
			if (t->items[i]->parent == sorted[k])
				sorted[n++] = t->items[i];
	BUG_ON(n != t->nr);
	free(t->items);
	t->items = sorted;
}

int pstree_seize(struct pstree *t, enum pstree_scope scope, pid_t id,
		 const struct pstree_policy *pol)
{
	int i, ret, pass, err = -1;
	struct trace_map tm = {};
	pid_t *pre = t->preseized;
	int nr_pre = t->nr_preseized;

	if (pol->ptracer != TRACE_ALLOW)
		read_trace_map(&tm);
	memset(t, 0, sizeof(*t));
	t->preseized = pre;
	t->nr_preseized = nr_pre;
	t->touched = nr_pre > 0;
	if (scope == SCOPE_TREE || scope == SCOPE_PID) {
		if (!add_item(t, id, NULL)) {
			pr_err("process %d does not exist", id);
			errno = ESRCH;
			return -1;
		}
	}
	/* A group or a session can gain members while we seize: go again. */
	for (pass = 0;; pass++) {
		int found = 0;

		if ((scope == SCOPE_PGID || scope == SCOPE_SID) &&
		    (found = scan_members(t, scope, id)) < 0)
			goto err;
		for (i = 0; i < t->nr; i++) {
			struct pstree_item *it = t->items[i];
			pid_t *kids;
			int nr;

			if (it->seized || it->zombie)
				continue;
			if (check_guards(it, pol, scope, id)) {
				err = -2;
				goto err;
			}
			ret = check_policy(it, pol, &tm);
			if (ret < 0) {
				err = -3;
				goto err;
			}
			if (!ret)
				t->touched = true;
			ret = ret ? 1 : seize_item(t, it);
			if (ret < 0) {
				err = ret;
				goto err;
			}
			if (ret == 1) {	/* vanished: drop it */
				free(it);
				memmove(&t->items[i], &t->items[i + 1],
					(t->nr - i - 1) * sizeof(it));
				t->nr--;
				i--;
				continue;
			}
			if (scope != SCOPE_TREE || it->zombie)
				continue;
			nr = list_children(it, &kids);
			for (int k = 0; k < nr; k++)
				if (!pstree_find(t, kids[k]))
					add_item(t, kids[k], it);
			free(kids);
		}
		/* A parent is stopped before its children are listed: done. */
		if (scope == SCOPE_TREE || scope == SCOPE_PID)
			break;
		/* A pass that found no new member: nobody is left to add one. */
		if (!found)
			break;
		if (pass == SEIZE_MAX_PASSES) {
			pr_debug("%s %d still gains members after %d passes",
				 scope_desc(scope), id, pass);
			err = PSTREE_UNSETTLED;
			goto err;
		}
	}
	/* Tests of the freezing fallback: as if the scope never settled. */
	if (!pre && fault("seize-unsettled")) {
		err = PSTREE_UNSETTLED;
		goto err;
	}
	if (!t->nr) {
		if (scope == SCOPE_PGID || scope == SCOPE_SID)
			pr_err("no process to checkpoint in %s %d",
			       scope == SCOPE_PGID ? "process group" : "session", id);
		else
			pr_err("no process to checkpoint: %d was left out", id);
		errno = ESRCH;
		return -1;
	}
	link_and_order(t);
	pr_info("%d process%s to checkpoint", t->nr, t->nr > 1 ? "es" : "");
	return 0;
err:
	pstree_release(t);
	return err;
}

/*
 * --freeze-cgroup: the whole cgroup is frozen at once, the tree is listed
 * while nothing in it can move, every thread is seized and asked to stop,
 * and only then thawed: each stops for us before running an instruction.
 */
int pstree_seize_frozen(struct pstree *t, const char *cg, enum pstree_scope scope,
			pid_t id, const struct pstree_policy *pol)
{
	pid_t *tids, *pre = NULL;
	int ret = -1, nr, nr_pre = 0, watcher;

	if (freezer_holds_crest(cg, pol))
		return -2;
	if (freezer_freeze(cg, &watcher))
		return -1;
	/* Ask every thread of every live process to stop when it thaws. */
	memset(t, 0, sizeof(*t));
	if (scope == SCOPE_TREE || scope == SCOPE_PID)
		add_item(t, id, NULL);
	else
		scan_members(t, scope, id);
	for (int i = 0; i < t->nr; i++) {
		struct pstree_item *it = t->items[i];
		pid_t *kids;
		int n;

		if (it->stat.state == 'Z')
			continue;
		nr = read_tids(it->pid, &tids);
		for (int k = 0; k < nr; k++) {
			if (seize_begin(tids[k]))
				continue;
			pre = xrealloc(pre, (nr_pre + 1) * sizeof(pid_t));
			pre[nr_pre++] = tids[k];
		}
		free(tids);
		if (scope != SCOPE_TREE)
			continue;
		n = list_children(&(struct pstree_item){ .pid = it->pid,
				  .threads = &it->pid, .nr_threads = 1 }, &kids);
		for (int k = 0; k < n; k++)
			if (!pstree_find(t, kids[k]))
				add_item(t, kids[k], it);
		free(kids);
	}
	for (int i = 0; i < t->nr; i++)
		free(t->items[i]);
	free(t->items);
	t->items = NULL;
	t->nr = 0;
	/* Tests: crest killed with the cgroup frozen (its watcher thaws it). */
	fault_die("die-frozen");
	if (freezer_thaw(cg, watcher)) {
		for (int i = 0; i < nr_pre; i++)
			ptrace(PTRACE_DETACH, pre[i], NULL, NULL);
		return -1;
	}
	/* Now the usual walk finds them all stopped or stopping. */
	t->preseized = pre;
	t->nr_preseized = nr_pre;
	ret = pstree_seize(t, scope, id, pol);
	/* Seized but not in the tree after all (left out): let them go. */
	for (int i = 0; i < nr_pre; i++) {
		int stopped;

		if (pre[i] && !seize_wait(pre[i], &stopped))
			ptrace(PTRACE_DETACH, pre[i], NULL, NULL);
	}
	free(pre);
	return ret;
}

/*
 * The kernel keeps a continue (SIGCONT to a stopped group) for the
 * parent's wait(WCONTINUED) until that takes it or the group stops again
 * (SIGNAL_STOP_CONTINUED); /proc shows nothing of it. A tracer may wait
 * for it too (kernel/exit.c, wait_task_continued()), so crest asks with
 * WNOWAIT: the report stays the parent's. Waited through a live seized
 * thread (a zombie leader's leader is not traced), whose own trap crest
 * has always taken already.
 */
int pstree_cont_pending(const struct pstree_item *it)
{
	siginfo_t si = {};

	if (!it->parent || !it->seized || it->zombie || it->stopped)
		return 0;
	if (waitid(P_PID, it->live, &si, WCONTINUED | WNOHANG | WNOWAIT | __WALL)) {
		pr_perror("can't ask whether process %d was continued", it->pid);
		return -1;
	}
	if (!si.si_pid)
		return 0;
	if (si.si_code != CLD_CONTINUED) {
		pr_err("process %d: a report (code %d) crest had not taken while asking whether it was continued",
		       it->pid, si.si_code);
		return -1;
	}
	return 1;
}

void pstree_let_go(struct pstree *t)
{
	for (int i = 0; i < t->nr; i++) {
		struct pstree_item *it = t->items[i];

		if (!it->seized)
			continue;
		for (int k = it->nr_threads - 1; k >= 0; k--)
			let_go_task(it->threads[k],
				    it->stopped || (k == 0 && it->zombie_leader));
		it->seized = false;
	}
}

void pstree_release(struct pstree *t)
{
	for (int i = 0; i < t->nr; i++) {
		struct pstree_item *it = t->items[i];

		if (!it->seized)
			continue;
		for (int k = it->nr_threads - 1; k >= 0; k--)
			release_task(it->threads[k]);
		it->seized = false;
	}
}
