/*
 * Unit tests for src/files-lock.c: "lock:" lines of fdinfo and
 * /proc/locks parsed, the locks of an fd turned into FileLockEntry (one
 * per lock, who takes it back), and the lines crest can't restore
 * refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "files.h"
#include "files-lock.h"
#include "image.h"
#include "inventory.pb-c.h"
#include "log.h"
#include "pie-abi.h"
#include "pstree.h"
#include "refuse.h"

static void test_parse(void **state)
{
	struct lock_line l;

	assert_int_equal(lock_parse_line("1: POSIX  ADVISORY  WRITE 808 fe:00:10954189 0 9", &l), 0);
	assert_string_equal(l.kind, "POSIX");
	assert_string_equal(l.mode, "ADVISORY");
	assert_string_equal(l.type, "WRITE");
	assert_int_equal(l.pid, 808);
	assert_int_equal(l.dev_major, 0xfe);
	assert_int_equal(l.dev_minor, 0);
	assert_int_equal(l.ino, 10954189);
	assert_int_equal(l.start, 0);
	assert_int_equal(l.end, 9);
	assert_false(l.pending);

	assert_int_equal(lock_parse_line("3: OFDLCK ADVISORY  READ -1 08:11:7 50 EOF", &l), 0);
	assert_string_equal(l.kind, "OFDLCK");
	assert_int_equal(l.pid, -1);
	assert_int_equal(l.dev_minor, 0x11);
	assert_true(l.end == UINT64_MAX);

	assert_int_equal(lock_parse_line("2: -> FLOCK  ADVISORY  WRITE 24514 fe:00:10954283 0 EOF", &l), 0);
	assert_true(l.pending);
	assert_string_equal(l.kind, "FLOCK");
	assert_int_equal(l.pid, 24514);

	assert_int_equal(lock_parse_line("1: LEASE  ACTIVE    READ 808 fe:00:10954192 0 EOF", &l), 0);
	assert_string_equal(l.mode, "ACTIVE");

	/* Inode-less locks and junk. */
	assert_int_equal(lock_parse_line("1: POSIX  *NOINODE* WRITE 5 <none>:0 0 EOF", &l), -1);
	assert_int_equal(lock_parse_line("POSIX ADVISORY WRITE 1 00:00:1 0 EOF", &l), -1);
	assert_int_equal(lock_parse_line("1: POSIX ADVISORY WRITE 1 00:00:1 9 3", &l), -1);
	assert_int_equal(lock_parse_line("1: POSIX ADVISORY WRITE 1 00:00:1 0", &l), -1);
}

static FdEntry *fd_entry(int fd, FdKind kind, uint32_t id)
{
	FdEntry *e = calloc(1, sizeof(*e));

	fd_entry__init(e);
	e->fd = fd;
	e->kind = kind;
	e->file_id = id;
	e->desc = "/tmp/f";
	return e;
}

static struct pstree_item *item(pid_t pid)
{
	struct pstree_item *it = calloc(1, sizeof(*it));

	it->pid = it->live = pid;
	strcpy(it->stat.comm, "test");
	return it;
}

#define HDR "pos:\t0\nflags:\t02\nmnt_id:\t27\nino:\t5\n"

static void test_dump_dedup(void **state)
{
	struct dump_files df = { 0 };
	struct pstree_item *p = item(100), *c = item(101);
	struct restore_files rf = { 0 };
	struct rst_lock out[4];
	const char *posix = HDR
		"lock:\t1: POSIX  ADVISORY  WRITE 100 fe:00:5 0 9\n"
		"lock:\t2: POSIX  ADVISORY  READ 100 fe:00:5 20 EOF\n";
	const char *fl = HDR "lock:\t1: FLOCK  ADVISORY  WRITE 100 fe:00:6 0 EOF\n";

	/* Two fds of one description in the holder: each lock once. */
	assert_int_equal(locks_dump_fd(&df, p, fd_entry(3, FD_KIND__FD_REG, 1), posix), 0);
	assert_int_equal(locks_dump_fd(&df, p, fd_entry(4, FD_KIND__FD_REG, 1), posix), 0);
	/* A flock seen in the child first, then in its taker, the parent. */
	assert_int_equal(locks_dump_fd(&df, c, fd_entry(7, FD_KIND__FD_REG, 2), fl), 0);
	assert_int_equal(locks_dump_fd(&df, p, fd_entry(5, FD_KIND__FD_REG, 2), fl), 0);

	{
		struct pstree_item *q = item(200);
		const char *one = HDR "lock:\t1: POSIX  ADVISORY  WRITE 200 fe:00:9 10 19\n";

		assert_int_equal(locks_dump_fd(&df, q, fd_entry(3, FD_KIND__FD_REG, 3), one), 0);
	}

	/* Through the image, as the restore reads them. */
	char dir[] = "/tmp/crest-unit-locks-XXXXXX";
	struct img_dir d;
	FileLockEntry **ents;
	int n;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(img_dir_open(&d, dir, true), 0);
	assert_int_equal(locks_write(&df, &d), 0);
	{
		InventoryEntry inv = INVENTORY_ENTRY__INIT;
		struct image *img = img_create(&d, IMG_INVENTORY, 0);

		inv.img_version = IMG_VERSION;
		assert_non_null(img);
		assert_int_equal(img_write_msg(img, &inv.base), 0);
	}
	assert_int_equal(img_commit_set(&d), 0);
	img_dir_close(&d);
	assert_int_equal(img_dir_open(&d, dir, false), 0);
	assert_int_equal(locks_read(&rf, &d), 0);
	img_dir_close(&d);
	{
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	}
	ents = rf.locks;
	n = rf.nr_locks;
	/* three POSIX lines + one flock, the flock its taker's: pid 100, fd 5 */
	assert_int_equal(n, 4);
	assert_int_equal(ents[0]->kind, FILE_LOCK_KIND__LOCK_POSIX);
	assert_int_equal(ents[0]->type, F_WRLCK);
	assert_int_equal(ents[0]->start, 0);
	assert_int_equal(ents[0]->len, 10);
	assert_int_equal(ents[1]->type, F_RDLCK);
	assert_int_equal(ents[1]->start, 20);
	assert_int_equal(ents[1]->len, 0);
	assert_int_equal(ents[2]->kind, FILE_LOCK_KIND__LOCK_FLOCK);
	assert_int_equal(ents[2]->pid, 100);
	assert_int_equal(ents[2]->fd, 5);

	assert_int_equal(locks_fill_posix(&rf, 100, NULL), 2);
	assert_int_equal(locks_fill_posix(&rf, 100, out), 2);
	assert_int_equal(out[0].fd, 3);
	assert_int_equal(out[1].start, 20);
	assert_int_equal(locks_fill_posix(&rf, 101, NULL), 0);
	assert_int_equal(locks_fill_posix(&rf, 200, out), 1);
	assert_int_equal(out[0].len, 10);
	assert_ptr_equal(locks_posix_nth(&rf, 100, 1), ents[1]);
	assert_null(locks_posix_nth(&rf, 100, 2));
}

static void test_dump_refused(void **state)
{
	struct dump_files df = { 0 };
	struct pstree_item *p = item(100);

	log_init(NULL, -1);
	refusals_clear();
	assert_int_equal(locks_dump_fd(&df, p, fd_entry(3, FD_KIND__FD_REG, 1),
		HDR "lock:\t1: DELEG  ACTIVE    READ 100 fe:00:5 0 EOF\n"), 0);
	assert_int_equal(refusals_nr(), 1);
	assert_non_null(strstr(refusal(0), "fd 3 ('/tmp/f') holds an NFS delegation"));
	assert_int_equal(locks_dump_fd(&df, p, fd_entry(3, FD_KIND__FD_REG, 1),
		HDR "lock:\t1: LEASE  BREAKING  UNLCK 100 fe:00:5 0 EOF\n"), 0);
	assert_non_null(strstr(refusal(1), "a lease being broken"));
	assert_int_equal(locks_dump_fd(&df, p, fd_entry(3, FD_KIND__FD_PIPE, 1),
		HDR "lock:\t1: FLOCK  ADVISORY  WRITE 100 fe:00:5 0 EOF\n"), 0);
	assert_non_null(strstr(refusal(2), "a kind of file crest does not reopen"));
	/* A POSIX lock of another fd table (CLONE_FILES between processes). */
	assert_int_equal(locks_dump_fd(&df, p, fd_entry(3, FD_KIND__FD_REG, 1),
		HDR "lock:\t1: POSIX  ADVISORY  WRITE 99 fe:00:5 0 EOF\n"), 0);
	assert_non_null(strstr(refusal(3), "another process sharing its fd table"));
	assert_int_equal(locks_dump_fd(&df, p, fd_entry(3, FD_KIND__FD_REG, 1),
		HDR "lock:\t1: POSIX  ADVISORY  WRITE what\n"), 0);
	assert_non_null(strstr(refusal(4), "a lock crest can't read"));
	assert_int_equal(refusals_nr(), 5);
	/* Every problem of an fd is refused, and a good line still counts. */
	assert_int_equal(locks_dump_fd(&df, p, fd_entry(4, FD_KIND__FD_REG, 2),
		HDR "lock:\t1: DELEG  ACTIVE    READ 100 fe:00:7 0 EOF\n"
		    "lock:\t2: FLOCK  ADVISORY  READ 100 fe:00:6 0 EOF\n"), 0);
	assert_int_equal(refusals_nr(), 6);
	assert_int_equal(df.locks ? 1 : 0, 1);
	assert_int_equal(locks_dump_fd(&df, p, fd_entry(5, FD_KIND__FD_REG, 3),
		HDR), 0);
	assert_int_equal(refusals_nr(), 6);
	refusals_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_dump_dedup),
		cmocka_unit_test(test_dump_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
