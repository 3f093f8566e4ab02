/*
 * Shared memory objects: MAP_SHARED|MAP_ANONYMOUS regions (shown as
 * "/dev/zero (deleted)") and memfds. Each is saved once, however many
 * processes map it or hold it open, from the object itself (SEEK_DATA
 * finds what holds data), not from one process's page tables, which only
 * show the pages that process touched. At restore the coordinator makes
 * the object, fills it, and every task maps or holds the same one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "arch.h"
#include "files.h"
#include "files-ghost.h"
#include "files-kind.h"
#include "image.h"
#include "log.h"
#include "proc.h"
#include "util.h"

#define RUN_BYTES	(1UL << 20)

int files_add_shmem(struct dump_files *df, pid_t pid, const char *map_path,
		    const struct stat *st, uint32_t *id)
{
	int n = df->nr_shmems;
	ShmemEntry *s;

	for (int i = 0; i < n; i++) {
		if (df->shmems_own[i].dev == st->st_dev &&
		    df->shmems_own[i].ino == st->st_ino) {
			if ((uint64_t)st->st_size > df->shmems[i]->size)
				df->shmems[i]->size = st->st_size;
			*id = df->shmems[i]->id;
			return 0;
		}
	}
	s = xzalloc(sizeof(*s));
	shmem_entry__init(s);
	s->id = n + 1;
	s->ino = st->st_ino;
	s->size = st->st_size;
	df->shmems = xrealloc(df->shmems, (n + 1) * sizeof(s));
	df->shmems_own = xrealloc(df->shmems_own, (n + 1) * sizeof(*df->shmems_own));
	df->shmems_path = xrealloc(df->shmems_path, (n + 1) * sizeof(char *));
	df->shmems[n] = s;
	df->shmems_own[n] = (struct file_owner){ st->st_dev, st->st_ino, pid, -1 };
	df->shmems_path[n] = xstrdup(map_path);
	df->nr_shmems++;
	*id = s->id;
	return 0;
}

/* "/memfd:NAME (deleted)" -> "NAME" */
static char *memfd_name(const char *link)
{
	char *name = xstrdup(link + 7);
	size_t len = strlen(name);

	if (len > 10 && !strcmp(name + len - 10, " (deleted)"))
		name[len - 10] = 0;
	return name;
}

/*
 * One memfd_entry per open file description of a memfd (the first one of
 * the memfd makes it at restore, the others open it again: flags and
 * offset of their own), and one for its mappings, which need it O_RDWR.
 * fd: the fd of pid holding it, -1 for a mapping.
 */
static int add_memfd(struct dump_files *df, pid_t pid, int hfd, const char *link,
		     const char *path, const struct stat *st, uint32_t flags,
		     uint64_t pos, uint32_t *id)
{
	int n = df->nr_memfds, fd, first = 0;
	struct statfs sfs;
	MemfdEntry *m;

	for (int i = 0; i < n; i++) {
		const struct file_owner *o = &df->memfds_own[i];

		if (o->dev != st->st_dev || o->ino != st->st_ino)
			continue;
		if (!first)
			first = df->memfds[i]->id;
		if (hfd < 0 ? o->fd < 0 :
		    o->fd >= 0 && files_same_description(pid, hfd, o->pid, o->fd)) {
			*id = df->memfds[i]->id;
			return 0;
		}
	}
	m = xzalloc(sizeof(*m));
	memfd_entry__init(m);
	m->id = n + 1;
	m->name = memfd_name(link);
	m->size = st->st_size;
	/*
	 * A mapping's description is the restorer's alone: O_NOATIME, or
	 * mapping it at restore would touch the atime given back.
	 */
	m->flags = hfd < 0 ? flags | O_NOATIME : flags;
	m->pos = pos;
	m->has_mode = 1;
	m->mode = st->st_mode & 07777;
	m->has_mtime_ns = 1;
	m->mtime_ns = st->st_mtim.tv_sec * 1000000000ULL + st->st_mtim.tv_nsec;
	m->has_atime_ns = 1;
	m->atime_ns = st->st_atim.tv_sec * 1000000000ULL + st->st_atim.tv_nsec;
	if (first) {
		m->has_first_id = 1;
		m->first_id = first;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("can't open memfd '%s'", path);
		return -1;
	}
	if (!fstatfs(fd, &sfs) && sfs.f_type == HUGETLBFS_MAGIC) {
		pr_err("memfd '%s' of process %d is on hugetlbfs (MFD_HUGETLB), not supported yet",
		       m->name, pid);
		close(fd);
		protobuf_c_message_free_unpacked(&m->base, NULL);
		return -1;
	}
	m->seals = fcntl(fd, F_GET_SEALS);
	if ((int)m->seals < 0)
		m->seals = 0;
	/* Pages fallocated and not written: holes to SEEK_DATA, not to st_blocks. */
	if (!first && ghost_alloc_ranges(fd, st, m->name, &m->alloc, &m->n_alloc)) {
		close(fd);
		protobuf_c_message_free_unpacked(&m->base, NULL);
		return -1;
	}
	close(fd);
	if (files_add_shmem(df, pid, path, st, &m->shmem_id))
		return -1;
	df->memfds = xrealloc(df->memfds, (n + 1) * sizeof(m));
	df->memfds_own = xrealloc(df->memfds_own, (n + 1) * sizeof(*df->memfds_own));
	df->memfds[n] = m;
	df->memfds_own[n] = (struct file_owner){ st->st_dev, st->st_ino, pid, hfd };
	df->nr_memfds++;
	*id = m->id;
	return 0;
}

static bool memfd_recognise(const struct fd_dump *f)
{
	return S_ISREG(f->st->st_mode) && !strncmp(f->link, "/memfd:", 7) &&
	       !(f->fi->flags & O_PATH);
}

static int memfd_dump(struct dump_files *df, const struct fd_dump *f, FdEntry *e)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", f->pid, f->fd);
	return add_memfd(df, f->pid, f->fd, f->link, path, f->st,
			 f->fi->flags & ~O_CLOEXEC, f->fi->pos, &e->file_id);
}

int files_add_memfd_mapping(struct dump_files *df, pid_t pid,
			    const char *name, const char *map_path,
			    const struct stat *st, uint32_t *id)
{
	return add_memfd(df, pid, -1, name, map_path, st, O_RDWR, 0, id);
}

static int dump_one(ShmemEntry *s, const char *path, struct image *pm,
		    struct image *pages)
{
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;
	char *buf = NULL;
	off_t off = 0;
	int fd, ret = -1;

	/* Not to change what is saved: a memfd's atime. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);
	/* O_NOATIME takes the owner or CAP_FOWNER. */
	if (fd < 0 && errno == EPERM)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("can't open shared memory '%s'", path);
		return -1;
	}
	buf = xzalloc(RUN_BYTES);
	s->nr_runs = 0;
	while ((uint64_t)off < s->size) {
		off_t data = lseek(fd, off, SEEK_DATA), hole;

		if (data < 0) {
			if (errno == ENXIO)
				break;	/* only holes from here */
			pr_perror("can't look for data in '%s'", path);
			goto out;
		}
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > s->size)
			hole = s->size;
		data &= ~(PAGE_SIZE - 1);
		while (data < hole) {
			size_t len = hole - data > (off_t)RUN_BYTES ? RUN_BYTES : (size_t)(hole - data);

			len = (len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
			memset(buf, 0, len);
			if (pread(fd, buf, len, data) < 0) {
				pr_perror("can't read shared memory '%s'", path);
				goto out;
			}
			pe.vaddr = data;
			pe.nr_pages = len / PAGE_SIZE;
			pe.crc = arch_crc32c(0, buf, len);
			if (img_write_msg(pm, &pe.base))
				goto out;
			if (write_all(pages->fd, buf, len)) {
				pr_perror("can't write '%s'", pages->path);
				goto out;
			}
			s->nr_runs++;
			data += len;
		}
		off = hole;
	}
	ret = 0;
out:
	free(buf);
	close(fd);
	return ret;
}

static int memfd_contents(struct dump_files *df, struct img_dir *d)
{
	struct image *pm = img_create(d, IMG_SHMEM_PAGEMAP, 0);
	struct image *pages = img_create(d, IMG_SHMEM_PAGES, 0);

	if (!pm || !pages)
		return -1;
	for (int i = 0; i < df->nr_shmems; i++)
		if (dump_one(df->shmems[i], df->shmems_path[i], pm, pages))
			return -1;
	return 0;
}

static MemfdEntry *memfd_of(struct restore_files *rf, uint32_t shmem_id, int *idx)
{
	for (int i = 0; i < rf->nr_memfds; i++)
		if (rf->memfds[i]->shmem_id == shmem_id) {
			*idx = i;
			return rf->memfds[i];
		}
	return NULL;
}

/* Fill the object at p from the runs of the image. */
static int fill(struct image *pm, struct image *pages, uint64_t *off,
		const ShmemEntry *s, char *p)
{
	for (uint32_t r = 0; r < s->nr_runs; r++) {
		PagemapEntry *pe;
		uint64_t len;
		int ret = img_read_msg(pm, (void **)&pe);

		if (ret <= 0) {
			if (!ret)
				pr_err("image '%s' is truncated: shared memory %u lacks runs",
				       pm->path, s->id);
			return -1;
		}
		len = (uint64_t)pe->nr_pages * PAGE_SIZE;
		if (pe->vaddr + len > ((s->size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))) {
			pr_err("image '%s' is corrupt: a run beyond shared memory %u",
			       pm->path, s->id);
			return -1;
		}
		if (pread(pages->fd, p + pe->vaddr, len, *off) != (ssize_t)len) {
			pr_err("image '%s' is truncated at offset %llu", pages->path,
			       (unsigned long long)*off);
			return -1;
		}
		if (arch_crc32c(0, p + pe->vaddr, len) != pe->crc) {
			pr_err("image '%s' is corrupt at offset %llu: page checksum mismatch",
			       pages->path, (unsigned long long)*off);
			return -1;
		}
		*off += len;
		protobuf_c_message_free_unpacked(&pe->base, NULL);
	}
	return 0;
}

static int memfd_write(struct dump_files *df, struct img_dir *d)
{
	if (files_write_msgs(d, IMG_MEMFDS, 0, (void **)df->memfds, df->nr_memfds))
		return -1;
	return files_write_msgs(d, IMG_SHMEM, 0, (void **)df->shmems, df->nr_shmems);
}

static int memfd_read(struct restore_files *rf, struct img_dir *d)
{
	if (files_read_msgs(d, IMG_MEMFDS, 0, (void ***)&rf->memfds, &rf->nr_memfds))
		return -1;
	return files_read_msgs(d, IMG_SHMEM, 0, (void ***)&rf->shmems, &rf->nr_shmems);
}

/*
 * The memfd made and filled at fd: its mode (MFD_EXEC, MFD_NOEXEC_SEAL)
 * and seals, then a service fd per open file description, with its own
 * access mode and offset. fd is closed.
 */
static int memfd_finish(struct restore_files *rf, uint32_t shmem_id, int fd)
{
	MemfdEntry *m = NULL;
	int ret = -1;

	for (int i = 0; i < rf->nr_memfds; i++) {
		MemfdEntry *e = rf->memfds[i];
		char path[64];
		int dfd;

		if (e->shmem_id != shmem_id)
			continue;
		if (!m) {
			m = e;
			if (m->has_mode && fchmod(fd, m->mode)) {
				pr_perror("can't give memfd '%s' its mode %o", m->name, m->mode);
				goto out;
			}
			/*
			 * Filling it moved its times: the checkpoint's. Only
			 * O_NOATIME descriptions map it after (the restorer's).
			 */
			if (m->has_mtime_ns && futimens(fd, (struct timespec[2]){
					m->has_atime_ns ?
					(struct timespec){ m->atime_ns / 1000000000,
							   m->atime_ns % 1000000000 } :
					(struct timespec){ .tv_nsec = UTIME_OMIT },
					{ m->mtime_ns / 1000000000, m->mtime_ns % 1000000000 } })) {
				pr_perror("can't give memfd '%s' its times", m->name);
				goto out;
			}
			if (m->seals && fcntl(fd, F_ADD_SEALS, m->seals) < 0) {
				pr_perror("can't seal memfd '%s' with %#x", m->name, m->seals);
				goto out;
			}
		}
		if (e == m && (e->flags & O_ACCMODE) == O_RDWR && !(e->flags & O_NOATIME)) {
			dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		} else {
			/* A description of its own: access mode, offset, O_NOATIME. */
			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			dfd = open(path, (e->flags & (O_ACCMODE | O_NOATIME)) | O_CLOEXEC);
		}
		if (dfd < 0 || lseek(dfd, e->pos, SEEK_SET) < 0) {
			pr_perror("can't open memfd '%s' again", e->name);
			if (dfd >= 0)
				close(dfd);
			goto out;
		}
		rf->memfd_fd[i] = files_to_service(dfd, rf->base);
		if (rf->memfd_fd[i] < 0)
			goto out;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

/* Recreate each object, filled, as service fds (memfds by name). */
static int memfd_open(struct restore_files *rf, struct img_dir *d,
		      MmEntry **mms, int nr_mms)
{
	int base = rf->base;
	struct image *pm = img_open(d, IMG_SHMEM_PAGEMAP, 0);
	struct image *pages = img_open(d, IMG_SHMEM_PAGES, 0);
	uint64_t off = IMG_PAGES_OFF;
	int ret = -1;

	rf->shmem_fd = xzalloc((rf->nr_shmems + 1) * sizeof(int));
	rf->memfd_fd = xzalloc((rf->nr_memfds + 1) * sizeof(int));
	if (!pm || !pages)
		goto out;
	for (int i = 0; i < rf->nr_shmems; i++) {
		const ShmemEntry *s = rf->shmems[i];
		size_t len = (s->size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
		int idx, fd = -1;
		MemfdEntry *m = memfd_of(rf, s->id, &idx);
		char *p = NULL;

		if (m) {
			fd = memfd_create(m->name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
			if (fd < 0 || ftruncate(fd, s->size)) {
				pr_perror("can't recreate memfd '%s'", m->name);
				goto out;
			}
			if (len) {
				p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
				if (p == MAP_FAILED) {
					pr_perror("can't map memfd '%s'", m->name);
					goto out;
				}
			}
		} else {
			char path[128];

			if (!len) {
				pr_err("image '%s': shared memory %u is empty", pm->path, s->id);
				goto out;
			}
			p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED) {
				pr_perror("can't create %zu bytes of shared memory", len);
				goto out;
			}
			/* The object behind the mapping, to hand to the tasks. */
			snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
				 (unsigned long)p, (unsigned long)((char *)p + len));
			fd = open(path, O_RDWR | O_CLOEXEC);
			if (fd < 0) {
				pr_perror("can't open '%s'", path);
				munmap(p, len);
				goto out;
			}
		}
		if (fill(pm, pages, &off, s, p) ||
		    (m && ghost_alloc_again(fd, m->alloc, m->n_alloc, m->name))) {
			if (p)
				munmap(p, len);
			close(fd);
			goto out;
		}
		if (p)
			munmap(p, len);
		if (m) {
			if (memfd_finish(rf, s->id, fd))
				goto out;
		} else {
			rf->shmem_fd[i] = files_to_service(fd, base);
			if (rf->shmem_fd[i] < 0)
				goto out;
		}
	}
	ret = 0;
out:
	img_close(pm);
	img_close(pages);
	return ret;
}

static int memfd_index(const struct restore_files *rf, uint32_t id)
{
	for (int i = 0; i < rf->nr_memfds; i++)
		if (rf->memfds[i]->id == id)
			return i;
	return -1;
}

static int shmem_index(const struct restore_files *rf, uint32_t id)
{
	for (int i = 0; i < rf->nr_shmems; i++)
		if (rf->shmems[i]->id == id)
			return i;
	return -1;
}

static int memfd_service_fd(const struct restore_files *rf, const FdEntry *e)
{
	int i = memfd_index(rf, e->file_id);

	return i < 0 || !rf->memfd_fd ? -1 : rf->memfd_fd[i];
}

static int memfd_vma_fd(const struct restore_files *rf, const VmaEntry *v)
{
	int i;

	if (v->has_memfd_id) {
		i = memfd_index(rf, v->memfd_id);
		return i < 0 || !rf->memfd_fd ? -1 : rf->memfd_fd[i];
	}
	if (v->has_shmem_id) {
		i = shmem_index(rf, v->shmem_id);
		return i < 0 || !rf->shmem_fd ? -1 : rf->shmem_fd[i];
	}
	return -1;
}

static void memfd_show(const struct restore_files *rf, const FdEntry *e,
		       char *buf, size_t len)
{
	int i = memfd_index(rf, e->file_id);

	if (i < 0)
		snprintf(buf, len, "memfd %u, not in the images", e->file_id);
	else
		snprintf(buf, len, "memfd '%s', %llu bytes", rf->memfds[i]->name,
			 (unsigned long long)rf->memfds[i]->size);
}

const struct fd_kind_ops memfd_fd_ops = {
	.name		= "memfd",
	.kind		= FD_KIND__FD_MEMFD,
	.recognise	= memfd_recognise,
	.dump		= memfd_dump,
	.contents	= memfd_contents,
	.write		= memfd_write,
	.read		= memfd_read,
	.open		= memfd_open,
	.service_fd	= memfd_service_fd,
	.show		= memfd_show,
	.vma_fd		= memfd_vma_fd,
};
