/* crest dedup: see dedup.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chain.h"
#include "dedup.h"
#include "image.h"
#include "log.h"
#include "mem-zpages.h"
#include "util.h"

/* What the final dump reads of pid in one link: [off, off + len) of its data. */
struct used {
	uint64_t (*r)[2];
	size_t nr;
};

static int cmp_range(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

static struct used *used_of(struct used **u, size_t *nr_u, pid_t **pids, int link, pid_t pid)
{
	for (size_t i = 0; i < nr_u[link]; i++)
		if (pids[link][i] == pid)
			return &u[link][i];
	u[link] = xrealloc(u[link], (nr_u[link] + 1) * sizeof(**u));
	pids[link] = xrealloc(pids[link], (nr_u[link] + 1) * sizeof(**pids));
	memset(&u[link][nr_u[link]], 0, sizeof(**u));
	pids[link][nr_u[link]] = pid;
	return &u[link][nr_u[link]++];
}

/* Every in_parent run of the set's pid, resolved: what it reads where. */
static int collect(struct img_dir *d, struct chain *c, pid_t pid, struct used **u,
		   size_t *nr_u, pid_t **pids)
{
	struct image *img;
	void *msg;
	int ret;
	char *name = img_name(IMG_PAGEMAP, pid);

	ret = faccessat(d->dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW);
	free(name);
	if (ret)
		return 0;	/* a zombie */
	img = img_open(d, IMG_PAGEMAP, pid);
	if (!img)
		return -1;
	while ((ret = img_read_msg(img, &msg)) > 0) {
		PagemapEntry *pe = msg;
		struct chain_piece *pc = NULL;
		size_t nr = 0;

		if (pe->in_parent &&
		    chain_resolve(c, 1, pid, pe->vaddr, pe->vaddr + (uint64_t)pe->nr_pages * PAGE_SIZE,
				  &pc, &nr))
			ret = -1;
		for (size_t i = 0; ret >= 0 && i < nr; i++) {
			struct used *x = used_of(u, nr_u, pids, pc[i].link, pid);

			x->r = xrealloc(x->r, (x->nr + 1) * sizeof(*x->r));
			x->r[x->nr][0] = pc[i].off;
			x->r[x->nr][1] = pc[i].off + (uint64_t)pc[i].nr_pages * PAGE_SIZE;
			x->nr++;
		}
		free(pc);
		protobuf_c_message_free_unpacked(msg, NULL);
		if (ret < 0)
			break;
	}
	img_close(img);
	return ret < 0 ? -1 : 0;
}

/* Holes where nothing of x is, in the data of the pages image at fd. */
static int punch(int fd, const char *path, struct used *x, uint64_t *freed)
{
	struct stat st;
	uint64_t at = 0, data;

	if (fstat(fd, &st)) {
		pr_perror("can't stat '%s'", path);
		return -1;
	}
	data = st.st_size - IMG_PAGES_OFF;
	if (x)
		qsort(x->r, x->nr, sizeof(*x->r), cmp_range);
	for (size_t i = 0; i <= (x ? x->nr : 0); i++) {
		uint64_t end = x && i < x->nr ? x->r[i][0] : data;

		if (end > at) {
			if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      IMG_PAGES_OFF + at, end - at)) {
				pr_perror("can't punch a hole in '%s'", path);
				return -1;
			}
			*freed += end - at;
		}
		if (x && i < x->nr && x->r[i][1] > at)
			at = x->r[i][1];
	}
	return 0;
}

/* Link l's inventory, rehashed and marked for the set id. */
static int rewrite_inventory(struct chain_link *l, const uint8_t id[IMG_ID_SIZE])
{
	struct image *img;

	l->inv->has_deduped_for = 1;
	l->inv->deduped_for.data = (uint8_t *)id;
	l->inv->deduped_for.len = IMG_ID_SIZE;
	img = img_create(&l->dir, IMG_INVENTORY, 0);
	if (!img || img_write_msg(img, &l->inv->base) || fsync(img->fd) ||
	    renameat(l->dir.dirfd, img->tmp_name, l->dir.dirfd, "inventory.img") ||
	    fsync(l->dir.dirfd)) {
		pr_perror("can't rewrite '%s/inventory.img'", l->path);
		if (img)
			unlinkat(l->dir.dirfd, img->tmp_name, 0);
		return -1;
	}
	free(img->tmp_name);
	img->tmp_name = NULL;
	return 0;
}

/* Link k: its pages images punched and rehashed, its inventory rewritten. */
static int dedup_link(struct chain_link *l, struct used *u, size_t nr_u, pid_t *pids,
		      const uint8_t id[IMG_ID_SIZE], uint64_t *freed)
{
	for (size_t i = 0; i < l->inv->n_files; i++) {
		ImageFile *f = l->inv->files[i];
		struct used *x = NULL;
		struct stat st;
		int pid, end = 0, fd, z;

		if (sscanf(f->name, "pages-%d.img%n", &pid, &end) != 1 || end != (int)strlen(f->name))
			continue;
		for (size_t k = 0; k < nr_u; k++)
			if (pids[k] == pid)
				x = &u[k];
		/*
		 * Through the link's own fd, never a symlink (checked as the
		 * chain was opened: checked again, it is this open that writes).
		 */
		fd = openat(l->dir.dirfd, f->name,
			    O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ELOOP)
				pr_err("image '%s/%s' is a symlink: images are never written through one",
				       l->path, f->name);
			else
				pr_perror("can't open '%s/%s'", l->path, f->name);
			return -1;
		}
		if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
			pr_err("image '%s/%s' is not a regular file: not written", l->path, f->name);
			close(fd);
			return -1;
		}
		if (st.st_nlink != 1) {
			pr_err("image '%s/%s' has %lu names (hard links): its holes would be theirs too; copy it, or the chain, with cp without -l",
			       l->path, f->name, (unsigned long)st.st_nlink);
			close(fd);
			return -1;
		}
		if (img_check_owner(&l->dir, "image", f->name, &st)) {
			close(fd);
			return -1;
		}
		z = zpages_is(fd);
		if (z) {
			/* Its runs are frames, not at their plain offsets: left whole. */
			pr_info("'%s/%s' is compressed: left as it is", l->path, f->name);
			close(fd);
			if (z < 0)
				return -1;
			continue;
		}
		if (punch(fd, f->name, x, freed) || fsync(fd) ||
		    fstat(fd, &st) || img_sha256_fd(fd, f->sha256.data)) {
			pr_perror("can't deduplicate '%s/%s'", l->path, f->name);
			close(fd);
			return -1;
		}
		f->size = st.st_size;
		close(fd);
		/*
		 * Killed from here to the new inventory, the link fails its old
		 * hashes: its chain is refused by name, never read with holes.
		 */
		fault_die("die-dedup-punched");
	}
	return rewrite_inventory(l, id);
}

int dedup_dir(const char *path, bool trust)
{
	struct img_dir d;
	struct chain c = {};
	struct image *inv_img;
	InventoryEntry *inv = NULL;
	struct used *u[CHAIN_MAX] = {};
	size_t nr_u[CHAIN_MAX] = {};
	pid_t *pids[CHAIN_MAX] = {};
	uint64_t freed = 0;
	void *msg = NULL;
	int ret = -1;

	if (img_dir_open(&d, path, false))
		return -1;
	/* As root, what dedup writes into is root's alone (as restore's). */
	d.check_owner = geteuid() == 0 && !trust;
	d.owner_writes = true;
	inv_img = img_open(&d, IMG_INVENTORY, 0);
	if (inv_img && img_read_msg(inv_img, &msg) > 0)
		inv = msg;
	if (!inv || img_verify_set(&d, inv_img, inv)) {
		pr_err("'%s' holds no sound checkpoint", path);
		goto out;
	}
	if (inv->has_deduped_for) {
		pr_err("'%s' was deduplicated for a later dump of its chain: deduplicate that one", path);
		goto out;
	}
	if (!inv->prev_dir) {
		pr_info("'%s' is no dump of a chain: nothing to deduplicate", path);
		ret = 0;
		goto out;
	}
	if (chain_open(&c, &d, inv, NULL, NULL, d.check_owner))
		goto out;
	for (int k = 1; k < c.nr; k++)
		if (!faccessat(c.link[k].dir.dirfd, "sign.img", F_OK, AT_SYMLINK_NOFOLLOW)) {
			pr_err("'%s' is signed (sign.img): deduplicating would change what its signature covers",
			       c.link[k].path);
			goto out;
		}
	for (size_t i = 0; i < inv->n_pids; i++)
		if (collect(&d, &c, inv->pids[i], u, nr_u, pids))
			goto out;
	for (int k = 1; k < c.nr; k++)
		if (dedup_link(&c.link[k], u[k], nr_u[k], pids[k], d.id, &freed))
			goto out;
	pr_info("'%s': %llu MiB of pages its chain's earlier dumps held for nothing given back",
		path, (unsigned long long)(freed >> 20));
	ret = 0;
out:
	for (int k = 0; k < CHAIN_MAX; k++) {
		for (size_t i = 0; i < nr_u[k]; i++)
			free(u[k][i].r);
		free(u[k]);
		free(pids[k]);
	}
	/* The links' inventories point at d.id: not freed by protobuf. */
	for (int k = 1; k < c.nr; k++)
		if (c.link[k].inv && c.link[k].inv->has_deduped_for) {
			c.link[k].inv->has_deduped_for = 0;
			c.link[k].inv->deduped_for.data = NULL;
			c.link[k].inv->deduped_for.len = 0;
		}
	chain_close(&c);
	if (inv)
		protobuf_c_message_free_unpacked(&inv->base, NULL);
	img_close(inv_img);
	img_dir_close(&d);
	return ret;
}

int cr_dedup(const struct options *opts)
{
	return dedup_dir(opts->dir, opts->trust_images) ? EXIT_FAIL : EXIT_OK;
}
