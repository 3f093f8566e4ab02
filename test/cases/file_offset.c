/* File offsets, O_APPEND and FD_CLOEXEC survive C/R. Temp files are removed
 * at the end unless $CREST_TMP is set (then the runner removes them). */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DATA_SIZE	20000
#define OFFSET		12345

static char data_path[4096], log_path[4096];

static unsigned char data_byte(int i)
{
	return (unsigned char)(i * 7 + 3 + (i >> 8));
}

static int mktemp_file(char *path, const char *tag)
{
	int fd;

	snprintf(path, 4096, "%s/crest-fofs-%s-XXXXXX", case_tmpdir(), tag);
	fd = mkstemp(path);
	if (fd < 0)
		case_fail("mkstemp %s: %s", path, strerror(errno));
	return fd;
}

static int has_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0)
		case_fail("F_GETFD %d: %s", fd, strerror(errno));
	return !!(fl & FD_CLOEXEC);
}

int main(void)
{
	static unsigned char buf[DATA_SIZE];
	static const char head[] = "appended line 1\n";
	static const char more[] = "after restore\n";
	int tmp, fd, afd, cfd, nfd, i, fl;
	struct stat st;
	off_t off, size;
	unsigned char c;
	char check[sizeof(more)];

	case_init();
	tmp = mktemp_file(data_path, "data");
	for (i = 0; i < DATA_SIZE; i++)
		buf[i] = data_byte(i);
	if (write(tmp, buf, DATA_SIZE) != DATA_SIZE)
		case_fail("write: %s", strerror(errno));
	close(tmp);
	tmp = mktemp_file(log_path, "append");
	close(tmp);

	fd = open(data_path, O_RDWR);
	if (fd < 0)
		case_fail("open %s: %s", data_path, strerror(errno));
	if (lseek(fd, OFFSET, SEEK_SET) != OFFSET)
		case_fail("lseek: %s", strerror(errno));
	afd = open(log_path, O_WRONLY | O_APPEND);
	if (afd < 0)
		case_fail("open %s: %s", log_path, strerror(errno));
	if (write(afd, head, strlen(head)) != (ssize_t)strlen(head))
		case_fail("write append: %s", strerror(errno));
	cfd = open(data_path, O_RDONLY | O_CLOEXEC);
	nfd = open(data_path, O_RDONLY);
	if (cfd < 0 || nfd < 0)
		case_fail("open: %s", strerror(errno));

	case_ready();
	case_wait_go();

	off = lseek(fd, 0, SEEK_CUR);
	if (off != OFFSET)
		case_fail("offset %lld, want %d", (long long)off, OFFSET);
	if (read(fd, &c, 1) != 1)
		case_fail("read: %s", strerror(errno));
	if (c != data_byte(OFFSET))
		case_fail("byte at %d: %#x, want %#x", OFFSET, c, data_byte(OFFSET));
	if ((fl = fcntl(fd, F_GETFL)) < 0 || (fl & O_ACCMODE) != O_RDWR)
		case_fail("data fd flags %#x, want O_RDWR", fl);

	fl = fcntl(afd, F_GETFL);
	if (fl < 0 || !(fl & O_APPEND) || (fl & O_ACCMODE) != O_WRONLY)
		case_fail("append fd flags %#x, want O_WRONLY|O_APPEND", fl);
	if (fstat(afd, &st) < 0)
		case_fail("fstat: %s", strerror(errno));
	size = st.st_size;
	if (size < (off_t)strlen(head))
		case_fail("append file size %lld too small", (long long)size);
	/* Move the offset away: O_APPEND must still write at the end. */
	lseek(afd, 0, SEEK_SET);
	if (write(afd, more, strlen(more)) != (ssize_t)strlen(more))
		case_fail("write append after restore: %s", strerror(errno));
	if (fstat(afd, &st) < 0 || st.st_size != size + (off_t)strlen(more))
		case_fail("append file size %lld, want %lld", (long long)st.st_size,
			  (long long)(size + strlen(more)));
	tmp = open(log_path, O_RDONLY);
	if (tmp < 0 || pread(tmp, check, strlen(more), size) != (ssize_t)strlen(more) ||
	    memcmp(check, more, strlen(more)))
		case_fail("appended data not at end of file");
	close(tmp);
	/* Put the file back so the same images can be restored again. */
	if (ftruncate(afd, size) < 0)
		case_fail("ftruncate: %s", strerror(errno));

	if (!has_cloexec(cfd))
		case_fail("O_CLOEXEC fd lost FD_CLOEXEC");
	if (has_cloexec(nfd))
		case_fail("plain fd has FD_CLOEXEC");
	if (has_cloexec(fd) || has_cloexec(afd))
		case_fail("data/append fd has FD_CLOEXEC");

	if (!getenv("CREST_TMP")) {
		unlink(data_path);
		unlink(log_path);
	}
	case_pass();
}
