/* Not a checkpoint/restore case: holds a flock on a named FIFO, a kind of
 * file crest does not take locks back on, and one on a file only a mapping
 * keeps open. The errors mode expects the dump to refuse both at once, by
 * fd, path and lock, with the process left running; after go, the FIFO's
 * lock must still be held. */
#include "locks_util.h"

#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define FIFO_FD	7

static char path[4096];

static int checker(void *arg)
{
	int fd = open(path, O_RDWR);

	(void)arg;
	if (fd < 0)
		return lk_bad("open: %s", strerror(errno));
	if (!flock(fd, LOCK_EX | LOCK_NB))
		return lk_bad("the flock on the FIFO is gone");
	return 0;
}

int main(void)
{
	int fd;

	case_init();
	snprintf(path, sizeof(path), "%s/crest-lk-fifo-%d", case_tmpdir(), getpid());
	if (mkfifo(path, 0600))
		case_fail("mkfifo %s: %s", path, strerror(errno));
	fd = lk_open(path, O_RDWR);
	if (dup2(fd, FIFO_FD) < 0)
		case_fail("dup2: %s", strerror(errno));
	close(fd);
	if (flock(FIFO_FD, LOCK_EX))
		case_fail("flock: %s", strerror(errno));
	{
		char mpath[4096];
		void *p;

		lk_mkfile(mpath, "fifo-mapped", 4096);
		fd = lk_open(mpath, O_RDWR);
		if (flock(fd, LOCK_SH))
			case_fail("flock: %s", strerror(errno));
		p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			case_fail("mmap: %s", strerror(errno));
		close(fd);
		lk_unlink(mpath);
	}

	case_ready();
	case_wait_go();

	lk_check("after the refused dump", checker, NULL);
	lk_unlink(path);
	case_pass();
}
