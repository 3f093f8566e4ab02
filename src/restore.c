/*
 * crest restore: read and check everything, then create the process with
 * its PID, let restore-task.c and the restorer rebuild it, put its
 * registers back and let it go. Nothing is created before the checks pass.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch.h"
#include "image.h"
#include "log.h"
#include "opts.h"
#include "parasite.h"
#include "proc.h"
#include "restore.h"
#include "restore-task.h"
#include "seize.h"
#include "task.h"
#include "util.h"

#include "inventory.pb-c.h"
#include "restorer-blob.h"

struct restore_ctx {
	const struct options *opts;
	struct img_dir dir;
	InventoryEntry *inv;
	struct restore_task task;
	pid_t pid;
	int exit_code;
};

static int read_pagemap(struct restore_ctx *ctx)
{
	struct restore_task *t = &ctx->task;
	struct image *img;
	struct stat st;
	void *msg;
	int ret;

	img = img_open(&ctx->dir, IMG_PAGEMAP, ctx->pid);
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
		t->runs = xrealloc(t->runs, (t->nr_runs + 1) * sizeof(pe));
		t->runs[t->nr_runs++] = pe;
		t->pages_bytes += (uint64_t)pe->nr_pages * PAGE_SIZE;
	}
	img_close(img);
	if (ret < 0)
		return -1;

	img = img_open(&ctx->dir, IMG_PAGES, ctx->pid);
	if (!img)
		return -1;
	t->pages_path = xstrdup(img->path);
	if (fstat(img->fd, &st)) {
		pr_perror("can't stat '%s'", img->path);
		img_close(img);
		return -1;
	}
	img_close(img);
	if ((uint64_t)st.st_size != IMG_PAGES_OFF + t->pages_bytes) {
		pr_err("image '%s' is truncated or corrupt: %lld bytes, the pagemap says %llu",
		       t->pages_path, (long long)st.st_size,
		       (unsigned long long)(IMG_PAGES_OFF + t->pages_bytes));
		return -1;
	}
	return 0;
}

static int read_images(struct restore_ctx *ctx)
{
	struct restore_task *t = &ctx->task;
	struct stat st;

	if (fstatat(ctx->dir.dirfd, "inventory.img", &st, 0)) {
		pr_err("'%s' holds no complete checkpoint (no inventory.img): was the dump interrupted?",
		       ctx->dir.path);
		return -1;
	}
	ctx->inv = img_read_one(&ctx->dir, IMG_INVENTORY, 0);
	if (!ctx->inv)
		return -1;
	if (ctx->inv->n_pids != 1) {
		pr_err("the images hold %zu processes; this crest restores one",
		       ctx->inv->n_pids);
		return -1;
	}
	ctx->pid = ctx->inv->root_pid;
	t->pstree = img_read_one(&ctx->dir, IMG_PSTREE, 0);
	t->core = img_read_one(&ctx->dir, IMG_CORE, ctx->pid);
	t->mm = img_read_one(&ctx->dir, IMG_MM, ctx->pid);
	if (!t->pstree || !t->core || !t->mm)
		return -1;
	if (t->core->n_threads != 1) {
		pr_err("core image of %d has %zu threads; this crest restores one",
		       ctx->pid, t->core->n_threads);
		return -1;
	}
	if (read_pagemap(ctx))
		return -1;
	if (files_read(&t->files, &ctx->dir, ctx->pid))
		return -1;
	t->dir = &ctx->dir;
	return 0;
}

static int check_cpu(struct restore_ctx *ctx)
{
	const ThreadCoreEntry *tc = ctx->task.core->threads[0];
	size_t here = arch_xstate_size();
	void *buf = xzalloc(here);
	uint64_t have;

	/* Our own xstate tells which features this CPU and kernel enable. */
	if (!arch_cpu_has_crc32c()) {
		pr_err("this CPU lacks SSE4.2 (crc32c), which crest needs");
		free(buf);
		return -1;
	}
	have = ctx->task.core->xfeatures;
	free(buf);
	if (tc->xstate.len != here) {
		pr_err("the checkpoint's register state is %zu bytes, this CPU's is %zu: restore it on a machine with the same CPU features",
		       tc->xstate.len, here);
		return -1;
	}
	(void)have;
	return 0;
}

/* Is the PID free? Name whoever holds it. */
static int check_pid(pid_t pid)
{
	char *buf = read_proc(pid, "stat", NULL);
	struct proc_stat st;

	if (!buf)
		return 0;
	if (proc_parse_stat(buf, &st)) {
		free(buf);
		pr_err("pid %d is in use", pid);
		return -1;
	}
	free(buf);
	if (st.state == 'Z' || st.state == 'X')
		pr_err("pid %d is still held by the dead process '%s' (a zombie its parent %d has not reaped yet); wait for it to be reaped and try again",
		       pid, st.comm, st.ppid);
	else
		pr_err("pid %d is in use by '%s' (state %c); stop it or restore elsewhere",
		       pid, st.comm, st.state);
	return -1;
}

static pid_t clone_with_pid(pid_t pid)
{
	pid_t set_tid = pid;
	struct clone_args ca = {
		.exit_signal = SIGCHLD,
		.set_tid = (uint64_t)&set_tid,
		.set_tid_size = 1,
	};
	long r = syscall(SYS_clone3, &ca, sizeof(ca));

	if (r < 0) {
		if (errno == EEXIST)
			pr_err("pid %d was taken while crest prepared the restore", pid);
		else
			pr_perror("can't create a process with pid %d", pid);
	}
	return r;
}

static const char *stage_name(uint32_t stage)
{
	static const char *names[] = {
		[RST_STAGE_START] = "start", [RST_STAGE_UNMAP] = "unmapping crest",
		[RST_STAGE_VDSO] = "moving the vDSO", [RST_STAGE_MAP] = "mapping memory",
		[RST_STAGE_PAGES] = "reading pages", [RST_STAGE_CRC] = "checking pages",
		[RST_STAGE_PROTECT] = "protecting memory", [RST_STAGE_MM] = "setting mm fields",
		[RST_STAGE_SIGNALS] = "restoring signals", [RST_STAGE_TIMERS] = "restoring timers",
		[RST_STAGE_RLIMITS] = "restoring limits", [RST_STAGE_CREDS] = "restoring credentials",
		[RST_STAGE_DONE] = "done",
	};

	return stage < ARRAY_SIZE(names) && names[stage] ? names[stage] : "?";
}

/* The restorer has stopped at its int3: did it make it? */
static int check_restorer(struct restore_ctx *ctx, pid_t pid, uint64_t addr,
			  struct restore_args *ra)
{
	struct iovec l = { ra, sizeof(*ra) }, r = { (void *)addr, sizeof(*ra) };

	if (process_vm_readv(pid, &l, 1, &r, 1, 0) != sizeof(*ra)) {
		pr_perror("can't read the restorer's report");
		return -1;
	}
	if (ra->stage == RST_STAGE_DONE && !ra->ret)
		return 0;
	if (ra->stage == RST_STAGE_CRC) {
		pr_err("image '%s' is corrupt at offset %llu: page checksum mismatch",
		       ctx->task.pages_path, (unsigned long long)ra->fail_addr);
		ctx->exit_code = EXIT_IMAGE;
		return -1;
	}
	errno = -ra->ret;
	pr_perror("restore of %d failed while %s (at %#llx)", pid,
		  stage_name(ra->stage), (unsigned long long)ra->fail_addr);
	return -1;
}

/* Last steps from outside: unmap the restorer, registers, let go. */
static int finish_task(struct restore_ctx *ctx, pid_t pid, struct restore_args *ra)
{
	arch_regs_t regs;
	long r;

	if (arch_get_regs(pid, &regs))
		return -1;
	r = remote_syscall(pid, &regs, ra->self.start + restorer_off_syscall,
			   SYS_munmap, ra->self.start, ra->self.end - ra->self.start,
			   0, 0, 0, 0);
	if (r) {
		errno = -r;
		pr_perror("can't unmap the restorer from %d", pid);
		return -1;
	}
	if (task_restore_regs(pid, ctx->task.core))
		return -1;
	return 0;
}

static int wait_restored(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			pr_perror("can't wait for restored process %d", pid);
			return EXIT_FAIL;
		}
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

static int run_restore(struct restore_ctx *ctx)
{
	struct restore_task *t = &ctx->task;
	int sync[2], report[2], status, sig;
	struct restore_args ra;
	uint64_t addr = 0;
	pid_t pid;

	if (pipe2(sync, O_CLOEXEC) || pipe2(report, O_CLOEXEC)) {
		pr_perror("can't create pipes");
		return -1;
	}
	t->sync_fd = sync[0];
	t->report_fd = report[1];
	fflush(NULL);
	pid = clone_with_pid(ctx->pid);
	if (pid < 0) {
		ctx->exit_code = errno == EEXIST ? EXIT_BUSY : EXIT_FAIL;
		return -1;
	}
	if (pid == 0)
		restore_task_child(t);
	close(sync[0]);
	close(report[1]);

	/* Ours to trace before it runs anything foreign. */
	if (ptrace(PTRACE_SEIZE, pid, NULL, NULL)) {
		pr_perror("can't trace the new process %d", pid);
		goto err_kill;
	}
	if (write(sync[1], "g", 1) != 1) {
		pr_perror("can't start the new process");
		goto err_kill;
	}
	close(sync[1]);
	sig = wait_stop(pid, &status);
	if (sig < 0)
		goto err;	/* the child said why */
	if (read(report[0], &addr, sizeof(addr)) != sizeof(addr)) {
		pr_err("the new process %d did not report its restorer", pid);
		goto err_kill;
	}
	if (sig != SIGTRAP) {
		struct iovec l = { &ra, sizeof(ra) }, r = { (void *)addr, sizeof(ra) };
		siginfo_t si = {};
		arch_regs_t regs = {};

		ptrace(PTRACE_GETSIGINFO, pid, NULL, &si);
		arch_get_regs(pid, &regs);
		if (process_vm_readv(pid, &l, 1, &r, 1, 0) != sizeof(ra))
			memset(&ra, 0, sizeof(ra));
		pr_err("the new process %d got signal %d (%s) while %s (ip %#llx, address %p, restorer at %#llx)",
		       pid, sig, strsignal(sig), stage_name(ra.stage),
		       (unsigned long long)regs.rip, si.si_addr,
		       (unsigned long long)ra.self.start);
		goto err_kill;
	}
	close(report[0]);
	if (check_restorer(ctx, pid, addr, &ra))
		goto err_kill;
	if (fault("restore-finish")) {
		pr_err("fault injected: restore-finish");
		goto err_kill;
	}
	if (finish_task(ctx, pid, &ra))
		goto err_kill;
	if (ptrace(PTRACE_DETACH, pid, NULL, NULL)) {
		pr_perror("can't let restored process %d go", pid);
		goto err_kill;
	}
	pr_info("process %d restored", pid);
	if (ctx->opts->detach)
		return EXIT_OK;
	return wait_restored(pid);

err_kill:
	kill(pid, SIGKILL);
err:
	waitpid(pid, &status, __WALL);
	return -1;
}

int cr_restore(const struct options *opts)
{
	struct restore_ctx ctx = { .opts = opts, .exit_code = EXIT_IMAGE };
	int ret;

	ctx.dir.dirfd = -1;
	if (img_dir_open(&ctx.dir, opts->dir, false))
		goto err;
	if (read_images(&ctx))
		goto err;
	if (check_cpu(&ctx))
		goto err;
	ctx.exit_code = EXIT_BUSY;
	if (check_pid(ctx.pid))
		goto err;
	ctx.exit_code = EXIT_FILES;
	if (files_check(&ctx.task.files))
		goto err;
	ctx.exit_code = EXIT_FAIL;
	ret = run_restore(&ctx);
	if (ret < 0)
		goto err;
	return ret;
err:
	log_msg(LOG_ERROR, "restore from '%s' failed: %s; nothing was left running\n",
		opts->dir, log_last_error());
	return ctx.exit_code;
}
