/* A deleted sparse file comes back as it was: 1 GiB with two written
 * blocks and a hole to the end, its owner, mode (set-gid too), atime and
 * mtime, the same holes (SEEK_DATA/SEEK_HOLE) and st_blocks, its data.
 * Two descriptions of it (the second opened through /proc/self/fd) are
 * one inode again: a write through one is read through the other, and
 * each keeps its offset and access mode. test/run checks that the image
 * holds only the data (a few blocks, not 1 GiB). */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIZE	(1ULL << 30)
#define BLK	4096
#define OFF2	(512ULL << 20)
#define MAXR	16

struct map { int n; off_t r[MAXR][2]; };

/* Through a description of its own: the fds keep their offsets. */
static void data_map(int of, struct map *m)
{
	char proc[64];
	off_t off = 0, d, h;
	int fd;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", of);
	fd = open(proc, O_RDONLY);
	if (fd < 0)
		case_fail("open %s: %s", proc, strerror(errno));
	m->n = 0;
	while ((d = lseek(fd, off, SEEK_DATA)) >= 0 && m->n < MAXR) {
		h = lseek(fd, d, SEEK_HOLE);
		if (h < 0)
			case_fail("SEEK_HOLE: %s", strerror(errno));
		m->r[m->n][0] = d;
		m->r[m->n++][1] = h;
		off = h;
	}
	if (d < 0 && errno != ENXIO)
		case_fail("SEEK_DATA: %s", strerror(errno));
	close(fd);
}

static void fill(char *b, char c)
{
	for (int i = 0; i < BLK; i++)
		b[i] = c + i % 23;
}

int main(void)
{
	struct timespec ts[2] = { { 1000000000, 123456789 }, { 1100000000, 500000000 } };
	char path[PATH_MAX], proc[64], a[BLK], b[BLK], got[BLK];
	struct stat before, st, st2;
	struct map mb, ma;
	int fd, fd2;

	case_init();
	snprintf(path, sizeof(path), "%s/crest-sparse-XXXXXX", case_tmpdir());
	fd = mkstemp(path);
	fill(a, 'a');
	fill(b, 'K');
	if (fd < 0 || pwrite(fd, a, BLK, 0) != BLK || pwrite(fd, b, BLK, OFF2) != BLK ||
	    ftruncate(fd, SIZE) || fsync(fd))
		case_fail("make %s: %s", path, strerror(errno));
	/* chown first: it clears set-gid. */
	if (fchown(fd, 1234, 4321) || fchmod(fd, 02640) || futimens(fd, ts))
		case_fail("give %s its owner, mode, times: %s", path, strerror(errno));
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	fd2 = open(proc, O_RDONLY);
	if (fd2 < 0 || lseek(fd, 100, SEEK_SET) != 100 ||
	    lseek(fd2, OFF2 + 7, SEEK_SET) != (off_t)OFF2 + 7 || unlink(path))
		case_fail("second description of %s: %s", path, strerror(errno));
	if (fstat(fd, &before))
		case_fail("fstat: %s", strerror(errno));
	data_map(fd, &mb);
	if (mb.n != 2)
		case_fail("the file has %d data ranges before the dump, want 2 "
			  "(no holes on %s?)", mb.n, case_tmpdir());

	case_ready();
	case_wait_go();

	if (fstat(fd, &st) || fstat(fd2, &st2))
		case_fail("fstat after the restore: %s", strerror(errno));
	if (st.st_ino != st2.st_ino || st.st_dev != st2.st_dev)
		case_fail("the two descriptions are inodes %lu and %lu, not one",
			  (unsigned long)st.st_ino, (unsigned long)st2.st_ino);
	if (st.st_nlink != 0)
		case_fail("the file has %lu links, not deleted", (unsigned long)st.st_nlink);
	if (st.st_size != before.st_size || st.st_uid != 1234 || st.st_gid != 4321 ||
	    st.st_mode != before.st_mode)
		case_fail("size %lld owner %u:%u mode %o, want %lld 1234:4321 %o",
			  (long long)st.st_size, st.st_uid, st.st_gid, st.st_mode,
			  (long long)before.st_size, before.st_mode);
	if (st.st_mtim.tv_sec != ts[1].tv_sec || st.st_mtim.tv_nsec != ts[1].tv_nsec ||
	    st.st_atim.tv_sec != before.st_atim.tv_sec ||
	    st.st_atim.tv_nsec != before.st_atim.tv_nsec)
		case_fail("mtime %ld.%09ld atime %ld.%09ld, want %ld.%09ld and %ld.%09ld",
			  st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_atim.tv_sec,
			  st.st_atim.tv_nsec, ts[1].tv_sec, ts[1].tv_nsec,
			  before.st_atim.tv_sec, before.st_atim.tv_nsec);
	if (st.st_blocks != before.st_blocks)
		case_fail("st_blocks %lld, %lld before the dump: holes filled?",
			  (long long)st.st_blocks, (long long)before.st_blocks);
	data_map(fd, &ma);
	if (ma.n != mb.n || memcmp(ma.r, mb.r, sizeof(ma.r[0]) * mb.n))
		case_fail("data ranges: %d after (first %lld-%lld), %d before (%lld-%lld)",
			  ma.n, (long long)ma.r[0][0], (long long)ma.r[0][1], mb.n,
			  (long long)mb.r[0][0], (long long)mb.r[0][1]);
	if (pread(fd, got, BLK, 0) != BLK || memcmp(got, a, BLK) ||
	    pread(fd2, got, BLK, OFF2) != BLK || memcmp(got, b, BLK))
		case_fail("the data blocks differ");
	if (pread(fd, got, BLK, OFF2 + BLK) != BLK || got[0] || memcmp(got, got + 1, BLK - 1))
		case_fail("a hole reads other than zeros");
	if (lseek(fd, 0, SEEK_CUR) != 100 || lseek(fd2, 0, SEEK_CUR) != (off_t)OFF2 + 7)
		case_fail("offsets %lld and %lld, want 100 and %lld",
			  (long long)lseek(fd, 0, SEEK_CUR), (long long)lseek(fd2, 0, SEEK_CUR),
			  (long long)OFF2 + 7);
	if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDWR ||
	    (fcntl(fd2, F_GETFL) & O_ACCMODE) != O_RDONLY)
		case_fail("access modes %#o and %#o, want O_RDWR and O_RDONLY",
			  fcntl(fd, F_GETFL), fcntl(fd2, F_GETFL));
	if (pwrite(fd, "shared", 6, 10) != 6 || pread(fd2, got, 6, 10) != 6 ||
	    memcmp(got, "shared", 6))
		case_fail("a write through one description is not read through the other");
	case_pass();
}
