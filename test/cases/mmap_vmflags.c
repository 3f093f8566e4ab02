/* The kernel flags of file mappings come back as they were (VmFlags in
 * /proc/self/smaps), checked from inside:
 *  - a read-only MAP_PRIVATE file mapping with a page changed through
 *    /proc/self/mem (as a debugger plants a breakpoint): not charged to
 *    the commit limit ("ac"), and its changed page is still there;
 *  - a MAP_PRIVATE file mapping written and then made read-only: charged
 *    ("ac") as it was;
 *  - a MAP_SHARED mapping of a file opened read-only: no "mw", so
 *    mprotect(PROT_WRITE) still fails with EACCES.
 * The file stays until the end ($CREST_TMP: the runner removes it). */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE	4096
#define NPAGES	8
#define FSIZE	(NPAGES * PAGE)

static char path[4096];

/* Has the mapping at addr flag f in VmFlags? */
static int has_vmflag(void *addr, const char *f)
{
	char line[512], want[32];
	unsigned long lo, hi, a = (unsigned long)addr;
	int in = 0, ret = -1;
	FILE *fp = fopen("/proc/self/smaps", "r");

	if (!fp)
		case_fail("open smaps: %s", strerror(errno));
	snprintf(want, sizeof(want), " %s", f);
	while (fgets(line, sizeof(line), fp)) {
		size_t key = strcspn(line, " ");

		if (key && line[key - 1] != ':' &&
		    sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = a >= lo && a < hi;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			char *p = line + 8;

			ret = 0;
			line[strcspn(line, "\n")] = ' ';
			strcat(line, " ");
			for (; (p = strstr(p, want)); p++)
				if (p[strlen(want)] == ' ')
					ret = 1;
			break;
		}
	}
	fclose(fp);
	if (ret < 0)
		case_fail("no VmFlags for %p in smaps", addr);
	return ret;
}

static char want_byte(int pg, int i)
{
	return 'a' + pg + i % 5;
}

static void check_flags(const char *when, char *ro, char *acc, char *shr)
{
	if (has_vmflag(ro, "ac"))
		case_fail("%s: read-only private mapping is accounted (ac)", when);
	if (!has_vmflag(acc, "ac"))
		case_fail("%s: written private mapping is not accounted (ac)", when);
	if (has_vmflag(shr, "sh"))
		case_fail("%s: read-only shared mapping has sh", when);
	if (has_vmflag(shr, "mw") || !has_vmflag(shr, "ms"))
		case_fail("%s: read-only shared mapping has mw or lacks ms", when);
}

int main(void)
{
	char buf[FSIZE], *ro, *acc, *shr;
	int fd, mem, i, pg;

	case_init();
	snprintf(path, sizeof(path), "%s/crest-vmflags-XXXXXX", case_tmpdir());
	fd = mkstemp(path);
	if (fd < 0)
		case_fail("mkstemp %s: %s", path, strerror(errno));
	for (i = 0; i < FSIZE; i++)
		buf[i] = want_byte(i / PAGE, i);
	if (pwrite(fd, buf, FSIZE, 0) != FSIZE)
		case_fail("pwrite %s: %s", path, strerror(errno));
	close(fd);

	fd = open(path, O_RDONLY);
	if (fd < 0)
		case_fail("open %s: %s", path, strerror(errno));
	ro = mmap(NULL, FSIZE, PROT_READ, MAP_PRIVATE, fd, 0);
	acc = mmap(NULL, FSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	shr = mmap(NULL, FSIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (ro == MAP_FAILED || acc == MAP_FAILED || shr == MAP_FAILED)
		case_fail("mmap: %s", strerror(errno));
	close(fd);

	/* Page 2 of ro changed without making it writable. */
	mem = open("/proc/self/mem", O_RDWR);
	if (mem < 0)
		case_fail("open /proc/self/mem: %s", strerror(errno));
	memset(buf, 'X', PAGE);
	if (pwrite(mem, buf, PAGE, (off_t)(uintptr_t)(ro + 2 * PAGE)) != PAGE)
		case_fail("pwrite /proc/self/mem: %s", strerror(errno));
	close(mem);
	memset(acc + 3 * PAGE, 'Y', PAGE);
	if (mprotect(acc, FSIZE, PROT_READ))
		case_fail("mprotect: %s", strerror(errno));
	if (mprotect(shr, FSIZE, PROT_READ | PROT_WRITE) == 0 || errno != EACCES)
		case_fail("before: mprotect(PROT_WRITE) of read-only shared mapping: %s",
			  strerror(errno));
	check_flags("before", ro, acc, shr);

	case_ready();
	case_wait_go();

	check_flags("after", ro, acc, shr);
	errno = 0;
	if (mprotect(shr, FSIZE, PROT_READ | PROT_WRITE) == 0 || errno != EACCES)
		case_fail("mprotect(PROT_WRITE) of read-only shared mapping: %s "
			  "(the file came back writable)", errno ? strerror(errno) : "worked");
	for (pg = 0; pg < NPAGES; pg++)
		for (i = 0; i < PAGE; i++) {
			int off = pg * PAGE + i;
			char f = want_byte(pg, off);

			if (ro[off] != (pg == 2 ? 'X' : f))
				case_fail("read-only private page %d byte %d: %#x", pg, i,
					  (unsigned char)ro[off]);
			if (acc[off] != (pg == 3 ? 'Y' : f))
				case_fail("written private page %d byte %d: %#x", pg, i,
					  (unsigned char)acc[off]);
			if (shr[off] != f)
				case_fail("shared page %d byte %d: %#x", pg, i,
					  (unsigned char)shr[off]);
		}
	if (!getenv("CREST_TMP"))
		unlink(path);
	case_pass();
}
