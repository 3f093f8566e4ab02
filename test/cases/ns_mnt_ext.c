/*
 * A directory of the host bound into a mount namespace, as runc binds a
 * container's volumes (test/run starts it under unshare --mount and
 * dumps it with --external mnt[MP]:NAME, restores it with --external
 * mnt[NAME]:DIR). The case binds DIR read-only at MP; after the restore
 * MP is that bind again, read-only, with the file DIR holds. With the
 * argument "hold" it keeps an fd of that file open (as runc's container
 * may hold one on its volume): after the restore that fd is the file of
 * the DIR the restore named, at its offset.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define BYTES "bytes of the host\n"

int main(int argc, char **argv)
{
	const char *tmp = getenv("CREST_TMP");
	char host[4096], mp[4096], f[4200], buf[64];
	struct stat a, b;
	int fd, held = -1;
	ssize_t n;

	case_init();
	if (!tmp)
		case_fail("no CREST_TMP");
	snprintf(host, sizeof(host), "%s/host-dir", tmp);
	snprintf(mp, sizeof(mp), "%s/ext", tmp);
	snprintf(f, sizeof(f), "%s/file", host);
	if ((mkdir(host, 0755) && errno != EEXIST) || (mkdir(mp, 0700) && errno != EEXIST))
		case_fail("mkdir: %s", strerror(errno));
	fd = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, BYTES, strlen(BYTES)) != (ssize_t)strlen(BYTES) || close(fd))
		case_fail("can't write %s: %s", f, strerror(errno));
	if (mount(host, mp, NULL, MS_BIND, NULL) ||
	    mount(NULL, mp, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID, NULL))
		case_fail("bind %s on %s: %s", host, mp, strerror(errno));
	if (argc > 1 && !strcmp(argv[1], "hold")) {
		snprintf(f, sizeof(f), "%s/file", mp);
		held = open(f, O_RDONLY);
		if (held < 0 || read(held, buf, 6) != 6)
			case_fail("open %s: %s", f, strerror(errno));
	}

	case_ready();
	case_wait_go();

	snprintf(f, sizeof(f), "%s/file", mp);
	fd = open(f, O_RDONLY);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (n != (ssize_t)strlen(BYTES) || memcmp(buf, BYTES, n))
		case_fail("%s does not hold what the host's holds after the restore: %s", f,
			  strerror(errno));
	close(fd);
	if (stat(mp, &a) || stat(host, &b) || a.st_ino != b.st_ino)
		case_fail("%s is not the host's directory after the restore", mp);
	if (held >= 0) {
		snprintf(f, sizeof(f), "%s/file", host);
		n = read(held, buf, sizeof(buf) - 1);
		if (n != (ssize_t)strlen(BYTES) - 6 || memcmp(buf, BYTES + 6, n))
			case_fail("the fd held on the external mount does not read on from offset 6 after the restore (%zd bytes)",
				  n);
		if (fstat(held, &a) || stat(f, &b) || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
			case_fail("the fd held on the external mount is not %s after the restore", f);
	}
	snprintf(f, sizeof(f), "%s/new", mp);
	if (open(f, O_WRONLY | O_CREAT, 0600) >= 0 || errno != EROFS)
		case_fail("%s: the bind is not read-only after the restore (%s)", mp,
			  strerror(errno));
	case_pass();
}
