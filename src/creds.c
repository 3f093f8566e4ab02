/*
 * The credentials in the images against the caller's. The kernel would
 * refuse most of what an unprivileged caller can't do, but only deep in
 * the restorer ("while restoring credentials"), and it would allow what a
 * crest with CAP_SETUID (given to it for restores) could do for anyone.
 * So: a uid, gid or group the caller does not hold needs CAP_SETUID /
 * CAP_SETGID; a capability needs to be in the caller's permitted set
 * (inheritable: in its bounding set, with CAP_SETPCAP); a bounding set can
 * only shrink. root passes every test.
 */
#include <errno.h>
#include <stdarg.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "creds.h"
#include "log.h"
#include "util.h"

int creds_caller_read(struct creds_caller *c)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = {};
	int n;

	memset(c, 0, sizeof(*c));
	if (getresuid(&c->uid[0], &c->uid[1], &c->uid[2]) ||
	    getresgid(&c->gid[0], &c->gid[1], &c->gid[2])) {
		pr_perror("can't read crest's own ids");
		return -1;
	}
	n = getgroups(0, NULL);
	c->groups = xzalloc((n > 0 ? n : 1) * sizeof(gid_t));
	if (n < 0 || (n = getgroups(n, c->groups)) < 0 ||
	    syscall(SYS_capget, &h, d)) {
		pr_perror("can't read crest's own groups and capabilities");
		return -1;
	}
	c->nr_groups = n;
	c->prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	for (int i = 0; i < 64; i++) {
		int r = prctl(PR_CAPBSET_READ, i, 0, 0, 0);

		if (r < 0)
			break;
		if (r)
			c->bnd |= 1ULL << i;
	}
	c->secure = getauxval(AT_SECURE) != 0;
	if (c->secure) {
		c->uid[1] = c->uid[2] = c->uid[0];
		c->gid[1] = c->gid[2] = c->gid[0];
		c->prm = 0;
	}
	c->setuid = c->prm & (1ULL << CAP_SETUID);
	c->setgid = c->prm & (1ULL << CAP_SETGID);
	c->setpcap = c->prm & (1ULL << CAP_SETPCAP);
	return 0;
}

void creds_caller_free(struct creds_caller *c)
{
	free(c->groups);
	c->groups = NULL;
}

static bool holds_id(const uint32_t ids[3], uint32_t id)
{
	return id == ids[0] || id == ids[1] || id == ids[2];
}

static void say(void (*report)(pid_t, const char *), pid_t pid, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(void (*report)(pid_t, const char *), pid_t pid, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	report(pid, buf);
}

static int cap_set_problem(void (*report)(pid_t, const char *), pid_t pid,
			   uint32_t tid, const char *set, uint64_t have, uint64_t allowed)
{
	uint64_t extra = have & ~allowed;
	int first = -1;

	if (!extra)
		return 0;
	for (int i = 0; i < 64 && first < 0; i++)
		if (extra & (1ULL << i))
			first = i;
	say(report, pid, "thread %u: its %s capabilities %#llx hold %#llx (capability %d first) that crest's caller does not have",
	    tid, set, (unsigned long long)have, (unsigned long long)extra, first);
	return 1;
}

int creds_problems(const struct creds_caller *me, const CoreEntry *c, pid_t pid,
		   void (*report)(pid_t pid, const char *msg))
{
	const CredsEntry *cr = c->creds;
	uint32_t uids[3] = { me->uid[0], me->uid[1], me->uid[2] };
	uint32_t gids[3] = { me->gid[0], me->gid[1], me->gid[2] };
	const struct { const char *name; uint32_t v; } u[] = {
		{ "uid", cr->uid }, { "euid", cr->euid }, { "suid", cr->suid },
		{ "fsuid", cr->fsuid },
	}, g[] = {
		{ "gid", cr->gid }, { "egid", cr->egid }, { "sgid", cr->sgid },
		{ "fsgid", cr->fsgid },
	};
	int n = 0;

	for (size_t i = 0; !me->setuid && i < 4; i++)
		if (!holds_id(uids, u[i].v)) {
			say(report, pid, "its %s is %u: crest's caller is uid %u and can't give another uid without CAP_SETUID",
			    u[i].name, u[i].v, me->uid[0]);
			n++;
		}
	for (size_t i = 0; !me->setgid && i < 4; i++)
		if (!holds_id(gids, g[i].v)) {
			say(report, pid, "its %s is %u: crest's caller is gid %u and can't give another gid without CAP_SETGID",
			    g[i].name, g[i].v, me->gid[0]);
			n++;
		}
	if (!me->setgid) {
		bool same = cr->n_groups == (size_t)me->nr_groups;

		for (size_t i = 0; same && i < cr->n_groups; i++) {
			int k;

			for (k = 0; k < me->nr_groups && me->groups[k] != cr->groups[i]; k++)
				;
			same = k < me->nr_groups;
		}
		if (!same) {
			say(report, pid, "its supplementary groups (%zu) are not crest's caller's (%d): changing them takes CAP_SETGID",
			    cr->n_groups, me->nr_groups);
			n++;
		}
	}
	for (size_t t = 0; t < c->n_threads; t++) {
		const ThreadAttrsEntry *ta = c->threads[t]->attrs;
		const CapsEntry *cp = ta ? ta->caps : NULL;
		uint32_t tid = c->threads[t]->tid;

		if (!cp)
			continue;
		n += cap_set_problem(report, pid, tid, "permitted", cp->prm, me->prm);
		n += cap_set_problem(report, pid, tid, "effective", cp->eff, me->prm);
		n += cap_set_problem(report, pid, tid, "ambient", cp->amb, me->prm);
		n += cap_set_problem(report, pid, tid, "inheritable", cp->inh,
				     me->prm | (me->setpcap ? me->bnd : 0));
		n += cap_set_problem(report, pid, tid, "bounding", cp->bnd, me->bnd);
	}
	return n;
}

static void report_err(pid_t pid, const char *msg)
{
	pr_err("process %d: %s", pid, msg);
}

int creds_check(const CoreEntry *const *cores, const pid_t *pids, int nr)
{
	struct creds_caller me;
	int n = 0;

	if (creds_caller_read(&me)) {
		creds_caller_free(&me);
		return -1;
	}
	for (int i = 0; i < nr; i++)
		if (cores[i])
			n += creds_problems(&me, cores[i], pids[i], report_err);
	if (n)
		pr_err("a restore never gives a process more privileges than its caller has%s: restore as root, or as the user the processes ran as (%d problem%s above)",
		       me.secure ? " (crest's own file capabilities or set-user-ID bit don't count)" : "",
		       n, n > 1 ? "s" : "");
	creds_caller_free(&me);
	return n ? -1 : 0;
}
