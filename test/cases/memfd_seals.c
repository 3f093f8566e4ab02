/*
 * memfds with their flags and seals: one with MFD_ALLOW_SEALING sealed
 * against shrinking and growing, one without sealing (F_SEAL_SEAL), one
 * MFD_NOEXEC_SEAL (mode 0666, F_SEAL_EXEC), and a second open file
 * description of the first, read-only with an offset of its own
 * (/proc/self/fd reopened). After the restore each has its seals, mode,
 * access mode and offset, the seals still hold, the bytes are there and
 * the mtime of the first is the one it had.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL	0x0008U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC	0x0020
#endif

static void check(int fd, const char *what, int seals, mode_t mode, int acc, off_t pos)
{
	struct stat st;
	int s = fcntl(fd, F_GET_SEALS), fl = fcntl(fd, F_GETFL);

	if (s != seals)
		case_fail("%s: seals %#x, want %#x", what, s, seals);
	if (fstat(fd, &st) || (st.st_mode & 07777) != mode)
		case_fail("%s: mode %o, want %o", what, st.st_mode & 07777, mode);
	if ((fl & O_ACCMODE) != acc)
		case_fail("%s: access mode %o, want %o", what, fl & O_ACCMODE, acc);
	if (lseek(fd, 0, SEEK_CUR) != pos)
		case_fail("%s: offset %lld, want %lld", what,
			  (long long)lseek(fd, 0, SEEK_CUR), (long long)pos);
}

int main(void)
{
	struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 4242 } };
	char path[64], buf[16] = "";
	struct stat st;
	int a, b, c, ro;

	case_init();
	a = memfd_create("sealed", MFD_ALLOW_SEALING);
	b = memfd_create("plain", 0);
	c = memfd_create("noexec", MFD_NOEXEC_SEAL);
	if (a < 0 || b < 0)
		case_fail("memfd_create: %s", strerror(errno));
	if (write(a, "0123456789", 10) != 10 || write(b, "b", 1) != 1)
		case_fail("write: %s", strerror(errno));
	if (fcntl(a, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW))
		case_fail("F_ADD_SEALS: %s", strerror(errno));
	if (futimens(a, old))
		case_fail("futimens: %s", strerror(errno));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", a);
	ro = open(path, O_RDONLY);
	if (ro < 0 || lseek(ro, 4, SEEK_SET) != 4)
		case_fail("reopen the memfd: %s", strerror(errno));

	case_ready();
	case_wait_go();

	check(a, "sealed memfd", F_SEAL_SHRINK | F_SEAL_GROW, 0777, O_RDWR, 10);
	if (fstat(a, &st) || st.st_mtim.tv_sec != old[1].tv_sec ||
	    st.st_mtim.tv_nsec != old[1].tv_nsec)
		case_fail("the memfd's mtime is %lld.%09ld, was %lld.%09ld",
			  (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
			  (long long)old[1].tv_sec, old[1].tv_nsec);
	check(b, "memfd without sealing", F_SEAL_SEAL, 0777, O_RDWR, 1);
	if (c >= 0)	/* a kernel before 6.3 has no MFD_NOEXEC_SEAL */
		check(c, "MFD_NOEXEC_SEAL memfd", F_SEAL_EXEC, 0666, O_RDWR, 0);
	check(ro, "read-only description", F_SEAL_SHRINK | F_SEAL_GROW, 0777, O_RDONLY, 4);
	if (read(ro, buf, 3) != 3 || memcmp(buf, "456", 3))
		case_fail("the read-only description read '%s'", buf);
	if (write(ro, "x", 1) != -1)
		case_fail("the read-only description is writable");
	if (ftruncate(a, 20) != -1 || errno != EPERM)
		case_fail("F_SEAL_GROW does not hold");
	if (ftruncate(a, 2) != -1 || errno != EPERM)
		case_fail("F_SEAL_SHRINK does not hold");
	if (pwrite(a, "AB", 2, 0) != 2)
		case_fail("a write inside the sealed memfd: %s", strerror(errno));
	if (pread(ro, buf, 2, 0) != 2 || memcmp(buf, "AB", 2))
		case_fail("the two descriptions are not one memfd");
	if (fcntl(b, F_ADD_SEALS, F_SEAL_WRITE) != -1)
		case_fail("a memfd without MFD_ALLOW_SEALING took a seal");
	case_pass();
}
