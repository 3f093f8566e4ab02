/*
 * Copy-on-write sharing at restore: a child gets back the pages it
 * shared with its parent by inheriting them again, as fork gave them.
 *
 * The dump marks a child's run "inherited" when its pages were the very
 * pages of the parent (mem.c). Here, before a task forks its children,
 * crest's copy of it maps the VMAs that matter at a range free in the
 * layouts of the whole subtree ("premap") and fills them:
 *
 *   - a VMA a child inherits from (PREMAP_FOR_CHILD) is mapped fresh and
 *     filled from the task's pages image;
 *   - a VMA holding inherited pages (PREMAP_INHERITED) is already there,
 *     in the parent's premapped range, with the parent's pages: the task
 *     drops what it did not inherit (MADV_DONTNEED: not present, as in
 *     the original) and writes its own runs over it.
 *
 * The children then fork with those ranges and do the same in turn; the
 * restorer keeps each premapped VMA while it unmaps crest and mremaps it
 * into place. A task with nothing to share premaps nothing and restores
 * as before, all in the restorer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch.h"
#include "arch-crc.h"
#include "log.h"
#include "mem.h"
#include "mem-premap.h"
#include "restore-task.h"
#include "util.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

static uint64_t run_len(const PagemapEntry *r)
{
	return (uint64_t)r->nr_pages * PAGE_SIZE;
}

/* The VMA holding all of [start, end), in address order; -1 if none. */
static int vma_of(const MmEntry *mm, uint64_t start, uint64_t end)
{
	size_t lo = 0, hi = mm->n_vmas;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (mm->vmas[mid]->end <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < mm->n_vmas && mm->vmas[lo]->start <= start && end <= mm->vmas[lo]->end)
		return lo;
	return -1;
}

static void premap_arrays(struct restore_task *t)
{
	if (t->vma_premap)
		return;
	t->vma_premap = xzalloc(t->mm->n_vmas);
	t->vma_cur = xzalloc(t->mm->n_vmas * sizeof(uint64_t));
}

/* Every inherited run: in a VMA that shares with one of the parent's. */
static int plan_inherited(struct restore_task *t)
{
	struct restore_task *p = t->parent;

	for (size_t k = 0; k < t->nr_runs; k++) {
		const PagemapEntry *r = t->runs[k];
		int vi, pj;

		if (!r->inherited)
			continue;
		if (!p || !p->mm) {
			pr_err("image of process %d is corrupt: it inherits pages at %#llx from a parent not in the checkpoint",
			       t->pe->pid, (unsigned long long)r->vaddr);
			return -1;
		}
		vi = vma_of(t->mm, r->vaddr, r->vaddr + run_len(r));
		pj = vi < 0 ? -1 : mem_cow_parent_vma(p->mm->vmas, p->mm->n_vmas,
						      t->mm->vmas[vi]);
		if (pj < 0) {
			pr_err("image of process %d is corrupt: pages %#llx+%u inherited from %d lie in no anonymous mapping both have",
			       t->pe->pid, (unsigned long long)r->vaddr, r->nr_pages,
			       p->pe->pid);
			return -1;
		}
		premap_arrays(t);
		premap_arrays(p);
		t->vma_premap[vi] |= PREMAP_INHERITED;
		p->vma_premap[pj] |= PREMAP_FOR_CHILD;
		t->premap = p->premap = true;
	}
	return 0;
}

/* Which runs crest's side puts in place: none may straddle a premapped VMA. */
static int plan_runs(struct restore_task *t)
{
	t->run_early = xzalloc(t->nr_runs);
	for (size_t k = 0; k < t->nr_runs; k++) {
		const PagemapEntry *r = t->runs[k];
		uint64_t end = r->vaddr + run_len(r);
		int vi = vma_of(t->mm, r->vaddr, end);

		if (r->inherited || (vi >= 0 && t->vma_premap[vi])) {
			t->run_early[k] = 1;
			continue;
		}
		if (vi >= 0)
			continue;
		for (size_t i = 0; i < t->mm->n_vmas; i++) {
			const VmaEntry *v = t->mm->vmas[i];

			if (t->vma_premap[i] && r->vaddr < v->end && v->start < end) {
				pr_err("image of process %d is corrupt: page run %#llx+%u crosses the mapping %llx-%llx",
				       t->pe->pid, (unsigned long long)r->vaddr, r->nr_pages,
				       (unsigned long long)v->start, (unsigned long long)v->end);
				return -1;
			}
		}
	}
	return 0;
}

int premap_plan(struct restore_task *tasks, int nr)
{
	for (int i = 0; i < nr; i++)
		if (tasks[i].mm && plan_inherited(&tasks[i]))
			return -1;
	for (int i = 0; i < nr; i++) {
		struct restore_task *t = &tasks[i];
		int n = 0;

		if (!t->premap)
			continue;
		if (plan_runs(t))
			return -1;
		for (size_t k = 0; k < t->mm->n_vmas; k++)
			n += !!t->vma_premap[k];
		pr_debug("process %d: %d mappings shared copy-on-write with its parent or children",
			 t->pe->pid, n);
	}
	return 0;
}

static void busy_subtree(struct busy *b, const struct restore_task *t)
{
	if (t->mm)
		for (size_t i = 0; i < t->mm->n_vmas; i++)
			busy_add(b, t->mm->vmas[i]->start, t->mm->vmas[i]->end);
	for (int i = 0; i < t->nr_children; i++)
		busy_subtree(b, t->children[i]);
}

/*
 * A range free here and in the layout of every task of the subtree: the
 * restorers of all of them move VMAs out of it into their places.
 */
static uint64_t premap_hole(const struct restore_task *t, uint64_t size)
{
	struct busy b = {};
	uint64_t at = 0;

	if (!busy_own_layout(&b, NULL)) {
		busy_subtree(&b, t);
		at = busy_find_hole(&b, size);
	}
	free(b.r);
	return at;
}

static int fill_run(const struct restore_task *t, const int *fds, size_t k, void *dst)
{
	const PagemapEntry *r = t->runs[k];
	uint64_t len = run_len(r), off = IMG_PAGES_OFF + t->run_off[k], done = 0;
	int file = t->run_file ? t->run_file[k] : 0, fd = fds[file];
	const char *path = t->pages_paths[file];

	madvise(dst, len, MADV_POPULATE_WRITE);	/* one call, not a fault a page */
	while (done < len) {
		ssize_t n = pread(fd, (char *)dst + done, len - done, off + done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				pr_perror("can't read '%s'", path);
			else
				pr_err("image '%s' is truncated at %llu", path,
				       (unsigned long long)(off + done));
			return -1;
		}
		done += n;
	}
	if (!(t->run_nocrc && t->run_nocrc[k]) && arch_crc32c_pages(dst, len) != r->crc) {
		pr_err("image '%s' is corrupt: the pages of %#llx+%u at offset %llu fail their checksum",
		       path, (unsigned long long)r->vaddr, r->nr_pages,
		       (unsigned long long)off);
		return -1;
	}
	return 0;
}

static int cmp_run(const void *a, const void *b)
{
	const PagemapEntry *x = *(PagemapEntry *const *)a, *y = *(PagemapEntry *const *)b;

	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/*
 * The parent's pages this task did not inherit are not its own: drop
 * them, as the original had them not present (or replaced by its own).
 */
static int drop_uninherited(const struct restore_task *t, size_t vi)
{
	const VmaEntry *v = t->mm->vmas[vi];
	const PagemapEntry **inh = NULL;
	uint64_t pos = v->start, cur = t->vma_cur[vi];
	size_t n = 0;
	int ret = 0;

	for (size_t k = 0; k < t->nr_runs; k++) {
		const PagemapEntry *r = t->runs[k];

		if (r->inherited && v->start <= r->vaddr && r->vaddr < v->end) {
			inh = xrealloc(inh, (n + 1) * sizeof(*inh));
			inh[n++] = r;
		}
	}
	if (n)
		qsort(inh, n, sizeof(*inh), cmp_run);
	for (size_t k = 0; k <= n && !ret; k++) {
		uint64_t end = k < n ? inh[k]->vaddr : v->end;

		if (end > pos &&
		    madvise((void *)(cur + (pos - v->start)), end - pos, MADV_DONTNEED)) {
			pr_perror("can't drop pages at %#llx of process %d",
				  (unsigned long long)pos, t->pe->pid);
			ret = -1;
		}
		if (k < n && inh[k]->vaddr + run_len(inh[k]) > pos)
			pos = inh[k]->vaddr + run_len(inh[k]);
	}
	free(inh);
	return ret;
}

/* Where the parent premapped the VMA our VMA vi lies in. */
static uint64_t inherited_at(const struct restore_task *t, size_t vi)
{
	const struct restore_task *p = t->parent;
	const VmaEntry *v = t->mm->vmas[vi];
	int pj = mem_cow_parent_vma(p->mm->vmas, p->mm->n_vmas, v);

	if (pj < 0 || !p->vma_cur || !p->vma_cur[pj])
		return 0;
	return p->vma_cur[pj] + (v->start - p->mm->vmas[pj]->start);
}

int premap_task(struct restore_task *t)
{
	const MmEntry *mm = t->mm;
	uint64_t need = 0, at = 0;
	int fds[CHAIN_MAX], ret = -1;

	if (!t->premap)
		return 0;
	for (size_t i = 0; i < mm->n_vmas; i++)
		if (t->vma_premap[i] == PREMAP_FOR_CHILD)
			need += mm->vmas[i]->end - mm->vmas[i]->start + PAGE_SIZE;
	if (need) {
		at = premap_hole(t, need);
		if (!at) {
			pr_err("process %d: no room to map %llu bytes shared with its children",
			       t->pe->pid, (unsigned long long)need);
			return -1;
		}
	}
	for (size_t i = 0; i < mm->n_vmas; i++) {
		const VmaEntry *v = mm->vmas[i];
		uint64_t len = v->end - v->start;
		void *p;

		if (!t->vma_premap[i])
			continue;
		if (t->vma_premap[i] & PREMAP_INHERITED) {
			t->vma_cur[i] = inherited_at(t, i);
			if (!t->vma_cur[i]) {
				pr_err("process %d: its parent did not map %llx-%llx for it",
				       t->pe->pid, (unsigned long long)v->start,
				       (unsigned long long)v->end);
				return -1;
			}
			continue;
		}
		/* A page apart from the next: each stays a VMA of its own. */
		p = mmap((void *)at, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (p == MAP_FAILED || (uint64_t)p != at) {
			pr_perror("can't map %llu bytes at %#llx for process %d",
				  (unsigned long long)len, (unsigned long long)at,
				  t->pe->pid);
			return -1;
		}
		t->vma_cur[i] = at;
		at += len + PAGE_SIZE;
	}

	for (int i = 0; i < CHAIN_MAX; i++)
		fds[i] = -1;
	/* A process sharing its parent's fd table opens nothing now (restore-task.c). */
	for (int i = 0; i < CHAIN_MAX && t->early_chain_fds; i++)
		fds[i] = t->early_chain_fds[i];
	for (int i = 0; i < CHAIN_MAX && !t->early_chain_fds; i++) {
		if (!t->pages_paths[i])
			continue;
		fds[i] = open(t->pages_paths[i], O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0) {
			pr_perror("can't open '%s'", t->pages_paths[i]);
			goto out;
		}
	}
	for (size_t i = 0; i < mm->n_vmas; i++)
		if ((t->vma_premap[i] & PREMAP_INHERITED) && drop_uninherited(t, i))
			goto out;
	for (size_t k = 0; k < t->nr_runs; k++) {
		const PagemapEntry *r = t->runs[k];
		int vi;

		if (!t->run_early[k] || r->inherited)
			continue;
		vi = vma_of(mm, r->vaddr, r->vaddr + run_len(r));
		if (fill_run(t, fds, k, (void *)(t->vma_cur[vi] +
						(r->vaddr - mm->vmas[vi]->start))))
			goto out;
	}
	ret = 0;
out:
	for (int i = 0; i < CHAIN_MAX && !t->early_chain_fds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return ret;
}
