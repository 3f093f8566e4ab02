/* A private mapping of a memfd with copy-on-write pages comes back exact,
 * checked from inside after the restore: the pages the process wrote
 * through the mapping are its own copies (the memfd does not see them),
 * even where the memfd was written since, the others show the memfd,
 * including a page written through the fd after the mapping was made and
 * a hole never written, and a write after the restore is still
 * private. A private file mapping of a regular file likewise, and one of
 * a memfd whose fd was closed (only the mappings hold it), shared by a
 * child forked after the writes (copy-on-write in both). */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE	4096
#define NPAGES	8
#define LEN	(NPAGES * PAGE)

static char file_byte(int pg, int i)
{
	return 'a' + (pg * 3 + i) % 26;
}

static char priv_byte(int pg, int i)
{
	return 'A' + (pg * 5 + i) % 26;
}

/*
 * Pages 1 and 4 written through the mapping, then 4 and 6 through the fd;
 * page 7 a hole.
 */
static char want(int pg, int i)
{
	if (pg == 1 || pg == 4)
		return priv_byte(pg, i);
	if (pg == 6)
		return '#';
	return pg == 7 ? 0 : file_byte(pg, i);
}

static char fd_byte(int pg, int i)
{
	return pg == 6 ? '#' : pg == 4 ? '%' : pg == 7 ? 0 : file_byte(pg, i);
}

static void check(const char *when, const char *what, int fd, const char *map)
{
	char buf[PAGE];

	for (int pg = 0; pg < NPAGES; pg++) {
		if (pread(fd, buf, PAGE, (off_t)pg * PAGE) != PAGE)
			case_fail("%s: pread %s: %s", when, what, strerror(errno));
		for (int i = 0; i < PAGE; i++) {
			char f = fd_byte(pg, i);

			if (map[pg * PAGE + i] != want(pg, i))
				case_fail("%s: %s mapping page %d byte %d is %#x, want %#x",
					  when, what, pg, i, (unsigned char)map[pg * PAGE + i],
					  (unsigned char)want(pg, i));
			if (buf[i] != f)
				case_fail("%s: %s page %d byte %d is %#x, want %#x", when,
					  what, pg, i, (unsigned char)buf[i], (unsigned char)f);
		}
	}
}

static char *setup(int fd)
{
	char buf[PAGE], *map;

	if (ftruncate(fd, LEN))
		case_fail("ftruncate: %s", strerror(errno));
	for (int pg = 0; pg < NPAGES - 1; pg++) {
		for (int i = 0; i < PAGE; i++)
			buf[i] = file_byte(pg, i);
		if (pwrite(fd, buf, PAGE, (off_t)pg * PAGE) != PAGE)
			case_fail("pwrite: %s", strerror(errno));
	}
	map = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		case_fail("mmap: %s", strerror(errno));
	/* Every page read once: the mapping holds the file's pages. */
	for (int pg = 0; pg < NPAGES; pg++)
		if (map[pg * PAGE] != (pg == 7 ? 0 : file_byte(pg, 0)))
			case_fail("the mapping does not show the file");
	for (int pg = 1; pg <= 4; pg += 3)
		for (int i = 0; i < PAGE; i++)
			map[pg * PAGE + i] = priv_byte(pg, i);
	memset(buf, '#', PAGE);
	if (pwrite(fd, buf, PAGE, 6 * PAGE) != PAGE)
		case_fail("pwrite: %s", strerror(errno));
	memset(buf, '%', PAGE);
	if (pwrite(fd, buf, PAGE, 4 * PAGE) != PAGE)
		case_fail("pwrite: %s", strerror(errno));
	return map;
}

/* Through /proc/self/map_files: the memfd behind a mapping, read-only. */
static int map_fd(const char *map)
{
	char p[128];
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	int fd = -1;

	while (f && fgets(p, sizeof(p), f))
		if (sscanf(p, "%lx-%lx", &lo, &hi) == 2 && lo == (unsigned long)map) {
			snprintf(p, sizeof(p), "/proc/self/map_files/%lx-%lx", lo, hi);
			fd = open(p, O_RDONLY);
			break;
		}
	if (f)
		fclose(f);
	if (fd < 0)
		case_fail("open the map_files of %p: %s", map, strerror(errno));
	return fd;
}

int main(void)
{
	char path[4096], *mmem, *mfile, *mgone;
	int mfd, ffd, gfd, status;
	pid_t kid;

	case_init();
	mfd = memfd_create("cow", 0);
	snprintf(path, sizeof(path), "%s/crest-memfd-private-XXXXXX", case_tmpdir());
	ffd = mkstemp(path);
	if (mfd < 0 || ffd < 0)
		case_fail("memfd_create/mkstemp: %s", strerror(errno));
	mmem = setup(mfd);
	mfile = setup(ffd);
	gfd = memfd_create("cow-mapped-only", 0);
	if (gfd < 0)
		case_fail("memfd_create: %s", strerror(errno));
	mgone = setup(gfd);
	close(gfd);
	check("before", "memfd", mfd, mmem);
	check("before", "file", ffd, mfile);
	gfd = map_fd(mgone);
	check("before", "mapped-only memfd", gfd, mgone);
	close(gfd);
	kid = fork();
	if (kid < 0)
		case_fail("fork: %s", strerror(errno));
	if (kid == 0) {
		case_wait_go();
		gfd = map_fd(mgone);
		check("after, in the child", "mapped-only memfd", gfd, mgone);
		check("after, in the child", "memfd", mfd, mmem);
		_exit(0);
	}

	case_ready();
	case_wait_go();

	check("after", "memfd", mfd, mmem);
	check("after", "file", ffd, mfile);
	gfd = map_fd(mgone);
	check("after", "mapped-only memfd", gfd, mgone);
	close(gfd);
	if (kill(kid, SIGUSR2) || waitpid(kid, &status, 0) != kid ||
	    !WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("the child's check failed (status %#x)", status);
	/* Still private: a write does not reach the object. */
	mmem[0] = mfile[0] = '!';
	{
		char c;

		if (pread(mfd, &c, 1, 0) != 1 || c != file_byte(0, 0) ||
		    pread(ffd, &c, 1, 0) != 1 || c != file_byte(0, 0))
			case_fail("a write to a private mapping reached its file");
	}
	if (!getenv("CREST_TMP"))
		unlink(path);
	case_pass();
}
