/*
 * Not a checkpoint/restore case: fd tables crest can't restore yet. A
 * thread with an fd table of its own (unshare(CLONE_FILES)) makes two
 * children with clone(CLONE_FILES): they share the thread's table, with
 * each other but not with their parent's main thread. The runner's
 * "errors" mode dumps it and expects a refusal naming the thread's table
 * and the two sibling processes, with the process left running; after
 * go, the sharing and the private table must still be as they were
 * (kcmp KCMP_FILES).
 */
#include "caselib.h"

#include <errno.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile pid_t thread_tid, kids[2];

static int child_fn(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 0;
}

static void *thread_fn(void *arg)
{
	static char stacks[2][64 << 10];

	(void)arg;
	if (unshare(CLONE_FILES)) {
		thread_tid = -1;
		return NULL;
	}
	/* Two processes sharing the thread's own table, siblings. */
	for (int i = 0; i < 2; i++)
		kids[i] = clone(child_fn, stacks[i] + sizeof(stacks[i]),
				CLONE_FILES | SIGCHLD, NULL);
	thread_tid = syscall(SYS_gettid);
	for (;;)
		pause();
	return NULL;
}

static long kcmp_files(pid_t a, pid_t b)
{
	return syscall(SYS_kcmp, a, b, KCMP_FILES, 0, 0);
}

static void check(const char *when)
{
	if (kcmp_files(getpid(), thread_tid) == 0)
		case_fail("%s: the thread has the process's fd table", when);
	for (int i = 0; i < 2; i++)
		if (kcmp_files(thread_tid, kids[i]) != 0 || kcmp_files(getpid(), kids[i]) == 0)
			case_fail("%s: child %d does not share the thread's table", when, kids[i]);
}

int main(void)
{
	pthread_t th;

	case_init();
	if (pthread_create(&th, NULL, thread_fn, NULL))
		case_fail("pthread_create");
	for (int i = 0; i < 10000 && !thread_tid; i++)
		usleep(1000);
	if (thread_tid <= 0 || kids[0] <= 0 || kids[1] <= 0)
		case_fail("unshare(CLONE_FILES) or clone(CLONE_FILES) in a thread failed");
	check("setup");

	case_ready();
	case_wait_go();

	check("after go");
	for (int i = 0; i < 2; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, __WALL);
	}
	case_pass();
}
