/*
 * Memory: the VMAs of a process and the pages worth saving.
 *
 * Pages move from the target to the image without passing through
 * crest's memory: the parasite vmsplices runs of its pages into a pipe,
 * crest splices the pipe into pages-PID.img. Only pages that are present
 * or swapped are taken; in a file-backed private mapping only those the
 * program wrote (anonymous copies), the rest come back from the file; in
 * anonymous memory not the kernel's zero page (read, never written), nor
 * a page that is all zeros (written with zeros, or written and cleared):
 * both read as zeros again after the restore, as an untouched page does.
 *
 * Copy-on-write: a page of a child that is the very page its parent has
 * at the same address (same PFN in both pagemaps, mapped by more than
 * one) is not saved again; the pagemap says "inherited" and the restore
 * lets the child inherit it from its parent, as fork did.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "arch-crc.h"
#include "files.h"
#include "image.h"
#include "log.h"
#include "mem.h"
#include "mem-zpages.h"
#include "page-server.h"
#include "track.h"
#include "parasite.h"
#include "proc.h"
#include "progress.h"
#include "refuse.h"
#include "util.h"

#define PME_PRESENT	(1ULL << 63)
#define PME_SWAP	(1ULL << 62)
#define PME_FILE	(1ULL << 61)	/* file page or shared anonymous */
#define PME_GUARD	(1ULL << 58)	/* a guard region (MADV_GUARD_INSTALL) */
#define PME_EXCLUSIVE	(1ULL << 56)	/* mapped by this process only */
#define PME_PFN		((1ULL << 55) - 1)	/* 0 unless we may see PFNs */
#define PME_UFFD_WP	(1ULL << 57)
#define PME_SWP_TYPE	0x1fULL			/* of a swap entry, with PFNs */
#define SWP_PTE_MARKER	0x1fULL			/* not a page: a uffd-wp marker */
#define MAX_INH_PAGES	(1U << 20)
#define MAX_RUN_PAGES	256		/* 1 MiB per crc'd run */
#define PIPE_BYTES	(1 << 20)
#define ZBATCH_BYTES	(16 << 20)	/* --compress: pages held per batch */
/* ... which a run may pass by at most its own length */
#define ZMAP_BYTES	(ZBATCH_BYTES + MAX_RUN_PAGES * PAGE_SIZE)

/* shmat()'s mapping: "/SYSV" and the key in 8 hex digits, "(deleted)". */
static bool is_sysv_shm(const char *path)
{
	if (strncmp(path, "/SYSV", 5) || strlen(path) != 5 + 8 + 10 ||
	    strcmp(path + 13, " (deleted)"))
		return false;
	for (int i = 5; i < 13; i++)
		if (!isxdigit((unsigned char)path[i]))
			return false;
	return true;
}

int mem_vma_kind(const char *path, int shared, VmaKind *kind)
{
	if (!strcmp(path, "[vdso]"))
		*kind = VMA_KIND__VMA_VDSO;
	else if (!strcmp(path, "[vvar]"))
		*kind = VMA_KIND__VMA_VVAR;
	else if (!strcmp(path, "[vvar_vclock]"))
		*kind = VMA_KIND__VMA_VVAR_VCLOCK;
	else if (!path[0] || !strcmp(path, "[heap]") || !strcmp(path, "[stack]") ||
		 !strncmp(path, "[anon:", 6))
		*kind = shared ? VMA_KIND__VMA_ANON_SHARED : VMA_KIND__VMA_ANON_PRIVATE;
	else if (shared && !strcmp(path, "/dev/zero (deleted)"))
		*kind = VMA_KIND__VMA_ANON_SHARED;
	else if (shared && !strcmp(path, "/[aio] (deleted)"))
		*kind = VMA_KIND__VMA_AIO_RING;
	else if (shared && is_sysv_shm(path))
		*kind = VMA_KIND__VMA_SYSV_SHM;
	else if (path[0] == '/')
		*kind = shared ? VMA_KIND__VMA_FILE_SHARED : VMA_KIND__VMA_FILE_PRIVATE;
	else
		return -1;
	return 0;
}

int mem_cow_candidate(const VmaEntry *v)
{
	/* Stacks grow: they stay copies (small, and every one is written). */
	return v->kind == VMA_KIND__VMA_ANON_PRIVATE && !(v->flags & MAP_GROWSDOWN);
}

int mem_cow_parent_vma(VmaEntry *const *pvmas, size_t n, const VmaEntry *v)
{
	size_t lo = 0, hi = n;

	if (!mem_cow_candidate(v))
		return -1;
	/* VMAs are in address order, as maps lists them. */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (pvmas[mid]->end <= v->start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < n && pvmas[lo]->start <= v->start && v->end <= pvmas[lo]->end &&
	    mem_cow_candidate(pvmas[lo]))
		return lo;
	return -1;
}

static int add_vma(pid_t pid, struct mem_layout *ml, struct dump_files *df,
		   const struct proc_vma *pv)
{
	VmaEntry *v;
	VmaKind kind;

	if (!strcmp(pv->path, "[vsyscall]"))
		return 0;	/* fixed, the kernel's own */
	if (mem_vma_kind(pv->path, pv->shared, &kind)) {
		refuse(pid, "mapping %lx-%lx is '%s', not supported yet",
		       (unsigned long)pv->start, (unsigned long)pv->end, pv->path);
		return 0;
	}
	if ((kind == VMA_KIND__VMA_FILE_PRIVATE || kind == VMA_KIND__VMA_FILE_SHARED) &&
	    !strncmp(pv->path, "/SYSV", 5)) {
		refuse(pid, "mapping %lx-%lx is '%s' (System V shared memory), not supported yet",
		       (unsigned long)pv->start, (unsigned long)pv->end, pv->path);
		return 0;
	}

	v = xzalloc(sizeof(*v));
	vma_entry__init(v);
	v->start = pv->start;
	v->end = pv->end;
	v->pgoff = pv->pgoff;
	v->prot = pv->prot;
	v->kind = kind;
	v->flags = pv->shared ? MAP_SHARED : MAP_PRIVATE;
	if (pv->path[0]) {
		v->name = xstrdup(pv->path);
	}
	switch (kind) {
	case VMA_KIND__VMA_ANON_PRIVATE:
		v->flags |= MAP_ANONYMOUS;
		v->pgoff = 0;
		if (!strcmp(pv->path, "[stack]"))
			v->flags |= MAP_GROWSDOWN;
		break;
	case VMA_KIND__VMA_ANON_SHARED:
	case VMA_KIND__VMA_FILE_PRIVATE:
	case VMA_KIND__VMA_FILE_SHARED: {
		char mf[128];
		struct stat st;

		snprintf(mf, sizeof(mf), "/proc/%d/map_files/%lx-%lx", pid,
			 (unsigned long)pv->start, (unsigned long)pv->end);
		if (stat(mf, &st)) {
			pr_perror("can't stat what is mapped at %lx in process %d ('%s')",
				  (unsigned long)pv->start, pid, pv->path);
			free(v->name);
			free(v);
			return -1;
		}
		if (kind == VMA_KIND__VMA_ANON_SHARED) {
			/* The whole object, once, whoever maps it: shmem.c. */
			v->has_shmem_id = 1;
			files_add_shmem(df, pid, mf, &st, &v->shmem_id);
		} else if (!strncmp(pv->path, "/memfd:", 7)) {
			v->has_memfd_id = 1;
			if (files_add_memfd_mapping(df, pid, pv->path, mf, &st,
						    &v->memfd_id)) {
				free(v->name);
				free(v);
				return -1;
			}
		} else {
			char what[64];

			snprintf(what, sizeof(what), "mapping %lx-%lx",
				 (unsigned long)pv->start, (unsigned long)pv->end);
			if (files_refuse_linked(pid, what, pv->path, &st, mf)) {
				free(v->name);
				free(v);
				return 0;
			}
			/*
			 * A deleted file is saved by content, read through mf
			 * (one linked elsewhere: its handle, read through mf).
			 */
			v->has_file_id = 1;
			if (files_add_mapped_src(df, pv->path, &st, mf, &v->file_id)) {
				free(v->name);
				free(v);
				return -1;
			}
		}
		break;
	}
	case VMA_KIND__VMA_SYSV_SHM:
		/*
		 * The segment, its bytes included, is its IPC namespace's
		 * (namespaces.c, which also checks it is one crest saves and
		 * that every attach is the tree's); the inode is its id.
		 */
		v->has_sysv_shm_id = 1;
		v->sysv_shm_id = (int32_t)pv->ino;
		v->has_sysv_shm_dev = 1;
		v->sysv_shm_dev = makedev(pv->dev_major, pv->dev_minor);
		break;
	case VMA_KIND__VMA_AIO_RING:
		/* io_setup()'s ring: made again by io_setup (mem-aio.c). */
		if (aio_dump_ring(pid, v)) {
			free(v->name);
			free(v);
			return -1;
		}
		break;
	case VMA_KIND__VMA_VDSO:
		ml->vdso_start = pv->start;
		ml->vdso_end = pv->end;
		break;
	default:
		break;
	}
	ml->vmas = xrealloc(ml->vmas, (ml->nr_vmas + 1) * sizeof(v));
	ml->vmas[ml->nr_vmas++] = v;
	return 0;
}

int mem_collect(pid_t pid, struct mem_layout *ml, struct dump_files *df)
{
	char *maps = read_proc(pid, "maps", NULL), *line, *save = NULL;
	int ret = 0;

	memset(ml, 0, sizeof(*ml));
	if (!maps) {
		pr_perror("can't read /proc/%d/maps", pid);
		return -1;
	}
	for (line = strtok_r(maps, "\n", &save); line && !ret;
	     line = strtok_r(NULL, "\n", &save)) {
		struct proc_vma pv;

		if (proc_parse_maps_line(line, &pv)) {
			pr_err("can't parse /proc/%d/maps line '%s'", pid, line);
			ret = -1;
			break;
		}
		ret = add_vma(pid, ml, df, &pv);
	}
	free(maps);
	return ret;
}

static int vma_has_data(const VmaEntry *v)
{
	/* Shared memory is saved from the object itself (shmem.c). */
	return v->kind == VMA_KIND__VMA_ANON_PRIVATE ||
	       v->kind == VMA_KIND__VMA_FILE_PRIVATE;
}

/* One batch of runs being handed over by the parasite. */
struct page_batch {
	struct pie_iov *iovs;	/* local view of the parasite's data area */
	uint32_t *crcs;
	uint32_t max, nr;
	uint64_t bytes;
};

/* Dumping the pages of one process. */
struct dump_pages {
	struct parasite_ctl *ctl;
	struct page_batch b;
	int pm_fd, rfd;
	struct image *pagemap, *pages;
	/* copy-on-write with the parent: its pagemap and VMAs */
	const struct mem_parent *par;
	int ppm_fd;
	struct pie_iov *inh;	/* inherited runs, written last */
	size_t nr_inh;
	uint64_t inh_pages;
	/* pages the previous dump of a chain holds, not written since */
	struct pie_iov *par_runs;
	size_t nr_par;
	uint64_t par_pages;
	/* a run of pages the parasite may not read, read by crest */
	int mem_fd;		/* /proc/PID/mem, opened for the first */
	uint64_t forced, nr_forced;
	uint64_t zeroed;	/* present pages full of zeros, not saved */
	/* --compress: a batch is drained here, then compressed into pages */
	int zfd;
	unsigned char *zmap;	/* zfd's ZMAP_BYTES, mapped */
	struct zpages *zp;
	uint32_t *zlens;
};

/*
 * Drain exactly 'bytes' from the pipe into the pages image. A write error
 * (a full disk) does not stop the draining: the parasite must finish its
 * command normally, so the rest goes to /dev/null and the error is
 * reported once the parasite is back, ready to be cured.
 * ps: out_fd is that page server's socket, whose SO_SNDTIMEO ends a splice
 * that found no room in its buffer for that long with EAGAIN, as an empty
 * pipe does at once: the pipe's bytes before the splice tell them apart.
 */
static int drain_pipe(struct parasite_ctl *ctl, int rfd, int out_fd,
		      uint64_t bytes, const char *img_path, uint64_t written,
		      struct ps_conn *ps)
{
	int done = 0, err = 0, null_fd = -1;

	while (bytes) {
		size_t len = bytes < PIPE_BYTES ? bytes : PIPE_BYTES;
		uint64_t limit;
		int queued = 0;
		ssize_t n;

		if (!err && fault_arg("pages-enospc", &limit) && written >= limit) {
			err = ENOSPC;
			pr_err("can't write pages to '%s': %s (fault injected)",
			       img_path, strerror(err));
		}
		if (err && null_fd < 0) {
			null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
			if (null_fd < 0) {
				pr_perror("can't open /dev/null");
				return -1;
			}
		}
		if (ps && !err && ioctl(rfd, FIONREAD, &queued))
			queued = 0;
		n = splice(rfd, NULL, err ? null_fd : out_fd, NULL, len,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			bytes -= n;
			written += n;
			progress_add(n);
			continue;
		}
		if (n < 0 && errno == EAGAIN && queued > 0) {
			/* Nothing the pipe held went: the server stopped reading. */
			err = ETIMEDOUT;
			ps_set_broken(ps);
			pr_err("can't write pages to '%s': the page server took nothing in %.1f s: is it stopped, or its host gone?",
			       img_path, ps_reply_ms() / 1000.0);
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			if (err) {
				pr_perror("can't drain the page pipe");
				close(null_fd);
				return -1;
			}
			err = errno;
			pr_perror("can't write pages to '%s'", img_path);
			continue;
		}
		/* The pipe is empty: is the parasite still at work? */
		if (!done && parasite_finish(ctl, &done))
			goto fail;
		if (done) {
			struct pollfd p = { rfd, POLLIN, 0 };

			if (poll(&p, 1, 0) <= 0) {
				pr_err("the parasite in task %d stopped with %llu bytes of pages missing",
				       ctl->pid, (unsigned long long)bytes);
				goto fail;
			}
		} else {
			struct pollfd p = { rfd, POLLIN, 0 };

			poll(&p, 1, 10);
		}
	}
	if (!done && parasite_finish(ctl, NULL))
		goto fail;
	if (null_fd >= 0)
		close(null_fd);
	if (err) {
		errno = err;
		log_set_errno(err);
		return -1;
	}
	return 0;
fail:
	if (null_fd >= 0)
		close(null_fd);
	return -1;
}

/*
 * --compress: the batch is spliced into a memfd as it would be into the
 * image (the parasite's command ends the same way), then each run goes
 * into the image as a zstd frame, on both cores. The memfd, its mapping
 * and the compressor's buffers last the whole process: each batch writes
 * over the pages of the last one, none is allocated (and faulted in)
 * again.
 */
static int drain_compressed(struct dump_pages *d)
{
	struct page_batch *b = &d->b;
	uint32_t lens[b->nr];
	uint64_t zbytes = 0;
	int ret;

	if (b->bytes > ZMAP_BYTES) {
		pr_err("a batch of %llu bytes of pages does not fit the compression buffer",
		       (unsigned long long)b->bytes);
		return -1;
	}
	if (lseek(d->zfd, 0, SEEK_SET)) {
		pr_perror("can't rewind the compression buffer");
		return -1;
	}
	if (drain_pipe(d->ctl, d->rfd, d->zfd, b->bytes, d->pages->path,
		       d->pages->off - IMG_PAGES_OFF, NULL))
		return -1;
	for (uint32_t i = 0; i < b->nr; i++)
		lens[i] = b->iovs[i].len;
	d->zlens = xrealloc(d->zlens, b->nr * sizeof(*d->zlens));
	ret = zpages_write(d->zp, d->pages->fd, d->pages->path, d->zmap, lens, b->nr, d->zlens);
	for (uint32_t i = 0; !ret && i < b->nr; i++)
		zbytes += d->zlens[i];
	d->pages->off += zbytes;
	return ret;
}

static int flush_batch(struct dump_pages *d)
{
	struct page_batch *b = &d->b;
	struct parasite_ctl *ctl = d->ctl;
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;

	if (!b->nr)
		return 0;
	ctl->args->nr_iovs = b->nr;
	ctl->args->iovs = ctl->remote + ((unsigned char *)b->iovs - ctl->local);
	ctl->args->crcs = ctl->remote + ((unsigned char *)b->crcs - ctl->local);
	/*
	 * To a page server the bytes are announced, then spliced to its
	 * socket as they would be to the file: a send that fails then is a
	 * failed write, drained as one.
	 */
	if (img_raw_begin(d->pages, b->bytes) ||
	    parasite_start(ctl, PARASITE_CMD_DUMP_PAGES))
		return -1;
	if (d->zfd >= 0 ? drain_compressed(d) :
	    drain_pipe(ctl, d->rfd, d->pages->fd, b->bytes, d->pages->path,
		       d->pages->off - IMG_PAGES_OFF, d->pages->ps))
		return -1;
	for (uint32_t i = 0; i < b->nr; i++) {
		pe.vaddr = b->iovs[i].base;
		pe.nr_pages = b->iovs[i].len / PAGE_SIZE;
		pe.crc = b->crcs[i];
		pe.has_zlen = d->zfd >= 0;
		pe.zlen = pe.has_zlen ? d->zlens[i] : 0;
		if (img_write_msg(d->pagemap, &pe.base))
			return -1;
	}
	if (d->zfd < 0)
		d->pages->off += b->bytes;
	b->nr = 0;
	b->bytes = 0;
	return 0;
}

/* A page to save; runs never cross into another VMA (the restore maps
 * some VMAs early, see mem-premap.c). */
static int add_page(struct dump_pages *d, const VmaEntry *v, uint64_t start)
{
	struct page_batch *b = &d->b;

	if (start != v->start && b->nr &&
	    b->iovs[b->nr - 1].base + b->iovs[b->nr - 1].len == start &&
	    b->iovs[b->nr - 1].len / PAGE_SIZE < MAX_RUN_PAGES) {
		b->iovs[b->nr - 1].len += PAGE_SIZE;
		b->bytes += PAGE_SIZE;
		return 0;
	}
	/* Compressed, a batch is held in memory: at most ZBATCH_BYTES. */
	if ((b->nr == b->max || (d->zfd >= 0 && b->bytes >= ZBATCH_BYTES)) && flush_batch(d))
		return -1;
	b->iovs[b->nr].base = start;
	b->iovs[b->nr].len = PAGE_SIZE;
	b->nr++;
	b->bytes += PAGE_SIZE;
	return 0;
}

/*
 * The run of pages of a mapping the program may not read (PROT_NONE after
 * it wrote them): the parasite can't vmsplice or checksum them, crest
 * reads them through /proc/PID/mem, which may (FOLL_FORCE, the mapping
 * may be made readable: VM_MAYREAD), and writes them into the pages
 * image after all the parasite sent so far. The protection stays as it
 * is; the restorer fills the mapping before it protects it.
 */
static int write_forced(struct dump_pages *d)
{
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;
	size_t len = d->nr_forced * PAGE_SIZE, done = 0;
	char path[64], *buf;

	if (!d->nr_forced)
		return 0;
	if (flush_batch(d))
		return -1;
	if (d->mem_fd < 0) {
		snprintf(path, sizeof(path), "/proc/%d/mem", d->ctl->pid);
		d->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (d->mem_fd < 0) {
			pr_perror("can't open '%s'", path);
			return -1;
		}
	}
	buf = xzalloc(len);
	if (pread(d->mem_fd, buf, len, d->forced) != (ssize_t)len) {
		pr_perror("can't read the unreadable pages at %lx of process %d",
			  (unsigned long)d->forced, d->ctl->pid);
		goto err;
	}
	pe.vaddr = d->forced;
	pe.nr_pages = d->nr_forced;
	pe.crc = arch_crc32c_pages(buf, len);
	if (d->zfd >= 0) {
		uint32_t l = len, z;

		if (zpages_write(d->zp, d->pages->fd, d->pages->path, (unsigned char *)buf, &l, 1,
				 &z))
			goto err;
		pe.has_zlen = 1;
		pe.zlen = z;
		done = len;
		d->pages->off += z - len;	/* with += len below */
	}
	if (d->zfd < 0 && img_raw_begin(d->pages, len))
		goto err;
	while (done < len) {
		ssize_t n = write(d->pages->fd, buf + done, len - done);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN && d->pages->ps) {
				ps_set_broken(d->pages->ps);
				pr_err("can't write pages to '%s': the page server took nothing in %.1f s: is it stopped, or its host gone?",
				       d->pages->path, ps_reply_ms() / 1000.0);
			} else {
				pr_perror("can't write pages to '%s'", d->pages->path);
			}
			goto err;
		}
		done += n;
	}
	free(buf);
	d->pages->off += len;
	d->nr_forced = 0;
	return img_write_msg(d->pagemap, &pe.base);
err:
	free(buf);
	return -1;
}

static int add_forced(struct dump_pages *d, uint64_t start)
{
	if (d->nr_forced && d->forced + d->nr_forced * PAGE_SIZE == start &&
	    d->nr_forced < MAX_RUN_PAGES) {
		d->nr_forced++;
		return 0;
	}
	if (write_forced(d))
		return -1;
	d->forced = start;
	d->nr_forced = 1;
	return 0;
}

static void add_inherited(struct dump_pages *d, const VmaEntry *v, uint64_t start)
{
	struct pie_iov *last = d->nr_inh ? &d->inh[d->nr_inh - 1] : NULL;

	d->inh_pages++;
	if (start != v->start && last && last->base + last->len == start &&
	    last->len / PAGE_SIZE < MAX_INH_PAGES) {
		last->len += PAGE_SIZE;
		return;
	}
	d->inh = xrealloc(d->inh, (d->nr_inh + 1) * sizeof(*d->inh));
	d->inh[d->nr_inh].base = start;
	d->inh[d->nr_inh].len = PAGE_SIZE;
	d->nr_inh++;
}

static void add_in_parent(struct dump_pages *d, const VmaEntry *v, uint64_t start)
{
	struct pie_iov *last = d->nr_par ? &d->par_runs[d->nr_par - 1] : NULL;

	d->par_pages++;
	if (start != v->start && last && last->base + last->len == start &&
	    last->len / PAGE_SIZE < MAX_INH_PAGES) {
		last->len += PAGE_SIZE;
		return;
	}
	d->par_runs = xrealloc(d->par_runs, (d->nr_par + 1) * sizeof(*d->par_runs));
	d->par_runs[d->nr_par].base = start;
	d->par_runs[d->nr_par].len = PAGE_SIZE;
	d->nr_par++;
}

/* Does the previous dump of the chain hold the page at addr? */
static int prev_has(const struct mem_layout *ml, uint64_t addr)
{
	size_t lo = 0, hi = ml->nr_prev;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (addr < ml->prev[mid][0])
			hi = mid;
		else if (addr >= ml->prev[mid][1])
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

/*
 * The child's page is the parent's own (COW-shared since the fork): the
 * same frame, present in both, exclusive to neither. The parent's entry
 * is read before and after the child's and must not have moved, so two
 * frames that merely took turns at one number can't pass for one.
 */
static int cow_shared(uint64_t c, uint64_t p1, uint64_t p2)
{
	if (!(c & PME_PRESENT) || !(p1 & PME_PRESENT) || p1 != p2)
		return 0;
	if ((c | p1) & (PME_EXCLUSIVE | PME_SWAP))
		return 0;
	return (c & PME_PFN) && (c & PME_PFN) == (p1 & PME_PFN);
}

static int read_pme(int fd, uint64_t *pme, uint64_t addr, uint64_t nr)
{
	return pread(fd, pme, nr * 8, addr / PAGE_SIZE * 8) == (ssize_t)(nr * 8) ? 0 : -1;
}

/*
 * The kernel's zero page, and its huge one: what a page of anonymous
 * memory that was read but never written maps. Such a page is no data:
 * it is not saved, and it reads as zeros again after the restore (as
 * an untouched page does; the zero page is in nobody's RSS either).
 * Learned once, from a page of our own; 0: PFNs are hidden from us.
 */
static uint64_t zero_pfn, huge_zero_pfn;

static uint64_t own_pfn(const volatile char *p)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	(void)*p;
	if (fd < 0)
		return 0;
	if (pread(fd, &e, 8, (uint64_t)p / PAGE_SIZE * 8) != 8)
		e = 0;
	close(fd);
	return (e & PME_PRESENT) && !(e & PME_SWAP) ? e & PME_PFN : 0;
}

static void probe_zero_pfns(void)
{
	static bool done;
	const size_t huge = 2UL << 20;
	char *m;

	if (done)
		return;
	done = true;
	m = mmap(NULL, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m != MAP_FAILED) {
		zero_pfn = own_pfn(m);
		munmap(m, PAGE_SIZE);
	}
	/* A read fault in an aligned huge-page range may map the huge zero page. */
	m = mmap(NULL, 2 * huge, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m != MAP_FAILED) {
		char *a = (char *)(((uint64_t)m + huge - 1) & ~(huge - 1));
		uint64_t pfn;

		madvise(a, huge, MADV_HUGEPAGE);
		pfn = own_pfn(a);
		if (pfn && pfn != zero_pfn && !(pfn % (huge / PAGE_SIZE)) &&
		    own_pfn(a + huge - PAGE_SIZE) == pfn + huge / PAGE_SIZE - 1)
			huge_zero_pfn = pfn;
		munmap(m, 2 * huge);
	}
	pr_debug("zero page: pfn %#llx, huge zero page: pfn %#llx",
		 (unsigned long long)zero_pfn, (unsigned long long)huge_zero_pfn);
}

static bool zero_page(uint64_t e)
{
	uint64_t pfn = e & PME_PFN;

	if (!(e & PME_PRESENT) || (e & PME_SWAP) || !pfn)
		return false;
	return pfn == zero_pfn ||
	       (huge_zero_pfn && pfn >= huge_zero_pfn &&
		pfn < huge_zero_pfn + (2UL << 20) / PAGE_SIZE);
}

/* A guard page (it shows as swapped too): kept in the VMA, no bytes. */
static void add_guard(VmaEntry *v, uint64_t start)
{
	size_t n = v->n_guards;

	if (n && v->guards[n - 2] + v->guards[n - 1] == start) {
		v->guards[n - 1] += PAGE_SIZE;
		return;
	}
	v->guards = xrealloc(v->guards, (n + 2) * sizeof(*v->guards));
	v->guards[n] = start;
	v->guards[n + 1] = PAGE_SIZE;
	v->n_guards = n + 2;
}

/*
 * Which of the present pages of a chunk of a readable private anonymous
 * mapping are full of zeros: the parasite looks (PARASITE_CMD_FIND_ZEROS,
 * the task is stopped, its pages hold still), one page per iov of the
 * batch area, which is emptied first. Not crest through
 * process_vm_readv: its read pin unshares a copy-on-write page.
 */
static int find_zeros(struct dump_pages *d, uint64_t addr, const uint64_t *pme,
		      const uint8_t *in_parent, uint64_t nr, uint8_t *zero)
{
	struct page_batch *b = &d->b;
	struct parasite_ctl *ctl = d->ctl;
	static uint64_t cand[4096];
	uint64_t i = 0;

	memset(zero, 0, nr);
	if (flush_batch(d))
		return -1;
	while (i < nr) {
		uint32_t n = 0;

		for (; i < nr && n < b->max && n < 4096; i++) {
			if (!(pme[i] & PME_PRESENT) || zero_page(pme[i]) ||
			    (in_parent && in_parent[i]))
				continue;
			cand[n] = i;
			b->iovs[n].base = addr + i * PAGE_SIZE;
			b->iovs[n].len = PAGE_SIZE;
			n++;
		}
		if (!n)
			break;
		ctl->args->nr_iovs = n;
		ctl->args->iovs = ctl->remote + ((unsigned char *)b->iovs - ctl->local);
		ctl->args->crcs = ctl->remote + ((unsigned char *)b->crcs - ctl->local);
		if (parasite_cmd(ctl, PARASITE_CMD_FIND_ZEROS))
			return -1;
		for (uint32_t k = 0; k < n; k++)
			zero[cand[k]] = b->crcs[k] == 1;
	}
	return 0;
}

static int dump_vma_pages(struct dump_pages *d, const struct mem_layout *ml,
			  VmaEntry *v)
{
	enum { CHUNK = 4096 };
	static uint64_t pme[CHUNK], pp1[CHUNK], pp2[CHUNK];
	static uint8_t written[CHUNK], zero[CHUNK], parent[CHUNK];
	uint64_t addr = v->start;
	int zeros = v->kind == VMA_KIND__VMA_ANON_PRIVATE && (v->prot & PROT_READ);
	int cow = d->ppm_fd >= 0 &&
		  mem_cow_parent_vma(d->par->ml->vmas, d->par->ml->nr_vmas, v) >= 0;

	while (addr < v->end) {
		uint64_t nr = (v->end - addr) / PAGE_SIZE;
		int share = cow, chained = ml->tracked && ml->nr_prev;

		if (nr > CHUNK)
			nr = CHUNK;
		/* Written since the previous dump (untracked pages count as written). */
		if (chained && track_written(d->pm_fd, addr, addr + nr * PAGE_SIZE, written))
			return -1;
		if (share && read_pme(d->ppm_fd, pp1, addr, nr))
			share = 0;
		if (read_pme(d->pm_fd, pme, addr, nr)) {
			pr_perror("can't read the pagemap at %lx", (unsigned long)addr);
			return -1;
		}
		if (share && read_pme(d->ppm_fd, pp2, addr, nr))
			share = 0;
		/*
		 * Left in the previous dump: not written since and held there.
		 * Known before the zero search, which then skips those pages:
		 * after a pre-dump that is nearly all of them, and reading each
		 * one would make the frozen time follow the size of the memory
		 * rather than what was written.
		 */
		for (uint64_t i = 0; chained && i < nr; i++)
			parent[i] = !written[i] && prev_has(ml, addr + i * PAGE_SIZE);
		if (zeros && find_zeros(d, addr, pme, chained ? parent : NULL, nr, zero))
			return -1;
		for (uint64_t i = 0; i < nr; i++) {
			uint64_t e = pme[i];
			int take = e & PME_SWAP;

			if (e & PME_GUARD) {
				add_guard(v, addr + i * PAGE_SIZE);
				continue;
			}
			/* Read, never written: the zero page, no data. */
			if (v->kind == VMA_KIND__VMA_ANON_PRIVATE && zero_page(e))
				continue;
			if (share && cow_shared(e, pp1[i], pp2[i])) {
				add_inherited(d, v, addr + i * PAGE_SIZE);
				continue;
			}
			/*
			 * A write-protect marker of crest's own tracking (or of a
			 * pre-dump's) is no page: nothing there, it reads as zero.
			 */
			if ((e & (PME_PRESENT | PME_SWAP | PME_UFFD_WP)) == (PME_SWAP | PME_UFFD_WP) &&
			    (e & PME_SWP_TYPE) == SWP_PTE_MARKER)
				continue;
			if (e & PME_PRESENT)
				take = v->kind != VMA_KIND__VMA_FILE_PRIVATE || !(e & PME_FILE);
			if (!take)
				continue;
			if (chained && parent[i]) {
				add_in_parent(d, v, addr + i * PAGE_SIZE);
				continue;
			}
			/* Full of zeros: no data, it reads as zeros again. */
			if (zeros && zero[i]) {
				d->zeroed++;
				continue;
			}
			if (!(v->prot & PROT_READ) ? add_forced(d, addr + i * PAGE_SIZE) :
			    add_page(d, v, addr + i * PAGE_SIZE))
				return -1;
		}
		addr += nr * PAGE_SIZE;
	}
	/* Runs never cross into another VMA. */
	return write_forced(d);
}

static int write_inherited(struct dump_pages *d)
{
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;

	pe.has_inherited = 1;
	pe.inherited = 1;
	for (size_t i = 0; i < d->nr_inh; i++) {
		pe.vaddr = d->inh[i].base;
		pe.nr_pages = d->inh[i].len / PAGE_SIZE;
		if (img_write_msg(d->pagemap, &pe.base))
			return -1;
	}
	pe.has_inherited = pe.inherited = 0;
	pe.has_in_parent = pe.in_parent = 1;
	for (size_t i = 0; i < d->nr_par; i++) {
		pe.vaddr = d->par_runs[i].base;
		pe.nr_pages = d->par_runs[i].len / PAGE_SIZE;
		if (img_write_msg(d->pagemap, &pe.base))
			return -1;
	}
	if (d->nr_par)
		pr_info("process %d: %llu pages not written since the previous dump, left in it",
			d->ctl->pid, (unsigned long long)d->par_pages);
	if (d->inh_pages)
		pr_debug("process %d: %llu pages shared with its parent %d",
			 d->ctl->pid, (unsigned long long)d->inh_pages, d->par->pid);
	return 0;
}

int mem_dump_pages(struct parasite_ctl *ctl, const struct mem_layout *ml,
		   const struct mem_parent *par,
		   struct image *pagemap, struct image *pages)
{
	struct dump_pages d = { .ctl = ctl, .pagemap = pagemap, .pages = pages,
				.par = par, .ppm_fd = -1, .rfd = -1, .mem_fd = -1, .zfd = -1 };
	int ret = -1;
	char path[64];

	probe_zero_pfns();
	if (pages->zpages) {
		d.zfd = memfd_create("crest-zpages", MFD_CLOEXEC);
		if (d.zfd < 0 || ftruncate(d.zfd, ZMAP_BYTES)) {
			pr_perror("can't make a memfd to compress pages in");
			goto out_z;
		}
		d.zmap = mmap(NULL, ZMAP_BYTES, PROT_READ, MAP_SHARED, d.zfd, 0);
		if (d.zmap == MAP_FAILED) {
			d.zmap = NULL;
			pr_perror("can't map the compression buffer");
			goto out_z;
		}
		d.zp = zpages_new();
	}
	snprintf(path, sizeof(path), "/proc/%d/pagemap", ctl->pid);
	d.pm_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (d.pm_fd < 0) {
		pr_perror("can't open '%s'", path);
		goto out_z;
	}
	if (par) {
		/* Without it the child's pages are simply saved in full. */
		snprintf(path, sizeof(path), "/proc/%d/pagemap", par->pid);
		d.ppm_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (d.ppm_fd < 0)
			pr_debug("can't open '%s': %s; no sharing", path, strerror(errno));
	}
	/*
	 * The parasite makes the pipe and we take its read end: the other
	 * way round, the target would have to open /proc/CREST/fd/N, which
	 * a target of another uid may not.
	 */
	if (parasite_cmd(ctl, PARASITE_CMD_OPEN_PIPE))
		goto out_pm;
	d.rfd = pidfd_take(ctl->pid, ctl->args->pipe_rfd);
	if (d.rfd < 0)
		goto out_pm;
	if (fcntl(d.rfd, F_SETPIPE_SZ, PIPE_BYTES) < 0)
		pr_debug("can't grow the page pipe: %s", strerror(errno));

	d.b.max = ctl->data_size / (sizeof(struct pie_iov) + sizeof(uint32_t));
	d.b.iovs = (struct pie_iov *)(ctl->local + ctl->data_off);
	d.b.crcs = (uint32_t *)(d.b.iovs + d.b.max);
	for (int i = 0; i < ml->nr_vmas; i++) {
		if (!vma_has_data(ml->vmas[i]))
			continue;
		if (dump_vma_pages(&d, ml, ml->vmas[i]))
			goto out_pipe;
	}
	/*
	 * Spliced to a socket, pages are still the target's own until the
	 * page server has written them: they must be there before FINI
	 * gives rseq back (the kernel writes into it) or the tree runs.
	 */
	if (flush_batch(&d) || write_inherited(&d) || img_raw_sync(pages))
		goto out_pipe;
	if (d.zeroed)
		pr_info("process %d: %llu pages full of zeros not saved",
			ctl->pid, (unsigned long long)d.zeroed);
	ret = 0;
out_pipe:
	close(d.rfd);
out_pm:
	free(d.inh);
	free(d.par_runs);
	if (d.mem_fd >= 0)
		close(d.mem_fd);
	if (d.ppm_fd >= 0)
		close(d.ppm_fd);
	close(d.pm_fd);
out_z:
	if (d.zmap)
		munmap(d.zmap, ZMAP_BYTES);
	if (d.zfd >= 0)
		close(d.zfd);
	zpages_free(d.zp);
	free(d.zlens);
	return ret;
}
