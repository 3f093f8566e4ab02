/* fds on /proc/PID/... of processes of the tree come back on the restored
 * processes, checked from inside after the restore:
 *  - the parent's fd on its child's status (at an offset) names the
 *    child and is at the same offset;
 *  - its directory fd on /proc/CHILD works as a dirfd (comm);
 *  - its fd on its own /proc/PID/cmdline, opened before the fork, is one
 *    open file description with the child's inherited copy (kcmp);
 *  - the child's fd on its parent's stat names the parent. */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define OFF	5

static int open_proc(pid_t pid, const char *what, int flags)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d%s%s", pid, *what ? "/" : "", what);
	fd = open(path, flags);
	if (fd < 0)
		case_fail("open %s: %s", path, strerror(errno));
	return fd;
}

static void check_link(int fd, pid_t pid, const char *what, const char *when)
{
	char path[64], want[64], got[128];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	snprintf(want, sizeof(want), "/proc/%d%s%s", pid, *what ? "/" : "", what);
	n = readlink(path, got, sizeof(got) - 1);
	if (n < 0)
		case_fail("%s: readlink %s: %s", when, path, strerror(errno));
	got[n] = 0;
	if (strcmp(got, want))
		case_fail("%s: fd %d is '%s', want '%s'", when, fd, got, want);
}

/* The first field of the stat line pid's fd reads: the pid. */
static void check_stat(int fd, pid_t pid, const char *when)
{
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		case_fail("%s: read the stat of %d: %s", when, pid, strerror(errno));
	buf[n] = 0;
	if (atoi(buf) != pid)
		case_fail("%s: the stat fd reads '%.20s', want pid %d", when, buf, pid);
}

int main(void)
{
	int status_fd, dir_fd, cmd_fd, comm, st, status;
	char buf[256], want[256];
	pid_t parent = getpid(), kid;
	ssize_t n;

	case_init();
	cmd_fd = open_proc(parent, "cmdline", O_RDONLY);
	kid = fork();
	if (kid < 0)
		case_fail("fork: %s", strerror(errno));
	if (kid == 0) {
		st = open_proc(parent, "stat", O_RDONLY);
		case_wait_go();
		parent = getppid();	/* another after --no-restore-pid */
		check_link(st, parent, "stat", "after, in the child");
		check_stat(st, parent, "after, in the child");
		_exit(0);
	}
	status_fd = open_proc(kid, "status", O_RDONLY);
	if (read(status_fd, buf, OFF) != OFF)
		case_fail("read the child's status: %s", strerror(errno));
	dir_fd = open_proc(kid, "", O_RDONLY | O_DIRECTORY);
	/* The child has its fd open once its fd table shows 4 fds or more. */
	for (int i = 0; i < 10000; i++) {
		char p[64];

		snprintf(p, sizeof(p), "/proc/%d/fd/%d", kid, cmd_fd + 1);
		if (!access(p, F_OK))
			break;
		usleep(1000);
	}

	case_ready();
	case_wait_go();
	/* The PIDs now: others after a restore with --no-restore-pid. */
	parent = getpid();
	snprintf(buf, sizeof(buf), "/proc/self/task/%d/children", parent);
	FILE *kids = fopen(buf, "r");

	if (!kids || fscanf(kids, "%d", &kid) != 1)
		case_fail("no child in %s", buf);
	fclose(kids);

	check_link(status_fd, kid, "status", "after");
	check_link(dir_fd, kid, "", "after");
	check_link(cmd_fd, parent, "cmdline", "after");
	if (lseek(status_fd, 0, SEEK_CUR) != OFF)
		case_fail("the status fd is at %ld, want %d",
			  (long)lseek(status_fd, 0, SEEK_CUR), OFF);
	n = pread(status_fd, buf, sizeof(buf) - 1, 0);
	snprintf(want, sizeof(want), "\nPid:\t%d\n", kid);
	buf[n > 0 ? n : 0] = 0;
	if (!strstr(buf, want))
		case_fail("the status fd does not read the child's status");
	comm = openat(dir_fd, "comm", O_RDONLY);
	if (comm < 0 || read(comm, buf, sizeof(buf)) <= 0)
		case_fail("openat(the child's /proc dir, comm): %s", strerror(errno));
	if (syscall(SYS_kcmp, parent, kid, KCMP_FILE, cmd_fd, cmd_fd))
		case_fail("the cmdline fd is not the one the child inherited");
	if (kill(kid, SIGUSR2) || waitpid(kid, &status, 0) != kid ||
	    !WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("the child's check failed (status %#x)", status);
	case_pass();
}
