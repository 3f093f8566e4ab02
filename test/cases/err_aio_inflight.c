/*
 * A Linux AIO request in flight when the tree is frozen: an IOCB_CMD_POLL
 * of an eventfd nobody in the tree writes, behind a read that completed
 * and was not reaped. It belongs to the errors mode (ErrorCheck
 * check_aio_inflight): the runner writes the eventfd during the dump,
 * once the pages are saved, and the dump must save the poll's event it
 * then finds in the ring; after the restore both events are reaped, in
 * order. Nothing else can complete it: the kernel shows no count of
 * requests in flight, and a dump without the runner's write loses it
 * (crest(8), LIMITATIONS).
 */
#include "caselib.h"

#include <errno.h>
#include <linux/aio_abi.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	struct iocb rd = { 0 }, pl = { 0 }, *cbs[2] = { &rd, &pl };
	struct timespec ts = { 10, 0 };
	struct io_event ev[2];
	aio_context_t ctx = 0;
	char path[4096], buf[4];
	int fd, efd;

	case_init();
	snprintf(path, sizeof(path), "%s/crest-aio-inflight-XXXXXX", case_tmpdir());
	fd = mkstemp(path);
	efd = eventfd(0, EFD_CLOEXEC);
	if (fd < 0 || efd < 0 || write(fd, "abcd", 4) != 4)
		case_fail("make %s and an eventfd: %s", path, strerror(errno));
	if (syscall(SYS_io_setup, 8, &ctx))
		case_fail("io_setup: %s", strerror(errno));
	rd.aio_data = 1;
	rd.aio_lio_opcode = IOCB_CMD_PREAD;
	rd.aio_fildes = fd;
	rd.aio_buf = (unsigned long)buf;
	rd.aio_nbytes = 4;
	pl.aio_data = 2;
	pl.aio_lio_opcode = IOCB_CMD_POLL;
	pl.aio_fildes = efd;
	pl.aio_buf = POLLIN;
	if (syscall(SYS_io_submit, ctx, 2, cbs) != 2)
		case_fail("io_submit: %s", strerror(errno));

	case_ready();
	case_wait_go();

	if (syscall(SYS_io_getevents, ctx, 2, 2, ev, &ts) != 2)
		case_fail("io_getevents of the read and the poll: %s",
			  errno ? strerror(errno) : "fewer events");
	if (ev[0].data != 1 || ev[0].res != 4 || memcmp(buf, "abcd", 4))
		case_fail("first event data %llu res %lld, want the read's (1, 4)",
			  (unsigned long long)ev[0].data, (long long)ev[0].res);
	if (ev[1].data != 2 || !(ev[1].res & POLLIN))
		case_fail("second event data %llu res %#llx, want the poll's (2, POLLIN)",
			  (unsigned long long)ev[1].data, (unsigned long long)ev[1].res);
	if (syscall(SYS_io_destroy, ctx))
		case_fail("io_destroy: %s", strerror(errno));
	case_pass();
}
