/*
 * PID, mount, UTS and IPC namespaces with a tmpfs and a hostname (test/run
 * starts it under unshare --pid --fork --mount --mount-proc --uts --ipc;
 * unshare and this case, PID 1, are dumped together). PID 1 mounts a
 * tmpfs with files of every kind crest saves (bytes with holes of zeros,
 * a directory, a symlink, owners, modes, times), names its host, keeps a
 * System V segment with bytes and a child (PID 2). After the restore:
 * the same PIDs inside, /proc is the namespace's (self is 1), the tmpfs
 * is mounted with its options and holds what it held, the hostname and
 * the segment are there.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define HOST		"crest-mnt-ns"
#define TMPFS_MAGIC	0x01021994
#define BIG		(200 * 1024)

static char dir[4096];
static unsigned char big[BIG];

static void path(char *out, const char *name)
{
	snprintf(out, 4200, "%s/%s", dir, name);
}

static void put(const char *name, const void *data, size_t len, mode_t mode)
{
	char p[4200];
	int fd;

	path(p, name);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd))
		case_fail("can't write %s: %s", p, strerror(errno));
	if (chmod(p, mode))
		case_fail("chmod %s: %s", p, strerror(errno));
}

static void check(const char *name, const void *data, size_t len, mode_t mode,
		  uid_t uid, gid_t gid)
{
	char p[4200];
	unsigned char *got = malloc(len + 1);
	struct stat st;
	int fd;

	path(p, name);
	fd = open(p, O_RDONLY);
	if (fd < 0 || fstat(fd, &st))
		case_fail("%s after the restore: %s", p, strerror(errno));
	if ((size_t)st.st_size != len || read(fd, got, len + 1) != (ssize_t)len ||
	    memcmp(got, data, len))
		case_fail("%s: %lld bytes, not what it held", p, (long long)st.st_size);
	if ((st.st_mode & 07777) != mode || st.st_uid != uid || st.st_gid != gid)
		case_fail("%s: mode %o owner %d:%d, want %o %d:%d", p, st.st_mode & 07777,
			  st.st_uid, st.st_gid, mode, uid, gid);
	close(fd);
	free(got);
}

static int self_is(const char *want)
{
	char buf[32];
	ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);

	if (n <= 0)
		return 0;
	buf[n] = 0;
	return !strcmp(buf, want);
}

int main(void)
{
	const char *tmp = getenv("CREST_TMP");
	char p[4200], link[64], mi[65536], want[4300];
	int go[2], shm, fd;
	struct stat st, before_sub;
	struct statfs sf;
	pid_t child;
	char *seg;
	ssize_t n;

	case_init();
	if (getpid() != 1 || !self_is("1"))
		case_fail("pid %d: not PID 1 of a PID namespace with its own /proc (run it under unshare --pid --fork --mount-proc through test/run)",
			  getpid());
	if (!tmp)
		case_fail("no CREST_TMP");
	snprintf(dir, sizeof(dir), "%s/tmpfs", tmp);
	if (mkdir(dir, 0755) && errno != EEXIST)
		case_fail("mkdir %s: %s", dir, strerror(errno));
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0751"))
		case_fail("mount tmpfs on %s: %s", dir, strerror(errno));
	for (size_t i = 0; i < BIG; i++)
		big[i] = (i / 4096) % 3 ? 0 : (unsigned char)(i * 7 + 1);
	put("a", "hello tmpfs\n", 12, 0640);
	path(p, "sub");
	if (mkdir(p, 0710) || chown(p, 1234, 5678))
		case_fail("mkdir %s: %s", p, strerror(errno));
	put("sub/big", big, BIG, 0600);
	path(p, "sub/big");
	if (chown(p, 1234, 5678))
		case_fail("chown: %s", strerror(errno));
	path(p, "link");
	if (symlink("a", p))
		case_fail("symlink: %s", strerror(errno));
	path(p, "sub");
	if (stat(p, &before_sub))
		case_fail("stat: %s", strerror(errno));
	if (sethostname(HOST, strlen(HOST)))
		case_fail("sethostname: %s", strerror(errno));
	shm = shmget(IPC_PRIVATE, 8192, 0600);
	seg = shm < 0 ? (void *)-1 : shmat(shm, NULL, 0);
	if (seg == (void *)-1)
		case_fail("shm: %s", strerror(errno));
	strcpy(seg + 5000, "segment bytes");
	shmdt(seg);
	if (pipe(go))
		case_fail("pipe: %s", strerror(errno));
	child = fork();
	if (child == 0) {
		char c;

		close(go[1]);
		while (read(go[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(getpid() == 2 && getppid() == 1 && self_is("2") ? 0 : 1);
	}
	close(go[0]);

	case_ready();
	case_wait_go();

	if (getpid() != 1 || !self_is("1"))
		case_fail("after the restore: getpid() %d, /proc/self not 1", getpid());
	if (statfs(dir, &sf) || sf.f_type != TMPFS_MAGIC)
		case_fail("%s is no tmpfs after the restore", dir);
	if (stat(dir, &st) || (st.st_mode & 07777) != 0751)
		case_fail("%s: mode %o, want 751", dir, st.st_mode & 07777);
	check("a", "hello tmpfs\n", 12, 0640, 0, 0);
	check("sub/big", big, BIG, 0600, 1234, 5678);
	path(p, "sub");
	if (stat(p, &st) || (st.st_mode & 07777) != 0710 || st.st_uid != 1234 ||
	    st.st_mtim.tv_sec != before_sub.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != before_sub.st_mtim.tv_nsec)
		case_fail("%s: mode %o owner %d, mtime %ld.%09ld want %ld.%09ld", p,
			  st.st_mode & 07777, st.st_uid, (long)st.st_mtim.tv_sec,
			  st.st_mtim.tv_nsec, (long)before_sub.st_mtim.tv_sec,
			  before_sub.st_mtim.tv_nsec);
	path(p, "link");
	n = readlink(p, link, sizeof(link) - 1);
	if (n != 1 || link[0] != 'a')
		case_fail("%s is no link to a", p);
	fd = open("/proc/self/mountinfo", O_RDONLY);
	n = fd < 0 ? -1 : read(fd, mi, sizeof(mi) - 1);
	mi[n > 0 ? n : 0] = 0;
	snprintf(want, sizeof(want), " %s rw,nosuid,nodev", dir);
	if (!strstr(mi, want) || !strstr(mi, "size=4096k,mode=751"))
		case_fail("mountinfo has no tmpfs at %s with its options:\n%s", dir, mi);
	if (gethostname(p, 64) || strcmp(p, HOST))
		case_fail("hostname '%s'", p);
	seg = shmat(shm, NULL, SHM_RDONLY);
	if (seg == (void *)-1 || strcmp(seg + 5000, "segment bytes"))
		case_fail("segment %d lost its bytes", shm);
	if (write(go[1], "g", 1) != 1)
		case_fail("write: %s", strerror(errno));
	{
		int status;

		if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			case_fail("PID 2 saw other PIDs or another /proc after the restore");
	}
	case_pass();
}
