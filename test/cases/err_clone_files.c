/*
 * Not a checkpoint/restore case: fd tables crest can't restore yet. A
 * child made with clone(CLONE_FILES) shares the fd table of this
 * process, and a thread with an fd table of its own
 * (unshare(CLONE_FILES)) shares it with a second child it made with
 * clone(CLONE_FILES). The runner's "errors" mode dumps it and expects a
 * refusal naming both, with the process left running; after go, the
 * sharing and the private table must still be as they were (kcmp
 * KCMP_FILES).
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

static volatile pid_t thread_tid;

static int child_fn(void *arg)
{
	for (;;)
		pause();
	return 0;
}

static volatile pid_t thread_child;

static void *thread_fn(void *arg)
{
	static char stack[64 << 10];

	if (!unshare(CLONE_FILES))
		thread_tid = syscall(SYS_gettid);
	else
		thread_tid = -1;
	/* A process sharing the thread's own table. */
	thread_child = clone(child_fn, stack + sizeof(stack), CLONE_FILES | SIGCHLD, NULL);
	for (;;)
		pause();
	return NULL;
}

static long kcmp_files(pid_t a, pid_t b)
{
	return syscall(SYS_kcmp, a, b, KCMP_FILES, 0, 0);
}

int main(void)
{
	static char stack[64 << 10];
	pthread_t th;
	pid_t child;

	case_init();
	child = clone(child_fn, stack + sizeof(stack), CLONE_FILES | SIGCHLD, NULL);
	if (child < 0)
		case_fail("clone(CLONE_FILES): %s", strerror(errno));
	if (pthread_create(&th, NULL, thread_fn, NULL))
		case_fail("pthread_create");
	for (int i = 0; i < 10000 && !thread_tid; i++)
		usleep(1000);
	if (thread_tid <= 0)
		case_fail("unshare(CLONE_FILES) in a thread failed");
	for (int i = 0; i < 10000 && !thread_child; i++)
		usleep(1000);
	if (thread_child <= 0)
		case_fail("clone(CLONE_FILES) in the thread failed");
	if (kcmp_files(getpid(), child) != 0 || kcmp_files(getpid(), thread_tid) == 0 ||
	    kcmp_files(thread_tid, thread_child) != 0)
		case_fail("setup: the fd tables are not as meant");

	case_ready();
	case_wait_go();

	if (kcmp_files(getpid(), child) != 0)
		case_fail("the child no longer shares the fd table");
	if (kcmp_files(getpid(), thread_tid) == 0)
		case_fail("the thread lost its own fd table");
	if (kcmp_files(thread_tid, thread_child) != 0)
		case_fail("the thread's child no longer shares the thread's table");
	kill(child, SIGKILL);
	kill(thread_child, SIGKILL);
	waitpid(child, NULL, 0);
	waitpid(thread_child, NULL, __WALL);
	case_pass();
}
