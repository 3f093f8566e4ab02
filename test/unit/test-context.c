/*
 * Unit tests for src/context.c: pack an image directory into a context
 * file or a pipe, unpack it again and compare; the replacement policies
 * (atomic, backup, clobber, noclobber) and corrupt streams refused.
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
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "context.h"
#include "log.h"
#include "opts.h"

#define BIG_SIZE	(3 * 1024 * 1024 + 123)	/* > the 1 MiB copy buffer, > a pipe */

/* The images of the source directory: name, size; contents from fill(). */
static const struct { const char *name; size_t size; } images[] = {
	{ "core-1.img", 4096 },
	{ "empty.img", 0 },
	{ "pages-1.img", BIG_SIZE },
	{ "inventory.img", 77 },	/* not last made: must still go last */
	{ "mm-1.img", 1 },
};
#define NR_IMAGES	(sizeof(images) / sizeof(images[0]))

struct fixture {
	char base[64];		/* TMPDIR for the test too */
	char src[96];		/* the image directory to pack */
	char ctx[96];		/* the context file */
	char *saved_tmpdir;
};

static void fill(unsigned char *buf, size_t size, unsigned int seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < size; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = x >> 16;
	}
}

static void write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* The whole file, or NULL (errno set) if it can't be read. */
static unsigned char *slurp(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *buf;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc(st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, st.st_size), st.st_size);
	close(fd);
	*len = st.st_size;
	return buf;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *t = getenv("TMPDIR");

	if (!f)
		return -1;
	strcpy(f->base, "/tmp/crest-test-context.XXXXXX");
	if (!mkdtemp(f->base)) {
		free(f);
		return -1;
	}
	snprintf(f->src, sizeof(f->src), "%s/src", f->base);
	snprintf(f->ctx, sizeof(f->ctx), "%s/ctx", f->base);
	if (mkdir(f->src, 0700))
		return -1;
	for (size_t i = 0; i < NR_IMAGES; i++) {
		char path[160];
		unsigned char *buf = malloc(images[i].size + 1);

		fill(buf, images[i].size, i);
		snprintf(path, sizeof(path), "%s/%s", f->src, images[i].name);
		write_file(path, buf, images[i].size, 0600);
		free(buf);
	}
	f->saved_tmpdir = t ? strdup(t) : NULL;
	setenv("TMPDIR", f->base, 1);
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

	nftw(f->base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if (f->saved_tmpdir)
		setenv("TMPDIR", f->saved_tmpdir, 1);
	else
		unsetenv("TMPDIR");
	free(f->saved_tmpdir);
	free(f);
	unsetenv("CREST_FAULT");
	return 0;
}

static struct options opts_file(const char *file, int replace)
{
	struct options o;

	opts_defaults(&o);
	o.file = file;
	o.fd = -1;
	o.replace = replace;
	return o;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* How many entries of dir start with prefix. */
static int count_prefixed(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, prefix, strlen(prefix)))
			n++;
	closedir(d);
	return n;
}

/* dir holds exactly the source images, byte for byte. */
static void check_unpacked(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t seen = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		char path[512];
		unsigned char *got, *want;
		size_t len, i;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		for (i = 0; i < NR_IMAGES; i++)
			if (!strcmp(de->d_name, images[i].name))
				break;
		if (i == NR_IMAGES)
			fail_msg("unexpected file '%s' unpacked", de->d_name);
		seen++;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		got = slurp(path, &len);
		assert_non_null(got);
		assert_int_equal(len, images[i].size);
		want = malloc(images[i].size + 1);
		fill(want, images[i].size, i);
		assert_memory_equal(got, want, len);
		free(got);
		free(want);
	}
	closedir(d);
	assert_int_equal(seen, NR_IMAGES);
}

/* Unpack o's source, check it, remove the staging directory. */
static void unpack_and_check(struct fixture *f, const struct options *o)
{
	char *dir = context_unpack(o);

	assert_non_null(dir);
	/* A staging directory under TMPDIR. */
	assert_int_equal(strncmp(dir, f->base, strlen(f->base)), 0);
	assert_non_null(strstr(dir, "/.crest-restore."));
	check_unpacked(dir);
	context_remove_dir(dir);
	assert_false(exists(dir));
	free(dir);
	assert_int_equal(count_prefixed(f->base, ".crest-restore."), 0);
}

static uint16_t le16(const unsigned char *p) { return p[0] | p[1] << 8; }
static uint32_t le32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const unsigned char *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* The stream's layout, as context.h documents it. */
static void check_layout(const unsigned char *buf, size_t len)
{
	size_t off = 12, nr = 0;
	uint64_t total = 0;
	const char *last = NULL;

	assert_true(len >= 22);
	assert_memory_equal(buf, "CRESTCTX", 8);
	assert_int_equal(le32(buf + 8), 1);
	for (;;) {
		uint16_t nl;
		uint64_t size;
		size_t i;

		assert_true(off + 2 <= len);
		nl = le16(buf + off);
		if (!nl)
			break;
		assert_true(off + 2 + nl + 8 <= len);
		for (i = 0; i < NR_IMAGES; i++)
			if (strlen(images[i].name) == nl &&
			    !memcmp(buf + off + 2, images[i].name, nl))
				break;
		assert_true(i < NR_IMAGES);
		last = images[i].name;
		size = le64(buf + off + 2 + nl);
		assert_int_equal(size, images[i].size);
		total += 2 + nl + 8 + size;
		off += 2 + nl + 8 + size;
		nr++;
	}
	assert_int_equal(nr, NR_IMAGES);
	/* The inventory comes last. */
	assert_string_equal(last, "inventory.img");
	assert_int_equal(off + 10, len);
	assert_int_equal(le64(buf + off + 2), total);
}

static void pack_ok(struct fixture *f, const struct options *o)
{
	assert_int_equal(context_pack(o, f->src), 0);
}

/* ---- round trips ---- */

static void test_file_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct options o = opts_file(f->ctx, REPLACE_ATOMIC);
	unsigned char *buf;
	size_t len;

	pack_ok(f, &o);
	buf = slurp(f->ctx, &len);
	assert_non_null(buf);
	check_layout(buf, len);
	free(buf);
	/* No temporary left behind. */
	assert_int_equal(count_prefixed(f->base, ".ctx"), 0);
	unpack_and_check(f, &o);
}

static void test_every_policy_roundtrip(void **state)
{
	struct fixture *f = *state;
	static const int policies[] = { REPLACE_ATOMIC, REPLACE_BACKUP,
					REPLACE_CLOBBER, REPLACE_NOCLOBBER };

	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		struct options o = opts_file(f->ctx, policies[i]);
		unsigned char *buf;
		size_t len;

		unlink(f->ctx);
		o.nosync = i & 1;
		pack_ok(f, &o);
		buf = slurp(f->ctx, &len);
		assert_non_null(buf);
		check_layout(buf, len);
		free(buf);
		unpack_and_check(f, &o);
		/* Nothing but the context and the source in the directory. */
		assert_int_equal(count_prefixed(f->base, "."), 2);
		assert_int_equal(count_prefixed(f->base, "ctx"), 1);
	}
}

static void test_pipe_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct options o = opts_file(NULL, REPLACE_ATOMIC);
	int p[2], status;
	pid_t pid;
	char *dir;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		o.fd = p[1];
		_exit(context_pack(&o, f->src) ? 1 : 0);
	}
	close(p[1]);
	o.fd = p[0];
	dir = context_unpack(&o);
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_non_null(dir);
	check_unpacked(dir);
	context_remove_dir(dir);
	assert_false(exists(dir));
	free(dir);
}

/* A writer that dies half way: the reader must not take it as complete. */
static void test_pipe_writer_dies(void **state)
{
	struct fixture *f = *state;
	struct options o = opts_file(NULL, REPLACE_ATOMIC);
	unsigned char *buf;
	size_t len;
	int p[2], status;
	pid_t pid;
	char *dir;

	{
		struct options w = opts_file(f->ctx, REPLACE_ATOMIC);

		pack_ok(f, &w);
	}
	buf = slurp(f->ctx, &len);
	assert_non_null(buf);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		/* All but the end marker's last byte. */
		_exit(write(p[1], buf, len - 1) == (ssize_t)(len - 1) ? 0 : 1);
	}
	close(p[1]);
	o.fd = p[0];
	dir = context_unpack(&o);
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_null(dir);
	assert_int_equal(count_prefixed(f->base, ".crest-restore."), 0);
	free(buf);
}

static void test_staging_dir(void **state)
{
	struct fixture *f = *state;
	struct options o = opts_file(f->ctx, REPLACE_ATOMIC);
	char want[128];
	char *dir;
	struct stat st;

	/* Beside the context file. */
	dir = context_staging_dir(&o);
	assert_non_null(dir);
	snprintf(want, sizeof(want), "%s/.crest-staging.", f->base);
	assert_int_equal(strncmp(dir, want, strlen(want)), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	context_remove_dir(dir);
	assert_false(exists(dir));
	free(dir);

	/* No file, or stdout: in TMPDIR. */
	o.file = "-";
	dir = context_staging_dir(&o);
	assert_non_null(dir);
	assert_int_equal(strncmp(dir, want, strlen(want)), 0);
	context_remove_dir(dir);
	free(dir);
}

static void test_remove_dir(void **state)
{
	struct fixture *f = *state;
	char path[160];

	/* Hidden files too. */
	snprintf(path, sizeof(path), "%s/.hidden", f->src);
	write_file(path, "h", 1, 0600);
	snprintf(path, sizeof(path), "%s/..x", f->src);
	write_file(path, "h", 1, 0600);
	context_remove_dir(f->src);
	assert_false(exists(f->src));
	context_remove_dir(NULL);
}

/* Whatever order the directory lists them in, the inventory goes last. */
static void test_inventory_last(void **state)
{
	struct fixture *f = *state;
	struct options o = opts_file(f->ctx, REPLACE_ATOMIC);
	char dir[128], path[192];
	unsigned char *buf;
	size_t len, off = 12;
	int nr = 0, inv_at = -1;

	snprintf(dir, sizeof(dir), "%s/many", f->base);
	assert_int_equal(mkdir(dir, 0700), 0);
	for (int i = 0; i < 40; i++) {
		if (i == 20)
			snprintf(path, sizeof(path), "%s/inventory.img", dir);
		else
			snprintf(path, sizeof(path), "%s/img-%02d.img", dir, i);
		write_file(path, "x", 1, 0600);
	}
	assert_int_equal(context_pack(&o, dir), 0);
	buf = slurp(f->ctx, &len);
	assert_non_null(buf);
	for (;;) {
		uint16_t nl = le16(buf + off);

		if (!nl)
			break;
		if (nl == 13 && !memcmp(buf + off + 2, "inventory.img", 13))
			inv_at = nr;
		off += 2 + nl + 8 + le64(buf + off + 2 + nl);
		nr++;
	}
	assert_int_equal(nr, 40);
	assert_int_equal(inv_at, 39);
	free(buf);
}

/* ---- replacement policies ---- */

#define OLD_TEXT	"the previous checkpoint, not a context at all\n"

static void put_old(const char *path, const char *text)
{
	write_file(path, text, strlen(text), 0644);
}

static void assert_file_is(const char *path, const void *want, size_t want_len)
{
	size_t len;
	unsigned char *buf = slurp(path, &len);

	assert_non_null(buf);
	assert_int_equal(len, want_len);
	assert_memory_equal(buf, want, len);
	free(buf);
}

static void assert_is_context(const char *path)
{
	size_t len;
	unsigned char *buf = slurp(path, &len);

	assert_non_null(buf);
	check_layout(buf, len);
	free(buf);
}

static void test_atomic_replaces(void **state)
{
	struct fixture *f = *state;
	struct options o = opts_file(f->ctx, REPLACE_ATOMIC);

	put_old(f->ctx, OLD_TEXT);
	pack_ok(f, &o);
	assert_is_context(f->ctx);
	assert_int_equal(count_prefixed(f->base, ".ctx"), 0);
	assert_int_equal(count_prefixed(f->base, "ctx"), 1);	/* no backup */
	unpack_and_check(f, &o);
}

static void test_atomic_fault_keeps_old(void **state)
{
	struct fixture *f = *state;
	struct options o = opts_file(f->ctx, REPLACE_ATOMIC);
	char tmp[128];

	snprintf(tmp, sizeof(tmp), "%s/.ctx.tmp", f->base);
	put_old(f->ctx, OLD_TEXT);
	setenv("CREST_FAULT", "context-pack", 1);
	assert_int_equal(context_pack(&o, f->src), -1);
	assert_file_is(f->ctx, OLD_TEXT, strlen(OLD_TEXT));
	assert_false(exists(tmp));

	/* Among other faults, and for backup too: nothing renamed. */
	setenv("CREST_FAULT", "other,context-pack", 1);
	o.replace = REPLACE_BACKUP;
	assert_int_equal(context_pack(&o, f->src), -1);
	assert_file_is(f->ctx, OLD_TEXT, strlen(OLD_TEXT));
	assert_false(exists(tmp));
	assert_int_equal(count_prefixed(f->base, "ctx"), 1);

	/* With no file there before, none after. */
	unlink(f->ctx);
	o.replace = REPLACE_ATOMIC;
	assert_int_equal(context_pack(&o, f->src), -1);
	assert_false(exists(f->ctx));
	assert_false(exists(tmp));

	/* A fault of another name does not apply. */
	setenv("CREST_FAULT", "context-pack-not", 1);
	pack_ok(f, &o);
	assert_is_context(f->ctx);
	unsetenv("CREST_FAULT");
}

/* A source that can't be read fails the pack and leaves the old file. */
static void test_atomic_bad_source_keeps_old(void **state)
{
	struct fixture *f = *state;
	struct options o = opts_file(f->ctx, REPLACE_ATOMIC);
	char missing[128];

	snprintf(missing, sizeof(missing), "%s/nonexistent", f->base);
	put_old(f->ctx, OLD_TEXT);
	assert_int_equal(context_pack(&o, missing), -1);
	assert_file_is(f->ctx, OLD_TEXT, strlen(OLD_TEXT));
	assert_int_equal(count_prefixed(f->base, ".ctx"), 0);
}

static void test_backup_numbering(void **state)
{
	struct fixture *f = *state;
	struct options o = opts_file(f->ctx, REPLACE_BACKUP);
	char b1[128], b2[128], b3[128];
	unsigned char *first;
	size_t first_len;

	snprintf(b1, sizeof(b1), "%s.~1~", f->ctx);
	snprintf(b2, sizeof(b2), "%s.~2~", f->ctx);
	snprintf(b3, sizeof(b3), "%s.~3~", f->ctx);

	/* Nothing to keep the first time. */
	pack_ok(f, &o);
	assert_is_context(f->ctx);
	assert_false(exists(b1));

	/* The existing one becomes NAME.~1~... */
	put_old(f->ctx, OLD_TEXT);
	pack_ok(f, &o);
	assert_is_context(f->ctx);
	assert_file_is(b1, OLD_TEXT, strlen(OLD_TEXT));
	assert_false(exists(b2));
	first = slurp(f->ctx, &first_len);
	assert_non_null(first);

	/* ...then NAME.~2~, ~1~ left alone. */
	pack_ok(f, &o);
	assert_file_is(b2, first, first_len);
	assert_file_is(b1, OLD_TEXT, strlen(OLD_TEXT));
	assert_is_context(f->ctx);
	assert_false(exists(b3));
	free(first);

	/* Above the highest in use, even with a gap below. */
	assert_int_equal(unlink(b1), 0);
	pack_ok(f, &o);
	assert_true(exists(b3));
	assert_false(exists(b1));
	assert_int_equal(count_prefixed(f->base, ".ctx"), 0);
	unpack_and_check(f, &o);
}

static void test_backup_name(void **state)
{
	struct fixture *f = *state;
	struct options o = opts_file(f->ctx, REPLACE_BACKUP);
	char bak[128], b1[128];

	snprintf(bak, sizeof(bak), "%s/kept", f->base);
	snprintf(b1, sizeof(b1), "%s.~1~", f->ctx);
	o.backup_name = bak;
	put_old(f->ctx, OLD_TEXT);
	pack_ok(f, &o);
	assert_file_is(bak, OLD_TEXT, strlen(OLD_TEXT));
	assert_false(exists(b1));
	assert_is_context(f->ctx);
}

static void test_clobber(void **state)
{
	struct fixture *f = *state;
	struct options o = opts_file(f->ctx, REPLACE_CLOBBER);
	size_t big = 2 * BIG_SIZE;	/* longer than the context: truncated */
	unsigned char *junk = malloc(big);
	char b1[128];

	snprintf(b1, sizeof(b1), "%s.~1~", f->ctx);
	memset(junk, 'x', big);
	write_file(f->ctx, junk, big, 0644);
	free(junk);
	pack_ok(f, &o);
	assert_is_context(f->ctx);
	assert_false(exists(b1));
	assert_int_equal(count_prefixed(f->base, ".ctx"), 0);
	unpack_and_check(f, &o);

	/* A fault point of the atomic path only. */
	setenv("CREST_FAULT", "context-pack", 1);
	pack_ok(f, &o);
	unsetenv("CREST_FAULT");
	assert_is_context(f->ctx);
}

static void test_noclobber(void **state)
{
	struct fixture *f = *state;
	struct options o = opts_file(f->ctx, REPLACE_NOCLOBBER);

	put_old(f->ctx, OLD_TEXT);
	assert_int_equal(context_pack(&o, f->src), -1);
	assert_file_is(f->ctx, OLD_TEXT, strlen(OLD_TEXT));
	assert_non_null(strstr(log_last_error(), "noclobber"));
	assert_int_equal(count_prefixed(f->base, ".ctx"), 0);

	unlink(f->ctx);
	pack_ok(f, &o);
	assert_is_context(f->ctx);
	/* And now it exists. */
	assert_int_equal(context_pack(&o, f->src), -1);
	assert_is_context(f->ctx);
}

static void test_pack_into_directory(void **state)
{
	struct fixture *f = *state;
	struct options o = opts_file(f->base, REPLACE_CLOBBER);

	assert_int_equal(context_pack(&o, f->src), -1);
	o.replace = REPLACE_ATOMIC;
	assert_int_equal(context_pack(&o, f->src), -1);
	assert_true(exists(f->src));
}

/* ---- corrupt streams ---- */

struct stream {
	unsigned char buf[4096];
	size_t len;
	uint64_t total;
};

static void s_put(struct stream *s, const void *p, size_t n)
{
	assert_true(s->len + n <= sizeof(s->buf));
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

static void s_head(struct stream *s, const char *magic, uint32_t version)
{
	s->len = 0;
	s->total = 0;
	s_put(s, magic, 8);
	s_put(s, &version, 4);
}

static void s_entry(struct stream *s, const char *name, const char *data)
{
	uint16_t nl = strlen(name);
	uint64_t size = strlen(data);

	s_put(s, &nl, 2);
	s_put(s, name, nl);
	s_put(s, &size, 8);
	s_put(s, data, size);
	s->total += 2 + nl + 8 + size;
}

static void s_end(struct stream *s, uint64_t total)
{
	uint16_t z = 0;

	s_put(s, &z, 2);
	s_put(s, &total, 8);
}

/* Unpack the bytes from a file; returns the staging dir or NULL. */
static char *unpack_bytes(struct fixture *f, const void *buf, size_t len)
{
	struct options o = opts_file(f->ctx, REPLACE_ATOMIC);

	write_file(f->ctx, buf, len, 0644);
	return context_unpack(&o);
}

static void expect_refused(struct fixture *f, const void *buf, size_t len,
			   const char *why)
{
	char *dir = unpack_bytes(f, buf, len);

	if (dir)
		fail_msg("a bad context was unpacked into '%s'", dir);
	if (why && !strstr(log_last_error(), why))
		fail_msg("refused for '%s', not '%s'", log_last_error(), why);
	/* The staging directory is gone. */
	assert_int_equal(count_prefixed(f->base, ".crest-restore."), 0);
}

static void test_handmade_ok(void **state)
{
	struct fixture *f = *state;
	struct stream s;
	char *dir;
	char path[512];

	s_head(&s, "CRESTCTX", 1);
	s_entry(&s, "a.img", "hello");
	s_entry(&s, "b.img", "");
	s_end(&s, s.total);
	dir = unpack_bytes(f, s.buf, s.len);
	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/a.img", dir);
	assert_file_is(path, "hello", 5);
	snprintf(path, sizeof(path), "%s/b.img", dir);
	assert_file_is(path, "", 0);
	assert_int_equal(count_prefixed(dir, ""), 4);	/* ., .., a, b */
	context_remove_dir(dir);
	assert_false(exists(dir));
	free(dir);

	/* No images at all is a valid, empty context. */
	s_head(&s, "CRESTCTX", 1);
	s_end(&s, 0);
	dir = unpack_bytes(f, s.buf, s.len);
	assert_non_null(dir);
	assert_int_equal(count_prefixed(dir, ""), 2);
	context_remove_dir(dir);
	free(dir);
}

static void test_bad_magic(void **state)
{
	struct fixture *f = *state;
	struct stream s;

	s_head(&s, "CRESTCTY", 1);
	s_entry(&s, "a.img", "hello");
	s_end(&s, s.total);
	expect_refused(f, s.buf, s.len, "bad magic");

	s_head(&s, "\0\0\0\0\0\0\0\0", 1);
	s_end(&s, 0);
	expect_refused(f, s.buf, s.len, "bad magic");
}

static void test_bad_version(void **state)
{
	struct fixture *f = *state;
	struct stream s;
	static const uint32_t versions[] = { 0, 3, 0x01000000, 0xffffffff };

	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		s_head(&s, "CRESTCTX", versions[i]);
		s_entry(&s, "a.img", "hello");
		s_end(&s, s.total);
		expect_refused(f, s.buf, s.len, "version");
	}
}

static void test_truncated(void **state)
{
	struct fixture *f = *state;
	struct stream s;
	size_t cuts[32], nr = 0;

	s_head(&s, "CRESTCTX", 1);
	s_entry(&s, "a.img", "hello, world");
	s_entry(&s, "inventory.img", "inv");
	s_end(&s, s.total);

	/* Every interesting place: header, name length, name, size, data, end. */
	cuts[nr++] = 0;
	cuts[nr++] = 5;
	cuts[nr++] = 8;
	cuts[nr++] = 11;
	cuts[nr++] = 12;		/* no entry, no end */
	cuts[nr++] = 13;		/* half a name length */
	cuts[nr++] = 14 + 2;		/* in the name */
	cuts[nr++] = 14 + 5;		/* no size */
	cuts[nr++] = 14 + 5 + 4;	/* half a size */
	cuts[nr++] = 14 + 5 + 8;	/* no data */
	cuts[nr++] = 14 + 5 + 8 + 6;	/* half the data */
	cuts[nr++] = 14 + 5 + 8 + 12;	/* second entry missing */
	cuts[nr++] = s.len - 10 - 3;	/* in the last data */
	cuts[nr++] = s.len - 10;	/* no end marker */
	cuts[nr++] = s.len - 9;		/* half an end marker */
	cuts[nr++] = s.len - 8;		/* no total */
	cuts[nr++] = s.len - 1;		/* a byte short */
	for (size_t i = 0; i < nr; i++)
		expect_refused(f, s.buf, cuts[i], NULL);

	/* The whole of it is fine. */
	{
		char *dir = unpack_bytes(f, s.buf, s.len);

		assert_non_null(dir);
		context_remove_dir(dir);
		free(dir);
	}
}

/* A real context cut short at many offsets. */
static void test_truncated_real(void **state)
{
	struct fixture *f = *state;
	struct options o = opts_file(f->ctx, REPLACE_ATOMIC);
	unsigned char *buf;
	size_t len;

	pack_ok(f, &o);
	buf = slurp(f->ctx, &len);
	assert_non_null(buf);
	for (size_t cut = 0; cut < len; cut += (cut < 200 ? 7 : len / 13))
		expect_refused(f, buf, cut, NULL);
	expect_refused(f, buf, len - 1, "truncated");
	expect_refused(f, buf, len - 8, "truncated");
	expect_refused(f, buf, len - 10, "truncated");
	free(buf);
}

static void test_bad_names(void **state)
{
	struct fixture *f = *state;
	static const char *names[] = { "a/b", "../escape", "/abs", "x/", ".hidden",
				       ".", ".." };
	struct stream s;
	char escape[128];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		s_head(&s, "CRESTCTX", 1);
		s_entry(&s, "ok.img", "fine");
		s_entry(&s, names[i], "bad");
		s_end(&s, s.total);
		expect_refused(f, s.buf, s.len, "bad image name");
	}
	/* Nothing was written outside a staging directory. */
	snprintf(escape, sizeof(escape), "%s/escape", f->base);
	assert_false(exists(escape));
	assert_false(exists("/abs"));

	/* A name longer than any file name. */
	{
		char longname[300];

		memset(longname, 'n', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = 0;
		s_head(&s, "CRESTCTX", 1);
		s_entry(&s, longname, "bad");
		s_end(&s, s.total);
		expect_refused(f, s.buf, s.len, NULL);
	}

	/* The same name twice. */
	s_head(&s, "CRESTCTX", 1);
	s_entry(&s, "twice.img", "one");
	s_entry(&s, "twice.img", "two");
	s_end(&s, s.total);
	expect_refused(f, s.buf, s.len, NULL);
}

static void test_bad_total(void **state)
{
	struct fixture *f = *state;
	struct stream s;
	static const int64_t delta[] = { 1, -1, 1000, 1LL << 40 };

	for (size_t i = 0; i < sizeof(delta) / sizeof(delta[0]); i++) {
		s_head(&s, "CRESTCTX", 1);
		s_entry(&s, "a.img", "hello");
		s_entry(&s, "inventory.img", "inv");
		s_end(&s, s.total + delta[i]);
		expect_refused(f, s.buf, s.len, "corrupt");
	}
	/* The total counts the entries' headers, not only the data. */
	s_head(&s, "CRESTCTX", 1);
	s_entry(&s, "a.img", "hello");
	s_end(&s, 5);
	expect_refused(f, s.buf, s.len, "corrupt");
}

/* ---- compressed streams (dump --compress) ---- */

/* The offset of the named entry's encoding byte in a version 2 stream. */
static size_t v2_entry(const unsigned char *buf, size_t len, const char *name)
{
	size_t off = 12;

	assert_int_equal(le32(buf + 8), 2);
	for (;;) {
		uint16_t nl;
		uint8_t enc;
		uint64_t size;

		assert_true(off + 2 <= len);
		nl = le16(buf + off);
		assert_true(nl != 0);
		size = le64(buf + off + 2 + nl);
		enc = buf[off + 2 + nl + 8];
		if (nl == strlen(name) && !memcmp(buf + off + 2, name, nl))
			return off + 2 + nl + 8;
		off += 2 + nl + 8 + 1;
		if (enc == 0) {
			off += size;
			continue;
		}
		assert_int_equal(enc, 1);
		for (;;) {
			uint32_t cl = le32(buf + off);

			off += 4 + cl;
			if (!cl)
				break;
		}
	}
}

static void test_compressed_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct options o = opts_file(f->ctx, REPLACE_ATOMIC);
	unsigned char *buf;
	size_t len;
	int p[2], status;
	pid_t pid;
	char *dir;

	o.compress = true;
	pack_ok(f, &o);
	buf = slurp(f->ctx, &len);
	assert_non_null(buf);
	assert_memory_equal(buf, "CRESTCTX", 8);
	assert_int_equal(le32(buf + 8), 2);
	/* Every image is a zstd frame, the inventory last. */
	for (size_t i = 0; i < NR_IMAGES; i++)
		assert_int_equal(buf[v2_entry(buf, len, images[i].name)], 1);
	free(buf);
	unpack_and_check(f, &o);

	/* Through a pipe. */
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct options w = opts_file(NULL, REPLACE_ATOMIC);

		close(p[0]);
		w.fd = p[1];
		w.compress = true;
		_exit(context_pack(&w, f->src) ? 1 : 0);
	}
	close(p[1]);
	o = opts_file(NULL, REPLACE_ATOMIC);
	o.fd = p[0];
	dir = context_unpack(&o);
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_non_null(dir);
	check_unpacked(dir);
	context_remove_dir(dir);
	free(dir);
}

/*
 * A pages image compressed as it was dumped (ZPG1 in its header's padding,
 * mem-zpages.h) goes into a compressed stream as it is (encoding 0), the
 * others as zstd frames; both come out byte for byte.
 */
static void test_compressed_zpages_raw(void **state)
{
	struct fixture *f = *state;
	struct options o = opts_file(f->ctx, REPLACE_ATOMIC);
	unsigned char *img, *buf, *out;
	size_t ilen, len, olen;
	char path[160], *dir;

	snprintf(path, sizeof(path), "%s/pages-1.img", f->src);
	img = slurp(path, &ilen);
	assert_non_null(img);
	memcpy(img + 32, "ZPG1\1\0\0\0", 8);
	write_file(path, img, ilen, 0600);
	o.compress = true;
	pack_ok(f, &o);
	buf = slurp(f->ctx, &len);
	assert_non_null(buf);
	assert_int_equal(buf[v2_entry(buf, len, "pages-1.img")], 0);
	assert_int_equal(buf[v2_entry(buf, len, "core-1.img")], 1);
	assert_int_equal(buf[v2_entry(buf, len, "inventory.img")], 1);
	free(buf);
	dir = context_unpack(&o);
	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/pages-1.img", dir);
	out = slurp(path, &olen);
	assert_non_null(out);
	assert_int_equal(olen, ilen);
	assert_memory_equal(out, img, ilen);
	free(out);
	free(img);
	context_remove_dir(dir);
	free(dir);
}

/* A compressed context damaged or cut short is refused, never unpacked. */
static void test_compressed_damaged(void **state)
{
	struct fixture *f = *state;
	struct options o = opts_file(f->ctx, REPLACE_ATOMIC);
	unsigned char *buf, *bad;
	size_t len, enc, chunk, clen;
	uint32_t huge = (1u << 20) + 1;

	o.compress = true;
	pack_ok(f, &o);
	buf = slurp(f->ctx, &len);
	assert_non_null(buf);
	bad = malloc(len);
	assert_non_null(bad);
	for (size_t cut = 0; cut < len; cut += (cut < 200 ? 7 : len / 13))
		expect_refused(f, buf, cut, NULL);
	expect_refused(f, buf, len - 1, "truncated");

	enc = v2_entry(buf, len, "pages-1.img");
	chunk = enc + 1;
	clen = le32(buf + chunk);
	assert_true(clen > 64);
	/* Bytes of the frame: its header, blocks, checksum. */
	for (size_t at = chunk + 4; at < chunk + 4 + clen; at += clen / 11) {
		memcpy(bad, buf, len);
		bad[at] ^= 0x5a;
		expect_refused(f, bad, len, "corrupt");
	}
	memcpy(bad, buf, len);
	bad[chunk + 4 + clen - 1] ^= 1;	/* the XXH64 of the frame */
	expect_refused(f, bad, len, "corrupt");
	memcpy(bad, buf, len);
	bad[enc] = 7;
	expect_refused(f, bad, len, "unknown encoding");
	memcpy(bad, buf, len);
	memcpy(bad + chunk, &huge, 4);
	expect_refused(f, bad, len, "too big");
	/* The size it says is not what the frame holds. */
	memcpy(bad, buf, len);
	bad[enc - 8] ^= 1;
	expect_refused(f, bad, len, "corrupt");
	free(bad);
	free(buf);
}

static void test_missing_file(void **state)
{
	struct fixture *f = *state;
	struct options o = opts_file(f->ctx, REPLACE_ATOMIC);

	assert_null(context_unpack(&o));
	assert_int_equal(count_prefixed(f->base, ".crest-restore."), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_policy_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipe_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipe_writer_dies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_staging_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inventory_last, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_replaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_fault_keeps_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_bad_source_keeps_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_numbering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clobber, setup, teardown),
		cmocka_unit_test_setup_teardown(test_noclobber, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_into_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handmade_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_magic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_real, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_total, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compressed_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compressed_zpages_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compressed_damaged, setup, teardown),
	};

	/* Quiet: the errors are expected; log_last_error() still sees them. */
	log_init(NULL, -1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
