/*
 * Time namespaces: the offsets of CLOCK_MONOTONIC and CLOCK_BOOTTIME in
 * them (/proc/PID/timens_offsets), saved with the boot they were read in
 * and the host's clocks at the dump. Restored in the same boot, the
 * offsets are kept: the tree's clocks read as a tree that never stopped
 * would. In another boot (a reboot, another machine) the host's clocks
 * started again from 0, so the same offsets would move the tree's clocks
 * back: the offsets are moved instead so its clocks go on from their
 * values at the dump (as CRIU does), never backwards.
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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

#define NSEC		1000000000LL
/*
 * 68 years: beyond any uptime or sensible offset, and small enough that
 * sums of three such clocks in ns do not overflow. An image's value
 * outside is not trusted.
 */
#define SEC_BOUND	(1LL << 31)
#define BOOT_ID_LEN	64

static long long to_ns(int64_t sec, int64_t nsec)
{
	return sec * NSEC + nsec;
}

static int boot_id_now(char *buf)
{
	char *text = read_file("/proc/sys/kernel/random/boot_id", NULL);

	if (!text) {
		pr_perror("can't read /proc/sys/kernel/random/boot_id");
		return -1;
	}
	snprintf(buf, BOOT_ID_LEN, "%.*s", (int)strcspn(text, "\n"), text);
	free(text);
	return 0;
}

/*
 * The host's clocks (offsets 0): ours minus our namespace's offsets. Read
 * before crest unshares one: /proc/self/timens_offsets shows the
 * namespace of crest's children, its own until then.
 */
static int host_clocks(long long *mono, long long *boot)
{
	TimeNsEntry own = TIME_NS_ENTRY__INIT;
	struct timespec m, b;
	char *text = read_file("/proc/self/timens_offsets", NULL);

	if (!text && errno != ENOENT) {
		pr_perror("can't read /proc/self/timens_offsets");
		return -1;
	}
	if (text && parse_offsets(text, &own)) {
		pr_err("/proc/self/timens_offsets does not say the offsets of both clocks: '%s'",
		       text);
		free(text);
		return -1;
	}
	free(text);
	if (clock_gettime(CLOCK_MONOTONIC, &m) || clock_gettime(CLOCK_BOOTTIME, &b)) {
		pr_perror("can't read the clocks");
		return -1;
	}
	*mono = to_ns(m.tv_sec, m.tv_nsec) - to_ns(own.monotonic_sec, own.monotonic_nsec);
	*boot = to_ns(b.tv_sec, b.tv_nsec) - to_ns(own.boottime_sec, own.boottime_nsec);
	return 0;
}

static bool in_bounds(int64_t sec, int64_t nsec, int64_t low)
{
	return sec >= low && sec <= SEC_BOUND && nsec >= 0 && nsec < NSEC;
}

int timens_offsets_now(const TimeNsEntry *e, const char *boot_id, long long mono_now,
		       long long boot_now, long long *mono_off, long long *boot_off)
{
	bool dumped = e->boot_id && e->has_dump_monotonic_sec && e->has_dump_monotonic_nsec &&
		      e->has_dump_boottime_sec && e->has_dump_boottime_nsec;
	long long dump_mono, dump_boot;

	if (!in_bounds(e->monotonic_sec, e->monotonic_nsec, -SEC_BOUND) ||
	    !in_bounds(e->boottime_sec, e->boottime_nsec, -SEC_BOUND) ||
	    (dumped && (!in_bounds(e->dump_monotonic_sec, e->dump_monotonic_nsec, 0) ||
			!in_bounds(e->dump_boottime_sec, e->dump_boottime_nsec, 0)))) {
		pr_err("the time namespace's image holds clocks or offsets out of range (offsets: monotonic %lld %lld, boottime %lld %lld; clocks at the dump: monotonic %lld %lld, boottime %lld %lld): not trusted",
		       (long long)e->monotonic_sec, (long long)e->monotonic_nsec,
		       (long long)e->boottime_sec, (long long)e->boottime_nsec,
		       (long long)e->dump_monotonic_sec, (long long)e->dump_monotonic_nsec,
		       (long long)e->dump_boottime_sec, (long long)e->dump_boottime_nsec);
		return -1;
	}
	*mono_off = to_ns(e->monotonic_sec, e->monotonic_nsec);
	*boot_off = to_ns(e->boottime_sec, e->boottime_nsec);
	/* An image of an older crest says no boot: its offsets, as then. */
	if (!dumped)
		return 0;
	dump_mono = to_ns(e->dump_monotonic_sec, e->dump_monotonic_nsec);
	dump_boot = to_ns(e->dump_boottime_sec, e->dump_boottime_nsec);
	if (!strcmp(e->boot_id, boot_id) && mono_now >= dump_mono && boot_now >= dump_boot)
		return 0;
	*mono_off += dump_mono - mono_now;
	*boot_off += dump_boot - boot_now;
	return 1;
}

/* "S NS" with 0 <= NS < 1e9, as the kernel takes it, S negative too. */
static int put_offset(char *buf, size_t len, const char *clock, long long off)
{
	long long sec = off / NSEC, nsec = off % NSEC;

	if (nsec < 0) {
		nsec += NSEC;
		sec--;
	}
	return snprintf(buf, len, "%s %lld %lld\n", clock, sec, nsec);
}

int timens_collect(struct ns_dump *nd, int k, pid_t pid)
{
	char path[64], boot_id[BOOT_ID_LEN], *text;
	long long mono, boot;
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
	if (boot_id_now(boot_id) || host_clocks(&mono, &boot)) {
		free(e);
		return -1;
	}
	e->boot_id = xstrdup(boot_id);
	e->has_dump_monotonic_sec = e->has_dump_monotonic_nsec = true;
	e->dump_monotonic_sec = mono / NSEC;
	e->dump_monotonic_nsec = mono % NSEC;
	e->has_dump_boottime_sec = e->has_dump_boottime_nsec = true;
	e->dump_boottime_sec = boot / NSEC;
	e->dump_boottime_nsec = boot % NSEC;
	nd->time[k] = e;
	return 0;
}

int timens_unshare(const TimeNsEntry *e, uint32_t id)
{
	char buf[128], boot_id[BOOT_ID_LEN];
	long long mono, boot, mono_off, boot_off;
	int n, off, moved, ret = 0;

	if (boot_id_now(boot_id) || host_clocks(&mono, &boot))
		return -1;
	moved = timens_offsets_now(e, boot_id, mono, boot, &mono_off, &boot_off);
	if (moved < 0)
		return -1;
	if (moved)
		pr_info("time namespace %u was dumped in boot %s, this is %s: its clocks go on from their values at the dump",
			id, e->boot_id, boot_id);
	if (unshare(CLONE_NEWTIME)) {
		pr_perror("can't make time namespace %u", id);
		return -1;
	}
	n = put_offset(buf, sizeof(buf), "monotonic", mono_off);
	n += put_offset(buf + n, sizeof(buf) - n, "boottime", boot_off);
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
