/*
 * Linux AIO contexts (io_setup(2)). A context is its ring, a shared
 * mapping "/[aio] (deleted)" whose address is the aio_context_t the
 * program holds:
 *
 *   start                                                   end
 *   | header: id nr head tail magic compat incompat hlen | io_event[nr] |
 *     32 bytes                                             32 bytes each
 *
 * The dump keeps the ring's bytes (read through /proc/PID/mem) and the
 * nr_events to give io_setup() for a ring of its size. The restorer
 * calls io_setup() with it, checks it gave the same nr, moves the
 * kernel's tail to the saved one with as many writes of one byte to
 * /dev/null (they complete at once, each an event), sets head, copies
 * the saved events over and mremap()s the ring to its old address (the
 * kernel follows a moved ring: the context id is the address again).
 *
 * Requests in flight (submitted, not completed) hold a slot each of the
 * context's reqs_available, a kernel counter kept partly per CPU
 * (fs/aio.c) that nothing shows user space: an io_submit() probe that
 * fails early (a bad fd) says only that one slot is free, and one that
 * gets as far as a request adds an event to the ring; io_cancel() of a
 * request it finds cancels it. So they can't be counted. What can be
 * done: each ring is read a second time, last, just before
 * mm-PID.img is written with the tree still frozen (aio_reread()), so a
 * request that completes during the dump (an O_DIRECT read or write, an
 * fsync run by a kernel worker, a poll whose file became ready) is saved
 * as its event. Buffered file, pipe and socket I/O completes within
 * io_submit(); only a request still in flight at that second read (a
 * poll of a file that is not ready, I/O a device has not answered yet)
 * is lost (crest(8), LIMITATIONS; CRIU does no better: "XXX: wait aio
 * completion").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "parasite.h"
#include "pie-abi.h"
#include "refuse.h"
#include "util.h"

#define AIO_RING_MAGIC		0xa10a10a1
#define AIO_HDR			32	/* struct aio_ring without its events */
#define AIO_EVENT		32	/* struct io_event */

struct aio_hdr {
	uint32_t id, nr, head, tail, magic, compat, incompat, header_length;
};
_Static_assert(sizeof(struct aio_hdr) == AIO_HDR, "aio_ring header layout");

/*
 * io_setup(n) makes a ring of max(n, 4 * CPUs) * 2 + 2 events rounded up
 * to whole pages (fs/aio.c since 3.19, "aio: percpu reqs_available"):
 * (nr - 2) / 2 gives a ring of the same size back, on this machine.
 */
static uint32_t aio_nr_req(uint32_t nr)
{
	return nr > 2 ? (nr - 2) / 2 : 0;
}

int aio_dump_ring(pid_t pid, VmaEntry *v)
{
	uint64_t len = v->end - v->start;
	struct aio_hdr h;
	char path[64];
	void *buf;
	int fd;

	if (len > (64ULL << 20) || len < PAGE_SIZE) {
		refuse(pid, "mapping %llx-%llx is a Linux AIO ring of %llu bytes, not supported",
		       (unsigned long long)v->start, (unsigned long long)v->end,
		       (unsigned long long)len);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	buf = xzalloc(len);
	if (fd < 0 || pread(fd, buf, len, v->start) != (ssize_t)len) {
		pr_perror("can't read the AIO ring at %llx of process %d",
			  (unsigned long long)v->start, pid);
		if (fd >= 0)
			close(fd);
		free(buf);
		return -1;
	}
	close(fd);
	memcpy(&h, buf, sizeof(h));
	if (h.magic != AIO_RING_MAGIC || h.compat != 1 || h.incompat != 0 ||
	    h.header_length != AIO_HDR || h.nr != (len - AIO_HDR) / AIO_EVENT ||
	    h.head >= h.nr || h.tail >= h.nr || !aio_nr_req(h.nr)) {
		refuse(pid, "mapping %llx-%llx is a Linux AIO ring crest does not know (magic %#x, features %u/%u, header %u bytes, %u events, head %u, tail %u)",
		       (unsigned long long)v->start, (unsigned long long)v->end, h.magic,
		       h.compat, h.incompat, h.header_length, h.nr, h.head, h.tail);
		free(buf);
		return 0;
	}
	v->has_aio_nr_req = 1;
	v->aio_nr_req = aio_nr_req(h.nr);
	v->has_aio_ring = 1;
	v->aio_ring.data = buf;
	v->aio_ring.len = len;
	pr_debug("AIO ring at %llx of process %d: %u events, head %u, tail %u",
		 (unsigned long long)v->start, pid, h.nr, h.head, h.tail);
	return 0;
}

/*
 * Each ring of process pid read again, just before its mm-PID.img is
 * written (see the top): the tree is still frozen, so no task of it
 * reaps (its head and the bytes before the first read's tail stay), but
 * the kernel may have added events at the tail since the first read.
 */
int aio_reread(pid_t pid, const struct mem_layout *ml)
{
	int fd = -1, ret = -1;
	char path[64];

	for (int i = 0; i < ml->nr_vmas; i++) {
		VmaEntry *v = ml->vmas[i];
		struct aio_hdr was, now;
		void *buf;

		if (v->kind != VMA_KIND__VMA_AIO_RING || !v->has_aio_ring)
			continue;
		if (fd < 0) {
			snprintf(path, sizeof(path), "/proc/%d/mem", pid);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				pr_perror("can't open '%s'", path);
				return -1;
			}
		}
		buf = xzalloc(v->aio_ring.len);
		/* Tests: hold the dump (10 s at most) till an event is added. */
		for (int k = 0; k < 1000 && fault("aio-wait-completion") &&
		     pread(fd, &now, sizeof(now), v->start) == sizeof(now) &&
		     now.tail == ((struct aio_hdr *)v->aio_ring.data)->tail; k++)
			usleep(10000);
		if (pread(fd, buf, v->aio_ring.len, v->start) != (ssize_t)v->aio_ring.len) {
			pr_perror("can't read the AIO ring at %llx of process %d again",
				  (unsigned long long)v->start, pid);
			free(buf);
			goto out;
		}
		memcpy(&was, v->aio_ring.data, sizeof(was));
		memcpy(&now, buf, sizeof(now));
		if (now.magic != was.magic || now.nr != was.nr || now.head != was.head ||
		    now.tail >= now.nr) {
			pr_err("the AIO ring at %llx of process %d changed while it was frozen (head %u, tail %u; %u, %u before)",
			       (unsigned long long)v->start, pid, now.head, now.tail,
			       was.head, was.tail);
			free(buf);
			goto out;
		}
		if (now.tail != was.tail)
			pr_info("AIO ring at %llx of process %d: %u request%s in flight at the freeze completed during the dump, saved with it",
				(unsigned long long)v->start, pid,
				(now.tail + now.nr - was.tail) % now.nr,
				(now.tail + now.nr - was.tail) % now.nr == 1 ? "" : "s");
		free(v->aio_ring.data);
		v->aio_ring.data = buf;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

size_t aio_args_size(const MmEntry *mm)
{
	size_t n = 0;

	for (size_t i = 0; i < mm->n_vmas; i++)
		if (mm->vmas[i]->kind == VMA_KIND__VMA_AIO_RING)
			n += sizeof(struct rst_aio) + mm->vmas[i]->aio_ring.len + 8;
	return n;
}

int aio_nr_rings(const MmEntry *mm)
{
	int n = 0;

	for (size_t i = 0; i < mm->n_vmas; i++)
		n += mm->vmas[i]->kind == VMA_KIND__VMA_AIO_RING;
	return n;
}

int aio_fill_arg(pid_t pid, const VmaEntry *v, struct rst_aio *a, void *ring)
{
	struct aio_hdr h;

	if (!v->has_aio_ring || !v->has_aio_nr_req ||
	    v->aio_ring.len != v->end - v->start || v->aio_ring.len < AIO_HDR) {
		pr_err("image mm-%d.img is corrupt: the AIO ring at %#llx has no saved bytes",
		       pid, (unsigned long long)v->start);
		return -1;
	}
	memcpy(&h, v->aio_ring.data, sizeof(h));
	if (h.nr != (v->aio_ring.len - AIO_HDR) / AIO_EVENT || h.head >= h.nr ||
	    h.tail >= h.nr || v->aio_nr_req != aio_nr_req(h.nr)) {
		pr_err("image mm-%d.img is corrupt: the AIO ring at %#llx has %u events, head %u, tail %u",
		       pid, (unsigned long long)v->start, h.nr, h.head, h.tail);
		return -1;
	}
	memcpy(ring, v->aio_ring.data, v->aio_ring.len);
	a->start = v->start;
	a->len = v->aio_ring.len;
	a->ring = (uint64_t)ring;
	a->nr_req = v->aio_nr_req;
	a->prot = v->prot;
	return 0;
}

/*
 * Is each ring the process's own context? A child forked after
 * io_setup() maps its parent's ring too (the mapping is copied) but has
 * no context there. io_getevents(ctx, 0, 0) asks the process's own table
 * and takes nothing: EINVAL if it is not one of its contexts.
 */
int aio_check_owned(struct parasite_ctl *ctl, pid_t pid, const struct mem_layout *ml)
{
	for (int i = 0; i < ml->nr_vmas; i++) {
		const VmaEntry *v = ml->vmas[i];
		long r;

		if (v->kind != VMA_KIND__VMA_AIO_RING)
			continue;
		r = parasite_rsys(ctl, SYS_io_getevents, v->start, 0, 0, 0, 0, 0);
		if (r == -EINVAL)
			refuse(pid, "mapping %llx-%llx is the Linux AIO ring of another process (mapped since a fork), not supported yet",
			       (unsigned long long)v->start, (unsigned long long)v->end);
		else if (r < 0) {
			errno = -r;
			pr_perror("can't ask process %d about its AIO ring at %llx", pid,
				  (unsigned long long)v->start);
			return -1;
		}
	}
	return 0;
}
