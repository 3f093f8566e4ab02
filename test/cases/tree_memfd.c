/*
 * A memfd held open by a parent and mapped shared by its child, with data
 * written by both, and a subreaper with an orphan reparented to it: after
 * the restore the memfd is one object again (a write by one is read by
 * the other), keeps its name and seals, and the orphan is still the
 * subreaper's child.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	int fd, status, sub = 0;
	char *m, link[256] = "", path[64];
	pid_t child, mid;
	int p[2];

	case_init();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
		case_fail("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	fd = memfd_create("crest-memfd", MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, 65536))
		case_fail("memfd_create: %s", strerror(errno));
	if (pwrite(fd, "parent wrote this", 17, 100) != 17)
		case_fail("pwrite: %s", strerror(errno));
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK))
		case_fail("F_ADD_SEALS: %s", strerror(errno));
	if (pipe(p))
		case_fail("pipe: %s", strerror(errno));

	child = fork();
	if (child == 0) {
		char c;

		m = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED)
			_exit(2);
		memcpy(m + 1000, "child wrote that", 16);
		if (read(p[0], &c, 1) != 1)
			_exit(3);
		/* After the restore: the parent's new write must show. */
		_exit(memcmp(m + 2000, "after restore", 13) ? 4 : 0);
	}
	/* A grandchild orphaned: reparented to us, the subreaper. */
	mid = fork();
	if (mid == 0) {
		if (fork() == 0) {
			pause();
			_exit(0);
		}
		_exit(0);
	}
	waitpid(mid, &status, 0);
	usleep(100000);
	case_ready();
	case_wait_go();

	if (prctl(PR_GET_CHILD_SUBREAPER, &sub, 0, 0, 0) || !sub)
		case_fail("no longer a child subreaper");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (readlink(path, link, sizeof(link) - 1) < 0 || !strstr(link, "memfd:crest-memfd"))
		case_fail("the memfd is now '%s'", link);
	if (fcntl(fd, F_GET_SEALS) != F_SEAL_SHRINK)
		case_fail("seals %#x, want F_SEAL_SHRINK", fcntl(fd, F_GET_SEALS));
	{
		char buf[32] = "";

		if (pread(fd, buf, 16, 1000) != 16 || memcmp(buf, "child wrote that", 16))
			case_fail("the child's write is lost: '%s'", buf);
		if (pread(fd, buf, 17, 100) != 17 || memcmp(buf, "parent wrote this", 17))
			case_fail("the parent's write is lost");
	}
	if (pwrite(fd, "after restore", 13, 2000) != 13)
		case_fail("pwrite: %s", strerror(errno));
	if (write(p[1], "g", 1) != 1)
		case_fail("write: %s", strerror(errno));
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("the child did not see the memfd shared: status %#x", status);
	/* The orphan: still our child (we are its subreaper); end it. */
	{
		char kids[256] = "";
		FILE *f;
		int orphan = 0;

		snprintf(path, sizeof(path), "/proc/self/task/%d/children", getpid());
		f = fopen(path, "r");
		if (!f || !fgets(kids, sizeof(kids), f))
			case_fail("the orphan is no longer our child");
		fclose(f);
		if (sscanf(kids, "%d", &orphan) != 1 || orphan <= 0)
			case_fail("the orphan is no longer our child ('%s')", kids);
		kill(orphan, SIGKILL);
		waitpid(orphan, &status, 0);
	}
	case_pass();
}
