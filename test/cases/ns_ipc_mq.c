/*
 * POSIX message queues in an IPC namespace of its own (test/run starts it
 * under unshare --ipc; it refuses to run anywhere else): one with
 * messages of several priorities, some of the same priority, one of
 * them empty, and a full one, each with its own mq_maxmsg, mq_msgsize,
 * mode and owner, and a namespace limit of its own (fs.mqueue.msg_max).
 * It holds fds on them (mqd_t) at the dump: one O_RDWR | O_NONBLOCK on the
 * first, one write-only on the empty one, and one O_RDONLY, blocking, on
 * the full one; after the restore each is at its number with its flags
 * and reads (or refuses to) as before.
 * In a mount namespace of its own too (test/run's ns_ipc_mq_pid) it
 * mounts its mqueue under CREST_TMP, where the queues show as files.
 * After the restore every queue is there by name with its attributes,
 * owner and mode, and its messages come out in the order they would
 * have: highest priority first, oldest first within one, with their
 * priorities and bytes. The queues' files are in the /proc audit too.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define MSG_MAX		"13"

struct msg {
	const char *text;
	unsigned int prio;
};

/* In the order they are sent. */
static const struct msg sent[] = {
	{ "low, first", 1 }, { "high", 9 }, { "low, second", 1 },
	{ "middle", 5 }, { "", 0 }, { "high, again", 9 },
	{ "low, third: a longer one to fill more of the message size", 1 },
};
/* ... and how they come out. */
static const int order[] = { 1, 5, 3, 0, 2, 6, 4 };
#define NR_SENT	(int)(sizeof(sent) / sizeof(sent[0]))

struct queue {
	const char *name;
	long maxmsg, msgsize;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	int nr;		/* messages of sent[], in order, or the full one's */
};

static const struct queue queues[] = {
	{ "/crest-mq-a", 10, 80, 0640, 0, 0, NR_SENT },
	{ "/crest-mq-empty", 3, 16, 0600, 65534, 65534, 0 },
	{ "/crest-mq-full", 4, 8, 0604, 0, 65534, -1 },
};
#define NR_QUEUES	(int)(sizeof(queues) / sizeof(queues[0]))

static void write_sys(const char *path, const char *v)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(v, f) < 0 || fclose(f))
		case_fail("can't write %s to %s: %s", v, path, strerror(errno));
}

static void full_msg(char *buf, int i)
{
	snprintf(buf, 9, "full%d", i % 10);
}

static void make(const struct queue *q)
{
	struct mq_attr a = { .mq_maxmsg = q->maxmsg, .mq_msgsize = q->msgsize };
	char buf[16];
	mqd_t m = mq_open(q->name, O_CREAT | O_EXCL | O_WRONLY, q->mode, &a);

	if (m == (mqd_t)-1)
		case_fail("mq_open(%s): %s", q->name, strerror(errno));
	for (int i = 0; i < q->nr; i++)
		if (mq_send(m, sent[i].text, strlen(sent[i].text), sent[i].prio))
			case_fail("mq_send(%s, %d): %s", q->name, i, strerror(errno));
	for (int i = 0; q->nr < 0 && i < q->maxmsg; i++) {
		full_msg(buf, i);
		if (mq_send(m, buf, 8, 3 - i % 2))
			case_fail("mq_send(%s, %d): %s", q->name, i, strerror(errno));
	}
	if (fchmod(m, q->mode) || fchown(m, q->uid, q->gid))
		case_fail("fchmod/fchown(%s): %s", q->name, strerror(errno));
	mq_close(m);
}

static void check(const struct queue *q, mqd_t m)
{
	struct mq_attr a;
	struct stat st;
	char buf[256];
	unsigned int prio;
	long want = q->nr < 0 ? q->maxmsg : q->nr;

	if (m == (mqd_t)-1)
		case_fail("mq_open(%s) after the restore: %s", q->name, strerror(errno));
	if (mq_getattr(m, &a) || fstat(m, &st))
		case_fail("mq_getattr(%s): %s", q->name, strerror(errno));
	if (a.mq_maxmsg != q->maxmsg || a.mq_msgsize != q->msgsize || a.mq_curmsgs != want)
		case_fail("%s: mq_maxmsg %ld mq_msgsize %ld mq_curmsgs %ld, want %ld %ld %ld",
			  q->name, a.mq_maxmsg, a.mq_msgsize, a.mq_curmsgs, q->maxmsg,
			  q->msgsize, want);
	if ((st.st_mode & 07777) != q->mode || st.st_uid != q->uid || st.st_gid != q->gid)
		case_fail("%s: mode %o owner %u:%u, want %o %u:%u", q->name,
			  st.st_mode & 07777, st.st_uid, st.st_gid, q->mode, q->uid, q->gid);
	for (long i = 0; i < want; i++) {
		ssize_t n = mq_receive(m, buf, sizeof(buf), &prio);
		char w[16];
		const char *text = w;
		unsigned int wprio;

		if (q->nr < 0) {
			/* prio 3 ones first (even i), then the 2 ones, each in order */
			int k = i < (q->maxmsg + 1) / 2 ? 2 * i : 2 * (i - (q->maxmsg + 1) / 2) + 1;

			full_msg(w, k);
			wprio = 3 - k % 2;
			n = n == 8 ? (ssize_t)strlen(buf) : -2;
		} else {
			text = sent[order[i]].text;
			wprio = sent[order[i]].prio;
		}
		if (n != (ssize_t)strlen(text) || memcmp(buf, text, strlen(text)) || prio != wprio)
			case_fail("%s: message %ld is %zd bytes '%.*s' priority %u, want '%s' priority %u",
				  q->name, i, n, n > 0 ? (int)n : 0, buf, prio, text, wprio);
	}
	if (mq_receive(m, buf, sizeof(buf), &prio) >= 0 || errno != EAGAIN)
		case_fail("%s: a message more than there were", q->name);
}

static int flags_of(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		case_fail("fd %d is gone: %s", fd, strerror(errno));
	return fl & (O_ACCMODE | O_NONBLOCK);
}

int main(void)
{
	char buf[64], mnt[4096] = "";
	mqd_t held[NR_QUEUES];
	static const int held_flags[NR_QUEUES] = {
		O_RDWR | O_NONBLOCK, O_WRONLY, O_RDONLY,
	};
	struct mq_attr a;
	struct stat st;
	FILE *f;

	case_init();
	if (!case_own_ns("ipc"))
		case_fail("not in an IPC namespace of its own (run it under unshare --ipc through test/run)");
	if (case_own_ns("mnt")) {
		const char *tmp = getenv("CREST_TMP");

		if (!tmp)
			case_fail("no CREST_TMP");
		snprintf(mnt, sizeof(mnt), "%s/mqueue", tmp);
		if (mkdir(mnt, 01777) ||
		    mount("mqueue", mnt, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
			case_fail("can't mount an mqueue at %s: %s", mnt, strerror(errno));
	}
	write_sys("/proc/sys/fs/mqueue/msg_max", MSG_MAX);
	umask(077);
	for (int i = 0; i < NR_QUEUES; i++) {
		make(&queues[i]);
		held[i] = mq_open(queues[i].name, held_flags[i]);
		if (held[i] == (mqd_t)-1)
			case_fail("mq_open(%s): %s", queues[i].name, strerror(errno));
	}

	case_ready();
	case_wait_go();

	f = fopen("/proc/sys/fs/mqueue/msg_max", "r");
	if (!f || !fgets(buf, sizeof(buf), f) || atoi(buf) != atoi(MSG_MAX))
		case_fail("fs.mqueue.msg_max is %s, want %s", f ? buf : "?", MSG_MAX);
	fclose(f);
	for (int i = 0; i < NR_QUEUES; i++) {
		char path[4200];

		snprintf(path, sizeof(path), "%s%s", mnt, queues[i].name);
		if (mnt[0] && (stat(path, &st) || st.st_uid != queues[i].uid))
			case_fail("%s: %s", path, strerror(errno));
		if (flags_of(held[i]) != held_flags[i])
			case_fail("fd %d on %s has the flags 0%o, want 0%o", held[i],
				  queues[i].name, flags_of(held[i]), held_flags[i]);
		if (mq_getattr(held[i], &a) || a.mq_msgsize != queues[i].msgsize ||
		    a.mq_flags != (held_flags[i] & O_NONBLOCK))
			case_fail("fd %d on %s: mq_getattr: %s, mq_msgsize %ld, mq_flags 0%lo",
				  held[i], queues[i].name, strerror(errno), a.mq_msgsize,
				  a.mq_flags);
		if (i != 2) {
			mqd_t m = (held_flags[i] & O_ACCMODE) == O_WRONLY ?
				  mq_open(queues[i].name, O_RDONLY | O_NONBLOCK) : held[i];

			check(&queues[i], m);
			if (m != held[i])
				mq_close(m);
		} else {
			/* Blocking: the full one is read through it, then would wait. */
			mqd_t m = mq_open(queues[i].name, O_RDONLY | O_NONBLOCK);

			check(&queues[i], m);
			mq_close(m);
		}
	}
	/* The write-only fd can't read; it sends into the empty queue. */
	if (mq_receive(held[1], buf, sizeof(buf), NULL) >= 0 || errno != EBADF)
		case_fail("a write-only fd on %s reads: %s", queues[1].name, strerror(errno));
	if (mq_send(held[1], "x", 1, 2))
		case_fail("mq_send on %s after the restore: %s", queues[1].name, strerror(errno));
	if (mq_receive(held[2], buf, 4, NULL) >= 0 || errno != EMSGSIZE)
		case_fail("fd %d on %s: mq_receive with a short buffer: %s", held[2],
			  queues[2].name, strerror(errno));
	/* A new one still can be made, as before. */
	if (mq_open("/crest-mq-new", O_CREAT | O_EXCL | O_RDWR, 0600, NULL) == (mqd_t)-1)
		case_fail("mq_open of a new queue after the restore: %s", strerror(errno));
	mq_unlink("/crest-mq-new");
	case_pass();
}
