/*
 * mq_notify registrations of the POSIX message queues of the tree's IPC
 * namespaces. A queue has at most one, made by a process through an fd
 * of the queue (the kernel keeps the process, not the fd) and dropped
 * when the notification fires (a message into the empty queue, no
 * receiver waiting) or when that process closes any fd of the queue.
 *
 * The queue's file shows the kind (NOTIFY: SIGEV_SIGNAL 0, SIGEV_NONE 1,
 * SIGEV_THREAD 2), the signal and the process (namespaces.c reads them
 * with the queue, ipc_posix_mq()), but nothing shows a signal's
 * sigev_value: the only way to it is the signal itself. So while the
 * process is infected (mq_notify_dump), a helper of crest in the
 * namespace sends one message into the empty queue and takes it back,
 * which fires the notification (SI_MESGQ, with the value, queued to the
 * process); the process, made to run rt_sigtimedwait(), takes the signal
 * out, and mq_notify() makes the registration again as it was. The tree
 * sees neither the message nor the signal, and the registration is there
 * again before the dump goes on (a crest killed between the two loses it:
 * crest(8), LIMITATIONS).
 *
 * Refused at the dump, by name (mq_notify_collect): a registration on a
 * queue that holds messages (namespaces.c: refilling the drained queue
 * would fire it), by SIGEV_THREAD (a netlink socket's), by a process
 * outside the tree, one holding no fd of the queue or sharing its fd
 * table (CLONE_FILES), and a signal of which one is pending for the
 * process already (the one the firing queues would be merged with it, or
 * come after it).
 *
 * At restore the process makes it again itself (ns_mq_notify_restore),
 * through one of its fds of the queue, once crest's service fds, among
 * them a description of the queue, are closed (its close would drop it).
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "namespaces.h"
#include "parasite.h"
#include "refuse.h"
#include "util.h"

#ifndef SI_MESGQ
#define SI_MESGQ	(-3)
#endif

/* The fd of it's on queue name, or -1. */
static int owner_fd(const struct pstree_item *it, const char *name)
{
	for (int i = 0; i < it->nr_fds; i++)
		if (it->fds[i]->kind == FD_KIND__FD_MQUEUE && it->fds[i]->desc &&
		    !strcmp(it->fds[i]->desc, name))
			return it->fds[i]->fd;
	return -1;
}

/* Is sig pending for the process: for it (ShdPnd) or its main thread (SigPnd)? */
static bool pending(pid_t pid, int sig)
{
	char path[64], line[128];
	unsigned long long set, all = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return true;	/* can't tell: refused */
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SigPnd: %llx", &set) == 1 ||
		    sscanf(line, "ShdPnd: %llx", &set) == 1)
			all |= set;
	fclose(f);
	return all & (1ULL << (sig - 1));
}

void mq_notify_collect(struct ns_dump *nd, struct pstree *t)
{
	for (int n = 0; n < nd->nr; n++) {
		if (nd->ns[n]->kind != NS_KIND__NS_IPC)
			continue;
		for (int k = 0; k < nd->nr_objs[n]; k++) {
			const IpcObjEntry *o = nd->objs[n][k];
			struct pstree_item *it;

			if (o->kind != IPC_OBJ_KIND__IPC_POSIX_MQ || !o->has_notify_pid)
				continue;
			it = pstree_find(t, o->notify_pid);
			if (!it || it->zombie) {
				refuse(t->items[0]->pid, "POSIX message queue '%s' has a notification registered by process %u, not one of the tree (mq_notify): not supported",
				       o->name, o->notify_pid);
				continue;
			}
			if (it->ns_id[NSI_IPC] != (uint32_t)n + 1 || owner_fd(it, o->name) < 0) {
				refuse(it->pid, "has a notification registered on POSIX message queue '%s' (mq_notify) but no fd of it in its IPC namespace: not supported",
				       o->name);
				continue;
			}
			if (it->shares_files) {
				refuse(it->pid, "has a notification registered on POSIX message queue '%s' (mq_notify) and shares its fd table (CLONE_FILES): not supported yet",
				       o->name);
				continue;
			}
			if (o->notify == SIGEV_SIGNAL &&
			    (o->notify_signo < 1 || o->notify_signo > 64 ||
			     pending(it->live, o->notify_signo)))
				refuse(it->pid, "has a notification registered on POSIX message queue '%s' (mq_notify) with signal %u, which is pending for it already: crest can't learn its sigev_value, not supported",
				       o->name, o->notify_signo);
		}
	}
}

/*
 * In a child of crest in pid's IPC namespace: a message into queue name,
 * empty, taken back. 0, or -1 reported.
 */
static int fire(pid_t pid, const char *name)
{
	static const char *const why[] = {
		[1] = "can't join its IPC namespace", [2] = "can't open it",
		[3] = "it is not empty", [4] = "can't send into it",
		[5] = "can't take back the message sent (it is still in the queue)",
	};
	char path[64];
	int status;
	pid_t child;

	snprintf(path, sizeof(path), "/proc/%d/ns/ipc", pid);
	fflush(NULL);
	child = fork();
	if (child < 0) {
		pr_perror("can't fork a helper");
		return -1;
	}
	if (child == 0) {
		int nsfd = open(path, O_RDONLY | O_CLOEXEC);
		struct mq_attr a;
		sigset_t all;
		char *buf;
		mqd_t q;

		/* Both or neither: a signal of crest's can't stop it between. */
		sigfillset(&all);
		sigprocmask(SIG_BLOCK, &all, NULL);
		if (nsfd < 0 || setns(nsfd, CLONE_NEWIPC))
			_exit(1);
		q = mq_open(name, O_RDWR | O_NONBLOCK);
		if (q == (mqd_t)-1 || mq_getattr(q, &a))
			_exit(2);
		if (a.mq_curmsgs)
			_exit(3);
		buf = malloc(a.mq_msgsize + 1);
		if (!buf || mq_send(q, "", 0, 0))
			_exit(4);
		_exit(mq_receive(q, buf, a.mq_msgsize, NULL) == 0 ? 0 : 5);
	}
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR) {
			pr_perror("can't wait for a helper");
			return -1;
		}
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return 0;
	pr_err("can't fire the notification of POSIX message queue '%s' of process %d: %s",
	       name, pid, WIFEXITED(status) && WEXITSTATUS(status) <= 5 ?
	       why[WEXITSTATUS(status)] : "its helper died");
	return -1;
}

/*
 * The process's: rt_sigtimedwait() of the signal with no wait, then
 * mq_notify() on fd as it was, through the parasite area's data (free
 * until the pages go).
 */
static int learn(struct parasite_ctl *ctl, IpcObjEntry *o, int fd)
{
	unsigned char *l = ctl->local + ctl->data_off;
	uint64_t r = ctl->remote + ctl->data_off;
	uint64_t *set = (uint64_t *)l;
	siginfo_t *si = (siginfo_t *)(l + 64);
	struct sigevent *ev = (struct sigevent *)(l + 256);
	long got, ret;

	memset(l, 0, 512);
	*set = 1ULL << (o->notify_signo - 1);
	/* 16..31: a zero timespec, a poll */
	got = parasite_rsys(ctl, SYS_rt_sigtimedwait, r, r + 64, r + 16, 8, 0, 0);
	if (got == (long)o->notify_signo && si->si_code == SI_MESGQ) {
		o->has_notify_value = 1;
		o->notify_value = (uint64_t)(uintptr_t)si->si_value.sival_ptr;
	}
	ev->sigev_notify = SIGEV_SIGNAL;
	ev->sigev_signo = o->notify_signo;
	ev->sigev_value.sival_ptr = (void *)(uintptr_t)o->notify_value;
	/* Made again whatever came: as it was, or with the value 0. */
	ret = parasite_rsys(ctl, SYS_mq_notify, fd, r + 256, 0, 0, 0, 0);
	if (ret) {
		pr_err("process %d: can't register its notification on POSIX message queue '%s' again (mq_notify: %s): it is lost",
		       ctl->pid, o->name, strerror((int)-ret));
		return -1;
	}
	if (!o->has_notify_value) {
		pr_err("process %d: the notification of POSIX message queue '%s' gave no signal %u (rt_sigtimedwait: %ld, si_code %d)",
		       ctl->pid, o->name, o->notify_signo, got, got > 0 ? si->si_code : 0);
		return -1;
	}
	pr_debug("process %d: POSIX message queue '%s' notifies with signal %u, sigev_value %#llx",
		 ctl->pid, o->name, o->notify_signo, (unsigned long long)o->notify_value);
	return 0;
}

int mq_notify_dump(struct ns_dump *nd, struct pstree_item *it, struct parasite_ctl *ctl)
{
	uint32_t n = it->ns_id[NSI_IPC];

	if (!n || n > (uint32_t)nd->nr)
		return 0;
	for (int k = 0; k < nd->nr_objs[n - 1]; k++) {
		IpcObjEntry *o = nd->objs[n - 1][k];
		int fd;

		if (o->kind != IPC_OBJ_KIND__IPC_POSIX_MQ || !o->has_notify_pid ||
		    o->notify_pid != (uint32_t)it->pid || o->notify != SIGEV_SIGNAL)
			continue;
		fd = owner_fd(it, o->name);
		if (fd < 0 || fire(it->live, o->name) || learn(ctl, o, fd))
			return -1;
	}
	return 0;
}

int ns_mq_notify_restore(const struct ns_restore *nr, const PstreeEntry *pe,
			 FdEntry *const *fds, int nr_fds)
{
	uint32_t n = pe->has_ipc_ns ? pe->ipc_ns : 0;

	if (!n || n > (uint32_t)nr->nr)
		return 0;
	for (int k = 0; k < nr->nr_objs[n - 1]; k++) {
		const IpcObjEntry *o = nr->objs[n - 1][k];
		struct sigevent ev = { 0 };
		int fd = -1;

		if (o->kind != IPC_OBJ_KIND__IPC_POSIX_MQ || !o->has_notify_pid ||
		    o->notify_pid != pe->pid)
			continue;
		for (int i = 0; i < nr_fds && fd < 0; i++)
			if (fds[i]->kind == FD_KIND__FD_MQUEUE && fds[i]->desc &&
			    !strcmp(fds[i]->desc, o->name))
				fd = fds[i]->fd;
		if (fd < 0 || !o->has_notify ||
		    (o->notify != SIGEV_SIGNAL && o->notify != SIGEV_NONE) ||
		    (o->notify == SIGEV_SIGNAL && (!o->has_notify_value || !o->has_notify_signo))) {
			pr_err("the images give process %u a notification on POSIX message queue '%s' it has no fd of, or one of no known kind",
			       pe->pid, o->name);
			return -1;
		}
		ev.sigev_notify = o->notify;
		ev.sigev_signo = o->notify_signo;
		ev.sigev_value.sival_ptr = (void *)(uintptr_t)o->notify_value;
		if (mq_notify(fd, &ev)) {
			pr_perror("process %u can't register its notification on POSIX message queue '%s' again",
				  pe->pid, o->name);
			return -1;
		}
	}
	return 0;
}
