/*
 * The mounts a container runtime makes (runc's /dev and the like), in
 * PID, mount and IPC namespaces of their own (test/run starts it under
 * unshare --pid --fork --mount --mount-proc --ipc). PID 1 mounts, below
 * its work dir: a tmpfs (strictatime, as runc's /dev) with device nodes,
 * a FIFO, a symlink and the directories the next mounts sit on; a devpts
 * instance of its own on it, the namespace's mqueue, a read-only sysfs, a
 * bind of the tmpfs's null onto a file of it (runc's masked paths), and a
 * read-only bind of /proc/sys over itself (runc's read-only paths); and,
 * as a container's stdio, an fd of /dev/null on a tmpfs mounted on /dev
 * (crest reopens its own node of the same device: restore
 * --evasive-devices).
 * After the restore each is there as it was: the nodes work, the devpts
 * is an empty instance of its own (its first pty is 0), the mqueue shows
 * the queues of the restored IPC namespace, /proc/sys refuses writes.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#define TMPFS_MAGIC	0x01021994
#define DEVPTS_MAGIC	0x1cd1
#define MQUEUE_MAGIC	0x19800202
#define SYSFS_MAGIC	0x62656572

static char box[4096];

static void at(char *out, const char *name)
{
	snprintf(out, 4200, "%s/%s", box, name);
}

static void must(int ok, const char *what)
{
	if (!ok)
		case_fail("%s: %s", what, strerror(errno));
}

static void is_fs(const char *name, long magic)
{
	char p[4200];
	struct statfs sf;

	at(p, name);
	if (statfs(p, &sf) || sf.f_type != magic)
		case_fail("%s is not the filesystem it was (type %lx, want %lx)", p,
			  (long)sf.f_type, magic);
}

static void is_node(const char *name, mode_t type, unsigned int maj, unsigned int min)
{
	char p[4200];
	struct stat st;

	at(p, name);
	if (lstat(p, &st) || (st.st_mode & S_IFMT) != type ||
	    (type != S_IFIFO && st.st_rdev != makedev(maj, min)))
		case_fail("%s: mode %o rdev %u:%u, not the node it was", p, st.st_mode,
			  major(st.st_rdev), minor(st.st_rdev));
}

int main(void)
{
	const char *tmp = getenv("CREST_TMP");
	char p[4200], q[4200], buf[16];
	int fd, n, null;
	unsigned int ptn = 99;
	struct stat st;

	case_init();
	if (getpid() != 1)
		case_fail("pid %d: not PID 1 of a PID namespace (run it through test/run)", getpid());
	if (!tmp)
		case_fail("no CREST_TMP");
	snprintf(box, sizeof(box), "%s/box", tmp);
	must(!mkdir(box, 0755) || errno == EEXIST, "mkdir box");
	at(p, "dev");
	must(!mkdir(p, 0755), "mkdir dev");
	must(!mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_STRICTATIME, "size=1m,mode=755"),
	     "mount the tmpfs");
	at(p, "dev/null");
	must(!mknod(p, S_IFCHR | 0666, makedev(1, 3)), "mknod null");
	at(p, "dev/zero");
	must(!mknod(p, S_IFCHR | 0666, makedev(1, 5)), "mknod zero");
	at(p, "dev/fifo");
	must(!mknod(p, S_IFIFO | 0600, 0), "mknod fifo");
	at(p, "dev/ptmx");
	must(!symlink("pts/ptmx", p), "symlink ptmx");
	at(p, "dev/masked");
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
	must(fd >= 0 && !close(fd), "create masked");
	at(p, "dev/pts");
	must(!mkdir(p, 0755), "mkdir pts");
	at(p, "dev/mqueue");
	must(!mkdir(p, 01777), "mkdir mqueue");
	at(p, "sys");
	must(!mkdir(p, 0555), "mkdir sys");
	at(p, "dev/pts");
	must(!mount("devpts", p, "devpts", MS_NOSUID | MS_NOEXEC,
		    "newinstance,ptmxmode=0666,mode=0620,gid=5"), "mount devpts");
	at(p, "dev/mqueue");
	must(!mount("mqueue", p, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL),
	     "mount mqueue");
	at(p, "sys");
	must(!mount("sysfs", p, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL),
	     "mount sysfs");
	at(p, "dev/null");
	at(q, "dev/masked");
	must(!mount(p, q, NULL, MS_BIND, NULL), "bind null on masked");
	must(!mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "size=64k,mode=755"),
	     "mount a tmpfs on /dev");
	must(!mknod("/dev/null", S_IFCHR | 0666, makedev(1, 3)), "mknod /dev/null");
	/* fd 77: test/audit.py's KNOWN_LOSSES names its mount, crest's at restore. */
	null = open("/dev/null", O_RDWR);
	must(null >= 0 && dup2(null, 77) == 77 && !close(null), "open /dev/null");
	null = 77;
	must(!mount("/proc/sys", "/proc/sys", NULL, MS_BIND, NULL), "bind /proc/sys");
	must(!mount(NULL, "/proc/sys", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL),
	     "make /proc/sys read-only");

	case_ready();
	case_wait_go();

	is_fs("dev", TMPFS_MAGIC);
	if (fstat(null, &st) || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3) ||
	    write(null, "x", 1) != 1)
		case_fail("fd %d is no /dev/null after the restore: %s", null, strerror(errno));
	{
		struct statfs sf;

		if (statfs("/dev", &sf) || sf.f_type != TMPFS_MAGIC)
			case_fail("/dev is no tmpfs after the restore");
	}
	if (access("/dev/null", F_OK) || access("/dev/zero", F_OK) == 0)
		case_fail("/dev is not the tmpfs it was after the restore");
	is_fs("dev/pts", DEVPTS_MAGIC);
	is_fs("dev/mqueue", MQUEUE_MAGIC);
	is_fs("sys", SYSFS_MAGIC);
	is_node("dev/null", S_IFCHR, 1, 3);
	is_node("dev/zero", S_IFCHR, 1, 5);
	is_node("dev/fifo", S_IFIFO, 0, 0);
	is_node("dev/masked", S_IFCHR, 1, 3);
	at(p, "dev/zero");
	fd = open(p, O_RDONLY);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
	if (n != sizeof(buf) || buf[0] || buf[15])
		case_fail("%s reads no zeros after the restore", p);
	close(fd);
	at(p, "dev/masked");
	fd = open(p, O_WRONLY);
	if (fd < 0 || write(fd, "x", 1) != 1)
		case_fail("%s (null bound on it) takes no bytes: %s", p, strerror(errno));
	close(fd);
	at(p, "dev/ptmx");
	fd = open(p, O_RDWR | O_NOCTTY);
	if (fd < 0 || ioctl(fd, TIOCGPTN, &ptn) || ptn != 0)
		case_fail("%s: no pty 0 of an instance of its own (pty %u): %s", p, ptn,
			  strerror(errno));
	close(fd);
	{
		mqd_t mq = mq_open("/crest-kinds", O_CREAT | O_RDWR, 0600, NULL);

		at(p, "dev/mqueue/crest-kinds");
		if (mq == (mqd_t)-1 || access(p, F_OK))
			case_fail("a queue of the restored IPC namespace is not in its mqueue: %s",
				  strerror(errno));
		mq_close(mq);
		mq_unlink("/crest-kinds");
	}
	fd = open("/proc/sys/kernel/hostname", O_WRONLY);
	if (fd >= 0 || errno != EROFS)
		case_fail("/proc/sys is writable after the restore (%s)", strerror(errno));
	at(p, "sys/kernel");
	if (access(p, F_OK) || !access(p, W_OK) || errno != EROFS)
		case_fail("%s: no read-only sysfs after the restore", p);
	case_pass();
}
