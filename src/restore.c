/*
 * crest restore: read and check everything, open every shared object once,
 * then create the tree: crest creates the roots, each task creates its own
 * children (so parents are right) and rebuilds itself through the
 * restorer, under crest's ptrace. Last, crest puts every task's registers
 * back and lets them all go. Nothing is created before the checks pass; a
 * failure kills whatever was created.
 *
 *   crest ──clone3──> root ──clone3──> child ...     (each: "created")
 *   crest: seize, "go" (1)  -> setsid / own group, create children
 *   crest: all exist, "go" (2) -> join groups, fds, restorer, int3
 *   crest: registers, detach all
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arch.h"
#include "check.h"
#include "context.h"
#include "files-lock.h"
#include "image.h"
#include "lazy.h"
#include "log.h"
#include "net-lock.h"
#include "mem-premap.h"
#include "mem-zpages.h"
#include "namespaces.h"
#include "opts.h"
#include "page-server.h"
#include "parasite.h"
#include "proc.h"
#include "progress.h"
#include "reloc.h"
#include "restore.h"
#include "cgroup.h"
#include "restore-task.h"
#include "restore-stop.h"
#include "seize.h"
#include "task.h"
#include "timers.h"
#include "task-attrs.h"
#include "tty.h"
#include "util.h"

#include "creds.h"
#include "sign.h"
#include "swrk.h"
#include "inventory.pb-c.h"
#include "restorer-blob.h"

/*
 * The watchdog: no stage of a restore (creating the tree, the restorers,
 * the last steps) may take longer than this. A task that stops, traps or
 * spins where it should not fails the whole restore, named, instead of
 * leaving crest in wait4 forever with the task holding its PID.
 */
#define RESTORE_TIMEOUT_MS	60000

/* CREST_RESTORE_TIMEOUT_MS: a shorter one, for the test suite. */
static int restore_timeout_ms(void)
{
	const char *env = getenv("CREST_RESTORE_TIMEOUT_MS");
	int ms = env ? atoi(env) : 0;

	return ms > 0 ? ms : RESTORE_TIMEOUT_MS;
}

struct restore_ctx {
	const struct options *opts;
	struct img_dir dir;
	InventoryEntry *inv;
	struct restore_task *tasks;
	int nr;
	struct restore_files files;
	struct restore_shared sh;
	int report_rfd;
	int exit_code;
	struct chain chain;		/* the earlier dumps of a chain */
	int *own_fds;			/* crest's fds before the restore */
	int nr_own_fds;
	int problems;			/* checks failed so far (--check-only goes on) */
	struct sign_key key;		/* --verify-key; len 0: none */
	struct ns_restore ns;		/* the tree's namespaces */
	pid_t lazy_pid;			/* --lazy-pages: the server (lazy.c); 0: none */
	struct ps_conn *ps;		/* --page-server: where pages images are */
	struct cgroup_restore cg;	/* the tree's cgroups (cgroup.c) */
};

static struct restore_task *task_by_pid(struct restore_ctx *ctx, pid_t pid)
{
	for (int i = 0; i < ctx->nr; i++)
		if ((pid_t)ctx->tasks[i].pe->pid == pid)
			return &ctx->tasks[i];
	return NULL;
}

static void add_run(struct restore_task *t, PagemapEntry *pe, uint64_t off, int file,
		    bool nocrc)
{
	size_t n = t->nr_runs + 1;

	t->runs = xrealloc(t->runs, n * sizeof(pe));
	t->run_off = xrealloc(t->run_off, n * sizeof(uint64_t));
	t->run_file = xrealloc(t->run_file, n);
	t->run_nocrc = xrealloc(t->run_nocrc, n);
	t->run_off[t->nr_runs] = off;
	t->run_file[t->nr_runs] = (uint8_t)file;
	t->run_nocrc[t->nr_runs] = nocrc;
	t->runs[t->nr_runs++] = pe;
}

/* An in_parent run: the pieces of it each earlier dump of the chain holds. */
static int add_parent_runs(struct restore_ctx *ctx, struct restore_task *t,
			   const PagemapEntry *pe)
{
	struct chain_piece *pc = NULL;
	size_t nr = 0;
	pid_t pid = t->pe->pid;

	if (chain_resolve(&ctx->chain, 1, pid, pe->vaddr,
			  pe->vaddr + (uint64_t)pe->nr_pages * PAGE_SIZE, &pc, &nr)) {
		free(pc);
		return -1;
	}
	for (size_t i = 0; i < nr; i++) {
		PagemapEntry *r = xzalloc(sizeof(*r));

		pagemap_entry__init(r);
		r->vaddr = pc[i].vaddr;
		r->nr_pages = pc[i].nr_pages;
		r->crc = pc[i].crc;
		if (!t->pages_paths[pc[i].link]) {
			t->pages_paths[pc[i].link] = chain_pages_path(&ctx->chain, pc[i].link, pid);
			if (!t->pages_paths[pc[i].link]) {
				free(pc);
				return -1;
			}
		}
		add_run(t, r, pc[i].off, pc[i].link, !pc[i].has_crc);
	}
	free(pc);
	return 0;
}


/*
 * restore --lazy-pages --page-server: pid's pages image is on the page
 * server if the dump sent it there and it is not here. 1: it is (the
 * sizes agree; t->pages_remote set, or -1 returned by the caller if they
 * do not), 0: read it here.
 */
static int pages_remote(struct restore_ctx *ctx, struct restore_task *t)
{
	char *name = img_name(IMG_PAGES, t->pe->pid);
	const ImageFile *f = NULL;

	for (size_t i = 0; i < ctx->inv->n_files; i++)
		if (!strcmp(ctx->inv->files[i]->name, name))
			f = ctx->inv->files[i];
	free(name);
	if (!f || !f->page_server ||
	    !faccessat(ctx->dir.dirfd, f->name, F_OK, AT_SYMLINK_NOFOLLOW))
		return 0;
	if (f->size != IMG_PAGES_OFF + t->pages_bytes) {
		pr_err("the inventory of '%s' says '%s' is %llu bytes, the pagemap %llu",
		       ctx->dir.path, f->name, (unsigned long long)f->size,
		       (unsigned long long)(IMG_PAGES_OFF + t->pages_bytes));
		return 1;
	}
	t->pages_remote = f;
	return 1;
}

static int read_pagemap(struct restore_ctx *ctx, struct restore_task *t)
{
	pid_t pid = t->pe->pid;
	struct image *img;
	struct stat st;
	void *msg;
	int ret;

	img = img_open(&ctx->dir, IMG_PAGEMAP, pid);
	if (!img)
		return -1;
	while ((ret = img_read_msg(img, &msg)) > 0) {
		PagemapEntry *pe = msg;

		if (pe->vaddr % PAGE_SIZE || !pe->nr_pages) {
			pr_err("image '%s' is corrupt near offset %zu: bad page run %#llx+%u",
			       img->path, img->off, (unsigned long long)pe->vaddr, pe->nr_pages);
			ret = -1;
			break;
		}
		if (pe->in_parent) {
			/* In a previous dump of the chain: where, piece by piece. */
			if (add_parent_runs(ctx, t, pe))
				ret = -1;
			protobuf_c_message_free_unpacked(&pe->base, NULL);
			if (ret < 0)
				break;
			continue;
		}
		add_run(t, pe, t->pages_bytes, 0, false);
		/* An inherited run is the parent's pages: no bytes here. */
		if (!pe->inherited)
			t->pages_bytes += (uint64_t)pe->nr_pages * PAGE_SIZE;
	}
	img_close(img);
	if (ret < 0)
		return -1;

	if (ctx->opts->page_server && pages_remote(ctx, t))
		return t->pages_remote ? 0 : -1;
	img = img_open(&ctx->dir, IMG_PAGES, pid);
	if (!img)
		return -1;
	/* The task opens it after it changed directory: an absolute path. */
	{
		char *fs = xsprintf("%s/%s", ctx->dir.fs_path, img->name);

		t->pages_path = t->pages_paths[0] = realpath(fs, NULL);
		free(fs);
	}
	if (!t->pages_path || fstat(img->fd, &st)) {
		pr_perror("can't find '%s'", img->path);
		img_close(img);
		return -1;
	}
	/* Compressed (dump --compress), its size is checked once it is decompressed. */
	t->pages_z = zpages_is(img->fd) == 1;
	if (!t->pages_z && (uint64_t)st.st_size != IMG_PAGES_OFF + t->pages_bytes) {
		pr_err("image '%s' is truncated or corrupt: %lld bytes, the pagemap says %llu",
		       img->path, (long long)st.st_size,
		       (unsigned long long)(IMG_PAGES_OFF + t->pages_bytes));
		img_close(img);
		return -1;
	}
	img_close(img);
	return 0;
}

/* --cgroup-root: the tasks' cgroups, moved before anything looks at them. */
static int cgroup_root(struct restore_ctx *ctx)
{
	CoreEntry **cores = xzalloc(ctx->nr * sizeof(*cores));
	pid_t *pids = xzalloc(ctx->nr * sizeof(*pids));
	int ret;

	TaskAttrsEntry *first;
	char **old = NULL;

	for (int i = 0; i < ctx->nr; i++) {
		cores[i] = ctx->tasks[i].core;
		pids[i] = ctx->tasks[i].pe->pid;
	}
	/* The saved cgroups move as the first root's do. */
	first = ctx->nr && cores[0] ? cores[0]->attrs : NULL;
	if (first) {
		old = xzalloc((first->n_cgroups + 1) * sizeof(*old));
		for (size_t h = 0; h < first->n_cgroups; h++)
			old[h] = xstrdup(first->cgroups[h]->path);
	}
	ret = attrs_cgroup_root(cores, pids, ctx->nr, ctx->opts->cg_root, ctx->opts->nr_cg_root);
	for (size_t h = 0; first && h < first->n_cgroups; h++) {
		if (!ret && strcmp(old[h], first->cgroups[h]->path))
			cgroup_move_root(&ctx->cg, first->cgroups[h]->controllers, old[h],
					 first->cgroups[h]->path);
		free(old[h]);
	}
	free(old);
	free(cores);
	free(pids);
	return ret;
}

static int read_task(struct restore_ctx *ctx, struct restore_task *t)
{
	pid_t pid = t->pe->pid;

	if (t->pe->zombie)
		return 0;
	t->core = img_read_one(&ctx->dir, IMG_CORE, pid);
	t->mm = img_read_one(&ctx->dir, IMG_MM, pid);
	if (!t->core || !t->mm)
		return -1;
	if (!t->core->n_threads || t->core->n_threads != t->pe->n_threads) {
		pr_err("core image of %d has %zu threads, pstree.img says %zu",
		       pid, t->core->n_threads, t->pe->n_threads);
		return -1;
	}
	for (size_t i = 0; i < t->core->n_threads; i++) {
		if (!t->core->threads[i]->regs) {
			pr_err("core image of %d: thread %zu has no registers", pid, i);
			return -1;
		}
	}
	if (read_pagemap(ctx, t))
		return -1;
	if (files_read_fdinfo(&ctx->dir, pid, &t->fds, &t->nr_fds))
		return -1;
	t->nr_tfds = t->pe->n_own_files;
	if (t->pe->shares_files && t->nr_fds) {
		pr_err("fdinfo-%d.img: process %d shares its parent's fd table, yet has fds of its own",
		       pid, pid);
		return -1;
	}
	t->tfds = xzalloc((t->nr_tfds + 1) * sizeof(*t->tfds));
	for (int i = 0; i < t->nr_tfds; i++) {
		pid_t tid = t->pe->own_files[i];
		size_t k;

		for (k = 0; k < t->core->n_threads; k++)
			if ((pid_t)t->core->threads[k]->tid == tid)
				break;
		if (k == t->core->n_threads || (!k && !t->pe->zombie_leader)) {
			pr_err("pstree.img: thread %d of process %d has an fd table of its own, but it is not one of its other threads",
			       tid, pid);
			return -1;
		}
		t->tfds[i].tid = tid;
		if (files_read_fdinfo(&ctx->dir, tid, &t->tfds[i].fds, &t->tfds[i].nr_fds))
			return -1;
	}
	return 0;
}

/* As root, a context file someone else owns or can write is refused. */
static int check_context_owner(const char *file)
{
	struct stat st;

	if (stat(file, &st))
		return 0;	/* context_unpack said what is wrong */
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		pr_err("context file '%s' is %s: a restore as root runs what images hold; "
		       "restore only a file root owns and only root can write, or give --trust-images",
		       file, st.st_uid != geteuid() ? "owned by another user" :
		       "writable by others than its owner");
		return -1;
	}
	return 0;
}

static int read_images(struct restore_ctx *ctx)
{
	bool stream = ctx->opts->file || ctx->opts->fd >= 0;
	struct image *img;
	struct stat st;
	void *msg;
	int ret, i;

	if (fstatat(ctx->dir.dirfd, "inventory.img", &st, 0)) {
		pr_err("'%s' holds no complete checkpoint (no inventory.img): was the dump interrupted?",
		       ctx->dir.path);
		return -1;
	}
	img = img_open(&ctx->dir, IMG_INVENTORY, 0);
	if (!img)
		return -1;
	/* The key holder's inventory, before a byte of it is believed. */
	if (ctx->key.len && sign_verify(&ctx->dir, img->buf, img->size, &ctx->key)) {
		img_close(img);
		return -1;
	}
	ret = img_read_msg(img, &msg);
	if (ret == 0)
		pr_err("image '%s' is empty", img->path);
	ctx->inv = ret > 0 ? msg : NULL;
	/* Every file of the set is the inventory's, as the dump wrote it. */
	if (!ctx->inv || img_verify_set(&ctx->dir, img, ctx->inv)) {
		img_close(img);
		return -1;
	}
	img_close(img);
	if (ctx->inv->has_deduped_for) {
		pr_err("'%s' was deduplicated (crest dedup) for a later dump of its chain: the pages that one holds anew are gone from it; restore that dump",
		       ctx->dir.path);
		return -1;
	}
	/* The earlier dumps of a chain are read and checked as this one. */
	/*
	 * A stream's chain: the copies of its earlier dumps, named as the
	 * dump named them, under the restore's -D (the staging is crest's
	 * own, the copies are not).
	 */
	if (chain_open(&ctx->chain, &ctx->dir, ctx->inv, &ctx->key,
		       stream ? ctx->opts->dir : NULL,
		       stream ? geteuid() == 0 && !ctx->opts->trust_images : ctx->dir.check_owner))
		return -1;
	img = img_open(&ctx->dir, IMG_PSTREE, 0);
	if (!img)
		return -1;
	ctx->tasks = xzalloc((ctx->inv->n_pids + 1) * sizeof(*ctx->tasks));
	while ((ret = img_read_msg(img, &msg)) > 0) {
		if ((size_t)ctx->nr >= ctx->inv->n_pids) {
			pr_err("image '%s' holds more processes than the inventory", img->path);
			ret = -1;
			break;
		}
		ctx->tasks[ctx->nr++].pe = msg;
	}
	img_close(img);
	if (ret < 0)
		return -1;
	if ((size_t)ctx->nr != ctx->inv->n_pids || !ctx->nr) {
		pr_err("'%s/pstree.img' holds %d processes, the inventory %zu",
		       ctx->dir.path, ctx->nr, ctx->inv->n_pids);
		return -1;
	}
	for (i = 0; i < ctx->nr; i++)
		if (read_task(ctx, &ctx->tasks[i]))
			return -1;
	if (cgroup_read(&ctx->cg, &ctx->dir, ctx->opts->manage_cgroups))
		return -1;
	if (ctx->opts->nr_cg_root && cgroup_root(ctx))
		return -1;
	ctx->ns.ext = ctx->opts->ext_mnt;
	ctx->ns.nr_ext = ctx->opts->nr_ext_mnt;
	ctx->ns.evasive = ctx->opts->evasive_devices;
	ctx->ns.root = ctx->opts->root;
	if (files_read(&ctx->files, &ctx->dir) || ns_read(&ctx->ns, &ctx->dir))
		return -1;
	ctx->files.opts = ctx->opts;
	ctx->files.own_netns = ns_objects_netns(&ctx->ns, ctx->tasks[0].pe);
	ctx->files.ns = &ctx->ns;
	return 0;
}

/* Does crest have a controlling terminal? */
static bool has_tty(void)
{
	int fd = open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Parents, children, and who takes which session and group. */
static int plan_tree(struct restore_ctx *ctx)
{
	const struct options *o = ctx->opts;
	const PstreeEntry *root = ctx->tasks[0].pe;

	for (int i = 0; i < ctx->nr; i++) {
		struct restore_task *t = &ctx->tasks[i];
		const PstreeEntry *pe = t->pe;
		pid_t parent_sid;

		t->parent = pe->ppid ? task_by_pid(ctx, pe->ppid) : NULL;
		if (t->parent) {
			struct restore_task *p = t->parent;

			p->children = xrealloc(p->children, (p->nr_children + 1) * sizeof(t));
			p->children[p->nr_children++] = t;
		} else if (pe->zombie) {
			pr_err("zombie %d has no parent in the checkpoint", pe->pid);
			return -1;
		}
		if (pe->shares_files && (!t->parent || t->parent->pe->zombie || pe->zombie)) {
			pr_err("process %d shares its parent's fd table, but has no live parent in the checkpoint",
			       pe->pid);
			return -1;
		}

		/*
		 * Sessions: leaders inside make their own; the rest inherit.
		 * The init of a PID namespace that led its session leads it
		 * again: inside, getsid() would say 0 (outside) instead of 1.
		 */
		t->setsid = pe->sid == pe->pid &&
			    (t->parent || o->restore_sid || ns_enters_pid(&ctx->ns, pe));
		parent_sid = t->parent ? t->parent->pe->sid : root->sid;
		if (!t->setsid && (pid_t)pe->sid != parent_sid &&
		    !(!t->parent && !o->restore_sid)) {
			pr_err("process %d is in session %d, its parent in %d: not supported yet",
			       pe->pid, pe->sid, parent_sid);
			return -1;
		}
		if (!t->parent && o->restore_sid && pe->sid != pe->pid) {
			pr_err("--restore-sid: the leader of session %d is not in the checkpoint; restore without it to join crest's session",
			       pe->sid);
			return -1;
		}

		/*
		 * A daemon (it led a session of its own) made a member of
		 * crest's session gets its hangup: at an ssh logout it dies.
		 * Said at the moment it matters, where nobody watches a
		 * terminal or over ssh.
		 */
		if (!t->parent && !o->restore_sid && pe->sid == pe->pid && !pe->zombie &&
		    (getenv("SSH_CONNECTION") || !has_tty()))
			pr_warn("process %d led a session of its own; restored, it joins crest's session and gets its hangup (at an ssh logout): give --restore-sid to keep it a session of its own",
				pe->pid);

		/* Group leaders make theirs (members join below). */
		t->own_group = pe->pgid == pe->pid &&
			       (t->parent || o->restore_pgid || ns_enters_pid(&ctx->ns, pe));
	}
	for (int i = 0; i < ctx->nr; i++) {
		struct restore_task *t = &ctx->tasks[i];
		struct restore_task *leader = task_by_pid(ctx, t->pe->pgid);

		if (t->own_group)
			continue;
		if (leader && leader != t && leader->own_group) {
			/* Phase 2, by the leader's new pid. */
			t->join_pgid_orig = t->pe->pgid;
			t->join_pgid = t->pe->pgid;
			/* In a PID namespace, by its PID there if it is in ours. */
			if (t->pe->n_ns_pids && leader->pe->pid_ns == t->pe->pid_ns)
				t->join_pgid_ns = leader->pe->ns_pids[t->pe->n_ns_pids - 1];
		} else if (o->restore_pgid && !leader) {
			t->join_pgid = t->pe->pgid;	/* must exist outside */
		} else if (!t->setsid) {
			/* The group was outside, or its leader joins ours. */
			t->join_pgid = getpgid(0);
		}
	}
	return 0;
}

static int check_cpu(struct restore_ctx *ctx)
{
	size_t here = arch_xstate_size();

	if (!arch_cpu_has_crc32c()) {
		pr_err("this CPU lacks SSE4.2 (crc32c), which crest needs");
		return -1;
	}
	for (int i = 0; i < ctx->nr; i++) {
		const CoreEntry *c = ctx->tasks[i].core;

		if (c && c->threads[0]->xstate.len != here) {
			pr_err("the checkpoint's register state is %zu bytes, this CPU's is %zu: restore it on a machine with the same CPU features",
			       c->threads[0]->xstate.len, here);
			return -1;
		}
	}
	return 0;
}

#define ZOMBIE_WAIT_MS	5000

/*
 * Is the PID free? A PID held by a dead process (a zombie not reaped yet,
 * as right after a dump killed it) is waited for, a few seconds at most.
 * Otherwise name whoever holds it.
 */
/* Is a SIGKILL pending for pid (its ShdPnd or SigPnd)? */
static bool sigkill_pending(pid_t pid)
{
	char *buf = read_proc(pid, "status", NULL), *p;
	bool yes = false;

	for (p = buf; p && (p = strstr(p, "Pnd:\t")); p += 5)
		if (strtoull(p + 5, NULL, 16) & (1ULL << (SIGKILL - 1)))
			yes = true;
	free(buf);
	return yes;
}

static int check_pid(pid_t pid)
{
	struct proc_stat st;
	int waited = 0;

	for (;;) {
		char *buf = read_proc(pid, "stat", NULL);

		if (!buf)
			return 0;
		if (proc_parse_stat(buf, &st)) {
			free(buf);
			pr_err("pid %d is in use", pid);
			return -1;
		}
		free(buf);
		/*
		 * Dead, or on its way: PF_EXITING (freeing its memory), or a
		 * SIGKILL pending that it has not acted on yet -- as right after
		 * a checkpoint piped into this restore killed it.
		 */
		if ((st.state != 'Z' && st.state != 'X' && !(st.flags & 0x4) &&
		     !sigkill_pending(pid)) || waited >= ZOMBIE_WAIT_MS)
			break;
		if (!waited)
			pr_info("pid %d is held by a dead process; waiting for it to be reaped", pid);
		usleep(20000);
		waited += 20;
	}
	if (st.state == 'Z' || st.state == 'X' || (st.flags & 0x4))
		pr_err("pid %d is still held by the dead process '%s' (a zombie its parent %d has not reaped in %d s); try again later",
		       pid, st.comm, st.ppid, ZOMBIE_WAIT_MS / 1000);
	else
		pr_err("pid %d is in use by '%s' (state %c); stop it, or restore with --no-restore-pid",
		       pid, st.comm, st.state);
	return -1;
}

static const char *stage_name(uint32_t stage)
{
	static const char *names[] = {
		[RST_STAGE_START] = "starting", [RST_STAGE_UNMAP] = "unmapping crest",
		[RST_STAGE_VDSO] = "moving the vDSO", [RST_STAGE_MAP] = "mapping memory",
		[RST_STAGE_PAGES] = "reading pages", [RST_STAGE_CRC] = "checking pages",
		[RST_STAGE_PROTECT] = "protecting memory", [RST_STAGE_MM] = "setting mm fields",
		[RST_STAGE_SIGNALS] = "restoring signals", [RST_STAGE_TIMERS] = "restoring timers",
		[RST_STAGE_RLIMITS] = "restoring limits", [RST_STAGE_THREADS] = "creating threads",
		[RST_STAGE_CREDS] = "restoring credentials",
		[RST_STAGE_LOCKS] = "taking back POSIX locks",
		[RST_STAGE_DONE] = "done",
		[RST_STAGE_ATTRS] = "restoring seccomp, THP or timer slack",
		[RST_STAGE_ADVICE] = "giving memory its madvise() advice or mlock",
		[RST_STAGE_AIO] = "making its Linux AIO contexts again",
		[RST_STAGE_FILES] = "giving a thread its own fd table, or an fd its owner thread",
		[RST_STAGE_LAZY] = "registering lazy memory with userfaultfd (--lazy-pages)",
	};

	return stage < ARRAY_SIZE(names) && names[stage] ? names[stage] : "?";
}

static int read_args(pid_t pid, uint64_t addr, struct restore_args *ra)
{
	struct iovec l, r = { (void *)addr, sizeof(*ra) };

	memset(ra, 0, sizeof(*ra));
	l = (struct iovec){ ra, sizeof(*ra) };
	if (!addr || process_vm_readv(pid, &l, 1, &r, 1, 0) != sizeof(*ra))
		return -1;
	return 0;
}

/* Which TIDs the threads got, and did each make it? */
/* The thread of t whose TID in its own PID namespace is inner (0: none). */
static pid_t host_tid(const struct restore_task *t, pid_t inner)
{
	char path[320];
	struct dirent *de;
	pid_t found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", t->new_pid);
	d = opendir(path);
	while (d && !found && (de = readdir(d))) {
		char *buf, *l, *last = NULL;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status", t->new_pid, de->d_name);
		buf = read_file(path, NULL);
		l = buf ? strstr(buf, "\nNSpid:") : NULL;
		for (char *p = l ? l + 7 : NULL; p && *p && *p != '\n'; p++)
			if ((*p >= '0' && *p <= '9') && (p[-1] == ' ' || p[-1] == '\t' || p[-1] == ':'))
				last = p;
		if (last && atoi(last) == inner)
			found = atoi(de->d_name);
		free(buf);
	}
	if (d)
		closedir(d);
	return found;
}

static int read_threads(struct restore_task *t, const struct restore_args *ra)
{
	size_t n = ra->nr_threads, len = n * sizeof(struct rst_thread);
	struct rst_thread *thr = xzalloc(len + 1);
	struct iovec l = { thr, len }, r = { (void *)ra->threads, len };
	int ret = 0;

	int zl = t->pe->zombie_leader;

	t->tids = xzalloc((n + 1) * sizeof(pid_t));
	t->tids[0] = t->new_pid;
	if (n && process_vm_readv(t->live, &l, 1, &r, 1, 0) != (ssize_t)len) {
		pr_perror("can't read the threads' reports from %d", t->new_pid);
		free(thr);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		t->tids[i + !zl] = thr[i].new_tid;
		/* In a PID namespace the restorer saw its inner TID: ours is the host's. */
		if (t->pe->n_ns_pids)
			t->tids[i + !zl] = host_tid(t, thr[i].new_tid);
		if (thr[i].stage != RST_STAGE_DONE || thr[i].ret) {
			errno = -thr[i].ret;
			pr_perror("thread %zu of %d failed while %s", i + 1,
				  t->pe->pid, stage_name(thr[i].stage));
			ret = -1;
		}
	}
	free(thr);
	return ret;
}

/*
 * A zombie leader's stops at the birth of its threads: the last thread can
 * reach its int3, ending run_restorers()'s wait, before the leader's stop
 * at that thread's clone is seen. Resume those; -1 on any other stop.
 */
static int resume_leader(pid_t pid)
{
	int status;
	pid_t r;

	while ((r = waitpid(pid, &status, WNOHANG | __WALL)) == pid) {
		int event = status >> 16;

		if (!WIFSTOPPED(status) ||
		    (event != PTRACE_EVENT_CLONE && event != PTRACE_EVENT_STOP)) {
			pr_err("the main thread of %d, to exit, stopped or ended instead (status %#x)",
			       pid, status);
			return -1;
		}
		if (ptrace(PTRACE_CONT, pid, NULL, NULL)) {
			pr_perror("can't resume the main thread of %d", pid);
			return -1;
		}
	}
	return 0;
}

/*
 * The restorer has stopped at its int3: did it make it? A zombie leader,
 * which exits instead, is waited for to finish unless it stopped (failed).
 */
static int check_restorer(struct restore_ctx *ctx, struct restore_task *t,
			  struct restore_args *ra, bool leader_stopped)
{
	long deadline = now_ms() + RESTORE_TIMEOUT_MS;

	for (;;) {
		if (read_args(t->live, t->args_addr, ra)) {
			pr_perror("can't read the restorer's report from %d", t->new_pid);
			return -1;
		}
		/*
		 * A zombie leader does not stop for us: it may still be on its
		 * way to the end when its threads have all stopped.
		 */
		if (!t->pe->zombie_leader || leader_stopped || ra->stage == RST_STAGE_DONE ||
		    ra->ret || now_ms() > deadline)
			break;
		if (resume_leader(t->new_pid))
			return -1;
		usleep(1000);
	}
	if (ra->stage == RST_STAGE_DONE && !ra->ret)
		return read_threads(t, ra);
	if (ra->stage == RST_STAGE_CRC) {
		pr_err("image '%s' is corrupt at offset %llu: page checksum mismatch (restoring process %d)",
		       t->pages_path, (unsigned long long)ra->fail_addr, t->pe->pid);
		ctx->exit_code = EXIT_IMAGE;
		return -1;
	}
	if (ra->stage == RST_STAGE_LOCKS) {
		const FileLockEntry *l = locks_posix_nth(&ctx->files, t->pe->pid,
							 ra->fail_addr);

		errno = -ra->ret;
		pr_perror("process %d can't take back its POSIX lock on fd %u (%s)%s",
			  t->pe->pid, l ? l->fd : 0, l ? l->desc : "?",
			  ra->ret == -EAGAIN || ra->ret == -EACCES ?
			  ": another process holds a conflicting lock now" : "");
		return -1;
	}
	if (ra->stage == RST_STAGE_THREADS && ra->ret == -EEXIST &&
	    ra->fail_addr < t->core->n_threads - !t->pe->zombie_leader) {
		/* A TID checked free up front was taken since: by whom? */
		uint32_t tid = t->core->threads[ra->fail_addr + !t->pe->zombie_leader]->tid;
		char *buf = read_proc(tid, "stat", NULL);
		struct proc_stat st;

		if (buf && !proc_parse_stat(buf, &st))
			pr_err("restore of %d failed while creating threads: TID %u is taken, by '%s' (state %c, parent %d)",
			       t->pe->pid, tid, st.comm, st.state, st.ppid);
		else
			pr_err("restore of %d failed while creating threads: TID %u is taken (by a task on its way out?)",
			       t->pe->pid, tid);
		free(buf);
		return -1;
	}
	errno = -ra->ret;
	pr_perror("restore of %d failed while %s (at %#llx)", t->pe->pid,
		  stage_name(ra->stage), (unsigned long long)ra->fail_addr);
	return -1;
}

static int wait_leader_gone(pid_t pid)
{
	long deadline = now_ms() + RESTORE_TIMEOUT_MS;
	char path[64];

	snprintf(path, sizeof(path), "task/%d/stat", pid);
	while (now_ms() <= deadline) {
		char *buf = read_proc(pid, path, NULL);
		struct proc_stat st;
		int gone = !buf || proc_parse_stat(buf, &st) ||
			   st.state == 'Z' || st.state == 'X';

		free(buf);
		if (gone)
			return 0;
		usleep(1000);
	}
	pr_err("the main thread of %d did not exit", pid);
	return -1;
}

/*
 * A SIGTRAP pending for one thread was left out by the restorer: its int3
 * would have swallowed it. The thread queues it now, by remote syscall,
 * its siginfo in the restorer's scratch.
 */
static int queue_traps(struct restore_task *t, struct restore_args *ra)
{
	uint64_t scratch = t->args_addr + offsetof(struct restore_args, scratch);

	for (size_t i = 0; i < t->core->n_threads; i++) {
		const ThreadCoreEntry *tc = t->core->threads[i];

		for (size_t k = 0; k < tc->n_pending; k++) {
			const SiginfoEntry *se = tc->pending[k];
			uint8_t raw[128] = {};
			struct iovec l = { raw, sizeof(raw) }, r = { (void *)scratch, sizeof(raw) };

			memcpy(raw, se->raw.data, se->raw.len < 128 ? se->raw.len : 128);
			if (se->shared || *(int32_t *)raw != SIGTRAP)
				continue;
			if (process_vm_writev(t->live, &l, 1, &r, 1, 0) != sizeof(raw)) {
				pr_perror("can't write a siginfo into %d", t->new_pid);
				return -1;
			}
			if (remote_queue_trap(t->tids[i], ra->self.start + restorer_off_syscall,
					      scratch))
				return -1;
		}
	}
	return 0;
}

/*
 * The int3s of the restorer, taken with every signal blocked, made the
 * kernel reset the program's SIGTRAP action to SIG_DFL: put it back.
 */
static int put_trap_action(struct restore_task *t, struct restore_args *ra)
{
	uint64_t scratch = t->args_addr + offsetof(struct restore_args, scratch);

	for (size_t i = 0; i < t->core->n_sigactions; i++) {
		const SigactionEntry *s = t->core->sigactions[i];
		struct pie_sigaction act = { s->handler, s->flags, s->restorer, s->mask };
		struct iovec l = { &act, sizeof(act) }, r = { (void *)scratch, sizeof(act) };

		if (s->sig != SIGTRAP || !s->handler)
			continue;
		if (process_vm_writev(t->live, &l, 1, &r, 1, 0) != sizeof(act)) {
			pr_perror("can't write the SIGTRAP action into %d", t->new_pid);
			return -1;
		}
		return remote_put_trap_action(t->live, ra->self.start + restorer_off_syscall,
					      scratch);
	}
	return 0;
}

/* Last steps from outside: unmap the restorer, registers. */
static int finish_task(struct restore_task *t, struct restore_args *ra)
{
	arch_regs_t regs;
	long r;

	if (queue_traps(t, ra) || put_trap_action(t, ra))
		return -1;
	/* Through a thread that is there (a zombie leader has exited). */
	if (arch_get_regs(t->live, &regs))
		return -1;
	r = remote_syscall(t->live, &regs, ra->self.start + restorer_off_syscall,
			   SYS_munmap, ra->self.start, ra->self.end - ra->self.start,
			   0, 0, 0, 0);
	if (r) {
		errno = -r;
		pr_perror("can't unmap the restorer from %d", t->new_pid);
		return -1;
	}
	for (size_t i = 0; i < t->core->n_threads; i++)
		if (task_restore_thread(t->new_pid, t->tids[i], t->core->threads[i]))
			return -1;
	return 0;
}

static int send_go(struct restore_task *t)
{
	if (write(t->sync_wfd, "g", 1) != 1) {
		pr_perror("can't wake process %d", t->pe->pid);
		return -1;
	}
	return 0;
}

static int read_report(struct restore_ctx *ctx, struct restore_report *r,
		       int timeout_ms, const char *stage)
{
	struct pollfd p = { ctx->report_rfd, POLLIN, 0 };
	long deadline = now_ms() + timeout_ms;

	for (;;) {
		int n = poll(&p, 1, 100);

		if (n > 0)
			break;
		if (n < 0 && errno != EINTR) {
			pr_perror("can't wait for the new processes");
			return -1;
		}
		/*
		 * A task that failed said why; it won't report. Only exits
		 * are looked at (and left to be reaped): a ptrace stop taken
		 * here would be lost to the loop that waits for it.
		 */
		for (int i = 0; i < ctx->nr; i++) {
			struct restore_task *t = &ctx->tasks[i];
			siginfo_t si = {};

			if (t->new_pid > 0 && !t->pe->zombie &&
			    !waitid(P_PID, t->new_pid, &si,
				    WEXITED | WNOHANG | WNOWAIT | __WALL) &&
			    si.si_pid == t->new_pid) {
				pr_err("process %d died while %s", t->pe->pid, stage);
				return -1;
			}
		}
		if (now_ms() > deadline) {
			pr_err("the new processes did not report within %.1f s while %s",
			       timeout_ms / 1000.0, stage);
			return -1;
		}
	}
	if (read(ctx->report_rfd, r, sizeof(*r)) != sizeof(*r)) {
		pr_perror("can't read a report of the new processes");
		return -1;
	}
	return 0;
}

/* One above every fd we hold (our tasks inherit them all). */
static int fd_top(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int top = 0;

	if (!d) {
		pr_perror("can't list our fds");
		return -1;
	}
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && atoi(de->d_name) >= top)
			top = atoi(de->d_name) + 1;
	closedir(d);
	return top;
}

/* Phase A: every task created, seized and told to go on. */
static int create_tree(struct restore_ctx *ctx)
{
	int created = 0;

	/* Where processes sharing a table keep their copies (restore-task.c). */
	ctx->sh.top = fd_top();
	if (ctx->sh.top < 0)
		return -1;

	for (int i = 0; i < ctx->nr; i++) {
		struct restore_task *t = &ctx->tasks[i];
		pid_t pid;

		if (t->parent)
			continue;
		pid = restore_clone(&ctx->sh, t, ctx->opts->restore_pid);
		if (pid < 0) {
			ctx->exit_code = errno == EEXIST ? EXIT_BUSY : EXIT_FAIL;
			return -1;
		}
		if (pid == 0)
			restore_task_child(t, &ctx->sh);
		t->new_pid = pid;
	}
	while (created < ctx->nr) {
		struct restore_report r;
		struct restore_task *t;

		if (read_report(ctx, &r, restore_timeout_ms(), "creating the process tree"))
			return -1;
		t = task_by_pid(ctx, r.pid);
		if (r.type != REPORT_CREATED || !t) {
			pr_err("unexpected report %d from %d", r.type, r.pid);
			return -1;
		}
		t->new_pid = r.val;
		created++;
		if (!t->pe->zombie) {
			/*
			 * Threads the restorer makes are ours from their birth.
			 * Filters it installs bite once we let it go.
			 */
			long opts = PTRACE_O_TRACECLONE;

			if (attrs_has_seccomp(t->core))
				opts |= PTRACE_O_SUSPEND_SECCOMP;
			if (ptrace(PTRACE_SEIZE, t->new_pid, NULL, (void *)opts)) {
				pr_perror("can't trace new process %d", t->new_pid);
				return -1;
			}
			t->seized = true;
		}
		if (send_go(t))
			return -1;
	}
	pr_debug("%d processes created", created);
	return 0;
}

/* The task a stopped thread belongs to, by its thread group. */
static struct restore_task *task_of(struct restore_ctx *ctx, pid_t tid)
{
	char path[64], *buf, *p;
	pid_t tgid = 0;

	for (int i = 0; i < ctx->nr; i++)
		if (ctx->tasks[i].new_pid == tid && ctx->tasks[i].seized)
			return &ctx->tasks[i];
	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	buf = read_file(path, NULL);
	if (buf && (p = strstr(buf, "\nTgid:")))
		tgid = atoi(p + 6);
	free(buf);
	for (int i = 0; i < ctx->nr; i++)
		if (tgid && ctx->tasks[i].new_pid == tgid && ctx->tasks[i].seized)
			return &ctx->tasks[i];
	return NULL;
}

/* Where t's restorer keeps its report: from the reports, in any order. */
static int learn_args(struct restore_ctx *ctx, struct restore_task *t)
{
	while (!t->args_addr) {
		struct restore_report r;
		struct restore_task *o;

		if (read_report(ctx, &r, 1000, "starting the restorers"))
			return -1;
		o = task_by_pid(ctx, r.pid);
		if (!o || r.type != REPORT_RESTORER) {
			pr_err("unexpected report %d from %d", r.type, r.pid);
			return -1;
		}
		o->args_addr = r.val;
	}
	return 0;
}

static void report_crash(struct restore_ctx *ctx, struct restore_task *t,
			 pid_t tid, int sig)
{
	struct restore_args ra;
	arch_regs_t regs = {};

	learn_args(ctx, t);
	read_args(t->new_pid, t->args_addr, &ra);
	arch_get_regs(tid, &regs);
	if (sig)
		pr_err("process %d (thread %d) got signal %d (%s) while %s (ip %#llx)",
		       t->pe->pid, tid, sig, strsignal(sig), stage_name(ra.stage),
		       (unsigned long long)regs.rip);
}

/*
 * The main thread stopped at its int3: its restorer is over. If it
 * failed, no thread it was to create will ever stop: fail now, by name.
 */
static int check_main_trap(struct restore_ctx *ctx, struct restore_task *t)
{
	struct restore_args ra;

	if (learn_args(ctx, t))
		return -1;
	if (read_args(t->new_pid, t->args_addr, &ra)) {
		pr_perror("can't read the restorer's report from %d", t->new_pid);
		return -1;
	}
	if (ra.stage == RST_STAGE_DONE && !ra.ret)
		return 0;
	return check_restorer(ctx, t, &ra, true);
}

/* The watchdog fired: name every task that is not done, and where it is. */
static void report_stuck(struct restore_ctx *ctx, const int *trapped)
{
	for (int i = 0; i < ctx->nr; i++) {
		struct restore_task *t = &ctx->tasks[i];
		struct restore_args ra = {};
		struct proc_stat st = {};
		char *buf;

		if (t->pe->zombie || (size_t)trapped[i] >= t->core->n_threads)
			continue;
		if (t->args_addr)
			read_args(t->new_pid, t->args_addr, &ra);
		buf = read_proc(t->new_pid, "stat", NULL);
		if (!buf || proc_parse_stat(buf, &st))
			st.state = '?';
		free(buf);
		pr_err("process %d (now %d, state %c) did not finish its restore within %.1f s: %d of %zu threads done, its restorer %s%s",
		       t->pe->pid, t->new_pid, st.state, restore_timeout_ms() / 1000.0,
		       trapped[i], t->core->n_threads,
		       t->args_addr ? "stuck while " : "not started",
		       t->args_addr ? stage_name(ra.stage) : "");
	}
}

/*
 * The next stop or exit of a task of ours; 0 once deadline (now_ms())
 * has passed. SIGCHLD is blocked meanwhile: every stop and exit of a
 * tracee queues one, so sleeping until the next one misses nothing.
 */
static pid_t wait_event(int *status, long deadline)
{
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		pid_t pid = waitpid(-1, status, __WALL | WNOHANG);
		long left = deadline - now_ms();
		struct timespec ts = { 0, 100 * 1000000L };

		if (pid != 0)
			return pid;
		if (left <= 0)
			return 0;
		if (left < 100)
			ts.tv_nsec = left * 1000000L;
		sigtimedwait(&chld, NULL, &ts);
		/* A restorer reading GiBs: the line shows it is at work. */
		progress_tick();
	}
}

static pid_t map_pid(const void *arg, pid_t orig)
{
	return restore_new_pid(arg, orig);
}

/* A shell job's own foreground group, before the tree runs (tty.c). */
static int job_foreground(struct restore_ctx *ctx)
{
	const struct files_pid_map pid_map = {
		ctx->opts->restore_pid ? NULL : map_pid, &ctx->sh
	};

	return tty_restore_job_fg(&ctx->files, &pid_map);
}

/* Phase B: groups, fds, restorers; wait for every thread's int3. */
static int run_restorers(struct restore_ctx *ctx)
{
	const struct files_pid_map pid_map = { map_pid, &ctx->sh };
	int live = 0, threads = 0, trapped = 0, reported = 0, ret = -1;
	int own_net, made;
	int *done = xzalloc((ctx->nr + 1) * sizeof(int));
	long deadline = now_ms() + restore_timeout_ms();
	sigset_t chld, old;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	/*
	 * What crest makes there (a socket to send a queued datagram from,
	 * one connected to an abstract name, sock_diag's) is made in the
	 * tree's network namespace too, as at the open.
	 */
	if (ns_enter_objects(&ctx->ns, ctx->tasks[0].pe, &own_net))
		goto out;
	made = files_tasks_made(&ctx->files, &pid_map);
	if (ns_leave_objects(own_net) || made)
		goto out;
	/* CRIU's RPC caller's hooks: every process exists, in its namespaces. */
	if (swrk_hook_pid("setup-namespaces", ctx->tasks[0].new_pid) ||
	    swrk_hook("post-setup-namespaces"))
		goto out;
	for (int i = 0; i < ctx->nr; i++) {
		if (send_go(&ctx->tasks[i]))
			goto out;
		if (!ctx->tasks[i].pe->zombie) {
			live++;
			threads += ctx->tasks[i].core->n_threads;
		}
	}
	while (trapped < threads) {
		struct restore_task *t;
		int status, sig, event;
		pid_t pid = wait_event(&status, deadline);

		if (pid == 0) {
			report_stuck(ctx, done);
			goto out;
		}
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("can't wait for the new processes");
			goto out;
		}
		if (pid == ctx->lazy_pid) {
			/* Every page in already (small processes): its job is done. */
			ctx->lazy_pid = 0;
			if (WIFEXITED(status) && !WEXITSTATUS(status))
				continue;
			pr_err("the lazy-pages server exited before the tree ran (%s %d)",
			       WIFEXITED(status) ? "exit status" : "signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			goto out;
		}
		t = task_of(ctx, pid);
		if (!t)
			continue;	/* a restored zombie, reaped by us: fine */
		if (!WIFSTOPPED(status)) {
			pr_err("process %d died while running its restorer (%s %d)", t->pe->pid,
			       WIFEXITED(status) ? "exit status" : "signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			if (pid == t->new_pid)
				t->seized = false;
			goto out;
		}
		sig = WSTOPSIG(status);
		event = status >> 16;
		if (sig == SIGTRAP && !event) {
			if (pid == t->new_pid && t->pe->zombie_leader) {
				/* It should have exited: its restorer failed. */
				struct restore_args ra;

				t->live = pid;
				report_crash(ctx, t, pid, 0);
				if (!check_restorer(ctx, t, &ra, true))
					pr_err("the main thread of %d stopped instead of exiting", t->pe->pid);
				goto out;
			}
			trapped++;	/* an int3: this thread is done */
			/* Its restorer read its pages itself: they count now. */
			if (++done[t - ctx->tasks] == (int)t->core->n_threads) {
				progress_add(t->pages_bytes);
				progress_proc_done();
			}
			if (!t->live)
				t->live = pid;
			if (pid == t->new_pid && check_main_trap(ctx, t))
				goto out;
			continue;
		}
		if (event == PTRACE_EVENT_CLONE || event == PTRACE_EVENT_STOP) {
			/* A thread was born, or is being born: on with it. */
			if (ptrace(PTRACE_CONT, pid, NULL, NULL)) {
				pr_perror("can't resume thread %d", pid);
				goto out;
			}
			continue;
		}
		if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE) {
			report_crash(ctx, t, pid, sig);
			goto out;
		}
		/* Anything else (a child's SIGCHLD...) is crest's business: drop it. */
		if (ptrace(PTRACE_CONT, pid, NULL, NULL)) {
			pr_perror("can't resume process %d", pid);
			goto out;
		}
	}
	for (int i = 0; i < ctx->nr; i++)
		if (ctx->tasks[i].args_addr)
			reported++;
	while (reported < live) {
		struct restore_report r;
		struct restore_task *t;

		if (read_report(ctx, &r, restore_timeout_ms(), "starting the restorers"))
			goto out;
		t = task_by_pid(ctx, r.pid);
		if (!t || r.type != REPORT_RESTORER) {
			pr_err("unexpected report %d from %d", r.type, r.pid);
			goto out;
		}
		if (!t->args_addr)
			reported++;
		t->args_addr = r.val;
	}
	/* Every thread exists: what names them (a thread's pidfd in flight). */
	if (ns_enter_objects(&ctx->ns, ctx->tasks[0].pe, &own_net))
		goto out;
	made = files_threads_made(&ctx->files, &pid_map);
	if (ns_leave_objects(own_net) || made)
		goto out;
	ret = 0;
out:
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(done);
	return ret;
}

static bool wait_state_t(pid_t pid)
{
	long deadline = now_ms() + 10000;

	while (now_ms() <= deadline) {
		char *buf = read_proc(pid, "stat", NULL);
		struct proc_stat st;
		int done = !buf || proc_parse_stat(buf, &st) || st.state == 'T';

		free(buf);
		if (done)
			return true;
		usleep(2000);
	}
	return false;
}

/* Stopped under us before the detach (restore-stop.c): stopped again after. */
static void wait_stopped(const struct restore_task *t)
{
	/* tids[0]: a live thread even where the leader has exited. */
	if (!wait_state_t(t->tids[0]))
		pr_warn("restored process %d was stopped but has not stopped again",
			t->new_pid);
}

static int finish_all(struct restore_ctx *ctx)
{
	struct restore_args *ras = xzalloc((ctx->nr + 1) * sizeof(*ras));
	int ret = -1;

	for (int i = 0; i < ctx->nr; i++) {
		struct restore_task *t = &ctx->tasks[i];

		if (t->pe->zombie)
			continue;
		if (check_restorer(ctx, t, &ras[i], false))
			goto out;
		if (fault("restore-finish")) {
			pr_err("fault injected: restore-finish");
			goto out;
		}
		/* A zombie leader must be out of the restorer before it goes. */
		if (t->pe->zombie_leader && wait_leader_gone(t->new_pid))
			goto out;
	}
	/* Every attach is made again: segments removed then go again. */
	for (int i = 0; i < ctx->nr; i++)
		if (!ctx->tasks[i].pe->zombie &&
		    ns_sysv_remove(&ctx->ns, ctx->tasks[i].pe, ctx->tasks[i].new_pid))
			goto out;
	if (ns_host_shm_finish(&ctx->ns))
		goto out;
	/*
	 * Stopped ones stop now, while ours, continued ones stop and go on
	 * again; then their parents' reports.
	 */
	if (stop_tasks(ctx->tasks, ctx->nr) || cont_tasks(ctx->tasks, ras, ctx->nr))
		goto out;
	for (int i = 0; i < ctx->nr; i++)
		if (stop_reports(&ctx->tasks[i], &ras[i]))
			goto out;
	for (int i = 0; i < ctx->nr; i++)
		if (!ctx->tasks[i].pe->zombie && finish_task(&ctx->tasks[i], &ras[i]))
			goto out;
	/*
	 * The connections are repaired and the tree is about to go on: the
	 * dump's network lock goes (a peer sends again what was dropped).
	 * An RPC caller hears of it first (CRIU's post-restore and
	 * network-unlock), and of the release (pre-resume), the tree still
	 * stopped under crest.
	 */
	if (swrk_hook_pid("post-restore", ctx->tasks[0].new_pid) ||
	    swrk_hook("network-unlock"))
		goto out;
	if (ctx->inv->netlock && net_lock_unlock(ctx->inv->netlock) < 0)
		goto out;
	if (swrk_hook("pre-resume"))
		goto out;
	/* All rebuilt: let them go together (a stopped group stays stopped). */
	for (int i = 0; i < ctx->nr; i++) {
		struct restore_task *t = &ctx->tasks[i];

		if (!t->seized)
			continue;
		for (size_t k = t->core->n_threads; k-- > 1;) {
			if (ptrace(PTRACE_DETACH, t->tids[k], NULL, NULL)) {
				pr_perror("can't let thread %d go", t->tids[k]);
				goto out;
			}
		}
		/* A zombie leader's tids[0] is a thread like the others. */
		if (ptrace(PTRACE_DETACH, t->tids[0], NULL, NULL)) {
			pr_perror("can't let restored process %d go", t->new_pid);
			goto out;
		}
		t->seized = false;
	}
	/* Stopped ones are back stopped before crest says it is done. */
	for (int i = 0; i < ctx->nr; i++)
		if (restore_stop_signal(ctx->tasks[i].pe))
			wait_stopped(&ctx->tasks[i]);
	ret = stop_roots(ctx->tasks, ctx->nr);
out:
	free(ras);
	return ret;
}

/*
 * Kill whatever was created and wait until it is gone, so that its PIDs
 * are free when crest says the restore failed. crest traces most of the
 * tasks (their deaths are reported to it first) and, a subreaper for the
 * moment, becomes the parent of the orphans the kills make: it reaps
 * them all itself.
 */
static void kill_all(struct restore_ctx *ctx)
{
	long deadline = now_ms() + 10000;
	int status;

	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	for (int i = 0; i < ctx->nr; i++) {
		pid_t pid = ctx->tasks[i].new_pid;

		/* One its parent created but did not report yet. */
		if (pid <= 0 && ctx->sh.map)
			pid = ctx->sh.map[i].now;
		if (pid > 0)
			kill(pid, SIGKILL);
	}
	/* After the tree: what it faulted on is never let in as zeros. */
	if (ctx->lazy_pid > 0)
		kill(ctx->lazy_pid, SIGKILL);
	for (;;) {
		pid_t p = waitpid(-1, &status, __WALL | WNOHANG);

		if (p > 0)
			continue;
		if (p < 0 && errno != EINTR)
			break;		/* ECHILD: nothing of ours is left */
		if (now_ms() > deadline) {
			pr_warn("processes of the failed restore are still exiting");
			break;
		}
		usleep(1000);
	}
	prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The fds open now, sorted. */
static int *open_fds(int *nr)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int *fds = NULL;

	*nr = 0;
	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] == '.' || fd == dirfd(d))
			continue;
		fds = xrealloc(fds, (*nr + 1) * sizeof(int));
		fds[(*nr)++] = fd;
	}
	closedir(d);
	qsort(fds, *nr, sizeof(int), cmp_int);
	return fds;
}

/*
 * The restored tasks own their fds now. Everything crest opened for them
 * goes: the service fds of files, executables, libraries, pipes and
 * memfds, the report and sync pipes. A waiting crest that kept a pipe's
 * write end would keep its reader from ever seeing end-of-file (a
 * restored "... | wc -l", make's jobserver). What stays is what crest had
 * before the restore (its stdio) and its log.
 */
static void release_objects(struct restore_ctx *ctx)
{
	int nr, *fds;

	/* Its copy of stderr, the tasks' to write to, goes with the rest. */
	log_drop_copies();
	fds = open_fds(&nr);
	for (int i = 0; i < nr; i++) {
		if (fds[i] == log_get_fd() ||
		    bsearch(&fds[i], ctx->own_fds, ctx->nr_own_fds, sizeof(int), cmp_int))
			continue;
		close(fds[i]);
	}
	free(fds);
	if (ctx->sh.map) {
		munmap(ctx->sh.map, ctx->nr * sizeof(*ctx->sh.map));
		ctx->sh.map = NULL;
	}
	ctx->report_rfd = ctx->sh.report_fd = -1;
}

static int write_pidfile(const char *path, pid_t pid)
{
	FILE *f = fopen(path, "w");

	if (!f || fprintf(f, "%d\n", pid) < 0 || fclose(f)) {
		pr_perror("can't write the pid file '%s'", path);
		return -1;
	}
	return 0;
}

/* BLCR's cr_restart signals: sent to every restored process once all run. */
static int after_restore(struct restore_ctx *ctx)
{
	static const int sigs[] = {
		[AFTER_STOP] = SIGSTOP, [AFTER_TERM] = SIGTERM, [AFTER_ABORT] = SIGABRT,
		[AFTER_KILL] = SIGKILL, [AFTER_CONT] = SIGCONT,
	};
	int sig = ctx->opts->after_restore == AFTER_SIGNAL ? ctx->opts->after_restore_signal :
		  ctx->opts->after_restore == AFTER_RUN ? 0 : sigs[ctx->opts->after_restore];

	if (!sig)
		return 0;
	for (int i = 0; i < ctx->nr; i++)
		if (!ctx->tasks[i].pe->zombie && kill(ctx->tasks[i].new_pid, sig)) {
			pr_perror("can't send signal %d to restored process %d", sig,
				  ctx->tasks[i].new_pid);
			return -1;
		}
	return 0;
}

static pid_t root_pid;

static void forward_signal(int sig)
{
	if (root_pid > 0)
		kill(root_pid, sig);
}

/*
 * The first root as a shell job in a group of its own: crest is its shell
 * (tty.c). Its stops are reported (WUNTRACED) and crest's own SIGCONT
 * is taken with SIGCHLD, both blocked, by sigtimedwait(): none is missed
 * between a look and a wait. A job crest let go on in the background
 * (bg) is given the terminal once crest has it (fg, which continues a
 * running job with no SIGCONT).
 */
static int wait_job(struct restore_ctx *ctx, pid_t root, int *status)
{
	sigset_t set, old, cont;
	int ret = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGCONT);
	sigprocmask(SIG_BLOCK, &set, &old);
	for (;;) {
		/* Behind, crest looks for its fg every 20 ms (no SIGCONT tells). */
		struct timespec ts = { tty_job_behind() ? 0 : 1,
				       tty_job_behind() ? 20 * 1000000L : 0 };
		pid_t r = waitpid(root, status, WNOHANG | WUNTRACED);
		int sig;

		if (r < 0 && errno != EINTR) {
			pr_perror("can't wait for restored process %d", root);
			ret = -1;
			break;
		}
		if (r == root && !WIFSTOPPED(*status))
			break;
		if (r == root) {
			tty_job_stopped(&ctx->files, root, WSTOPSIG(*status));
			/* The SIGCONT that woke crest: the job goes on already. */
			sigemptyset(&cont);
			sigaddset(&cont, SIGCONT);
			while (sigtimedwait(&cont, NULL, &(struct timespec){ 0, 0 }) > 0)
				;
			continue;
		}
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGCONT || tty_job_behind())
			tty_job_continued(root);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}

/* Stay the parent of the roots, like a shell: pass signals on, wait. */
static int wait_roots(struct restore_ctx *ctx)
{
	struct sigaction sa = { .sa_handler = forward_signal };
	int ret = EXIT_OK, first = 1;

	root_pid = ctx->tasks[0].new_pid;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	for (int i = 0; i < ctx->nr; i++) {
		struct restore_task *t = &ctx->tasks[i];
		int status;

		if (t->parent)
			continue;
		if (first && tty_job_control(&ctx->files, t->new_pid)) {
			if (wait_job(ctx, t->new_pid, &status))
				return EXIT_FAIL;
		} else {
			while (waitpid(t->new_pid, &status, 0) < 0) {
				if (errno != EINTR) {
					pr_perror("can't wait for restored process %d",
						  t->new_pid);
					return EXIT_FAIL;
				}
			}
		}
		if (first)
			ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		first = 0;
	}
	return ret;
}

/* Shared objects and pipes: open once here, inherited by every task. */
/*
 * Compressed pages images (dump --compress) are read through a memfd of
 * each as an uncompressed dump would have written it, made here before
 * anything is created (the earlier links of a chain too). The memfd is a
 * service fd: the tasks open it by its path in /proc, and close it.
 */
/* A chain link's compressed pages image of pid, decompressed by its pagemap. */
static int link_plain(struct restore_ctx *ctx, int k, pid_t pid, int fd, const char *path)
{
	struct chain_link *l = &ctx->chain.link[k];

	for (size_t i = 0; i < l->nr_pids; i++)
		if (l->pids[i].pid == pid && l->pids[i].loaded)
			return zpages_plain(fd, path, l->pids[i].runs, l->pids[i].nr);
	pr_err("'%s': no pagemap read for it", path);
	return -1;
}

static int plain_pages(struct restore_ctx *ctx, int base)
{
	for (int i = 0; i < ctx->nr; i++) {
		struct restore_task *t = &ctx->tasks[i];

		for (int k = 0; k < CHAIN_MAX && !t->pe->zombie; k++) {
			int fd, z, plain;
			struct stat st;

			if (!t->pages_paths[k] || t->pages_remote)
				continue;
			fd = open(t->pages_paths[k], O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				pr_perror("can't open '%s'", t->pages_paths[k]);
				return -1;
			}
			z = zpages_is(fd);
			/*
			 * Its own image: what the restorer reads (all of it, unless
			 * lazy: crest-lazy seeks to the rest); a chain link's whole.
			 */
			if (z == 1 && !k)
				plain = lazy_zpages_fill(t, fd, t->pages_paths[k], base);
			else if (z == 1)
				plain = files_to_service(link_plain(ctx, k, t->pe->pid, fd,
								    t->pages_paths[k]), base);
			close(fd);
			if (z != 1)
				continue;
			if (plain < 0)
				return -1;
			if (!k && (fstat(plain, &st) ||
				   (uint64_t)st.st_size != IMG_PAGES_OFF + t->pages_bytes)) {
				pr_err("image '%s' is truncated or corrupt: %lld bytes decompressed, the pagemap says %llu",
				       t->pages_paths[k], (long long)st.st_size,
				       (unsigned long long)(IMG_PAGES_OFF + t->pages_bytes));
				return -1;
			}
			pr_debug(!k && t->lazy ? "'%s': what the restorer reads decompressed, the rest on demand" :
				 "'%s' decompressed", t->pages_paths[k]);
			t->pages_paths[k] = xsprintf("/proc/%d/fd/%d", getpid(), plain);
			if (!k)
				t->pages_path = t->pages_paths[0];
		}
	}
	return 0;
}

static int prepare_objects(struct restore_ctx *ctx)
{
	struct rlimit rl;
	MmEntry **mms = xzalloc(ctx->nr * sizeof(*mms));
	int base = 3, nr_mms = 0, ret, pipefd[2], own_net = -1;

	/* Room for a service fd per object above every fd of the tree. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (int i = 0; i < ctx->nr; i++) {
		for (int k = 0; k < ctx->tasks[i].nr_fds; k++)
			if ((int)ctx->tasks[i].fds[k]->fd >= base)
				base = ctx->tasks[i].fds[k]->fd + 1;
		for (int j = 0; j < ctx->tasks[i].nr_tfds; j++)
			for (int k = 0; k < ctx->tasks[i].tfds[j].nr_fds; k++)
				if ((int)ctx->tasks[i].tfds[j].fds[k]->fd >= base)
					base = ctx->tasks[i].tfds[j].fds[k]->fd + 1;
		if (ctx->tasks[i].mm)
			mms[nr_mms++] = ctx->tasks[i].mm;
	}
	base = base < 10 ? 10 : base;
	if (log_move_fd(base))
		goto err;
	/* The tree's sockets are made in its network namespace. */
	if (ns_prepare(&ctx->ns, base) || ns_host_shm_prepare(&ctx->ns) ||
	    ns_enter_objects(&ctx->ns, ctx->tasks[0].pe, &own_net))
		goto err;
	ret = files_open_all(&ctx->files, &ctx->dir, base, mms, nr_mms);
	if (ns_leave_objects(own_net))
		ret = -1;
	free(mms);
	if (ret)
		return -1;

	if (pipe2(pipefd, O_CLOEXEC)) {
		pr_perror("can't create a pipe");
		return -1;
	}
	ctx->report_rfd = files_to_service(pipefd[0], base);
	ctx->sh.report_fd = files_to_service(pipefd[1], base);
	if (ctx->report_rfd < 0 || ctx->sh.report_fd < 0)
		return -1;
	for (int i = 0; i < ctx->nr; i++) {
		if (pipe2(pipefd, O_CLOEXEC)) {
			pr_perror("can't create a pipe");
			return -1;
		}
		ctx->tasks[i].sync_fd = files_to_service(pipefd[0], base);
		ctx->tasks[i].sync_wfd = files_to_service(pipefd[1], base);
		if (ctx->tasks[i].sync_fd < 0 || ctx->tasks[i].sync_wfd < 0)
			return -1;
	}

	ctx->sh.files = &ctx->files;
	ctx->sh.ns = &ctx->ns;
	ctx->sh.restore_pid = ctx->opts->restore_pid;
	ctx->sh.nr = ctx->nr;
	ctx->sh.map = mmap(NULL, ctx->nr * sizeof(*ctx->sh.map),
			   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctx->sh.map == MAP_FAILED) {
		pr_perror("can't map the pid table");
		return -1;
	}
	for (int i = 0; i < ctx->nr; i++) {
		ctx->sh.map[i].orig = ctx->tasks[i].pe->pid;
		ctx->tasks[i].restore_pid = ctx->opts->restore_pid;
		ctx->tasks[i].lazy = ctx->opts->lazy_pages;
	}
	if (plain_pages(ctx, base))
		return -1;
	/* The pages the restorers read themselves, fetched from a page server. */
	if (ctx->opts->page_server &&
	    lazy_remote_fetch(ctx->tasks, ctx->nr, ctx->opts, ctx->dir.id, base, &ctx->ps))
		return -1;
	/* Last: the server keeps none of the fds above, only the images. */
	ret = ctx->opts->lazy_pages &&
	      lazy_start(ctx->tasks, ctx->nr, ctx->dir.defer_pages_hash ? ctx->inv : NULL,
			 base, ctx->ps, &ctx->sh.lazy_fd, &ctx->lazy_pid);
	/* The connection is the lazy-pages server's now. */
	ps_disconnect(ctx->ps);
	ctx->ps = NULL;
	if (ret)
		return -1;
	return 0;
err:
	free(mms);
	return -1;
}

/* Locks the tree must take back that somebody else holds now. */
static int check_locks(struct restore_ctx *ctx)
{
	int ret = 0;

	for (int i = 0; i < ctx->nr; i++)
		if (!ctx->tasks[i].pe->zombie &&
		    locks_check_task(&ctx->files, ctx->tasks[i].pe->pid,
				     ctx->tasks[i].fds, ctx->tasks[i].nr_fds))
			ret = -1;
	if (ret)
		ctx->exit_code = EXIT_BUSY;
	return ret;
}

static void relocate_all(struct restore_ctx *ctx)
{
	const struct options *o = ctx->opts;
	char *p;

	if (!o->nr_relocs)
		return;
	for (int i = 0; i < ctx->files.nr_files; i++) {
		p = reloc_path(o->relocs, o->nr_relocs, ctx->files.files[i]->path);
		if (p) {
			pr_info("'%s' is now '%s'", ctx->files.files[i]->path, p);
			ctx->files.files[i]->path = p;
		}
	}
	for (int i = 0; i < ctx->nr; i++) {
		CoreEntry *c = ctx->tasks[i].core;

		if (!c)
			continue;
		if ((p = reloc_path(o->relocs, o->nr_relocs, c->cwd)))
			c->cwd = p;
		if ((p = reloc_path(o->relocs, o->nr_relocs, c->root)))
			c->root = p;
	}
}

/*
 * One check failed: the exit code is the first failure's. A restore stops
 * at once (true); --check-only goes on, so that every problem is told.
 */
static bool failed(struct restore_ctx *ctx, int code)
{
	if (!ctx->problems++)
		ctx->exit_code = code;
	return !ctx->opts->check_only;
}

/* Nothing in the images beyond what the caller could give itself. */
static int check_creds(struct restore_ctx *ctx)
{
	const CoreEntry **cores = xzalloc(ctx->nr * sizeof(*cores));
	pid_t *pids = xzalloc(ctx->nr * sizeof(*pids));
	int ret, n = 0;

	/*
	 * A process of a user namespace of the tree has its capabilities
	 * there, which crest makes and owns: it has every one over it.
	 */
	for (int i = 0; i < ctx->nr; i++) {
		if (ctx->tasks[i].pe->user_ns)
			continue;
		cores[n] = ctx->tasks[i].core;
		pids[n++] = ctx->tasks[i].pe->pid;
	}
	ret = creds_check(cores, pids, n);
	free(cores);
	free(pids);
	return ret;
}

/* Every restorer is done: the mounts of the tree's mount namespaces. */
static int restore_mounts(struct restore_ctx *ctx)
{
	pid_t *host = xzalloc((ctx->ns.nr + 1) * sizeof(*host));
	int ret;

	for (int k = 0; k < ctx->ns.nr; k++) {
		struct restore_task *t = task_by_pid(ctx, ctx->ns.ns[k]->entered_by);

		host[k] = t ? t->new_pid : 0;
	}
	ret = mntns_restore_mounts(&ctx->ns, host);
	free(host);
	return ret;
}

static int check_ns(struct restore_ctx *ctx)
{
	PstreeEntry **pes = xzalloc(ctx->nr * sizeof(*pes));
	int ret;

	for (int i = 0; i < ctx->nr; i++)
		pes[i] = ctx->tasks[i].pe;
	ret = ns_check(&ctx->ns, pes, ctx->nr);
	free(pes);
	return ret;
}

/* Is path the directory crest's root is? */
static bool own_root(const char *path)
{
	struct stat a, b;

	return !stat(path, &a) && !stat("/", &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * An fd of a task of a mount namespace (a copy of crest's) on a mount of
 * the caller's (--external): opened below the path given for it, as
 * crest sees it -- the namespace's own bind comes after the files.
 */
static void ext_files(struct restore_ctx *ctx)
{
	bool *done = xzalloc((ctx->files.nr_files + 1) * sizeof(*done));

	for (int i = 0; i < ctx->nr; i++) {
		const PstreeEntry *pe = ctx->tasks[i].pe;
		int k = -1;

		for (int j = 0; pe->has_mnt_ns && j < ctx->ns.nr; j++)
			if (ctx->ns.ns[j]->id == pe->mnt_ns)
				k = j;
		for (int j = 0; k >= 0 && j < ctx->tasks[i].nr_fds; j++)
			for (int f = 0; f < ctx->files.nr_files; f++) {
				RegFileEntry *e = ctx->files.files[f];
				char *p;

				if (done[f] || e->id != ctx->tasks[i].fds[j]->file_id ||
				    e->has_proc_pid || !(p = mntns_ext_file(&ctx->ns, k, e->path)))
					continue;
				pr_info("'%s', on an external mount, is opened as '%s'", e->path, p);
				e->path = p;
				done[f] = true;
			}
	}
	free(done);
}

/*
 * A mount namespace whose root was pivot_root'ed into (a container's):
 * made now by a holder, with --root as its root, and the tree's files
 * are opened through it, on the mounts the tree will see -- but for the
 * device nodes reopened as crest's (--evasive-devices).
 */
static int root_files(struct restore_ctx *ctx)
{
	const struct options *o = ctx->opts;
	bool *evasive;
	const char *prefix;
	int k = -1;

	for (int j = 0; j < ctx->ns.nr; j++) {
		if (!mntns_rooted(&ctx->ns, j))
			continue;
		if (k >= 0) {
			pr_err("mount namespaces %u and %u have a root of their own each: only one is supported yet",
			       ctx->ns.ns[k]->id, ctx->ns.ns[j]->id);
			return -1;
		}
		k = j;
	}
	if (k < 0) {
		if (o->root && !own_root(o->root)) {
			pr_err("--root '%s': the images have no mount namespace whose root was bound there and pivot_root'ed into; crest restores this tree only under its own root",
			       o->root);
			return -1;
		}
		ext_files(ctx);
		return 0;
	}
	for (int i = 0; i < ctx->nr; i++) {
		const PstreeEntry *pe = ctx->tasks[i].pe;

		if (!pe->has_mnt_ns || pe->mnt_ns != ctx->ns.ns[k]->id) {
			pr_err("process %u is outside mount namespace %u, which has a root of its own (--root): a tree spread over it and others is not supported yet",
			       pe->pid, ctx->ns.ns[k]->id);
			return -1;
		}
	}
	if (mntns_make_roots(&ctx->ns))
		return -1;
	prefix = mntns_root_prefix(&ctx->ns, k);
	evasive = xzalloc((ctx->files.nr_files + 1) * sizeof(*evasive));
	for (int i = 0; i < ctx->nr; i++)
		for (int j = 0; j < ctx->tasks[i].nr_fds; j++) {
			const FdEntry *fd = ctx->tasks[i].fds[j];

			if (!mntns_evasive_fd(&ctx->ns, k, ctx->tasks[i].pe->pid, fd->fd))
				continue;
			for (int f = 0; f < ctx->files.nr_files; f++)
				if (ctx->files.files[f]->id == fd->file_id)
					evasive[f] = true;
		}
	for (int f = 0; f < ctx->files.nr_files; f++) {
		RegFileEntry *e = ctx->files.files[f];

		if (evasive[f] || e->has_proc_pid || e->path[0] != '/')
			continue;
		e->path = xsprintf("%s%s", prefix, e->path);
	}
	free(evasive);
	return 0;
}

/*
 * --inherit-fd: the caller's fd must be open, and a key naming an fd of
 * the tree that did not lead outside is refused (crest replaces only
 * those); a key naming nothing is ignored, as CRIU does.
 */
static int check_inherit(struct restore_ctx *ctx)
{
	const struct options *o = ctx->opts;
	int ret = 0;

	for (int n = 0; n < o->nr_inherit_fd; n++) {
		const struct inherit_fd *in = &o->inherit_fd[n];
		bool used = false;

		if (fcntl(in->fd, F_GETFD) < 0) {
			pr_perror("--inherit-fd fd[%d]:%s: fd %d is not open", in->fd,
				  in->key, in->fd);
			ret = -1;
			continue;
		}
		for (int i = 0; i < ctx->nr; i++)
			for (int j = 0; j < ctx->tasks[i].nr_fds; j++) {
				const FdEntry *e = ctx->tasks[i].fds[j];

				if (!e->desc || strcmp(e->desc, in->key))
					continue;
				if (e->kind == FD_KIND__FD_EXTERNAL) {
					used = true;
					continue;
				}
				pr_err("--inherit-fd fd[%d]:%s names fd %u of process %u, which is saved in the checkpoint: crest gives the caller's fd only to a file that led outside it",
				       in->fd, in->key, e->fd, ctx->tasks[i].pe->pid);
				used = true;
				ret = -1;
			}
		if (!used)
			pr_info("--inherit-fd fd[%d]:%s: no fd of the tree led outside to '%s'; ignored",
				in->fd, in->key, in->key);
	}
	return ret;
}

/* The tree's cgroups are there, or may be made (--manage-cgroups). */
static int check_cgroups(struct restore_ctx *ctx)
{
	CoreEntry **cores = xzalloc((ctx->nr + 1) * sizeof(*cores));
	pid_t *pids = xzalloc((ctx->nr + 1) * sizeof(*pids));
	int ret;

	for (int i = 0; i < ctx->nr; i++) {
		cores[i] = ctx->tasks[i].core;
		pids[i] = ctx->tasks[i].pe->pid;
	}
	ret = cgroup_check(&ctx->cg, cores, pids, ctx->nr);
	free(pids);
	free(cores);
	return ret;
}

/* ... made and set before the first process exists. */
static int make_cgroups(struct restore_ctx *ctx)
{
	CoreEntry **cores = xzalloc((ctx->nr + 1) * sizeof(*cores));
	int ret;

	for (int i = 0; i < ctx->nr; i++)
		cores[i] = ctx->tasks[i].core;
	ret = cgroup_make(&ctx->cg, cores, ctx->nr);
	free(cores);
	/* Where each process joins, found now: inside a cgroup namespace it can't. */
	for (int i = 0; !ret && i < ctx->nr; i++) {
		struct restore_task *t = &ctx->tasks[i];

		if (!t->core || !t->core->attrs)
			continue;
		t->cg_dirs = cgroup_task_dirs(t->core, false);
		t->cg_ns_dirs = cgroup_task_dirs(t->core, true);
		if (!t->cg_dirs || !t->cg_ns_dirs)
			ret = -1;
	}
	return ret;
}

static int checks(struct restore_ctx *ctx)
{
	if (root_files(ctx) && failed(ctx, EXIT_IMAGE))
		return -1;
	relocate_all(ctx);
	if (check_cpu(ctx) && failed(ctx, EXIT_IMAGE))
		return -1;
	for (int i = 0; i < ctx->nr; i++)
		if (ctx->tasks[i].core && timers_check_kernel(ctx->tasks[i].core,
							      ctx->tasks[i].pe->pid) &&
		    failed(ctx, EXIT_IMAGE))
			return -1;
	if (check_creds(ctx) && failed(ctx, EXIT_FAIL))
		return -1;
	for (int i = 0; ctx->opts->restore_pid && i < ctx->nr; i++) {
		const CoreEntry *c = ctx->tasks[i].core;

		if (check_pid(ctx->tasks[i].pe->pid) && failed(ctx, EXIT_BUSY))
			return -1;
		/* The threads get their TIDs back too. */
		for (size_t k = 0; c && k < c->n_threads; k++)
			if (c->threads[k]->tid != ctx->tasks[i].pe->pid &&
			    check_pid(c->threads[k]->tid) && failed(ctx, EXIT_BUSY))
				return -1;
	}
	if (files_check(&ctx->files) && failed(ctx, EXIT_FILES))
		return -1;
	if (check_inherit(ctx) && failed(ctx, EXIT_USAGE))
		return -1;
	if (check_cgroups(ctx) && failed(ctx, EXIT_FILES))
		return -1;
	if (plan_tree(ctx) && failed(ctx, EXIT_FAIL))
		return -1;
	if (check_ns(ctx) && failed(ctx, EXIT_IMAGE))
		return -1;
	if (premap_plan(ctx->tasks, ctx->nr) && failed(ctx, EXIT_IMAGE))
		return -1;
	if (ctx->problems)
		return -1;
	ctx->exit_code = EXIT_FAIL;
	return 0;
}

/* restore --check-only: the verdict, on stdout, once every check ran. */
static int check_only_verdict(struct restore_ctx *ctx, const char *where)
{
	if (ctx->problems) {
		printf("'%s' can't be restored here (every problem is listed above); nothing was created\n",
		       where);
		return ctx->exit_code;
	}
	printf("'%s' can be restored here: %d process%s, %s; nothing was created\n",
	       where, ctx->nr, ctx->nr == 1 ? "" : "es",
	       !ctx->opts->restore_pid ? "under new PIDs" :
	       ctx->nr == 1 ? "its PID is free" : "their PIDs are free");
	return EXIT_OK;
}

/* --status-fd: the caller learns the tree runs (CRIU's "\0", then EOF). */
static int notify_status(int fd)
{
	ssize_t n;

	do
		n = write(fd, "", 1);
	while (n < 0 && errno == EINTR);
	if (n != 1) {
		pr_perror("can't write to --status-fd %d", fd);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Processes restored and their pages, counted as each restorer finishes. */
static void start_progress(struct restore_ctx *ctx)
{
	uint64_t total = 0;
	int nr = 0;

	for (int i = 0; i < ctx->nr; i++) {
		if (ctx->tasks[i].pe->zombie)
			continue;
		total += ctx->tasks[i].pages_bytes;
		nr++;
	}
	progress_start(ctx->opts, "restore", total, nr);
}

int cr_restore(const struct options *opts)
{
	struct restore_ctx ctx = { .opts = opts, .exit_code = EXIT_IMAGE };
	bool stream = opts->file || opts->fd >= 0;
	const char *where = stream ? (opts->file ? opts->file : "the context fd") : opts->dir;
	char *staging = NULL;
	int ret;

	ctx.dir.dirfd = -1;
	ctx.sh.lazy_fd = -1;
	if (check_privileges("restore"))
		return EXIT_FAIL;
	ctx.own_fds = open_fds(&ctx.nr_own_fds);
	if (opts->verify_key && sign_key_load(opts->verify_key, &ctx.key)) {
		ctx.exit_code = EXIT_USAGE;
		goto err;
	}
	if (stream) {
		/* A context that is not there is missing images (3). */
		staging = context_unpack(opts);
		if (!staging)
			goto err;
	}
	if (img_dir_open(&ctx.dir, stream ? staging : opts->dir, false))
		goto err;
	/* Messages name a section of the context as "FILE/NAME", not the staging. */
	if (stream) {
		free(ctx.dir.path);
		ctx.dir.path = xstrdup(opts->file && strcmp(opts->file, "-") ?
				       opts->file : opts->file ? "stdin" : "the context fd");
	}
	/* The staging directory is crest's own; a context file is checked. */
	ctx.dir.check_owner = geteuid() == 0 && !opts->trust_images && !stream;
	/* A signed set is checked whole before it runs; otherwise crest-lazy does. */
	ctx.dir.defer_pages_hash = opts->lazy_pages && !opts->verify_key && !opts->check_only;
	/* --page-server: pages images the dump sent there are not here. */
	ctx.dir.pages_elsewhere_ok = opts->page_server;
	if (geteuid() == 0 && !opts->trust_images && opts->file &&
	    strcmp(opts->file, "-") && check_context_owner(opts->file))
		goto err;
	ret = read_images(&ctx);
	sign_key_wipe(&ctx.key);
	if (ret) {
		if (opts->check_only)
			pr_err("'crest verify %s' lists everything wrong with the images", where);
		goto err;
	}
	if (opts->check_only) {
		checks(&ctx);
		ret = check_only_verdict(&ctx, where);
		img_dir_close(&ctx.dir);
		context_remove_dir(staging);
		free(staging);
		return ret;
	}
	if (checks(&ctx))
		goto err;
	if (opts->detach && !opts->caller_waits && tty_shell_job(&ctx.files)) {
		pr_err("the checkpoint is a job of a terminal (dump --shell-job): with -d crest would exit at once, its shell would take the terminal back and the job would stop at its first read; restore it without -d");
		ctx.exit_code = EXIT_USAGE;
		goto err;
	}
	if (make_cgroups(&ctx) || prepare_objects(&ctx) || check_locks(&ctx))
		goto err_modes;
	start_progress(&ctx);
	if (create_tree(&ctx) || run_restorers(&ctx) || restore_mounts(&ctx) ||
	    job_foreground(&ctx) ||
	    finish_all(&ctx)) {
		progress_end();
		kill_all(&ctx);
		mntns_end_roots(&ctx.ns);
		goto err_modes;
	}
	mntns_end_roots(&ctx.ns);
	progress_end();
	pr_info("%d process%s restored", ctx.nr, ctx.nr > 1 ? "es" : "");
	/* Everything is in the processes' memory now: the staging can go. */
	img_dir_close(&ctx.dir);
	release_objects(&ctx);
	context_remove_dir(staging);
	free(staging);
	if (after_restore(&ctx))
		return EXIT_FAIL;
	if (opts->pidfile && write_pidfile(opts->pidfile, ctx.tasks[0].new_pid))
		return EXIT_FAIL;
	if (opts->status_fd >= 0 && notify_status(opts->status_fd))
		return EXIT_FAIL;
	if (opts->detach)
		return EXIT_OK;
	ret = wait_roots(&ctx);
	tty_restore_done(&ctx.files);
	return ret;
err_modes:
	tty_restore_done(&ctx.files);
err:
	/* Cgroups made for the tree go, as do segments of the machine's IPC namespace. */
	cgroup_undo(&ctx.cg);
	ns_host_shm_undo(&ctx.ns);
	mntns_end_roots(&ctx.ns);
	sign_key_wipe(&ctx.key);
	img_dir_close(&ctx.dir);
	context_remove_dir(staging);
	free(staging);
	/* The cause has been said where it happened. */
	if (opts->check_only)
		log_msg(LOG_ERROR, "'%s' can't be restored here; nothing was created\n", where);
	else
		log_msg(LOG_ERROR, "restore from '%s' failed; nothing was left running\n", where);
	if (!opts->check_only && ctx.inv && ctx.inv->netlock) {
		pid_t keeper = net_lock_keeper_pid(ctx.inv->netlock);

		if (keeper > 0)
			log_msg(LOG_ERROR, "the dump's network lock still holds its TCP connections (keeper '@%s', crest-netlock, pid %d): a restore again carries them on; kill the keeper to let them go\n",
				ctx.inv->netlock, keeper);
	}
	return ctx.exit_code;
}
