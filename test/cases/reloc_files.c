/*
 * Open and mapped files and the cwd, all under one directory
 * ($CREST_TMP/reloc): the runner moves the directory away after the
 * checkpoint and restarts with cr_restart --relocate OLD=NEW. On go the
 * case checks its data through the fd and the mapping, writes a marker
 * through each (the runner looks for them in the moved files), and prints
 * where the fd, the mapping and the cwd point now:
 *   RELOC fd=PATH
 *   RELOC map=PATH
 *   RELOC cwd=PATH
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

#define SIZE	(16 * 4096)
#define OFFSET	4321

static unsigned char pat(int i, int k)
{
	return (unsigned char)(i * 13 + k + (i >> 9));
}

static void make_file(const char *path, int k)
{
	static unsigned char buf[SIZE];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		case_fail("create %s: %s", path, strerror(errno));
	for (int i = 0; i < SIZE; i++)
		buf[i] = pat(i, k);
	if (write(fd, buf, SIZE) != SIZE)
		case_fail("write %s: %s", path, strerror(errno));
	close(fd);
}

/* The path of the mapping at addr, from /proc/self/maps. */
static void map_path(void *addr, char *out, size_t len)
{
	char line[PATH_MAX + 256];
	FILE *f = fopen("/proc/self/maps", "r");

	out[0] = 0;
	if (!f)
		case_fail("open /proc/self/maps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;
		char *p;

		if (sscanf(line, "%lx-%lx", &start, &end) != 2)
			continue;
		if ((unsigned long)addr < start || (unsigned long)addr >= end)
			continue;
		p = strchr(line, '/');
		if (p) {
			p[strcspn(p, "\n")] = 0;
			snprintf(out, len, "%s", p);
		}
		break;
	}
	fclose(f);
}

int main(void)
{
	char dir[PATH_MAX], data[PATH_MAX + 16], map[PATH_MAX + 16];
	char fdpath[PATH_MAX], mpath[PATH_MAX], cwd[PATH_MAX];
	unsigned char c;
	unsigned char *m;
	ssize_t n;
	int fd, mfd;

	case_init();
	snprintf(dir, sizeof(dir), "%s/reloc", case_tmpdir());
	if (mkdir(dir, 0755) && errno != EEXIST)
		case_fail("mkdir %s: %s", dir, strerror(errno));
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(map, sizeof(map), "%s/map", dir);
	make_file(data, 1);
	make_file(map, 2);
	fd = open(data, O_RDWR);
	if (fd < 0)
		case_fail("open %s: %s", data, strerror(errno));
	if (lseek(fd, OFFSET, SEEK_SET) != OFFSET)
		case_fail("lseek: %s", strerror(errno));
	mfd = open(map, O_RDWR);
	if (mfd < 0)
		case_fail("open %s: %s", map, strerror(errno));
	m = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (m == MAP_FAILED)
		case_fail("mmap: %s", strerror(errno));
	close(mfd);
	if (chdir(dir))
		case_fail("chdir %s: %s", dir, strerror(errno));

	case_ready();
	case_wait_go();

	if (lseek(fd, 0, SEEK_CUR) != OFFSET)
		case_fail("offset %lld, want %d", (long long)lseek(fd, 0, SEEK_CUR), OFFSET);
	if (read(fd, &c, 1) != 1 || c != pat(OFFSET, 1))
		case_fail("data byte at %d wrong", OFFSET);
	/* (A second restart finds the marker of the first one.) */
	for (int i = 0; i < SIZE; i++)
		if (m[i] != pat(i, 2) && !(i >= 200 && i < 208 && !memcmp(m + 200, "MAP-MARK", 8)))
			case_fail("mapping byte %d: %#x, want %#x", i, m[i], pat(i, 2));
	/* Markers the runner looks for in the files at their new place. */
	if (pwrite(fd, "DATA-MARK", 9, 100) != 9)
		case_fail("pwrite: %s", strerror(errno));
	memcpy(m + 200, "MAP-MARK", 8);
	if (msync(m, SIZE, MS_SYNC))
		case_fail("msync: %s", strerror(errno));

	snprintf(cwd, sizeof(cwd), "/proc/self/fd/%d", fd);
	n = readlink(cwd, fdpath, sizeof(fdpath) - 1);
	if (n < 0)
		case_fail("readlink fd: %s", strerror(errno));
	fdpath[n] = 0;
	map_path(m, mpath, sizeof(mpath));
	if (!getcwd(cwd, sizeof(cwd)))
		case_fail("getcwd: %s", strerror(errno));
	printf("RELOC fd=%s\nRELOC map=%s\nRELOC cwd=%s\n", fdpath, mpath, cwd);
	case_pass();
}
