/*
 * crest dump: the pipeline, top to bottom. Each step lives in its own
 * module; any failure unwinds so the tree runs on as it was and the
 * earlier image set stays untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chain.h"
#include "check.h"
#include "context.h"
#include "dump.h"
#include "files.h"
#include "image.h"
#include "log.h"
#include "mem.h"
#include "mem-zpages.h"
#include "namespaces.h"
#include "opts.h"
#include "dedup.h"
#include "page-server.h"
#include "parasite.h"
#include "proc.h"
#include "progress.h"
#include "pstree.h"
#include "refuse.h"
#include "cgroup.h"
#include "seize.h"
#include "task.h"
#include "timers.h"
#include "track.h"
#include "task-attrs.h"
#include "unsaved.h"
#include "util.h"

#include "freezer.h"
#include "sign.h"
#include "inventory.pb-c.h"
#include "pstree.pb-c.h"

#define PARASITE_DATA_SIZE	(256 << 10)

/*
 * Set when the crest the user started is gone (or was interrupted): the
 * worker stops at the next safe point, cures, detaches and cleans up.
 */
static volatile sig_atomic_t dump_aborted;

static volatile sig_atomic_t dump_timed_out;

static int check_abort(void)
{
	if (!dump_aborted)
		return 0;
	if (dump_timed_out) {
		log_set_errno(ETIMEDOUT);
		pr_err("the checkpoint took longer than its time limit (-t)");
	} else {
		pr_err("crest was interrupted");
	}
	return -1;
}

static void on_alarm(int sig)
{
	dump_timed_out = 1;
	dump_aborted = 1;
}

struct dump_ctx {
	const struct options *opts;
	struct pstree tree;
	struct img_dir dir;
	struct dump_files files;
	int exit_code;			/* class of the failure */
	struct sign_key key;		/* --sign-key; len 0: none */
	/* A chain: the previous dump; a pre-dump: the tracking it starts. */
	struct chain_prev prev;
	bool chained;
	struct track *trk;
	int nr_trk;
	char *tracker;			/* the keeper's name, for the inventory */
	struct ns_dump ns;		/* the tree's namespaces */
	struct cgroup_dump cg;		/* the tree's cgroups (cgroup.c) */
};

static int add_exe(struct dump_ctx *ctx, struct pstree_item *it)
{
	char path[64], *exe;
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/exe", it->live);
	exe = readlink_alloc(path);
	if (!exe || stat(path, &st)) {
		pr_perror("can't read the executable of process %d", it->pid);
		free(exe);
		return -1;
	}
	it->mm.has_exe_file_id = 1;
	files_add_mapped(&ctx->files, exe, &st, &it->mm.exe_file_id);
	free(exe);
	return 0;
}

/* --save-exe/-private/-shared: the mapped files to embed in the images. */
static void save_mapped_files(struct dump_ctx *ctx)
{
	unsigned int save = ctx->opts->save;

	if (!save)
		return;
	for (int i = 0; i < ctx->tree.nr; i++) {
		struct pstree_item *it = ctx->tree.items[i];

		if (it->zombie)
			continue;
		if ((save & SAVE_EXE) && it->mm.has_exe_file_id)
			files_save(&ctx->files, it->mm.exe_file_id);
		for (int k = 0; k < it->mem.nr_vmas; k++) {
			const VmaEntry *v = it->mem.vmas[k];

			if (!v->has_file_id)
				continue;
			if ((v->kind == VMA_KIND__VMA_FILE_PRIVATE && (save & SAVE_PRIVATE)) ||
			    (v->kind == VMA_KIND__VMA_FILE_SHARED && (save & SAVE_SHARED)))
				files_save(&ctx->files, v->file_id);
		}
	}
}

/*
 * Anything crest can't save was refused (refuse.h) while collecting, and
 * collecting went on: the whole list goes out at once.
 */
static int refused(struct dump_ctx *ctx)
{
	if (!refusals_nr())
		return 0;
	ctx->exit_code = EXIT_UNSUPPORTED;
	if (!ctx->opts->check_only)
		refusals_report();
	return -1;
}

/*
 * What /proc tells from outside, for every process, before any parasite.
 * Every process, fd and mapping is looked at even after a refusal, so
 * the refusal lists everything in the way.
 */
static int collect(struct dump_ctx *ctx)
{
	int bad = 0;

	ctx->exit_code = EXIT_UNSUPPORTED;
	for (int i = 0; i < ctx->tree.nr; i++) {
		struct pstree_item *it = ctx->tree.items[i];

		if (it->zombie)
			continue;
		if (mem_collect(it->live, &it->mem, &ctx->files))
			return -1;
		if (ctx->chained)
			chain_attach(&ctx->prev, it->pid, &it->mem);
		if (mem_check_flags(it->live, &it->mem) ||
		    files_dump_fds(&ctx->files, it) ||
		    files_dump_dirs(&ctx->files, it->live, &it->cwd_file_id,
				    &it->root_file_id) ||
		    unsaved_check(it) ||
		    add_exe(ctx, it))
			return -1;
		/*
		 * These say what they refuse themselves, as errors: the other
		 * processes are still looked at, so that all is said at once.
		 */
		if (timers_collect(it, &it->ptimers))
			bad = 1;
		if (attrs_collect(it))
			bad = 1;
	}
	/* The whole tree's checks (locks no fd shows...) refuse with the rest. */
	if (files_dump_collected(&ctx->files, &ctx->tree))
		bad = 1;
	ctx->ns.ext = ctx->opts->ext_mnt;
	ctx->ns.nr_ext = ctx->opts->nr_ext_mnt;
	if (ns_collect(&ctx->ns, &ctx->tree))
		return -1;
	if (!bad && cgroup_collect(&ctx->cg, &ctx->tree, ctx->opts->manage_cgroups))
		return -1;
	if (refused(ctx) || bad)
		return -1;
	save_mapped_files(ctx);
	ctx->exit_code = EXIT_FAIL;
	return 0;
}

/*
 * A pre-dump: from now on the process's writes are noted, for the dump
 * that follows. The tracking of an earlier pre-dump goes first (a mapping
 * is registered with one userfaultfd at a time). A process that can't be
 * tracked is saved in full next time: said, not fatal.
 */
static void start_tracking(struct dump_ctx *ctx, struct pstree_item *it,
			   struct parasite_ctl *ctl)
{
	int old = ctx->chained ? chain_take_uffd(&ctx->prev, it->pid) : -1, uffd, pidfd;

	if (old >= 0)
		close(old);
	if (track_start(ctl, &it->mem, &uffd)) {
		pr_warn("process %d is not tracked: the next dump saves all its memory",
			it->pid);
		return;
	}
	pidfd = (int)syscall(SYS_pidfd_open, it->pid, 0);
	if (pidfd < 0) {
		pr_perror("can't open a pidfd of process %d", it->pid);
		close(uffd);
		return;
	}
	ctx->trk = xrealloc(ctx->trk, (ctx->nr_trk + 1) * sizeof(*ctx->trk));
	ctx->trk[ctx->nr_trk++] = (struct track){ .pid = it->pid, .uffd = uffd,
						  .pidfd = pidfd };
}

/* Infect, ask, stream the pages, cure: the only time foreign code runs. */
static int dump_with_parasite(struct dump_ctx *ctx, struct pstree_item *it)
{
	struct parasite_ctl *ctl;
	struct image *pagemap, *pages;
	struct mem_parent par = {};
	int ret = -1;

	ctl = parasite_infect(it->live, it->mem.vdso_start, it->mem.vdso_end,
			      PARASITE_DATA_SIZE, it->nr_threads - 1);
	if (!ctl)
		return -1;
	if (mem_future_lock(it->live, ctl->remote, &it->mm) || mem_ksm(it->live, &it->mm) ||
	    aio_check_owned(ctl, it->pid, &it->mem) ||
	    parasite_cmd(ctl, PARASITE_CMD_INFO))
		goto cure;
	it->info = ctl->args->info;
	if (timers_dump(ctl, &it->ptimers))
		goto cure;
	/* Before the pages: it uses the area's data too, and fires a signal. */
	if (mq_notify_dump(&ctx->ns, it, ctl))
		goto cure;
	/* What only each thread can tell: its altstack, its clear_tid. */
	it->tinfo = xzalloc(it->nr_threads * sizeof(*it->tinfo));
	it->tinfo[0] = it->info;
	for (int k = 1; k < it->nr_threads; k++) {
		struct parasite_args *a = parasite_thread_cmd(ctl, k - 1, it->threads[k],
							      PARASITE_CMD_INFO);

		if (!a)
			goto cure;
		it->tinfo[k] = a->info;
	}
	pagemap = img_create(&ctx->dir, IMG_PAGEMAP, it->pid);
	pages = img_create(&ctx->dir, IMG_PAGES, it->pid);
	if (!pagemap || !pages)
		goto cure;
	/*
	 * --compress: the pages as zstd frames, run by run, compressed as
	 * they leave the target (a stream then carries this image as it is).
	 */
	if (ctx->opts->compress) {
		if (zpages_mark(pages))
			goto cure;
		pages->zpages = true;
	}
	if (fault("dump-pages")) {
		pr_err("fault injected: dump-pages");
		goto cure;
	}
	/* Parents are dumped first: the parent's pages lie still now. */
	if (it->parent && it->parent->pages_dumped) {
		par.pid = it->parent->live;
		par.ml = &it->parent->mem;
	}
	if (check_abort() ||
	    mem_dump_pages(ctl, &it->mem, par.ml ? &par : NULL, pagemap, pages))
		goto cure;
	if (ctx->opts->pre_dump)
		start_tracking(ctx, it, ctl);
	ret = 0;
cure:
	if (parasite_cure(ctl))
		ret = -1;
	return ret;
}

/*
 * What the progress line counts up to: the anonymous memory the
 * processes hold (RssAnon), nearly the pages a dump saves. Pages shared
 * with a parent or unchanged since a pre-dump make it an upper bound.
 */
static void start_progress(struct dump_ctx *ctx)
{
	uint64_t total = 0;
	int nr = 0;

	for (int i = 0; i < ctx->tree.nr; i++) {
		struct pstree_item *it = ctx->tree.items[i];
		char *status;
		const char *v;

		if (it->zombie)
			continue;
		nr++;
		status = read_proc(it->live, "status", NULL);
		v = status ? proc_field(status, "RssAnon") : NULL;
		if (v)
			total += strtoull(v, NULL, 10) * 1024;
		free(status);
	}
	progress_start(ctx->opts, ctx->opts->pre_dump ? "pre-dump" : "dump", total, nr);
}

static int dump_task(struct dump_ctx *ctx, struct pstree_item *it)
{
	if (dump_with_parasite(ctx, it) || check_abort())
		return -1;
	it->pages_dumped = true;
	it->core = task_dump_core(it);
	if (!it->core)
		return -1;
	if (task_dump_mm(it->live, &it->stat, &it->info, &it->mm))
		return -1;
	return 0;
}

static int write_task(struct dump_ctx *ctx, struct pstree_item *it)
{
	struct image *img;

	img = img_create(&ctx->dir, IMG_CORE, it->pid);
	if (!img || img_write_msg(img, &it->core->base))
		return -1;
	/* Last, the tree still frozen: what completed during the dump. */
	if (aio_reread(it->live, &it->mem))
		return -1;
	it->mm.n_vmas = it->mem.nr_vmas;
	it->mm.vmas = it->mem.vmas;
	img = img_create(&ctx->dir, IMG_MM, it->pid);
	if (!img || img_write_msg(img, &it->mm.base))
		return -1;
	return files_write_fdinfo(it, &ctx->dir);
}


#define ZOMBIE_NR_RLIMITS	16

/* "SigBlk:\t0000000000010000" of a status file: the mask, 0 if absent. */
static uint64_t status_mask(const char *buf, const char *key)
{
	const char *p = buf ? strstr(buf, key) : NULL;

	return p ? strtoull(p + strlen(key) + 1, NULL, 16) : 0;
}

static uint64_t limit_value(const char *s)
{
	return strcmp(s, "unlimited") ? strtoull(s, NULL, 10) : RLIM_INFINITY;
}

/*
 * What /proc shows of a zombie (or of the exited main thread of a
 * zombie leader) that its restored stand-in must show too: it exits at
 * once in the restore, so these are all it has (crest(8)).
 */
static int zombie_fill(struct pstree_item *it, PstreeEntry *pe, char *comm,
		       uint64_t *cur, uint64_t *max)
{
	char path[64], *buf, *line, *save = NULL;
	int n = 0;

	snprintf(path, sizeof(path), "task/%d/status", it->pid);
	buf = read_proc(it->pid, path, NULL);
	if (!buf) {
		pr_err("can't read the status of the exited task %d", it->pid);
		return -1;
	}
	pe->has_blocked = true;
	pe->blocked = status_mask(buf, "SigBlk:");
	if (it->zombie) {
		pe->has_caught = pe->has_ignored = true;
		pe->caught = status_mask(buf, "SigCgt:");
		pe->ignored = status_mask(buf, "SigIgn:");
	}
	free(buf);
	if (!it->zombie)
		return 0;
	snprintf(comm, 64, "%s", it->stat.comm);
	pe->comm = comm;
	buf = read_proc(it->pid, "limits", NULL);
	if (!buf) {
		pr_err("can't read the limits of the zombie %d", it->pid);
		return -1;
	}
	/* The rows are in resource order (fs/proc/base.c lnames[]). */
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char soft[32], hard[32];

		if (strncmp(line, "Max ", 4) || strlen(line) < 26 ||
		    n >= ZOMBIE_NR_RLIMITS)
			continue;
		if (sscanf(line + 25, "%31s %31s", soft, hard) != 2)
			continue;
		cur[n] = limit_value(soft);
		max[n] = limit_value(hard);
		n++;
	}
	free(buf);
	if (n != ZOMBIE_NR_RLIMITS) {
		pr_err("can't parse the limits of the zombie %d (%d rows)", it->pid, n);
		return -1;
	}
	pe->n_rlim_cur = pe->n_rlim_max = n;
	pe->rlim_cur = cur;
	pe->rlim_max = max;
	return 0;
}

static int write_images(struct dump_ctx *ctx)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	uint32_t *pids = xzalloc(ctx->tree.nr * sizeof(uint32_t));
	struct image *pst;
	struct utsname u;
	int ret = -1;

	pst = img_create(&ctx->dir, IMG_PSTREE, 0);
	if (!pst)
		goto out;
	for (int i = 0; i < ctx->tree.nr; i++) {
		struct pstree_item *it = ctx->tree.items[i];
		PstreeEntry pe = PSTREE_ENTRY__INIT;
		uint32_t tid = it->pid;
		char comm[64];
		uint64_t rlim_cur[ZOMBIE_NR_RLIMITS], rlim_max[ZOMBIE_NR_RLIMITS];

		pe.pid = it->pid;
		pe.ppid = it->parent ? it->ppid : 0;
		pe.pgid = it->pgid;
		pe.sid = it->sid;
		pe.n_threads = it->zombie ? 1 : it->nr_threads;
		pe.threads = it->zombie ? &tid : (uint32_t *)it->threads;
		pe.has_zombie = pe.zombie = it->zombie;
		pe.has_exit_status = it->zombie;
		pe.exit_status = it->exit_status;
		pe.has_stopped = pe.stopped = it->stopped;
		pe.has_stop_signal = it->stopped;
		pe.stop_signal = it->stop_signal;
		pe.has_stop_waited = it->stopped;
		pe.stop_waited = it->stopped && !it->stat.exit_code;
		pe.has_zombie_leader = pe.zombie_leader = it->zombie_leader;
		int cont = pstree_cont_pending(it);

		if (cont < 0)
			goto out;
		pe.has_cont_pending = pe.cont_pending = cont;
		uint32_t own[it->nr_tfds + 1];

		for (int k = 0; k < it->nr_tfds; k++)
			own[k] = it->tfds[k].tid;
		pe.n_own_files = it->nr_tfds;
		pe.own_files = own;
		pe.has_shares_files = pe.shares_files = it->shares_files;
		ns_fill_pstree(it, &pe);
		if ((it->zombie || it->zombie_leader) &&
		    zombie_fill(it, &pe, comm, rlim_cur, rlim_max))
			goto out;
		if (img_write_msg(pst, &pe.base))
			goto out;
		pids[i] = it->pid;
		if (!it->zombie && write_task(ctx, it))
			goto out;
	}
	if (files_write(&ctx->files, &ctx->dir) || ns_write(&ctx->ns, &ctx->dir) ||
	    cgroup_write(&ctx->cg, &ctx->dir))
		goto out;

	uname(&u);
	inv.img_version = IMG_VERSION;
	inv.root_pid = ctx->tree.items[0]->pid;
	inv.dump_time = time(NULL);
	inv.kernel = u.release;
	inv.n_pids = ctx->tree.nr;
	inv.pids = pids;
	inv.netlock = ctx->files.netlock;
	if (ctx->chained) {
		inv.prev_dir = (char *)ctx->prev.arg;
		inv.has_prev_id = 1;
		inv.prev_id.data = ctx->prev.dir.id;
		inv.prev_id.len = IMG_ID_SIZE;
	}
	if (ctx->opts->pre_dump) {
		inv.has_pre_dump = inv.pre_dump = 1;
		/* The keeper of this name starts once the set is committed. */
		if (ctx->nr_trk) {
			char id[2 * IMG_ID_SIZE + 1];

			img_id_str(ctx->dir.id, id);
			ctx->tracker = xsprintf("crest-track-%s", id);
			inv.tracker = ctx->tracker;
		}
	}
	pst = img_create(&ctx->dir, IMG_INVENTORY, 0);
	if (!pst || img_list_files(&ctx->dir, &inv) ||
	    img_write_msg(pst, &inv.base))
		goto out;
	/* The inventory names every file with its hash: its MAC covers all. */
	if (ctx->key.len && sign_write(&ctx->dir, pst, &ctx->key))
		goto out;
	ret = img_commit_set(&ctx->dir);
out:
	img_free_list(&inv);
	free(pids);
	return ret;
}

static int signal_tree(struct pstree *t, int sig)
{
	int ret = 0;

	for (int i = 0; i < t->nr; i++) {
		if (t->items[i]->zombie)
			continue;
		if (kill(t->items[i]->pid, sig) && errno != ESRCH) {
			pr_perror("can't send signal %d to process %d", sig,
				  t->items[i]->pid);
			ret = -1;
		}
	}
	return ret;
}

/* What becomes of the tree once its checkpoint is safe: BLCR's choices. */
static int after_dump(struct dump_ctx *ctx)
{
	const struct options *o = ctx->opts;
	int ret = 0;

	if (o->after_dump == AFTER_KILL && !dump_aborted) {
		/* Kill while still seized: none runs another instruction. */
		for (int i = 0; i < ctx->tree.nr; i++) {
			struct pstree_item *it = ctx->tree.items[i];

			if (it->seized && kill_task(it->pid, it->threads, it->nr_threads))
				ret = -1;
		}
		return ret;
	}
	pstree_let_go(&ctx->tree);
	if (dump_aborted)
		return 0;
	switch (o->after_dump) {
	case AFTER_RUN:		return 0;
	case AFTER_STOP:	return signal_tree(&ctx->tree, SIGSTOP);
	case AFTER_TERM:	return signal_tree(&ctx->tree, SIGTERM);
	case AFTER_ABORT:	return signal_tree(&ctx->tree, SIGABRT);
	case AFTER_CONT:	return signal_tree(&ctx->tree, SIGCONT);
	case AFTER_SIGNAL:	return signal_tree(&ctx->tree, o->after_signal);
	default:		return 0;
	}
}

/* The crest the user started; the dump runs in its worker. */
static pid_t dump_parent;

/*
 * What a failed dump leaves, in its last line: the cause has been said
 * where it happened; this says what became of the processes and of the
 * images, as they really are.
 */
static void say_failed(const struct options *opts, const struct dump_ctx *ctx,
		       bool stream, bool had_ckpt)
{
	const char *procs = ctx->tree.touched ? "the processes run on as they were" :
			    "no process was touched";

	if (stream && opts->file && had_ckpt)
		log_msg(LOG_ERROR, "dump of %d failed; %s and '%s' is untouched\n",
			opts->pid, procs, opts->file);
	else if (stream)
		log_msg(LOG_ERROR, "dump of %d failed; %s and no checkpoint was written\n",
			opts->pid, procs);
	else if (had_ckpt)
		log_msg(LOG_ERROR, "dump of %d failed; %s and the earlier checkpoint in '%s' is untouched\n",
			opts->pid, procs, opts->dir);
	else
		log_msg(LOG_ERROR, "dump of %d failed; %s and no checkpoint was written to '%s'\n",
			opts->pid, procs, opts->dir);
}

/*
 * The scope kept changing while we seized it (processes that fork and
 * exit faster than crest can stop them): nothing is seized now. If a
 * freezer cgroup holds the processes and nothing else, freeze it for the
 * moment (everything in it stops at once) and seize again; otherwise say
 * which cgroup is in the way and how to give them one.
 */
static int seize_freezing(struct dump_ctx *ctx, const struct pstree_policy *pol)
{
	const struct options *opts = ctx->opts;
	char *cg, *why;
	int ret;

	if (!freezer_find_own(opts->scope, opts->pid, pol, &cg, &why)) {
		pr_err("the processes of %d keep forking or changing faster than crest can seize them, "
		       "and crest can't freeze them: %s; put them in a freezer cgroup of their own "
		       "and give it with --freeze-cgroup=PATH", opts->pid, why);
		free(why);
		return -1;
	}
	pr_warn("the processes of %d keep forking or changing faster than crest can seize them: "
		"freezing their cgroup '%s' (it holds them and nothing else) while crest seizes them",
		opts->pid, cg);
	ret = pstree_seize_frozen(&ctx->tree, cg, opts->scope, opts->pid, pol);
	if (ret == PSTREE_UNSETTLED) {
		pr_err("the processes of %d kept changing even with '%s' frozen", opts->pid, cg);
		ret = -1;
	}
	free(cg);
	return ret;
}

static int seize(struct dump_ctx *ctx)
{
	const struct options *opts = ctx->opts;
	struct pstree_policy pol = { opts->ptraced, opts->ptracer, true,
				     { getpid(), dump_parent } };
	int ret;

	if (opts->freeze_cgroup)
		ret = pstree_seize_frozen(&ctx->tree, opts->freeze_cgroup,
					  opts->scope, opts->pid, &pol);
	else
		ret = pstree_seize(&ctx->tree, opts->scope, opts->pid, &pol);
	if (ret == PSTREE_UNSETTLED && !opts->freeze_cgroup)
		ret = seize_freezing(ctx, &pol);
	else if (ret == PSTREE_UNSETTLED)
		pr_err("the processes of %d kept changing while crest seized them, even with '%s' frozen: it does not hold them all",
		       opts->pid, opts->freeze_cgroup);
	if (ret == -2)
		ctx->exit_code = EXIT_UNSUPPORTED;
	if (ret == -3)
		ctx->exit_code = EXIT_BUSY;
	return ret ? -1 : 0;
}

/*
 * --check-only: seize, look at everything a dump would look at from
 * outside, say what is in the way, let the tree go. No image, no parasite.
 */
static int check_only(struct dump_ctx *ctx)
{
	int ret, nr;

	if (seize(ctx))
		goto err;
	ret = collect(ctx) || check_abort();
	nr = ctx->tree.nr;
	ns_dump_done(true);
	pstree_let_go(&ctx->tree);
	if (refusals_nr()) {
		printf("crest can't save %d thing%s of the %d process%s of %d:\n",
		       refusals_nr(), refusals_nr() > 1 ? "s" : "", nr,
		       nr > 1 ? "es" : "", ctx->opts->pid);
		refusals_print(stdout);
		fflush(stdout);
		log_set_last_error("crest can't save what is listed above");
		return EXIT_UNSUPPORTED;
	}
	if (ret)
		goto err;
	printf("nothing in the way: the %d process%s of %d can be checkpointed\n",
	       nr, nr > 1 ? "es" : "", ctx->opts->pid);
	fflush(stdout);
	return EXIT_OK;
err:
	log_msg(LOG_ERROR, "check of %d failed: %s; the processes run on as they were\n",
		ctx->opts->pid, log_last_error());
	return ctx->exit_code == EXIT_UNSUPPORTED || ctx->exit_code == EXIT_BUSY ?
	       ctx->exit_code : EXIT_FAIL;
}

static int do_dump(const struct options *opts)
{
	struct dump_ctx ctx = { .opts = opts, .exit_code = EXIT_FAIL };
	bool stream = opts->file || opts->fd >= 0;
	const char *where = stream ? (opts->file ? opts->file : "the context fd") : opts->dir;
	char *staging = NULL, *inv;
	struct stat st;
	bool had_dir, had_ckpt;

	ctx.dir.dirfd = -1;
	ctx.files.opts = opts;
	ctx.files.ns = &ctx.ns;
	ctx.prev.dir.dirfd = -1;
	/* What is there before: a failed dump leaves it so, and says so. */
	had_dir = !stream && !stat(opts->dir, &st);
	if (stream) {
		had_ckpt = opts->file && !stat(opts->file, &st);
	} else {
		inv = xsprintf("%s/inventory.img", opts->dir);
		had_ckpt = !stat(inv, &st);
		free(inv);
	}
	if (opts->check_only)
		return check_only(&ctx);
	/* A key that can't be used stops the dump before it touches the tree. */
	if (opts->sign_key && sign_key_load(opts->sign_key, &ctx.key)) {
		ctx.exit_code = EXIT_USAGE;
		goto err;
	}
	if (stream) {
		/* Images go to a staging directory, then into one stream. */
		staging = context_staging_dir(opts);
		if (!staging)
			goto err;
	}
	if (img_dir_open(&ctx.dir, stream ? staging : opts->dir, true))
		goto err;
	ctx.dir.nosync = opts->nosync || stream;
	pr_debug("dumping %d into '%s'", opts->pid, opts->dir);
	/* A page server that can't be reached stops the dump before anything is seized. */
	if (opts->page_server) {
		ctx.dir.ps = ps_connect(opts->ps_address, opts->ps_port, ctx.dir.id,
					ctx.dir.nosync, false);
		if (!ctx.dir.ps)
			goto err;
	}
	/* The previous dump of a chain is read before anything is frozen. */
	if (opts->prev_dir) {
		ctx.exit_code = EXIT_IMAGE;
		if (chain_prev_open(&ctx.prev, opts->dir, opts->prev_dir))
			goto err;
		ctx.chained = true;
		ctx.exit_code = EXIT_FAIL;
	}
	if (seize(&ctx))
		goto err;
	pr_debug("seized %d processes", ctx.tree.nr);
	/* Tests of -t and of interrupting a dump need a slow one. */
	for (int i = 0; i < 30 && fault("dump-slow") && !dump_aborted; i++)
		usleep(100000);
	if (collect(&ctx) || check_abort())
		goto err_release;
	if (files_dump_contents(&ctx.files, &ctx.dir))
		goto err_release;
	start_progress(&ctx);
	for (int i = 0; i < ctx.tree.nr; i++) {
		if (ctx.tree.items[i]->zombie)
			continue;
		if (dump_task(&ctx, ctx.tree.items[i]))
			goto err_release;
		progress_proc_done();
	}
	progress_end();
	pr_debug("pages written");
	if (refused(&ctx) || check_abort() || write_images(&ctx))
		goto err_release;
	if (stream && (check_abort() || context_pack(opts, staging)))
		goto err_release;
	pr_debug("images committed");
	/* A keeper holds the tracking till the next dump of the chain. */
	if (ctx.nr_trk) {
		char *name;

		if (track_keep(ctx.dir.id, ctx.trk, ctx.nr_trk, &name))
			pr_warn("the tracking of the pre-dump is lost: the next dump saves all memory");
		free(name);
	}
	free(ctx.tracker);
	track_free(ctx.trk, ctx.nr_trk);
	ctx.trk = NULL;
	ctx.nr_trk = 0;

	/*
	 * The images are safe on disk: only now may the tree go. If crest
	 * was interrupted by now, the checkpoint is complete but the tree
	 * stays: we never lose both.
	 */
	/* TCP connections stay in repair mode only for a tree that dies. */
	files_dump_done(&ctx.files, opts->after_dump == AFTER_KILL && !dump_aborted);
	ns_dump_done(opts->after_dump != AFTER_KILL || dump_aborted);
	if (after_dump(&ctx))
		return EXIT_FAIL;
	/* A dump ends the tracking it took over (a pre-dump took it already). */
	chain_prev_close(&ctx.prev);
	/* The checkpoint is safe whatever this does: a failure only costs room. */
	if (opts->auto_dedup && dedup_dir(opts->dir, opts->trust_images))
		pr_warn("--auto-dedup failed (see above): the chain is whole, only not folded");
	pr_info("%d process%s checkpointed into '%s'", ctx.tree.nr,
		ctx.tree.nr > 1 ? "es" : "", where);
	img_dir_close(&ctx.dir);
	context_remove_dir(staging);
	free(staging);
	sign_key_wipe(&ctx.key);
	return EXIT_OK;

err_release:
	progress_end();
	files_dump_done(&ctx.files, false);
	ns_dump_done(true);
	pstree_let_go(&ctx.tree);
err:
	sign_key_wipe(&ctx.key);
	track_free(ctx.trk, ctx.nr_trk);
	chain_prev_close(&ctx.prev);
	img_abort_set(&ctx.dir);
	img_dir_close(&ctx.dir);
	context_remove_dir(staging);
	free(staging);
	/* A directory this dump made stays only if something is in it. */
	if (!stream && !had_dir)
		rmdir(opts->dir);
	say_failed(opts, &ctx, stream, had_ckpt);
	return ctx.exit_code;
}

static void on_abort(int sig)
{
	dump_aborted = 1;
}

static pid_t worker;

static void forward_signal(int sig)
{
	kill(worker, SIGHUP);
}

/*
 * The dump runs in a worker process in a process group of its own; the
 * crest the user started only waits for it. Whatever kills that crest —
 * SIGKILL included — reaches the worker as SIGHUP (PR_SET_PDEATHSIG) and
 * the worker puts the target back as it was before it exits, instead of
 * leaving it with foreign registers, blocked signals or a parasite.
 */
int cr_dump(const struct options *opts)
{
	pid_t parent = dump_parent = getpid();
	struct sigaction sa = {};
	int status, why[2];

	if (check_privileges("checkpoint"))
		return EXIT_FAIL;
	/* The worker tells why it failed: errno, then the message. */
	if (pipe2(why, O_CLOEXEC)) {
		pr_perror("can't create a pipe");
		return EXIT_FAIL;
	}
	fflush(NULL);
	worker = fork();
	if (worker < 0) {
		pr_perror("can't start the dump worker");
		return EXIT_FAIL;
	}
	if (worker == 0) {
		sa.sa_handler = on_abort;
		sigaction(SIGHUP, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sa.sa_handler = on_alarm;
		sigaction(SIGALRM, &sa, NULL);
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGHUP);
		if (opts->timeout > 0)
			alarm(opts->timeout);
		if (getppid() != parent)
			dump_aborted = 1;
		close(why[0]);
		status = do_dump(opts);
		if (status) {
			int e = log_last_errno();

			if (write(why[1], &e, sizeof(e)) == sizeof(e))
				write_all(why[1], log_last_error(), strlen(log_last_error()));
		}
		_exit(status);
	}
	close(why[1]);
	sa.sa_handler = forward_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	while (waitpid(worker, &status, 0) < 0) {
		if (errno != EINTR) {
			pr_perror("can't wait for the dump worker");
			return EXIT_FAIL;
		}
	}
	{
		char msg[512] = "";
		int e = 0;
		ssize_t n;

		if (read(why[0], &e, sizeof(e)) == sizeof(e)) {
			n = read(why[0], msg, sizeof(msg) - 1);
			msg[n > 0 ? n : 0] = 0;
			log_set_errno(e);
			log_set_last_error(msg);
		}
		close(why[0]);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	pr_err("the dump worker died with signal %d", WTERMSIG(status));
	return EXIT_FAIL;
}
