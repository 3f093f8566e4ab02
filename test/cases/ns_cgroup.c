/*
 * Cgroup namespaces, nested: the process joins cgroups of its own (pids
 * and v2), unshare()s a cgroup namespace there and moves one level down
 * ("/in" inside); its child moves further down and unshare()s one again
 * ("/" inside). After the restore each is in a cgroup namespace that is
 * not its parent's, and /proc/self/cgroup inside reads as it did.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NAME	"crest-test-cgns"
static const char *roots[] = { "/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified" };

static void join(const char *sub)
{
	char path[256];

	for (int i = 0; i < 2; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/" NAME "%s/cgroup.procs", roots[i], sub);
		fd = open(path, O_WRONLY);
		if (fd < 0 || write(fd, "0", 1) != 1)
			case_fail("joining %s: %s", path, strerror(errno));
		close(fd);
	}
}

static void slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0 || (n = read(fd, buf, len - 1)) < 0)
		case_fail("read %s: %s", path, strerror(errno));
	close(fd);
	buf[n] = 0;
}

static void ns_link(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/ns/cgroup", pid);
	n = readlink(path, buf, len - 1);
	if (n < 0)
		case_fail("readlink %s: %s", path, strerror(errno));
	buf[n] = 0;
}

static void check(const char *who, const char *want, pid_t other)
{
	char got[4096], mine[64], theirs[64];

	slurp("/proc/self/cgroup", got, sizeof(got));
	if (strcmp(got, want))
		case_fail("%s: /proc/self/cgroup is\n%s\nnot\n%s", who, got, want);
	if (!strstr(got, ":pids:/in\n") && !strstr(got, ":pids:/\n"))
		case_fail("%s: pids not at its namespace's: %s", who, got);
	ns_link(getpid(), mine, sizeof(mine));
	ns_link(other, theirs, sizeof(theirs));
	if (!strcmp(mine, theirs))
		case_fail("%s: in the cgroup namespace of %d (%s)", who, other, mine);
}

int main(void)
{
	char path[256], view[4096], kview[4096];
	int pfd[2], gfd[2], st;
	pid_t kid, parent = getpid();

	case_init();
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/" NAME "/in/deeper", roots[i]);
		for (char *s = path + strlen(roots[i]) + 1;; s++) {
			char c = *s;

			if (c && c != '/')
				continue;
			*s = 0;
			if (mkdir(path, 0755) && errno != EEXIST)
				case_fail("mkdir %s: %s", path, strerror(errno));
			*s = c;
			if (!c)
				break;
		}
	}
	join("");
	if (unshare(CLONE_NEWCGROUP))
		case_fail("unshare(CLONE_NEWCGROUP): %s", strerror(errno));
	join("/in");
	slurp("/proc/self/cgroup", view, sizeof(view));
	if (pipe(pfd) || pipe(gfd))
		case_fail("pipe: %s", strerror(errno));
	kid = fork();
	if (kid < 0)
		case_fail("fork: %s", strerror(errno));
	if (kid == 0) {
		char c;

		close(pfd[0]);
		close(gfd[1]);
		join("/in/deeper");
		if (unshare(CLONE_NEWCGROUP))
			case_fail("child: unshare(CLONE_NEWCGROUP): %s", strerror(errno));
		slurp("/proc/self/cgroup", kview, sizeof(kview));
		if (write(pfd[1], "r", 1) != 1)
			_exit(1);
		close(pfd[1]);
		/* Its go: the parent's pipe end closing, once it got its own. */
		for (;;) {
			ssize_t r = read(gfd[0], &c, 1);

			if (r == 0 || (r < 0 && errno != EINTR))
				break;
		}
		check("child", kview, parent);
		_exit(0);
	}
	{
		char c;

		if (read(pfd[0], &c, 1) != 1)
			case_fail("the child did not get ready");
	}
	close(pfd[0]);
	close(pfd[1]);
	close(gfd[0]);
	case_ready();
	case_wait_go();
	check("parent", view, getppid());
	close(gfd[1]);
	if (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st))
		case_fail("the child failed (status %#x)", st);
	case_pass();
}
