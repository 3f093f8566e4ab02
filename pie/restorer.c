/*
 * The restorer: runs inside the new process after crest's child set up its
 * fds, and turns it into the checkpointed program. It runs from its own
 * area (a hole in the target's layout), so it can unmap everything else.
 * Rules in pie/README.md. On success or failure it returns into an int3;
 * crest reads args->stage and args->ret, then sets the registers.
 *
 *   1. unmap crest's memory (all but this area and the vDSO/vvar)
 *   2. move the vDSO/vvar to where the program had them
 *   3. move the VMAs crest's side premapped (shared copy-on-write with
 *      the parent or children) into place; map every other VMA,
 *      writable for now
 *   4. read the pages straight into place and check their crc; with
 *      --lazy-pages, all but those of the lazy mappings, which are then
 *      registered with a userfaultfd handed to the lazy-pages server
 *   5. final protections, mm fields (PR_SET_MM_MAP), signals, timers,
 *      rlimits, seccomp filters, threads; crest's fds closed, then POSIX
 *      locks (a close would drop them); creds last, they may take our
 *      privileges away: capabilities, no_new_privs, parent-death signal.
 */
#include "pie-abi.h"
#include "pie-lib.h"

#define PROT_READ	1
#define PROT_WRITE	2
#define MAP_SHARED	0x01
#define MAP_PRIVATE	0x02
#define MAP_FIXED	0x10
#define MAP_ANONYMOUS	0x20
#define MAP_FIXED_NOREPLACE 0x100000
#define MREMAP_MAYMOVE	1
#define MREMAP_FIXED	2
#define PR_SET_PDEATHSIG	1
#define PR_SET_NAME	15
#define PR_SET_CHILD_SUBREAPER	36
#define PR_SET_MM	35
#define PR_SET_MM_MAP	14
#define TASK_SIZE_MAX	0x7ffffffff000UL

#define fail(a, st, r, where)			\
	do {					\
		(a)->stage = (st);		\
		(a)->ret = (r);			\
		(a)->fail_addr = (where);	\
		return (r);			\
	} while (0)

static int overlaps(uint64_t s1, uint64_t e1, uint64_t s2, uint64_t e2)
{
	return s1 < e2 && s2 < e1;
}

/*
 * What survives the unmapping: this area (0), the vDSO/vvar (1..), and
 * every VMA crest's side already mapped and filled (premapped).
 */
static struct rst_range kept(struct restore_args *a, uint32_t i)
{
	struct rst_vma *v = (struct rst_vma *)a->vmas;
	struct rst_range r = { 0, 0 };

	if (i == 0)
		return a->self;
	if (i <= RST_NR_SPECIAL)
		return a->cur_special[i - 1];
	i -= 1 + RST_NR_SPECIAL;
	if (v[i].premapped) {
		r.start = v[i].premapped;
		r.end = v[i].premapped + (v[i].end - v[i].start);
	}
	return r;
}

/* Unmap [from, to) except what kept() names (sorted or not). */
static long unmap_except(struct restore_args *a, uint64_t from, uint64_t to)
{
	uint32_t nr_keep = 1 + RST_NR_SPECIAL + a->nr_vmas;

	while (from < to) {
		uint64_t next = to;
		uint32_t i;
		int inside = 0;

		for (i = 0; i < nr_keep; i++) {
			struct rst_range k = kept(a, i);

			if (!k.end)
				continue;
			if (k.start <= from && from < k.end) {
				from = k.end;
				inside = 1;
				break;
			}
			if (k.start > from && k.start < next)
				next = k.start;
		}
		if (inside)
			continue;
		if (next > from) {
			long ret = sys_munmap(from, next - from);

			if (ret)
				return ret;
		}
		from = next;
	}
	return 0;
}

static long move_special(struct restore_args *a)
{
	int i;

	for (i = 0; i < RST_NR_SPECIAL; i++) {
		struct rst_range *cur = &a->cur_special[i];
		struct rst_range *tgt = &a->tgt_special[i];
		uint64_t len = cur->end - cur->start;
		long ret;

		if (!cur->end || !tgt->end || cur->start == tgt->start)
			continue;
		if (tgt->end - tgt->start != len)
			fail(a, RST_STAGE_VDSO, -22, tgt->start);
		if (overlaps(cur->start, cur->end, tgt->start, tgt->end)) {
			/* mremap can't move onto itself: go through scratch. */
			ret = sys_mremap(cur->start, len, len,
					 MREMAP_MAYMOVE | MREMAP_FIXED,
					 a->move_via);
			if (ret < 0)
				fail(a, RST_STAGE_VDSO, ret, cur->start);
			cur->start = a->move_via;
			cur->end = a->move_via + len;
		}
		ret = sys_mremap(cur->start, len, len,
				 MREMAP_MAYMOVE | MREMAP_FIXED, tgt->start);
		if (ret < 0)
			fail(a, RST_STAGE_VDSO, ret, tgt->start);
	}
	return 0;
}

/*
 * The premapped VMAs, shared copy-on-write with the parent and children
 * as after a fork, go where the program had them. crest's side put them
 * in a range free in every layout of the subtree, so no move lands on
 * another one's pages.
 */
static long move_premapped(struct restore_args *a)
{
	struct rst_vma *v = (struct rst_vma *)a->vmas;

	for (uint32_t i = 0; i < a->nr_vmas; i++) {
		uint64_t len = v[i].end - v[i].start;
		long ret;

		if (!v[i].premapped || v[i].premapped == v[i].start)
			continue;
		ret = sys_mremap(v[i].premapped, len, len,
				 MREMAP_MAYMOVE | MREMAP_FIXED, v[i].start);
		if (ret < 0)
			fail(a, RST_STAGE_MAP, ret, v[i].start);
		if ((uint64_t)ret != v[i].start)
			fail(a, RST_STAGE_MAP, -17, v[i].start);
	}
	return 0;
}

/* Two mappings of one attach of a System V segment. */
static int same_attach(const struct rst_vma *x, const struct rst_vma *y)
{
	return (y->how & RST_VMA_SYSV) && !(y->how & RST_VMA_SYSV_DONE) && x->fd == y->fd &&
	       x->start - x->pgoff == y->start - y->pgoff &&
	       (x->how & RST_VMA_SYSV_RDONLY) == (y->how & RST_VMA_SYSV_RDONLY);
}

/*
 * One attach of a System V segment (RST_VMA_SYSV), whose mappings are
 * the pieces of it still mapped (mprotect() splits one, munmap() takes
 * pieces away): a placeholder where each goes, so that the kernel puts
 * the attach elsewhere; shmat() of the whole segment; each piece moved
 * over its placeholder; the rest of the attach unmapped. The pieces are
 * of one attach again, at its address: the kernel counts one attach per
 * piece, as at the dump, and shmdt() there detaches them all.
 */
static long map_sysv(struct restore_args *a, uint32_t first)
{
	struct rst_vma *v = (struct rst_vma *)a->vmas;
	const struct rst_vma *f = &v[first];
	uint64_t size = (uint64_t)f->sysv_pages * PIE_PAGE_SIZE;
	uint32_t attached = PROT_READ | ((f->how & RST_VMA_SYSV_RDONLY) ? 0 : PROT_WRITE);
	long ret, base;
	uint32_t i;

	for (i = first; i < a->nr_vmas; i++) {
		if (!same_attach(f, &v[i]))
			continue;
		ret = sys_mmap(v[i].start, v[i].end - v[i].start, 0 /* PROT_NONE */,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if ((uint64_t)ret != v[i].start)
			fail(a, RST_STAGE_MAP, ret < 0 ? ret : -17, v[i].start);
	}
	base = sys_shmat(f->fd, 0, (f->how & RST_VMA_SYSV_RDONLY) ? 010000 /* SHM_RDONLY */ : 0);
	if ((unsigned long)base >= -4095UL)
		fail(a, RST_STAGE_MAP, base, f->start);
	for (i = first; i < a->nr_vmas; i++) {
		uint64_t len = v[i].end - v[i].start;

		if (!same_attach(f, &v[i]) || i == first)
			continue;
		ret = sys_mremap(base + v[i].pgoff, len, len, MREMAP_FIXED | MREMAP_MAYMOVE,
				 v[i].start);
		if ((uint64_t)ret != v[i].start)
			fail(a, RST_STAGE_MAP, ret < 0 ? ret : -22, v[i].start);
		v[i].how |= RST_VMA_SYSV_DONE;
	}
	/* The first last: same_attach() compares with it until here. */
	ret = sys_mremap(base + f->pgoff, f->end - f->start, f->end - f->start,
			 MREMAP_FIXED | MREMAP_MAYMOVE, f->start);
	if ((uint64_t)ret != f->start)
		fail(a, RST_STAGE_MAP, ret < 0 ? ret : -22, f->start);
	v[first].how |= RST_VMA_SYSV_DONE;
	/* What is left at base is the attach's and nothing else's. */
	ret = sys_munmap(base, size);
	if (ret)
		fail(a, RST_STAGE_MAP, ret, f->start);
	for (i = first; i < a->nr_vmas; i++) {
		if (!(v[i].how & RST_VMA_SYSV) || v[i].fd != f->fd || v[i].prot == attached ||
		    v[i].start - v[i].pgoff != f->start - f->pgoff)
			continue;
		ret = sys_mprotect(v[i].start, v[i].end - v[i].start, v[i].prot);
		if (ret)
			fail(a, RST_STAGE_MAP, ret, v[i].start);
	}
	return 0;
}

static long map_vmas(struct restore_args *a)
{
	struct rst_vma *v = (struct rst_vma *)a->vmas;
	uint32_t i;

	for (i = 0; i < a->nr_vmas; i++) {
		unsigned long flags = v[i].flags | MAP_FIXED_NOREPLACE;
		unsigned long prot = v[i].prot;
		long ret;

		if (v[i].premapped)
			continue;
		if (v[i].how & RST_VMA_SYSV) {
			if (!(v[i].how & RST_VMA_SYSV_DONE) && map_sysv(a, i))
				return a->ret;
			continue;
		}

		/*
		 * Private mappings get written below; shared ones keep theirs,
		 * and so do the forced ones (filled through mem_fd).
		 */
		if ((!(flags & MAP_SHARED) || v[i].fd < 0) &&
		    !(v[i].how & RST_VMA_FORCE))
			prot |= PROT_READ | PROT_WRITE;
		ret = sys_mmap(v[i].start, v[i].end - v[i].start, prot, flags,
			       v[i].fd, v[i].pgoff);
		if (ret < 0)
			fail(a, RST_STAGE_MAP, ret, v[i].start);
		if ((uint64_t)ret != v[i].start)
			fail(a, RST_STAGE_MAP, -17, v[i].start);
	}
	return 0;
}

/* Is the run at vaddr in a RST_VMA_FORCE mapping? (vmas[] is sorted) */
static int run_forced(const struct restore_args *a, uint64_t vaddr)
{
	const struct rst_vma *v = (const struct rst_vma *)a->vmas;
	uint32_t lo = 0, hi = a->nr_vmas;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (vaddr < v[mid].start)
			hi = mid;
		else if (vaddr >= v[mid].end)
			lo = mid + 1;
		else
			return !!(v[mid].how & RST_VMA_FORCE);
	}
	return 0;
}

/*
 * A run in a read-only mapping: read a piece onto the stack, write it
 * through /proc/self/mem (FOLL_FORCE: the page is copied on write as a
 * debugger's breakpoint is, the mapping's flags stay as they are).
 */
static long fill_forced(struct restore_args *a, int fd, int check, uint64_t vaddr,
			uint64_t len, uint64_t off, uint32_t want_crc)
{
	char buf[4 * PIE_PAGE_SIZE];
	uint64_t done = 0;
	unsigned int sum = ~0u;

	if (a->mem_fd < 0)
		fail(a, RST_STAGE_PAGES, -9, vaddr);	/* EBADF */
	while (done < len) {
		uint64_t chunk = len - done < sizeof(buf) ? len - done : sizeof(buf);
		uint64_t got = 0;

		while (got < chunk) {
			long n = sys_pread64(fd, (uint64_t)buf + got,
					     chunk - got, off + done + got);

			if (n < 0)
				fail(a, RST_STAGE_PAGES, n, vaddr + done);
			if (n == 0)
				fail(a, RST_STAGE_PAGES, -5, vaddr + done);
			got += n;
		}
		/* The checksum from the buffer: the mapping may be PROT_NONE. */
		for (uint64_t pg = 0; check && pg < chunk; pg += PIE_PAGE_SIZE)
			sum = arch_crc32c_u32(sum, ~arch_crc32c_page_raw(buf + pg));
		for (uint64_t put = 0; put < chunk;) {
			long n = sys_pwrite64(a->mem_fd, (uint64_t)buf + put,
					      chunk - put, vaddr + done + put);

			if (n <= 0)
				fail(a, RST_STAGE_PAGES, n ? n : -5, vaddr + done + put);
			put += n;
		}
		done += chunk;
	}
	if (check && ~sum != want_crc)
		fail(a, RST_STAGE_CRC, -74, off); /* EBADMSG */
	return 0;
}

/* ---- --lazy-pages: the userfaultfd, handed to the server ---- */

#define UFFD_API		0xAA
#define UFFDIO_API		0xc018aa3fUL	/* _IOWR(0xAA, 0x3F, 24 bytes) */
#define UFFDIO_REGISTER		0xc020aa00UL	/* _IOWR(0xAA, 0x00, 32 bytes) */
#define UFFDIO_REGISTER_MODE_MISSING	1
#define O_CLOEXEC_NONBLOCK	(02000000 | 04000)
#define SOL_SOCKET		1
#define SCM_RIGHTS		1

struct k_uffdio_api {
	uint64_t api, features, ioctls;
};

struct k_uffdio_register {
	uint64_t start, len, mode, ioctls;
};

struct k_iovec {
	uint64_t base, len;
};

struct k_msghdr {
	uint64_t name;
	uint32_t namelen, pad;
	uint64_t iov, iovlen;
	uint64_t control, controllen;
	uint32_t flags, pad2;
};

struct k_cmsg_fd {
	uint64_t len;
	int32_t level, type;
	int32_t fd, pad;
};

/*
 * Before a page of them is touched: every lazy mapping registered with
 * one userfaultfd, which goes to the server with who we are; our copy is
 * closed at once (the server holds it; a fault from here on, ours or the
 * kernel's on our behalf, waits for the server). A process with nothing
 * lazy says so too: the server counts every process.
 */
static long lazy_register(struct restore_args *a)
{
	struct rst_vma *v = (struct rst_vma *)a->vmas;
	struct rst_lazy_hello h = { a->orig_pid, (int32_t)sys_getpid(), 0, 0 };
	struct k_uffdio_api api = { UFFD_API, a->lazy_features, 0 };
	struct k_iovec iov = { (uint64_t)&h, sizeof(h) };
	struct k_cmsg_fd cm = { 20, SOL_SOCKET, SCM_RIGHTS, -1, 0 };
	struct k_msghdr mh = { 0, 0, 0, (uint64_t)&iov, 1, 0, 0, 0, 0 };
	long uffd = -1, ret;

	if (a->lazy_fd < 0)
		return 0;
	for (uint32_t i = 0; i < a->nr_vmas; i++) {
		struct k_uffdio_register reg = { v[i].start, v[i].end - v[i].start,
						 UFFDIO_REGISTER_MODE_MISSING, 0 };

		if (!(v[i].how & RST_VMA_LAZY))
			continue;
		if (uffd < 0) {
			uffd = sys_userfaultfd(O_CLOEXEC_NONBLOCK);
			if (uffd < 0)
				fail(a, RST_STAGE_LAZY, uffd, 0);
			ret = sys_ioctl(uffd, UFFDIO_API, (unsigned long)&api);
			if (ret) {
				sys_close(uffd);
				fail(a, RST_STAGE_LAZY, ret, a->lazy_features);
			}
		}
		ret = sys_ioctl(uffd, UFFDIO_REGISTER, (unsigned long)&reg);
		if (ret) {
			sys_close(uffd);
			fail(a, RST_STAGE_LAZY, ret, v[i].start);
		}
		h.nr_lazy++;
	}
	if (uffd >= 0) {
		cm.fd = (int32_t)uffd;
		mh.control = (uint64_t)&cm;
		mh.controllen = sizeof(cm);
	}
	do
		ret = sys_sendmsg(a->lazy_fd, (unsigned long)&mh, 0x4000 /* MSG_NOSIGNAL */);
	while (ret == -4 /* EINTR */);
	if (uffd >= 0)
		sys_close(uffd);
	if (ret != sizeof(h))
		fail(a, RST_STAGE_LAZY, ret < 0 ? ret : -5, 0);
	return 0;
}

/* Each run says where its bytes lie in the pages image. */
static long fill_pages(struct restore_args *a)
{
	struct rst_run *r = (struct rst_run *)a->runs;
	uint32_t i;

	for (i = 0; i < a->nr_runs; i++) {
		uint64_t len = (uint64_t)r[i].nr_pages * PIE_PAGE_SIZE;
		uint64_t off = a->pages_off + r[i].off;
		uint64_t done = 0;
		/* A piece of an earlier dump's run has no checksum of its own. */
		int check = a->verify_crc && !(r[i].flags & RST_RUN_NOCRC);
		int fd;

		if (r[i].file >= RST_MAX_CHAIN || a->chain_fds[r[i].file] < 0)
			fail(a, RST_STAGE_PAGES, -9, r[i].vaddr);	/* EBADF */
		fd = a->chain_fds[r[i].file];

		/*
		 * Fault the run's pages in with one call rather than one fault
		 * per page as the copy goes (MADV_POPULATE_WRITE; an old
		 * kernel without it just takes the faults).
		 */
		if (run_forced(a, r[i].vaddr)) {
			fill_forced(a, fd, check, r[i].vaddr, len, off, r[i].crc);
			continue;
		}
		sys_madvise(r[i].vaddr, len, 23);
		while (done < len) {
			long n = sys_pread64(fd, r[i].vaddr + done,
					     len - done, off + done);

			if (n < 0)
				fail(a, RST_STAGE_PAGES, n, r[i].vaddr + done);
			if (n == 0) /* truncated behind our back */
				fail(a, RST_STAGE_PAGES, -5, r[i].vaddr + done);
			done += n;
		}
		if (check &&
		    arch_crc32c_pages((void *)r[i].vaddr, len) != r[i].crc)
			fail(a, RST_STAGE_CRC, -74, off); /* EBADMSG */
	}
	return 0;
}

static long protect_vmas(struct restore_args *a)
{
	struct rst_vma *v = (struct rst_vma *)a->vmas;
	uint32_t i;

	for (i = 0; i < a->nr_vmas; i++) {
		long ret;

		if (((v[i].flags & MAP_SHARED) && v[i].fd >= 0) ||
		    (v[i].how & RST_VMA_FORCE))
			continue;
		ret = sys_mprotect(v[i].start, v[i].end - v[i].start,
				   v[i].prot);
		if (ret)
			fail(a, RST_STAGE_PROTECT, ret, v[i].start);
	}
	return 0;
}

/*
 * What VmFlags showed beyond what mmap() gives: madvise() advice, then
 * mlock (which faults the pages in; they are all there by now).
 */
static long advise_vmas(struct restore_args *a)
{
	static const struct { uint32_t bit; int advice; } advs[] = {
		{ RST_ADV_DONTFORK, 10 /* MADV_DONTFORK */ },
		{ RST_ADV_WIPEONFORK, 18 /* MADV_WIPEONFORK */ },
		{ RST_ADV_DONTDUMP, 16 /* MADV_DONTDUMP */ },
		{ RST_ADV_HUGEPAGE, 14 /* MADV_HUGEPAGE */ },
		{ RST_ADV_NOHUGEPAGE, 15 /* MADV_NOHUGEPAGE */ },
		{ RST_ADV_SEQUENTIAL, 2 /* MADV_SEQUENTIAL */ },
		{ RST_ADV_RANDOM, 1 /* MADV_RANDOM */ },
		{ RST_ADV_MERGEABLE, 12 /* MADV_MERGEABLE */ },
	};
	struct rst_vma *v = (struct rst_vma *)a->vmas;
	uint32_t i, k;

	/* Guard regions first: the kernel takes none in a locked mapping. */
	for (i = 0; i < a->nr_guards; i++) {
		struct rst_range *g = (struct rst_range *)a->guards + i;
		long ret = sys_madvise(g->start, g->end - g->start, 102 /* MADV_GUARD_INSTALL */);

		if (ret)
			fail(a, RST_STAGE_ADVICE, ret, g->start);
	}
	for (i = 0; i < a->nr_vmas; i++) {
		uint64_t len = v[i].end - v[i].start;
		long ret;

		if (!v[i].advice)
			continue;
		for (k = 0; k < sizeof(advs) / sizeof(advs[0]); k++) {
			if (!(v[i].advice & advs[k].bit))
				continue;
			ret = sys_madvise(v[i].start, len, advs[k].advice);
			if (ret)
				fail(a, RST_STAGE_ADVICE, ret, v[i].start);
		}
		if (v[i].advice & (RST_ADV_LOCKED | RST_ADV_LOCKONFAULT)) {
			ret = sys_mlock2(v[i].start, len,
					 v[i].advice & RST_ADV_LOCKONFAULT ? 1 /* MLOCK_ONFAULT */ : 0);
			if (ret)
				fail(a, RST_STAGE_ADVICE, ret, v[i].start);
		}
	}
	/* Every mapping there is and to come (the ones above have mg already). */
	if (a->ksm_merge_any) {
		long ret = sys_prctl(67 /* PR_SET_MEMORY_MERGE */, 1, 0, 0, 0);

		if (ret)
			fail(a, RST_STAGE_ADVICE, ret, 67);
	}
	/* Sealed last: nothing may change a sealed mapping, not even this. */
	for (i = 0; i < a->nr_vmas; i++) {
		long ret;

		if (!(v[i].advice & RST_ADV_SEALED))
			continue;
		ret = sys_mseal(v[i].start, v[i].end - v[i].start, 0);
		if (ret)
			fail(a, RST_STAGE_ADVICE, ret, v[i].start);
	}
	/* Without MCL_CURRENT it leaves the mappings above as they are. */
	if (a->mcl_future) {
		long ret = sys_mlockall(a->mcl_future);

		if (ret)
			fail(a, RST_STAGE_ADVICE, ret, a->mcl_future);
	}
	return 0;
}

static long restore_sigactions(struct restore_args *a)
{
	for (uint32_t i = 1; i <= CREST_NSIG; i++) {
		long ret;

		if (!(a->sigaction_set & (1ULL << (i - 1))))
			continue;
		ret = sys_rt_sigaction(i, (unsigned long)&a->sigactions[i - 1],
				       0, 8);
		if (ret)
			fail(a, RST_STAGE_SIGNALS, ret, i);
	}
	return 0;
}

struct k_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal;
	uint64_t stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

#define CLONE_VM	0x00000100
#define CLONE_FS	0x00000200
#define CLONE_FILES	0x00000400
#define CLONE_SIGHAND	0x00000800
#define CLONE_THREAD	0x00010000
#define CLONE_SYSVSEM	0x00040000

long pie_clone_thread(struct k_clone_args *ca, unsigned long size,
		      void (*fn)(void *), void *arg);

/* ---- attributes of the credentials and the rest (src/task-attrs.c) ---- */

#define PR_CAPBSET_READ		23
#define PR_CAPBSET_DROP		24
#define PR_GET_SECUREBITS	27
#define PR_SET_SECUREBITS	28
#define PR_SET_TIMERSLACK	29
#define PR_SET_NO_NEW_PRIVS	38
#define PR_SET_THP_DISABLE	41
#define PR_CAP_AMBIENT		47
#define PR_CAP_AMBIENT_RAISE	2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#define SECBIT_NO_SETUID_FIXUP	(1 << 2)
#define SECCOMP_SET_MODE_STRICT	0
#define SECCOMP_SET_MODE_FILTER	1
#define CAP_VERSION_3		0x20080522

struct cap_header {
	uint32_t version;
	int32_t pid;
};

struct cap_data {
	uint32_t eff, prm, inh;
};

struct k_sock_fprog {
	uint16_t len;
	uint16_t pad[3];
	uint64_t filter;
};

static long capset_all(uint64_t eff, uint64_t prm, uint64_t inh)
{
	struct cap_header h = { CAP_VERSION_3, 0 };
	struct cap_data d[2] = {
		{ (uint32_t)eff, (uint32_t)prm, (uint32_t)inh },
		{ eff >> 32, prm >> 32, inh >> 32 },
	};

	return sys_capset((unsigned long)&h, (unsigned long)d);
}

/*
 * Still with crest's full set: the inheritable set and the ambient one
 * while they can be raised (ambient needs the bit permitted and
 * inheritable), then SECBIT_NO_SETUID_FIXUP so the uid change below
 * keeps every capability until capset puts the saved ones.
 */
static long caps_before_ids(const struct rst_thread *t)
{
	struct cap_header h = { CAP_VERSION_3, 0 };
	struct cap_data d[2];
	long ret, bits;

	if (!t->has_caps)
		return 0;
	ret = sys_capget((unsigned long)&h, (unsigned long)d);
	if (ret)
		return ret;
	if ((d[0].inh | (uint64_t)d[1].inh << 32) != t->cap_inh) {
		ret = capset_all(d[0].eff | (uint64_t)d[1].eff << 32,
				 d[0].prm | (uint64_t)d[1].prm << 32, t->cap_inh);
		if (ret)
			return ret;
	}
	ret = sys_prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (int i = 0; !ret && i < 64; i++)
		if (t->cap_amb & (1ULL << i))
			ret = sys_prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0);
	if (ret)
		return ret;
	/* Without CAP_SETPCAP (an unprivileged restore) there is none to keep. */
	bits = sys_prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	if (bits < 0 || (bits & SECBIT_NO_SETUID_FIXUP))
		return bits < 0 ? bits : 0;
	ret = sys_prctl(PR_SET_SECUREBITS, bits | SECBIT_NO_SETUID_FIXUP, 0, 0, 0);
	return ret == -1 /* EPERM */ ? 0 : ret;
}

/* The ids are in place: bounding set, securebits, then the sets. */
static long caps_after_ids(const struct rst_thread *t)
{
	long ret;

	if (!t->has_caps)
		return 0;
	for (int i = 0; i < 64; i++) {
		if (t->cap_bnd & (1ULL << i))
			continue;
		ret = sys_prctl(PR_CAPBSET_READ, i, 0, 0, 0);
		if (ret == -22)		/* past the kernel's last capability */
			break;
		if (ret == 1)
			ret = sys_prctl(PR_CAPBSET_DROP, i, 0, 0, 0);
		if (ret < 0)
			return ret;
	}
	ret = sys_prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	if (ret >= 0 && ret != t->secbits)
		ret = sys_prctl(PR_SET_SECUREBITS, t->secbits, 0, 0, 0);
	if (ret < 0)
		return ret;
	return capset_all(t->cap_eff, t->cap_prm, t->cap_inh);
}

/*
 * Filters go in while we are still privileged (no_new_privs may not be
 * set); crest traces us with PTRACE_O_SUSPEND_SECCOMP, so they only
 * bite once it lets the process go.
 */
static long install_filters(const struct rst_filter *f, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct k_sock_fprog prog = { .len = f[i].len, .filter = f[i].prog };
		long ret = sys_seccomp(SECCOMP_SET_MODE_FILTER, f[i].flags,
				       (unsigned long)&prog);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * setgroups() wants CAP_SETGID even to set the groups one has: a restore
 * by an unprivileged user (CAP_CHECKPOINT_RESTORE only) of its own
 * processes keeps the groups it has, so ask only when they differ.
 */
static int same_groups(const struct restore_args *a)
{
	uint32_t now[64];
	long n = sys_getgroups(64, (unsigned long)now);

	if (n < 0 || (uint32_t)n != a->nr_groups)
		return 0;
	for (uint32_t i = 0; i < a->nr_groups; i++) {
		long k;

		for (k = 0; k < n && now[k] != a->groups[i]; k++)
			;
		if (k == n)
			return 0;
	}
	return 1;
}

static long set_creds(struct restore_args *a, struct rst_thread *t)
{
	long ret;

	if (!a->has_creds)
		return 0;
	/* Credentials belong to each thread: every one sets its own. */
	ret = caps_before_ids(t);
	if (!ret && !same_groups(a))
		ret = sys_setgroups(a->nr_groups, (unsigned long)a->groups);
	if (!ret)
		ret = sys_setresgid(a->gid, a->egid, a->sgid);
	if (!ret) {
		sys_setfsgid(a->fsgid);
		ret = sys_setresuid(a->uid, a->euid, a->suid);
	}
	if (!ret) {
		sys_setfsuid(a->fsuid);
		ret = caps_after_ids(t);
	}
	if (!ret && t->no_new_privs)
		ret = sys_prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	/* A change of ids clears it: last. */
	if (!ret)
		ret = sys_prctl(PR_SET_PDEATHSIG, t->pdeathsig, 0, 0, 0);
	if (!ret && t->seccomp_strict)
		ret = sys_seccomp(SECCOMP_SET_MODE_STRICT, 0, 0);
	return ret;
}

/*
 * The kernel gives a thread room for AMX tile data only when it first
 * touches it (an #NM trap the kernel takes once the process has the
 * permission); until then crest's PTRACE_SETREGSET of an xstate holding
 * tile data fails with EINVAL. Touch it: configure one tile, zero it,
 * release. crest puts back the real tile state afterwards.
 */
static void grow_tile_xstate(void)
{
	static const struct {
		uint8_t palette, start_row, rsvd[14];
		uint16_t colsb[16];
		uint8_t rows[16];
	} __attribute__((packed, aligned(64))) cfg = { .palette = 1,
		.colsb = { 4 }, .rows = { 1 } };

	asm volatile("ldtilecfg %0\n\ttilezero %%tmm0\n\ttilerelease"
		     : : "m"(cfg) : "memory");
}

/*
 * What is each thread's own: rseq, clear_child_tid, robust list,
 * altstack, pending signals (all blocked here; crest sets the real mask
 * last) and name. The main thread does it for itself too.
 */
static long thread_setup(struct restore_args *a, struct rst_thread *t)
{
	struct rst_siginfo *si = (struct rst_siginfo *)t->siginfo;
	long ret, pid = sys_getpid(), tid = sys_gettid();

	t->stage = RST_STAGE_MM;
	if (t->has_rseq) {
		ret = sys_rseq(t->rseq_addr, t->rseq_len, 0, t->rseq_sig);
		if (ret)
			return ret;
	}
	sys_set_tid_address(t->clear_tid_addr);
	/*
	 * Under a new PID, the thread library's own copy of our TID (where
	 * clear_child_tid points, glibc's pthread tid) must learn it, or
	 * raise() and friends would signal the old one.
	 */
	if (a->new_pid && t->clear_tid_addr)
		*(volatile int32_t *)t->clear_tid_addr = tid;
	if (t->robust_list) {
		ret = sys_set_robust_list(t->robust_list, t->robust_len);
		if (ret)
			return ret;
	}
	t->stage = RST_STAGE_SIGNALS;
	if (t->altstack_size || t->altstack_flags) {
		uint64_t st[3] = { t->altstack_sp, t->altstack_flags, t->altstack_size };

		ret = sys_sigaltstack((unsigned long)st, 0);
		if (ret)
			return ret;
	}
	for (uint32_t i = 0; i < t->nr_siginfo; i++) {
		int sig = *(int32_t *)si[i].raw;

		/*
		 * Our own int3 at the end would be taken for a SIGTRAP of
		 * ours (a second one is not queued): crest queues it after.
		 */
		if (sig == 5 && !si[i].shared)
			continue;

		if (si[i].shared)
			ret = sys_rt_sigqueueinfo(pid, sig, (unsigned long)si[i].raw);
		else
			ret = sys_rt_tgsigqueueinfo(pid, tid, sig, (unsigned long)si[i].raw);
		if (ret)
			return ret;
	}
	if (t->comm[0])
		sys_prctl(PR_SET_NAME, (unsigned long)t->comm, 0, 0, 0);
	if (t->timer_slack) {
		ret = sys_prctl(PR_SET_TIMERSLACK, t->timer_slack, 0, 0, 0);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * A pidfd of a thread to another holder: a byte and the fd (SCM_RIGHTS)
 * on a stream socket crest made for it, with room for every copy.
 */
static long send_fd(int32_t sock, long fd)
{
	char byte = 'p';
	struct k_iovec iov = { (uint64_t)&byte, 1 };
	struct k_cmsg_fd cm = { 20 /* CMSG_LEN(4) */, SOL_SOCKET, SCM_RIGHTS, (int32_t)fd, 0 };
	struct k_msghdr mh = { 0, 0, 0, (uint64_t)&iov, 1, (uint64_t)&cm, sizeof(cm), 0, 0 };
	long ret;
	int tries = 0;

	do
		ret = sys_sendmsg(sock, (unsigned long)&mh, 0x4000 /* MSG_NOSIGNAL */);
	while (ret == -4 /* EINTR */ && ++tries < 1000);
	return ret == 1 ? 0 : ret < 0 ? ret : -5;
}

/*
 * A copy the maker sends (send_fd): waits until it comes; the maker
 * sends before it takes anything itself, so it always does, or its
 * restorer failed and crest kills us all. The new fd, or -errno.
 */
static long recv_fd(int32_t sock)
{
	char byte;
	struct k_iovec iov = { (uint64_t)&byte, 1 };
	struct k_cmsg_fd cm = { 0, 0, 0, -1, 0 };
	struct k_msghdr mh = { 0, 0, 0, (uint64_t)&iov, 1, (uint64_t)&cm, sizeof(cm), 0, 0 };
	long ret;
	int tries = 0;

	do
		ret = sys_recvmsg(sock, (unsigned long)&mh, 0x40000000 /* MSG_CMSG_CLOEXEC */);
	while (ret == -4 /* EINTR */ && ++tries < 1000);
	if (ret < 0)
		return ret;
	if (ret != 1 || mh.controllen < 20 || cm.len != 20 || cm.level != SOL_SOCKET ||
	    cm.type != SCM_RIGHTS || cm.fd < 0)
		return -5;	/* EIO: not what a maker sends */
	return cm.fd;
}

/* A pidfd of a thread taken from sock, over the placeholder at dst. */
static long take_pidfd(int32_t sock, int32_t dst, uint32_t cloexec)
{
	long fd = recv_fd(sock), ret;

	if (fd < 0)
		return fd;
	ret = sys_dup3(fd, dst, cloexec ? 02000000 /* O_CLOEXEC */ : 0);
	sys_close(fd);
	return ret < 0 ? ret : 0;
}

/*
 * A thread with an fd table of its own was made without CLONE_FILES: its
 * table is a copy of the process's. Each of its fds comes from the copy
 * the process holds for it; every other fd of the copy goes (close_range
 * over the gaps between its fds, which are sorted).
 */
static long own_fd_table(struct rst_thread *t)
{
	struct rst_fd *f = (struct rst_fd *)t->fds;
	uint32_t from = 0;
	long ret;

	for (uint32_t i = 0; i < t->nr_fds; i++) {
		ret = sys_dup3(f[i].src, f[i].dst, f[i].cloexec ? 02000000 /* O_CLOEXEC */ : 0);
		if (ret < 0)
			return ret;
	}
	/* Its pidfds of threads, while the sockets are still in the copy. */
	for (uint32_t i = 0; i < t->nr_fds; i++) {
		if (f[i].sock < 0)
			continue;
		ret = take_pidfd(f[i].sock, f[i].dst, f[i].cloexec);
		if (ret < 0)
			return ret;
	}
	for (uint32_t i = 0; i < t->nr_fds; i++) {
		if ((uint32_t)f[i].dst > from) {
			ret = sys_close_range(from, f[i].dst - 1, 0);
			if (ret)
				return ret;
		}
		from = f[i].dst + 1;
	}
	return sys_close_range(from, ~0U, 0);
}

/* A new thread: what is its own, then stop for crest (pie_clone_thread). */
static void thread_main(void *arg)
{
	struct rst_thread *t = arg;
	struct restore_args *a = (struct restore_args *)t->args;
	long ret;

	if (t->own_files) {
		t->stage = RST_STAGE_FILES;
		ret = own_fd_table(t);
		if (ret) {
			t->ret = ret;
			return;
		}
	}
	if (t->tile_data)
		grow_tile_xstate();	/* the process has the permission by now */
	ret = thread_setup(a, t);

	if (ret) {
		t->ret = ret;
		return;
	}
	t->stage = RST_STAGE_ATTRS;
	ret = install_filters((struct rst_filter *)t->filters, t->nr_filters);
	if (ret) {
		t->ret = ret;
		return;
	}
	t->stage = RST_STAGE_CREDS;
	ret = set_creds(a, t);
	if (ret) {
		t->ret = ret;
		return;
	}
	t->stage = RST_STAGE_DONE;
	t->ret = 0;
}

#define WNOHANG		1
#define __WALL		0x40000000
#define SIGKILL		9

/*
 * A TID we ask for is held till now by a child of ours (hold_tids() in
 * src/restore-task.c), so that nobody takes it in the seconds a restore
 * lasts: kill and reap it, and the TID is free for clone3 at once. Only
 * a child of ours is killed: wait4 with WNOHANG says 0 for a living one,
 * -ECHILD for any other TID (--no-restore-pid, nothing held).
 */
static long release_tid(int32_t tid)
{
	long ret;

	if (!tid || sys_wait4(tid, 0, WNOHANG | __WALL, 0))
		return 0;
	ret = sys_kill(tid, SIGKILL);
	if (ret)
		return ret;
	do
		ret = sys_wait4(tid, 0, __WALL, 0);
	while (ret == -4 /* EINTR */);
	return ret == tid ? 0 : ret;
}

static long create_threads(struct restore_args *a)
{
	struct rst_thread *t = (struct rst_thread *)a->threads;

	for (uint32_t i = 0; i < a->nr_threads; i++) {
		int32_t want = t[i].tid;
		struct k_clone_args ca = {
			.flags = CLONE_VM | CLONE_FS | CLONE_SIGHAND |
				 CLONE_THREAD | CLONE_SYSVSEM |
				 (t[i].own_files ? 0 : CLONE_FILES),
			.stack = t[i].stack,
			.stack_size = PIE_THREAD_STACK,
			.set_tid = want ? (uint64_t)&want : 0,
			.set_tid_size = want ? 1 : 0,
		};
		long tid;

		/* In a PID namespace: every level; its holder is ours by the inner TID. */
		if (t[i].nr_set_tid) {
			want = t[i].set_tid[0];
			ca.set_tid = (uint64_t)t[i].set_tid;
			ca.set_tid_size = t[i].nr_set_tid;
		}

		t[i].args = (uint64_t)a;
		t[i].ret = -1;
		tid = release_tid(want);
		if (tid)
			fail(a, RST_STAGE_THREADS, tid, i);
		tid = pie_clone_thread(&ca, sizeof(ca), thread_main, &t[i]);
		if (tid < 0)
			fail(a, RST_STAGE_THREADS, tid, i);
		t[i].new_tid = tid;
	}
	return 0;
}

#define PR_TIMER_CREATE_RESTORE_IDS	77	/* Linux 6.14 */
#define SIGEV_THREAD_ID	4

/* The kernel's struct sigevent on x86_64: 64 bytes. */
struct k_sigevent {
	uint64_t value;
	int32_t signo;
	int32_t notify;
	int32_t tid;
	int32_t pad[11];
};

static int32_t thread_tid(struct restore_args *a, int32_t idx)
{
	struct rst_thread *t = (struct rst_thread *)a->threads;

	return idx < 0 ? (int32_t)sys_gettid() : t[idx].new_tid;
}

/*
 * Every POSIX timer under the id the program holds: with the prctl on,
 * timer_create() takes the id from *timerid (EBUSY if taken). After the
 * threads, which SIGEV_THREAD_ID timers and thread CPU clocks name; not
 * armed yet (arm_posix_timers()).
 */
static long create_posix_timers(struct restore_args *a)
{
	struct rst_posix_timer *pt = (struct rst_posix_timer *)a->posix_timers;
	long ret;

	if (!a->nr_posix_timers)
		return 0;
	ret = sys_prctl(PR_TIMER_CREATE_RESTORE_IDS, 1, 0, 0, 0);
	if (ret)
		fail(a, RST_STAGE_TIMERS, ret, (uint64_t)-1);
	for (uint32_t i = 0; i < a->nr_posix_timers; i++) {
		struct k_sigevent ev;
		int32_t clock = pt[i].clockid, id = pt[i].id;

		for (int k = 0; k < 11; k++)
			ev.pad[k] = 0;
		ev.value = pt[i].sival;
		ev.signo = pt[i].signo;
		ev.notify = pt[i].notify;
		ev.tid = 0;
		if (pt[i].notify & SIGEV_THREAD_ID)
			ev.tid = thread_tid(a, pt[i].notify_thread);
		/* A CPU clock names its process or thread: the new ids. */
		if (pt[i].cpu_clock == 1)
			clock = (int32_t)(~(uint32_t)sys_getpid() << 3) | (clock & 7);
		else if (pt[i].cpu_clock == 2)
			clock = (int32_t)(~(uint32_t)thread_tid(a, pt[i].clock_thread) << 3) |
				(clock & 7);
		ret = sys_timer_create(clock, (unsigned long)&ev, (unsigned long)&id);
		if (!ret && id != pt[i].id)
			ret = -17;	/* EEXIST: the kernel ignored the id */
		if (ret) {
			sys_prctl(PR_TIMER_CREATE_RESTORE_IDS, 0, 0, 0, 0);
			fail(a, RST_STAGE_TIMERS, ret, i);
		}
	}
	ret = sys_prctl(PR_TIMER_CREATE_RESTORE_IDS, 0, 0, 0, 0);
	if (ret)
		fail(a, RST_STAGE_TIMERS, ret, (uint64_t)-1);
	return 0;
}

/* Last of all, so none fires while the process is being built. */
static long arm_posix_timers(struct restore_args *a)
{
	struct rst_posix_timer *pt = (struct rst_posix_timer *)a->posix_timers;

	for (uint32_t i = 0; i < a->nr_posix_timers; i++) {
		int64_t its[4] = { pt[i].interval_sec, pt[i].interval_nsec,
				   pt[i].value_sec, pt[i].value_nsec };
		long ret;

		if (!its[2] && !its[3])
			continue;	/* disarmed */
		ret = sys_timer_settime(pt[i].id, 0, (unsigned long)its, 0);
		if (ret)
			fail(a, RST_STAGE_TIMERS, ret, i);
	}
	return 0;
}

/*
 * Owners that are threads other than the main one: they exist now. Set
 * through the process's table (a thread's own fd by its copy there),
 * before crest's fds, those copies among them, are closed.
 */
static long set_fowns(struct restore_args *a)
{
	struct rst_fown *o = (struct rst_fown *)a->fowns;
	long ret;

	for (uint32_t i = 0; i < a->nr_fowns; i++) {
		int32_t own[2] = { 0 /* F_OWNER_TID */, thread_tid(a, o[i].thread) };

		ret = sys_fcntl(o[i].fd, 15 /* F_SETOWN_EX */, (unsigned long)own);
		if (ret)
			fail(a, RST_STAGE_FILES, ret, i);
	}
	return 0;
}

/*
 * pidfds of threads other than the main one: they exist now. Each over
 * crest's placeholder at its number, before crest's fds are closed.
 */
static long make_thread_pidfds(struct restore_args *a)
{
	struct rst_pidfd *p = (struct rst_pidfd *)a->pidfds;
	long ret;

	for (uint32_t i = 0; i < a->nr_pidfds; i++) {
		int dup = p[i].same >= 0 && (uint32_t)p[i].same < i;
		long fd;

		if (p[i].take)
			continue;
		if (dup) {
			fd = p[p[i].same].fd;
		} else {
			fd = sys_pidfd_open(thread_tid(a, p[i].thread), p[i].flags);
			if (fd < 0)
				fail(a, RST_STAGE_FILES, fd, i);
		}
		/* Sent first: the other holders wait for it. */
		for (uint32_t k = 0; k < p[i].sends; k++) {
			ret = send_fd(p[i].sock, fd);
			if (ret < 0) {
				if (!dup)
					sys_close(fd);
				fail(a, RST_STAGE_FILES, ret, i);
			}
		}
		ret = p[i].fd < 0 ? 0 :
		      sys_dup3(fd, p[i].fd, p[i].cloexec ? 02000000 /* O_CLOEXEC */ : 0);
		if (!dup)
			sys_close(fd);
		if (ret < 0)
			fail(a, RST_STAGE_FILES, ret, i);
	}
	for (uint32_t i = 0; i < a->nr_pidfds; i++) {
		if (!p[i].take)
			continue;
		ret = take_pidfd(p[i].sock, p[i].fd, p[i].cloexec);
		if (ret < 0)
			fail(a, RST_STAGE_FILES, ret, i);
	}
	return 0;
}

/*
 * POSIX locks belong to the fd table and any close of the file drops
 * them: taken when no fd of crest's is left to close. F_SETLK, never
 * F_SETLKW: a lock held by somebody else now is a failed restore.
 */
static long take_locks(struct restore_args *a)
{
	struct rst_lock *l = (struct rst_lock *)a->locks;
	struct {
		int16_t type, whence;
		int32_t pad;
		int64_t start, len;
		int32_t pid, pad2;
	} fl;
	long ret;

	for (uint32_t i = 0; i < a->nr_locks; i++) {
		fl.type = l[i].type;
		fl.whence = 0;		/* SEEK_SET */
		fl.pad = 0;
		fl.start = l[i].start;
		fl.len = l[i].len;
		fl.pid = 0;
		fl.pad2 = 0;
		ret = sys_fcntl(l[i].fd, 6 /* F_SETLK */, (unsigned long)&fl);
		if (ret)
			fail(a, RST_STAGE_LOCKS, ret, i);
	}
	return 0;
}

/* struct iocb of <linux/aio_abi.h>, little-endian. */
struct pie_iocb {
	uint64_t data;
	uint32_t key, rw_flags;
	uint16_t opcode;
	int16_t reqprio;
	uint32_t fildes;
	uint64_t buf, nbytes;
	int64_t offset;
	uint64_t reserved2;
	uint32_t flags, resfd;
};
_Static_assert(sizeof(struct pie_iocb) == 64, "iocb layout");

/* The head of struct aio_ring (fs/aio.c); its events follow. */
struct pie_aio_ring {
	uint32_t id, nr, head, tail, magic, compat, incompat, header_length;
};

#define IOCB_CMD_PWRITE	1
#define MREMAP_MAYMOVE	1
#define AIO_BATCH	64

/*
 * One AIO context again (src/mem-aio.c): io_setup() a ring of the same
 * nr; the kernel writes the next event at its tail, which only events
 * move: as many writes of a byte to /dev/null as the saved tail is past
 * 0 (a turn more if it wrapped, head past tail), each completing at
 * once, head moved along as a reader would so the ring never fills;
 * then the saved events over them and the ring to its old address.
 */
static long restore_aio(struct restore_args *a, const struct rst_aio *r)
{
	const struct pie_aio_ring *old = (const struct pie_aio_ring *)r->ring;
	struct pie_iocb cb = { 0 }, *cbs[AIO_BATCH];
	volatile struct pie_aio_ring *ring;
	uint32_t count, done = 0, i;
	uint64_t ctx = 0, k;
	char byte = 0;
	long ret;

	ret = sys_io_setup(r->nr_req, (unsigned long)&ctx);
	if (ret)
		fail(a, RST_STAGE_AIO, ret, r->start);
	ring = (volatile struct pie_aio_ring *)ctx;
	if (ring->nr != old->nr || old->head >= old->nr || old->tail >= old->nr)
		fail(a, RST_STAGE_AIO, -22, r->start);
	count = old->tail < old->head ? old->nr + old->tail : old->tail;
	cb.opcode = IOCB_CMD_PWRITE;
	cb.fildes = a->aio_null_fd;
	cb.buf = (uint64_t)&byte;
	cb.nbytes = 1;
	for (i = 0; i < AIO_BATCH; i++)
		cbs[i] = &cb;
	while (done < count) {
		ret = sys_io_submit(ctx, count - done < AIO_BATCH ? count - done : AIO_BATCH,
				    (unsigned long)cbs);
		if (ret <= 0)
			fail(a, RST_STAGE_AIO, ret ? ret : -11, r->start);
		done += ret;
		ring->head = done < old->head ? done : old->head;
	}
	if (ring->tail != old->tail || ring->head != old->head)
		fail(a, RST_STAGE_AIO, -22, r->start);
	/* Word by word: no memcpy() here. */
	for (k = sizeof(*old); k < r->len; k += 8)
		*(volatile uint64_t *)(ctx + k) = *(const uint64_t *)(r->ring + k);
	ret = sys_mremap(ctx, r->len, r->len, MREMAP_FIXED | MREMAP_MAYMOVE, r->start);
	if ((uint64_t)ret != r->start)
		fail(a, RST_STAGE_AIO, ret < 0 ? ret : -22, r->start);
	if (r->prot != (PROT_READ | PROT_WRITE)) {
		ret = sys_mprotect(r->start, r->len, r->prot);
		if (ret)
			fail(a, RST_STAGE_AIO, ret, r->start);
	}
	return 0;
}

static long restore_aios(struct restore_args *a)
{
	const struct rst_aio *r = (const struct rst_aio *)a->aios;

	for (uint32_t i = 0; i < a->nr_aios; i++)
		if (restore_aio(a, &r[i]))
			return a->ret;
	return 0;
}

static long restore_task(struct restore_args *a)
{
	int32_t *close_fds = (int32_t *)a->close_fds;
	uint32_t i;
	uint64_t perm;
	long ret;

	a->stage = RST_STAGE_UNMAP;
	ret = unmap_except(a, 0, TASK_SIZE_MAX);
	if (ret)
		fail(a, RST_STAGE_UNMAP, ret, 0);

	a->stage = RST_STAGE_VDSO;
	if (move_special(a))
		return a->ret;
	a->stage = RST_STAGE_MAP;
	if (move_premapped(a) || map_vmas(a))
		return a->ret;
	a->stage = RST_STAGE_PAGES;
	if (fill_pages(a))
		return a->ret;
	/* Lazy mappings may hold pages filled above (the command line). */
	a->stage = RST_STAGE_LAZY;
	if (lazy_register(a))
		return a->ret;
	a->stage = RST_STAGE_PROTECT;
	if (protect_vmas(a))
		return a->ret;
	a->stage = RST_STAGE_ADVICE;
	if (advise_vmas(a))
		return a->ret;
	a->stage = RST_STAGE_AIO;
	if (restore_aios(a))
		return a->ret;

	a->stage = RST_STAGE_MM;
	if (a->has_mm) {
		ret = sys_prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)&a->mm,
				sizeof(a->mm), 0);
		if (ret)
			fail(a, RST_STAGE_MM, ret, 0);
	}
	if (a->child_subreaper) {
		ret = sys_prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
		if (ret)
			fail(a, RST_STAGE_MM, ret, 0);
	}
	if (a->thp_disable) {
		ret = sys_prctl(PR_SET_THP_DISABLE, a->thp_disable & 1,
				a->thp_disable & ~1U, 0, 0);
		if (ret)
			fail(a, RST_STAGE_ATTRS, ret, a->thp_disable);
	}
	/* Registrations are the mm's; each REGISTER_* command is one bit. */
	for (i = 0; i < 32; i++) {
		if (!(a->membarrier & (1U << i)))
			continue;
		ret = sys_membarrier(1U << i, 0, 0);
		if (ret)
			fail(a, RST_STAGE_ATTRS, ret, 1U << i);
	}

	a->stage = RST_STAGE_SIGNALS;
	if (restore_sigactions(a))
		return a->ret;
	ret = thread_setup(a, &a->main);
	if (ret)
		fail(a, a->main.stage, ret, 0);

	a->stage = RST_STAGE_TIMERS;
	for (i = 0; i < 3; i++) {
		/*
		 * No time left but an interval: ITIMER_REAL expired and its
		 * SIGALRM is pending (queued back above); the kernel rearms
		 * it only when that signal is taken. Let it expire again at
		 * once: the signal merges with the pending one.
		 */
		if (!a->itimers[i][2] && !a->itimers[i][3] &&
		    (a->itimers[i][0] || a->itimers[i][1]))
			a->itimers[i][3] = 1;
		if (!a->itimers[i][2] && !a->itimers[i][3])
			continue;
		ret = sys_setitimer(i, (unsigned long)a->itimers[i], 0);
		if (ret)
			fail(a, RST_STAGE_TIMERS, ret, i);
	}

	/* Limits after mapping: a low RLIMIT_AS must not stop us above. */
	a->stage = RST_STAGE_RLIMITS;
	for (i = 0; a->has_rlimits && i < PIE_NR_RLIMITS; i++) {
		ret = sys_prlimit64(0, i, (unsigned long)&a->rlimits[i], 0);
		if (ret == -1) /* EPERM: a hard limit above ours, keep ours */
			continue;
		if (ret)
			fail(a, RST_STAGE_RLIMITS, ret, i);
	}

	/*
	 * A process that asked for AMX (or another dynamic xstate feature)
	 * must have it before crest puts back registers that use it. Only
	 * what this process lacks is asked for: the kernel refuses a request
	 * for a feature that needs no asking (XTILE_CFG, permitted to all on
	 * some CPUs) with EOPNOTSUPP.
	 */
	if (sys_arch_prctl(0x1022 /* ARCH_GET_XCOMP_PERM */, (unsigned long)&perm))
		perm = 0;
	for (i = 0; i < 64; i++) {
		if (!(a->xcomp_perm & ~perm & (1ULL << i)) || i < 17)
			continue;	/* the static features need no asking */
		ret = sys_arch_prctl(0x1023 /* ARCH_REQ_XCOMP_PERM */, i);
		if (!ret && sys_arch_prctl(0x1022, (unsigned long)&perm))
			perm = 0;	/* XTILE_DATA brings XTILE_CFG along */
		if (ret)
			fail(a, RST_STAGE_MM, ret, i);
	}
	if (a->main.tile_data && (perm & (1ULL << 18)))
		grow_tile_xstate();

	/* Filters every thread shares: before they exist, they inherit them. */
	a->stage = RST_STAGE_ATTRS;
	ret = install_filters((struct rst_filter *)a->shared_filters,
			      a->nr_shared_filters);
	if (ret)
		fail(a, RST_STAGE_ATTRS, ret, 0);

	a->stage = RST_STAGE_THREADS;
	if (create_threads(a))
		return a->ret;
	a->stage = RST_STAGE_FILES;
	if (set_fowns(a))
		return a->ret;
	if (make_thread_pidfds(a))
		return a->ret;
	a->stage = RST_STAGE_TIMERS;
	if (create_posix_timers(a))
		return a->ret;

	a->stage = RST_STAGE_ATTRS;
	ret = install_filters((struct rst_filter *)a->main.filters,
			      a->main.nr_filters);
	if (ret)
		fail(a, RST_STAGE_ATTRS, ret, 1);

	/*
	 * Into the tree's user namespace at last: crest's privileges over
	 * the host's (set_tid, PR_SET_MM_MAP...) were needed until here. A
	 * single-threaded process only (the kernel's rule).
	 */
	if (a->userns_fd >= 0) {
		a->stage = RST_STAGE_CREDS;
		ret = sys_setns(a->userns_fd, 0x10000000 /* CLONE_NEWUSER */);
		if (ret)
			fail(a, RST_STAGE_CREDS, ret, 1);
	}
	for (i = 0; i < a->nr_close; i++)
		sys_close(close_fds[i]);
	a->stage = RST_STAGE_LOCKS;
	if (take_locks(a))
		return a->ret;

	/*
	 * crest's child died with crest until here; the program gets its
	 * own parent-death signal back last, with its credentials.
	 */
	a->stage = RST_STAGE_CREDS;
	ret = set_creds(a, &a->main);
	if (ret)
		fail(a, RST_STAGE_CREDS, ret, 0);
	a->stage = RST_STAGE_TIMERS;
	if (arm_posix_timers(a))
		return a->ret;
	a->stage = RST_STAGE_DONE;
	a->ret = 0;
	return 0;
}

long pie_main(struct restore_args *a)
{
	long ret;

	if (a->version != PIE_ABI_VERSION) {
		a->ret = -22;
		return a->ret;
	}
	ret = restore_task(a);
	/*
	 * A zombie leader's job ends here: it exits, its threads live on,
	 * with the mask the exited main thread had. A signal pending for
	 * the process stays blocked here too: the leader must not take it.
	 */
	if (!ret && a->zombie_leader) {
		uint64_t pending = 0, mask;

		sys_rt_sigpending((unsigned long)&pending, 8);
		mask = a->zombie_blocked | pending;
		sys_rt_sigprocmask(2 /* SIG_SETMASK */, (unsigned long)&mask, 0, 8);
		sys_exit(0);
	}
	return ret;
}
