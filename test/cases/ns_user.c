/*
 * A process in a user namespace of its own (test/run starts it under
 * unshare --user with --map-root-user, or --map-user=1000
 * --map-group=1000): after the restore it is in a new one (not the
 * machine's) with the same maps and setgroups setting, its ids as it
 * sees them, its capabilities there, and what they let it do (make a
 * UTS namespace in a child: CAP_SYS_ADMIN over its user namespace) as
 * before; its pid is the same. The namespace is checked by the /proc
 * audit too.
 */
#include "caselib.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct seen {
	char uid_map[256], gid_map[256], setgroups[32], caps[256];
	uid_t uid, euid;
	gid_t gid, egid;
	int can_unshare;
};

static void slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		case_fail("can't open %s: %s", path, strerror(errno));
	n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
}

/* The Cap* lines of /proc/self/status. */
static void caps(char *buf, size_t len)
{
	char status[4096], *l;
	size_t off = 0;

	slurp("/proc/self/status", status, sizeof(status));
	buf[0] = 0;
	for (l = strstr(status, "\nCap"); l; l = strstr(l + 1, "\nCap")) {
		size_t n = strcspn(l + 1, "\n");

		if (off + n + 2 < len) {
			memcpy(buf + off, l + 1, n);
			off += n;
			buf[off++] = ';';
			buf[off] = 0;
		}
	}
}

static int can_unshare_uts(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(unshare(CLONE_NEWUTS) ? 1 : 0);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		case_fail("fork/waitpid: %s", strerror(errno));
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void look(struct seen *s)
{
	slurp("/proc/self/uid_map", s->uid_map, sizeof(s->uid_map));
	slurp("/proc/self/gid_map", s->gid_map, sizeof(s->gid_map));
	slurp("/proc/self/setgroups", s->setgroups, sizeof(s->setgroups));
	caps(s->caps, sizeof(s->caps));
	s->uid = getuid();
	s->euid = geteuid();
	s->gid = getgid();
	s->egid = getegid();
	s->can_unshare = can_unshare_uts();
}

int main(void)
{
	struct seen before, after;
	pid_t pid = getpid();

	case_init();
	if (!case_own_ns("user"))
		case_fail("not in a user namespace of its own (run it under unshare --user through test/run)");
	look(&before);
	if (!before.uid_map[0])
		case_fail("its user namespace has no uid map");
	/* Root inside may, anybody else may not. */
	if (before.can_unshare != (before.euid == 0))
		case_fail("uid %u %s make a UTS namespace", before.euid,
			  before.can_unshare ? "can" : "can't");
	case_ready();
	case_wait_go();
	if (getpid() != pid)
		case_fail("getpid() %d, was %d", getpid(), pid);
	if (!case_own_ns("user"))
		case_fail("back in the machine's user namespace");
	look(&after);
	if (strcmp(before.uid_map, after.uid_map) || strcmp(before.gid_map, after.gid_map))
		case_fail("maps '%s' '%s', were '%s' '%s'", after.uid_map, after.gid_map,
			  before.uid_map, before.gid_map);
	if (strcmp(before.setgroups, after.setgroups))
		case_fail("setgroups '%s', was '%s'", after.setgroups, before.setgroups);
	if (before.uid != after.uid || before.euid != after.euid ||
	    before.gid != after.gid || before.egid != after.egid)
		case_fail("ids %u/%u %u/%u, were %u/%u %u/%u", after.uid, after.euid,
			  after.gid, after.egid, before.uid, before.euid, before.gid,
			  before.egid);
	if (strcmp(before.caps, after.caps))
		case_fail("capabilities '%s', were '%s'", after.caps, before.caps);
	if (before.can_unshare != after.can_unshare)
		case_fail("can%s make a UTS namespace now, could%s before",
			  after.can_unshare ? "" : "'t", before.can_unshare ? "" : "n't");
	case_pass();
}
