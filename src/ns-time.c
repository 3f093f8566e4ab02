/*
 * Time namespaces: the offsets of CLOCK_MONOTONIC and CLOCK_BOOTTIME in
 * them (/proc/PID/timens_offsets), saved as they are: a restored tree
 * sees those clocks as a tree that never stopped would (the host's,
 * moved by the same offsets), on this machine as on the one it ran on.
 *
 * Offsets can be set only before a task enters the namespace, so crest
 * makes it itself at restore (unshare(CLONE_NEWTIME) puts it in crest's
 * time_for_children, where /proc/self/timens_offsets sets it), keeps its
 * fd and goes back to its own; the task that entered it setns()es into it
 * as it starts, before it forks any child (ns_restore_entered()).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "namespaces.h"
#include "refuse.h"
#include "util.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME	0x00000080
#endif

/* "monotonic S NS" or, on older kernels, "1 S NS" (the clock's id). */
static int parse_offsets(const char *text, TimeNsEntry *e)
{
	int seen = 0;

	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		char name[32];
		long long sec, nsec;

		if (sscanf(l, "%31s %lld %lld", name, &sec, &nsec) != 3)
			continue;
		if (!strcmp(name, "monotonic") || !strcmp(name, "1")) {
			e->monotonic_sec = sec;
			e->monotonic_nsec = nsec;
			seen |= 1;
		} else if (!strcmp(name, "boottime") || !strcmp(name, "7")) {
			e->boottime_sec = sec;
			e->boottime_nsec = nsec;
			seen |= 2;
		}
	}
	return seen == 3 ? 0 : -1;
}

int timens_collect(struct ns_dump *nd, int k, pid_t pid)
{
	char path[64], *text;
	TimeNsEntry *e = xzalloc(sizeof(*e));

	time_ns_entry__init(e);
	snprintf(path, sizeof(path), "/proc/%d/timens_offsets", pid);
	text = read_file(path, NULL);
	if (!text) {
		pr_perror("can't read '%s'", path);
		free(e);
		return -1;
	}
	if (parse_offsets(text, e)) {
		pr_err("'%s' does not say the offsets of both clocks: '%s'", path, text);
		free(text);
		free(e);
		return -1;
	}
	free(text);
	nd->time[k] = e;
	return 0;
}

int timens_unshare(const TimeNsEntry *e, uint32_t id)
{
	char buf[128];
	int n, off, ret = 0;

	if (unshare(CLONE_NEWTIME)) {
		pr_perror("can't make time namespace %u", id);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "monotonic %lld %lld\nboottime %lld %lld\n",
		     (long long)e->monotonic_sec, (long long)e->monotonic_nsec,
		     (long long)e->boottime_sec, (long long)e->boottime_nsec);
	off = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (off < 0 || write(off, buf, n) != n) {
		pr_perror("can't set the offsets of time namespace %u (%.*s)", id,
			  (int)strcspn(buf, "\n"), buf);
		ret = -1;
	}
	if (off >= 0)
		close(off);
	return ret;
}

static int timens_new(const void *e, uint32_t id)
{
	return timens_unshare(e, id);
}

/* The new one is crest's time_for_children, not crest's own. */
int timens_make(const TimeNsEntry *e, uint32_t id)
{
	return ns_make_in_crest(NSI_TIME, "time_for_children", timens_new, e, id);
}
