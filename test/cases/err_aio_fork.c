/*
 * Not a checkpoint/restore case: a process with a Linux AIO context and
 * a child forked after io_setup(), which maps the parent's ring but has
 * no context there. The dump must refuse the child's mapping by name and
 * leave both running; after go the parent's context still works and the
 * child's ring is still not its own (io_getevents: EINVAL).
 */
#include "caselib.h"

#include <errno.h>
#include <linux/aio_abi.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	aio_context_t ctx = 0;
	struct io_event ev;
	struct iocb cb, *p = &cb;
	char buf[4];
	int pfd[2], st;
	pid_t child;

	case_init();
	if (syscall(SYS_io_setup, 8, &ctx) || pipe(pfd))
		case_fail("io_setup: %s", strerror(errno));
	child = fork();
	if (child == 0) {
		close(pfd[0]);
		if (write(pfd[1], "c", 1) != 1)
			_exit(1);
		case_wait_go();
		/* The ring is mapped here, the context is the parent's. */
		if (syscall(SYS_io_getevents, ctx, 0, 0, NULL, NULL) != -1 || errno != EINVAL)
			case_fail("child: io_getevents on its parent's ring: %s", strerror(errno));
		if (*(unsigned *)(ctx + 16) != 0xa10a10a1)
			case_fail("child: the ring's magic is gone");
		_exit(0);
	}
	close(pfd[1]);
	if (child < 0 || read(pfd[0], buf, 1) != 1)
		case_fail("fork: %s", strerror(errno));
	case_ready();
	case_wait_go();
	kill(child, SIGUSR2);
	memset(&cb, 0, sizeof(cb));
	cb.aio_lio_opcode = IOCB_CMD_PREAD;
	cb.aio_fildes = pfd[0];
	cb.aio_buf = (unsigned long)buf;
	cb.aio_nbytes = 0;
	cb.aio_data = 42;
	if (syscall(SYS_io_submit, ctx, 1, &p) != 1 ||
	    syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL) != 1 || ev.data != 42)
		case_fail("the parent's AIO context does not work: %s", strerror(errno));
	if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st))
		case_fail("the child failed");
	case_pass();
}
