#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "arch.h"
#include "image.h"
#include "log.h"
#include "mem-zpages.h"
#include "page-server.h"
#include "util.h"

#include "inventory.pb-c.h"
#include "pstree.pb-c.h"
#include "core.pb-c.h"
#include "mm.pb-c.h"
#include "fdinfo.pb-c.h"
#include "filelock.pb-c.h"
#include "notify.pb-c.h"
#include "pidfd.pb-c.h"
#include "sign.pb-c.h"
#include "sk-inet.pb-c.h"
#include "tty.pb-c.h"
#include "sk-netlink.pb-c.h"
#include "sk-packet.pb-c.h"
#include "ns.pb-c.h"
#include "cgroup.pb-c.h"
#include "mqueue.pb-c.h"

const struct img_desc img_descs[IMG_NR_KINDS] = {
	[IMG_INVENTORY]	= { "inventory.img", 0x49564e31, &inventory_entry__descriptor },
	[IMG_PSTREE]	= { "pstree.img", 0x50535431, &pstree_entry__descriptor },
	[IMG_CORE]	= { "core-%d.img", 0x434f5231, &core_entry__descriptor },
	[IMG_MM]	= { "mm-%d.img", 0x4d4d3031, &mm_entry__descriptor },
	[IMG_PAGEMAP]	= { "pagemap-%d.img", 0x504d5031, &pagemap_entry__descriptor },
	[IMG_PAGES]	= { "pages-%d.img", 0x50475331, NULL },
	[IMG_FDINFO]	= { "fdinfo-%d.img", 0x46444931, &fd_entry__descriptor },
	[IMG_FILES]	= { "files.img", 0x464c5331, &reg_file_entry__descriptor },
	[IMG_PIPES]	= { "pipes.img", 0x50495031, &pipe_entry__descriptor },
	[IMG_PIPES_DATA] = { "pipes-data.img", 0x50494431, NULL },
	[IMG_MEMFDS]	= { "memfds.img", 0x4d464431, &memfd_entry__descriptor },
	[IMG_SHMEM]	= { "shmem.img", 0x53484d31, &shmem_entry__descriptor },
	[IMG_SHMEM_PAGEMAP] = { "shmem-pagemap.img", 0x53504d31, &pagemap_entry__descriptor },
	[IMG_SHMEM_PAGES] = { "shmem-pages.img", 0x53504731, NULL },
	[IMG_ANONFILES] = { "anonfiles.img", 0x414e4631, &anon_file_entry__descriptor },
	[IMG_GHOST]	= { "ghost-%d.img", 0x47485331, NULL },	/* %d: file id */
	[IMG_FILE_LOCKS] = { "filelocks.img", 0x464c4b31, &file_lock_entry__descriptor },
	[IMG_UNIXSK]	= { "unixsk.img", 0x554e5831, &unix_sk_entry__descriptor },
	[IMG_INOTIFY]	= { "inotify.img", 0x494e4f31, &inotify_entry__descriptor },
	[IMG_PIDFDS]	= { "pidfds.img", 0x50494631, &pidfd_entry__descriptor },
	[IMG_FANOTIFY]	= { "fanotify.img", 0x46414e31, &fanotify_entry__descriptor },
	[IMG_SIGN]	= { "sign.img", 0x53494731, &sign_entry__descriptor },
	[IMG_INETSK]	= { "inetsk.img", 0x494e5331, &inet_sk_entry__descriptor },
	[IMG_TTYS]	= { "ttys.img", 0x54545931, &tty_entry__descriptor },
	[IMG_NETLINKSK] = { "netlinksk.img", 0x4e4c5331, &netlink_sk_entry__descriptor },
	[IMG_NAMESPACES] = { "namespaces.img", 0x4e534c31, &ns_entry__descriptor },
	[IMG_UTSNS]	= { "utsns-%d.img", 0x55545331, &uts_ns_entry__descriptor },	/* %d: ns id */
	[IMG_IPCNS]	= { "ipcns-%d.img", 0x49504331, &ipc_ns_entry__descriptor },
	[IMG_IPCOBJS]	= { "ipcobjs-%d.img", 0x49504f31, &ipc_obj_entry__descriptor },
	[IMG_MNTNS]	= { "mntns-%d.img", 0x4d4e5431, &mnt_entry__descriptor },
	[IMG_TMPFS]	= { "tmpfs-%d.img", 0x544d5031, &tmpfs_file__descriptor },	/* %d: tmpfs id */
	[IMG_PACKETSK] = { "packetsk.img", 0x504b5331, &packet_sk_entry__descriptor },
	[IMG_NETNS]	= { "netns-%d.img", 0x4e455431, &net_ns_entry__descriptor },
	[IMG_TIMENS]	= { "timens-%d.img", 0x54494d31, &time_ns_entry__descriptor },
	[IMG_USERNS]	= { "userns-%d.img", 0x55534e31, &user_ns_entry__descriptor },
	[IMG_CGROUPS]	= { "cgroups.img", 0x43475231, &cgroup_dir_entry__descriptor },
	[IMG_MQUEUES]	= { "mqueues.img", 0x4d514631, &mq_fd_entry__descriptor },
};

const struct img_desc *img_desc_by_magic(uint32_t magic)
{
	for (int i = 0; i < IMG_NR_KINDS; i++)
		if (img_descs[i].magic == magic)
			return &img_descs[i];
	return NULL;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}

static uint32_t get32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

void img_make_header(unsigned char hdr[IMG_HDR_SIZE], uint32_t magic,
		     const uint8_t id[IMG_ID_SIZE])
{
	put32(hdr, IMG_COMMON_MAGIC);
	put32(hdr + 4, magic);
	put32(hdr + 8, IMG_VERSION);
	memcpy(hdr + 12, id, IMG_ID_SIZE);
	put32(hdr + 28, arch_crc32c(0, hdr, 28));
}

int img_check_header(const unsigned char *buf, size_t len, uint32_t *magic,
		     uint8_t *id, char *why, size_t whylen)
{
	if (len < 12) {
		snprintf(why, whylen, "too short for an image header (%zu bytes)", len);
		return -1;
	}
	if (get32(buf) != IMG_COMMON_MAGIC) {
		snprintf(why, whylen, "not a crest image (bad magic)");
		return -1;
	}
	/* The version first: an older header is shorter, its checksum elsewhere. */
	if (get32(buf + 8) != IMG_VERSION) {
		snprintf(why, whylen, "image version %u, this crest reads version %u (dump again with this crest)",
			 get32(buf + 8), (unsigned int)IMG_VERSION);
		return -1;
	}
	if (len < IMG_HDR_SIZE) {
		snprintf(why, whylen, "too short for an image header (%zu bytes)", len);
		return -1;
	}
	if (get32(buf + 28) != arch_crc32c(0, buf, 28)) {
		snprintf(why, whylen, "header checksum mismatch");
		return -1;
	}
	*magic = get32(buf + 4);
	if (id)
		memcpy(id, buf + 12, IMG_ID_SIZE);
	return 0;
}

void img_id_str(const uint8_t id[IMG_ID_SIZE], char buf[2 * IMG_ID_SIZE + 1])
{
	for (int i = 0; i < IMG_ID_SIZE; i++)
		sprintf(buf + 2 * i, "%02x", id[i]);
}

/* SHA-256 of the whole file from offset 0 (pread: the offset stays). */
int img_sha256_fd(int fd, uint8_t out[IMG_HASH_SIZE])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	size_t bsz = 1 << 20;
	unsigned char *buf = xzalloc(bsz);
	unsigned int olen = 0;
	off_t off = 0;
	int ret = -1;
	ssize_t n;

	if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL))
		goto out;
	while ((n = pread(fd, buf, bsz, off)) > 0) {
		if (!EVP_DigestUpdate(c, buf, n))
			goto out;
		off += n;
	}
	if (n < 0 || !EVP_DigestFinal_ex(c, out, &olen) || olen != IMG_HASH_SIZE)
		goto out;
	ret = 0;
out:
	if (ret && n >= 0)
		errno = EINVAL;
	EVP_MD_CTX_free(c);
	free(buf);
	return ret;
}

/* A listing of the images directory, through our own fd; NULL if none. */
static DIR *img_dir_list(struct img_dir *d)
{
	int fd = openat(d->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir;

	if (fd < 0)
		return NULL;
	dir = fdopendir(fd);
	if (!dir)
		close(fd);
	return dir;
}

/*
 * Temporaries of a dump that was interrupted (crest killed): the next dump
 * removes them. unlinkat() removes a symlink itself, never what it names.
 */
static void remove_stale_tmps(struct img_dir *d)
{
	DIR *dir = img_dir_list(d);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] != '.' || len < 6 ||
		    strcmp(de->d_name + len - 4, ".tmp") ||
		    de->d_type == DT_DIR)
			continue;
		if (!unlinkat(d->dirfd, de->d_name, 0))
			pr_debug("removed '%s/%s', left by an interrupted dump",
				 d->path, de->d_name);
	}
	closedir(dir);
}

int img_dir_open(struct img_dir *d, const char *path, bool create)
{
	memset(d, 0, sizeof(*d));
	if (create && mkdir(path, 0700) && errno != EEXIST) {
		pr_perror("can't create image directory '%s'", path);
		return -1;
	}
	/* Every image is made through this fd: a symlink here is refused. */
	d->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d->dirfd < 0) {
		if (errno == ELOOP || errno == ENOTDIR)
			pr_err("image directory '%s' is a symlink or not a directory", path);
		else
			pr_perror("can't open image directory '%s'", path);
		return -1;
	}
	d->path = xstrdup(path);
	d->fs_path = xstrdup(path);
	if (create) {
		/* One dump at a time in a directory: its temporaries are ours. */
		if (flock(d->dirfd, LOCK_EX | LOCK_NB)) {
			if (errno == EWOULDBLOCK)
				pr_err("another dump is writing into '%s'", path);
			else
				pr_perror("can't lock image directory '%s'", path);
			close(d->dirfd);
			d->dirfd = -1;
			free(d->path);
			free(d->fs_path);
			d->path = d->fs_path = NULL;
			return -1;
		}
		remove_stale_tmps(d);
		/* The new set's identity: every file of it carries it. */
		if (getrandom(d->id, IMG_ID_SIZE, 0) != IMG_ID_SIZE) {
			pr_perror("can't get a random id for the image set");
			img_dir_close(d);
			return -1;
		}
		d->have_id = true;
	}
	return 0;
}

void img_dir_close(struct img_dir *d)
{
	for (int i = 0; i < d->nr_written; i++)
		img_close(d->written[i]);
	free(d->written);
	d->written = NULL;
	d->nr_written = 0;
	ps_disconnect(d->ps);
	d->ps = NULL;
	if (d->dirfd >= 0)
		close(d->dirfd);
	d->dirfd = -1;
	free(d->path);
	free(d->fs_path);
	d->path = d->fs_path = NULL;
}

char *img_name(enum img_kind kind, pid_t pid)
{
	return xsprintf(img_descs[kind].name, pid);
}

static void img_add_written(struct img_dir *d, struct image *img)
{
	d->written = xrealloc(d->written, (d->nr_written + 1) * sizeof(img));
	d->written[d->nr_written++] = img;
}

/* A pages image the page server writes (its header too): fd is the socket. */
static struct image *img_create_remote(struct img_dir *d, struct image *img)
{
	img->path = xsprintf("%s (page server %s)", img->name, ps_where(d->ps));
	img->fd = -1;
	img->ps = d->ps;
	if (ps_open(d->ps, img->name, &img->ps_handle))
		goto err;
	img->fd = fcntl(ps_sock(d->ps), F_DUPFD_CLOEXEC, 0);
	if (img->fd < 0) {
		pr_perror("can't dup the page server's socket");
		goto err;
	}
	img->off = IMG_PAGES_OFF;
	img_add_written(d, img);
	return img;
err:
	img_close(img);
	return NULL;
}

int img_raw_begin(struct image *img, uint64_t len)
{
	if (!img->ps_handle || !len)
		return 0;
	return ps_data(img->ps, img->ps_handle, len);
}

int img_raw_sync(struct image *img)
{
	return img->ps_handle ? ps_sync(img->ps) : 0;
}

struct image *img_create(struct img_dir *d, enum img_kind kind, pid_t pid)
{
	struct image *img = xzalloc(sizeof(*img));
	unsigned char hdr[IMG_PAGES_OFF] = {};
	size_t hlen = IMG_HDR_SIZE;

	img->kind = kind;
	img->name = img_name(kind, pid);
	img->tmp_name = xsprintf(".%s.tmp", img->name);
	if (d->ps && kind == IMG_PAGES)
		return img_create_remote(d, img);
	img->path = xsprintf("%s/%s", d->path, img->name);
	/*
	 * Never through a name someone else put there: a stale temporary
	 * (or a planted symlink) is removed, then the file must be new.
	 */
	if (unlinkat(d->dirfd, img->tmp_name, 0) && errno != ENOENT) {
		pr_perror("can't remove '%s/%s'", d->path, img->tmp_name);
		goto err;
	}
	img->fd = openat(d->dirfd, img->tmp_name,
			 O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (img->fd < 0) {
		pr_perror("can't create image '%s/%s'", d->path, img->tmp_name);
		goto err;
	}
	BUG_ON(!d->have_id);
	img_make_header(hdr, img_descs[kind].magic, d->id);
	if (!img_descs[kind].msg)
		hlen = IMG_PAGES_OFF;	/* raw data starts page-aligned */
	if (write_all(img->fd, hdr, hlen)) {
		pr_perror("can't write image '%s'", img->path);
		close(img->fd);
		unlinkat(d->dirfd, img->tmp_name, 0);
		goto err;
	}
	img->off = hlen;
	img_add_written(d, img);
	return img;
err:
	free(img->name);
	free(img->tmp_name);
	free(img->path);
	free(img);
	return NULL;
}

int img_write_msg(struct image *img, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	unsigned char *buf = xzalloc(len + 8);
	int ret = 0;

	protobuf_c_message_pack(msg, buf + 8);
	put32(buf, len);
	put32(buf + 4, arch_crc32c(0, buf + 8, len));
	if (fault("image-write")) {
		errno = EIO;
		pr_perror("can't write image '%s' (fault injected)", img->path);
		ret = -1;
	} else if (write_all(img->fd, buf, len + 8)) {
		pr_perror("can't write image '%s'", img->path);
		ret = -1;
	}
	img->off += len + 8;
	free(buf);
	return ret;
}

static bool is_image_name(const char *name);

/*
 * Images of an earlier set that the new one does not replace (a process
 * that is gone): restore would refuse them as another checkpoint's.
 * Only crest images (their magic) are removed.
 */
static void remove_stale_images(struct img_dir *d)
{
	DIR *dir = img_dir_list(d);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		unsigned char magic[4];
		bool ours = false;
		int i, f;

		if (!is_image_name(de->d_name) || !strcmp(de->d_name, "inventory.img"))
			continue;
		/* A pages image the page server has: the one here is the old set's. */
		for (i = 0; i < d->nr_written; i++)
			if (!d->written[i]->ps_handle && !strcmp(d->written[i]->name, de->d_name))
				break;
		if (i < d->nr_written)
			continue;
		f = openat(d->dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (f >= 0) {
			ours = pread(f, magic, 4, 0) == 4 && get32(magic) == IMG_COMMON_MAGIC;
			close(f);
		}
		if (ours && !unlinkat(d->dirfd, de->d_name, 0))
			pr_debug("removed '%s/%s' of the earlier checkpoint", d->path, de->d_name);
	}
	closedir(dir);
}

int img_commit_set(struct img_dir *d)
{
	struct image *inv = NULL;
	int i;

	/* Everything but the inventory reaches the disk first... */
	for (i = 0; i < d->nr_written; i++) {
		struct image *img = d->written[i];

		if (img->kind == IMG_INVENTORY) {
			inv = img;
			continue;
		}
		if (img->ps_handle)
			continue;	/* synced by the page server at its CLOSE */
		if (!d->nosync && fsync(img->fd)) {
			pr_perror("can't sync image '%s'", img->path);
			return -1;
		}
	}
	BUG_ON(!inv);
	/* ...the old set stops being complete, the new files move in... */
	if (unlinkat(d->dirfd, "inventory.img", 0) && errno != ENOENT) {
		pr_perror("can't replace '%s/inventory.img'", d->path);
		return -1;
	}
	for (i = 0; i < d->nr_written; i++) {
		struct image *img = d->written[i];

		if (img == inv || img->ps_handle)
			continue;
		if (renameat(d->dirfd, img->tmp_name, d->dirfd, img->name)) {
			pr_perror("can't move image '%s' in place", img->path);
			return -1;
		}
	}
	if (!d->nosync && fsync(d->dirfd)) {
		pr_perror("can't sync image directory '%s'", d->path);
		return -1;
	}
	/* ...the old set's files the new one does not replace go... */
	remove_stale_images(d);
	/* ...and the inventory, last, makes the new set complete. */
	if (fault("commit-inventory") || (!d->nosync && fsync(inv->fd)) ||
	    renameat(d->dirfd, inv->tmp_name, d->dirfd, inv->name) ||
	    (!d->nosync && fsync(d->dirfd))) {
		pr_perror("can't put '%s' in place", inv->path);
		return -1;
	}
	/*
	 * The page server's files go in place last: if they can't, the
	 * set here is made incomplete again, and the server removes its
	 * part once the connection closes without a commit.
	 */
	if (d->ps && ps_commit(d->ps)) {
		if (unlinkat(d->dirfd, "inventory.img", 0))
			pr_perror("can't remove '%s' of the set the page server did not commit",
				  inv->path);
		return -1;
	}
	for (i = 0; i < d->nr_written; i++) {
		free(d->written[i]->tmp_name);
		d->written[i]->tmp_name = NULL;
	}
	return 0;
}

void img_abort_set(struct img_dir *d)
{
	ps_abort(d->ps);
	for (int i = 0; i < d->nr_written; i++)
		if (d->written[i]->tmp_name)
			unlinkat(d->dirfd, d->written[i]->tmp_name, 0);
}

struct image *img_open_path(int dirfd, const char *dir, const char *name,
			    enum img_kind expect)
{
	struct image *img = xzalloc(sizeof(*img));
	const struct img_desc *desc;
	unsigned char hdr[IMG_HDR_SIZE];
	char why[128];
	uint32_t magic;
	struct stat st;
	ssize_t n;

	img->path = xsprintf("%s/%s", dir, name);
	img->name = xstrdup(name);
	img->fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (img->fd < 0) {
		pr_perror("can't open image '%s'", img->path);
		goto err;
	}
	if (fstat(img->fd, &st)) {
		pr_perror("can't stat image '%s'", img->path);
		goto err;
	}
	n = pread(img->fd, hdr, sizeof(hdr), 0);
	if (n < 0) {
		pr_perror("can't read image '%s'", img->path);
		goto err;
	}
	if (img_check_header(hdr, n, &magic, img->id, why, sizeof(why))) {
		pr_err("image '%s' at offset 0: %s", img->path, why);
		goto err;
	}
	desc = img_desc_by_magic(magic);
	if (!desc || (expect != IMG_NR_KINDS && desc != &img_descs[expect])) {
		pr_err("image '%s' at offset 4: unexpected kind (magic %#x)",
		       img->path, magic);
		goto err;
	}
	img->kind = desc - img_descs;
	img->size = st.st_size;
	if (!desc->msg) {
		if (st.st_size < IMG_PAGES_OFF) {
			pr_err("image '%s' is truncated: %lld bytes, data starts at %d",
			       img->path, (long long)st.st_size, IMG_PAGES_OFF);
			goto err;
		}
		img->off = IMG_PAGES_OFF;
		return img;
	}
	img->buf = xzalloc(st.st_size + 1);
	if (pread(img->fd, img->buf, st.st_size, 0) != st.st_size) {
		pr_perror("can't read image '%s'", img->path);
		goto err;
	}
	close(img->fd);
	img->fd = -1;
	img->off = IMG_HDR_SIZE;
	return img;
err:
	img_close(img);
	return NULL;
}

struct image *img_open(struct img_dir *d, enum img_kind kind, pid_t pid)
{
	char *name = img_name(kind, pid);
	struct image *img = img_open_path(d->dirfd, d->path, name, kind);

	free(name);
	if (img && d->have_id && memcmp(img->id, d->id, IMG_ID_SIZE)) {
		pr_err("image '%s' belongs to another checkpoint (its id is not the inventory's)",
		       img->path);
		img_close(img);
		return NULL;
	}
	return img;
}

int img_read_msg(struct image *img, void **msg)
{
	const ProtobufCMessageDescriptor *desc = img_descs[img->kind].msg;
	size_t left = img->size - img->off;
	uint32_t len;

	*msg = NULL;
	if (left == 0)
		return 0;
	if (left < 8) {
		pr_err("image '%s' is truncated at offset %zu (a record header needs 8 bytes, %zu left)",
		       img->path, img->off, left);
		return -1;
	}
	len = get32(img->buf + img->off);
	if (len > IMG_MAX_RECORD || len > left - 8) {
		pr_err("image '%s' is truncated or corrupt at offset %zu (record of %u bytes, %zu left)",
		       img->path, img->off, len, left - 8);
		return -1;
	}
	if (get32(img->buf + img->off + 4) !=
	    arch_crc32c(0, img->buf + img->off + 8, len)) {
		pr_err("image '%s' is corrupt at offset %zu: record checksum mismatch",
		       img->path, img->off);
		return -1;
	}
	*msg = protobuf_c_message_unpack(desc, NULL, len, img->buf + img->off + 8);
	if (!*msg) {
		pr_err("image '%s' is corrupt at offset %zu: record does not decode as %s",
		       img->path, img->off, desc->name);
		return -1;
	}
	img->off += 8 + len;
	return 1;
}

void *img_read_one(struct img_dir *d, enum img_kind kind, pid_t pid)
{
	struct image *img = img_open(d, kind, pid);
	void *msg = NULL;
	int ret;

	if (!img)
		return NULL;
	ret = img_read_msg(img, &msg);
	if (ret == 0)
		pr_err("image '%s' is empty", img->path);
	img_close(img);
	return ret > 0 ? msg : NULL;
}

void img_close(struct image *img)
{
	if (!img)
		return;
	if (img->fd >= 0)
		close(img->fd);
	free(img->buf);
	free(img->path);
	free(img->name);
	free(img->tmp_name);
	free(img);
}

int img_list_files(struct img_dir *d, InventoryEntry *inv)
{
	inv->files = xzalloc((d->nr_written + 1) * sizeof(*inv->files));
	inv->n_files = 0;
	for (int i = 0; i < d->nr_written; i++) {
		struct image *img = d->written[i];
		ImageFile *f;
		struct stat st;

		if (img->kind == IMG_INVENTORY)
			continue;
		f = xzalloc(sizeof(*f));
		image_file__init(f);
		inv->files[inv->n_files++] = f;
		f->name = img->name;
		f->sha256.data = xzalloc(IMG_HASH_SIZE);
		f->sha256.len = IMG_HASH_SIZE;
		if (img->ps_handle) {
			/* The server's size and hash of what it wrote. */
			f->has_page_server = f->page_server = 1;
			if (ps_close(img->ps, img->ps_handle, &f->size, f->sha256.data))
				return -1;
			continue;
		}
		if (fstat(img->fd, &st) || img_sha256_fd(img->fd, f->sha256.data)) {
			pr_perror("can't hash image '%s'", img->path);
			return -1;
		}
		f->size = st.st_size;
	}
	return 0;
}

void img_free_list(InventoryEntry *inv)
{
	for (size_t i = 0; i < inv->n_files; i++) {
		free(inv->files[i]->sha256.data);
		free(inv->files[i]);
	}
	free(inv->files);
	inv->files = NULL;
	inv->n_files = 0;
}

static bool is_image_name(const char *name)
{
	size_t len = strlen(name);

	return name[0] != '.' && len > 4 && !strcmp(name + len - 4, ".img");
}

/*
 * As root, images someone else owns or could have written are another
 * user's code and credentials (restore runs them), or another user's
 * choice of what root writes to (dedup): refused unless --trust-images.
 */
int img_check_owner(const struct img_dir *d, const char *what, const char *name,
		    const struct stat *st)
{
	const char *why = d->owner_writes ?
		"a dedup as root punches and rewrites images" :
		"a restore as root runs what images hold";

	if (!d->check_owner)
		return 0;
	if (st->st_uid != geteuid()) {
		pr_err("%s '%s%s%s' is owned by uid %u: %s; %s only images root owns, or give --trust-images",
		       what, d->path, name ? "/" : "", name ? name : "",
		       (unsigned)st->st_uid, why,
		       d->owner_writes ? "deduplicate" : "restore");
		return -1;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		pr_err("%s '%s%s%s' is writable by %s: %s; make it writable by root only, or give --trust-images",
		       what, d->path, name ? "/" : "", name ? name : "",
		       st->st_mode & S_IWOTH ? "others" : "its group", why);
		return -1;
	}
	return 0;
}

static int verify_file(struct img_dir *d, const ImageFile *f)
{
	unsigned char hdr[IMG_HDR_SIZE];
	uint8_t hash[IMG_HASH_SIZE];
	uint8_t id[IMG_ID_SIZE];
	char why[128];
	uint32_t magic;
	struct stat st;
	int fd, ret = -1;
	ssize_t n;

	if (!is_image_name(f->name) || strchr(f->name, '/')) {
		pr_err("the inventory of '%s' lists a bad file name '%s'", d->path, f->name);
		return -1;
	}
	fd = openat(d->dirfd, f->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT && f->page_server && d->pages_elsewhere_ok) {
			pr_debug("'%s/%s' is on the page server the dump sent it to", d->path,
				 f->name);
			return 0;
		}
		if (errno == ENOENT && f->page_server)
			pr_err("image '%s/%s' is missing: the dump sent it to a page server; copy it here from the page server's directory",
			       d->path, f->name);
		else if (errno == ENOENT)
			pr_err("image '%s/%s' is missing: the inventory lists it", d->path, f->name);
		else if (errno == ELOOP)
			pr_err("image '%s/%s' is a symlink: images are never read through one",
			       d->path, f->name);
		else
			pr_perror("can't open image '%s/%s'", d->path, f->name);
		return -1;
	}
	if (fstat(fd, &st)) {
		pr_perror("can't stat image '%s/%s'", d->path, f->name);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		pr_err("image '%s/%s' is not a regular file", d->path, f->name);
		goto out;
	}
	if (img_check_owner(d, "image", f->name, &st))
		goto out;
	n = pread(fd, hdr, sizeof(hdr), 0);
	if (n < 0) {
		pr_perror("can't read image '%s/%s'", d->path, f->name);
		goto out;
	}
	if (img_check_header(hdr, n, &magic, id, why, sizeof(why))) {
		pr_err("image '%s/%s' at offset 0: %s", d->path, f->name, why);
		goto out;
	}
	if (memcmp(id, d->id, IMG_ID_SIZE)) {
		char a[2 * IMG_ID_SIZE + 1], b[2 * IMG_ID_SIZE + 1];

		img_id_str(id, a);
		img_id_str(d->id, b);
		pr_err("image '%s/%s' belongs to another checkpoint (id %s, the inventory's %s)",
		       d->path, f->name, a, b);
		goto out;
	}
	if ((uint64_t)st.st_size != f->size) {
		pr_err("image '%s/%s' is %lld bytes, the inventory says %llu: it was changed after the dump",
		       d->path, f->name, (long long)st.st_size,
		       (unsigned long long)f->size);
		goto out;
	}
	/* Compressed, it is read through a memfd: hashed now, as it is. */
	if (d->defer_pages_hash && !strncmp(f->name, "pages-", 6) && zpages_is(fd) != 1) {
		ret = 0;	/* src/lazy.c hashes it as the tree runs */
		goto out;
	}
	if (img_sha256_fd(fd, hash)) {
		pr_perror("can't read image '%s/%s'", d->path, f->name);
		goto out;
	}
	if (f->sha256.len != IMG_HASH_SIZE || memcmp(hash, f->sha256.data, IMG_HASH_SIZE)) {
		pr_err("image '%s/%s' was changed after the dump (its SHA-256 is not the inventory's)",
		       d->path, f->name);
		goto out;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

int img_verify_set(struct img_dir *d, struct image *inv_img,
		   const InventoryEntry *inv)
{
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int fd, ret = 0;

	if (d->check_owner) {
		if (fstat(d->dirfd, &st)) {
			pr_perror("can't stat '%s'", d->path);
			return -1;
		}
		if (img_check_owner(d, "image directory", NULL, &st))
			return -1;
		if (fstatat(d->dirfd, "inventory.img", &st, AT_SYMLINK_NOFOLLOW)) {
			pr_perror("can't stat '%s/inventory.img'", d->path);
			return -1;
		}
		if (img_check_owner(d, "image", "inventory.img", &st))
			return -1;
	}
	memcpy(d->id, inv_img->id, IMG_ID_SIZE);
	d->have_id = true;
	for (size_t i = 0; i < inv->n_files; i++)
		if (verify_file(d, inv->files[i])) {
			if (!d->bad_files)
				return -1;
			d->bad_files[i] = true;
			ret++;
		}
	/* Nothing of another dump may sit among the set's files. */
	fd = openat(d->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(dir = fdopendir(fd))) {
		pr_perror("can't list image directory '%s'", d->path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(dir))) {
		size_t i;

		/* sign.img is over the inventory, not in it (sign.c checks it). */
		if (!is_image_name(de->d_name) || !strcmp(de->d_name, "inventory.img") ||
		    !strcmp(de->d_name, "sign.img"))
			continue;
		for (i = 0; i < inv->n_files; i++)
			if (!strcmp(inv->files[i]->name, de->d_name))
				break;
		if (i == inv->n_files) {
			pr_err("image '%s/%s' belongs to another checkpoint (its inventory does not list it)",
			       d->path, de->d_name);
			if (!d->bad_files) {
				ret = -1;
				break;
			}
			ret++;
		}
	}
	closedir(dir);
	return ret;
}
