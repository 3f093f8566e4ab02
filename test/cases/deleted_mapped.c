/* Deleted files mapped, each one inode after the restore as before:
 *  - B, held by an fd and mapped shared twice at different offsets (page
 *    0, pages 2-3) and privately at page 1 with a copy-on-write page;
 *  - C, only mapped, shared, twice with a page in common (pages 0-1 and
 *    1-2): a write through one mapping is read through the other.
 * After the restore every mapping and the fd are the same inode (their
 * /proc/self/map_files links), writes through a shared mapping are read
 * through the fd and the other mapping, the private page keeps what the
 * program wrote and the file does not see it. */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PG	4096

static ino_t map_ino(void *p, size_t len)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
		 (unsigned long)p, (unsigned long)p + len);
	if (stat(path, &st))
		case_fail("stat %s: %s", path, strerror(errno));
	if (st.st_nlink)
		case_fail("%s has %lu links: not deleted", path, (unsigned long)st.st_nlink);
	return st.st_ino;
}

static int make(const char *name, int pages, char *path)
{
	char buf[PG];
	int fd;

	snprintf(path, PATH_MAX, "%s/crest-%s-XXXXXX", case_tmpdir(), name);
	fd = mkstemp(path);
	if (fd < 0)
		case_fail("mkstemp %s: %s", path, strerror(errno));
	for (int i = 0; i < pages; i++) {
		memset(buf, 'A' + i, PG);
		if (write(fd, buf, PG) != PG)
			case_fail("write %s: %s", path, strerror(errno));
	}
	return fd;
}

int main(void)
{
	char pb[PATH_MAX], pc[PATH_MAX], got[16];
	char *b0, *b2, *bp, *c01, *c12;
	struct stat st;
	int fb, fc;

	case_init();
	fb = make("delmb", 4, pb);
	fc = make("delmc", 3, pc);
	b0 = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fb, 0);
	b2 = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fb, 2 * PG);
	bp = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fb, PG);
	c01 = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fc, 0);
	c12 = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fc, PG);
	if (b0 == MAP_FAILED || b2 == MAP_FAILED || bp == MAP_FAILED ||
	    c01 == MAP_FAILED || c12 == MAP_FAILED)
		case_fail("mmap: %s", strerror(errno));
	memcpy(b0, "b0 before", 9);
	memcpy(b2 + PG, "b3 before", 9);
	memcpy(bp, "private", 7);	/* a copy-on-write page */
	memcpy(c01 + PG, "c1 before", 9);
	close(fc);
	if (unlink(pb) || unlink(pc))
		case_fail("unlink: %s", strerror(errno));

	case_ready();
	case_wait_go();

	if (fstat(fb, &st))
		case_fail("fstat: %s", strerror(errno));
	if (map_ino(b0, PG) != st.st_ino || map_ino(b2, 2 * PG) != st.st_ino ||
	    map_ino(bp, PG) != st.st_ino)
		case_fail("B's mappings are inodes %lu %lu %lu, its fd %lu",
			  (unsigned long)map_ino(b0, PG), (unsigned long)map_ino(b2, 2 * PG),
			  (unsigned long)map_ino(bp, PG), (unsigned long)st.st_ino);
	if (map_ino(c01, 2 * PG) != map_ino(c12, 2 * PG))
		case_fail("C's two mappings are two inodes");
	if (memcmp(b0, "b0 before", 9) || memcmp(b2 + PG, "b3 before", 9) ||
	    b2[0] != 'C' || memcmp(bp, "private", 7) || bp[7] != 'B' ||
	    memcmp(c12, "c1 before", 9) || c01[0] != 'A' || c12[PG] != 'C')
		case_fail("the mappings hold other bytes than before the dump");
	if (pread(fb, got, 9, 0) != 9 || memcmp(got, "b0 before", 9) ||
	    pread(fb, got, 9, 3 * PG) != 9 || memcmp(got, "b3 before", 9))
		case_fail("the fd does not read what the shared mappings wrote");
	if (pread(fb, got, 7, PG) != 7 || memcmp(got, "BBBBBBB", 7))
		case_fail("the file holds the private page's bytes");
	memcpy(b2, "b2 after", 8);
	memcpy(c01 + PG, "c1 after", 8);
	if (pread(fb, got, 8, 2 * PG) != 8 || memcmp(got, "b2 after", 8))
		case_fail("a write through B's mapping is not read through its fd");
	if (memcmp(c12, "c1 after", 8))
		case_fail("a write through one mapping of C is not read through the other");
	case_pass();
}
