/* Not a checkpoint/restore case: holds a flock on an open file description
 * that only a shared mapping keeps (the fd is closed), which no fd shows.
 * The errors mode expects the dump to refuse it by name with the process
 * left running; after go, the lock must still be held (an outside open
 * can't take it). */
#include "locks_util.h"

#include <sys/file.h>
#include <sys/mman.h>

static char path[4096];

static int checker(void *arg)
{
	int fd = open(path, O_RDONLY);

	(void)arg;
	if (fd < 0)
		return lk_bad("open: %s", strerror(errno));
	if (!flock(fd, LOCK_EX | LOCK_NB))
		return lk_bad("the flock held through the mapping is gone");
	return 0;
}

int main(void)
{
	char *p;
	int fd;

	case_init();
	lk_mkfile(path, "mapped", 4096);
	fd = lk_open(path, O_RDWR);
	if (flock(fd, LOCK_EX))
		case_fail("flock: %s", strerror(errno));
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		case_fail("mmap: %s", strerror(errno));
	close(fd);
	p[0] = 1;

	case_ready();
	case_wait_go();

	lk_check("after the refused dump", checker, NULL);
	lk_unlink(path);
	case_pass();
}
