/* A MAP_PRIVATE file mapping with some privately modified pages and a
 * MAP_SHARED file mapping written through. Files stay in place while
 * the process is dumped; they are unlinked at the end unless $CREST_TMP is
 * set (then the runner owns and removes them, so images can be restored
 * more than once). */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FSIZE	(64 * 1024)
#define PAGE	4096
#define NPAGES	(FSIZE / PAGE)

static char priv_path[4096], shared_path[4096];

static int make_file(char *path, const char *tag, char base)
{
	char buf[FSIZE];
	int fd, i;

	snprintf(path, 4096, "%s/crest-mmap-%s-XXXXXX", case_tmpdir(), tag);
	fd = mkstemp(path);
	if (fd < 0)
		case_fail("mkstemp %s: %s", path, strerror(errno));
	for (i = 0; i < FSIZE; i++)
		buf[i] = base + (i / PAGE) + (i % 7);
	if (pwrite(fd, buf, FSIZE, 0) != FSIZE)
		case_fail("pwrite %s: %s", path, strerror(errno));
	return fd;
}

static int is_private_page(int pg)
{
	return pg % 3 == 1;
}

int main(void)
{
	static char filebuf[FSIZE];
	char *priv, *shared;
	int pfd, sfd, pg, i;

	case_init();
	pfd = make_file(priv_path, "priv", 'a');
	sfd = make_file(shared_path, "shared", 'A');

	priv = mmap(NULL, FSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, pfd, 0);
	if (priv == MAP_FAILED)
		case_fail("mmap private: %s", strerror(errno));
	shared = mmap(NULL, FSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
	if (shared == MAP_FAILED)
		case_fail("mmap shared: %s", strerror(errno));
	close(pfd);

	for (pg = 0; pg < NPAGES; pg++)
		if (is_private_page(pg))
			memset(priv + pg * PAGE, 0x50 + pg, PAGE);
	for (i = 0; i < FSIZE; i += 64)
		shared[i] = (char)(i / 64);

	case_ready();
	case_wait_go();

	pfd = open(priv_path, O_RDONLY);
	if (pfd < 0)
		case_fail("open %s: %s", priv_path, strerror(errno));
	if (pread(pfd, filebuf, FSIZE, 0) != FSIZE)
		case_fail("pread private file: %s", strerror(errno));
	close(pfd);
	for (pg = 0; pg < NPAGES; pg++) {
		for (i = 0; i < PAGE; i++) {
			char want = is_private_page(pg) ? (char)(0x50 + pg)
							: filebuf[pg * PAGE + i];
			char got = priv[pg * PAGE + i];

			if (is_private_page(pg) && filebuf[pg * PAGE + i] == want)
				case_fail("private change leaked to file at page %d", pg);
			if (got != want)
				case_fail("private mapping page %d byte %d: got %#x want %#x",
					  pg, i, (unsigned char)got, (unsigned char)want);
		}
	}

	if (pread(sfd, filebuf, FSIZE, 0) != FSIZE)
		case_fail("pread shared file: %s", strerror(errno));
	for (i = 0; i < FSIZE; i++) {
		if (shared[i] != filebuf[i])
			case_fail("shared mapping byte %d: mapping %#x file %#x", i,
				  (unsigned char)shared[i], (unsigned char)filebuf[i]);
		if (i % 64 == 0 && shared[i] != (char)(i / 64))
			case_fail("shared mapping byte %d: got %#x want %#x", i,
				  (unsigned char)shared[i], (unsigned char)(i / 64));
	}
	close(sfd);
	munmap(priv, FSIZE);
	munmap(shared, FSIZE);
	if (!getenv("CREST_TMP")) {
		unlink(priv_path);
		unlink(shared_path);
	}
	case_pass();
}
