/*
 * crest dump: the pipeline, top to bottom. Each step lives in its own
 * module; any failure unwinds so the target runs on as it was and the
 * earlier image set stays untouched.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dump.h"
#include "files.h"
#include "image.h"
#include "log.h"
#include "mem.h"
#include "opts.h"
#include "parasite.h"
#include "proc.h"
#include "seize.h"
#include "task.h"
#include "util.h"

#include "inventory.pb-c.h"
#include "pstree.pb-c.h"

#define PARASITE_DATA_SIZE	(256 << 10)

/*
 * Set when the crest the user started is gone (or was interrupted): the
 * worker stops at the next safe point, cures, detaches and cleans up.
 */
static volatile sig_atomic_t dump_aborted;

static int check_abort(void)
{
	if (!dump_aborted)
		return 0;
	pr_err("crest was interrupted");
	return -1;
}

struct dump_ctx {
	const struct options *opts;
	pid_t pid;
	struct proc_stat stat;
	struct img_dir dir;
	struct dump_files files;
	struct mem_layout mem;
	struct parasite_ctl *parasite;
	struct parasite_info info;
	CoreEntry *core;
	MmEntry mm;
	int exit_code;			/* class of the failure */
};

static int check_target(struct dump_ctx *ctx)
{
	char *buf = read_proc(ctx->pid, "stat", NULL);

	if (!buf) {
		pr_err("process %d does not exist", ctx->pid);
		return -1;
	}
	if (proc_parse_stat(buf, &ctx->stat)) {
		pr_err("can't parse /proc/%d/stat", ctx->pid);
		free(buf);
		return -1;
	}
	free(buf);
	if (ctx->pid == getpid()) {
		pr_err("crest can't checkpoint itself");
		return -1;
	}
	if (ctx->stat.state == 'Z') {
		pr_err("process %d is a zombie: nothing left to checkpoint", ctx->pid);
		return -1;
	}
	if (ctx->stat.num_threads > 1) {
		pr_err("process %d has %d threads; multi-threaded processes are not supported yet",
		       ctx->pid, ctx->stat.num_threads);
		ctx->exit_code = EXIT_UNSUPPORTED;
		return -1;
	}
	return 0;
}

/* What /proc tells from outside, before the parasite goes in. */
static int collect(struct dump_ctx *ctx)
{
	ctx->exit_code = EXIT_UNSUPPORTED;
	if (mem_collect(ctx->pid, &ctx->mem, &ctx->files))
		return -1;
	if (files_dump_fds(&ctx->files, ctx->pid))
		return -1;
	ctx->exit_code = EXIT_FAIL;
	return 0;
}

static int add_exe(struct dump_ctx *ctx)
{
	char path[64], *exe;
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/exe", ctx->pid);
	exe = readlink_alloc(path);
	if (!exe || stat(path, &st)) {
		pr_perror("can't read the executable of process %d", ctx->pid);
		free(exe);
		return -1;
	}
	ctx->mm.has_exe_file_id = 1;
	files_add_mapped(&ctx->files, exe, &st, &ctx->mm.exe_file_id);
	free(exe);
	return 0;
}

static int write_images(struct dump_ctx *ctx)
{
	PstreeEntry pe = PSTREE_ENTRY__INIT;
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	struct image *img;
	struct utsname u;
	uint32_t pid = ctx->pid, tid = ctx->pid;

	pe.pid = ctx->pid;
	pe.ppid = ctx->stat.ppid;
	pe.pgid = ctx->stat.pgid;
	pe.sid = ctx->stat.sid;
	pe.n_threads = 1;
	pe.threads = &tid;
	img = img_create(&ctx->dir, IMG_PSTREE, 0);
	if (!img || img_write_msg(img, &pe.base))
		return -1;
	img = img_create(&ctx->dir, IMG_CORE, ctx->pid);
	if (!img || img_write_msg(img, &ctx->core->base))
		return -1;
	ctx->mm.n_vmas = ctx->mem.nr_vmas;
	ctx->mm.vmas = ctx->mem.vmas;
	img = img_create(&ctx->dir, IMG_MM, ctx->pid);
	if (!img || img_write_msg(img, &ctx->mm.base))
		return -1;
	if (files_write(&ctx->files, &ctx->dir, ctx->pid))
		return -1;

	uname(&u);
	inv.img_version = IMG_VERSION;
	inv.root_pid = ctx->pid;
	inv.dump_time = time(NULL);
	inv.kernel = u.release;
	inv.n_pids = 1;
	inv.pids = &pid;
	img = img_create(&ctx->dir, IMG_INVENTORY, 0);
	if (!img || img_write_msg(img, &inv.base))
		return -1;
	return img_commit_set(&ctx->dir);
}

/* Infect, ask, stream the pages, cure: the only time foreign code runs. */
static int dump_with_parasite(struct dump_ctx *ctx)
{
	struct image *pagemap, *pages;
	int ret = -1;

	ctx->parasite = parasite_infect(ctx->pid, ctx->mem.vdso_start,
					ctx->mem.vdso_end, PARASITE_DATA_SIZE);
	if (!ctx->parasite)
		return -1;
	if (parasite_cmd(ctx->parasite, PARASITE_CMD_INFO))
		goto cure;
	ctx->info = ctx->parasite->args->info;
	pagemap = img_create(&ctx->dir, IMG_PAGEMAP, ctx->pid);
	pages = img_create(&ctx->dir, IMG_PAGES, ctx->pid);
	if (!pagemap || !pages)
		goto cure;
	if (fault("dump-pages")) {
		pr_err("fault injected: dump-pages");
		goto cure;
	}
	if (check_abort() || mem_dump_pages(ctx->parasite, &ctx->mem, pagemap, pages))
		goto cure;
	ret = 0;
cure:
	if (parasite_cure(ctx->parasite))
		ret = -1;
	ctx->parasite = NULL;
	return ret;
}

static int do_dump(const struct options *opts)
{
	struct dump_ctx ctx = { .opts = opts, .pid = opts->pid,
				.exit_code = EXIT_FAIL };

	mm_entry__init(&ctx.mm);
	ctx.dir.dirfd = -1;
	if (check_target(&ctx))
		goto err;
	if (img_dir_open(&ctx.dir, opts->dir, true))
		goto err;
	pr_debug("dumping process %d into '%s'", ctx.pid, opts->dir);
	if (seize_task(ctx.pid))
		goto err;
	pr_debug("seized");
	if (collect(&ctx) || check_abort())
		goto err_release;
	if (add_exe(&ctx))
		goto err_release;
	if (dump_with_parasite(&ctx) || check_abort())
		goto err_release;
	ctx.core = task_dump_core(ctx.pid, &ctx.stat, &ctx.info);
	if (!ctx.core)
		goto err_release;
	if (task_dump_mm(ctx.pid, &ctx.stat, &ctx.info, &ctx.mm))
		goto err_release;
	pr_debug("pages written");
	if (check_abort() || write_images(&ctx))
		goto err_release;
	pr_debug("images committed");

	/*
	 * The images are safe on disk: only now may the process go. If crest
	 * was interrupted by now, the checkpoint is complete but the process
	 * stays: we never lose both.
	 */
	if (opts->leave_running || dump_aborted) {
		if (release_task(ctx.pid))
			return EXIT_FAIL;
	} else if (kill_task(ctx.pid)) {
		return EXIT_FAIL;
	}
	pr_info("process %d checkpointed into '%s'%s", ctx.pid, opts->dir,
		opts->leave_running ? " and left running" : " and killed");
	img_dir_close(&ctx.dir);
	return EXIT_OK;

err_release:
	release_task(ctx.pid);
err:
	img_abort_set(&ctx.dir);
	img_dir_close(&ctx.dir);
	log_msg(LOG_ERROR, "dump of process %d failed: %s; the process runs on as it was and earlier images in '%s' are untouched\n",
		ctx.pid, log_last_error(), opts->dir);
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
	pid_t parent = getpid();
	struct sigaction sa = {};
	int status;

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
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGHUP);
		if (getppid() != parent)
			dump_aborted = 1;
		_exit(do_dump(opts));
	}
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
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	pr_err("the dump worker died with signal %d", WTERMSIG(status));
	return EXIT_FAIL;
}
