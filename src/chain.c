/* Chains of dumps: see chain.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain.h"
#include "log.h"
#include "mem.h"
#include "sign.h"
#include "track.h"
#include "util.h"

#define PAGE_SZ	4096ULL

char *chain_path(const char *dir, const char *arg)
{
	return arg[0] == '/' ? xstrdup(arg) : xsprintf("%s/%s", dir, arg);
}

static int cmp_range(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* The pages the previous dump holds of pid: its runs, inherited ones aside. */
static int read_ranges(struct chain_prev *p, struct chain_pid *cp)
{
	struct image *img = img_open(&p->dir, IMG_PAGEMAP, cp->pid);
	void *msg;
	int ret;

	if (!img)
		return -1;
	while ((ret = img_read_msg(img, &msg)) > 0) {
		PagemapEntry *pe = msg;

		/* A child's pages shared with its parent: saved again, simply. */
		if (!pe->inherited && pe->nr_pages && !(pe->vaddr % PAGE_SZ)) {
			cp->ranges = xrealloc(cp->ranges, (cp->nr + 1) * sizeof(*cp->ranges));
			cp->ranges[cp->nr][0] = pe->vaddr;
			cp->ranges[cp->nr][1] = pe->vaddr + pe->nr_pages * PAGE_SZ;
			cp->nr++;
		}
		protobuf_c_message_free_unpacked(msg, NULL);
	}
	img_close(img);
	if (ret < 0)
		return -1;
	qsort(cp->ranges, cp->nr, sizeof(*cp->ranges), cmp_range);
	for (size_t i = 1; i < cp->nr; i++)
		if (cp->ranges[i][0] < cp->ranges[i - 1][1]) {
			pr_err("image '%s/pagemap-%d.img' is corrupt: its runs overlap at %llx",
			       p->path, cp->pid, (unsigned long long)cp->ranges[i][0]);
			return -1;
		}
	return 0;
}

int chain_prev_open(struct chain_prev *p, const char *dir, const char *arg)
{
	struct image *inv_img;
	void *msg = NULL;
	char *here, *there;
	int ret;

	memset(p, 0, sizeof(*p));
	p->dir.dirfd = -1;
	p->arg = arg;
	p->path = chain_path(dir, arg);
	/* A dump over its own previous one would destroy the pages it leaves there. */
	here = realpath(dir, NULL);
	there = realpath(p->path, NULL);
	ret = here && there && !strcmp(here, there);
	free(here);
	free(there);
	if (ret) {
		pr_err("--prev-images-dir '%s' is the images directory itself: dump into another one",
		       arg);
		return -1;
	}
	if (img_dir_open(&p->dir, p->path, false))
		return -1;
	/* Its pages may be where a page server put them: the pagemaps are enough here. */
	p->dir.pages_elsewhere_ok = true;
	inv_img = img_open(&p->dir, IMG_INVENTORY, 0);
	ret = inv_img ? img_read_msg(inv_img, &msg) : -1;
	if (ret == 0)
		pr_err("image '%s/inventory.img' is empty", p->path);
	p->inv = ret > 0 ? msg : NULL;
	if (p->inv && p->inv->has_deduped_for) {
		img_close(inv_img);
		pr_err("--prev-images-dir '%s' was deduplicated (crest dedup) for a later dump of its chain: chain this one on that dump",
		       arg);
		return -1;
	}
	/* The previous dump is read at restore: it must be whole now. */
	if (!p->inv || img_verify_set(&p->dir, inv_img, p->inv)) {
		img_close(inv_img);
		pr_err("--prev-images-dir '%s' holds no sound checkpoint", arg);
		return -1;
	}
	img_close(inv_img);
	p->pids = xzalloc((p->inv->n_pids + 1) * sizeof(*p->pids));
	for (size_t i = 0; i < p->inv->n_pids; i++) {
		struct chain_pid *cp = &p->pids[p->nr_pids];
		char *name = img_name(IMG_PAGEMAP, p->inv->pids[i]);

		cp->pid = p->inv->pids[i];
		ret = faccessat(p->dir.dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW);
		free(name);
		if (ret)
			continue;	/* a zombie: no memory */
		if (read_ranges(p, cp))
			return -1;
		p->nr_pids++;
	}
	if (p->inv->tracker && track_take(p->inv->tracker, &p->trk, &p->nr_trk))
		return -1;
	pr_info("previous dump '%s': %zu processes, %d of them still tracked", p->path,
		p->nr_pids, p->nr_trk);
	return 0;
}

void chain_prev_close(struct chain_prev *p)
{
	for (size_t i = 0; i < p->nr_pids; i++)
		free(p->pids[i].ranges);
	free(p->pids);
	track_free(p->trk, p->nr_trk);
	if (p->inv)
		protobuf_c_message_free_unpacked(&p->inv->base, NULL);
	if (p->dir.dirfd >= 0)
		img_dir_close(&p->dir);
	free(p->path);
	memset(p, 0, sizeof(*p));
	p->dir.dirfd = -1;
}

void chain_attach(struct chain_prev *p, pid_t pid, struct mem_layout *ml)
{
	ml->tracked = false;
	ml->prev = NULL;
	ml->nr_prev = 0;
	for (int i = 0; i < p->nr_trk; i++)
		if (p->trk[i].pid == pid && p->trk[i].uffd >= 0)
			ml->tracked = true;
	for (size_t i = 0; ml->tracked && i < p->nr_pids; i++)
		if (p->pids[i].pid == pid) {
			ml->prev = p->pids[i].ranges;
			ml->nr_prev = p->pids[i].nr;
		}
}

int chain_take_uffd(struct chain_prev *p, pid_t pid)
{
	for (int i = 0; i < p->nr_trk; i++)
		if (p->trk[i].pid == pid && p->trk[i].uffd >= 0) {
			int fd = p->trk[i].uffd;

			p->trk[i].uffd = -1;
			return fd;
		}
	return -1;
}

/* ---- restore ---- */

/* Was inv folded (crest dedup) for the set ids[0] or a link ids[1..nr-1]? */
static bool folded_for_newer(const InventoryEntry *inv, uint8_t ids[][IMG_ID_SIZE], int nr,
			     bool have_set_id)
{
	if (inv->deduped_for.len != IMG_ID_SIZE)
		return false;
	for (int k = have_set_id ? 0 : 1; k < nr; k++)
		if (!memcmp(inv->deduped_for.data, ids[k], IMG_ID_SIZE))
			return true;
	return false;
}

int chain_open(struct chain *c, const struct img_dir *d, const InventoryEntry *inv,
	       const struct sign_key *key, const char *base, bool check_owner)
{
	const InventoryEntry *cur = inv;

	if (!base)
		base = d->fs_path ? d->fs_path : d->path;
	/* The ids of the set and of each link opened: newer than the next. */
	uint8_t ids[CHAIN_MAX][IMG_ID_SIZE];

	memset(c, 0, sizeof(*c));
	if (d->have_id)
		memcpy(ids[0], d->id, IMG_ID_SIZE);
	c->nr = 1;
	while (cur->prev_dir) {
		struct chain_link *l;
		struct image *img;
		void *msg = NULL;
		int ret;

		if (c->nr == CHAIN_MAX) {
			pr_err("'%s': a chain of more than %d dumps; restore a full dump instead",
			       d->path, CHAIN_MAX - 1);
			return -1;
		}
		l = &c->link[c->nr];
		l->dir.dirfd = -1;
		l->path = chain_path(base, cur->prev_dir);
		if (img_dir_open(&l->dir, l->path, false))
			goto bad;
		l->dir.check_owner = check_owner;
		l->dir.owner_writes = d->owner_writes;
		img = img_open(&l->dir, IMG_INVENTORY, 0);
		ret = img ? img_read_msg(img, &msg) : -1;
		l->inv = ret > 0 ? msg : NULL;
		if (!l->inv || !cur->has_prev_id || cur->prev_id.len != IMG_ID_SIZE ||
		    memcmp(img->id, cur->prev_id.data, IMG_ID_SIZE)) {
			if (l->inv)
				pr_err("'%s' is not the dump '%s' follows (another checkpoint's id)",
				       l->path, c->nr == 1 ? d->path : base);
			img_close(img);
			goto bad;
		}
		/*
		 * Deduplicated, it holds only what the dump it was folded for
		 * reads: that dump must be a newer link of this very chain (or
		 * the set). What a newer one reads through it is no more (each
		 * link's in_parent pages are pages the one before it holds).
		 */
		if (l->inv->has_deduped_for && !folded_for_newer(l->inv, ids, c->nr, d->have_id)) {
			pr_err("'%s' was deduplicated (crest dedup) for another dump of its chain than '%s': pages this one needs may be gone",
			       l->path, d->path);
			img_close(img);
			goto bad;
		}
		ret = (key && key->len && sign_verify(&l->dir, img->buf, img->size, key)) ||
		      img_verify_set(&l->dir, img, l->inv);
		img_close(img);
		if (ret)
			goto bad;
		l->pids = xzalloc((l->inv->n_pids + 1) * sizeof(*l->pids));
		for (size_t i = 0; i < l->inv->n_pids; i++)
			l->pids[l->nr_pids++].pid = l->inv->pids[i];
		memcpy(ids[c->nr], l->dir.id, IMG_ID_SIZE);
		c->nr++;
		base = l->path;
		cur = l->inv;
		continue;
bad:
		pr_err("the previous dump '%s' of the chain can't be read: it holds pages of '%s'",
		       l->path, d->path);
		c->nr++;	/* closed with the rest */
		return -1;
	}
	return 0;
}

static struct chain_runs *link_runs(struct chain_link *l, pid_t pid)
{
	struct chain_runs *r = NULL;
	struct image *img;
	uint64_t bytes = 0;
	void *msg;
	int ret;

	for (size_t i = 0; i < l->nr_pids; i++)
		if (l->pids[i].pid == pid)
			r = &l->pids[i];
	if (!r) {
		pr_err("'%s' holds no process %d, whose pages the chain puts there", l->path, pid);
		return NULL;
	}
	if (r->loaded)
		return r;
	img = img_open(&l->dir, IMG_PAGEMAP, pid);
	if (!img)
		return NULL;
	while ((ret = img_read_msg(img, &msg)) > 0) {
		PagemapEntry *pe = msg;

		if (pe->vaddr % PAGE_SZ || !pe->nr_pages) {
			pr_err("image '%s' is corrupt near offset %zu: bad page run", img->path,
			       img->off);
			ret = -1;
			break;
		}
		r->runs = xrealloc(r->runs, (r->nr + 1) * sizeof(*r->runs));
		r->off = xrealloc(r->off, (r->nr + 1) * sizeof(*r->off));
		r->off[r->nr] = bytes;
		r->runs[r->nr++] = pe;
		if (!pe->inherited && !pe->in_parent)
			bytes += pe->nr_pages * PAGE_SZ;
	}
	img_close(img);
	if (ret < 0)
		return NULL;
	r->loaded = true;
	return r;
}

int chain_resolve(struct chain *c, int link, pid_t pid, uint64_t start, uint64_t end,
		  struct chain_piece **out, size_t *nr)
{
	struct chain_link *l;
	struct chain_runs *r;
	uint64_t cur = start;

	if (link >= c->nr) {
		pr_err("pages %#llx-%#llx of process %d are in a previous dump the chain does not name",
		       (unsigned long long)start, (unsigned long long)end, pid);
		return -1;
	}
	l = &c->link[link];
	r = link_runs(l, pid);
	if (!r)
		return -1;
	/* Runs are few and unsorted (inherited and in_parent ones come last). */
	while (cur < end) {
		const PagemapEntry *best = NULL;
		size_t bi = 0;

		for (size_t i = 0; i < r->nr; i++) {
			const PagemapEntry *pe = r->runs[i];
			uint64_t pend = pe->vaddr + pe->nr_pages * PAGE_SZ;

			if (pe->vaddr <= cur && cur < pend && !pe->inherited) {
				best = pe;
				bi = i;
				break;
			}
		}
		if (!best) {
			pr_err("'%s' lacks the page %#llx of process %d that the chain leaves in it",
			       l->path, (unsigned long long)cur, pid);
			return -1;
		}
		{
			uint64_t pend = best->vaddr + best->nr_pages * PAGE_SZ;
			uint64_t e = end < pend ? end : pend;

			if (best->in_parent) {
				if (chain_resolve(c, link + 1, pid, cur, e, out, nr))
					return -1;
			} else {
				struct chain_piece *p;

				*out = xrealloc(*out, (*nr + 1) * sizeof(**out));
				p = &(*out)[(*nr)++];
				p->link = link;
				p->vaddr = cur;
				p->off = r->off[bi] + (cur - best->vaddr);
				p->nr_pages = (uint32_t)((e - cur) / PAGE_SZ);
				p->has_crc = cur == best->vaddr && e == pend;
				p->crc = p->has_crc ? best->crc : 0;
			}
			cur = e;
		}
	}
	return 0;
}

char *chain_pages_path(struct chain *c, int link, pid_t pid)
{
	char *name = img_name(IMG_PAGES, pid);
	char *rel = xsprintf("%s/%s", c->link[link].path, name);
	char *abs = realpath(rel, NULL);

	if (!abs)
		pr_perror("can't find '%s'", rel);
	free(name);
	free(rel);
	return abs;
}

void chain_close(struct chain *c)
{
	for (int i = 1; i < c->nr; i++) {
		struct chain_link *l = &c->link[i];

		for (size_t k = 0; k < l->nr_pids; k++) {
			for (size_t j = 0; j < l->pids[k].nr; j++)
				protobuf_c_message_free_unpacked(&l->pids[k].runs[j]->base, NULL);
			free(l->pids[k].runs);
			free(l->pids[k].off);
		}
		free(l->pids);
		if (l->inv)
			protobuf_c_message_free_unpacked(&l->inv->base, NULL);
		if (l->dir.dirfd >= 0)
			img_dir_close(&l->dir);
		free(l->path);
	}
	memset(c, 0, sizeof(*c));
}
