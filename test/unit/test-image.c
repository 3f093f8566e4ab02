/*
 * Unit tests for src/image.c: write an image set into a temporary directory,
 * read it back, and check that corrupt, truncated and foreign images are
 * refused and that an aborted set leaves the last committed one alone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "image.h"
#include "inventory.pb-c.h"
#include "pstree.pb-c.h"
#include "fdinfo.pb-c.h"

#define ROOT_PID	4242

/* Layout of a metadata image with records: header, then len+crc+payload. */
#define REC0_HDR	IMG_HDR_SIZE
#define REC0_PAYLOAD	(IMG_HDR_SIZE + 8)

/* Standard CRC-32C (Castagnoli), bit by bit: what the image format uses. */
static uint32_t sw_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & -(crc & 1));
	}
	return ~crc;
}

static uint32_t le32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- temporary directory per test ---- */

struct fixture {
	char dir[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/crest-test-image.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	unsetenv("CREST_FAULT");
	return 0;
}

static char *path_in(struct fixture *f, const char *name)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", f->dir, name);
	return buf[i];
}

static bool exists(struct fixture *f, const char *name)
{
	return access(path_in(f, name), F_OK) == 0;
}

static unsigned char *slurp(struct fixture *f, const char *name, size_t *len)
{
	int fd = open(path_in(f, name), O_RDONLY);
	struct stat st;
	unsigned char *buf;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc(st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, st.st_size, 0), st.st_size);
	close(fd);
	*len = st.st_size;
	return buf;
}

static void poke(struct fixture *f, const char *name, off_t off, unsigned char xor)
{
	int fd = open(path_in(f, name), O_RDWR);
	unsigned char c;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= xor;
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

static void cut(struct fixture *f, const char *name, off_t size)
{
	assert_int_equal(truncate(path_in(f, name), size), 0);
}

/* Names in the directory that look like temporary images. */
static int count_tmp(struct fixture *f)
{
	DIR *d = opendir(f->dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] == '.' && strstr(de->d_name, ".tmp"))
			n++;
	closedir(d);
	return n;
}

/* ---- one image set ---- */

struct set_data {
	uint32_t root_pid;
	uint32_t sid;
	const char *path0;	/* path of the first regular file */
	uint64_t pos0;
};

static const struct set_data set_a = { ROOT_PID, 7, "/tmp/a file (with) spaces", 5000000000ull };
static const struct set_data set_b = { ROOT_PID, 8, "/srv/other", 12 };

/* Write inventory, pstree (2 records), files (2 records), fdinfo-PID. */
static void write_set(struct img_dir *d, const struct set_data *s)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	PstreeEntry ps0 = PSTREE_ENTRY__INIT, ps1 = PSTREE_ENTRY__INIT;
	RegFileEntry rf0 = REG_FILE_ENTRY__INIT, rf1 = REG_FILE_ENTRY__INIT;
	FdEntry fd0 = FD_ENTRY__INIT;
	uint32_t pids[] = { s->root_pid, s->root_pid + 1 };
	uint32_t thr0[] = { s->root_pid };
	uint32_t thr1[] = { s->root_pid + 1, s->root_pid + 2 };
	struct image *img;

	img = img_create(d, IMG_INVENTORY, 0);
	assert_non_null(img);
	inv.img_version = IMG_VERSION;
	inv.root_pid = s->root_pid;
	inv.dump_time = 1700000000;
	inv.kernel = "6.18.0-test";
	inv.n_pids = 2;
	inv.pids = pids;
	assert_int_equal(img_write_msg(img, &inv.base), 0);

	img = img_create(d, IMG_PSTREE, 0);
	assert_non_null(img);
	ps0.pid = s->root_pid;
	ps0.ppid = 1;
	ps0.pgid = s->root_pid;
	ps0.sid = s->sid;
	ps0.n_threads = 1;
	ps0.threads = thr0;
	ps1.pid = s->root_pid + 1;
	ps1.ppid = s->root_pid;
	ps1.pgid = s->root_pid;
	ps1.sid = s->sid;
	ps1.n_threads = 2;
	ps1.threads = thr1;
	assert_int_equal(img_write_msg(img, &ps0.base), 0);
	assert_int_equal(img_write_msg(img, &ps1.base), 0);

	img = img_create(d, IMG_FILES, 0);
	assert_non_null(img);
	rf0.id = 1;
	rf0.path = (char *)s->path0;
	rf0.flags = O_RDWR | O_APPEND;
	rf0.pos = s->pos0;
	rf0.size = 6000000000ull;
	rf0.mode = S_IFREG | 0640;
	rf0.has_mtime_ns = 1;
	rf0.mtime_ns = 1700000000123456789ull;
	rf1.id = 2;
	rf1.path = "/dev/null";
	rf1.flags = O_WRONLY;
	rf1.pos = 0;
	rf1.size = 0;
	rf1.mode = S_IFCHR | 0666;
	assert_int_equal(img_write_msg(img, &rf0.base), 0);
	assert_int_equal(img_write_msg(img, &rf1.base), 0);

	img = img_create(d, IMG_FDINFO, s->root_pid);
	assert_non_null(img);
	fd0.fd = 3;
	fd0.kind = FD_KIND__FD_REG;
	fd0.file_id = 1;
	fd0.cloexec = 1;
	fd0.desc = "reg";
	assert_int_equal(img_write_msg(img, &fd0.base), 0);
}

static void commit_set(struct fixture *f, const struct set_data *s)
{
	struct img_dir d;

	assert_int_equal(img_dir_open(&d, f->dir, true), 0);
	write_set(&d, s);
	assert_int_equal(img_commit_set(&d), 0);
	img_dir_close(&d);
}

/* Read pstree.img and files.img back and compare with what write_set wrote. */
static void check_set(struct fixture *f, const struct set_data *s)
{
	struct img_dir d;
	struct image *img;
	InventoryEntry *inv;
	PstreeEntry *ps;
	RegFileEntry *rf;
	FdEntry *fe;
	void *msg;

	assert_int_equal(img_dir_open(&d, f->dir, false), 0);

	inv = img_read_one(&d, IMG_INVENTORY, 0);
	assert_non_null(inv);
	assert_int_equal(inv->img_version, IMG_VERSION);
	assert_int_equal(inv->root_pid, s->root_pid);
	assert_true(inv->dump_time == 1700000000);
	assert_string_equal(inv->kernel, "6.18.0-test");
	assert_int_equal(inv->n_pids, 2);
	assert_int_equal(inv->pids[0], s->root_pid);
	assert_int_equal(inv->pids[1], s->root_pid + 1);
	inventory_entry__free_unpacked(inv, NULL);

	img = img_open(&d, IMG_PSTREE, 0);
	assert_non_null(img);
	assert_int_equal(img->kind, IMG_PSTREE);
	assert_int_equal(img_read_msg(img, &msg), 1);
	ps = msg;
	assert_int_equal(ps->pid, s->root_pid);
	assert_int_equal(ps->ppid, 1);
	assert_int_equal(ps->pgid, s->root_pid);
	assert_int_equal(ps->sid, s->sid);
	assert_int_equal(ps->n_threads, 1);
	assert_int_equal(ps->threads[0], s->root_pid);
	pstree_entry__free_unpacked(ps, NULL);
	assert_int_equal(img_read_msg(img, &msg), 1);
	ps = msg;
	assert_int_equal(ps->pid, s->root_pid + 1);
	assert_int_equal(ps->ppid, s->root_pid);
	assert_int_equal(ps->sid, s->sid);
	assert_int_equal(ps->n_threads, 2);
	assert_int_equal(ps->threads[0], s->root_pid + 1);
	assert_int_equal(ps->threads[1], s->root_pid + 2);
	pstree_entry__free_unpacked(ps, NULL);
	assert_int_equal(img_read_msg(img, &msg), 0);
	assert_null(msg);
	assert_int_equal(img_read_msg(img, &msg), 0);
	img_close(img);

	img = img_open(&d, IMG_FILES, 0);
	assert_non_null(img);
	assert_int_equal(img_read_msg(img, &msg), 1);
	rf = msg;
	assert_int_equal(rf->id, 1);
	assert_string_equal(rf->path, s->path0);
	assert_int_equal(rf->flags, O_RDWR | O_APPEND);
	assert_true(rf->pos == s->pos0);
	assert_true(rf->size == 6000000000ull);
	assert_int_equal(rf->mode, S_IFREG | 0640);
	assert_true(rf->has_mtime_ns);
	assert_true(rf->mtime_ns == 1700000000123456789ull);
	reg_file_entry__free_unpacked(rf, NULL);
	assert_int_equal(img_read_msg(img, &msg), 1);
	rf = msg;
	assert_int_equal(rf->id, 2);
	assert_string_equal(rf->path, "/dev/null");
	assert_int_equal(rf->flags, O_WRONLY);
	assert_int_equal(rf->mode, S_IFCHR | 0666);
	assert_false(rf->has_mtime_ns);
	reg_file_entry__free_unpacked(rf, NULL);
	assert_int_equal(img_read_msg(img, &msg), 0);
	img_close(img);

	fe = img_read_one(&d, IMG_FDINFO, s->root_pid);
	assert_non_null(fe);
	assert_int_equal(fe->fd, 3);
	assert_int_equal(fe->kind, FD_KIND__FD_REG);
	assert_int_equal(fe->file_id, 1);
	assert_true(fe->cloexec);
	assert_string_equal(fe->desc, "reg");
	fd_entry__free_unpacked(fe, NULL);

	img_dir_close(&d);
}

/* ---- tests ---- */

static void test_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct img_dir d;
	char name[64];

	assert_int_equal(img_dir_open(&d, f->dir, true), 0);
	write_set(&d, &set_a);
	/* Before the commit nothing carries its final name. */
	assert_false(exists(f, "inventory.img"));
	assert_false(exists(f, "pstree.img"));
	assert_false(exists(f, "files.img"));
	assert_int_equal(count_tmp(f), 4);
	assert_int_equal(img_commit_set(&d), 0);
	img_dir_close(&d);

	assert_int_equal(count_tmp(f), 0);
	assert_true(exists(f, "inventory.img"));
	assert_true(exists(f, "pstree.img"));
	assert_true(exists(f, "files.img"));
	snprintf(name, sizeof(name), "fdinfo-%d.img", ROOT_PID);
	assert_true(exists(f, name));
	check_set(f, &set_a);
}

/* img_dir_open(create) makes the directory; without create it must exist. */
static void test_dir_open(void **state)
{
	struct fixture *f = *state;
	struct img_dir d;

	assert_int_equal(img_dir_open(&d, path_in(f, "nonexistent"), false), -1);
	assert_int_equal(img_dir_open(&d, path_in(f, "sub"), true), 0);
	img_dir_close(&d);
	assert_true(exists(f, "sub"));
	/* An existing directory is fine with create too. */
	assert_int_equal(img_dir_open(&d, path_in(f, "sub"), true), 0);
	img_dir_close(&d);
}

static void test_file_layout(void **state)
{
	struct fixture *f = *state;
	unsigned char *buf;
	size_t len, rec;

	commit_set(f, &set_a);
	buf = slurp(f, "files.img", &len);
	assert_true(len > REC0_PAYLOAD);
	assert_int_equal(le32(buf), IMG_COMMON_MAGIC);
	assert_memory_equal(buf, "CRST", 4);
	assert_int_equal(le32(buf + 4), img_descs[IMG_FILES].magic);
	assert_int_equal(le32(buf + 8), IMG_VERSION);
	assert_int_equal(le32(buf + 28), sw_crc32c(0, buf, 28));
	rec = le32(buf + REC0_HDR);
	assert_true(REC0_PAYLOAD + rec < len);
	assert_int_equal(le32(buf + REC0_HDR + 4), sw_crc32c(0, buf + REC0_PAYLOAD, rec));
	free(buf);
}

static void test_wrong_kind(void **state)
{
	struct fixture *f = *state;
	struct img_dir d;

	commit_set(f, &set_a);
	assert_int_equal(img_dir_open(&d, f->dir, false), 0);
	assert_null(img_open_path(d.dirfd, d.path, "files.img", IMG_PSTREE));
	/* IMG_NR_KINDS: any kind, found from the header. */
	{
		struct image *img = img_open_path(d.dirfd, d.path, "files.img", IMG_NR_KINDS);

		assert_non_null(img);
		assert_int_equal(img->kind, IMG_FILES);
		img_close(img);
	}
	/* Missing image. */
	assert_null(img_open(&d, IMG_CORE, ROOT_PID));
	img_dir_close(&d);
}

static void test_corrupt_payload(void **state)
{
	struct fixture *f = *state;
	struct img_dir d;
	struct image *img;
	void *msg = (void *)1;

	commit_set(f, &set_a);
	poke(f, "files.img", REC0_PAYLOAD + 3, 0x01);

	assert_int_equal(img_dir_open(&d, f->dir, false), 0);
	img = img_open(&d, IMG_FILES, 0);
	assert_non_null(img);		/* the header is fine */
	assert_int_equal(img_read_msg(img, &msg), -1);
	assert_null(msg);
	img_close(img);
	img_dir_close(&d);
}

static void test_corrupt_second_record(void **state)
{
	struct fixture *f = *state;
	struct img_dir d;
	struct image *img;
	unsigned char *buf;
	size_t len, rec1;
	void *msg;

	commit_set(f, &set_a);
	buf = slurp(f, "pstree.img", &len);
	rec1 = REC0_PAYLOAD + le32(buf + REC0_HDR);
	free(buf);
	/* The last byte of the second record's payload. */
	poke(f, "pstree.img", len - 1, 0x80);

	assert_int_equal(img_dir_open(&d, f->dir, false), 0);
	img = img_open(&d, IMG_PSTREE, 0);
	assert_non_null(img);
	assert_int_equal(img_read_msg(img, &msg), 1);
	pstree_entry__free_unpacked(msg, NULL);
	assert_int_equal(img->off, rec1);
	assert_int_equal(img_read_msg(img, &msg), -1);
	assert_null(msg);
	img_close(img);
	img_dir_close(&d);
}

static void test_corrupt_record_header(void **state)
{
	struct fixture *f = *state;
	struct img_dir d;
	struct image *img;
	void *msg;

	commit_set(f, &set_a);
	/* The stored checksum. */
	poke(f, "files.img", REC0_HDR + 4, 0x10);
	assert_int_equal(img_dir_open(&d, f->dir, false), 0);
	img = img_open(&d, IMG_FILES, 0);
	assert_non_null(img);
	assert_int_equal(img_read_msg(img, &msg), -1);
	img_close(img);

	/* A huge length. */
	poke(f, "files.img", REC0_HDR + 4, 0x10);
	poke(f, "files.img", REC0_HDR + 3, 0x40);
	img = img_open(&d, IMG_FILES, 0);
	assert_non_null(img);
	assert_int_equal(img_read_msg(img, &msg), -1);
	img_close(img);
	img_dir_close(&d);
}

static void test_truncated(void **state)
{
	struct fixture *f = *state;
	struct img_dir d;
	struct image *img;
	unsigned char *buf;
	size_t len, rec;
	void *msg;

	commit_set(f, &set_a);
	buf = slurp(f, "files.img", &len);
	rec = le32(buf + REC0_HDR);
	free(buf);
	assert_int_equal(img_dir_open(&d, f->dir, false), 0);

	/* In the middle of the first record's payload. */
	cut(f, "files.img", REC0_PAYLOAD + rec / 2);
	img = img_open(&d, IMG_FILES, 0);
	assert_non_null(img);
	assert_int_equal(img_read_msg(img, &msg), -1);
	assert_null(msg);
	img_close(img);

	/* One byte short of the first record. */
	cut(f, "files.img", REC0_PAYLOAD + rec - 1);
	img = img_open(&d, IMG_FILES, 0);
	assert_non_null(img);
	assert_int_equal(img_read_msg(img, &msg), -1);
	img_close(img);

	/* In the middle of a record header. */
	cut(f, "files.img", REC0_HDR + 5);
	img = img_open(&d, IMG_FILES, 0);
	assert_non_null(img);
	assert_int_equal(img_read_msg(img, &msg), -1);
	img_close(img);

	/* Only the header: an empty image, not an error for img_read_msg... */
	cut(f, "files.img", IMG_HDR_SIZE);
	img = img_open(&d, IMG_FILES, 0);
	assert_non_null(img);
	assert_int_equal(img_read_msg(img, &msg), 0);
	img_close(img);
	/* ...but img_read_one wants a record. */
	assert_null(img_read_one(&d, IMG_FILES, 0));

	/* In the middle of the file header. */
	cut(f, "files.img", IMG_HDR_SIZE - 1);
	assert_null(img_open(&d, IMG_FILES, 0));
	cut(f, "files.img", 0);
	assert_null(img_open(&d, IMG_FILES, 0));
	img_dir_close(&d);
}

static void test_bad_header(void **state)
{
	struct fixture *f = *state;
	struct img_dir d;

	commit_set(f, &set_a);
	assert_int_equal(img_dir_open(&d, f->dir, false), 0);

	poke(f, "pstree.img", 0, 0x20);		/* "cRST" */
	assert_null(img_open(&d, IMG_PSTREE, 0));
	poke(f, "pstree.img", 0, 0x20);
	{
		PstreeEntry *ps = img_read_one(&d, IMG_PSTREE, 0);

		assert_non_null(ps);		/* put back: fine again */
		pstree_entry__free_unpacked(ps, NULL);
	}

	/* Any changed header byte: kind magic, version, checksum. */
	for (int off = 4; off < IMG_HDR_SIZE; off += 4) {
		struct image *img;

		poke(f, "pstree.img", off, 0x01);
		assert_null(img_open(&d, IMG_PSTREE, 0));
		poke(f, "pstree.img", off, 0x01);
		img = img_open(&d, IMG_PSTREE, 0);
		assert_non_null(img);
		img_close(img);
	}
	img_dir_close(&d);
}

static void test_header_roundtrip(void **state)
{
	static const uint8_t id[IMG_ID_SIZE] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
						 11, 12, 13, 14, 15, 16 };
	unsigned char hdr[IMG_HDR_SIZE];
	uint8_t got[IMG_ID_SIZE];
	char why[128];
	uint32_t magic;

	for (int k = 0; k < IMG_NR_KINDS; k++) {
		img_make_header(hdr, img_descs[k].magic, id);
		assert_memory_equal(hdr, "CRST", 4);
		assert_int_equal(le32(hdr + 4), img_descs[k].magic);
		assert_int_equal(le32(hdr + 8), IMG_VERSION);
		assert_memory_equal(hdr + 12, id, IMG_ID_SIZE);
		assert_int_equal(le32(hdr + 28), sw_crc32c(0, hdr, 28));
		magic = 0;
		memset(got, 0, sizeof(got));
		assert_int_equal(img_check_header(hdr, sizeof(hdr), &magic, got, why, sizeof(why)), 0);
		assert_memory_equal(got, id, IMG_ID_SIZE);
		assert_int_equal(magic, img_descs[k].magic);
		assert_ptr_equal(img_desc_by_magic(magic), &img_descs[k]);

		/* Every single-bit error is caught. */
		for (int bit = 0; bit < IMG_HDR_SIZE * 8; bit++) {
			hdr[bit / 8] ^= 1 << (bit % 8);
			why[0] = 0;
			assert_int_equal(img_check_header(hdr, sizeof(hdr), &magic,
							  NULL, why, sizeof(why)), -1);
			assert_true(why[0] != 0);
			hdr[bit / 8] ^= 1 << (bit % 8);
		}
		/* Too short. */
		assert_int_equal(img_check_header(hdr, IMG_HDR_SIZE - 1, &magic,
						  NULL, why, sizeof(why)), -1);
		assert_int_equal(img_check_header(hdr, 0, &magic, NULL, why, sizeof(why)), -1);
	}

	/* A well-formed header of another version is refused, and says so. */
	img_make_header(hdr, img_descs[IMG_CORE].magic, id);
	hdr[8] = IMG_VERSION + 1;
	{
		uint32_t crc = sw_crc32c(0, hdr, 28);

		hdr[28] = crc;
		hdr[29] = crc >> 8;
		hdr[30] = crc >> 16;
		hdr[31] = crc >> 24;
	}
	why[0] = 0;
	assert_int_equal(img_check_header(hdr, sizeof(hdr), &magic, NULL, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "version"));

	/* A version 2 header (16 bytes, checksum at 12) says its version. */
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, "CRST", 4);
	hdr[4] = img_descs[IMG_CORE].magic;
	hdr[5] = img_descs[IMG_CORE].magic >> 8;
	hdr[6] = img_descs[IMG_CORE].magic >> 16;
	hdr[7] = img_descs[IMG_CORE].magic >> 24;
	hdr[8] = 2;
	{
		uint32_t crc = sw_crc32c(0, hdr, 12);

		hdr[12] = crc;
		hdr[13] = crc >> 8;
		hdr[14] = crc >> 16;
		hdr[15] = crc >> 24;
	}
	why[0] = 0;
	assert_int_equal(img_check_header(hdr, 16, &magic, NULL, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "image version 2"));

	/* SHA-256 of "abc" (FIPS 180-2). */
	{
		static const uint8_t want[IMG_HASH_SIZE] = {
			0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
			0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
			0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
			0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad };
		uint8_t h[IMG_HASH_SIZE];
		FILE *t = tmpfile();

		assert_non_null(t);
		assert_int_equal(fwrite("abc", 1, 3, t), 3);
		fflush(t);
		assert_int_equal(img_sha256_fd(fileno(t), h), 0);
		assert_memory_equal(h, want, IMG_HASH_SIZE);
		fclose(t);
	}

	/* The reference check value of CRC-32C. */
	assert_int_equal(sw_crc32c(0, "123456789", 9), 0xe3069283);

	/* Kind magics are distinct and unknown ones are not found. */
	for (int i = 0; i < IMG_NR_KINDS; i++)
		for (int j = i + 1; j < IMG_NR_KINDS; j++)
			assert_int_not_equal(img_descs[i].magic, img_descs[j].magic);
	assert_null(img_desc_by_magic(0));
	assert_null(img_desc_by_magic(IMG_COMMON_MAGIC));
}

/* A set as dump writes it: the files, then the inventory listing them. */
static void commit_listed(const char *dir, pid_t pid, const char *path)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	PstreeEntry ps = PSTREE_ENTRY__INIT;
	RegFileEntry rf = REG_FILE_ENTRY__INIT;
	uint32_t pids[] = { pid }, thr[] = { pid };
	struct img_dir d;
	struct image *img;

	assert_int_equal(img_dir_open(&d, dir, true), 0);
	img = img_create(&d, IMG_PSTREE, 0);
	assert_non_null(img);
	ps.pid = pid;
	ps.n_threads = 1;
	ps.threads = thr;
	assert_int_equal(img_write_msg(img, &ps.base), 0);
	img = img_create(&d, IMG_FDINFO, pid);
	assert_non_null(img);
	rf.id = 1;
	rf.path = (char *)path;
	rf.mode = S_IFREG | 0600;
	assert_int_equal(img_write_msg(img, &rf.base), 0);
	img = img_create(&d, IMG_INVENTORY, 0);
	assert_non_null(img);
	inv.img_version = IMG_VERSION;
	inv.root_pid = pid;
	inv.kernel = "6.18.0-test";
	inv.n_pids = 1;
	inv.pids = pids;
	assert_int_equal(img_list_files(&d, &inv), 0);
	assert_int_equal(inv.n_files, 2);
	assert_int_equal(img_write_msg(img, &inv.base), 0);
	img_free_list(&inv);
	assert_int_equal(img_commit_set(&d), 0);
	img_dir_close(&d);
}

/* 0: the set in dir verifies; -1: refused. */
static int verify(const char *dir)
{
	struct img_dir d;
	struct image *img;
	void *msg = NULL;
	int ret = -1;

	assert_int_equal(img_dir_open(&d, dir, false), 0);
	img = img_open(&d, IMG_INVENTORY, 0);
	if (img && img_read_msg(img, &msg) == 1)
		ret = img_verify_set(&d, img, msg);
	if (ret == 0) {
		/* Opened later, a file is checked against the set's id. */
		struct image *ps = img_open(&d, IMG_PSTREE, 0);

		ret = ps ? 0 : -1;
		img_close(ps);
	}
	if (msg)
		inventory_entry__free_unpacked(msg, NULL);
	img_close(img);
	img_dir_close(&d);
	return ret;
}

static void copy_file(const char *from, const char *to)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	assert_int_equal(system(cmd), 0);
}

/* Identity and hashes: what is not the inventory's own is refused. */
static void test_set_identity(void **state)
{
	struct fixture *f = *state;
	char other[64], a[160], b[160];

	strcpy(other, "/tmp/crest-test-image-b.XXXXXX");
	assert_non_null(mkdtemp(other));
	commit_listed(f->dir, 100, "/a");
	commit_listed(other, 100, "/b");	/* same names, same sizes */
	assert_int_equal(verify(f->dir), 0);
	assert_int_equal(verify(other), 0);

	/* Another dump's file of the same name and size. */
	snprintf(a, sizeof(a), "%s/fdinfo-100.img", f->dir);
	snprintf(b, sizeof(b), "%s/fdinfo-100.img", other);
	copy_file(a, "/tmp/crest-test-image-saved.img");
	copy_file(b, a);
	assert_int_equal(verify(f->dir), -1);
	copy_file("/tmp/crest-test-image-saved.img", a);
	assert_int_equal(verify(f->dir), 0);

	/* A payload byte changed, its record checksum would match: the hash. */
	poke(f, "fdinfo-100.img", IMG_HDR_SIZE + 8 + 3, 0x01);
	assert_int_equal(verify(f->dir), -1);
	poke(f, "fdinfo-100.img", IMG_HDR_SIZE + 8 + 3, 0x01);
	assert_int_equal(verify(f->dir), 0);

	/* A byte more: the size. */
	{
		int fd = open(a, O_WRONLY | O_APPEND);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, "", 1), 1);
		close(fd);
		assert_int_equal(verify(f->dir), -1);
		cut(f, "fdinfo-100.img", 0);
		copy_file("/tmp/crest-test-image-saved.img", a);
		assert_int_equal(verify(f->dir), 0);
	}

	/* Missing. */
	assert_int_equal(unlink(a), 0);
	assert_int_equal(verify(f->dir), -1);
	copy_file("/tmp/crest-test-image-saved.img", a);
	assert_int_equal(verify(f->dir), 0);

	/* An extra image of a process not in the set. */
	snprintf(a, sizeof(a), "%s/core-777.img", f->dir);
	copy_file(b, a);
	assert_int_equal(verify(f->dir), -1);

	/* A new dump into the directory removes it: not its file. */
	commit_listed(f->dir, 100, "/a");
	assert_int_equal(access(a, F_OK), -1);
	assert_int_equal(verify(f->dir), 0);

	/* A symlink in place of a file is not followed. */
	snprintf(a, sizeof(a), "%s/pstree.img", f->dir);
	snprintf(b, sizeof(b), "%s/pstree.img", other);
	assert_int_equal(unlink(a), 0);
	assert_int_equal(symlink(b, a), 0);
	assert_int_equal(verify(f->dir), -1);

	unlink("/tmp/crest-test-image-saved.img");
	nftw(other, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Commit set A, then write set B and abort: A is byte-for-byte as it was. */
static void test_abort_keeps_old_set(void **state)
{
	static const char *names[] = { "inventory.img", "pstree.img", "files.img" };
	struct fixture *f = *state;
	unsigned char *before[3], *after;
	size_t len[3], alen;
	struct img_dir d;

	commit_set(f, &set_a);
	for (int i = 0; i < 3; i++)
		before[i] = slurp(f, names[i], &len[i]);

	assert_int_equal(img_dir_open(&d, f->dir, true), 0);
	write_set(&d, &set_b);
	assert_int_equal(count_tmp(f), 4);
	img_abort_set(&d);
	img_dir_close(&d);

	assert_int_equal(count_tmp(f), 0);
	for (int i = 0; i < 3; i++) {
		after = slurp(f, names[i], &alen);
		assert_int_equal(alen, len[i]);
		assert_memory_equal(after, before[i], len[i]);
		free(after);
		free(before[i]);
	}
	check_set(f, &set_a);
}

/* A set that is never committed nor aborted doesn't disturb A either. */
static void test_uncommitted_set_invisible(void **state)
{
	struct fixture *f = *state;
	struct img_dir d;

	commit_set(f, &set_a);
	assert_int_equal(img_dir_open(&d, f->dir, true), 0);
	write_set(&d, &set_b);
	check_set(f, &set_a);
	img_abort_set(&d);
	img_dir_close(&d);
}

/* Committing set B over set A replaces it. */
static void test_commit_replaces(void **state)
{
	struct fixture *f = *state;

	commit_set(f, &set_a);
	commit_set(f, &set_b);
	assert_int_equal(count_tmp(f), 0);
	check_set(f, &set_b);
}

static void test_write_fault(void **state)
{
	struct fixture *f = *state;
	PstreeEntry ps = PSTREE_ENTRY__INIT;
	struct img_dir d;
	struct image *img;

	assert_int_equal(img_dir_open(&d, f->dir, true), 0);
	img = img_create(&d, IMG_PSTREE, 0);
	assert_non_null(img);
	setenv("CREST_FAULT", "other,image-write", 1);
	assert_int_equal(img_write_msg(img, &ps.base), -1);
	unsetenv("CREST_FAULT");
	assert_int_equal(img_write_msg(img, &ps.base), 0);
	img_abort_set(&d);
	img_dir_close(&d);
	assert_int_equal(count_tmp(f), 0);
}

/* A pages image: header padded to IMG_PAGES_OFF, then raw pages. */
static void test_pages_image(void **state)
{
	struct fixture *f = *state;
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	unsigned char page[4096], back[4096];
	struct img_dir d;
	struct image *img;

	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = i * 7 + 3;
	assert_int_equal(img_dir_open(&d, f->dir, true), 0);
	img = img_create(&d, IMG_INVENTORY, 0);
	assert_non_null(img);
	inv.kernel = "k";
	assert_int_equal(img_write_msg(img, &inv.base), 0);
	img = img_create(&d, IMG_PAGES, ROOT_PID);
	assert_non_null(img);
	assert_int_equal(img->off, IMG_PAGES_OFF);
	assert_int_equal(pwrite(img->fd, page, sizeof(page), IMG_PAGES_OFF), sizeof(page));
	assert_int_equal(img_commit_set(&d), 0);
	img_dir_close(&d);

	assert_int_equal(img_dir_open(&d, f->dir, false), 0);
	img = img_open(&d, IMG_PAGES, ROOT_PID);
	assert_non_null(img);
	assert_int_equal(img->kind, IMG_PAGES);
	assert_int_equal(img->off, IMG_PAGES_OFF);
	assert_int_equal(img->size, IMG_PAGES_OFF + sizeof(page));
	assert_true(img->fd >= 0);
	assert_int_equal(pread(img->fd, back, sizeof(back), IMG_PAGES_OFF), sizeof(back));
	assert_memory_equal(back, page, sizeof(page));
	img_close(img);

	/* Cut into the padding: refused. */
	{
		char name[64];

		snprintf(name, sizeof(name), "pages-%d.img", ROOT_PID);
		cut(f, name, IMG_PAGES_OFF - 1);
	}
	assert_null(img_open(&d, IMG_PAGES, ROOT_PID));
	img_dir_close(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_kind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_payload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_second_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_record_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_header, setup, teardown),
		cmocka_unit_test(test_header_roundtrip),
		cmocka_unit_test_setup_teardown(test_abort_keeps_old_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uncommitted_set_invisible, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_replaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_fault, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pages_image, setup, teardown),
	};

	return cmocka_run_group_tests_name("image", tests, NULL, NULL);
}
