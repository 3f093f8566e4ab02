/*
 * A process in UTS and IPC namespaces of its own (test/run starts it
 * under unshare --uts --ipc; it refuses to run anywhere else, so the
 * machine's hostname is never touched): a hostname and domainname, an
 * IPC limit, System V shared memory segments with bytes in them (one
 * private, one under a key), a semaphore set with values and a message
 * queue with messages and a byte limit of its own. After the restore
 * every one is there under its id and key with its owner and mode, the
 * bytes, values and messages as they were; its pid is the same.
 * The namespaces themselves are checked by the /proc audit too.
 */
#include "caselib.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#define HOST		"crest-ns-case"
#define DOMAIN		"crest.example"
#define SHM_KEY		0x6372
#define SEM_KEY		0x6373
#define SHM1_SIZE	(3 * 4096 + 100)
#define MSG_QBYTES	4096
#define MSGMNB		"12345"

struct msg {
	long mtype;
	char text[64];
};

static const char *const texts[] = { "first", "second, longer one", "3" };
static const long types[] = { 1, 7, 1 };

static unsigned char pattern(size_t i, int seed)
{
	return (unsigned char)(i * 31 + seed + (i >> 12));
}

static void write_sys(const char *path, const char *v)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(v, f) < 0 || fclose(f))
		case_fail("can't write %s to %s: %s", v, path, strerror(errno));
}

static void read_sys(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	if (!f || !fgets(buf, len, f))
		case_fail("can't read %s: %s", path, strerror(errno));
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
}

int main(void)
{
	int shm1, shm2, sem, msq;
	pid_t pid = getpid();
	unsigned short vals[3] = { 1, 7, 42 }, got[3];
	struct msqid_ds mq;
	struct shmid_ds sd;
	char buf[256];
	unsigned char *p;

	case_init();
	if (!case_own_ns("uts") || !case_own_ns("ipc"))
		case_fail("not in UTS and IPC namespaces of its own (run it under unshare --uts --ipc through test/run)");
	if (sethostname(HOST, strlen(HOST)) || setdomainname(DOMAIN, strlen(DOMAIN)))
		case_fail("sethostname: %s", strerror(errno));
	write_sys("/proc/sys/kernel/msgmnb", MSGMNB);

	shm1 = shmget(IPC_PRIVATE, SHM1_SIZE, 0600);
	shm2 = shmget(SHM_KEY, 8192, IPC_CREAT | 0640);
	if (shm1 < 0 || shm2 < 0)
		case_fail("shmget: %s", strerror(errno));
	p = shmat(shm1, NULL, 0);
	if (p == (void *)-1)
		case_fail("shmat: %s", strerror(errno));
	for (size_t i = 0; i < SHM1_SIZE; i++)
		p[i] = pattern(i, 1);
	shmdt(p);
	p = shmat(shm2, NULL, 0);
	for (size_t i = 0; i < 100; i++)
		p[i] = pattern(i, 2);
	shmdt(p);

	sem = semget(SEM_KEY, 3, IPC_CREAT | 0600);
	if (sem < 0 || semctl(sem, 0, SETALL, vals))
		case_fail("semget/SETALL: %s", strerror(errno));

	msq = msgget(IPC_PRIVATE, 0620);
	if (msq < 0 || msgctl(msq, IPC_STAT, &mq))
		case_fail("msgget: %s", strerror(errno));
	mq.msg_qbytes = MSG_QBYTES;
	if (msgctl(msq, IPC_SET, &mq))
		case_fail("msgctl(IPC_SET): %s", strerror(errno));
	for (int i = 0; i < 3; i++) {
		struct msg m = { types[i], "" };

		strcpy(m.text, texts[i]);
		if (msgsnd(msq, &m, strlen(texts[i]) + 1, IPC_NOWAIT))
			case_fail("msgsnd: %s", strerror(errno));
	}

	case_ready();
	case_wait_go();

	if (getpid() != pid)
		case_fail("getpid() %d, was %d", getpid(), pid);
	if (gethostname(buf, sizeof(buf)) || strcmp(buf, HOST))
		case_fail("hostname '%s', want '%s'", buf, HOST);
	if (getdomainname(buf, sizeof(buf)) || strcmp(buf, DOMAIN))
		case_fail("domainname '%s', want '%s'", buf, DOMAIN);
	/* Its UTS namespace's owner is its user namespace's, as it was. */
	if (sethostname(HOST, strlen(HOST)))
		case_fail("sethostname after the restore: %s", strerror(errno));
	read_sys("/proc/sys/kernel/msgmnb", buf, sizeof(buf));
	if (strcmp(buf, MSGMNB))
		case_fail("kernel.msgmnb %s, want %s", buf, MSGMNB);

	if (shmctl(shm1, IPC_STAT, &sd) || sd.shm_segsz != SHM1_SIZE ||
	    (sd.shm_perm.mode & 0777) != 0600 || sd.shm_perm.__key != IPC_PRIVATE)
		case_fail("segment %d: %s, size %zu mode %o", shm1, strerror(errno),
			  (size_t)sd.shm_segsz, sd.shm_perm.mode);
	p = shmat(shm1, NULL, SHM_RDONLY);
	if (p == (void *)-1)
		case_fail("shmat %d after the restore: %s", shm1, strerror(errno));
	for (size_t i = 0; i < SHM1_SIZE; i++)
		if (p[i] != pattern(i, 1))
			case_fail("segment %d byte %zu is %u, want %u", shm1, i, p[i],
				  pattern(i, 1));
	shmdt(p);
	if (shmget(SHM_KEY, 0, 0) != shm2)
		case_fail("key %#x is segment %d, want %d", SHM_KEY, shmget(SHM_KEY, 0, 0), shm2);
	p = shmat(shm2, NULL, SHM_RDONLY);
	for (size_t i = 0; i < 8192; i++)
		if (p[i] != (i < 100 ? pattern(i, 2) : 0))
			case_fail("segment %d byte %zu is %u", shm2, i, p[i]);
	shmdt(p);
	if (shmctl(shm2, IPC_STAT, &sd) || (sd.shm_perm.mode & 0777) != 0640)
		case_fail("segment %d mode %o", shm2, sd.shm_perm.mode);

	if (semget(SEM_KEY, 0, 0) != sem || semctl(sem, 0, GETALL, got))
		case_fail("semaphore set %d: %s", sem, strerror(errno));
	for (int i = 0; i < 3; i++)
		if (got[i] != vals[i])
			case_fail("semaphore %d of set %d is %u, want %u", i, sem, got[i], vals[i]);

	if (msgctl(msq, IPC_STAT, &mq) || mq.msg_qbytes != MSG_QBYTES || mq.msg_qnum != 3 ||
	    (mq.msg_perm.mode & 0777) != 0620)
		case_fail("queue %d: %s, qbytes %lu, %lu messages, mode %o", msq, strerror(errno),
			  (unsigned long)mq.msg_qbytes, (unsigned long)mq.msg_qnum,
			  mq.msg_perm.mode);
	for (int i = 0; i < 3; i++) {
		struct msg m;
		ssize_t n = msgrcv(msq, &m, sizeof(m.text), 0, IPC_NOWAIT);

		if (n != (ssize_t)strlen(texts[i]) + 1 || m.mtype != types[i] ||
		    strcmp(m.text, texts[i]))
			case_fail("message %d: %zd bytes type %ld '%.*s', want type %ld '%s'",
				  i, n, m.mtype, n > 0 ? (int)n : 0, m.text, types[i], texts[i]);
	}
	case_pass();
}
