/*
 * The process's cgroups survive C/R: one of the v2 hierarchy and one of
 * a v1 hierarchy (pids), made here; a thread is in them too.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME	"crest-test-attrs"
static const char *roots[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup/pids" };
static const char *want[] = { "::/" NAME "\n", ":pids:/" NAME "\n" };

static void join(const char *root)
{
	char dir[256], path[300], pid[16];
	int fd, n;

	snprintf(dir, sizeof(dir), "%s/%s", root, NAME);
	if (mkdir(dir, 0755) && errno != EEXIST)
		case_fail("mkdir %s: %s", dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	n = snprintf(pid, sizeof(pid), "%d", getpid());
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, pid, n) != n)
		case_fail("joining %s: %s", dir, strerror(errno));
	close(fd);
}

static void check(const char *file, const char *who)
{
	char buf[4096] = "";
	int fd = open(file, O_RDONLY);

	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) < 0)
		case_fail("read %s: %s", file, strerror(errno));
	close(fd);
	for (int i = 0; i < 2; i++)
		if (!strstr(buf, want[i]))
			case_fail("%s: no '%.*s' in %s:\n%s", who, (int)strlen(want[i]) - 1,
				  want[i], file, buf);
}

static volatile int done, started;

static void *thread_main(void *arg)
{
	/* Its signal mask is its own from here on (glibc blocks all at first). */
	started = 1;
	while (!case_go)
		usleep(10000);
	check("/proc/thread-self/cgroup", "second thread");
	done = 1;
	return NULL;
}

int main(void)
{
	pthread_t th;

	case_init();
	for (int i = 0; i < 2; i++)
		join(roots[i]);
	check("/proc/self/cgroup", "before");
	if (pthread_create(&th, NULL, thread_main, NULL))
		case_fail("pthread_create");
	while (!started)
		usleep(1000);
	case_ready();
	case_wait_go();

	check("/proc/self/cgroup", "main thread");
	pthread_join(th, NULL);
	if (!done)
		case_fail("the thread did not check");
	case_pass();
}
