/*
 * loginuid, oom_score_adj, THP disable, membarrier registrations (the
 * process's) and the
 * parent-death signal, timer slack and I/O priority (each thread's own)
 * survive C/R.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define IOPRIO_WHO_PROCESS	1
#define IOPRIO_VALUE(class, data)	(((class) << 13) | (data))
#define LOGINUID		4242
#define OOM_ADJ			345

struct tattrs {
	int pdeathsig;
	long slack;
	long ioprio;
};

static void take(struct tattrs *t)
{
	prctl(PR_GET_PDEATHSIG, &t->pdeathsig, 0, 0, 0);
	t->slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	t->ioprio = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
}

static void same(const struct tattrs *a, const struct tattrs *b, const char *who)
{
	if (a->pdeathsig != b->pdeathsig)
		case_fail("%s: parent-death signal %d, want %d", who, b->pdeathsig, a->pdeathsig);
	if (a->slack != b->slack)
		case_fail("%s: timer slack %ld ns, want %ld", who, b->slack, a->slack);
	if (a->ioprio != b->ioprio)
		case_fail("%s: I/O priority %#lx, want %#lx", who, b->ioprio, a->ioprio);
}

static long read_num(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY);

	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
		case_fail("read %s: %s", path, strerror(errno));
	close(fd);
	return strtol(buf, NULL, 10);
}

static void write_num(const char *path, long v)
{
	char buf[32];
	int fd = open(path, O_WRONLY), n = snprintf(buf, sizeof(buf), "%ld", v);

	if (fd < 0 || write(fd, buf, n) != n)
		case_fail("write %ld to %s: %s", v, path, strerror(errno));
	close(fd);
}

static struct tattrs t_before, t_after;
static volatile int t_state;

static void *thread_main(void *arg)
{
	if (prctl(PR_SET_PDEATHSIG, SIGURG, 0, 0, 0) ||
	    prctl(PR_SET_TIMERSLACK, 777777, 0, 0, 0) ||
	    syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_VALUE(3, 0)))
		case_fail("thread setup: %s", strerror(errno));
	take(&t_before);
	t_state = 1;
	while (!case_go)
		usleep(10000);
	take(&t_after);
	t_state = 2;
	return NULL;
}

int main(void)
{
	struct tattrs before, after;
	pthread_t th;
	int thp;

	case_init();
	/* Harmless if it fires: crest -d exits and we get a new parent. */
	signal(SIGWINCH, SIG_IGN);
	signal(SIGURG, SIG_IGN);
	if (prctl(PR_SET_PDEATHSIG, SIGWINCH, 0, 0, 0) ||
	    prctl(PR_SET_TIMERSLACK, 123456, 0, 0, 0) ||
	    syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_VALUE(2, 6)) ||
	    prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		case_fail("setup: %s", strerror(errno));
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0))
		case_fail("membarrier register: %s", strerror(errno));
	write_num("/proc/self/oom_score_adj", OOM_ADJ);
	if (read_num("/proc/self/loginuid") != LOGINUID)
		write_num("/proc/self/loginuid", LOGINUID);
	take(&before);
	if (pthread_create(&th, NULL, thread_main, NULL))
		case_fail("pthread_create");
	while (t_state != 1)
		usleep(1000);
	case_ready();
	case_wait_go();

	take(&after);
	same(&before, &after, "main thread");
	while (t_state != 2)
		usleep(1000);
	same(&t_before, &t_after, "second thread");
	if (syscall(SYS_membarrier, 512 /* GET_REGISTRATIONS */, 0, 0) !=
	    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED)
		case_fail("membarrier registrations %ld, want PRIVATE_EXPEDITED",
			  syscall(SYS_membarrier, 512, 0, 0));
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0))
		case_fail("MEMBARRIER_CMD_PRIVATE_EXPEDITED: %s", strerror(errno));
	thp = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
	if (thp != 1)
		case_fail("PR_GET_THP_DISABLE %d, want 1", thp);
	if (read_num("/proc/self/oom_score_adj") != OOM_ADJ)
		case_fail("oom_score_adj %ld, want %d", read_num("/proc/self/oom_score_adj"), OOM_ADJ);
	if (read_num("/proc/self/loginuid") != LOGINUID)
		case_fail("loginuid %ld, want %d", read_num("/proc/self/loginuid"), LOGINUID);
	pthread_join(th, NULL);
	case_pass();
}
