/*
 * A deleted file with blocks allocated by fallocate(2) and never written
 * comes back with them allocated, on the test's filesystem (ext4 here:
 * unwritten extents, also one past the end with FALLOC_FL_KEEP_SIZE) and
 * on tmpfs (/dev/shm: pages fallocated and not written), and a memfd so
 * allocated. SEEK_DATA calls those ranges holes on all; they read as
 * zeros. After the restore each file has the size, st_blocks and data
 * ranges it had, and its bytes.
 */
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

#define MIB	(1 << 20)

struct file {
	int fd;
	struct stat st;
	char data[256];
};

static void data_ranges(int fd, char *out, size_t len)
{
	off_t off = 0, d, h;
	size_t at = 0;

	out[0] = 0;
	while ((d = lseek(fd, off, SEEK_DATA)) >= 0) {
		h = lseek(fd, d, SEEK_HOLE);
		at += snprintf(out + at, len - at, "%lld-%lld ", (long long)d, (long long)h);
		if (h < 0 || at >= len)
			break;
		off = h;
	}
}

static void make(struct file *f, const char *dir, int past_end)
{
	char path[PATH_MAX];

	if (dir) {
		snprintf(path, sizeof(path), "%s/crest-falloc-XXXXXX", dir);
		f->fd = mkstemp(path);
	} else {
		snprintf(path, sizeof(path), "memfd:crest-falloc");
		f->fd = memfd_create("crest-falloc", 0);
	}
	if (f->fd < 0 || pwrite(f->fd, "data", 4, 0) != 4 ||
	    fallocate(f->fd, 0, MIB, MIB) || ftruncate(f->fd, 4 * MIB) ||
	    (past_end && fallocate(f->fd, FALLOC_FL_KEEP_SIZE, 8 * MIB, MIB / 4)) ||
	    pwrite(f->fd, "tail", 4, 3 * MIB) != 4 || (dir && unlink(path)))
		case_fail("make '%s': %s", path, strerror(errno));
	fstat(f->fd, &f->st);
	data_ranges(f->fd, f->data, sizeof(f->data));
	if (f->st.st_blocks * 512 < MIB)
		case_fail("'%s': %lld blocks, fallocate allocated nothing",
			  path, (long long)f->st.st_blocks);
}

static void check(struct file *f, const char *where)
{
	char data[256], buf[16], zero[16] = { 0 };
	struct stat st;

	if (fstat(f->fd, &st))
		case_fail("fstat: %s", strerror(errno));
	data_ranges(f->fd, data, sizeof(data));
	if (st.st_size != f->st.st_size || st.st_blocks != f->st.st_blocks)
		case_fail("%s: size %lld, %lld blocks; want %lld, %lld blocks", where,
			  (long long)st.st_size, (long long)st.st_blocks,
			  (long long)f->st.st_size, (long long)f->st.st_blocks);
	if (strcmp(data, f->data))
		case_fail("%s: data at '%s', want '%s'", where, data, f->data);
	if (pread(f->fd, buf, 4, 0) != 4 || memcmp(buf, "data", 4) ||
	    pread(f->fd, buf, 4, 3 * MIB) != 4 || memcmp(buf, "tail", 4) ||
	    pread(f->fd, buf, 16, MIB + 4096) != 16 || memcmp(buf, zero, 16))
		case_fail("%s: its bytes changed", where);
}

int main(void)
{
	struct file disk, shm, mfd;

	case_init();
	make(&disk, case_tmpdir(), 1);
	make(&shm, "/dev/shm", 0);
	make(&mfd, NULL, 0);
	case_ready();
	case_wait_go();
	check(&disk, "the file on disk");
	check(&shm, "the file on tmpfs");
	check(&mfd, "the memfd");
	case_pass();
}
