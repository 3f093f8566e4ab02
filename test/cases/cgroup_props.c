/*
 * The process's cgroups come back with their properties: cgroups of its
 * own in the pids, cpu, memory, cpuset and devices hierarchies (v1) and
 * in v2, each limit set to something else than a new cgroup has, and an
 * empty cgroup below its pids one, with a limit of its own. After the
 * restore it is in the same cgroups and every value is as it was (from
 * the files of its cgroups: the restore made them with their values
 * when they were gone, or found them; test/run's cgroup-modes removes
 * them between dump and restore and tries each --manage-cgroups mode).
 * It leaves them and removes them at the end.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BASE	"/sys/fs/cgroup"

struct prop {
	const char *hier, *file, *value;
};

/* In the order they are set: cpuset's before anyone joins. */
static const struct prop props[] = {
	{ "cpuset", "cpuset.cpus", "0" },
	{ "cpuset", "cpuset.mems", "0" },
	{ "pids", "pids.max", "77" },
	{ "cpu", "cpu.shares", "512" },
	{ "cpu", "cpu.cfs_period_us", "200000" },
	{ "cpu", "cpu.cfs_quota_us", "50000" },
	/* Saved since every writable file is (issue 13). */
	{ "cpu", "cpu.cfs_burst_us", "10000" },
	{ "cpuset", "cpuset.memory_spread_page", "1" },
	{ "pids", "notify_on_release", "1" },
	{ "memory", "memory.kmem.tcp.limit_in_bytes", "4096000" },
	{ "memory", "memory.limit_in_bytes", "1073741824" },
	{ "memory", "memory.soft_limit_in_bytes", "536870912" },
	{ "memory", "memory.swappiness", "30" },
	{ "unified", "cgroup.max.descendants", "7" },
	{ "unified", "cgroup.max.depth", "5" },
};
static const char *hiers[] = { "cpuset", "pids", "cpu", "memory", "devices", "unified" };
/* The devices it may use, as devices.list shows them. */
static const char *devices = "c 1:3 rwm\nc 1:5 rwm\nc 1:8 rwm\nc 1:9 rwm\nc 5:* rwm\nc 136:* rwm\n";

static char name[64];

static void put(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n = strlen(val);

	if (fd < 0 || write(fd, val, n) != n)
		case_fail("writing '%s' to %s: %s", val, path, strerror(errno));
	close(fd);
}

static void get(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0 || (n = read(fd, buf, len - 1)) < 0)
		case_fail("reading %s: %s", path, strerror(errno));
	close(fd);
	buf[n] = 0;
}

static void file(char *out, size_t len, const char *hier, const char *sub, const char *f)
{
	snprintf(out, len, BASE "/%s/%s%s/%s", hier, name, sub, f);
}

static void check(const char *when)
{
	char path[256], buf[4096], want[256];

	for (size_t i = 0; i < sizeof(props) / sizeof(*props); i++) {
		file(path, sizeof(path), props[i].hier, "", props[i].file);
		get(path, buf, sizeof(buf));
		buf[strcspn(buf, "\n")] = 0;
		if (strcmp(buf, props[i].value))
			case_fail("%s: %s is '%s', not '%s'", when, path, buf, props[i].value);
	}
	file(path, sizeof(path), "devices", "", "devices.list");
	get(path, buf, sizeof(buf));
	if (strcmp(buf, devices))
		case_fail("%s: %s is '%s', not '%s'", when, path, buf, devices);
	file(path, sizeof(path), "pids", "/sub", "pids.max");
	get(path, buf, sizeof(buf));
	if (strcmp(buf, "3\n"))
		case_fail("%s: %s is '%s', not 3", when, path, buf);
	get("/proc/self/cgroup", buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(hiers) / sizeof(*hiers); i++) {
		const char *h = strcmp(hiers[i], "unified") ? hiers[i] : "";

		snprintf(want, sizeof(want), ":%s:/%s\n", h, name);
		if (!strstr(buf, want))
			case_fail("%s: not in cgroup '/%s' of %s: /proc/self/cgroup is\n%s", when,
				  name, hiers[i], buf);
	}
}

/* Back to the roots, and the cgroups gone. */
static void leave(void)
{
	char path[256];

	for (size_t i = 0; i < sizeof(hiers) / sizeof(*hiers); i++) {
		snprintf(path, sizeof(path), BASE "/%s/cgroup.procs", hiers[i]);
		put(path, "0");
	}
	snprintf(path, sizeof(path), BASE "/pids/%s/sub", name);
	rmdir(path);
	for (size_t i = 0; i < sizeof(hiers) / sizeof(*hiers); i++) {
		snprintf(path, sizeof(path), BASE "/%s/%s", hiers[i], name);
		if (rmdir(path))
			case_fail("rmdir %s: %s", path, strerror(errno));
	}
}

int main(void)
{
	char path[256];

	case_init();
	snprintf(name, sizeof(name), "crest-test-props-%d", getpid());
	for (size_t i = 0; i < sizeof(hiers) / sizeof(*hiers); i++) {
		snprintf(path, sizeof(path), BASE "/%s/%s", hiers[i], name);
		if (mkdir(path, 0755))
			case_fail("mkdir %s: %s", path, strerror(errno));
	}
	snprintf(path, sizeof(path), BASE "/pids/%s/sub", name);
	if (mkdir(path, 0750))
		case_fail("mkdir %s: %s", path, strerror(errno));
	file(path, sizeof(path), "pids", "/sub", "pids.max");
	put(path, "3");
	for (size_t i = 0; i < sizeof(props) / sizeof(*props); i++) {
		file(path, sizeof(path), props[i].hier, "", props[i].file);
		put(path, props[i].value);
	}
	file(path, sizeof(path), "devices", "", "devices.deny");
	put(path, "a");
	file(path, sizeof(path), "devices", "", "devices.allow");
	for (const char *l = devices; *l; l += strcspn(l, "\n") + 1) {
		char line[64];

		snprintf(line, sizeof(line), "%.*s", (int)strcspn(l, "\n"), l);
		put(path, line);
	}
	for (size_t i = 0; i < sizeof(hiers) / sizeof(*hiers); i++) {
		snprintf(path, sizeof(path), BASE "/%s/%s/cgroup.procs", hiers[i], name);
		put(path, "0");
	}
	check("before");
	case_ready();
	case_wait_go();
	check("after the restore");
	leave();
	case_pass();
}
