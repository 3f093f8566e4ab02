/*
 * One open file description of a POSIX message queue held by two fds of
 * a parent (dup) and inherited by its child across fork, in an IPC
 * namespace of its own (test/run starts it under unshare --ipc, and
 * under unshare --pid --fork --ipc, where the namespace is entered by
 * unshare, which holds no queue). The child has a description of its
 * own on the same queue too, O_RDONLY | O_NONBLOCK.
 *
 * After the restore, from inside: the three fds are still one
 * description (kcmp), the child's own is another; the queue's messages
 * are there once, read half by the child through the inherited fd and
 * half by the parent through its dup, in the order they would have come
 * out (highest priority first, oldest first within one) with their
 * priorities; O_NONBLOCK cleared through the parent's fd is cleared on
 * the child's inherited fd, not on its own.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KCMP_FILE	0
#define QNAME		"/crest-mq-fork"
#define WAIT_MS		60000

struct msg {
	const char *text;
	unsigned int prio;
};

/* In the order they are sent... */
static const struct msg sent[] = {
	{ "two, first", 2 }, { "seven", 7 }, { "two, second", 2 }, { "zero", 0 },
	{ "seven, again", 7 }, { "four", 4 }, { "two, third", 2 }, { "", 4 },
};
/* ...and how they come out: the child takes the first HALF. */
static const int order[] = { 1, 4, 5, 7, 0, 2, 6, 3 };
#define NR_SENT	(int)(sizeof(sent) / sizeof(sent[0]))
#define HALF	4

/* Fails in the child as in the parent: the child's exit status says which. */
static int take(mqd_t q, int from, int to, const char *who)
{
	char buf[64];

	for (int i = from; i < to; i++) {
		const struct msg *w = &sent[order[i]];
		unsigned int prio;
		ssize_t n = mq_receive(q, buf, sizeof(buf), &prio);

		if (n != (ssize_t)strlen(w->text) || memcmp(buf, w->text, n) ||
		    prio != w->prio) {
			fprintf(stderr, "%s: message %d is %zd bytes '%.*s' priority %u (%s), want '%s' priority %u\n",
				who, i, n, n > 0 ? (int)n : 0, buf, prio,
				n < 0 ? strerror(errno) : "", w->text, w->prio);
			return -1;
		}
	}
	return 0;
}

static long flags_of(mqd_t q)
{
	struct mq_attr a;

	return mq_getattr(q, &a) ? -1 : a.mq_flags;
}

static void wait_readable(int fd, const char *what)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, WAIT_MS) != 1)
		case_fail("no word from the child in %d s (%s)", WAIT_MS / 1000, what);
}

int main(void)
{
	int to_child[2], to_parent[2], status = 0, reaped = 0;
	struct mq_attr a = { .mq_maxmsg = 10, .mq_msgsize = 32 };
	mqd_t q, dup_q, own;
	pid_t child;
	char c;

	case_init();
	if (!case_own_ns("ipc"))
		case_fail("not in an IPC namespace of its own (run it under unshare --ipc through test/run)");
	q = mq_open(QNAME, O_CREAT | O_EXCL | O_RDWR | O_NONBLOCK, 0600, &a);
	if (q == (mqd_t)-1)
		case_fail("mq_open(%s): %s", QNAME, strerror(errno));
	for (int i = 0; i < NR_SENT; i++)
		if (mq_send(q, sent[i].text, strlen(sent[i].text), sent[i].prio))
			case_fail("mq_send(%d): %s", i, strerror(errno));
	dup_q = dup(q);
	if (dup_q < 0 || pipe(to_child) || pipe(to_parent))
		case_fail("dup/pipe: %s", strerror(errno));
	child = fork();
	if (child < 0)
		case_fail("fork: %s", strerror(errno));
	if (child == 0) {
		own = mq_open(QNAME, O_RDONLY | O_NONBLOCK);
		if (own == (mqd_t)-1 || write(to_parent[1], "r", 1) != 1)
			_exit(2);
		/* After the restore: half the messages, through the inherited fd. */
		if (read(to_child[0], &c, 1) != 1)
			_exit(3);
		if (take(q, 0, HALF, "child"))
			_exit(4);
		if (write(to_parent[1], "t", 1) != 1 || read(to_child[0], &c, 1) != 1)
			_exit(5);
		/* The parent cleared O_NONBLOCK on its fd: on ours too, not on our own. */
		if (flags_of(q) != 0 || flags_of(own) != O_NONBLOCK) {
			fprintf(stderr, "child: mq_flags %ld on the inherited fd, %ld on its own\n",
				flags_of(q), flags_of(own));
			_exit(6);
		}
		/* Empty, as the parent left it: once each. */
		if (mq_receive(own, (char[64]){ 0 }, 64, NULL) >= 0 || errno != EAGAIN)
			_exit(7);
		_exit(0);
	}
	wait_readable(to_parent[0], "its own description");
	if (read(to_parent[0], &c, 1) != 1)
		case_fail("read: %s", strerror(errno));

	case_ready();
	case_wait_go();

	if (syscall(SYS_kcmp, getpid(), child, KCMP_FILE, q, q) != 0)
		case_fail("the child's inherited fd %d is no longer the parent's description (kcmp)", q);
	if (syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, q, dup_q) != 0)
		case_fail("fds %d and %d (dup) are no longer one description (kcmp)", q, dup_q);
	if (flags_of(q) != O_NONBLOCK || (fcntl(dup_q, F_GETFL) & O_ACCMODE) != O_RDWR)
		case_fail("fd %d has mq_flags %ld, fd %d the flags 0%o", q, flags_of(q), dup_q,
			  fcntl(dup_q, F_GETFL));
	if (mq_getattr(q, &a) || a.mq_curmsgs != NR_SENT || a.mq_maxmsg != 10 ||
	    a.mq_msgsize != 32)
		case_fail("%s holds %ld messages (mq_maxmsg %ld, mq_msgsize %ld), want %d (10, 32)",
			  QNAME, a.mq_curmsgs, a.mq_maxmsg, a.mq_msgsize, NR_SENT);
	if (write(to_child[1], "g", 1) != 1)
		case_fail("write: %s", strerror(errno));
	wait_readable(to_parent[0], "its half of the messages");
	if (read(to_parent[0], &c, 1) != 1 || c != 't') {
		waitpid(child, &status, 0);
		case_fail("the child did not take its half: exit status %#x", status);
	}
	if (take(dup_q, HALF, NR_SENT, "parent"))
		case_fail("the parent's half is not as it was (above)");
	if (mq_receive(q, (char[64]){ 0 }, 64, NULL) >= 0 || errno != EAGAIN)
		case_fail("a message more than were sent: %s", strerror(errno));
	/* One description: its O_NONBLOCK, cleared here, is the child's too. */
	if (fcntl(dup_q, F_SETFL, 0))
		case_fail("fcntl: %s", strerror(errno));
	if (write(to_child[1], "n", 1) != 1)
		case_fail("write: %s", strerror(errno));
	for (int i = 0; !reaped && i < WAIT_MS / 10; i++) {
		pid_t w = waitpid(child, &status, WNOHANG);

		if (w < 0)
			case_fail("waitpid: %s", strerror(errno));
		reaped = w == child;
		if (!reaped)
			usleep(10000);
	}
	if (!reaped)
		case_fail("the child still runs after %d s", WAIT_MS / 1000);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("the child: exit status %#x", status);
	mq_unlink(QNAME);
	case_pass();
}
