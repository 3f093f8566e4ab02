/*
 * What /proc shows of a process that crest does not save yet.
 *
 * A restored task is a child of crest's restore: it inherits crest's
 * capabilities, cgroups, oom_score_adj, loginuid, namespaces... and
 * crest puts back only what its images hold. A field of the table below
 * that differs from what the restored task would get anyway would come
 * back wrong, silently: the dump refuses it, by name.
 *
 * "What it would get anyway" is a fixed value (a kernel default) or the
 * value of the dumping crest itself (inherited state: the restoring
 * crest is assumed to run where the dumping one did).
 *
 * When you make crest save one of these, remove its row (and its entry
 * in the known losses of test/audit.py). UTS, IPC, PID and mount
 * namespaces (pid_for_children too) are namespaces.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "pstree.h"
#include "refuse.h"
#include "unsaved.h"
#include "util.h"

enum unsaved_scope {
	PER_THREAD,		/* /proc/PID/task/TID/FILE, every thread */
	PER_PROCESS,		/* /proc/PID/FILE */
};

enum unsaved_default {
	DEF_VALUE,		/* the value given */
	DEF_CREST,		/* the dumping crest's own */
	DEF_CAP,		/* crest's for a root task, else the value given */
	DEF_EMPTY,		/* the file is empty */
	DEF_LINK,		/* a symlink, crest's own (namespaces) */
};

struct unsaved_row {
	const char *file;
	const char *key;	/* the "Key:" line of file; NULL: all of it */
	enum unsaved_scope scope;
	enum unsaved_default def;
	const char *value;
	const char *what;	/* what it is, for the message */
};

static const struct unsaved_row rows[] = {
	{ "status", "Speculation_Store_Bypass", PER_THREAD, DEF_CREST, NULL,
	  "a speculation control (PR_SET_SPECULATION_CTRL)" },
	{ "status", "SpeculationIndirectBranch", PER_THREAD, DEF_CREST, NULL,
	  "a speculation control (PR_SET_SPECULATION_CTRL)" },
	{ "status", "x86_Thread_features", PER_THREAD, DEF_CREST, NULL,
	  "x86 thread features (shadow stack)" },
	{ "status", "Mems_allowed_list", PER_THREAD, DEF_CREST, NULL,
	  "a memory node set (cpuset or mempolicy)" },
	{ "coredump_filter", NULL, PER_PROCESS, DEF_CREST, NULL, "a coredump_filter" },
};

int unsaved_field(const char *text, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key);

	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		size_t n;

		if (strncmp(l, key, klen) || l[klen] != ':')
			continue;
		l += klen + 1;
		l += strspn(l, " \t");
		n = strcspn(l, "\n");
		while (n && (l[n - 1] == ' ' || l[n - 1] == '\t'))
			n--;
		snprintf(out, len, "%.*s", (int)n, l);
		return 0;
	}
	return -1;
}

/* The row's value at base ("/proc/PID" or ".../task/TID"); -1: absent. */
static int row_value(const struct unsaved_row *r, const char *base,
		     char *out, size_t len)
{
	char path[256], *text;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", base, r->file);
	if (r->def == DEF_LINK) {
		text = readlink_alloc(path);
	} else {
		text = read_file(path, NULL);
	}
	if (!text)
		return -1;
	if (r->key) {
		int ret = unsaved_field(text, r->key, out, len);

		free(text);
		return ret;
	}
	n = strlen(text);
	while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
		n--;
	/* One line in the message: cgroup's lines joined. */
	for (size_t i = 0; i < n; i++)
		if (text[i] == '\n')
			text[i] = ' ';
	snprintf(out, len, "%.*s", (int)n, text);
	free(text);
	return 0;
}

static int euid_of(const char *base)
{
	char path[256], *text, v[64];
	unsigned int uid[2];
	int ret = -1;

	snprintf(path, sizeof(path), "%s/status", base);
	text = read_file(path, NULL);
	if (text && !unsaved_field(text, "Uid", v, sizeof(v)) &&
	    sscanf(v, "%u %u", &uid[0], &uid[1]) == 2)
		ret = uid[1];
	free(text);
	return ret;
}

static int check_one(const struct unsaved_row *r, pid_t pid, pid_t tid,
		     const char *base)
{
	char val[1024], def[1024], where[32];
	const char *want = def;

	if (row_value(r, base, val, sizeof(val)))
		return 0;	/* this kernel doesn't show it: nothing to lose */
	switch (r->def) {
	case DEF_VALUE:
		want = r->value;
		break;
	case DEF_EMPTY:
		want = "";
		break;
	case DEF_CAP:
		if (euid_of(base) != 0) {
			want = r->value;
			break;
		}
		/* fall through */
	case DEF_CREST:
	case DEF_LINK:
		if (row_value(r, "/proc/self", def, sizeof(def)))
			return 0;
		break;
	}
	if (!strcmp(val, want))
		return 0;
	snprintf(where, sizeof(where), "%s", tid ? "thread " : "");
	if (tid)
		snprintf(where + strlen(where), sizeof(where) - strlen(where), "%d: ", tid);
	refuse(pid, "%s%s is '%s' (%s, /proc/PID/%s): crest does not save it yet%s%s%s",
	       where, r->key ? r->key : r->file, val, r->what, r->file,
	       *want ? "; a restored task gets '" : "", want, *want ? "'" : "");
	return 0;
}

int unsaved_check(const struct pstree_item *it)
{
	char base[64];

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct unsaved_row *r = &rows[i];

		if (r->scope == PER_PROCESS) {
			snprintf(base, sizeof(base), "/proc/%d", it->live);
			check_one(r, it->pid, 0, base);
			continue;
		}
		for (int t = 0; t < it->nr_threads; t++) {
			snprintf(base, sizeof(base), "/proc/%d/task/%d",
				 it->live, it->threads[t]);
			check_one(r, it->pid, it->threads[t] == it->pid ? 0 :
				  it->threads[t], base);
		}
	}
	return 0;
}
