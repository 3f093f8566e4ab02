/*
 * Namespaces and IPC objects crest does not save yet, each to be refused
 * by name (test/run's errors mode starts it under unshare --net --cgroup
 * --time --ipc --mount; its cgroup namespace is saved): a veth pair in its network
 * namespace (made by ip(8)), a time namespace for its children it
 * unshare()s, an fd of a POSIX message queue removed while open
 * (mq_unlink), and notifications registered (mq_notify) on a queue
 * holding a message, by SIGEV_THREAD, and with a signal pending already;
 * in its mount namespace a shared
 * tmpfs with a file it holds open, and a bind mount.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static void on_thread(union sigval v)
{
	(void)v;
}

int main(void)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2 };
	struct sigevent pend = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
	struct sigevent thr = { .sigev_notify = SIGEV_THREAD,
				.sigev_notify_function = on_thread };
	sigset_t usr1;
	mqd_t q, n;

	case_init();
	if (system("ip link add crest-v0 type veth peer name crest-v1"))
		case_fail("ip link add crest-v0 type veth failed");
	if (unshare(CLONE_NEWTIME))
		case_fail("unshare(CLONE_NEWTIME): %s", strerror(errno));
	q = mq_open("/crest-err-ns", O_CREAT | O_RDWR, 0600, NULL);
	if (q == (mqd_t)-1 || mq_unlink("/crest-err-ns"))
		case_fail("mq_open/mq_unlink: %s", strerror(errno));
	n = mq_open("/crest-err-notify", O_CREAT | O_RDWR, 0600, NULL);
	/* Held open: closing it would take the registration away. */
	if (n == (mqd_t)-1 || mq_send(n, "m", 1, 0) || mq_notify(n, &sev))
		case_fail("mq_open/mq_notify: %s", strerror(errno));
	n = mq_open("/crest-err-thread", O_CREAT | O_RDWR, 0600, NULL);
	if (n == (mqd_t)-1 || mq_notify(n, &thr))
		case_fail("mq_open/mq_notify(SIGEV_THREAD): %s", strerror(errno));
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	n = mq_open("/crest-err-pending", O_CREAT | O_RDWR, 0600, NULL);
	if (n == (mqd_t)-1 || mq_notify(n, &pend) || sigprocmask(SIG_BLOCK, &usr1, NULL) ||
	    raise(SIGUSR1))
		case_fail("mq_open/mq_notify(SIGUSR1): %s", strerror(errno));
	{
		const char *tmp = getenv("CREST_TMP");
		char t1[4096], t2[4096], f[4200];

		if (!tmp)
			case_fail("no CREST_TMP");
		snprintf(t1, sizeof(t1), "%s/shared", tmp);
		snprintf(t2, sizeof(t2), "%s/bind", tmp);
		snprintf(f, sizeof(f), "%s/held", t1);
		if (mkdir(t1, 0755) || mkdir(t2, 0755) ||
		    mount("tmpfs", t1, "tmpfs", 0, "size=1m") ||
		    mount(NULL, t1, NULL, MS_SHARED, NULL) ||
		    mount(tmp, t2, NULL, MS_BIND, NULL) ||
		    open(f, O_RDWR | O_CREAT, 0600) < 0)
			case_fail("mounts: %s", strerror(errno));
	}
	case_ready();
	case_wait_go();
	case_pass();
}
