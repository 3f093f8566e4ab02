/* Linux AIO contexts (io_setup) come back at the same address with the
 * same size and their completed events not yet reaped:
 *  - A: 128 events asked, 3 reads done, 1 reaped: the 2 others are there
 *    after the restore, with their data and results;
 *  - B: the smallest ring, its tail wrapped past the end (126 events
 *    reaped, then 3 more done): those 3 are there after the restore.
 * Both take new requests after the restore, as many as before, and are
 * destroyed by io_destroy. */
#include "caselib.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct ring { unsigned id, nr, head, tail, magic, compat, incompat, hlen; };

static long io_setup(unsigned n, aio_context_t *c) { return syscall(SYS_io_setup, n, c); }
static long io_destroy(aio_context_t c) { return syscall(SYS_io_destroy, c); }
static long io_submit(aio_context_t c, long n, struct iocb **cbs)
{
	return syscall(SYS_io_submit, c, n, cbs);
}
static long io_getevents(aio_context_t c, long min, long n, struct io_event *ev)
{
	struct timespec ts = { 5, 0 };

	return syscall(SYS_io_getevents, c, min, n, ev, &ts);
}

static char bufs[4][16];
static int fd;

/* n reads of 4 bytes at offsets 0, 4, 8...: iocb data = tag + i. */
static void submit(aio_context_t c, int n, unsigned long tag)
{
	static struct iocb cb[256];
	struct iocb *p[256];

	for (int i = 0; i < n; i++) {
		memset(&cb[i], 0, sizeof(cb[i]));
		cb[i].aio_data = tag + i;
		cb[i].aio_lio_opcode = IOCB_CMD_PREAD;
		cb[i].aio_fildes = fd;
		cb[i].aio_buf = (unsigned long)bufs[i % 4];
		cb[i].aio_nbytes = 4;
		cb[i].aio_offset = 4 * (i % 4);
		p[i] = &cb[i];
	}
	if (io_submit(c, n, p) != n)
		case_fail("io_submit of %d: %s", n, strerror(errno));
}

static void reap(aio_context_t c, int n, unsigned long tag, const char *when)
{
	struct io_event ev[256];

	if (io_getevents(c, n, n, ev) != n)
		case_fail("%s: io_getevents of %d: %s", when, n, strerror(errno));
	for (int i = 0; i < n; i++)
		if (ev[i].data != tag + i || ev[i].res != 4)
			case_fail("%s: event %d is data %llu res %lld, want %lu and 4", when, i,
				  (unsigned long long)ev[i].data, (long long)ev[i].res, tag + i);
}

static void in_maps(aio_context_t c)
{
	char line[512], want[32];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	snprintf(want, sizeof(want), "%lx-", (unsigned long)c);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, want, strlen(want)) && strstr(line, "/[aio] (deleted)"))
			found = 1;
	if (f)
		fclose(f);
	if (!found)
		case_fail("no AIO ring at %lx in /proc/self/maps", (unsigned long)c);
}

int main(void)
{
	char path[4096];
	aio_context_t a = 0, b = 0;
	struct ring *ra, *rb;
	unsigned nr_a, nr_b;

	case_init();
	snprintf(path, sizeof(path), "%s/crest-aio-XXXXXX", case_tmpdir());
	fd = mkstemp(path);
	if (fd < 0 || write(fd, "0123456789abcdef", 16) != 16)
		case_fail("make %s: %s", path, strerror(errno));
	if (io_setup(128, &a) || io_setup(1, &b))
		case_fail("io_setup: %s", strerror(errno));
	ra = (struct ring *)a;
	rb = (struct ring *)b;
	nr_a = ra->nr;
	nr_b = rb->nr;
	submit(a, 3, 100);
	reap(a, 1, 100, "before");
	for (unsigned done = 0; done < nr_b - 1; ) {
		unsigned n = nr_b - 1 - done > 64 ? 64 : nr_b - 1 - done;

		submit(b, n, 1000 + done);
		reap(b, n, 1000 + done, "before");
		done += n;
	}
	submit(b, 3, 5000);
	if (rb->tail >= rb->head)
		case_fail("ring B did not wrap: head %u tail %u of %u", rb->head, rb->tail, nr_b);

	case_ready();
	case_wait_go();

	in_maps(a);
	in_maps(b);
	if (ra->nr != nr_a || rb->nr != nr_b)
		case_fail("rings of %u and %u events, %u and %u before", ra->nr, rb->nr,
			  nr_a, nr_b);
	reap(a, 2, 101, "A after the restore");
	reap(b, 3, 5000, "B after the restore");
	/* As many in flight as before: a full ring's worth less one. */
	submit(a, 128, 200);
	reap(a, 128, 200, "A new requests");
	submit(b, 64, 300);
	reap(b, 64, 300, "B new requests");
	if (io_destroy(a) || io_destroy(b))
		case_fail("io_destroy: %s", strerror(errno));
	case_pass();
}
