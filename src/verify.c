/*
 * crest verify: check a checkpoint without restoring it.
 *
 * Everything a restore reads before it creates a process is checked here,
 * and everything found is reported, not only the first problem: the
 * set's identity (the id in every header, the size and SHA-256 the
 * inventory gives each file, no file missing, none of another dump),
 * every record (length, crc32c, decoding as its kind), the processes the
 * inventory and pstree.img name and the images each needs, and the
 * crc32c of every run of pages, shared memory and pipe data.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arch.h"
#include "arch-crc.h"
#include "context.h"
#include "image.h"
#include "log.h"
#include "mem-zpages.h"
#include "opts.h"
#include "sign.h"
#include "util.h"
#include "verify.h"

#include "fdinfo.pb-c.h"
#include "mm.pb-c.h"
#include "pstree.pb-c.h"

#ifndef PAGE_SIZE
#define PAGE_SIZE	4096
#endif

struct verify {
	struct img_dir d;
	const InventoryEntry *inv;
	int problems;
	unsigned long records, runs, pages, bytes;
};

/* Is NAME one of the inventory's files (or the inventory)? Its index, or -1. */
static int listed(const struct verify *v, const char *name)
{
	for (size_t i = 0; i < v->inv->n_files; i++)
		if (!strcmp(v->inv->files[i]->name, name))
			return (int)i;
	return -1;
}

/* Every record of one image: counted, or a problem at its offset. */
static void *walk_records(struct verify *v, const char *name, enum img_kind kind,
			  void ***msgs, size_t *nr)
{
	struct image *img = img_open_path(v->d.dirfd, v->d.path, name, kind);
	void *msg;
	int ret;

	*msgs = NULL;
	*nr = 0;
	if (!img) {
		v->problems++;
		return NULL;
	}
	if (!img_descs[img->kind].msg)
		return img;		/* raw: the caller reads it */
	while ((ret = img_read_msg(img, &msg)) > 0) {
		v->records++;
		*msgs = xrealloc(*msgs, (*nr + 1) * sizeof(void *));
		(*msgs)[(*nr)++] = msg;
	}
	if (ret < 0)
		v->problems++;
	return img;
}

static void free_msgs(void **msgs, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		protobuf_c_message_free_unpacked(msgs[i], NULL);
	free(msgs);
}

/* Quietly: can NAME be opened and does it start with a good header? */
static bool header_ok(const struct verify *v, const char *name)
{
	unsigned char hdr[IMG_HDR_SIZE];
	uint8_t id[IMG_ID_SIZE];
	char why[128];
	uint32_t magic;
	int fd = openat(v->d.dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = pread(fd, hdr, sizeof(hdr), 0);
	close(fd);
	return n >= 0 && !img_check_header(hdr, n, &magic, id, why, sizeof(why));
}

/* The records of a kind that has no runs of data behind it. */
static void check_records(struct verify *v, const char *name)
{
	void **msgs;
	size_t nr;
	struct image *img = walk_records(v, name, IMG_NR_KINDS, &msgs, &nr);

	free_msgs(msgs, nr);
	img_close(img);
}

/* A raw image mapped read-only: its data from IMG_PAGES_OFF. */
static const uint8_t *map_raw(struct verify *v, const char *name, size_t *size,
			      struct image **imgp, PagemapEntry **runs, size_t nr_runs)
{
	void **msgs;
	size_t nr;
	struct image *img = walk_records(v, name, IMG_NR_KINDS, &msgs, &nr);
	void *p;

	*imgp = img;
	if (!img)
		return NULL;
	if (img_descs[img->kind].msg) {
		pr_err("image '%s' at offset 4: a kind of records, not of raw data", img->path);
		free_msgs(msgs, nr);
		v->problems++;
		return NULL;
	}
	/* A compressed pages image (dump --compress) is checked decompressed. */
	if (img->kind == IMG_PAGES && zpages_is(img->fd) == 1) {
		int plain = zpages_plain(img->fd, img->path, runs, nr_runs);
		struct stat st;

		if (plain < 0 || fstat(plain, &st)) {
			if (plain >= 0)
				close(plain);
			free_msgs(msgs, nr);
			v->problems++;
			/* Said once: its runs are not checked against nothing. */
			img_close(img);
			*imgp = NULL;
			return NULL;
		}
		close(img->fd);
		img->fd = plain;
		img->size = st.st_size;
	}
	*size = img->size;
	if (!img->size)
		return NULL;
	p = mmap(NULL, img->size, PROT_READ, MAP_PRIVATE, img->fd, 0);
	if (p == MAP_FAILED) {
		pr_perror("can't map image '%s'", img->path);
		v->problems++;
		return NULL;
	}
	return p;
}

/*
 * Runs of pages (PagemapEntry, vaddr an address or an offset) against the
 * raw image holding them back to back from IMG_PAGES_OFF. *off moves on.
 * A process's pages carry the parasite's page-wise sum (arch_crc32c_pages),
 * shared memory a plain crc32c.
 */
static int check_runs(struct verify *v, const char *pm_path, PagemapEntry **runs,
		      size_t nr, const uint8_t *data, size_t size, const char *data_path,
		      uint64_t *off, bool pagewise)
{
	int bad = 0;

	for (size_t i = 0; i < nr; i++) {
		const PagemapEntry *pe = runs[i];
		uint64_t len = (uint64_t)pe->nr_pages * PAGE_SIZE;

		v->runs++;
		v->pages += pe->nr_pages;
		if (pe->vaddr % PAGE_SIZE || !pe->nr_pages) {
			pr_err("image '%s': run %zu is bad (%#" PRIx64 " + %u pages)",
			       pm_path, i, pe->vaddr, pe->nr_pages);
			bad++;
			continue;
		}
		if (pe->inherited || pe->in_parent)
			continue;	/* the parent's, or an earlier dump's: no bytes here */
		if (*off + len > size) {
			pr_err("image '%s' is truncated at offset %" PRIu64
			       ": run %#" PRIx64 " + %u pages needs %" PRIu64 " bytes, %zu left",
			       data_path, *off, pe->vaddr, pe->nr_pages, len,
			       size > *off ? size - (size_t)*off : 0);
			bad++;
			*off = size;
			break;
		}
		if ((pagewise ? arch_crc32c_pages(data + *off, len) :
				arch_crc32c(0, data + *off, len)) != pe->crc) {
			pr_err("image '%s' is corrupt at offset %" PRIu64
			       ": the checksum of run %#" PRIx64 " + %u pages does not match '%s'",
			       data_path, *off, pe->vaddr, pe->nr_pages, pm_path);
			bad++;
		}
		*off += len;
		v->bytes += len;
	}
	v->problems += bad;
	return bad;
}

/* pagemap-PID.img and pages-PID.img of one process. */
static void check_pages(struct verify *v, pid_t pid)
{
	char *pm_name = img_name(IMG_PAGEMAP, pid), *pg_name = img_name(IMG_PAGES, pid);
	uint64_t off = IMG_PAGES_OFF;
	const uint8_t *data = NULL;
	struct image *pm, *pg = NULL;
	size_t nr, size = 0;
	void **runs;

	pm = walk_records(v, pm_name, IMG_PAGEMAP, &runs, &nr);
	if (pm)
		data = map_raw(v, pg_name, &size, &pg, (PagemapEntry **)runs, nr);
	if (pm && pg) {
		check_runs(v, pm->path, (PagemapEntry **)runs, nr, data ? data : (const uint8_t *)"",
			   size, pg->path, &off, true);
		if (off < size) {
			pr_err("image '%s' is %zu bytes, its pagemap accounts for %" PRIu64,
			       pg->path, size, off);
			v->problems++;
		}
	}
	if (data)
		munmap((void *)data, size);
	free_msgs(runs, nr);
	img_close(pm);
	img_close(pg);
	free(pm_name);
	free(pg_name);
}

/* shmem.img, shmem-pagemap.img and shmem-pages.img, one object after another. */
static void check_shmem(struct verify *v)
{
	void **objs = NULL, **runs = NULL;
	size_t nr_objs = 0, nr_runs = 0, size = 0, used = 0;
	struct image *sh, *pm = NULL, *pg = NULL;
	const uint8_t *data = NULL;
	uint64_t off = IMG_PAGES_OFF;

	if (listed(v, "shmem.img") < 0)
		return;
	sh = walk_records(v, "shmem.img", IMG_SHMEM, &objs, &nr_objs);
	pm = walk_records(v, "shmem-pagemap.img", IMG_SHMEM_PAGEMAP, &runs, &nr_runs);
	if (pm)
		data = map_raw(v, "shmem-pages.img", &size, &pg, NULL, 0);
	for (size_t i = 0; sh && pm && pg && i < nr_objs; i++) {
		const ShmemEntry *s = objs[i];
		uint64_t end = (s->size + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);

		if (s->nr_runs > nr_runs - used) {
			pr_err("image '%s' is truncated: shared memory %u lacks runs", pm->path, s->id);
			v->problems++;
			break;
		}
		for (size_t r = used; r < used + s->nr_runs; r++) {
			const PagemapEntry *pe = runs[r];

			if (pe->vaddr + (uint64_t)pe->nr_pages * PAGE_SIZE > end) {
				pr_err("image '%s': a run beyond the %" PRIu64 " bytes of shared memory %u",
				       pm->path, s->size, s->id);
				v->problems++;
			}
		}
		check_runs(v, pm->path, (PagemapEntry **)runs + used, s->nr_runs,
			   data ? data : (const uint8_t *)"", size, pg->path, &off, false);
		used += s->nr_runs;
	}
	if (pm && pg && used == nr_runs && off < size) {
		pr_err("image '%s' is %zu bytes, its pagemap accounts for %" PRIu64,
		       pg->path, size, off);
		v->problems++;
	}
	if (data)
		munmap((void *)data, size);
	free_msgs(objs, nr_objs);
	free_msgs(runs, nr_runs);
	img_close(sh);
	img_close(pm);
	img_close(pg);
}

/* pipes.img and the bytes each pipe held, in pipes-data.img. */
static void check_pipes(struct verify *v)
{
	void **pipes = NULL;
	size_t nr = 0, size = 0;
	struct image *pi, *pd = NULL;
	const uint8_t *data = NULL;
	uint64_t off = IMG_PAGES_OFF;

	if (listed(v, "pipes.img") < 0)
		return;
	pi = walk_records(v, "pipes.img", IMG_PIPES, &pipes, &nr);
	if (pi)
		data = map_raw(v, "pipes-data.img", &size, &pd, NULL, 0);
	for (size_t i = 0; pi && pd && i < nr; i++) {
		const PipeEntry *p = pipes[i];

		if (off + p->data_len > size) {
			pr_err("image '%s' is truncated at offset %" PRIu64 ": pipe %u holds %u bytes",
			       pd->path, off, p->id, p->data_len);
			v->problems++;
			break;
		}
		if (arch_crc32c(0, data + off, p->data_len) != p->crc) {
			pr_err("image '%s' is corrupt at offset %" PRIu64
			       ": the checksum of pipe %u's %u bytes does not match '%s'",
			       pd->path, off, p->id, p->data_len, pi->path);
			v->problems++;
		}
		off += p->data_len;
		v->bytes += p->data_len;
	}
	if (pi && pd && off < size) {
		pr_err("image '%s' is %zu bytes, '%s' accounts for %" PRIu64,
		       pd->path, size, pi->path, off);
		v->problems++;
	}
	if (data)
		munmap((void *)data, size);
	free_msgs(pipes, nr);
	img_close(pi);
	img_close(pd);
}

/* The processes: pstree.img against the inventory, and each one's images. */
static void check_tasks(struct verify *v)
{
	static const enum img_kind needs[] = { IMG_CORE, IMG_MM, IMG_PAGEMAP, IMG_PAGES,
					       IMG_FDINFO };
	void **tasks;
	size_t nr;
	struct image *img = walk_records(v, "pstree.img", IMG_PSTREE, &tasks, &nr);

	if (!img)
		return;
	img_close(img);
	if (nr != v->inv->n_pids) {
		pr_err("'%s/pstree.img' holds %zu processes, the inventory %zu",
		       v->d.path, nr, v->inv->n_pids);
		v->problems++;
	}
	for (size_t i = 0; i < nr; i++) {
		const PstreeEntry *pe = tasks[i];
		size_t j;

		for (j = 0; j < v->inv->n_pids; j++)
			if (v->inv->pids[j] == pe->pid)
				break;
		if (j == v->inv->n_pids) {
			pr_err("'%s/pstree.img' holds process %u, which the inventory does not list",
			       v->d.path, pe->pid);
			v->problems++;
		}
		if (pe->zombie)
			continue;
		for (j = 0; j < sizeof(needs) / sizeof(needs[0]); j++) {
			char *name = img_name(needs[j], pe->pid);

			if (listed(v, name) < 0) {
				pr_err("image '%s/%s' of process %u is not in the checkpoint",
				       v->d.path, name, pe->pid);
				v->problems++;
			}
			free(name);
		}
		for (j = 0; j < pe->n_own_files; j++) {
			char *name = img_name(IMG_FDINFO, pe->own_files[j]);

			if (listed(v, name) < 0) {
				pr_err("image '%s/%s' of thread %u of process %u is not in the checkpoint",
				       v->d.path, name, pe->own_files[j], pe->pid);
				v->problems++;
			}
			free(name);
		}
		/* Folded (crest dedup): holes where later links hold the pages. */
		if (!v->inv->has_deduped_for)
			check_pages(v, pe->pid);
	}
	free_msgs(tasks, nr);
}

static int verify_dir(const char *path, const char *shown,
		      const struct sign_key *key)
{
	struct verify v = { .problems = 0 };
	struct image *inv_img;
	char id[2 * IMG_ID_SIZE + 1], date[64];
	void *msg = NULL;
	time_t when;
	int ret;

	if (img_dir_open(&v.d, path, false))
		return EXIT_IMAGE;
	if (faccessat(v.d.dirfd, "inventory.img", F_OK, AT_SYMLINK_NOFOLLOW)) {
		pr_err("'%s' holds no complete checkpoint (no inventory.img): was the dump interrupted?",
		       shown);
		img_dir_close(&v.d);
		return EXIT_IMAGE;
	}
	inv_img = img_open_path(v.d.dirfd, v.d.path, "inventory.img", IMG_INVENTORY);
	ret = inv_img ? img_read_msg(inv_img, &msg) : -1;
	if (ret == 0)
		pr_err("image '%s/inventory.img' is empty", shown);
	if (ret <= 0) {
		img_close(inv_img);
		img_dir_close(&v.d);
		pr_err("'%s' can't be verified without its inventory", shown);
		return EXIT_IMAGE;
	}
	v.inv = msg;
	v.records = 1;
	img_id_str(inv_img->id, id);
	when = (time_t)v.inv->dump_time;
	if (!strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %Z", localtime(&when)))
		strcpy(date, "?");
	printf("checkpoint %s in '%s': %zu process%s (root %u), %zu files, dumped %s under Linux %s\n",
	       id, shown, v.inv->n_pids, v.inv->n_pids == 1 ? "" : "es", v.inv->root_pid,
	       v.inv->n_files + 1, date, v.inv->kernel);

	/* The key's, before the hashes the inventory gives mean anything. */
	if (key) {
		char *real = v.d.path;

		v.d.path = (char *)shown;
		if (sign_verify(&v.d, inv_img->buf, inv_img->size, key))
			v.problems++;
		else
			printf("  signature: the inventory is signed with the key given\n");
		v.d.path = real;
	} else if (!faccessat(v.d.dirfd, "sign.img", F_OK, AT_SYMLINK_NOFOLLOW)) {
		printf("  signed (sign.img), not checked: --verify-key KEY checks it\n");
	}
	if (v.inv->has_deduped_for) {
		char by[2 * IMG_ID_SIZE + 1] = "?";

		if (v.inv->deduped_for.len == IMG_ID_SIZE)
			img_id_str(v.inv->deduped_for.data, by);
		pr_err("'%s' was deduplicated (crest dedup) for the dump %s of its chain: it restores only as a link of that one; its pages are not checked run by run",
		       shown, by);
		v.problems++;
	}

	/* Identity: ids, sizes, hashes, none missing, none extra. */
	v.d.bad_files = xzalloc((v.inv->n_files + 1) * sizeof(bool));
	ret = img_verify_set(&v.d, inv_img, v.inv);
	img_close(inv_img);
	if (ret)
		v.problems += ret > 0 ? ret : 1;
	else
		printf("  identity: every file is this checkpoint's, with the inventory's size and SHA-256\n");

	/* Records and data, file by file, whatever the hashes said. */
	check_tasks(&v);
	check_shmem(&v);
	check_pipes(&v);
	for (size_t i = 0; i < v.inv->n_files; i++) {
		const char *name = v.inv->files[i]->name;

		if (!strncmp(name, "pagemap-", 8) || !strncmp(name, "pages-", 6) ||
		    !strcmp(name, "pstree.img") || !strncmp(name, "shmem", 5) ||
		    !strncmp(name, "pipes", 5))
			continue;	/* checked above */
		/* A changed file: where? One missing or without a header: said. */
		if (!v.d.bad_files[i] || header_ok(&v, name))
			check_records(&v, name);
	}
	printf("  %lu records, %lu runs of %lu pages and %lu bytes of data checked\n",
	       v.records, v.runs, v.pages, v.bytes);
	free(v.d.bad_files);
	v.d.bad_files = NULL;
	protobuf_c_message_free_unpacked(msg, NULL);
	img_dir_close(&v.d);
	if (v.problems) {
		printf("'%s': %d problem%s found: it would not restore\n", shown, v.problems,
		       v.problems == 1 ? "" : "s");
		return EXIT_IMAGE;
	}
	printf("'%s': no damage found\n", shown);
	return EXIT_OK;
}

/* One image file alone: its header and every record. */
static int verify_one_file(const char *path)
{
	char *copy = xstrdup(path), *slash = strrchr(copy, '/');
	const char *dir = ".", *name = copy;
	struct verify v = { .problems = 0 };
	int ret;

	if (slash) {
		*slash = 0;
		dir = slash == copy ? "/" : copy;
		name = slash + 1;
	}
	v.d.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	v.d.path = (char *)dir;
	if (v.d.dirfd < 0) {
		pr_perror("can't open '%s'", dir);
		free(copy);
		return EXIT_IMAGE;
	}
	check_records(&v, name);
	close(v.d.dirfd);
	if (v.problems)
		printf("'%s': damaged\n", path);
	else
		printf("'%s': header and %lu record%s intact (its set's identity and data are checked with the directory)\n",
		       path, v.records, v.records == 1 ? "" : "s");
	ret = v.problems ? EXIT_IMAGE : EXIT_OK;
	free(copy);
	return ret;
}

static int verify_path(const struct options *opts, const char *path,
		       const struct sign_key *key);

int cr_verify(const struct options *opts)
{
	const char *path = opts->show_path ? opts->show_path : opts->dir;
	struct sign_key *key = NULL;
	int ret;

	if (opts->verify_key) {
		key = xzalloc(sizeof(*key));
		if (sign_key_load(opts->verify_key, key)) {
			free(key);
			return EXIT_USAGE;
		}
	}
	ret = verify_path(opts, path, key);
	if (key) {
		sign_key_wipe(key);
		free(key);
	}
	return ret;
}

static int verify_path(const struct options *opts, const char *path,
		       const struct sign_key *key)
{
	struct stat st;
	int ret;

	if (opts->file || opts->fd >= 0 || (opts->show_path && context_is_file(path))) {
		struct options o = *opts;
		const char *shown;
		char *dir;

		if (!o.file && o.fd < 0)
			o.file = path;
		shown = o.fd >= 0 ? "(fd)" : strcmp(o.file, "-") ? o.file : "stdin";
		/* The stream's own framing and checksums are checked unpacking it. */
		dir = context_unpack(&o);
		if (!dir) {
			pr_err("context '%s' is damaged", shown);
			return EXIT_IMAGE;
		}
		ret = verify_dir(dir, shown, key);
		context_remove_dir(dir);
		free(dir);
		return ret;
	}
	if (lstat(path, &st)) {
		pr_perror("can't open '%s'", path);
		return EXIT_IMAGE;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (key) {
			pr_err("--verify-key checks a whole checkpoint: give its directory or context file, not '%s'",
			       path);
			return EXIT_USAGE;
		}
		return verify_one_file(path);
	}
	return verify_dir(path, path, key);
}
