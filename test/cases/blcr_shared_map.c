/*
 * A MAP_SHARED mapping of $CREST_TMP/blcr-shared-map (or /tmp/...) with a
 * known pattern written through it before ready. On go the mapping must
 * still hold that pattern. Nothing is written after go, so the blcr mode's
 * save-shared check can tell that a restart from a context made with
 * --save-shared leaves the file on disk untouched (it overwrites the file
 * after the checkpoint; the mapping must come back from the context).
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FSIZE	(16 * 4096)

static char pat(size_t i)
{
	return (char)((i * 131 + 7) % 251);
}

int main(void)
{
	char path[4096];
	char *m;
	size_t i;
	int fd;

	case_init();
	snprintf(path, sizeof(path), "%s/blcr-shared-map", case_tmpdir());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		case_fail("open %s: %s", path, strerror(errno));
	if (ftruncate(fd, FSIZE))
		case_fail("ftruncate: %s", strerror(errno));
	m = mmap(NULL, FSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		case_fail("mmap: %s", strerror(errno));
	close(fd);
	for (i = 0; i < FSIZE; i++)
		m[i] = pat(i);
	if (msync(m, FSIZE, MS_SYNC))
		case_fail("msync: %s", strerror(errno));
	case_ready();
	case_wait_go();
	for (i = 0; i < FSIZE; i++)
		if (m[i] != pat(i))
			case_fail("shared mapping byte %zu: got %#x want %#x", i,
				  (unsigned char)m[i], (unsigned char)pat(i));
	case_pass();
}
