/*
 * Namespaces: which ones the tree's processes are in, what is in them,
 * and making them again at restore.
 *
 * A namespace of the tree that is not the dumping crest's own is entered
 * by one process of the tree: the first in it, whose parent (or crest,
 * for a root) is in another. The restore makes that process in a new
 * namespace of the kind (a clone3 flag), fills it there before anything
 * else runs in it, and the process's children inherit it. So a namespace
 * two processes of the tree entered each on its own (setns(), or both
 * children of a parent outside the tree), or a process back in crest's
 * own namespace below one that is not, is refused by name.
 *
 * What is in each kind:
 *   UTS  hostname and domainname (uname(2) in it)
 *   IPC  the limits under /proc/sys (kernel/shm..., msg..., sem, fs/mqueue/...),
 *        System V shared memory segments with their bytes, semaphore sets
 *        with their values, message queues with their messages (read
 *        with MSG_COPY, nothing taken out), each under its old id (the
 *        kernel's {shm,sem,msg}_next_id) and key, owner and mode; POSIX
 *        message queues with their name, owner, mode, mq_maxmsg,
 *        mq_msgsize and messages with their priorities (ipc_posix_mq()).
 *
 * The contents are read by a helper: a child of crest that setns()es into
 * the namespace (the /proc/sys files and /proc/sysvipc, shmctl() and the
 * others answer for the caller's namespace) and streams records back on a
 * pipe: 'm' a message, 'r' a refusal, 'e' an error.
 *
 * Not seen and not saved (crest(8), LIMITATIONS): semaphore undo values
 * (SEM_UNDO: per process, /proc does not show them), the pids and times
 * of last operations of each object (a restored object is a new one;
 * reading a segment attaches it once: its atime and lpid change).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "namespaces.h"
#include "refuse.h"
#include "files.h"
#include "util.h"

#ifndef MSG_COPY
#define MSG_COPY	040000
#endif
#ifndef SHM_STAT_ANY
#define SHM_STAT_ANY	15
#define SEM_STAT_ANY	20
#define MSG_STAT_ANY	13
#endif

/* A segment's bytes go in one record, under the image's record limit. */
#define SHM_MAX_DATA	(IMG_MAX_RECORD - (1u << 20))

struct ns_kind_desc {
	const char *name;	/* under /proc/PID/ns/ */
	NsKind kind;
	int flag;		/* CLONE_NEW* */
	const char *what;
	bool by_setns;		/* made by crest, joined by its task (not clone3) */
};

static const struct ns_kind_desc kinds[NSI_NR] = {
	[NSI_UTS] = { "uts", NS_KIND__NS_UTS, CLONE_NEWUTS, "UTS namespace" },
	[NSI_IPC] = { "ipc", NS_KIND__NS_IPC, CLONE_NEWIPC, "IPC namespace" },
	[NSI_PID] = { "pid", NS_KIND__NS_PID, CLONE_NEWPID, "PID namespace" },
	[NSI_MNT] = { "mnt", NS_KIND__NS_MNT, CLONE_NEWNS, "mount namespace" },
	[NSI_NET] = { "net", NS_KIND__NS_NET, CLONE_NEWNET, "network namespace", true },
	[NSI_TIME] = { "time", NS_KIND__NS_TIME, CLONE_NEWTIME, "time namespace", true },
	/* Joined last, in the restorer (ns-user.c). */
	[NSI_USER] = { "user", NS_KIND__NS_USER, CLONE_NEWUSER, "user namespace", true },
};

/* The IPC limits of a namespace, under /proc/sys. */
static const char *const ipc_vars[] = {
	"kernel/sem", "kernel/msgmax", "kernel/msgmnb", "kernel/msgmni",
	"kernel/shmmax", "kernel/shmall", "kernel/shmmni", "kernel/shm_rmid_forced",
	"fs/mqueue/queues_max", "fs/mqueue/msg_max", "fs/mqueue/msgsize_max",
	"fs/mqueue/msg_default", "fs/mqueue/msgsize_default",
};

/* ---------------------------------------------------------------- helper */

static int send_rec(int fd, char type, const void *buf, uint32_t len)
{
	unsigned char hdr[5] = { (unsigned char)type };

	memcpy(hdr + 1, &len, 4);
	return write_all(fd, hdr, 5) || write_all(fd, buf, len) ? -1 : 0;
}

int send_msg(int fd, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = xzalloc(len + 1);
	int ret;

	protobuf_c_message_pack(m, buf);
	ret = send_rec(fd, 'm', buf, len);
	free(buf);
	return ret;
}

void send_text(int fd, char type, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	send_rec(fd, type, buf, strlen(buf));
}

typedef int (*ns_helper_fn)(int out);

struct ns_reply {
	ProtobufCBinaryData *recs;	/* the packed messages, in order */
	int nr;
};

static void *unpack(const ProtobufCMessageDescriptor *desc,
		    const ProtobufCBinaryData *b, pid_t pid)
{
	void *m = protobuf_c_message_unpack(desc, NULL, b->len, b->data);

	if (!m)
		pr_err("a namespace helper of process %d sent a bad %s", pid, desc->name);
	return m;
}

/*
 * Run fn in a child of crest that joined pid's namespace of kind i.
 * Its refusals are pid's; its messages are unpacked with desc.
 */
static int in_ns(pid_t pid, int i, ns_helper_fn fn, struct ns_reply *r)
{
	char path[64];
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0, off;
	int p[2], nsfd, status, ret = 0;
	pid_t child;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, kinds[i].name);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		pr_perror("can't open '%s'", path);
		return -1;
	}
	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("can't make a pipe");
		close(nsfd);
		return -1;
	}
	fflush(NULL);
	child = fork();
	if (child < 0) {
		pr_perror("can't fork a helper");
		close(nsfd);
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (child == 0) {
		close(p[0]);
		if (setns(nsfd, kinds[i].flag)) {
			send_text(p[1], 'e', "can't join the %s of process %d: %s",
				  kinds[i].what, pid, strerror(errno));
			_exit(1);
		}
		_exit(fn(p[1]) ? 1 : 0);
	}
	close(nsfd);
	close(p[1]);
	for (;;) {
		ssize_t n;

		if (cap - len < 65536) {
			cap = cap ? 2 * cap : 1 << 20;
			buf = xrealloc(buf, cap);
		}
		n = read(p[0], buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	close(p[0]);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		ret = -1;
	for (off = 0; off + 5 <= len;) {
		char type = buf[off];
		uint32_t n;

		memcpy(&n, buf + off + 1, 4);
		off += 5;
		if (n > len - off)
			break;
		if (type == 'm') {
			r->recs = xrealloc(r->recs, (r->nr + 1) * sizeof(*r->recs));
			r->recs[r->nr].len = n;
			r->recs[r->nr].data = xzalloc(n + 1);
			memcpy(r->recs[r->nr].data, buf + off, n);
			r->nr++;
		} else if (type == 'r') {
			refuse(pid, "%.*s", (int)n, (char *)buf + off);
		} else {
			pr_err("%.*s", (int)n, (char *)buf + off);
			ret = -1;
		}
		off += n;
	}
	if (ret && !r->nr)
		pr_err("can't read the %s of process %d", kinds[i].what, pid);
	free(buf);
	return ret;
}

/* ---------------------------------------------------------------- UTS */

static int uts_helper(int out)
{
	UtsNsEntry e = UTS_NS_ENTRY__INIT;
	struct utsname u;

	if (uname(&u)) {
		send_text(out, 'e', "uname: %s", strerror(errno));
		return -1;
	}
	e.hostname = u.nodename;
	e.domainname = u.domainname;
	return send_msg(out, &e.base);
}

/* ---------------------------------------------------------------- IPC */

static void obj_perm(IpcObjEntry *o, IpcObjKind kind, int id,
		     const struct ipc_perm *p)
{
	ipc_obj_entry__init(o);
	o->kind = kind;
	o->id = id;
	o->key = p->__key;
	o->uid = p->uid;
	o->gid = p->gid;
	o->mode = p->mode & 0777;
}

/* The device maps shows for our attach at at: the namespace's shm mount. */
static int shm_dev_of(const void *at, uint32_t *dev)
{
	char *maps = read_file("/proc/self/maps", NULL), *l;
	unsigned long start;
	unsigned int ma, mi;
	int ret = -1;

	for (l = maps; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (sscanf(l, "%lx-%*x %*s %*x %x:%x", &start, &ma, &mi) == 3 &&
		    start == (unsigned long)at) {
			*dev = makedev(ma, mi);
			ret = 0;
			break;
		}
	free(maps);
	return ret;
}

/* Every id of one kind: *_STAT_ANY by index up to what *_INFO says. */
static int ipc_shm(int out)
{
	struct shm_info info;
	int max = shmctl(0, SHM_INFO, (struct shmid_ds *)&info);

	if (max < 0) {
		send_text(out, 'e', "shmctl(SHM_INFO): %s", strerror(errno));
		return -1;
	}
	for (int idx = 0; idx <= max; idx++) {
		IpcObjEntry o;
		struct shmid_ds ds;
		int id = shmctl(idx, SHM_STAT_ANY, &ds);
		size_t n;
		void *at;

		if (id < 0)
			continue;
		if (ds.shm_perm.mode & ~(07777u | SHM_DEST | SHM_LOCKED)) {
			send_text(out, 'r', "System V shared memory segment %d (key %#x) has mode %#o (flags crest does not know), not supported",
				  id, ds.shm_perm.__key, ds.shm_perm.mode);
			continue;
		}
		if (ds.shm_perm.cuid != ds.shm_perm.uid || ds.shm_perm.cgid != ds.shm_perm.gid) {
			send_text(out, 'r', "System V shared memory segment %d (key %#x) was made by uid %u gid %u and given to uid %u gid %u: its creator is not saved yet",
				  id, ds.shm_perm.__key, ds.shm_perm.cuid, ds.shm_perm.cgid,
				  ds.shm_perm.uid, ds.shm_perm.gid);
			continue;
		}
		obj_perm(&o, IPC_OBJ_KIND__IPC_SHM, id, &ds.shm_perm);
		o.has_size = 1;
		o.size = ds.shm_segsz;
		/* Before our own attach below: the tree's (sysv_shm_check()). */
		o.has_nattch = 1;
		o.nattch = ds.shm_nattch;
		/* Removed: it goes when the last attach does (again at restore). */
		o.has_removed = o.removed = !!(ds.shm_perm.mode & SHM_DEST);
		o.has_locked = o.locked = !!(ds.shm_perm.mode & SHM_LOCKED);
		at = shmat(id, NULL, SHM_RDONLY);
		if (at == (void *)-1) {
			send_text(out, 'e', "can't attach System V shared memory segment %d: %s",
				  id, strerror(errno));
			return -1;
		}
		/* Trailing zeros are what a new segment holds anyway. */
		for (n = ds.shm_segsz; n && !((char *)at)[n - 1]; n--)
			;
		if (n > SHM_MAX_DATA) {
			send_text(out, 'r', "System V shared memory segment %d (key %#x) holds %zu bytes: crest saves at most %u yet",
				  id, ds.shm_perm.__key, n, SHM_MAX_DATA);
			shmdt(at);
			continue;
		}
		o.has_data = 1;
		o.data.data = at;
		o.data.len = n;
		o.has_shm_dev = !shm_dev_of(at, &o.shm_dev);
		if (send_msg(out, &o.base))
			return -1;
		shmdt(at);
	}
	return 0;
}

static int ipc_sem(int out)
{
	struct seminfo info;
	int max = semctl(0, 0, SEM_INFO, &info);

	if (max < 0) {
		send_text(out, 'e', "semctl(SEM_INFO): %s", strerror(errno));
		return -1;
	}
	for (int idx = 0; idx <= max; idx++) {
		IpcObjEntry o;
		struct semid_ds ds;
		int id = semctl(idx, 0, SEM_STAT_ANY, &ds);
		unsigned short *v;
		uint32_t *vals;
		int ret;

		if (id < 0)
			continue;
		if (ds.sem_perm.cuid != ds.sem_perm.uid || ds.sem_perm.cgid != ds.sem_perm.gid) {
			send_text(out, 'r', "System V semaphore set %d (key %#x) was made by uid %u gid %u and given to uid %u gid %u: its creator is not saved yet",
				  id, ds.sem_perm.__key, ds.sem_perm.cuid, ds.sem_perm.cgid,
				  ds.sem_perm.uid, ds.sem_perm.gid);
			continue;
		}
		obj_perm(&o, IPC_OBJ_KIND__IPC_SEM, id, &ds.sem_perm);
		v = xzalloc((ds.sem_nsems + 1) * sizeof(*v));
		vals = xzalloc((ds.sem_nsems + 1) * sizeof(*vals));
		if (semctl(id, 0, GETALL, v)) {
			send_text(out, 'e', "semctl(%d, GETALL): %s", id, strerror(errno));
			return -1;
		}
		for (unsigned long k = 0; k < ds.sem_nsems; k++)
			vals[k] = v[k];
		o.n_values = ds.sem_nsems;
		o.values = vals;
		ret = send_msg(out, &o.base);
		free(v);
		free(vals);
		if (ret)
			return -1;
	}
	return 0;
}

static int ipc_msq(int out)
{
	struct msginfo info;
	int max = msgctl(0, MSG_INFO, (struct msqid_ds *)&info);

	if (max < 0) {
		send_text(out, 'e', "msgctl(MSG_INFO): %s", strerror(errno));
		return -1;
	}
	for (int idx = 0; idx <= max; idx++) {
		IpcObjEntry o;
		struct msqid_ds ds;
		int id = msgctl(idx, MSG_STAT_ANY, &ds);
		size_t bufsz;
		char *buf;
		int ret = 0;

		if (id < 0)
			continue;
		if (ds.msg_perm.cuid != ds.msg_perm.uid || ds.msg_perm.cgid != ds.msg_perm.gid) {
			send_text(out, 'r', "System V message queue %d (key %#x) was made by uid %u gid %u and given to uid %u gid %u: its creator is not saved yet",
				  id, ds.msg_perm.__key, ds.msg_perm.cuid, ds.msg_perm.cgid,
				  ds.msg_perm.uid, ds.msg_perm.gid);
			continue;
		}
		obj_perm(&o, IPC_OBJ_KIND__IPC_MSQ, id, &ds.msg_perm);
		o.has_qbytes = 1;
		o.qbytes = ds.msg_qbytes;
		o.msgs = xzalloc((ds.msg_qnum + 1) * sizeof(*o.msgs));
		bufsz = sizeof(long) + ds.__msg_cbytes + 1;
		buf = xzalloc(bufsz);
		for (unsigned long k = 0; k < ds.msg_qnum; k++) {
			/* MSG_COPY: the k-th message, copied, left in the queue. */
			ssize_t n = msgrcv(id, buf, bufsz - sizeof(long), k,
					   IPC_NOWAIT | MSG_COPY | MSG_NOERROR);
			IpcMsg *m;

			if (n < 0) {
				if (errno == ENOSYS)
					send_text(out, 'r', "System V message queue %d (key %#x) holds messages, and this kernel can't read them without taking them (no MSG_COPY: CONFIG_CHECKPOINT_RESTORE)",
						  id, ds.msg_perm.__key);
				else
					send_text(out, 'e', "msgrcv(%d, MSG_COPY %lu): %s",
						  id, k, strerror(errno));
				ret = errno == ENOSYS ? 0 : -1;
				goto next;
			}
			m = xzalloc(sizeof(*m));
			ipc_msg__init(m);
			m->mtype = *(long *)buf;
			m->text.len = n;
			m->text.data = xzalloc(n + 1);
			memcpy(m->text.data, buf + sizeof(long), n);
			o.msgs[o.n_msgs++] = m;
		}
		ret = send_msg(out, &o.base);
next:
		for (size_t k = 0; k < o.n_msgs; k++) {
			free(o.msgs[k]->text.data);
			free(o.msgs[k]);
		}
		free(o.msgs);
		free(buf);
		if (ret)
			return -1;
	}
	return 0;
}

/*
 * POSIX message queues live in the namespace's mqueue filesystem: a
 * mount of it in a private mount namespace of the helper's lists them,
 * each file shows QSIZE, NOTIFY, SIGNO and NOTIFY_PID; mq_getattr() of
 * an mq_open() (of the namespace the helper joined) gives the rest.
 *
 * A queue can't be read without taking its messages: each is received
 * and, once all are, sent back in the same order, which makes the queue
 * again exactly (mq_receive gives the highest priority first, the oldest
 * first within one, and mq_send puts a message after those of its
 * priority). The tree is frozen, and this is the tree's own namespace.
 * All of it happens here before anything is written to crest, with
 * every signal that can be blocked blocked: a crest killed meanwhile
 * (even by SIGKILL: a child does not die with its parent) leaves this
 * helper to put them back; only a SIGKILL of the helper itself between
 * the two loops would lose them (crest(8), LIMITATIONS).
 *
 * A notification registered (mq_notify) is saved on an empty queue, which
 * nothing is sent back into (ns-mqueue-notify.c). Refused by name: one on
 * a queue holding messages (sending the first back into the emptied queue
 * would fire it), one by SIGEV_THREAD (a netlink socket's), and a queue
 * whose messages can't go in one record.
 */
static int mq_put_back(mqd_t q, IpcMsg **msgs, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		const IpcMsg *m = msgs[k];
		struct timespec t;

		if (!mq_send(q, (char *)m->text.data, m->text.len, m->prio))
			continue;
		/* Full again: a sender outside the tree, woken by a receive. */
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_sec += 30;
		if (errno == EAGAIN) {
			struct mq_attr a;

			mq_getattr(q, &a);
			a.mq_flags = 0;
			mq_setattr(q, &a, NULL);
			if (!mq_timedsend(q, (char *)m->text.data, m->text.len, m->prio, &t))
				continue;
		}
		return -1;
	}
	return 0;
}

static int mq_read_one(int out, int dir, const char *dname)
{
	char name[NAME_MAX + 2], info[256] = "", *buf;
	unsigned long qsize = 0;
	int notify = 0, signo = 0, npid = 0, fd, ret = 0;
	IpcObjEntry o;
	struct mq_attr a;
	struct stat st;
	ssize_t len;
	mqd_t q;

	snprintf(name, sizeof(name), "/%s", dname);
	fd = openat(dir, dname, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || (len = read(fd, info, sizeof(info) - 1)) < 0) {
		send_text(out, 'e', "can't read POSIX message queue '%s': %s", name,
			  strerror(errno));
		return -1;
	}
	close(fd);
	info[len] = 0;
	if (sscanf(info, "QSIZE:%lu NOTIFY:%d SIGNO:%d NOTIFY_PID:%d",
		   &qsize, &notify, &signo, &npid) != 4) {
		send_text(out, 'e', "POSIX message queue '%s' shows '%s', which crest can't parse",
			  name, info);
		return -1;
	}
	if (npid && notify == SIGEV_THREAD) {
		send_text(out, 'r', "POSIX message queue '%s' (in an IPC namespace of its own) has a notification registered by process %d with SIGEV_THREAD (mq_notify through a netlink socket): not supported",
			  name, npid);
		return 0;
	}
	if (npid && notify != SIGEV_SIGNAL && notify != SIGEV_NONE) {
		send_text(out, 'r', "POSIX message queue '%s' has a notification registered by process %d of a kind crest does not know (NOTIFY:%d)",
			  name, npid, notify);
		return 0;
	}
	q = mq_open(name, O_RDWR | O_NONBLOCK);
	if (q == (mqd_t)-1 || mq_getattr(q, &a)) {
		send_text(out, 'e', "can't open POSIX message queue '%s': %s", name,
			  strerror(errno));
		return -1;
	}
	if (npid && a.mq_curmsgs) {
		send_text(out, 'r', "POSIX message queue '%s' (in an IPC namespace of its own) holds %ld messages and has a notification registered by process %d (mq_notify, signal %d): sending them back would fire it, not supported yet",
			  name, a.mq_curmsgs, npid, signo);
		mq_close(q);
		return 0;
	}
	if ((unsigned long long)a.mq_curmsgs * (a.mq_msgsize + 16) > SHM_MAX_DATA) {
		send_text(out, 'r', "POSIX message queue '%s' holds %ld messages of up to %ld bytes: crest saves at most %u bytes of one yet",
			  name, a.mq_curmsgs, a.mq_msgsize, SHM_MAX_DATA);
		mq_close(q);
		return 0;
	}
	ipc_obj_entry__init(&o);
	o.kind = IPC_OBJ_KIND__IPC_POSIX_MQ;
	o.uid = st.st_uid;
	o.gid = st.st_gid;
	o.mode = st.st_mode & 0777;
	o.name = name;
	o.has_maxmsg = o.has_msgsize = 1;
	o.maxmsg = a.mq_maxmsg;
	o.msgsize = a.mq_msgsize;
	/* Empty: nothing is sent back, the registration stays (ns-mqueue-notify.c). */
	if (npid) {
		o.has_notify = o.has_notify_signo = o.has_notify_pid = 1;
		o.notify = notify;
		o.notify_signo = signo;
		o.notify_pid = npid;
	}
	o.msgs = xzalloc((a.mq_curmsgs + 1) * sizeof(*o.msgs));
	buf = xzalloc(a.mq_msgsize + 1);
	for (long k = 0; k < a.mq_curmsgs; k++) {
		unsigned int prio;
		ssize_t n = mq_receive(q, buf, a.mq_msgsize, &prio);
		IpcMsg *m;

		if (n < 0)
			break;	/* EAGAIN: taken by someone else; the rest goes back */
		m = xzalloc(sizeof(*m));
		ipc_msg__init(m);
		m->has_prio = 1;
		m->prio = prio;
		m->text.len = n;
		m->text.data = xzalloc(n + 1);
		memcpy(m->text.data, buf, n);
		o.msgs[o.n_msgs++] = m;
	}
	if (mq_put_back(q, o.msgs, o.n_msgs)) {
		send_text(out, 'e', "can't put the messages of POSIX message queue '%s' back: %s",
			  name, strerror(errno));
		ret = -1;
	} else if (o.n_msgs != (size_t)a.mq_curmsgs) {
		send_text(out, 'e', "POSIX message queue '%s' held %ld messages, %zu could be read: something outside the tree takes them",
			  name, a.mq_curmsgs, o.n_msgs);
		ret = -1;
	}
	mq_close(q);
	if (!ret)
		ret = send_msg(out, &o.base);
	for (size_t k = 0; k < o.n_msgs; k++) {
		free(o.msgs[k]->text.data);
		free(o.msgs[k]);
	}
	free(o.msgs);
	free(buf);
	return ret;
}

static int ipc_posix_mq(int out)
{
	const char *at = "/tmp";
	sigset_t all;
	DIR *d;
	struct dirent *de;
	int ret = 0;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("mqueue", at, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) {
		send_text(out, 'e', "can't mount the mqueue filesystem of an IPC namespace: %s",
			  strerror(errno));
		return -1;
	}
	d = opendir(at);
	if (!d) {
		send_text(out, 'e', "can't list the mqueue filesystem: %s", strerror(errno));
		return -1;
	}
	while (!ret && (de = readdir(d)))
		if (de->d_name[0] != '.')
			ret = mq_read_one(out, dirfd(d), de->d_name);
	closedir(d);
	return ret;
}

IpcVar **ns_read_vars(const char *const *names, size_t nr, size_t *n_vars)
{
	IpcVar **vars = xzalloc((nr + 1) * sizeof(*vars));

	*n_vars = 0;
	for (size_t i = 0; i < nr; i++) {
		char path[128], *v;
		size_t n;

		snprintf(path, sizeof(path), "/proc/sys/%s", names[i]);
		v = read_file(path, NULL);
		if (!v)
			continue;	/* not on this kernel (no IPv6...) */
		n = strlen(v);
		while (n && (v[n - 1] == '\n' || v[n - 1] == ' '))
			v[--n] = 0;
		vars[*n_vars] = xzalloc(sizeof(**vars));
		ipc_var__init(vars[*n_vars]);
		vars[*n_vars]->name = (char *)names[i];
		vars[(*n_vars)++]->value = v;
	}
	return vars;
}

static bool same_sys(const char *name, const char *value)
{
	char path[128], *v;
	size_t n;
	bool same;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	v = read_file(path, NULL);
	if (!v)
		return false;
	n = strlen(v);
	while (n && (v[n - 1] == '\n' || v[n - 1] == ' '))
		v[--n] = 0;
	same = !strcmp(v, value);
	free(v);
	return same;
}

int ns_write_vars(IpcVar *const *vars, size_t n_vars, const char *const *names,
		  size_t nr, const char *what, uint32_t id)
{
	for (size_t i = 0; i < n_vars; i++) {
		bool known = false;

		for (size_t j = 0; j < nr; j++)
			known |= !strcmp(vars[i]->name, names[j]);
		if (!known) {
			pr_err("%s %u: '%s' is not a sysctl crest sets", what, id,
			       vars[i]->name);
			return -1;
		}
		/*
		 * As a new namespace has it already: not written (a value of
		 * ids, ping_group_range, may not be one the writer can name).
		 */
		if (same_sys(vars[i]->name, vars[i]->value))
			continue;
		if (ns_write_sys(vars[i]->name, vars[i]->value))
			return -1;
	}
	return 0;
}

static int ipc_helper(int out)
{
	IpcNsEntry e = IPC_NS_ENTRY__INIT;
	int ret;

	e.vars = ns_read_vars(ipc_vars, ARRAY_SIZE(ipc_vars), &e.n_vars);
	ret = send_msg(out, &e.base);
	if (ret || ipc_shm(out) || ipc_sem(out) || ipc_msq(out))
		return -1;
	/* Last: it leaves the helper in a mount namespace of its own. */
	return ipc_posix_mq(out);
}

/* ---------------------------------------------------------------- dump */

/*
 * A parasite waits on a pidfd of crest, opened by its PID: a task in a
 * PID namespace below crest's can't see crest. There it waits on a
 * watch instead: a child of crest made in that namespace (setns() of
 * crest's pid_for_children), which dies with crest (PR_SET_PDEATHSIG).
 * Its birth takes the next PID of the namespace: it says which, and the
 * namespace's last PID was the one before (saved as last_pid); it puts
 * that back as it goes, so a tree left running forks on as it would have.
 */
struct pid_watch {
	uint64_t ino;		/* the PID namespace */
	pid_t host, inside;	/* the watch's PIDs */
	int ctl;		/* a byte here: put last_pid back and exit */
};

static struct pid_watch *watches;
static int nr_watches;

static void watch_main(int rfd, int wfd)
{
	char buf[16];
	int n;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	n = snprintf(buf, sizeof(buf), "%d", getpid());
	if (write_all(wfd, buf, n))
		_exit(1);
	close(wfd);
	if (read(rfd, buf, 1) == 1) {
		int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);

		n = snprintf(buf, sizeof(buf), "%d", getpid() - 1);
		if (fd >= 0) {
			if (write(fd, buf, n) != n)
				_exit(1);
			close(fd);
		}
	}
	_exit(0);
}

static int watch_start(pid_t pid, uint64_t ino, NsEntry *e)
{
	char path[64], buf[16] = "";
	int nsfd, own, down[2], up[2];
	struct pid_watch w = { .ino = ino };

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", pid);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	own = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || own < 0 || pipe2(down, O_CLOEXEC) || pipe2(up, O_CLOEXEC)) {
		pr_perror("can't watch the PID namespace of process %d", pid);
		return -1;
	}
	if (setns(nsfd, CLONE_NEWPID)) {
		pr_perror("can't join the PID namespace of process %d", pid);
		return -1;
	}
	fflush(NULL);
	w.host = fork();
	if (w.host == 0) {
		close(down[1]);
		close(up[0]);
		/* The other watches' ends: each sees EOF when crest goes. */
		for (int i = 0; i < nr_watches; i++)
			close(watches[i].ctl);
		watch_main(down[0], up[1]);
	}
	if (setns(own, CLONE_NEWPID))
		pr_perror("can't go back to crest's PID namespace");
	close(nsfd);
	close(own);
	close(down[0]);
	close(up[1]);
	if (w.host < 0) {
		pr_perror("can't fork a watch");
		return -1;
	}
	if (read(up[0], buf, sizeof(buf) - 1) <= 0 || (w.inside = atoi(buf)) <= 1) {
		pr_err("the watch of the PID namespace of process %d said nothing", pid);
		close(up[0]);
		return -1;
	}
	close(up[0]);
	w.ctl = down[1];
	e->has_last_pid = 1;
	e->last_pid = w.inside - 1;
	watches = xrealloc(watches, (nr_watches + 1) * sizeof(w));
	watches[nr_watches++] = w;
	return 0;
}

pid_t ns_tracer_pid(pid_t pid)
{
	uint64_t ino = 0;
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", pid);
	if (!stat(path, &st))
		ino = st.st_ino;
	for (int i = 0; i < nr_watches; i++)
		if (watches[i].ino == ino)
			return watches[i].inside;
	return getpid();
}

void ns_dump_done(bool keep_counters)
{
	for (int i = 0; i < nr_watches; i++) {
		if (keep_counters && write(watches[i].ctl, "x", 1) != 1)
			pr_perror("can't tell a PID namespace watch to go");
		close(watches[i].ctl);
		if (!keep_counters)
			kill(watches[i].host, SIGKILL);
		while (waitpid(watches[i].host, NULL, 0) < 0 && errno == EINTR)
			;
	}
	free(watches);
	watches = NULL;
	nr_watches = 0;
}

static uint64_t ns_inode(pid_t pid, const char *name)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, name);
	if (stat(path, &st))
		return 0;
	return st.st_ino;
}

static int ns_add(struct ns_dump *nd, int i, struct pstree_item *it)
{
	NsEntry *e = xzalloc(sizeof(*e));
	int n = nd->nr;
	struct ns_reply r = {};

	ns_entry__init(e);
	e->kind = kinds[i].kind;
	e->id = n + 1;
	e->entered_by = it->pid;
	nd->ns = xrealloc(nd->ns, (n + 1) * sizeof(*nd->ns));
	nd->ino = xrealloc(nd->ino, (n + 1) * sizeof(*nd->ino));
	nd->uts = xrealloc(nd->uts, (n + 1) * sizeof(*nd->uts));
	nd->ipc = xrealloc(nd->ipc, (n + 1) * sizeof(*nd->ipc));
	nd->objs = xrealloc(nd->objs, (n + 1) * sizeof(*nd->objs));
	nd->nr_objs = xrealloc(nd->nr_objs, (n + 1) * sizeof(*nd->nr_objs));
	nd->mnt = xrealloc(nd->mnt, (n + 1) * sizeof(*nd->mnt));
	nd->mnt[n] = NULL;
	nd->net = xrealloc(nd->net, (n + 1) * sizeof(*nd->net));
	nd->net[n] = NULL;
	nd->time = xrealloc(nd->time, (n + 1) * sizeof(*nd->time));
	nd->time[n] = NULL;
	nd->user = xrealloc(nd->user, (n + 1) * sizeof(*nd->user));
	nd->user[n] = NULL;
	nd->ns[n] = e;
	nd->ino[n] = it->ns_ino[i];
	nd->uts[n] = NULL;
	nd->ipc[n] = NULL;
	nd->objs[n] = NULL;
	nd->nr_objs[n] = 0;
	nd->nr++;
	it->ns_id[i] = e->id;

	switch (i) {
	case NSI_PID:
		e->has_parent = e->has_level = 1;
		e->parent = it->parent ? it->parent->ns_id[NSI_PID] : 0;
		e->level = it->nr_ns_pids;
		return watch_start(it->live, it->ns_ino[i], e);
	case NSI_MNT:
		return mntns_collect(nd, n, it->live);
	case NSI_TIME:
		return timens_collect(nd, n, it->live);
	case NSI_USER:
		return userns_collect(nd, n, it->live);
	case NSI_NET:
		if (in_ns(it->live, i, netns_helper, &r))
			return -1;
		/* Nothing but refusals: the dump stops with them. */
		if (r.nr > 1 || (r.nr &&
		    !(nd->net[n] = unpack(&net_ns_entry__descriptor, &r.recs[0], it->pid))))
			goto bad;
		break;
	case NSI_UTS:
		if (in_ns(it->live, i, uts_helper, &r))
			return -1;
		if (r.nr != 1 ||
		    !(nd->uts[n] = unpack(&uts_ns_entry__descriptor, &r.recs[0], it->pid)))
			goto bad;
		break;
	case NSI_IPC:
		/* The limits first, then one record per object. */
		if (in_ns(it->live, i, ipc_helper, &r))
			return -1;
		if (!r.nr ||
		    !(nd->ipc[n] = unpack(&ipc_ns_entry__descriptor, &r.recs[0], it->pid)))
			goto bad;
		nd->objs[n] = xzalloc(r.nr * sizeof(*nd->objs[n]));
		for (int o = 1; o < r.nr; o++) {
			nd->objs[n][o - 1] = unpack(&ipc_obj_entry__descriptor,
						    &r.recs[o], it->pid);
			if (!nd->objs[n][o - 1])
				goto bad;
			nd->nr_objs[n]++;
		}
		break;
	}
	for (int o = 0; o < r.nr; o++)
		free(r.recs[o].data);
	free(r.recs);
	return 0;
bad:
	pr_err("can't read the %s of process %d", kinds[i].what, it->pid);
	return -1;
}

static int ns_find(const struct ns_dump *nd, NsKind kind, uint64_t ino)
{
	for (int k = 0; k < nd->nr; k++)
		if (nd->ns[k]->kind == kind && nd->ino[k] == ino)
			return k;
	return -1;
}

/* NSpid of /proc/PID/status: its PID at crest's level, then below. */
static int read_nspid(struct pstree_item *it)
{
	char path[64], *buf, *l;
	int n = 0;

	/* A zombie's status shows it too. */
	snprintf(path, sizeof(path), "/proc/%d/status", it->live ? it->live : it->pid);
	buf = read_file(path, NULL);
	if (!buf) {
		pr_perror("can't read '%s'", path);
		return -1;
	}
	l = strstr(buf, "\nNSpid:");
	it->nr_ns_pids = 0;
	if (l) {
		char *p = l + 7, *end;

		for (;;) {
			unsigned long v = strtoul(p, &end, 10);

			if (end == p)
				break;
			if (n++ && it->nr_ns_pids < NS_MAX_LEVEL)
				it->ns_pids[it->nr_ns_pids++] = v;
			else if (n > NS_MAX_LEVEL + 1)
				refuse(it->pid, "is in PID namespaces %d deep, crest goes %d deep",
				       n - 1, NS_MAX_LEVEL);
			p = end;
		}
	}
	free(buf);
	return 0;
}

/*
 * A PID namespace is entered by its init only: PID 1 in it, one level
 * below its parent's (crest's for a root). Each thread's TIDs there are
 * saved (NSpid of its task/TID/status); no fd of theirs has an owner
 * (F_SETOWN names a PID of the caller's level) yet.
 */
static bool pid_ns_ok(struct pstree_item *it, bool entered)
{
	int above = it->parent ? it->parent->nr_ns_pids : 0;
	bool ok = true;

	if (entered && (it->nr_ns_pids != above + 1 || it->ns_pids[it->nr_ns_pids - 1] != 1)) {
		refuse(it->pid, "is PID %u of a PID namespace it is not the init of: dump the namespace's init (PID 1 in it) and its tree",
		       it->nr_ns_pids ? it->ns_pids[it->nr_ns_pids - 1] : (uint32_t)it->pid);
		return false;
	}
	if (!it->nr_ns_pids)
		return true;
	if (it->zombie_leader) {
		refuse(it->pid, "is a process of a PID namespace of its tree whose main thread is gone, not supported yet");
		ok = false;
	}
	it->ns_tids = xzalloc((it->nr_threads * it->nr_ns_pids + 1) * sizeof(uint32_t));
	for (int t = 0; t < it->nr_threads; t++) {
		char path[64], *buf, *l;
		int n = 0;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/status", it->live, it->threads[t]);
		buf = read_file(path, NULL);
		l = buf ? strstr(buf, "\nNSpid:") : NULL;
		if (l) {
			char *p = l + 7, *end;

			strtoul(p, &end, 10);	/* crest's level */
			for (p = end; n < it->nr_ns_pids; n++, p = end) {
				unsigned long v = strtoul(p, &end, 10);

				if (end == p)
					break;
				it->ns_tids[t * it->nr_ns_pids + n] = v;
			}
		}
		free(buf);
		if (n != it->nr_ns_pids) {
			refuse(it->pid, "thread %d: its TIDs in the PID namespaces can't be read", it->threads[t]);
			ok = false;
		}
	}
	for (int j = 0; j < it->nr_fds; j++)
		if (it->fds[j]->fown && it->fds[j]->fown->pid) {
			refuse(it->pid, "fd %u has an owner (F_SETOWN %u) in a PID namespace of its tree, not supported yet",
			       it->fds[j]->fd, it->fds[j]->fown->pid);
			ok = false;
		}
	return ok;
}

/*
 * unshare(CLONE_NEWPID) leaves the caller where it is and puts its next
 * child in a new namespace, as init: pid_for_children shows it. It is
 * saved where that init is a child of the tree (it->pid_unshared); any
 * other is refused.
 */
static int pid_for_children(const struct ns_dump *nd, struct pstree *t)
{
	for (int k = 0; k < t->nr; k++) {
		struct pstree_item *it = t->items[k];
		uint64_t pfc;
		bool found = false;

		if (it->zombie)
			continue;
		pfc = ns_inode(it->live, "pid_for_children");
		if (!pfc || pfc == it->ns_ino[NSI_PID])
			continue;
		for (int c = 0; c < t->nr; c++) {
			struct pstree_item *ch = t->items[c];
			int at = ns_find(nd, NS_KIND__NS_PID, pfc);

			if (ch->parent == it && at >= 0 &&
			    nd->ns[at]->entered_by == (uint32_t)ch->pid)
				found = true;
		}
		if (found)
			it->pid_unshared = true;
		else
			refuse(it->pid, "its children go to PID namespace pid:[%llu] (pid_for_children: unshare(CLONE_NEWPID)) whose init is none of its children in the tree, not supported",
			       (unsigned long long)pfc);
	}
	return 0;
}

/*
 * A network, UTS or IPC namespace owned by a user namespace of the tree
 * (unshare --user --net) is made in it at restore; one of another kind
 * owned by one, or one owned by another, is refused.
 */
static void ns_owners(struct ns_dump *nd)
{
	uint64_t crest = ns_inode(getpid(), "user");

	for (int k = 0; k < nd->nr; k++) {
		NsEntry *e = nd->ns[k];
		uint64_t owner;
		int u, i;

		for (i = 0; i < NSI_NR && kinds[i].kind != e->kind; i++)
			;
		if (i == NSI_NR || i == NSI_USER)
			continue;
		owner = userns_owner_ino(e->entered_by, kinds[i].name);
		if (!owner || owner == crest)
			continue;
		u = ns_find(nd, NS_KIND__NS_USER, owner);
		if (u >= 0 && i != NSI_NET && i != NSI_UTS && i != NSI_IPC) {
			refuse(e->entered_by, "its %s is owned by the user namespace of process %u (made in it), not supported yet: crest would make it owned by its own",
			       kinds[i].what, nd->ns[u]->entered_by);
			continue;
		}
		if (u < 0) {
			refuse(e->entered_by, "its %s is owned by user namespace user:[%llu], neither crest's nor the tree's, not supported",
			       kinds[i].what, (unsigned long long)owner);
			continue;
		}
		e->has_owner = 1;
		e->owner = nd->ns[u]->id;
	}
}

/*
 * crest makes the inet and packet sockets of the tree in the network
 * namespace of the tree's first process (ns_enter_objects()): one of a
 * process in another would be made in the wrong one. A unix or netlink
 * socket is made in the namespace it was made in (net_ns of its entry),
 * whoever holds it.
 */
static void sockets_in_root_netns(const struct pstree *t)
{
	uint32_t root = t->items[0]->ns_id[NSI_NET];

	for (int k = 0; k < t->nr; k++) {
		const struct pstree_item *it = t->items[k];

		if (it->zombie || it->shares_files || it->ns_id[NSI_NET] == root)
			continue;
		for (int j = 0; j < it->nr_fds; j++) {
			FdKind kind = it->fds[j]->kind;

			if (kind == FD_KIND__FD_INET_SK || kind == FD_KIND__FD_PACKET_SK)
				refuse(it->pid, "fd %u is %s socket of a process in another network namespace than process %d's, the tree's first, not supported yet (only unix and netlink sockets are made again in several network namespaces of a tree)",
				       it->fds[j]->fd,
				       kind == FD_KIND__FD_INET_SK ? "an inet" : "a packet",
				       t->items[0]->pid);
		}
	}
}

/*
 * unshare(CLONE_NEWTIME) leaves the caller in its time namespace and
 * puts its children (and itself after an execve) in a new one, whose
 * offsets can still be set: not saved.
 */
static int time_for_children(const struct ns_dump *nd, struct pstree *t)
{
	for (int k = 0; k < t->nr; k++) {
		struct pstree_item *it = t->items[k];
		int at;
		uint64_t tfc;

		if (it->zombie)
			continue;
		tfc = ns_inode(it->live, "time_for_children");
		if (!tfc || tfc == it->ns_ino[NSI_TIME])
			continue;
		/* unshare --time --fork: its child is in it, entered it. */
		at = ns_find(nd, NS_KIND__NS_TIME, tfc);
		for (int c = 0; c < t->nr && at >= 0; c++)
			if (t->items[c]->parent == it &&
			    nd->ns[at]->entered_by == (uint32_t)t->items[c]->pid)
				it->time_unshared = true;
		if (!it->time_unshared)
			refuse(it->pid, "its children go to time namespace time:[%llu] (time_for_children: unshare(CLONE_NEWTIME)) that none of its children in the tree is in, not supported",
			       (unsigned long long)tfc);
	}
	return 0;
}

/*
 * A segment of crest's own IPC namespace that process pid attaches,
 * read here (crest is in that namespace): NULL and a refusal for what
 * can't be saved, as ipc_shm() says it for a namespace of the tree.
 */
static IpcObjEntry *host_shm_read(pid_t pid, const VmaEntry *v)
{
	IpcObjEntry *o = xzalloc(sizeof(*o));
	struct shmid_ds ds;
	uint32_t dev = 0;
	unsigned char *at;
	size_t n;

	if (shmctl(v->sysv_shm_id, IPC_STAT, &ds) < 0) {
		refuse(pid, "mapping %llx-%llx is System V shared memory segment %d, which crest can't see in its IPC namespace (%s)",
		       (unsigned long long)v->start, (unsigned long long)v->end, v->sysv_shm_id,
		       strerror(errno));
		goto no;
	}
	if (ds.shm_perm.mode & ~(07777u | SHM_DEST | SHM_LOCKED) ||
	    ds.shm_perm.cuid != ds.shm_perm.uid || ds.shm_perm.cgid != ds.shm_perm.gid) {
		refuse(pid, "System V shared memory segment %d (key %#x) has mode %#o, creator %u:%u and owner %u:%u: flags crest does not know, or a creator not its owner, not supported yet",
		       v->sysv_shm_id, ds.shm_perm.__key, ds.shm_perm.mode, ds.shm_perm.cuid,
		       ds.shm_perm.cgid, ds.shm_perm.uid, ds.shm_perm.gid);
		goto no;
	}
	obj_perm(o, IPC_OBJ_KIND__IPC_SHM, v->sysv_shm_id, &ds.shm_perm);
	o->has_size = 1;
	o->size = ds.shm_segsz;
	o->has_nattch = 1;
	o->nattch = ds.shm_nattch;	/* before our own attach */
	o->has_removed = o->removed = !!(ds.shm_perm.mode & SHM_DEST);
	o->has_locked = o->locked = !!(ds.shm_perm.mode & SHM_LOCKED);
	at = shmat(v->sysv_shm_id, NULL, SHM_RDONLY);
	if (at == (void *)-1) {
		refuse(pid, "mapping %llx-%llx is System V shared memory segment %d, which crest can't attach to read (%s)",
		       (unsigned long long)v->start, (unsigned long long)v->end, v->sysv_shm_id,
		       strerror(errno));
		goto no;
	}
	if (shm_dev_of(at, &dev) || dev != v->sysv_shm_dev) {
		refuse(pid, "mapping %llx-%llx is System V shared memory segment %d of another IPC namespace than its own, crest's (attached before a setns()?), not supported",
		       (unsigned long long)v->start, (unsigned long long)v->end, v->sysv_shm_id);
		shmdt(at);
		goto no;
	}
	for (n = ds.shm_segsz; n && !at[n - 1]; n--)
		;
	if (n > SHM_MAX_DATA) {
		refuse(pid, "System V shared memory segment %d (key %#x) holds %zu bytes: crest saves at most %u yet",
		       v->sysv_shm_id, ds.shm_perm.__key, n, SHM_MAX_DATA);
		shmdt(at);
		goto no;
	}
	o->has_shm_dev = 1;
	o->shm_dev = dev;
	o->has_data = 1;
	o->data.len = n;
	o->data.data = xzalloc(n + 1);
	memcpy(o->data.data, at, n);
	shmdt(at);
	return o;
no:
	free(o);
	return NULL;
}

/*
 * Every shmat()'ed segment (VMA_SYSV_SHM) is one of an IPC namespace
 * crest saves, and all its attaches are the tree's: the kernel counts
 * one in shm_nattch per mapping (a split one counts twice, as it shows
 * twice in maps), so the tree's mappings must make the count up. Each
 * mapping learns the segment's size, for the restorer.
 */
static void sysv_shm_check(struct ns_dump *nd, struct pstree *t)
{
	uint32_t **seen = xzalloc((nd->nr + 1) * sizeof(*seen)), *host_seen = NULL;
	pid_t *host_pid = NULL;

	for (int k = 0; k < nd->nr; k++)
		seen[k] = xzalloc((nd->nr_objs[k] + 1) * sizeof(**seen));
	for (int i = 0; i < t->nr; i++) {
		struct pstree_item *it = t->items[i];
		uint32_t ns = it->ns_id[NSI_IPC];

		for (int m = 0; !it->zombie && m < it->mem.nr_vmas; m++) {
			VmaEntry *v = it->mem.vmas[m];
			int o;

			if (v->kind != VMA_KIND__VMA_SYSV_SHM)
				continue;
			if (!ns) {
				/* Of the machine's namespace: read here, once. */
				for (o = 0; o < nd->nr_host_shm; o++)
					if (nd->host_shm[o]->id == v->sysv_shm_id &&
					    nd->host_shm[o]->shm_dev == v->sysv_shm_dev)
						break;
				if (o == nd->nr_host_shm) {
					IpcObjEntry *e = host_shm_read(it->pid, v);

					if (!e)
						continue;
					nd->host_shm = xrealloc(nd->host_shm,
								(o + 1) * sizeof(*nd->host_shm));
					nd->host_shm[nd->nr_host_shm++] = e;
					host_seen = xrealloc(host_seen, (o + 1) * sizeof(*host_seen));
					host_seen[o] = 0;
					host_pid = xrealloc(host_pid, (o + 1) * sizeof(*host_pid));
					host_pid[o] = it->pid;
				}
				v->has_sysv_shm_size = 1;
				v->sysv_shm_size = nd->host_shm[o]->size;
				host_seen[o]++;
				continue;
			}
			for (o = 0; o < nd->nr_objs[ns - 1]; o++)
				if (nd->objs[ns - 1][o]->kind == IPC_OBJ_KIND__IPC_SHM &&
				    nd->objs[ns - 1][o]->id == v->sysv_shm_id &&
				    nd->objs[ns - 1][o]->has_shm_dev &&
				    nd->objs[ns - 1][o]->shm_dev == v->sysv_shm_dev)
					break;
			if (o == nd->nr_objs[ns - 1]) {
				refuse(it->pid, "mapping %llx-%llx is System V shared memory segment %d (shm device %u:%u), which crest does not save: not one of its IPC namespace's (attached in another before an unshare()?), refused above, or removed with IPC_RMID while attached",
				       (unsigned long long)v->start, (unsigned long long)v->end,
				       v->sysv_shm_id, major(v->sysv_shm_dev), minor(v->sysv_shm_dev));
				continue;
			}
			v->has_sysv_shm_size = 1;
			v->sysv_shm_size = nd->objs[ns - 1][o]->size;
			seen[ns - 1][o]++;
		}
	}
	for (int k = 0; k < nd->nr; k++) {
		for (int o = 0; o < nd->nr_objs[k]; o++) {
			const IpcObjEntry *e = nd->objs[k][o];

			if (e->kind == IPC_OBJ_KIND__IPC_SHM && e->has_nattch &&
			    e->nattch != seen[k][o])
				refuse(nd->ns[k]->entered_by, "System V shared memory segment %d (key %#x) of its IPC namespace is attached %u time%s, %u of them by the tree's mappings: a process outside the tree attaches it, not supported",
				       e->id, (unsigned)e->key, e->nattch, e->nattch == 1 ? "" : "s",
				       seen[k][o]);
		}
		free(seen[k]);
	}
	free(seen);
	for (int o = 0; o < nd->nr_host_shm; o++) {
		const IpcObjEntry *e = nd->host_shm[o];

		if (e->nattch != host_seen[o])
			refuse(host_pid[o], "System V shared memory segment %d (key %#x) of crest's IPC namespace, the machine's, is attached %u time%s, %u of them by the tree's mappings: a process outside the tree attaches it, not supported",
			       e->id, (unsigned)e->key, e->nattch, e->nattch == 1 ? "" : "s",
			       host_seen[o]);
	}
	free(host_seen);
	free(host_pid);
}

int ns_collect(struct ns_dump *nd, struct pstree *t)
{
	for (int k = 0; k < t->nr; k++)
		if (read_nspid(t->items[k]))
			return -1;
	for (int i = 0; i < NSI_NR; i++) {
		uint64_t crest;

		if (!kinds[i].name)
			continue;	/* not handled yet: unsaved.c refuses it */
		crest = ns_inode(getpid(), kinds[i].name);
		if (!crest) {
			pr_perror("can't stat /proc/self/ns/%s", kinds[i].name);
			return -1;
		}
		for (int k = 0; k < t->nr; k++) {
			struct pstree_item *it = t->items[k], *p = it->parent;
			uint64_t above = p ? p->ns_ino[i] : crest;
			int found;

			if (it->zombie) {
				/* Its namespaces are gone with it: its parent's. */
				it->ns_ino[i] = above;
				it->ns_id[i] = p ? p->ns_id[i] : 0;
				if (i == NSI_PID && it->nr_ns_pids != (p ? p->nr_ns_pids : 0))
					refuse(it->pid, "is a zombie in a PID namespace of its own (its init is dead), not supported");
				continue;
			}
			it->ns_ino[i] = ns_inode(it->live, kinds[i].name);
			if (!it->ns_ino[i]) {
				pr_perror("can't stat /proc/%d/ns/%s", it->live, kinds[i].name);
				return -1;
			}
			if (it->ns_ino[i] == above) {
				it->ns_id[i] = p ? p->ns_id[i] : 0;
				if (i == NSI_PID)
					pid_ns_ok(it, false);
				continue;
			}
			if (it->ns_ino[i] == crest) {
				refuse(it->pid, "is in crest's own %s, its parent %d in another (setns() back?), not supported",
				       kinds[i].what, p->pid);
				continue;
			}
			found = ns_find(nd, kinds[i].kind, it->ns_ino[i]);
			if (found >= 0) {
				refuse(it->pid, "is in the %s that process %d entered (%s:[%llu]): a namespace entered by two processes of the tree on their own is not supported",
				       kinds[i].what, nd->ns[found]->entered_by, kinds[i].name,
				       (unsigned long long)it->ns_ino[i]);
				continue;
			}
			if (i == NSI_PID && !pid_ns_ok(it, true))
				continue;
			if (ns_add(nd, i, it))
				return -1;
		}
	}
	for (int k = 0; k < t->nr; k++)
		if (t->items[k]->ns_id[NSI_MNT] && !t->items[k]->zombie &&
		    mntns_check_task(nd, t->items[k]->ns_id[NSI_MNT] - 1, t->items[k]))
			return -1;
	for (int k = 0; k < t->nr; k++)
		if (t->items[k]->ns_id[NSI_USER] && !t->items[k]->zombie &&
		    userns_check_task(nd, t->items[k]->ns_id[NSI_USER] - 1, t->items[k]))
			return -1;
	ns_owners(nd);
	mq_notify_collect(nd, t);
	sysv_shm_check(nd, t);
	sockets_in_root_netns(t);
	if (time_for_children(nd, t))
		return -1;
	return pid_for_children(nd, t);
}

int ns_net_id(const struct ns_dump *nd, uint64_t ino, uint32_t *id)
{
	int k = ns_find(nd, NS_KIND__NS_NET, ino);

	if (k >= 0) {
		*id = nd->ns[k]->id;
		return 0;
	}
	if (ino == ns_inode(getpid(), "net")) {
		*id = 0;
		return 0;
	}
	pr_err("net:[%llu] is neither a network namespace of the tree nor crest's",
	       (unsigned long long)ino);
	return -1;
}

void ns_fill_pstree(const struct pstree_item *it, PstreeEntry *pe)
{
	pe->has_uts_ns = !!it->ns_id[NSI_UTS];
	pe->uts_ns = it->ns_id[NSI_UTS];
	pe->has_ipc_ns = !!it->ns_id[NSI_IPC];
	pe->ipc_ns = it->ns_id[NSI_IPC];
	pe->has_pid_ns = !!it->ns_id[NSI_PID];
	pe->pid_ns = it->ns_id[NSI_PID];
	pe->has_mnt_ns = !!it->ns_id[NSI_MNT];
	pe->mnt_ns = it->ns_id[NSI_MNT];
	pe->has_net_ns = !!it->ns_id[NSI_NET];
	pe->net_ns = it->ns_id[NSI_NET];
	pe->has_time_ns = !!it->ns_id[NSI_TIME];
	pe->time_ns = it->ns_id[NSI_TIME];
	pe->has_user_ns = !!it->ns_id[NSI_USER];
	pe->user_ns = it->ns_id[NSI_USER];
	pe->n_ns_pids = it->nr_ns_pids;
	pe->ns_pids = (uint32_t *)it->ns_pids;
	pe->has_pid_unshared = pe->pid_unshared = it->pid_unshared;
	pe->has_time_unshared = pe->time_unshared = it->time_unshared;
	pe->n_ns_tids = it->ns_tids ? it->nr_threads * it->nr_ns_pids : 0;
	pe->ns_tids = it->ns_tids;
}

int ns_write(const struct ns_dump *nd, struct img_dir *d)
{
	struct image *img = img_create(d, IMG_NAMESPACES, 0);

	if (!img)
		return -1;
	for (int k = 0; k < nd->nr; k++)
		if (img_write_msg(img, &nd->ns[k]->base))
			return -1;
	if (nd->nr_host_shm) {
		/* Id 0: crest's own namespace (those of the tree are 1...). */
		img = img_create(d, IMG_IPCOBJS, 0);
		if (!img)
			return -1;
		for (int o = 0; o < nd->nr_host_shm; o++)
			if (img_write_msg(img, &nd->host_shm[o]->base))
				return -1;
	}
	for (int k = 0; k < nd->nr; k++) {
		const NsEntry *e = nd->ns[k];

		if (nd->uts[k]) {
			img = img_create(d, IMG_UTSNS, e->id);
			if (!img || img_write_msg(img, &nd->uts[k]->base))
				return -1;
		}
		if (nd->mnt[k] && mntns_write(nd, k, d))
			return -1;
		if (nd->net[k]) {
			img = img_create(d, IMG_NETNS, e->id);
			if (!img || img_write_msg(img, &nd->net[k]->base))
				return -1;
		}
		if (nd->time[k]) {
			img = img_create(d, IMG_TIMENS, e->id);
			if (!img || img_write_msg(img, &nd->time[k]->base))
				return -1;
		}
		if (nd->user[k]) {
			img = img_create(d, IMG_USERNS, e->id);
			if (!img || img_write_msg(img, &nd->user[k]->base))
				return -1;
		}
		if (nd->ipc[k]) {
			img = img_create(d, IMG_IPCNS, e->id);
			if (!img || img_write_msg(img, &nd->ipc[k]->base))
				return -1;
			img = img_create(d, IMG_IPCOBJS, e->id);
			if (!img)
				return -1;
			for (int o = 0; o < nd->nr_objs[k]; o++)
				if (img_write_msg(img, &nd->objs[k][o]->base))
					return -1;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- restore */

static const NsEntry *ns_by_id(const struct ns_restore *nr, uint32_t id, int *at)
{
	if (!id || id > (uint32_t)nr->nr)
		return NULL;
	if (at)
		*at = id - 1;
	return nr->ns[id - 1];
}

int ns_read(struct ns_restore *nr, struct img_dir *d)
{
	struct image *img;
	const struct ext_mnt *ext = nr->ext;	/* the caller's, set before */
	int nr_ext = nr->nr_ext;
	bool evasive = nr->evasive;
	const char *root = nr->root;
	void *msg;
	int ret;

	memset(nr, 0, sizeof(*nr));
	nr->own_net = -1;
	nr->ext = ext;
	nr->nr_ext = nr_ext;
	nr->evasive = evasive;
	nr->root = root;
	if (!faccessat(d->dirfd, "ipcobjs-0.img", F_OK, AT_SYMLINK_NOFOLLOW)) {
		img = img_open(d, IMG_IPCOBJS, 0);
		if (!img)
			return -1;
		while ((ret = img_read_msg(img, &msg)) > 0) {
			IpcObjEntry *o = msg;

			if (o->kind != IPC_OBJ_KIND__IPC_SHM || !o->has_size) {
				pr_err("%s: an object of crest's IPC namespace is not a System V segment",
				       img->path);
				img_close(img);
				return -1;
			}
			nr->host_shm = xrealloc(nr->host_shm, (nr->nr_host_shm + 1) * sizeof(o));
			nr->host_shm[nr->nr_host_shm++] = o;
		}
		img_close(img);
		if (ret < 0)
			return -1;
		nr->host_made = xzalloc((nr->nr_host_shm + 1) * sizeof(*nr->host_made));
	}
	/* Images of a crest before namespaces: none but crest's own. */
	if (faccessat(d->dirfd, img_descs[IMG_NAMESPACES].name, F_OK, 0))
		return 0;
	img = img_open(d, IMG_NAMESPACES, 0);
	if (!img)
		return -1;
	while ((ret = img_read_msg(img, &msg)) > 0) {
		NsEntry *e = msg;

		if (e->id != (uint32_t)nr->nr + 1) {
			pr_err("%s: namespace %u out of order (want %d)", img->path,
			       e->id, nr->nr + 1);
			img_close(img);
			return -1;
		}
		nr->ns = xrealloc(nr->ns, (nr->nr + 1) * sizeof(e));
		nr->ns[nr->nr++] = e;
	}
	img_close(img);
	if (ret < 0)
		return -1;
	nr->uts = xzalloc((nr->nr + 1) * sizeof(*nr->uts));
	nr->ipc = xzalloc((nr->nr + 1) * sizeof(*nr->ipc));
	nr->objs = xzalloc((nr->nr + 1) * sizeof(*nr->objs));
	nr->nr_objs = xzalloc((nr->nr + 1) * sizeof(*nr->nr_objs));
	nr->mnt = xzalloc((nr->nr + 1) * sizeof(*nr->mnt));
	nr->net = xzalloc((nr->nr + 1) * sizeof(*nr->net));
	nr->time = xzalloc((nr->nr + 1) * sizeof(*nr->time));
	nr->user = xzalloc((nr->nr + 1) * sizeof(*nr->user));
	nr->fd = xzalloc((nr->nr + 1) * sizeof(*nr->fd));
	for (int k = 0; k < nr->nr; k++)
		nr->fd[k] = -1;
	for (int k = 0; k < nr->nr; k++) {
		const NsEntry *e = nr->ns[k];

		switch (e->kind) {
		case NS_KIND__NS_UTS:
			nr->uts[k] = img_read_one(d, IMG_UTSNS, e->id);
			if (!nr->uts[k])
				return -1;
			break;
		case NS_KIND__NS_IPC:
			nr->ipc[k] = img_read_one(d, IMG_IPCNS, e->id);
			if (!nr->ipc[k])
				return -1;
			img = img_open(d, IMG_IPCOBJS, e->id);
			if (!img)
				return -1;
			while ((ret = img_read_msg(img, &msg)) > 0) {
				nr->objs[k] = xrealloc(nr->objs[k],
						       (nr->nr_objs[k] + 1) * sizeof(msg));
				nr->objs[k][nr->nr_objs[k]++] = msg;
			}
			img_close(img);
			if (ret < 0)
				return -1;
			break;
		case NS_KIND__NS_MNT:
			if (mntns_read(nr, k, d))
				return -1;
			break;
		case NS_KIND__NS_NET:
			nr->net[k] = img_read_one(d, IMG_NETNS, e->id);
			if (!nr->net[k])
				return -1;
			break;
		case NS_KIND__NS_TIME:
			nr->time[k] = img_read_one(d, IMG_TIMENS, e->id);
			if (!nr->time[k])
				return -1;
			break;
		case NS_KIND__NS_USER:
			nr->user[k] = img_read_one(d, IMG_USERNS, e->id);
			if (!nr->user[k])
				return -1;
			break;
		case NS_KIND__NS_PID:
			if (!e->has_level || !e->level || e->level > NS_MAX_LEVEL ||
			    (e->parent && (e->parent >= e->id ||
					   nr->ns[e->parent - 1]->kind != NS_KIND__NS_PID))) {
				pr_err("%s: PID namespace %u has a bad level or parent",
				       img_descs[IMG_NAMESPACES].name, e->id);
				return -1;
			}
			break;
		default:
			pr_err("%s: namespace %u is of a kind this crest does not restore (%d)",
			       img_descs[IMG_NAMESPACES].name, e->id, e->kind);
			return -1;
		}
	}
	return 0;
}

static uint32_t pe_ns(const PstreeEntry *pe, int i)
{
	switch (i) {
	case NSI_UTS: return pe->uts_ns;
	case NSI_IPC: return pe->ipc_ns;
	case NSI_PID: return pe->pid_ns;
	case NSI_MNT: return pe->mnt_ns;
	case NSI_NET: return pe->net_ns;
	case NSI_TIME: return pe->time_ns;
	case NSI_USER: return pe->user_ns;
	}
	return 0;
}

int ns_sysv_shm_size(const struct ns_restore *nr, uint32_t ipc_ns, int32_t id, uint64_t *size)
{
	int k;
	const NsEntry *e = ns_by_id(nr, ipc_ns, &k);

	for (int i = 0; !ipc_ns && i < nr->nr_host_shm; i++)
		if (nr->host_shm[i]->id == id) {
			*size = nr->host_shm[i]->size;
			return 0;
		}
	if (!e || e->kind != NS_KIND__NS_IPC)
		return -1;
	for (int i = 0; i < nr->nr_objs[k]; i++) {
		const IpcObjEntry *o = nr->objs[k][i];

		if (o->kind == IPC_OBJ_KIND__IPC_SHM && o->id == id && o->has_size) {
			*size = o->size;
			return 0;
		}
	}
	return -1;
}

int ns_sysv_remove(const struct ns_restore *nr, const PstreeEntry *pe, pid_t pid)
{
	const NsEntry *e = ns_by_id(nr, pe->has_ipc_ns ? pe->ipc_ns : 0, NULL);
	int k = e ? (int)e->id - 1 : -1, n = 0, fd, status;
	char path[64];
	pid_t h;

	if (!e || e->kind != NS_KIND__NS_IPC || e->entered_by != pe->pid)
		return 0;
	for (int i = 0; i < nr->nr_objs[k]; i++)
		n += nr->objs[k][i]->kind == IPC_OBJ_KIND__IPC_SHM && nr->objs[k][i]->removed;
	if (!n)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/ipc", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("can't open %s", path);
		return -1;
	}
	/* A child of ours does it there: crest stays in its own namespace. */
	h = fork();
	if (h < 0) {
		pr_perror("can't fork");
		close(fd);
		return -1;
	}
	if (!h) {
		int bad = setns(fd, CLONE_NEWIPC) ? 1 : 0;

		for (int i = 0; !bad && i < nr->nr_objs[k]; i++) {
			const IpcObjEntry *o = nr->objs[k][i];

			if (o->kind == IPC_OBJ_KIND__IPC_SHM && o->removed &&
			    shmctl(o->id, IPC_RMID, NULL) < 0)
				bad = 2 + i;
		}
		_exit(bad ? 1 : 0);
	}
	close(fd);
	if (waitpid(h, &status, 0) != h || !WIFEXITED(status) || WEXITSTATUS(status)) {
		pr_err("can't remove again the System V segments of IPC namespace %u that were removed while attached (IPC_RMID)",
		       e->id);
		return -1;
	}
	pr_debug("IPC namespace %u: %d segment%s removed again, still attached", e->id, n,
		 n == 1 ? "" : "s");
	return 0;
}

static int next_id(const char *kind, int id);

/* Its bytes, the rest zeros: as at the dump. */
static int shm_fill(const IpcObjEntry *o)
{
	unsigned char *at;

	if (o->has_data && o->data.len > o->size) {
		pr_err("System V shared memory segment %d: %zu bytes saved for %llu", o->id,
		       o->data.len, (unsigned long long)o->size);
		return -1;
	}
	at = shmat(o->id, NULL, 0);
	if (at == (void *)-1) {
		pr_perror("can't attach System V shared memory segment %d", o->id);
		return -1;
	}
	if (o->has_data)
		memcpy(at, o->data.data, o->data.len);
	memset(at + (o->has_data ? o->data.len : 0), 0,
	       o->size - (o->has_data ? o->data.len : 0));
	shmdt(at);
	return 0;
}

int ns_host_shm_prepare(const struct ns_restore *nr)
{
	for (int i = 0; i < nr->nr_host_shm; i++) {
		const IpcObjEntry *o = nr->host_shm[i];
		struct shmid_ds ds;
		int id;

		if (shmctl(o->id, IPC_STAT, &ds) == 0) {
			if (ds.shm_perm.__key != o->key || ds.shm_segsz != o->size ||
			    ds.shm_perm.uid != o->uid || ds.shm_perm.gid != o->gid ||
			    (ds.shm_perm.mode & 0777) != o->mode || (ds.shm_perm.mode & SHM_DEST)) {
				pr_err("System V shared memory segment %d of this machine is not the one dumped (key %#x, %llu bytes, owner %u:%u, mode %#o; now key %#x, %zu bytes, owner %u:%u, mode %#o): remove it (ipcrm -m %d) or restore where it is free",
				       o->id, o->key, (unsigned long long)o->size, o->uid, o->gid,
				       o->mode, ds.shm_perm.__key, (size_t)ds.shm_segsz,
				       ds.shm_perm.uid, ds.shm_perm.gid, ds.shm_perm.mode, o->id);
				return -1;
			}
			if (ds.shm_nattch) {
				pr_err("System V shared memory segment %d (key %#x) is attached by %lu process%s now: the restored tree would share it with them; end them first",
				       o->id, o->key, (unsigned long)ds.shm_nattch,
				       ds.shm_nattch == 1 ? "" : "es");
				return -1;
			}
			pr_debug("System V shared memory segment %d (key %#x) is still there: refilled",
				 o->id, o->key);
		} else {
			if (o->key != IPC_PRIVATE && (id = shmget(o->key, 0, 0)) >= 0) {
				pr_err("System V shared memory key %#x is segment %d on this machine, not %d as dumped: remove it (ipcrm -m %d) or restore where it is free",
				       o->key, id, o->id, id);
				return -1;
			}
			if (next_id("shm", o->id))
				return -1;
			id = shmget(o->key, o->size, IPC_CREAT | IPC_EXCL | (o->mode & 0777));
			if (id < 0) {
				pr_perror("can't make System V shared memory segment %d (key %#x, %llu bytes)",
					  o->id, o->key, (unsigned long long)o->size);
				return -1;
			}
			nr->host_made[i] = true;
			if (id != o->id) {
				pr_err("System V shared memory segment %d came back as %d (another made one meanwhile?)",
				       o->id, id);
				shmctl(id, IPC_RMID, NULL);
				nr->host_made[i] = false;
				return -1;
			}
			if (shmctl(id, IPC_STAT, &ds) < 0)
				return -1;
			ds.shm_perm.uid = o->uid;
			ds.shm_perm.gid = o->gid;
			ds.shm_perm.mode = o->mode;
			if (shmctl(id, IPC_SET, &ds) < 0) {
				pr_perror("can't give System V shared memory segment %d its owner", id);
				return -1;
			}
		}
		if (shm_fill(o))
			return -1;
		if (shmctl(o->id, o->locked ? SHM_LOCK : SHM_UNLOCK, NULL) < 0) {
			pr_perror("can't %s System V shared memory segment %d",
				  o->locked ? "lock" : "unlock", o->id);
			return -1;
		}
	}
	return 0;
}

void ns_host_shm_undo(const struct ns_restore *nr)
{
	for (int i = 0; nr->host_made && i < nr->nr_host_shm; i++)
		if (nr->host_made[i] && shmctl(nr->host_shm[i]->id, IPC_RMID, NULL) < 0)
			pr_perror("can't remove System V shared memory segment %d, made for the restore",
				  nr->host_shm[i]->id);
}

int ns_host_shm_finish(const struct ns_restore *nr)
{
	for (int i = 0; i < nr->nr_host_shm; i++) {
		if (nr->host_shm[i]->removed && shmctl(nr->host_shm[i]->id, IPC_RMID, NULL) < 0) {
			pr_perror("can't remove System V shared memory segment %d again",
				  nr->host_shm[i]->id);
			return -1;
		}
		/* Attached by the tree now: theirs, whatever happens next. */
		nr->host_made[i] = false;
	}
	return 0;
}

int ns_check(const struct ns_restore *nr, PstreeEntry **pes, int nr_pes)
{
	for (int i = 0; i < nr_pes; i++)
		for (int k = 0; k < NSI_NR; k++) {
			uint32_t id = pe_ns(pes[i], k);
			const NsEntry *e = ns_by_id(nr, id, NULL);

			if (id && (!e || e->kind != kinds[k].kind)) {
				pr_err("%s: process %u is in %s %u, which is not in %s",
				       img_descs[IMG_PSTREE].name, pes[i]->pid,
				       kinds[k].what, id, img_descs[IMG_NAMESPACES].name);
				return -1;
			}
		}
	for (int i = 0; i < nr_pes; i++) {
		const NsEntry *e = ns_by_id(nr, pes[i]->pid_ns, NULL);
		size_t level = e ? e->level : 0;

		if (pes[i]->n_ns_pids != level ||
		    (e && e->entered_by == pes[i]->pid &&
		     pes[i]->ns_pids[level - 1] != 1)) {
			pr_err("%s: process %u has %zu PIDs below crest's level in PID namespace %u of level %zu",
			       img_descs[IMG_PSTREE].name, pes[i]->pid, pes[i]->n_ns_pids,
			       pes[i]->pid_ns, level);
			return -1;
		}
	}
	for (int k = 0; k < nr->nr; k++) {
		const NsEntry *e = nr->ns[k];
		bool ok = false;

		for (int i = 0; i < nr_pes; i++)
			if (pes[i]->pid == e->entered_by)
				ok = true;
		if (!ok) {
			pr_err("%s: namespace %u is entered by process %u, which is not in the checkpoint",
			       img_descs[IMG_NAMESPACES].name, e->id, e->entered_by);
			return -1;
		}
	}
	return 0;
}

static bool enters(const struct ns_restore *nr, const PstreeEntry *pe, int i)
{
	const NsEntry *e = ns_by_id(nr, pe_ns(pe, i), NULL);

	return e && e->entered_by == pe->pid;
}

/* Owned by a user namespace of the tree: made by ns_prepare(), joined. */
static bool owned(const struct ns_restore *nr, const PstreeEntry *pe, int i)
{
	const NsEntry *e = ns_by_id(nr, pe_ns(pe, i), NULL);

	return e && e->has_owner && e->owner;
}

int ns_thread_set_tid(const PstreeEntry *pe, pid_t tid, bool with_pid, int32_t *set_tid)
{
	size_t m = pe->n_ns_pids, n = 0;

	for (size_t k = 0; m && k < pe->n_threads; k++) {
		if ((pid_t)pe->threads[k] != tid)
			continue;
		if ((k + 1) * m > pe->n_ns_tids)
			return -1;
		for (size_t j = 0; j < m; j++)
			set_tid[n++] = pe->ns_tids[k * m + m - 1 - j];
		if (with_pid)
			set_tid[n++] = tid;
		return n;
	}
	return m ? -1 : 0;
}

bool ns_enters_pid(const struct ns_restore *nr, const PstreeEntry *pe)
{
	return enters(nr, pe, NSI_PID);
}

bool ns_enters_ipc(const struct ns_restore *nr, const PstreeEntry *pe)
{
	return enters(nr, pe, NSI_IPC);
}

/*
 * set_tid names a PID at each level from the child's own (set_tid[0])
 * up: every level below crest's always (each namespace there is new,
 * every PID in it free), crest's own with with_pid. The kernel takes
 * levels above the caller's too (CAP_SYS_ADMIN over each), so a task
 * inside makes its children with their host PIDs as well.
 */
void ns_clone_for(const struct ns_restore *nr, const PstreeEntry *pe,
		  const PstreeEntry *parent, bool with_pid, struct ns_clone *nc)
{
	uint32_t m = pe->n_ns_pids;

	memset(nc, 0, sizeof(*nc));
	for (int i = 0; i < NSI_NR; i++)
		if (enters(nr, pe, i) && !kinds[i].by_setns && !owned(nr, pe, i))
			nc->flags |= kinds[i].flag;
	/* A rooted mount namespace is crest's holder's: joined at last. */
	if (enters(nr, pe, NSI_MNT) && ns_mnt_fd(nr, pe) >= 0)
		nc->flags &= ~(uint64_t)CLONE_NEWNS;
	/* Its parent unshare()d for it: it is born in pid_for_children. */
	if (parent && parent->pid_unshared && enters(nr, pe, NSI_PID))
		nc->flags &= ~(uint64_t)CLONE_NEWPID;
	for (uint32_t j = 0; j < m; j++)
		nc->set_tid[j] = pe->ns_pids[m - 1 - j];
	nc->nr_set_tid = m;
	if (with_pid)
		nc->set_tid[nc->nr_set_tid++] = pe->pid;
}

int ns_write_sys(const char *name, const char *value)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write_all(fd, value, strlen(value))) {
		pr_perror("can't write '%s' to '%s'", value, path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int next_id(const char *kind, int id)
{
	char name[32], v[16];

	snprintf(name, sizeof(name), "kernel/%s_next_id", kind);
	snprintf(v, sizeof(v), "%d", id);
	return ns_write_sys(name, v);
}

static int restore_shm(const IpcObjEntry *o)
{
	struct shmid_ds ds;
	int id;
	void *at;

	if (next_id("shm", o->id))
		return -1;
	id = shmget(o->key, o->size, IPC_CREAT | IPC_EXCL | (o->mode & 0777));
	if (id < 0) {
		pr_perror("can't make System V shared memory segment %d (key %#x, %llu bytes)",
			  o->id, o->key, (unsigned long long)o->size);
		return -1;
	}
	if (id != o->id) {
		pr_err("System V shared memory segment %d came back as %d", o->id, id);
		return -1;
	}
	if (o->has_data && o->data.len) {
		if (o->data.len > o->size) {
			pr_err("System V shared memory segment %d: %zu bytes saved for %llu",
			       o->id, o->data.len, (unsigned long long)o->size);
			return -1;
		}
		at = shmat(id, NULL, 0);
		if (at == (void *)-1) {
			pr_perror("can't attach System V shared memory segment %d", id);
			return -1;
		}
		memcpy(at, o->data.data, o->data.len);
		shmdt(at);
	}
	if (shmctl(id, IPC_STAT, &ds) < 0)
		return -1;
	ds.shm_perm.uid = o->uid;
	ds.shm_perm.gid = o->gid;
	ds.shm_perm.mode = o->mode;
	if (shmctl(id, IPC_SET, &ds) < 0) {
		pr_perror("can't give System V shared memory segment %d its owner", id);
		return -1;
	}
	if (o->locked && shmctl(id, SHM_LOCK, NULL) < 0) {
		pr_perror("can't lock System V shared memory segment %d (SHM_LOCK)", id);
		return -1;
	}
	return 0;
}

static int restore_sem(const IpcObjEntry *o)
{
	struct semid_ds ds;
	unsigned short *v;
	int id, ret;

	if (next_id("sem", o->id))
		return -1;
	id = semget(o->key, o->n_values, IPC_CREAT | IPC_EXCL | (o->mode & 0777));
	if (id < 0 || id != o->id) {
		if (id < 0)
			pr_perror("can't make System V semaphore set %d (key %#x)", o->id, o->key);
		else
			pr_err("System V semaphore set %d came back as %d", o->id, id);
		return -1;
	}
	v = xzalloc((o->n_values + 1) * sizeof(*v));
	for (size_t k = 0; k < o->n_values; k++)
		v[k] = o->values[k];
	ret = semctl(id, 0, SETALL, v);
	free(v);
	if (ret) {
		pr_perror("can't set the values of System V semaphore set %d", id);
		return -1;
	}
	if (semctl(id, 0, IPC_STAT, &ds) < 0)
		return -1;
	ds.sem_perm.uid = o->uid;
	ds.sem_perm.gid = o->gid;
	ds.sem_perm.mode = o->mode;
	if (semctl(id, 0, IPC_SET, &ds) < 0) {
		pr_perror("can't give System V semaphore set %d its owner", id);
		return -1;
	}
	return 0;
}

static int restore_msq(const IpcObjEntry *o)
{
	struct msqid_ds ds;
	int id;

	if (next_id("msg", o->id))
		return -1;
	id = msgget(o->key, IPC_CREAT | IPC_EXCL | (o->mode & 0777));
	if (id < 0 || id != o->id) {
		if (id < 0)
			pr_perror("can't make System V message queue %d (key %#x)", o->id, o->key);
		else
			pr_err("System V message queue %d came back as %d", o->id, id);
		return -1;
	}
	/* Its limit first: the messages were within it, maybe not within the default. */
	if (msgctl(id, IPC_STAT, &ds) < 0)
		return -1;
	ds.msg_qbytes = o->qbytes;
	if (msgctl(id, IPC_SET, &ds) < 0) {
		pr_perror("can't set the byte limit of System V message queue %d", id);
		return -1;
	}
	for (size_t k = 0; k < o->n_msgs; k++) {
		const IpcMsg *m = o->msgs[k];
		char *buf = xzalloc(sizeof(long) + m->text.len + 1);
		int ret;

		*(long *)buf = m->mtype;
		memcpy(buf + sizeof(long), m->text.data, m->text.len);
		ret = msgsnd(id, buf, m->text.len, IPC_NOWAIT);
		free(buf);
		if (ret) {
			pr_perror("can't put message %zu back into System V message queue %d", k, id);
			return -1;
		}
	}
	ds.msg_perm.uid = o->uid;
	ds.msg_perm.gid = o->gid;
	ds.msg_perm.mode = o->mode;
	if (msgctl(id, IPC_SET, &ds) < 0) {
		pr_perror("can't give System V message queue %d its owner", id);
		return -1;
	}
	return 0;
}

/*
 * In the task entering the namespace: mq_open() makes the queue in its
 * IPC namespace's mqueue filesystem (no mount needed) within the
 * limits restored just before; the messages go in the order they came
 * out, which puts each after the earlier ones of its priority.
 */
static int restore_posix_mq(const IpcObjEntry *o)
{
	struct mq_attr a = { 0 };
	mqd_t q;

	if (!o->name || o->name[0] != '/' || strchr(o->name + 1, '/') ||
	    !o->has_maxmsg || !o->has_msgsize) {
		pr_err("a POSIX message queue of an IPC namespace has no name, size or length");
		return -1;
	}
	a.mq_maxmsg = o->maxmsg;
	a.mq_msgsize = o->msgsize;
	q = mq_open(o->name, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK | O_CLOEXEC,
		    0600, &a);
	if (q == (mqd_t)-1) {
		pr_perror("can't make POSIX message queue '%s' (mq_maxmsg %llu, mq_msgsize %llu)",
			  o->name, (unsigned long long)o->maxmsg,
			  (unsigned long long)o->msgsize);
		return -1;
	}
	for (size_t k = 0; k < o->n_msgs; k++) {
		const IpcMsg *m = o->msgs[k];

		if (mq_send(q, (const char *)m->text.data, m->text.len,
			    m->has_prio ? m->prio : 0)) {
			pr_perror("can't put message %zu back into POSIX message queue '%s'",
				  k, o->name);
			mq_close(q);
			return -1;
		}
	}
	/* An mqd_t is an fd: its owner and mode as they were, not the umask's. */
	if (fchown(q, o->uid, o->gid) || fchmod(q, o->mode & 0777)) {
		pr_perror("can't give POSIX message queue '%s' its owner and mode", o->name);
		mq_close(q);
		return -1;
	}
	mq_close(q);
	return 0;
}

static int restore_ipc(const struct ns_restore *nr, int k)
{
	const IpcNsEntry *e = nr->ipc[k];
	int ret = 0;

	if (ns_write_vars(e->vars, e->n_vars, ipc_vars, ARRAY_SIZE(ipc_vars),
			  "IPC namespace", nr->ns[k]->id))
		return -1;
	for (int i = 0; i < nr->nr_objs[k] && !ret; i++) {
		const IpcObjEntry *o = nr->objs[k][i];

		switch (o->kind) {
		case IPC_OBJ_KIND__IPC_SHM: ret = restore_shm(o); break;
		case IPC_OBJ_KIND__IPC_SEM: ret = restore_sem(o); break;
		case IPC_OBJ_KIND__IPC_MSQ: ret = restore_msq(o); break;
		case IPC_OBJ_KIND__IPC_POSIX_MQ: ret = restore_posix_mq(o); break;
		default:
			pr_err("IPC namespace %u: an object of unknown kind %d",
			       nr->ns[k]->id, o->kind);
			ret = -1;
		}
	}
	/* Each next_id went back to -1 (the kernel's choice) as it was used. */
	return ret;
}

int ns_restore_late(const struct ns_restore *nr, const PstreeEntry *pe)
{
	const NsEntry *e = ns_by_id(nr, pe->pid_ns, NULL);
	char v[16];

	if (!e || e->entered_by != pe->pid || !e->has_last_pid)
		return 0;
	/* Its next fork gets the PID it would have got (set_tid did not move it). */
	snprintf(v, sizeof(v), "%u", e->last_pid);
	return ns_write_sys("kernel/ns_last_pid", v);
}

/*
 * Before the tree's objects are made: the namespaces crest makes itself
 * (network, time), each kept as a service fd at or above base.
 */
int ns_prepare(struct ns_restore *nr, int base)
{
	/* User namespaces first: a network one may be made in one. */
	for (int pass = 0; pass < 2; pass++)
	for (int k = 0; k < nr->nr; k++) {
		const NsEntry *e = nr->ns[k];
		int fd, u = -1;

		if ((e->kind == NS_KIND__NS_USER) != !pass)
			continue;
		if (e->has_owner && e->owner && !ns_by_id(nr, e->owner, &u)) {
			pr_err("%s: namespace %u is owned by namespace %u, not in the images",
			       img_descs[IMG_NAMESPACES].name, e->id, e->owner);
			return -1;
		}
		if (e->kind == NS_KIND__NS_NET && u >= 0)
			fd = netns_make_in(nr->net[k], e->id, nr->fd[u]);
		else if (e->kind == NS_KIND__NS_UTS && u >= 0)
			fd = ns_make_in_user(nr->fd[u], CLONE_NEWUTS, "uts", e->id);
		else if (e->kind == NS_KIND__NS_IPC && u >= 0)
			fd = ns_make_in_user(nr->fd[u], CLONE_NEWIPC, "ipc", e->id);
		else if (e->kind == NS_KIND__NS_NET)
			fd = netns_make(nr->net[k], e->id);
		else if (e->kind == NS_KIND__NS_TIME)
			fd = timens_make(nr->time[k], e->id);
		else if (e->kind == NS_KIND__NS_USER)
			fd = userns_make(nr->user[k], e->id);
		else if (e->kind == NS_KIND__NS_MNT && mntns_rooted(nr, k))
			fd = mntns_root_fd(nr, k);
		else
			continue;
		if (fd < 0)
			return -1;
		nr->fd[k] = files_to_service(fd, base);
		if (nr->fd[k] < 0)
			return -1;
	}
	/* A socket of crest's own is made there, crest being in another then. */
	for (int k = 0; k < nr->nr && nr->own_net < 0; k++) {
		if (nr->ns[k]->kind != NS_KIND__NS_NET)
			continue;
		nr->own_net = files_to_service(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC),
					       base);
		if (nr->own_net < 0) {
			pr_err("can't keep crest's own network namespace");
			return -1;
		}
	}
	return 0;
}

int ns_helper_start(struct ns_helper *h, int userns_fd, int flag, uint32_t id)
{
	int p[2], q[2];
	char c = 'e';

	if (pipe2(p, O_CLOEXEC) || pipe2(q, O_CLOEXEC)) {
		pr_perror("can't make a pipe");
		return -1;
	}
	fflush(NULL);
	h->pid = fork();
	if (h->pid < 0) {
		pr_perror("can't fork for namespace %u", id);
		return -1;
	}
	if (h->pid == 0) {
		close(p[0]);
		close(q[1]);
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (userns_fd >= 0 && setns(userns_fd, CLONE_NEWUSER))
			pr_perror("can't join the user namespace that owns namespace %u", id);
		else if (unshare(flag))
			pr_perror("can't make namespace %u", id);
		else
			c = 'k';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		/* Until crest is done with it: EOF. */
		while (read(q[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(p[1]);
	close(q[0]);
	h->rfd = p[0];
	h->wfd = q[1];
	if (read(h->rfd, &c, 1) != 1 || c != 'k') {
		ns_helper_end(h);
		return -1;
	}
	return 0;
}

void ns_helper_end(struct ns_helper *h)
{
	int status;

	close(h->rfd);
	close(h->wfd);
	while (waitpid(h->pid, &status, 0) < 0 && errno == EINTR)
		;
}

int ns_make_in_user(int userns_fd, int flag, const char *name, uint32_t id)
{
	struct ns_helper h;
	char path[64];
	int fd;

	if (ns_helper_start(&h, userns_fd, flag, id))
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/ns/%s", h.pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		pr_perror("can't open '%s'", path);
	ns_helper_end(&h);
	return fd;
}

int ns_make_in_crest(int i, const char *made, int (*make)(const void *e, uint32_t id),
		     const void *e, uint32_t id)
{
	char path[64];
	int own, fd = -1;

	snprintf(path, sizeof(path), "/proc/self/ns/%s", kinds[i].name);
	own = open(path, O_RDONLY | O_CLOEXEC);
	if (own < 0) {
		pr_perror("can't open crest's own %s", kinds[i].what);
		return -1;
	}
	if (!make(e, id)) {
		snprintf(path, sizeof(path), "/proc/self/ns/%s", made);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			pr_perror("can't open %s %u", kinds[i].what, id);
	}
	/* Everything crest makes from here would be in the new one. */
	if (setns(own, kinds[i].flag)) {
		pr_perror("can't go back to crest's own %s", kinds[i].what);
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	close(own);
	return fd;
}

/* The namespace the first process is in: crest makes the sockets there. */
int ns_enter_objects(const struct ns_restore *nr, const PstreeEntry *root, int *own)
{
	int k;

	*own = -1;
	if (!ns_by_id(nr, root->net_ns, &k))
		return 0;
	*own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*own < 0 || setns(nr->fd[k], CLONE_NEWNET)) {
		pr_perror("can't join network namespace %u to make the sockets of the tree",
			  root->net_ns);
		return -1;
	}
	return 0;
}

int ns_net_fd(const struct ns_restore *nr, bool has, uint32_t id)
{
	int k;

	if (!has)
		return -1;
	if (!id)
		return nr->own_net;
	return ns_by_id(nr, id, &k) && nr->ns[k]->kind == NS_KIND__NS_NET ? nr->fd[k] : -1;
}

bool ns_net_known(const struct ns_restore *nr, uint32_t id)
{
	int k;

	return !id || (ns_by_id(nr, id, &k) && nr->ns[k]->kind == NS_KIND__NS_NET);
}

bool ns_objects_netns(const struct ns_restore *nr, const PstreeEntry *root)
{
	return root->has_net_ns && ns_by_id(nr, root->net_ns, NULL);
}

int ns_leave_objects(int own)
{
	int ret = 0;

	if (own < 0)
		return 0;
	if (setns(own, CLONE_NEWNET)) {
		pr_perror("can't go back to crest's own network namespace");
		ret = -1;
	}
	close(own);
	return ret;
}

int ns_mnt_fd(const struct ns_restore *nr, const PstreeEntry *pe)
{
	int k;

	if (!pe->has_mnt_ns || !ns_by_id(nr, pe->mnt_ns, &k) || !mntns_rooted(nr, k))
		return -1;
	return nr->fd[k];
}

int ns_mnt_join(const struct ns_restore *nr, const PstreeEntry *pe)
{
	int fd = ns_mnt_fd(nr, pe);

	if (fd < 0)
		return 0;
	/* Its root and cwd become the namespace's root. */
	if (setns(fd, CLONE_NEWNS)) {
		pr_perror("process %u can't join its mount namespace", pe->pid);
		return -1;
	}
	return 1;
}

int ns_user_fd(const struct ns_restore *nr, const PstreeEntry *pe)
{
	int k;

	return ns_by_id(nr, pe->user_ns, &k) ? nr->fd[k] : -1;
}

void ns_user_args(const struct ns_restore *nr, const PstreeEntry *pe, struct restore_args *ra)
{
	int k;

	if (ns_by_id(nr, pe->user_ns, &k))
		userns_args(nr->user[k], nr->fd[k], ra);
	else
		userns_args(NULL, -1, ra);
}

bool ns_unshared_for(const struct ns_restore *nr, const PstreeEntry *parent,
		     const PstreeEntry *child)
{
	return (parent->pid_unshared && enters(nr, child, NSI_PID)) ||
	       (parent->time_unshared && enters(nr, child, NSI_TIME));
}

int ns_unshare_for(const struct ns_restore *nr, const PstreeEntry *parent,
		   const PstreeEntry *child)
{
	int k = 0;

	if (parent->pid_unshared && enters(nr, child, NSI_PID) && unshare(CLONE_NEWPID)) {
		pr_perror("can't make a PID namespace for %u", child->pid);
		return -1;
	}
	if (parent->time_unshared && enters(nr, child, NSI_TIME)) {
		ns_by_id(nr, child->time_ns, &k);
		return timens_unshare(nr->time[k], child->time_ns);
	}
	return 0;
}

/* Joined, not made: crest made them in ns_prepare(). */
static int join_made(const struct ns_restore *nr, const PstreeEntry *pe, int i)
{
	int k = 0;

	if (!enters(nr, pe, i))
		return 0;
	ns_by_id(nr, pe_ns(pe, i), &k);
	if (nr->fd[k] < 0 || setns(nr->fd[k], kinds[i].flag)) {
		pr_perror("process %u can't join its %s", pe->pid, kinds[i].what);
		return -1;
	}
	return 0;
}

int ns_restore_net(const struct ns_restore *nr, const PstreeEntry *pe)
{
	return join_made(nr, pe, NSI_NET);
}

int ns_restore_entered(const struct ns_restore *nr, const PstreeEntry *pe,
		       const PstreeEntry *parent)
{
	int k;

	/* Born in the time namespace its parent unshare()d for it. */
	if ((!(parent && parent->time_unshared) && join_made(nr, pe, NSI_TIME)) ||
	    (owned(nr, pe, NSI_UTS) && join_made(nr, pe, NSI_UTS)) ||
	    (owned(nr, pe, NSI_IPC) && join_made(nr, pe, NSI_IPC)))
		return -1;

	/* A copy of crest's: private as the dump saw it; mounts at the end. */
	if (enters(nr, pe, NSI_MNT) && ns_mnt_fd(nr, pe) < 0 &&
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		pr_perror("can't make the new mount namespace of %u private", pe->pid);
		return -1;
	}
	if (enters(nr, pe, NSI_UTS)) {
		const UtsNsEntry *u;

		ns_by_id(nr, pe->uts_ns, &k);
		u = nr->uts[k];
		if (sethostname(u->hostname, strlen(u->hostname)) ||
		    setdomainname(u->domainname, strlen(u->domainname))) {
			pr_perror("can't name the UTS namespace of process %u '%s'",
				  pe->pid, u->hostname);
			return -1;
		}
	}
	if (enters(nr, pe, NSI_IPC)) {
		ns_by_id(nr, pe->ipc_ns, &k);
		if (restore_ipc(nr, k))
			return -1;
	}
	return 0;
}
