/*
 * A parent and a child share an anonymous MAP_SHARED region and one file
 * description (inherited across fork, one offset). After the restore the
 * child's writes to the region are seen by the parent, and the two still
 * move one offset: their writes land one after the other, not on top.
 */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

struct shared {
	volatile long counter;
	volatile int turn;	/* 1: child writes its byte, 2: done */
	volatile int quit;
	char big[1 << 20];
};

int main(void)
{
	struct shared *sh;
	char path[256], buf[16];
	long before;
	pid_t child;
	int fd, status;

	case_init();
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		case_fail("mmap: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(sh->big); i += 4096)
		sh->big[i] = (char)(i >> 12);
	snprintf(path, sizeof(path), "%s/crest-shared-XXXXXX", case_tmpdir());
	fd = mkstemp(path);
	if (fd < 0)
		case_fail("mkstemp: %s", strerror(errno));
	if (write(fd, "AB", 2) != 2)
		case_fail("write: %s", strerror(errno));

	child = fork();
	if (child == 0) {
		while (!sh->quit) {
			sh->counter++;
			if (sh->turn == 1) {
				if (write(fd, "c", 1) != 1)
					_exit(2);
				sh->turn = 2;
			}
			usleep(1000);
		}
		_exit(0);
	}
	while (sh->counter < 10)
		usleep(1000);
	case_ready();
	case_wait_go();

	before = sh->counter;
	usleep(100000);
	if (sh->counter <= before)
		case_fail("the child's writes to shared memory are not seen (%ld)", before);
	for (size_t i = 0; i < sizeof(sh->big); i += 4096)
		if (sh->big[i] != (char)(i >> 12))
			case_fail("shared memory lost its content at %zu", i);
	if (write(fd, "p", 1) != 1)
		case_fail("write: %s", strerror(errno));
	sh->turn = 1;
	while (sh->turn != 2)
		usleep(1000);
	if (lseek(fd, 0, SEEK_CUR) != 4)
		case_fail("shared offset is %ld, want 4", (long)lseek(fd, 0, SEEK_CUR));
	if (pread(fd, buf, 4, 0) != 4 || memcmp(buf, "ABpc", 4))
		case_fail("file holds '%.4s', want 'ABpc'", buf);
	sh->quit = 1;
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		case_fail("child: status %#x", status);
	if (!getenv("CREST_TMP"))
		unlink(path);
	case_pass();
}
