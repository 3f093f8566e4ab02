/*
 * A new task's side of a restore, run in a clone3'd copy of crest with the
 * checkpointed PID: create its own children, take its session and group,
 * put its fds in place from the coordinator's service fds, set what plain
 * syscalls can set, build the restorer's argument block at a hole of the
 * target's layout, and jump into the restorer, leaving crest behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "arch.h"
#include "files-lock.h"
#include "log.h"
#include "mem-premap.h"
#include "namespaces.h"
#include "pie-abi.h"
#include "proc.h"
#include "restore-task.h"
#include "cgroup.h"
#include "task.h"
#include "timers.h"
#include "tty.h"
#include "task-attrs.h"
#include "util.h"

#include "restorer-blob.h"

#define HOLE_FLOOR	0x10000000UL
#define TASK_TOP	0x7ffffffff000UL

/* glibc registers rseq for us; it must go before our memory does. */
extern const ptrdiff_t __rseq_offset;
extern const unsigned int __rseq_size;
#define RSEQ_SIG_X86	0x53053053

void busy_add(struct busy *b, uint64_t start, uint64_t end)
{
	b->r = xrealloc(b->r, (b->nr + 1) * sizeof(*b->r));
	b->r[b->nr].start = start;
	b->r[b->nr].end = end;
	b->nr++;
}

static int cmp_range(const void *a, const void *b)
{
	const struct rst_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

uint64_t busy_find_hole(struct busy *b, uint64_t size)
{
	uint64_t at = HOLE_FLOOR;

	qsort(b->r, b->nr, sizeof(*b->r), cmp_range);
	for (int i = 0; i < b->nr; i++) {
		if (b->r[i].end <= at)
			continue;
		if (b->r[i].start >= at + size)
			break;
		at = (b->r[i].end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	}
	return at + size <= TASK_TOP ? at : 0;
}

static int special_index(VmaKind kind)
{
	switch (kind) {
	case VMA_KIND__VMA_VVAR:	return RST_VVAR;
	case VMA_KIND__VMA_VVAR_VCLOCK:	return RST_VVAR_VCLOCK;
	case VMA_KIND__VMA_VDSO:	return RST_VDSO;
	default:			return -1;
	}
}

int busy_own_layout(struct busy *b, struct restore_args *ra)
{
	char *maps = read_file("/proc/self/maps", NULL), *line, *save = NULL;

	if (!maps) {
		pr_perror("can't read /proc/self/maps");
		return -1;
	}
	for (line = strtok_r(maps, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct proc_vma v;
		VmaKind kind;
		int idx;

		if (proc_parse_maps_line(line, &v))
			continue;
		busy_add(b, v.start, v.end);
		if (!ra)
			continue;
		if (!strcmp(v.path, "[vdso]"))
			kind = VMA_KIND__VMA_VDSO;
		else if (!strcmp(v.path, "[vvar]"))
			kind = VMA_KIND__VMA_VVAR;
		else if (!strcmp(v.path, "[vvar_vclock]"))
			kind = VMA_KIND__VMA_VVAR_VCLOCK;
		else
			continue;
		idx = special_index(kind);
		ra->cur_special[idx].start = v.start;
		ra->cur_special[idx].end = v.end;
	}
	free(maps);
	return 0;
}

/*
 * A private mapping, not writable, that the kernel did not charge to the
 * commit limit (no "ac": mapped read-only or PROT_NONE, as a thread
 * stack's guard): mapping it writable to fill it would charge it for
 * good, so the restorer maps it with its own prot and fills it through
 * /proc/self/mem. Old images do not say: as before.
 */
/*
 * A System V segment's mapping: the segment is its IPC namespace's, made
 * again by crest before the process runs (namespaces.c); the restorer
 * shmat()s it and unmaps what this mapping is not of it, by the size
 * checked here against the segment crest made (no image is trusted).
 */
static int sysv_vma(const struct restore_task *t, const struct ns_restore *ns,
		    const VmaEntry *v, struct rst_vma *r)
{
	uint64_t size = 0, pages;

	if (!v->has_sysv_shm_id || !v->has_sysv_shm_size ||
	    ns_sysv_shm_size(ns, t->pe->has_ipc_ns ? t->pe->ipc_ns : 0, v->sysv_shm_id, &size) ||
	    size != v->sysv_shm_size) {
		pr_err("image mm-%d.img is corrupt: mapping %#llx-%#llx is of System V segment %d of %llu bytes, which the image of its IPC namespace does not hold (%llu bytes)",
		       t->pe->pid, (unsigned long long)v->start, (unsigned long long)v->end,
		       v->sysv_shm_id, (unsigned long long)v->sysv_shm_size,
		       (unsigned long long)size);
		return -1;
	}
	pages = (size + PAGE_SIZE - 1) / PAGE_SIZE;
	if (!pages || pages > UINT32_MAX || !(v->flags & MAP_SHARED) || v->pgoff % PAGE_SIZE ||
	    v->pgoff / PAGE_SIZE + (v->end - v->start) / PAGE_SIZE > pages) {
		pr_err("image mm-%d.img is corrupt: mapping %#llx-%#llx at offset %#llx does not fit System V segment %d of %llu bytes",
		       t->pe->pid, (unsigned long long)v->start, (unsigned long long)v->end,
		       (unsigned long long)v->pgoff, v->sysv_shm_id, (unsigned long long)size);
		return -1;
	}
	r->fd = v->sysv_shm_id;
	r->sysv_pages = (uint32_t)pages;
	return 0;
}

static int vma_forced(const VmaEntry *v, uint64_t premapped)
{
	return !premapped && v->has_accounted && !v->accounted &&
	       !(v->flags & MAP_SHARED) && !(v->prot & PROT_WRITE);
}

/*
 * restore --lazy-pages: which mappings the lazy-pages server fills
 * (src/lazy.c). Anonymous private memory only (userfaultfd's missing
 * mode knows no private file mapping), writable (mprotect() of one
 * with no page in yet drops its commit charge: "ac" would go), none
 * that crest's side fills
 * before the fork (copy-on-write sharing), none filled through mem_fd,
 * none that mlock would fault in at once, none whose fork the server
 * could not follow (MADV_DONTFORK, MADV_WIPEONFORK).
 */
bool restore_vma_lazy(const struct restore_task *t, size_t i)
{
	const VmaEntry *v = t->mm->vmas[i];
	uint32_t adv = v->has_advice ? v->advice : 0;

	return t->lazy && v->kind == VMA_KIND__VMA_ANON_PRIVATE &&
	       (v->prot & PROT_WRITE) &&
	       !(v->flags & (MAP_SHARED | MAP_HUGETLB)) &&
	       !(t->vma_premap && t->vma_premap[i]) && !vma_forced(v, 0) &&
	       !(adv & (RST_ADV_LOCKED | RST_ADV_LOCKONFAULT | RST_ADV_DONTFORK |
			RST_ADV_WIPEONFORK));
}

/* The mapping run k lies in (mm->vmas is sorted); -1 if none. */
int restore_run_vma(const struct restore_task *t, size_t k)
{
	uint64_t a = t->runs[k]->vaddr;
	size_t lo = 0, hi = t->mm->n_vmas;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a < t->mm->vmas[mid]->start)
			hi = mid;
		else if (a >= t->mm->vmas[mid]->end)
			lo = mid + 1;
		else
			return (int)mid;
	}
	return -1;
}

/*
 * Run k is the lazy-pages server's to put in, not the restorer's. Not
 * the command line and environment: the kernel reads them for others
 * (/proc/PID/cmdline, environ, ps) without waiting for a userfaultfd.
 */
bool restore_run_lazy(const struct restore_task *t, size_t k)
{
	uint64_t start = t->runs[k]->vaddr;
	uint64_t end = start + (uint64_t)t->runs[k]->nr_pages * PAGE_SIZE;
	int vi;

	if (!t->lazy || (t->run_early && t->run_early[k]))
		return false;
	if (start < t->mm->env_end && t->mm->arg_start < end)
		return false;
	vi = restore_run_vma(t, k);
	return vi >= 0 && restore_vma_lazy(t, vi);
}

static int task_forced(const struct restore_task *t)
{
	for (size_t i = 0; i < t->mm->n_vmas; i++)
		if (special_index(t->mm->vmas[i]->kind) < 0 &&
		    vma_forced(t->mm->vmas[i], t->vma_cur ? t->vma_cur[i] : 0))
			return 1;
	return 0;
}

static int task_fd(const struct restore_task *t, int orig);

/* Index in the restorer's threads[] of thread tid, -1: none. */
static int thread_index(const struct restore_task *t, pid_t tid)
{
	int zl = t->pe->zombie_leader;

	for (size_t i = !zl; i < t->core->n_threads; i++)
		if ((pid_t)t->core->threads[i]->tid == tid)
			return i - !zl;
	return -1;
}

static int add_fown(const struct restore_task *t, const FdEntry *e, int fd,
		    struct rst_fown *out, int n)
{
	int idx;

	if (!files_owner_later(e, &t->pid_map))
		return n;
	idx = thread_index(t, e->fown->pid);
	BUG_ON(idx < 0);	/* files_owner_later(): one of them */
	if (out)
		out[n] = (struct rst_fown){ fd, idx };
	return n + 1;
}

/*
 * Fds whose owner is a thread but the main one (files_owner_later()):
 * by their number in the process's table, a thread's own by its copy
 * there. How many; into out if not NULL.
 */
static int thread_fowns(const struct restore_task *t, struct rst_fown *out)
{
	int n = 0;

	for (int k = 0; k < t->nr_fds; k++)
		n = add_fown(t, t->fds[k], t->fds[k]->fd, out, n);
	for (int j = 0; j < t->nr_tfds; j++)
		for (int k = 0; k < t->tfds[j].nr_fds; k++)
			n = add_fown(t, t->tfds[j].fds[k],
				     t->tfd_copies ? t->tfd_copies[j][k].src : -1, out, n);
	return n;
}

static int add_keep(int **keep, int *nr, int fd);
static int task_fd(const struct restore_task *t, int orig);

/*
 * pidfds of threads other than the main one (files_pidfd_thread()), by
 * their number in the process's table: those of its own threads made by
 * the restorer once the threads exist, the first fd of each sending the
 * copies the other holders take (one held only by them has no fd here),
 * then those of other processes' threads, taken. How many; into out if
 * not NULL; -1 if one of its own names no thread of it.
 */
static int thread_pidfds(const struct restore_task *t, const struct restore_files *rf,
			 struct rst_pidfd *out)
{
	uint32_t ids[t->nr_fds + 1];
	struct pidfd_thread_info pi;
	int n = 0, made;

	for (int k = 0; k < t->nr_fds; k++) {
		const FdEntry *e = t->fds[k];
		int idx, same = -1;

		if (!files_pidfd_thread(rf, e, &pi) || pi.tgid != (pid_t)t->pe->pid)
			continue;
		idx = thread_index(t, pi.tid);
		if (idx < 0) {
			pr_err("fd %u of %d is a pidfd of thread %d, not one of its threads",
			       e->fd, t->pe->pid, pi.tid);
			return -1;
		}
		for (int j = 0; j < n; j++)
			if (ids[j] == pi.id)
				same = j;
		ids[n] = pi.id;
		if (out)
			out[n] = (struct rst_pidfd){ e->fd, idx, pi.flags, e->cloexec, same,
						     task_fd(t, pi.send), same < 0 ? pi.takes : 0, 0 };
		n++;
	}
	made = n;
	for (int m = 0; files_pidfd_thread_nth(rf, m, &pi); m++) {
		bool held = false;
		int idx;

		for (int j = 0; j < made; j++)
			held |= ids[j] == pi.id;
		if (held || pi.tgid != (pid_t)t->pe->pid || !pi.takes)
			continue;
		idx = thread_index(t, pi.tid);
		if (idx < 0) {
			pr_err("pidfd %u of process %d names thread %d, not one of its threads",
			       pi.id, t->pe->pid, pi.tid);
			return -1;
		}
		if (out)
			out[n] = (struct rst_pidfd){ -1, idx, pi.flags, 0, -1,
						     task_fd(t, pi.send), pi.takes, 0 };
		n++;
	}
	for (int k = 0; k < t->nr_fds; k++) {
		const FdEntry *e = t->fds[k];

		if (!files_pidfd_thread(rf, e, &pi) || pi.tgid == (pid_t)t->pe->pid)
			continue;
		if (out)
			out[n] = (struct rst_pidfd){ e->fd, -1, pi.flags, e->cloexec, -1,
						     pi.recv, 0, 1 };
		n++;
	}
	return n;
}

/* How many rst_pidfd thread_pidfds() may give at most. */
static int max_thread_pidfds(const struct restore_task *t, const struct restore_files *rf)
{
	struct pidfd_thread_info pi;
	int n = t->nr_fds;

	while (files_pidfd_thread_nth(rf, n - t->nr_fds, &pi))
		n++;
	return n;
}

/*
 * The sockets its pidfds of threads come and go by (thread_pidfds(), a
 * thread's own table): the restorer's until its threads are done.
 */
static void keep_pidfd_socks(const struct restore_task *t, const struct restore_files *rf,
			     int **keep, int *nr_keep)
{
	struct pidfd_thread_info pi;

	for (int k = 0; k < t->nr_fds; k++)
		if (files_pidfd_thread(rf, t->fds[k], &pi))
			add_keep(keep, nr_keep, pi.tgid == (pid_t)t->pe->pid ? pi.send : pi.recv);
	for (int j = 0; j < t->nr_tfds; j++)
		for (int k = 0; k < t->tfds[j].nr_fds; k++)
			if (files_pidfd_thread(rf, t->tfds[j].fds[k], &pi))
				add_keep(keep, nr_keep, pi.recv);
	for (int m = 0; files_pidfd_thread_nth(rf, m, &pi); m++)
		if (pi.tgid == (pid_t)t->pe->pid && pi.takes)
			add_keep(keep, nr_keep, pi.send);
}

/* Lay out blob | args | arrays | stack in one private mapping. */
static struct restore_args *build_args(struct restore_task *t,
				       const struct restore_files *rf,
				       const struct ns_restore *ns,
				       const int *keep, int nr_keep,
				       const int *chain_fds, int mem_fd, int lazy_fd,
				       uint64_t *entry, uint64_t *stack_top)
{
	const CoreEntry *c = t->core;
	const ThreadCoreEntry *tc = c->threads[0];
	size_t blob = (restorer_blob_size + 63) & ~63UL;
	int zl = t->pe->zombie_leader;
	/* A zombie leader: every saved thread is made, the leader then exits. */
	size_t n_sig = tc->n_pending, n_thr = c->n_threads - !zl, n_tsig = 0;
	struct rst_thread *thr;
	struct rst_siginfo *tsi;
	struct rst_posix_timer *ptimers;
	int n_ptimers = timers_restore_count(c);
	struct rst_lock *locks;
	int nr_locks = locks_fill_posix(rf, t->pe->pid, NULL);
	uint64_t stacks;
	size_t size, off;
	struct busy busy = {};
	struct restore_args *ra;
	struct rst_vma *vmas;
	struct rst_run *runs;
	struct rst_range *guards;
	size_t n_guards = 0;
	struct rst_siginfo *si;
	uint64_t base, *auxv, max_special = 0;
	int32_t *close_fds;
	struct rst_fown *fowns;
	int n_fowns = thread_fowns(t, NULL), n_tfd = 0;
	int n_pidfds = thread_pidfds(t, rf, NULL);
	int max_pidfds = max_thread_pidfds(t, rf);
	struct rst_pidfd *pidfds;
	struct rst_fd *tfd;
	void *attrs_area;
	struct rst_aio *aios;
	unsigned char *aio_rings;
	int n_aios = aio_nr_rings(t->mm);
	unsigned char *p;
	size_t i, k, nv = 0;

	if (n_pidfds < 0)
		return NULL;
	for (i = !zl; i < c->n_threads; i++)
		n_tsig += c->threads[i]->n_pending;
	for (i = 0; i < t->mm->n_vmas; i++)
		n_guards += t->mm->vmas[i]->n_guards / 2;
	for (int j = 0; j < t->nr_tfds; j++)
		n_tfd += t->tfds[j].nr_fds;
	size = blob + sizeof(*ra) + t->mm->n_vmas * sizeof(struct rst_vma) +
	       n_thr * (sizeof(struct rst_thread) + PIE_THREAD_STACK + 64) +
	       n_tsig * sizeof(struct rst_siginfo) +
	       t->nr_runs * sizeof(struct rst_run) +
	       n_sig * sizeof(struct rst_siginfo) + t->mm->n_auxv * 8 +
	       nr_keep * 4 + n_ptimers * sizeof(struct rst_posix_timer) +
	       nr_locks * sizeof(struct rst_lock) + n_guards * sizeof(struct rst_range) +
	       64 * 10 + attrs_args_size(c) +
	       n_fowns * sizeof(struct rst_fown) + n_tfd * sizeof(struct rst_fd) +
	       max_pidfds * sizeof(struct rst_pidfd) +
	       aio_args_size(t->mm);
	size = (size + PIE_STACK_SIZE + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);

	for (i = 0; i < t->mm->n_vmas; i++)
		busy_add(&busy, t->mm->vmas[i]->start, t->mm->vmas[i]->end);
	ra = xzalloc(sizeof(*ra));	/* scratch for cur_special */
	if (busy_own_layout(&busy, ra))
		return NULL;
	base = busy_find_hole(&busy, size);
	if (!base) {
		pr_err("no room for the restorer in the process's address space");
		return NULL;
	}
	busy_add(&busy, base, base + size);
	for (i = 0; i < RST_NR_SPECIAL; i++)
		if (ra->cur_special[i].end - ra->cur_special[i].start > max_special)
			max_special = ra->cur_special[i].end - ra->cur_special[i].start;

	p = mmap((void *)base, size, PROT_READ | PROT_WRITE | PROT_EXEC,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED || (uint64_t)p != base) {
		pr_perror("can't map the restorer at %#lx", (unsigned long)base);
		return NULL;
	}
	memcpy(p, restorer_blob, restorer_blob_size);
	memcpy(p + blob, ra, sizeof(*ra));
	free(ra);
	ra = (struct restore_args *)(p + blob);
	off = blob + sizeof(*ra);
#define TAKE(ptr, bytes) do { ptr = (void *)(p + off); off += ((bytes) + 7) & ~7UL; } while (0)
	TAKE(vmas, t->mm->n_vmas * sizeof(*vmas));
	TAKE(runs, t->nr_runs * sizeof(*runs));
	TAKE(si, n_sig * sizeof(*si));
	TAKE(auxv, t->mm->n_auxv * 8);
	TAKE(close_fds, nr_keep * 4);
	TAKE(thr, n_thr * sizeof(*thr));
	TAKE(tsi, n_tsig * sizeof(*tsi));
	TAKE(ptimers, n_ptimers * sizeof(*ptimers));
	TAKE(locks, nr_locks * sizeof(*locks));
	TAKE(guards, n_guards * sizeof(*guards));
	TAKE(attrs_area, attrs_args_size(c));
	TAKE(fowns, n_fowns * sizeof(*fowns));
	TAKE(tfd, n_tfd * sizeof(*tfd));
	TAKE(pidfds, max_pidfds * sizeof(*pidfds));
	TAKE(aios, n_aios * sizeof(*aios));
	TAKE(aio_rings, aio_args_size(t->mm) - n_aios * sizeof(*aios));
	off = (off + 63) & ~63UL;
	stacks = (uint64_t)(p + off);
	off += n_thr * PIE_THREAD_STACK;
#undef TAKE
	BUG_ON(off > size - PIE_STACK_SIZE);

	ra->version = PIE_ABI_VERSION;
	ra->self.start = base;
	ra->self.end = base + size;
	ra->move_via = busy_find_hole(&busy, max_special + PAGE_SIZE);

	for (i = 0; i < t->mm->n_vmas; i++) {
		const VmaEntry *v = t->mm->vmas[i];
		int idx = special_index(v->kind);

		if (idx >= 0) {
			ra->tgt_special[idx].start = v->start;
			ra->tgt_special[idx].end = v->end;
			continue;
		}
		if (v->kind == VMA_KIND__VMA_AIO_RING) {
			/* Not mapped: io_setup() makes it (mem-aio.c). */
			if (aio_fill_arg(t->pe->pid, v, &aios[ra->nr_aios], aio_rings))
				return NULL;
			aio_rings += (v->aio_ring.len + 7) & ~7UL;
			ra->nr_aios++;
			continue;
		}
		vmas[nv].start = v->start;
		vmas[nv].end = v->end;
		vmas[nv].pgoff = v->pgoff;
		vmas[nv].prot = v->prot;
		vmas[nv].flags = v->flags;
		if (v->kind == VMA_KIND__VMA_SYSV_SHM) {
			if (sysv_vma(t, ns, v, &vmas[nv]))
				return NULL;
		} else {
			vmas[nv].fd = task_fd(t, files_vma_fd(rf, v));
			vmas[nv].sysv_pages = 0;
		}
		vmas[nv].premapped = t->vma_cur ? t->vma_cur[i] : 0;
		vmas[nv].how = vma_forced(v, vmas[nv].premapped) ? RST_VMA_FORCE : 0;
		if (v->kind == VMA_KIND__VMA_SYSV_SHM)
			vmas[nv].how = RST_VMA_SYSV |
				       ((v->has_maywrite ? !v->maywrite : !(v->prot & PROT_WRITE)) ?
					RST_VMA_SYSV_RDONLY : 0);
		if (restore_vma_lazy(t, i))
			vmas[nv].how |= RST_VMA_LAZY;
		vmas[nv].advice = v->has_advice ? v->advice : 0;
		if ((vmas[nv].advice & ~RST_ADV_ALL) || v->n_guards % 2) {
			pr_err("image mm-%d.img is corrupt: mapping %#llx has advice %#x and %zu guard numbers",
			       t->pe->pid, (unsigned long long)v->start, vmas[nv].advice,
			       v->n_guards);
			return NULL;
		}
		for (k = 0; k + 1 < v->n_guards; k += 2) {
			if (v->guards[k] % PAGE_SIZE || !v->guards[k + 1] ||
			    v->guards[k + 1] % PAGE_SIZE || v->guards[k] < v->start ||
			    v->guards[k] + v->guards[k + 1] > v->end ||
			    v->guards[k] + v->guards[k + 1] < v->guards[k]) {
				pr_err("image mm-%d.img is corrupt: guard region %#llx+%#llx outside mapping %#llx-%#llx",
				       t->pe->pid, (unsigned long long)v->guards[k],
				       (unsigned long long)v->guards[k + 1],
				       (unsigned long long)v->start, (unsigned long long)v->end);
				return NULL;
			}
			guards[ra->nr_guards].start = v->guards[k];
			guards[ra->nr_guards].end = v->guards[k] + v->guards[k + 1];
			ra->nr_guards++;
		}
		nv++;
	}
	ra->nr_vmas = nv;
	ra->vmas = (uint64_t)vmas;
	ra->aios = (uint64_t)aios;
	ra->aio_null_fd = t->aio_null_fd;
	for (i = 0, k = 0; i < t->nr_runs; i++) {
		if (t->run_early && t->run_early[i])
			continue;	/* in place already (mem-premap.c) */
		if (restore_run_lazy(t, i))
			continue;	/* the lazy-pages server's (lazy.c) */
		runs[k].vaddr = t->runs[i]->vaddr;
		runs[k].nr_pages = t->runs[i]->nr_pages;
		runs[k].crc = t->runs[i]->crc;
		runs[k].off = t->run_off[i];
		runs[k].file = t->run_file ? t->run_file[i] : 0;
		runs[k].flags = t->run_nocrc && t->run_nocrc[i] ? RST_RUN_NOCRC : 0;
		k++;
	}
	ra->nr_runs = k;
	ra->runs = (uint64_t)runs;
	ra->guards = (uint64_t)guards;
	ra->pages_fd = chain_fds[0];
	for (i = 0; i < RST_MAX_CHAIN; i++)
		ra->chain_fds[i] = chain_fds[i];
	ra->mem_fd = mem_fd;
	ra->pages_off = IMG_PAGES_OFF;
	ra->verify_crc = 1;
	ra->lazy_fd = t->lazy ? lazy_fd : -1;
	ra->lazy_features = LAZY_UFFD_FEATURES;
	ra->orig_pid = t->pe->pid;

	ra->has_mm = 1;
	ra->mcl_future = t->mm->has_mcl_future ? t->mm->mcl_future : 0;
	ra->ksm_merge_any = t->mm->has_ksm_merge_any && t->mm->ksm_merge_any;
	ra->mm.start_code = t->mm->start_code;
	ra->mm.end_code = t->mm->end_code;
	ra->mm.start_data = t->mm->start_data;
	ra->mm.end_data = t->mm->end_data;
	ra->mm.start_brk = t->mm->start_brk;
	ra->mm.brk = t->mm->brk;
	ra->mm.start_stack = t->mm->start_stack;
	ra->mm.arg_start = t->mm->arg_start;
	ra->mm.arg_end = t->mm->arg_end;
	ra->mm.env_start = t->mm->env_start;
	ra->mm.env_end = t->mm->env_end;
	memcpy(auxv, t->mm->auxv, t->mm->n_auxv * 8);
	ra->mm.auxv = (uint64_t)auxv;
	ra->mm.auxv_size = t->mm->n_auxv * 8;
	ra->mm.exe_fd = t->mm->has_exe_file_id ?
			task_fd(t, files_exe_fd(rf, t->mm->exe_file_id)) : -1;

	ra->zombie_leader = zl;
	ra->zombie_blocked = t->pe->blocked;
	/* The main thread queues the shared ones, and its own if it lives. */
	{
		size_t n = 0;

		for (i = 0; i < n_sig; i++) {
			size_t len = tc->pending[i]->raw.len;

			if (zl && !tc->pending[i]->shared)
				continue;
			memcpy(si[n].raw, tc->pending[i]->raw.data, len < 128 ? len : 128);
			si[n++].shared = tc->pending[i]->shared;
		}
		n_sig = n;
	}
	ra->main.nr_siginfo = n_sig;
	ra->main.siginfo = (uint64_t)si;

	for (i = 0; i < n_thr; i++) {
		const ThreadCoreEntry *th = c->threads[i + !zl];
		struct rst_thread *r = &thr[i];
		int n;

		r->tid = t->restore_pid ? th->tid : 0;
		n = ns_thread_set_tid(t->pe, th->tid, t->restore_pid, r->set_tid);
		if (n < 0) {
			pr_err("thread %d of %d has no TIDs in its PID namespaces in the images",
			       (int)th->tid, t->pe->pid);
			return NULL;
		}
		r->nr_set_tid = n;
		r->siginfo = (uint64_t)tsi;
		r->nr_siginfo = 0;
		for (size_t k = 0; k < th->n_pending; k++) {
			size_t len = th->pending[k]->raw.len;

			if (th->pending[k]->shared)
				continue;	/* the leader's to queue */
			memcpy(tsi->raw, th->pending[k]->raw.data, len < 128 ? len : 128);
			tsi++;
			r->nr_siginfo++;
		}
		task_fill_thread(th, r);
		for (int j = 0; j < t->nr_tfds; j++) {
			if (t->tfds[j].tid != (pid_t)th->tid)
				continue;
			r->own_files = 1;
			r->nr_fds = t->tfds[j].nr_fds;
			r->fds = (uint64_t)tfd;
			memcpy(tfd, t->tfd_copies[j], r->nr_fds * sizeof(*tfd));
			tfd += r->nr_fds;
		}
		r->stack = stacks + i * PIE_THREAD_STACK;
		if (th->comm)
			strncpy(r->comm, th->comm, sizeof(r->comm) - 1);
	}
	ra->nr_threads = n_thr;
	ra->threads = (uint64_t)thr;
	for (i = 0; i < (size_t)nr_keep; i++)
		close_fds[i] = keep[i];
	ra->nr_close = nr_keep;
	ra->close_fds = (uint64_t)close_fds;
	ra->nr_fowns = thread_fowns(t, fowns);
	ra->fowns = (uint64_t)fowns;
	ra->nr_pidfds = thread_pidfds(t, rf, pidfds);
	ra->pidfds = (uint64_t)pidfds;
	ra->nr_locks = locks_fill_posix(rf, t->pe->pid, locks);
	ra->locks = (uint64_t)locks;
	task_fill_restore_args(c, ra);
	timers_fill_restore(c, zl, ptimers);
	ra->nr_posix_timers = n_ptimers;
	ra->posix_timers = (uint64_t)ptimers;
	attrs_fill_args(c, zl, ra, thr, attrs_area);
	ra->new_pid = t->new_pid != (pid_t)t->pe->pid;

	*entry = base;
	*stack_top = base + size;
	free(busy.r);
	return ra;
}

static int add_keep(int **keep, int *nr, int fd);

/*
 * The restorer moves an AIO ring's tail with writes to /dev/null: opened
 * here, while crest's files are still there to see, above the tree's.
 */
static int aio_null(struct restore_task *t, int base, int **keep, int *nr_keep)
{
	t->aio_null_fd = -1;
	if (!aio_nr_rings(t->mm))
		return 0;
	t->aio_null_fd = files_to_service(open("/dev/null", O_WRONLY | O_CLOEXEC), base);
	if (t->aio_null_fd < 0) {
		pr_perror("can't open /dev/null for the AIO rings of process %d", t->pe->pid);
		return -1;
	}
	add_keep(keep, nr_keep, t->aio_null_fd);
	return 0;
}

/* The service fds of a deleted cwd and root (files_dump_dirs()), or -1. */
static int dir_fd(const struct restore_files *rf, bool has, uint32_t id)
{
	return has ? files_exe_fd(rf, id) : -1;
}

/*
 * Root and cwd, the last things done by path: after them the task may
 * see none of crest's files (a chroot without /proc). Both are opened
 * first, as crest sees them (/proc showed them so), then the root is
 * entered and the cwd taken by fd, which holds wherever it is. A deleted
 * one is the directory crest made again (its service fd).
 */
static int set_task_dirs(struct restore_task *t, const struct restore_files *rf,
			 const struct ns_restore *ns)
{
	const CoreEntry *c = t->core;
	int cwd = dir_fd(rf, c->has_cwd_file_id, c->cwd_file_id);
	int root = dir_fd(rf, c->has_root_file_id, c->root_file_id);
	bool own_cwd = cwd < 0, own_root = root < 0;
	int ret = -1;

	/* A rooted mount namespace: its paths are the namespace's, from here. */
	if (ns_mnt_join(ns, t->pe) < 0)
		return -1;

	cwd = own_cwd ? open(c->cwd, O_PATH | O_DIRECTORY | O_CLOEXEC) : task_fd(t, cwd);
	if (cwd < 0) {
		pr_perror("can't open the directory '%s' to work in", c->cwd);
		return -1;
	}
	if (own_root && !strcmp(c->root, "/"))
		goto cwd;
	root = own_root ? open(c->root, O_PATH | O_DIRECTORY | O_CLOEXEC) : task_fd(t, root);
	if (root < 0 || fchdir(root) || chroot(".")) {
		pr_perror("can't chroot to '%s'", c->root);
		goto out;
	}
cwd:
	if (fchdir(cwd)) {
		pr_perror("can't change directory to '%s'", c->cwd);
		goto out;
	}
	ret = 0;
out:
	if (own_root && root >= 0)
		close(root);
	if (own_cwd)
		close(cwd);
	return ret;
}

static int set_task_basics(const CoreEntry *c)
{
	umask(c->umask);
	if (personality(c->personality) < 0) {
		pr_perror("can't set personality %#x", c->personality);
		return -1;
	}
	prctl(PR_SET_NAME, c->comm, 0, 0, 0);
	return 0;
}


/*
 * A PID or TID checked free can still be allocated for a moment: the
 * kernel tells a parent that the last thread of a process is gone before
 * that thread's TID is freed, and on a busy machine the exiting task can
 * be kept off the CPU in between for a while. /proc no longer shows such
 * a task (or shows it dead or exiting): wait for it, bounded, as
 * check_pid() waits for a zombie; a live holder fails at once.
 */
#define ON_ITS_WAY_MS	30000	/* seen above 6 s at a load of 30 on 2 CPUs */

static bool on_its_way_out(pid_t pid)
{
	char *buf = read_proc(pid, "stat", NULL);
	struct proc_stat st;
	bool dying;

	if (!buf)
		return true;
	dying = !proc_parse_stat(buf, &st) &&
		(st.state == 'Z' || st.state == 'X' || (st.flags & 0x4));
	free(buf);
	return dying;
}

static long clone3_at(struct clone_args *ca, pid_t want)
{
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int tries = 0;; tries++) {
		long r = syscall(SYS_clone3, ca, sizeof(*ca));

		if (r >= 0 || errno != EEXIST || !ca->set_tid_size)
			return r;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000 +
		    (now.tv_nsec - t0.tv_nsec) / 1000000 > ON_ITS_WAY_MS ||
		    !on_its_way_out(want)) {
			errno = EEXIST;
			return r;
		}
		if (!tries)
			pr_info("pid %d is still held by a task on its way out; waiting", want);
		usleep(1000);
	}
}

pid_t restore_clone(const struct restore_shared *sh, const struct restore_task *t,
		    bool with_pid)
{
	pid_t pid = t->pe->pid;
	struct ns_clone nc;
	struct clone_args ca = {
		.exit_signal = SIGCHLD,
	};
	long r;

	ns_clone_for(sh->ns, t->pe, t->parent ? t->parent->pe : NULL, with_pid, &nc);
	ca.flags = nc.flags | (t->pe->shares_files ? CLONE_FILES : 0);
	ca.set_tid = nc.nr_set_tid ? (uint64_t)nc.set_tid : 0;
	ca.set_tid_size = nc.nr_set_tid;
	fflush(NULL);
	r = clone3_at(&ca, pid);
	if (r < 0) {
		if (errno == EEXIST)
			pr_err("pid %d was taken while crest prepared the restore", pid);
		else
			pr_perror("can't create a process with pid %d", pid);
	}
	return r;
}

/* A TID checked free up front was taken since: by whom? */
static void tid_taken(pid_t tid, pid_t pid)
{
	char *buf = read_proc(tid, "stat", NULL);
	struct proc_stat st;

	if (buf && !proc_parse_stat(buf, &st))
		pr_err("TID %d of %d was taken while crest prepared the restore, by '%s' (pid %d, state %c, parent %d)",
		       tid, pid, st.comm, st.pid, st.state, st.ppid);
	else
		pr_err("TID %d of %d was taken while crest prepared the restore (by a task on its way out?)",
		       tid, pid);
	free(buf);
}

/*
 * Hold the TIDs of our threads from now until the restorer makes them.
 * They were checked free at the start, but a restore lasts seconds, and
 * where processes come and go the PID counter wraps round in minutes
 * (pid_max is 32768 by default): another process could take one in
 * between, and clone3 would fail with EEXIST. Each is held by a child
 * that waits with every signal blocked, dies with us (PR_SET_PDEATHSIG)
 * and signals nothing when it does (exit_signal 0); the restorer kills
 * and reaps it just before it asks for the TID (release_tid()).
 */
static int hold_tids(const struct restore_task *t)
{
	const CoreEntry *c = t->core;
	pid_t self = getpid();
	sigset_t all, old;
	int ret = 0;

	if (!t->restore_pid || !c || t->pe->zombie)
		return 0;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	fflush(NULL);
	for (size_t i = 0; i < c->n_threads && !ret; i++) {
		pid_t tid = c->threads[i]->tid;
		int32_t set_tid[NS_MAX_LEVEL + 1] = { tid };
		struct clone_args ca = {
			.set_tid = (uint64_t)set_tid,
			.set_tid_size = 1,
		};
		long r;
		int n;

		if (tid == (pid_t)t->pe->pid)
			continue;
		/* In a PID namespace: held at every level, as the restorer asks. */
		n = ns_thread_set_tid(t->pe, tid, true, set_tid);
		if (n > 0)
			ca.set_tid_size = n;
		r = clone3_at(&ca, tid);
		if (r == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
			if (getppid() != self)
				_exit(0);
			for (;;)
				pause();
		}
		if (r < 0) {
			if (errno == EEXIST)
				tid_taken(tid, t->pe->pid);
			else
				pr_perror("can't hold TID %d of %d", tid, t->pe->pid);
			ret = -1;
		}
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}

static int report(const struct restore_shared *sh, int type, pid_t pid,
		  uint64_t val)
{
	struct restore_report r = { type, pid, val };

	if (write(sh->report_fd, &r, sizeof(r)) != sizeof(r)) {
		pr_perror("can't report to crest");
		return -1;
	}
	return 0;
}

static int wait_go(struct restore_task *t)
{
	char go;

	if (read(t->sync_fd, &go, 1) != 1)
		return -1;
	return go == 'g' ? 0 : -1;
}

pid_t restore_new_pid(const struct restore_shared *sh, pid_t orig)
{
	for (int i = 0; i < sh->nr; i++)
		if (sh->map[i].orig == orig)
			return sh->map[i].now;
	return 0;
}

/* Phase 1: our session, or our own group, before our children inherit it. */
static int take_session(struct restore_task *t)
{
	if (t->setsid && setsid() < 0) {
		pr_perror("can't make %d a session leader", t->pe->pid);
		return -1;
	}
	if (!t->setsid && t->own_group && setpgid(0, 0)) {
		pr_perror("can't make %d a process group leader", t->pe->pid);
		return -1;
	}
	return 0;
}

/* Phase 2: every task exists, so every group leader does: join ours. */
static int join_group(struct restore_task *t, const struct restore_shared *sh)
{
	pid_t want = t->join_pgid;

	if (!want)
		return 0;
	/* In a PID namespace of the tree: its leader by its PID there. */
	if (t->pe->n_ns_pids) {
		want = t->join_pgid_ns;
		if (!want)
			return 0;	/* outside it: inherited */
	} else if (t->join_pgid_orig) {
		want = restore_new_pid(sh, t->join_pgid_orig);
		if (!want)
			return 0;
	}
	/*
	 * A leader that is not our ancestor makes its group in its own
	 * phase 1, which may not be over yet (crest says "go" twice once
	 * every task exists): EPERM until it is, for a while at most.
	 */
	for (int ms = 0; getpgid(0) != want && setpgid(0, want); ms++) {
		if (errno != EPERM || ms >= ON_ITS_WAY_MS) {
			pr_perror("can't put %d into process group %d", t->pe->pid, want);
			return -1;
		}
		usleep(1000);
	}
	return 0;
}

static void zombie_handler(int sig)
{
	(void)sig;
}

struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

/*
 * What /proc shows of the zombie: its name, which signals it caught or
 * ignored (a caught one gets a handler that never runs: it exits now),
 * its limits (a hard limit above ours stays ours: no CAP_SYS_RESOURCE).
 * Raw system calls: glibc keeps signals 32 and 33 to itself.
 */
static void zombie_looks(const PstreeEntry *pe, int kill_sig)
{
	struct kernel_sigaction ka, tmpl = {};
	struct sigaction sa = {};

	if (pe->comm)
		prctl(PR_SET_NAME, (unsigned long)pe->comm, 0, 0, 0);
	for (size_t r = 0; r < pe->n_rlim_cur && r < pe->n_rlim_max; r++) {
		struct rlimit rl = { pe->rlim_cur[r], pe->rlim_max[r] };

		/* A signal's death writes no core: the zombie is not dumpable. */
		if (r == RLIMIT_CORE && kill_sig)
			prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		if (setrlimit(r, &rl) && errno != EPERM)
			pr_perror("can't set limit %zu of the zombie %d", r, pe->pid);
	}
	if (!pe->has_caught)
		return;
	/* glibc's signal return trampoline, for the handlers set raw. */
	sa.sa_handler = zombie_handler;
	sigaction(SIGUSR1, &sa, NULL);
	syscall(SYS_rt_sigaction, SIGUSR1, NULL, &tmpl, 8);
	for (int sig = 1; sig <= 64; sig++) {
		uint64_t bit = 1ULL << (sig - 1);

		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		ka = tmpl;
		ka.mask = 0;
		if (sig == kill_sig)
			ka.handler = SIG_DFL;	/* it died of it */
		else if (pe->caught & bit)
			ka.handler = zombie_handler;
		else if (pe->ignored & bit)
			ka.handler = SIG_IGN;
		else
			ka.handler = SIG_DFL;
		if (syscall(SYS_rt_sigaction, sig, &ka, NULL, 8))
			pr_perror("can't set the action of signal %d of the zombie %d",
				  sig, pe->pid);
	}
}

static void die_as_zombie(struct restore_task *t)
{
	int status = t->pe->exit_status;
	int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	uint64_t mask = t->pe->blocked;
	sigset_t all;

	/* No signal of ours in between: blocked until the last step. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	zombie_looks(t->pe, sig);
	if (sig) {
		struct rlimit no_core = { 0, 0 };

		if (!t->pe->n_rlim_cur)
			setrlimit(RLIMIT_CORE, &no_core);
		/* It died of it: it was not blocked then. */
		mask &= ~(1ULL << (sig - 1));
		syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, NULL, 8);
		kill(getpid(), sig);
	}
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, NULL, 8);
	_exit(WEXITSTATUS(status));
}

static int add_keep(int **keep, int *nr, int fd)
{
	if (fd < 0)
		return 0;
	for (int i = 0; i < *nr; i++)
		if ((*keep)[i] == fd)
			return 0;
	*keep = xrealloc(*keep, (*nr + 1) * sizeof(int));
	(*keep)[(*nr)++] = fd;
	return 0;
}

/*
 * The log's fds (the -o file, a copy of crest's stderr), kept to the
 * end: the restorer closes them with crest's other fds, so what a task
 * says up to its restorer reaches the log and the terminal.
 */
static void keep_log(int **keep, int *nr)
{
	int fds[2], n = log_fds(fds);

	for (int i = 0; i < n; i++)
		add_keep(keep, nr, fds[i]);
}

/* Our fds now; -1 (reported) if /proc fails us. */
static int list_fds(int **out)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int *fds = NULL, nr = 0;

	if (!d) {
		pr_perror("can't list our fds");
		return -1;
	}
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] == '.' || fd == dirfd(d))
			continue;
		fds = xrealloc(fds, (nr + 1) * sizeof(int));
		fds[nr++] = fd;
	}
	closedir(d);
	*out = fds;
	return nr;
}

static bool in_list(const int *l, int nr, int fd)
{
	for (int i = 0; i < nr; i++)
		if (l[i] == fd)
			return true;
	return false;
}

/*
 * The fds the restorer still needs; every other service fd goes now but
 * those in spare (what processes sharing our table copied for themselves).
 */
static int close_service_fds(const struct restore_files *rf, int *keep, int nr_keep,
			     const int *spare, int nr_spare)
{
	int *fds, nr = list_fds(&fds);

	if (nr < 0)
		return -1;
	for (int i = 0; i < nr; i++)
		if (files_is_service(rf, fds[i]) && !in_list(keep, nr_keep, fds[i]) &&
		    !in_list(spare, nr_spare, fds[i]))
			close(fds[i]);
	free(fds);
	return 0;
}

/* The copy of crest's fd orig this task made, or orig. */
static int task_fd(const struct restore_task *t, int orig)
{
	for (int i = 0; i < t->nr_fd_copy; i++)
		if (t->fd_copy[i][0] == orig)
			return t->fd_copy[i][1];
	return orig;
}

static int copy_fd(struct restore_task *t, const struct restore_shared *sh, int fd)
{
	int c;

	if (fd < 0 || task_fd(t, fd) != fd)
		return task_fd(t, fd);
	c = fcntl(fd, F_DUPFD_CLOEXEC, sh->top);
	if (c < 0) {
		pr_perror("can't copy fd %d above %d", fd, sh->top);
		return -1;
	}
	t->fd_copy = xrealloc(t->fd_copy, (t->nr_fd_copy + 1) * sizeof(*t->fd_copy));
	t->fd_copy[t->nr_fd_copy][0] = fd;
	t->fd_copy[t->nr_fd_copy][1] = c;
	t->nr_fd_copy++;
	return c;
}

/*
 * A process sharing its parent's fd table (made with CLONE_FILES) puts
 * no fd in place: the process that installs the table does, and closes
 * crest's fds in it. What this one needs of them up to the end of its
 * restorer it copies now, before it reports, above every fd crest had
 * (sh->top): the installer spares the fds that appeared in the table
 * between its fork of its children and "go" (2) (installer_spare()).
 * Its pages image and /proc/self/mem are opened here too.
 */
static int sharer_copies(struct restore_task *t, struct restore_shared *sh,
			 int **keep, int *nr_keep, int *chain_fds, int *mem_fd)
{
	const struct restore_files *rf = sh->files;
	const struct restore_task *inst;
	struct pidfd_thread_info pi;
	int fd;

	if (log_copy_fd(sh->top)) {
		pr_perror("can't copy the log fd");
		return -1;
	}
	keep_log(keep, nr_keep);
	if ((sh->report_fd = copy_fd(t, sh, sh->report_fd)) < 0 ||
	    (t->sync_fd = copy_fd(t, sh, t->sync_fd)) < 0)
		return -1;
	add_keep(keep, nr_keep, sh->report_fd);
	add_keep(keep, nr_keep, t->sync_fd);
	if (sh->lazy_fd >= 0) {
		if ((sh->lazy_fd = copy_fd(t, sh, sh->lazy_fd)) < 0)
			return -1;
		add_keep(keep, nr_keep, sh->lazy_fd);
	}
	for (size_t i = 0; i < t->mm->n_vmas; i++) {
		if ((fd = copy_fd(t, sh, files_vma_fd(rf, t->mm->vmas[i]))) < -1)
			return -1;
		add_keep(keep, nr_keep, fd);
	}
	if (t->mm->has_exe_file_id) {
		if ((fd = copy_fd(t, sh, files_exe_fd(rf, t->mm->exe_file_id))) < -1)
			return -1;
		add_keep(keep, nr_keep, fd);
	}
	for (int i = 0; i < 2; i++) {
		fd = i ? dir_fd(rf, t->core->has_root_file_id, t->core->root_file_id) :
			 dir_fd(rf, t->core->has_cwd_file_id, t->core->cwd_file_id);
		if ((fd = copy_fd(t, sh, fd)) < -1)
			return -1;
		add_keep(keep, nr_keep, fd);
	}
	for (int i = 0; i < RST_MAX_CHAIN; i++) {
		chain_fds[i] = -1;
		if (!t->pages_paths[i])
			continue;
		chain_fds[i] = open(t->pages_paths[i], O_RDONLY | O_CLOEXEC);
		if (chain_fds[i] < 0) {
			pr_perror("can't open '%s'", t->pages_paths[i]);
			return -1;
		}
		if ((chain_fds[i] = files_to_service(chain_fds[i], sh->top)) < 0)
			return -1;
		add_keep(keep, nr_keep, chain_fds[i]);
	}
	t->early_chain_fds = chain_fds;
	/* Where it sends the pidfds of its threads the table holds (thread_pidfds()). */
	for (int m = 0; files_pidfd_thread_nth(rf, m, &pi); m++) {
		if (pi.tgid != (pid_t)t->pe->pid || !pi.takes)
			continue;
		if ((fd = copy_fd(t, sh, pi.send)) < 0)
			return -1;
		add_keep(keep, nr_keep, fd);
	}
	for (inst = t; inst->pe->shares_files; inst = inst->parent)
		;
	if ((t->table_wait_fd = copy_fd(t, sh, inst->table_pipe[0])) < 0)
		return -1;
	add_keep(keep, nr_keep, t->table_wait_fd);
	if (task_forced(t)) {
		*mem_fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
		if (*mem_fd < 0) {
			pr_perror("can't open /proc/self/mem");
			return -1;
		}
		if ((*mem_fd = files_to_service(*mem_fd, sh->top)) < 0)
			return -1;
		add_keep(keep, nr_keep, *mem_fd);
	}
	return 0;
}

/* How many processes below t share its fd table (t installs it for them). */
static int nr_sharers(const struct restore_task *t)
{
	int n = 0;

	for (int i = 0; i < t->nr_children; i++)
		if (t->children[i]->pe->shares_files)
			n += 1 + nr_sharers(t->children[i]);
	return n;
}

/*
 * Until the installer has put the table in place and closed crest's fds
 * in it, a sharer opens no fd: one of its could be closed under it. The
 * installer's pipe, made before the sharers, says when: a byte each.
 */
static int table_pipe(struct restore_task *t, const struct restore_files *rf,
		      int **keep, int *nr_keep)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC)) {
		pr_perror("can't create a pipe");
		return -1;
	}
	if ((t->table_pipe[0] = files_to_service(p[0], rf->base)) < 0 ||
	    (t->table_pipe[1] = files_to_service(p[1], rf->base)) < 0)
		return -1;
	add_keep(keep, nr_keep, t->table_pipe[0]);
	add_keep(keep, nr_keep, t->table_pipe[1]);
	return 0;
}

static int table_done(struct restore_task *t)
{
	for (int n = nr_sharers(t); n > 0; n--)
		if (write(t->table_pipe[1], "t", 1) != 1) {
			pr_perror("can't tell the processes sharing our fd table");
			return -1;
		}
	return 0;
}

static int wait_table(struct restore_task *t)
{
	char c;

	if (read(t->table_wait_fd, &c, 1) != 1) {
		pr_perror("process %d: can't learn that its fd table is in place", t->pe->pid);
		return -1;
	}
	return 0;
}

/*
 * The installer of a shared table: the fds that appeared in it since
 * before (our fds just before our children were forked) are the copies
 * of the processes sharing it.
 */
static int installer_spare(const int *before, int nr_before, int **spare)
{
	int *now, nr = list_fds(&now), n = 0;

	if (nr < 0)
		return -1;
	for (int i = 0; i < nr; i++)
		if (!in_list(before, nr_before, now[i]))
			now[n++] = now[i];
	*spare = now;
	return n;
}

/* crest's own low fds (image dir...) that the program did not have. */
static void close_low_fds(const struct restore_files *rf, FdEntry **fds, int nr)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name), k;

		if (de->d_name[0] == '.' || fd == dirfd(d) || files_is_service(rf, fd))
			continue;
		for (k = 0; k < nr; k++)
			if ((int)fds[k]->fd == fd)
				break;
		if (k == nr)
			close(fd);
	}
	closedir(d);
}

/*
 * The threads' own tables, before the process's: each is put in place at
 * its own numbers, as the process's would be (kinds, post_open, flags),
 * then moved above the tree's fds, where the process holds it for the
 * thread's restorer to dup3 back (rst_fd). An epoll keeps the numbers it
 * was given; an owner that is a thread is the restorer's.
 */
static int stage_thread_tables(struct restore_task *t, const struct restore_files *rf,
			       const struct files_pid_map *map, int **keep, int *nr_keep)
{
	t->tfd_copies = xzalloc((t->nr_tfds + 1) * sizeof(*t->tfd_copies));
	for (int j = 0; j < t->nr_tfds; j++) {
		struct thread_fds *tf = &t->tfds[j];
		struct rst_fd *c = xzalloc((tf->nr_fds + 1) * sizeof(*c));

		t->tfd_copies[j] = c;
		close_low_fds(rf, tf->fds, tf->nr_fds);
		if (files_restore_fds(rf, tf->fds, tf->nr_fds, map))
			return -1;
		for (int k = 0; k < tf->nr_fds; k++) {
			struct pidfd_thread_info pi;

			c[k].dst = tf->fds[k]->fd;
			c[k].cloexec = tf->fds[k]->cloexec;
			/* A pidfd of a thread: taken by the thread (rst_fd.sock). */
			c[k].sock = files_pidfd_thread(rf, tf->fds[k], &pi) ? pi.recv : -1;
			c[k].src = fcntl(c[k].dst, F_DUPFD_CLOEXEC, rf->base);
			if (c[k].src < 0) {
				pr_perror("can't keep fd %d of thread %d", c[k].dst, tf->tid);
				return -1;
			}
			close(c[k].dst);
			add_keep(keep, nr_keep, c[k].src);
		}
	}
	return 0;
}

/*
 * Our PID at crest's level: getpid() says the one of our own PID
 * namespace. /proc is still crest's here (its mount namespace, or a
 * copy), and its "self" is us as crest sees us.
 */
static pid_t host_pid(const struct restore_task *t)
{
	char buf[32];
	ssize_t n;

	if (!t->pe->n_ns_pids)
		return getpid();
	n = readlink("/proc/self", buf, sizeof(buf) - 1);
	if (n <= 0) {
		pr_perror("can't read /proc/self");
		_exit(EXIT_FAILURE);
	}
	buf[n] = 0;
	return atoi(buf);
}

static pid_t map_pid(const void *arg, pid_t orig)
{
	return restore_new_pid(arg, orig);
}

/* Owners by their new pids, and which are our threads (t->pid_map). */
static const struct files_pid_map *task_pid_map(struct restore_task *t,
						const struct restore_shared *sh)
{
	pid_t *tids = xzalloc((t->core ? t->core->n_threads : 0) * sizeof(*tids) + 1);
	int n = 0;

	for (size_t i = 0; t->core && i < t->core->n_threads; i++)
		if ((pid_t)t->core->threads[i]->tid != (pid_t)t->pe->pid)
			tids[n++] = t->core->threads[i]->tid;
	t->pid_map = (struct files_pid_map){ sh->restore_pid ? NULL : map_pid, sh,
					     t->pe->pid, tids, n };
	return &t->pid_map;
}

void restore_task_child(struct restore_task *t, struct restore_shared *sh)
{
	const struct files_pid_map *pid_map = task_pid_map(t, sh);
	const struct restore_files *rf = sh->files;
	uint64_t entry, stack_top, addr;
	struct restore_args *ra;
	int *keep = NULL, nr_keep = 0, mem_fd = -1, chain_fds[RST_MAX_CHAIN];
	int *before = NULL, nr_before = 0, *spare = NULL, nr_spare = 0;
	bool installer = !t->pe->shares_files && nr_sharers(t);
	sigset_t all;

	/* If crest dies before the restorer is done, so do we. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* Our fd 2 becomes the program's: our words go through crest's copies. */
	log_use_copies();
	t->new_pid = host_pid(t);
	for (int i = 0; i < sh->nr; i++)
		if (sh->map[i].orig == (pid_t)t->pe->pid)
			sh->map[i].now = t->new_pid;
	if (hold_tids(t))
		_exit(EXIT_FAILURE);
	if (t->pe->shares_files &&
	    sharer_copies(t, sh, &keep, &nr_keep, chain_fds, &mem_fd))
		_exit(EXIT_FAILURE);
	/* The sockets it makes itself (a socketpair, a listener) are made there. */
	if (ns_restore_net(sh->ns, t->pe))
		_exit(EXIT_FAILURE);
	if (files_task_early(rf, t->pe->pid) ||
	    report(sh, REPORT_CREATED, t->pe->pid, t->new_pid) || wait_go(t))
		_exit(EXIT_FAILURE);
	/* Made in the namespaces it enters: filled before anything runs there. */
	if (ns_restore_entered(sh->ns, t->pe, t->parent ? t->parent->pe : NULL))
		_exit(EXIT_FAILURE);
	/* What is opened there, for its children to inherit: before they are born. */
	if (ns_enters_ipc(sh->ns, t->pe) && files_ipc_entered(rf, t->pe->ipc_ns))
		_exit(EXIT_FAILURE);
	/* Its cgroup namespace, before its children are born in it. */
	if (cgroup_ns_enter(t->core, t->parent ? t->parent->core : NULL, t->cg_ns_dirs,
			    t->pe->pid))
		_exit(EXIT_FAILURE);
	if (take_session(t) || (t->setsid && tty_restore_ctty(rf, t->pe->pid)))
		_exit(EXIT_FAILURE);
	/* Before the fork: the children inherit these pages copy-on-write. */
	if (premap_task(t))
		_exit(EXIT_FAILURE);
	if (installer && (table_pipe(t, rf, &keep, &nr_keep) ||
			  (nr_before = list_fds(&before)) < 0))
		_exit(EXIT_FAILURE);

	/*
	 * A child that is the init of the PID namespace we unshare()d for
	 * comes last: every child after the unshare() is born in it.
	 */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < t->nr_children; i++) {
			struct restore_task *c = t->children[i];
			bool last = ns_unshared_for(sh->ns, t->pe, c->pe);
			pid_t pid;

			if (last != (pass == 1))
				continue;
			if (last && ns_unshare_for(sh->ns, t->pe, c->pe))
				_exit(EXIT_FAILURE);
			pid = restore_clone(sh, c, sh->restore_pid);
			if (pid < 0)
				_exit(EXIT_FAILURE);
			if (pid == 0)
				restore_task_child(c, sh);
		}
	if (wait_go(t) || (t->pe->shares_files && wait_table(t)) || join_group(t, sh) ||
	    ns_restore_late(sh->ns, t->pe))
		_exit(EXIT_FAILURE);
	/* Tests of the watchdog: a new process that never gets to its restorer. */
	while (fault("restore-hang") && !t->pe->zombie)
		pause();
	if (t->pe->zombie)
		die_as_zombie(t);
	if (installer && (nr_spare = installer_spare(before, nr_before, &spare)) < 0)
		_exit(EXIT_FAILURE);
	if (t->pe->shares_files)
		goto table_in_place;	/* the installer's (sharer_copies()) */

	/* Its pages image, and those of earlier dumps of a chain it reads. */
	for (int i = 0; i < RST_MAX_CHAIN; i++) {
		chain_fds[i] = -1;
		if (!t->pages_paths[i])
			continue;
		chain_fds[i] = open(t->pages_paths[i], O_RDONLY | O_CLOEXEC);
		if (chain_fds[i] < 0) {
			pr_perror("can't open '%s'", t->pages_paths[i]);
			_exit(EXIT_FAILURE);
		}
		if ((chain_fds[i] = files_to_service(chain_fds[i], rf->base)) < 0)
			_exit(EXIT_FAILURE);
		add_keep(&keep, &nr_keep, chain_fds[i]);
	}
	if (task_forced(t)) {
		mem_fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
		if (mem_fd < 0) {
			pr_perror("can't open /proc/self/mem");
			_exit(EXIT_FAILURE);
		}
		if ((mem_fd = files_to_service(mem_fd, rf->base)) < 0)
			_exit(EXIT_FAILURE);
		add_keep(&keep, &nr_keep, mem_fd);
	}
	add_keep(&keep, &nr_keep, sh->report_fd);
	keep_log(&keep, &nr_keep);
	if (sh->lazy_fd >= 0)
		add_keep(&keep, &nr_keep, sh->lazy_fd);
	for (size_t i = 0; i < t->mm->n_vmas; i++)
		add_keep(&keep, &nr_keep, files_vma_fd(rf, t->mm->vmas[i]));
	if (t->mm->has_exe_file_id)
		add_keep(&keep, &nr_keep, files_exe_fd(rf, t->mm->exe_file_id));
	add_keep(&keep, &nr_keep, dir_fd(rf, t->core->has_cwd_file_id, t->core->cwd_file_id));
	add_keep(&keep, &nr_keep, dir_fd(rf, t->core->has_root_file_id, t->core->root_file_id));

	if (stage_thread_tables(t, rf, pid_map, &keep, &nr_keep))
		_exit(EXIT_FAILURE);
	keep_pidfd_socks(t, rf, &keep, &nr_keep);
	close_low_fds(rf, t->fds, t->nr_fds);
	if (files_restore_fds(rf, t->fds, t->nr_fds, pid_map) ||
	    locks_restore_task(rf, t->pe->pid) ||
	    (t->setsid && tty_restore_fg(rf, t->pe->pid, pid_map)))
		_exit(EXIT_FAILURE);
	/* Its user namespace's: the restorer joins it at last. */
	add_keep(&keep, &nr_keep, ns_user_fd(sh->ns, t->pe));
	/* Its rooted mount namespace's: joined by set_task_dirs(). */
	add_keep(&keep, &nr_keep, ns_mnt_fd(sh->ns, t->pe));
	if (close_service_fds(rf, keep, nr_keep, spare, nr_spare) ||
	    (installer && table_done(t)))
		_exit(EXIT_FAILURE);
	/* Its fds of queues in place, crest's closed: its mq_notify registrations. */
	if (ns_mq_notify_restore(sh->ns, t->pe, t->fds, t->nr_fds))
		_exit(EXIT_FAILURE);
table_in_place:
	if (set_task_basics(t->core) || attrs_restore_self(t->core, t->pe->pid, t->cg_dirs))
		_exit(EXIT_FAILURE);
	if (aio_null(t, t->pe->shares_files ? sh->top : rf->base, &keep, &nr_keep))
		_exit(EXIT_FAILURE);
	ra = build_args(t, rf, sh->ns, keep, nr_keep, chain_fds, mem_fd, sh->lazy_fd, &entry,
			&stack_top);
	if (!ra || set_task_dirs(t, rf, sh->ns))
		_exit(EXIT_FAILURE);
	ns_user_args(sh->ns, t->pe, ra);
	/* The report fd is the restorer's to close; crest learns where to look. */
	addr = (uint64_t)ra;
	if (report(sh, REPORT_RESTORER, t->pe->pid, addr))
		_exit(EXIT_FAILURE);

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* From here on no libc: glibc's rseq area is about to vanish. */
	if (__rseq_size) {
		char *area = (char *)__builtin_thread_pointer() + __rseq_offset;

		if (syscall(SYS_rseq, area, 32, 1 /* UNREGISTER */, RSEQ_SIG_X86) &&
		    syscall(SYS_rseq, area, __rseq_size, 1, RSEQ_SIG_X86)) {
			pr_perror("can't unregister crest's rseq area");
			_exit(EXIT_FAILURE);
		}
	}
	arch_jump_to_pie(entry, stack_top, addr);
}
